//! Speaker anatomy and emotional prosody, with values following the vocal-emotion literature
//! (Scherer 2003, "Vocal communication of emotion"; Juslin & Laukka 2003, "Communication of
//! emotions in vocal expression and music performance"):
//! anger, fear and joy raise mean F0, intensity, speaking rate and high-frequency energy;
//! sadness and boredom lower them and narrow the F0 range; fear adds irregularity (jitter,
//! tremor); surprise has the widest range and a final rise; disgust is slow with a lowered F0.
//!
//! Every utterance draws its parameters around the emotion's means with wide spreads and an
//! independent recording gain, so classes overlap: no single cue (loudness least of all)
//! separates them.

use rand::RngExt;
use rand_distr::{Distribution, Normal};
use ser_data::Emotion;

/// Mean prosodic settings of an emotion, relative to the speaker's neutral voice.
#[derive(Debug, Clone, Copy)]
pub struct EmotionProsody {
    /// Mean F0 multiplier.
    pub f0_mult: f64,
    /// F0 range over the utterance in semitones.
    pub range_st: f64,
    /// Speaking-rate multiplier (syllables per second).
    pub rate: f64,
    /// Level change in dB.
    pub gain_db: f64,
    /// Vocal effort: > 0 pressed voice (sharper glottal closure, flatter spectral tilt),
    /// < 0 lax voice (steeper tilt).
    pub effort: f64,
    /// Period-to-period F0 perturbation (relative).
    pub jitter: f64,
    /// Period-to-period amplitude perturbation (relative).
    pub shimmer: f64,
    /// Aspiration noise relative to voicing.
    pub breath: f64,
    /// F0 tremor depth in semitones (fear).
    pub tremor_st: f64,
    /// Terminal F0 movement in semitones (surprise rises, sadness falls).
    pub final_st: f64,
    /// Pitch accents per syllable (0..1).
    pub accent_rate: f64,
}

/// Mean prosody of an emotion (boredom follows Scherer's description: lowered F0, narrow
/// range, slow, quiet and lax).
pub fn prosody(emotion: Emotion) -> EmotionProsody {
    use Emotion::*;
    let p = |f0_mult,
             range_st,
             rate,
             gain_db,
             effort,
             jitter,
             shimmer,
             breath,
             tremor_st,
             final_st,
             accent_rate| EmotionProsody {
        f0_mult,
        range_st,
        rate,
        gain_db,
        effort,
        jitter,
        shimmer,
        breath,
        tremor_st,
        final_st,
        accent_rate,
    };
    match emotion {
        Neutral => p(
            1.00, 3.0, 1.00, 0.0, 0.0, 0.006, 0.03, 0.06, 0.0, -1.5, 0.30,
        ),
        Calm => p(
            0.96, 2.2, 0.92, -2.0, -0.3, 0.005, 0.03, 0.09, 0.0, -2.0, 0.20,
        ),
        Happy => p(
            1.18, 6.0, 1.08, 3.0, 0.4, 0.008, 0.04, 0.05, 0.0, -1.0, 0.55,
        ),
        Sad => p(
            0.92, 1.6, 0.80, -4.0, -0.7, 0.012, 0.06, 0.20, 0.0, -3.0, 0.15,
        ),
        Angry => p(
            1.22, 5.0, 1.12, 6.0, 1.0, 0.014, 0.06, 0.04, 0.0, -2.5, 0.50,
        ),
        Fearful => p(1.32, 4.0, 1.18, 1.0, 0.3, 0.018, 0.07, 0.12, 0.6, 0.5, 0.35),
        Disgust => p(
            0.95, 4.0, 0.85, 1.0, 0.1, 0.010, 0.05, 0.10, 0.0, -2.0, 0.30,
        ),
        Surprised => p(1.25, 7.0, 1.00, 2.0, 0.3, 0.008, 0.04, 0.06, 0.0, 5.0, 0.40),
        Boredom => p(
            0.93, 1.2, 0.82, -3.0, -0.5, 0.006, 0.03, 0.10, 0.0, -2.0, 0.12,
        ),
    }
}

