//! A source-filter voice: a Rosenberg glottal pulse train (with jitter, shimmer, aspiration
//! and effort-dependent closure) through a cascade of four time-varying formant resonators
//! (Klatt-style), plus fricative and burst noise for consonants.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use crate::prosody::{EmotionProsody, Speaker};

/// Vowel formant targets F1-F4 in Hz for an adult male (Peterson & Barney, 1952).
const VOWELS: [[f64; 4]; 10] = [
    [270.0, 2290.0, 3010.0, 3500.0], // i
    [390.0, 1990.0, 2550.0, 3500.0], // ɪ
    [530.0, 1840.0, 2480.0, 3500.0], // ɛ
    [660.0, 1720.0, 2410.0, 3500.0], // æ
    [730.0, 1090.0, 2440.0, 3500.0], // ɑ
    [570.0, 840.0, 2410.0, 3500.0],  // ɔ
    [440.0, 1020.0, 2240.0, 3500.0], // ʊ
    [300.0, 870.0, 2240.0, 3500.0],  // u
    [640.0, 1190.0, 2390.0, 3500.0], // ʌ
    [490.0, 1350.0, 1690.0, 3500.0], // ɝ
];
const SCHWA: [f64; 4] = [500.0, 1500.0, 2500.0, 3500.0];
const NASAL: [f64; 4] = [280.0, 1200.0, 2500.0, 3500.0];

/// Consonant preceding a vowel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Consonant {
    /// Vowel onset.
    None,
    /// Voiceless fricative with noise centred at the given frequency (Hz).
    Fricative(f64),
    /// Voiceless plosive: closure then burst.
    Plosive,
    /// Voiced nasal.
    Nasal,
}

/// One consonant-vowel syllable.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Syllable {
    /// Onset.
    pub onset: Consonant,
    /// Index into the vowel table.
    pub vowel: usize,
}

/// The syllables of a sentence, fixed by its id: the same text gives the same segments
/// whoever speaks it, in whatever emotion.
pub fn sentence(text_key: u64) -> Vec<Syllable> {
    use rand::SeedableRng;
    let mut rng = ChaCha8Rng::seed_from_u64(text_key ^ 0x5e17_e4ce);
    let n = rng.random_range(6..=10);
    (0..n)
        .map(|_| {
            let r: f64 = rng.random();
            let onset = if r < 0.25 {
                Consonant::None
            } else if r < 0.55 {
                Consonant::Fricative(rng.random_range(3000.0..6500.0))
            } else if r < 0.8 {
                Consonant::Plosive
            } else {
                Consonant::Nasal
            };
            Syllable {
                onset,
                vowel: rng.random_range(0..VOWELS.len()),
            }
        })
        .collect()
}

/// Control values, one set per `CTRL` samples.
#[derive(Clone, Copy, Default)]
struct Ctrl {
    voice: f64,
    noise: f64,
    noise_fc: f64,
    formants: [f64; 4],
    st: f64,
}

const CTRL: usize = 32;

fn smooth(v: &mut [f64], half: usize) {
    if half == 0 || v.is_empty() {
        return;
    }
    let src = v.to_vec();
    let mut acc = 0.0;
    let mut count = 0usize;
    let n = src.len();
    for i in 0..n + half {
        if i < n {
            acc += src[i];
            count += 1;
        }
        if i > 2 * half {
            acc -= src[i - 2 * half - 1];
            count -= 1;
        }
        if i >= half {
            v[i - half] = acc / count as f64;
        }
    }
}

/// Two-pole resonator with unity gain at DC (Klatt 1980).
#[derive(Default, Clone, Copy)]
struct Resonator {
    a: f64,
    b: f64,
    c: f64,
    y1: f64,
    y2: f64,
}

impl Resonator {
    fn set(&mut self, freq: f64, bw: f64, sr: f64) {
        let t = 1.0 / sr;
        self.c = -(-2.0 * std::f64::consts::PI * bw * t).exp();
        self.b = 2.0
            * (-std::f64::consts::PI * bw * t).exp()
            * (2.0 * std::f64::consts::PI * freq * t).cos();
        self.a = 1.0 - self.b - self.c;
    }
    #[inline]
    fn tick(&mut self, x: f64) -> f64 {
        let y = self.a * x + self.b * self.y1 + self.c * self.y2;
        self.y2 = self.y1;
        self.y1 = y;
        y
    }
}

/// Rosenberg glottal flow at phase `p` in [0, 1) with opening share `op` and closing share `cp`.
#[inline]
fn glottal_flow(p: f64, op: f64, cp: f64) -> f64 {
    if p < op {
        0.5 * (1.0 - (std::f64::consts::PI * p / op).cos())
    } else if p < op + cp {
        (std::f64::consts::FRAC_PI_2 * (p - op) / cp).cos()
    } else {
        0.0
    }
}