/// A synthetic speaker's voice.
#[derive(Debug, Clone, Copy)]
pub struct Speaker {
    /// True for a male voice.
    pub male: bool,
    /// Neutral mean F0 in Hz.
    pub f0: f64,
    /// Formant frequency scale (vocal-tract length; ~1.0 male, ~1.16 female).
    pub formant_scale: f64,
    /// Speaking-rate multiplier.
    pub rate: f64,
    /// Baseline aspiration.
    pub breath: f64,
    /// Baseline effort.
    pub effort: f64,
    /// Level offset in dB.
    pub gain_db: f64,
}

impl Speaker {
    /// Draws a speaker of the given sex from the population.
    pub fn sample(rng: &mut impl RngExt, male: bool) -> Speaker {
        Self::sample_spread(rng, male, 1.0)
    }

    /// Draws a speaker with every spread between speakers scaled by `spread` (1.0: the
    /// population above; larger: voices further apart, as real corpora's are).
    pub fn sample_spread(rng: &mut impl RngExt, male: bool, spread: f64) -> Speaker {
        let n = |m: f64, s: f64, rng: &mut dyn FnMut() -> f64| m + s * rng();
        let mut z = || spread * Normal::new(0.0, 1.0).unwrap().sample(&mut *rng);
        Speaker {
            male,
            f0: if male {
                n(115.0, 14.0, &mut z)
            } else {
                n(208.0, 20.0, &mut z)
            },
            formant_scale: if male {
                n(1.0, 0.04, &mut z)
            } else {
                n(1.16, 0.04, &mut z)
            },
            rate: (0.08 * z()).exp(),
            breath: n(0.06, 0.02, &mut z).max(0.0),
            effort: 0.2 * z(),
            gain_db: 3.0 * z(),
        }
    }
}

/// Prosody of one utterance: the emotion's means moved by `intensity` (1.0 = as listed,
/// 0.7 = "normal", 1.35 = "strong") and randomly perturbed.
pub fn utterance_prosody(
    rng: &mut impl RngExt,
    emotion: Emotion,
    intensity: f64,
) -> EmotionProsody {
    utterance_prosody_spread(rng, emotion, intensity, 1.0)
}

/// [`utterance_prosody`] with every random perturbation scaled by `spread` (larger: the
/// classes overlap more).
pub fn utterance_prosody_spread(
    rng: &mut impl RngExt,
    emotion: Emotion,
    intensity: f64,
    spread: f64,
) -> EmotionProsody {
    let base = prosody(Emotion::Neutral);
    let e = prosody(emotion);
    let k = intensity;
    let mix = |n: f64, v: f64| n + k * (v - n);
    let mut z = || -> f64 { spread * Normal::new(0.0, 1.0).unwrap().sample(&mut *rng) };
    EmotionProsody {
        f0_mult: mix(base.f0_mult, e.f0_mult) * (0.07 * z()).exp(),
        range_st: (mix(base.range_st, e.range_st) * (0.30 * z()).exp()).max(0.3),
        rate: mix(base.rate, e.rate) * (0.08 * z()).exp(),
        gain_db: mix(base.gain_db, e.gain_db) + 3.0 * z(),
        effort: mix(base.effort, e.effort) + 0.3 * z(),
        jitter: mix(base.jitter, e.jitter) * (0.3 * z()).exp(),
        shimmer: mix(base.shimmer, e.shimmer) * (0.3 * z()).exp(),
        breath: (mix(base.breath, e.breath) * (0.3 * z()).exp()).min(0.6),
        tremor_st: mix(base.tremor_st, e.tremor_st) * (0.3 * z()).exp(),
        final_st: mix(base.final_st, e.final_st) + 1.0 * z(),
        accent_rate: (mix(base.accent_rate, e.accent_rate) + 0.1 * z()).clamp(0.05, 0.9),
    }
}