/// Speech of one utterance, without leading/trailing silence, at `sr` Hz, RMS-normalised
/// to `level_dbfs` over its voiced part.
pub fn synthesize(
    rng: &mut ChaCha8Rng,
    speaker: &Speaker,
    p: &EmotionProsody,
    syllables: &[Syllable],
    sr: f64,
    level_dbfs: f64,
) -> Vec<f32> {
    let z = Normal::new(0.0, 1.0).unwrap();
    let rate = p.rate * speaker.rate;
    let effort = p.effort + speaker.effort;
    // Articulation: effortful speech expands the vowel space, lax speech centralises it.
    let articulation = (1.0 + 0.15 * effort).clamp(0.7, 1.3);
    let smile = if p.f0_mult > 1.1 && p.range_st > 5.0 {
        1.04
    } else {
        1.0
    };

    // Segment timeline at control rate.
    let mut ctrl: Vec<Ctrl> = Vec::new();
    let mut vowel_centres = Vec::new();
    let push = |ctrl: &mut Vec<Ctrl>, secs: f64, c: Ctrl| {
        let n = ((secs * sr) / CTRL as f64).round().max(1.0) as usize;
        ctrl.extend(std::iter::repeat_n(c, n));
    };
    let pause_after = if syllables.len() > 5 && rng.random::<f64>() < 0.5 {
        syllables.len() / 2
    } else {
        usize::MAX
    };
    for (i, s) in syllables.iter().enumerate() {
        let target: [f64; 4] = std::array::from_fn(|k| {
            let v = SCHWA[k] + articulation * (VOWELS[s.vowel][k] - SCHWA[k]);
            v * speaker.formant_scale * if k == 1 { smile } else { 1.0 }
        });
        let jitter_dur = |rng: &mut ChaCha8Rng, base: f64| base / rate * rng.random_range(0.8..1.2);
        match s.onset {
            Consonant::None => {}
            Consonant::Fricative(fc) => {
                let d = jitter_dur(rng, 0.09);
                push(
                    &mut ctrl,
                    d,
                    Ctrl {
                        noise: 0.35,
                        noise_fc: fc * speaker.formant_scale.sqrt(),
                        formants: target,
                        ..Default::default()
                    },
                );
            }
            Consonant::Plosive => {
                let d = jitter_dur(rng, 0.045);
                push(
                    &mut ctrl,
                    d,
                    Ctrl {
                        formants: target,
                        ..Default::default()
                    },
                );
                push(
                    &mut ctrl,
                    0.015,
                    Ctrl {
                        noise: 0.8,
                        noise_fc: 2500.0,
                        formants: target,
                        ..Default::default()
                    },
                );
            }
            Consonant::Nasal => {
                let d = jitter_dur(rng, 0.06);
                let f: [f64; 4] = std::array::from_fn(|k| NASAL[k] * speaker.formant_scale);
                push(
                    &mut ctrl,
                    d,
                    Ctrl {
                        voice: 0.35,
                        formants: f,
                        ..Default::default()
                    },
                );
            }
        }
        let last = i + 1 == syllables.len();
        let dur = 0.15 / rate * rng.random_range(0.75..1.3) * if last { 1.35 } else { 1.0 };
        vowel_centres.push(ctrl.len() + ((dur * sr) / CTRL as f64 / 2.0) as usize);
        push(
            &mut ctrl,
            dur,
            Ctrl {
                voice: 1.0,
                formants: target,
                ..Default::default()
            },
        );
        if i == pause_after {
            let d = rng.random_range(0.06..0.15) / rate;
            push(
                &mut ctrl,
                d,
                Ctrl {
                    formants: target,
                    ..Default::default()
                },
            );
        }
    }
    let n_ctrl = ctrl.len();
    let ctrl_secs = CTRL as f64 / sr;

    // F0 contour in semitones: declination, pitch accents, terminal movement, tremor.
    for (j, c) in ctrl.iter_mut().enumerate() {
        let u = j as f64 / n_ctrl.max(1) as f64;
        let t = j as f64 * ctrl_secs;
        let mut st = 0.6 * p.range_st * (0.5 - u);
        if u > 0.75 {
            st += p.final_st * (u - 0.75) / 0.25;
        }
        st += p.tremor_st * (2.0 * std::f64::consts::PI * 6.5 * t).sin();
        c.st = st;
    }
    for &centre in &vowel_centres {
        if rng.random::<f64>() < p.accent_rate {
            let amp = 0.5 * p.range_st * rng.random_range(0.5..1.0);
            let width = 0.06 / ctrl_secs;
            for (j, c) in ctrl.iter_mut().enumerate() {
                let d = (j as f64 - centre as f64) / width;
                if d.abs() < 4.0 {
                    c.st += amp * (-0.5 * d * d).exp();
                }
            }
        }
    }
    // Smooth the on/off controls and formant moves (co-articulation, ~20 ms).
    let half = ((0.02 / ctrl_secs) as usize).max(1);
    let mut chans: Vec<Vec<f64>> = (0..7)
        .map(|k| {
            ctrl.iter()
                .map(|c| match k {
                    0 => c.voice,
                    1 => c.noise,
                    2 => c.noise_fc,
                    3..=6 => c.formants[k - 3],
                    _ => unreachable!(),
                })
                .collect()
        })
        .collect();
    for (k, ch) in chans.iter_mut().enumerate() {
        smooth(ch, if k == 2 { 0 } else { half });
    }

    // Sample-rate synthesis.
    let n = n_ctrl * CTRL;
    let f0_base = speaker.f0 * p.f0_mult;
    let op = (0.45 - 0.10 * effort).clamp(0.3, 0.6);
    let cp = (0.18 - 0.05 * effort).clamp(0.08, 0.25);
    let breath = (p.breath + speaker.breath).min(0.7);
    let bw_scale = (1.0 - 0.1 * effort).clamp(0.7, 1.4);
    let bws = [
        60.0 * bw_scale + 150.0 * breath,
        90.0 * bw_scale,
        120.0 * bw_scale,
        180.0,
    ];
    let mut tract = [Resonator::default(); 4];
    let mut frication = Resonator::default();
    let mut phase = 0.0f64;
    let mut period_mult = 1.0;
    let mut amp_mult = 1.0;
    let mut prev_flow = 0.0;
    let mut out = vec![0.0f64; n];
    let tilt = if effort >= 0.0 {
        (0.35 * effort).min(0.5)
    } else {
        0.0
    };
    let lowpass = if effort < 0.0 {
        (0.4 * -effort).min(0.7)
    } else {
        0.0
    };
    let (mut x1, mut lp) = (0.0, 0.0);
    for j in 0..n_ctrl {
        let next = (j + 1).min(n_ctrl - 1);
        for (k, r) in tract.iter_mut().enumerate() {
            r.set(chans[3 + k][j].min(0.45 * sr), bws[k], sr);
        }
        frication.set(chans[2][j].clamp(500.0, 0.45 * sr), 1500.0, sr);
        for i in 0..CTRL {
            let w = i as f64 / CTRL as f64;
            let voice = chans[0][j] * (1.0 - w) + chans[0][next] * w;
            let noise = chans[1][j] * (1.0 - w) + chans[1][next] * w;
            let st = ctrl[j].st * (1.0 - w) + ctrl[next].st * w;
            let f0 = (f0_base * 2f64.powf(st / 12.0)).clamp(50.0, 600.0) * period_mult;
            phase += f0 / sr;
            if phase >= 1.0 {
                phase -= 1.0;
                period_mult = 1.0 + p.jitter * z.sample(rng);
                amp_mult = (1.0 + p.shimmer * z.sample(rng)).max(0.2);
            }
            let flow = glottal_flow(phase, op, cp);
            let dflow = (flow - prev_flow) * sr / (f0 * 8.0);
            prev_flow = flow;
            let white: f64 = z.sample(rng);
            let aspiration = breath * white * 0.15 * (0.4 + flow);
            let mut src = voice * (dflow * amp_mult + aspiration);
            // Effort-dependent spectral tilt on the source.
            src -= tilt * x1;
            x1 = src + tilt * x1;
            lp = (1.0 - lowpass) * src + lowpass * lp;
            let mut y = lp;
            for r in tract.iter_mut() {
                y = r.tick(y);
            }
            let fric = frication.tick(noise * white * 0.4);
            out[j * CTRL + i] = y + fric;
        }
    }
    let voiced: Vec<f64> = out
        .iter()
        .zip(chans[0].iter().flat_map(|v| std::iter::repeat_n(*v, CTRL)))
        .filter(|(_, v)| *v > 0.5)
        .map(|(s, _)| *s)
        .collect();
    let rms = (voiced.iter().map(|v| v * v).sum::<f64>() / voiced.len().max(1) as f64)
        .sqrt()
        .max(1e-9);
    let gain = 10f64.powf(level_dbfs / 20.0) / rms;
    out.iter().map(|v| (v * gain) as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prosody::prosody;
    use rand::SeedableRng;
    use ser_data::Emotion;

    #[test]
    fn same_text_same_syllables_and_audio_is_finite_and_levelled() {
        assert_eq!(sentence(1), sentence(1));
        assert_ne!(sentence(1), sentence(2));
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let spk = Speaker::sample(&mut rng, true);
        let pr = prosody(Emotion::Angry);
        let y = synthesize(&mut rng, &spk, &pr, &sentence(1), 16_000.0, -20.0);
        assert!(y.len() > 16_000 / 2, "{} samples", y.len());
        assert!(y.iter().all(|v| v.is_finite()));
        let peak = y.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(peak > 0.05 && peak < 1.0, "peak {peak}");
    }
}
