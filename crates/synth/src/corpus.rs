//! Writing the two synthetic corpora in RAVDESS and CREMA-D layouts.
//!
//! Corpus A (`ravdess/`, named `synth_ravdess`): studio conditions at 48 kHz, 8 emotions,
//! two intensities, two statements, two repetitions, as RAVDESS records them.
//! Corpus B (`cremad/`, named `synth_cremad`): other speakers, 16 kHz, telephone band
//! (300-3400 Hz) with background noise at 10-25 dB SNR, 6 emotions, CREMA-D's sentences and
//! levels. Training on one and testing on the other is a real (if small) domain shift.
//!
//! Each clip's random stream is derived from the seed and its file name, so the output is
//! the same whatever the thread count, and an interrupted run resumes by skipping the clips
//! already written (files are written atomically).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::prosody::{Speaker, utterance_prosody_spread};
use crate::voice::{sentence, synthesize};
use ser_data::{CorpusKind, Emotion, LabelMap, Mapped};

/// Size and seed of the synthetic corpora.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SynthConfig {
    /// Seed of everything (default 7).
    pub seed: u64,
    /// Actors in the RAVDESS-layout corpus, 60 clips each (default 8; 1-24).
    pub ravdess_actors: usize,
    /// Sample rate of the RAVDESS-layout corpus (default 48000, as RAVDESS).
    pub ravdess_rate: u32,
    /// Actors in the CREMA-D-layout corpus (default 10; 1-91).
    pub cremad_actors: usize,
    /// Sentences per CREMA-D actor, of CREMA-D's 12 (default 6).
    pub cremad_sentences: usize,
    /// Sample rate of the CREMA-D-layout corpus (default 16000, as CREMA-D).
    pub cremad_rate: u32,
    /// How far each utterance moves from the speaker's neutral voice toward its emotion's
    /// prosody, as a factor on the intensity (default 1.0; 0.5: subtler emotions, harder).
    pub emotion_strength: f64,
    /// Scale of the random spread of each utterance's prosody around its emotion's means
    /// (default 1.0; larger: classes overlap more).
    pub prosody_spread: f64,
    /// Scale of the spread between speakers' voices: F0, vocal-tract length, rate, effort,
    /// level (default 1.0; larger: more speaker variation).
    pub speaker_spread: f64,
    /// Statement x repetition takes per RAVDESS emotion and intensity, 1-4 (default 4:
    /// 2 statements x 2 repetitions, as RAVDESS; fewer: fewer clips per speaker).
    pub ravdess_takes: usize,
    /// SNR range in dB of background noise in the RAVDESS-layout corpus, e.g. `[15, 35]`
    /// (default `[]`: a studio's -70 dBFS floor).
    pub ravdess_snr_db: Vec<f64>,
    /// Pass band in Hz of the RAVDESS-layout corpus's microphone, e.g. `[100, 6000]`
    /// (default `[]`: full band).
    pub ravdess_band_hz: Vec<f64>,
    /// SNR range in dB of the CREMA-D-layout corpus's background noise (default `[10, 25]`).
    pub cremad_snr_db: [f64; 2],
    /// Hours of audio in one large corpus in the CSV-manifest layout (`large/manifest.csv`,
    /// 16 kHz, 6 emotions, speakers alternating studio and telephone conditions), written
    /// instead of the two corpora above: scale made testable (default 0: the two corpora).
    pub hours: f64,
    /// Speakers of the large corpus (default 0: one per 10 minutes of audio, at least 4).
    pub speakers: usize,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            seed: 7,
            ravdess_actors: 8,
            ravdess_rate: 48_000,
            cremad_actors: 10,
            cremad_sentences: 6,
            cremad_rate: 16_000,
            emotion_strength: 1.0,
            prosody_spread: 1.0,
            speaker_spread: 1.0,
            ravdess_takes: 4,
            ravdess_snr_db: Vec::new(),
            ravdess_band_hz: Vec::new(),
            cremad_snr_db: [10.0, 25.0],
            hours: 0.0,
            speakers: 0,
        }
    }
}

impl SynthConfig {
    /// A small corpus for tests and quick looks (4 + 4 actors, 2 sentences, 16 kHz).
    pub fn tiny(seed: u64) -> Self {
        SynthConfig {
            seed,
            ravdess_actors: 4,
            ravdess_rate: 16_000,
            cremad_actors: 4,
            cremad_sentences: 2,
            cremad_rate: 16_000,
            ..SynthConfig::default()
        }
    }

    /// Corpora closer to real ones, for tuning recipes and catching regressions (`ser synth
    /// --hard`): 24 + 30 speakers with fewer clips each (30 and 28), subtler emotions
    /// (strength 0.7), wider spreads within emotions (1.4) and between speakers (1.5), a
    /// band-limited, noisy "studio" corpus (100-7000 Hz, 15-35 dB SNR) and a noisier telephone
    /// corpus (5-20 dB SNR), 8 and 6 emotions: 720 + 840 clips, the sizes of the corpora
    /// users study.
    pub fn hard(seed: u64) -> Self {
        SynthConfig {
            seed,
            ravdess_actors: 24,
            ravdess_rate: 48_000,
            cremad_actors: 30,
            cremad_sentences: 3,
            cremad_rate: 16_000,
            emotion_strength: 0.7,
            prosody_spread: 1.4,
            speaker_spread: 1.5,
            ravdess_takes: 2,
            ravdess_snr_db: vec![15.0, 35.0],
            ravdess_band_hz: vec![100.0, 7000.0],
            cremad_snr_db: [5.0, 20.0],
            hours: 0.0,
            speakers: 0,
        }
    }

    fn validate(&self) -> Result<(), SynthError> {
        let bad = |m: String| Err(SynthError::Config(m));
        if !(self.hours.is_finite() && (0.0..=10_000.0).contains(&self.hours)) {
            return bad(format!("hours = {} must be in [0, 10000]", self.hours));
        }
        if self.hours > 0.0 && self.ravdess_band_hz.get(1).is_some_and(|&hi| hi >= 8_000.0) {
            return bad(format!(
                "ravdess_band_hz = {:?}: the large corpus (hours > 0) is 16 kHz, so the band must end below 8000 Hz",
                self.ravdess_band_hz
            ));
        }
        if !(1..=24).contains(&self.ravdess_actors) {
            return bad(format!(
                "ravdess_actors = {} must be 1..=24 (RAVDESS has 24 actors)",
                self.ravdess_actors
            ));
        }
        if !(1..=91).contains(&self.cremad_actors) {
            return bad(format!(
                "cremad_actors = {} must be 1..=91",
                self.cremad_actors
            ));
        }
        if !(1..=12).contains(&self.cremad_sentences) {
            return bad(format!(
                "cremad_sentences = {} must be 1..=12",
                self.cremad_sentences
            ));
        }
        for r in [self.ravdess_rate, self.cremad_rate] {
            if !(8_000..=96_000).contains(&r) {
                return bad(format!("sample rate {r} must be 8000..=96000"));
            }
        }
        if !(self.emotion_strength > 0.0 && self.emotion_strength <= 2.0) {
            return bad(format!(
                "emotion_strength = {} must be in (0, 2]",
                self.emotion_strength
            ));
        }
        for (name, v) in [
            ("prosody_spread", self.prosody_spread),
            ("speaker_spread", self.speaker_spread),
        ] {
            if !(0.0..=3.0).contains(&v) {
                return bad(format!("{name} = {v} must be in [0, 3]"));
            }
        }
        if !(1..=4).contains(&self.ravdess_takes) {
            return bad(format!(
                "ravdess_takes = {} must be 1..=4 (2 statements x 2 repetitions)",
                self.ravdess_takes
            ));
        }
        let range = |r: &[f64]| r.len() == 2 && r[0] <= r[1] && r.iter().all(|v| v.is_finite());
        if !(self.ravdess_snr_db.is_empty() || range(&self.ravdess_snr_db))
            || !range(&self.cremad_snr_db)
        {
            return bad("ravdess_snr_db and cremad_snr_db take [low, high] in dB (ravdess_snr_db may be [])".into());
        }
        let nyquist = self.ravdess_rate as f64 / 2.0;
        if !(self.ravdess_band_hz.is_empty()
            || (range(&self.ravdess_band_hz)
                && self.ravdess_band_hz[0] > 0.0
                && self.ravdess_band_hz[0] < self.ravdess_band_hz[1]
                && self.ravdess_band_hz[1] < nyquist))
        {
            return bad(format!(
                "ravdess_band_hz = {:?}: give [low, high] with 0 < low < high < {nyquist} Hz, or []",
                self.ravdess_band_hz
            ));
        }
        Ok(())
    }
}

/// Failures of the generator.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// Invalid size or rate.
    #[error("invalid synth config: {0}")]
    Config(String),
    /// Writing failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// File or folder.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

/// What a run produced.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthReport {
    /// (corpus name, layout, root, clips) for each corpus.
    pub corpora: Vec<(String, String, PathBuf, usize)>,
    /// Clips written in this run.
    pub written: usize,
    /// Clips already present from an earlier (possibly interrupted) run.
    pub reused: usize,
    /// Hours of audio in all clips, written and reused.
    pub hours: f64,
}

const CREMAD_SENTENCES: [&str; 12] = [
    "IEO", "TIE", "IOM", "IWW", "TAI", "MTI", "IWL", "ITH", "DFA", "ITS", "TSI", "WSI",
];
/// The emotion codes of a layout, from its embedded label map (the same file the loader
/// reads), in code order.
fn emotion_codes(kind: CorpusKind) -> Vec<(String, Emotion)> {
    LabelMap::embedded(kind)
        .labels
        .into_iter()
        .filter_map(|(code, m)| match m {
            Mapped::Label(e) => Some((code, e)),
            Mapped::Drop => None,
        })
        .collect()
}

#[derive(Clone, Copy, PartialEq)]
enum Condition {
    Studio,
    Telephone,
}

struct Job {
    rel: PathBuf,
    speaker: Speaker,
    emotion: Emotion,
    intensity: f64,
    text_key: u64,
    rate: u32,
    condition: Condition,
}

fn key(seed: u64, what: &str) -> u64 {
    let h = blake3::hash(format!("{seed}/{what}").as_bytes());
    u64::from_le_bytes(h.as_bytes()[..8].try_into().unwrap())
}

fn speakers(
    cfg: &SynthConfig,
    corpus: &str,
    n: usize,
    male: impl Fn(usize) -> bool,
) -> Vec<Speaker> {
    (0..n)
        .map(|i| {
            let mut rng =
                ChaCha8Rng::seed_from_u64(key(cfg.seed, &format!("{corpus}/speaker/{i}")));
            Speaker::sample_spread(&mut rng, male(i), cfg.speaker_spread)
        })
        .collect()
}

/// RAVDESS's (statement, repetition) pairs, the first `takes` of them.
fn takes(takes: usize) -> impl Iterator<Item = (u64, u64)> {
    [(1, 1), (2, 1), (1, 2), (2, 2)].into_iter().take(takes)
}

/// Mean length in seconds of a clip of the large corpus (sentences of 6-10 syllables with
/// leading and trailing silence; measured: 1,264 clips made 0.94 h): how many make `hours`.
const MEAN_CLIP_S: f64 = 2.68;

/// Speakers of the large corpus: as asked, else one per 10 minutes of audio (at least 4).
fn large_speakers(cfg: &SynthConfig) -> usize {
    if cfg.speakers > 0 {
        cfg.speakers
    } else {
        ((cfg.hours * 6.0).round() as usize).max(4)
    }
}

/// The large corpus's clips: `hours` of audio over its speakers in turn, each clip one of
/// CREMA-D's 6 emotions at a random intensity, one of 40 sentences, speakers alternating
/// studio and telephone conditions, all at 16 kHz. Rows of `large/manifest.csv` in order.
fn large_jobs(cfg: &SynthConfig) -> Vec<Job> {
    let n_speakers = large_speakers(cfg);
    let voices = speakers(cfg, "large", n_speakers, |i| i % 2 == 0);
    let emotions = emotion_codes(CorpusKind::Cremad);
    let clips = (cfg.hours * 3600.0 / MEAN_CLIP_S).ceil() as usize;
    (0..clips)
        .map(|i| {
            let (spk, k) = (i % n_speakers, i / n_speakers);
            let (_, emotion) = emotions[(k + spk) % emotions.len()];
            let pick = key(cfg.seed, &format!("large/{i}"));
            Job {
                rel: PathBuf::from(format!(
                    "large/wav/spk{spk:05}/spk{spk:05}_{k:06}_{}.wav",
                    emotion.as_str()
                )),
                speaker: voices[spk],
                emotion,
                intensity: 0.6 + 0.8 * (pick % 1000) as f64 / 1000.0,
                text_key: 2000 + (pick >> 10) % 40,
                rate: 16_000,
                condition: if spk % 2 == 0 {
                    Condition::Studio
                } else {
                    Condition::Telephone
                },
            }
        })
        .collect()
}

fn jobs(cfg: &SynthConfig) -> (Vec<Job>, Vec<Speaker>) {
    if cfg.hours > 0.0 {
        return (large_jobs(cfg), Vec::new());
    }
    let mut jobs = Vec::new();
    let rav = speakers(cfg, "ravdess", cfg.ravdess_actors, |i| (i + 1) % 2 == 1);
    for (a, spk) in rav.iter().enumerate() {
        let actor = a + 1;
        for (code, emo) in emotion_codes(CorpusKind::Ravdess) {
            // Neutral has only the normal intensity, as in RAVDESS.
            let intensities: &[(usize, f64)] = if emo == Emotion::Neutral {
                &[(1, 1.0)]
            } else {
                &[(1, 0.75), (2, 1.3)]
            };
            for &(ii, intensity) in intensities {
                for (statement, rep) in takes(cfg.ravdess_takes) {
                    let name = format!(
                        "03-01-{code}-{:02}-{:02}-{:02}-{:02}.wav",
                        ii, statement, rep, actor
                    );
                    jobs.push(Job {
                        rel: PathBuf::from(format!("ravdess/Actor_{actor:02}/{name}")),
                        speaker: *spk,
                        emotion: emo,
                        intensity,
                        text_key: statement,
                        rate: cfg.ravdess_rate,
                        condition: Condition::Studio,
                    });
                }
            }
        }
    }
    let cre = speakers(cfg, "cremad", cfg.cremad_actors, |i| i % 2 == 0);
    for (a, spk) in cre.iter().enumerate() {
        let actor = 1001 + a;
        for sentence_code in CREMAD_SENTENCES.iter().take(cfg.cremad_sentences) {
            for (code, emo) in emotion_codes(CorpusKind::Cremad) {
                let levels: &[(&str, f64)] = if *sentence_code == "IEO" && code != "NEU" {
                    &[("LO", 0.6), ("MD", 1.0), ("HI", 1.4)]
                } else {
                    &[("XX", 1.0)]
                };
                for &(level, intensity) in levels {
                    jobs.push(Job {
                        rel: PathBuf::from(format!(
                            "cremad/AudioWAV/{actor}_{sentence_code}_{code}_{level}.wav"
                        )),
                        speaker: *spk,
                        emotion: emo,
                        intensity,
                        text_key: 100 + key(0, sentence_code) % 1_000_000,
                        rate: cfg.cremad_rate,
                        condition: Condition::Telephone,
                    });
                }
            }
        }
    }
    (jobs, cre)
}

fn render(job: &Job, cfg: &SynthConfig) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(key(cfg.seed, &job.rel.to_string_lossy()));
    let sr = job.rate as f64;
    let prosody = utterance_prosody_spread(
        &mut rng,
        job.emotion,
        job.intensity * cfg.emotion_strength,
        cfg.prosody_spread,
    );
    let mic_db: f64 = rng.random_range(-6.0..6.0);
    let level = -22.0 + job.speaker.gain_db + prosody.gain_db + mic_db;
    let mut speech = synthesize(
        &mut rng,
        &job.speaker,
        &prosody,
        &sentence(job.text_key),
        sr,
        level,
    );
    let z = Normal::new(0.0, 1.0).unwrap();
    let (lead, trail) = match job.condition {
        Condition::Studio => (rng.random_range(0.3..0.8), rng.random_range(0.3..0.8)),
        Condition::Telephone => (rng.random_range(0.15..0.45), rng.random_range(0.15..0.45)),
    };
    let mut y = vec![0.0f32; (lead * sr) as usize];
    y.append(&mut speech);
    y.extend(std::iter::repeat_n(0.0, (trail * sr) as usize));
    match job.condition {
        Condition::Studio => {
            if let [lo, hi] = cfg.ravdess_band_hz[..] {
                let band = ser_dsp::butter(4, ser_dsp::Band::Bandpass(lo, hi), sr)
                    .expect("band checked by validate");
                band.filter(&mut y);
            }
            let floor = 10f64.powf(-70.0 / 20.0);
            for v in y.iter_mut() {
                *v += (floor * z.sample(&mut rng)) as f32;
            }
            if let [lo, hi] = cfg.ravdess_snr_db[..] {
                let snr = uniform(lo, hi, &mut rng);
                add_background(&mut y, sr, snr, &mut rng);
            }
        }
        Condition::Telephone => {
            let band = ser_dsp::butter(
                4,
                ser_dsp::Band::Bandpass(300.0, 3400.0_f64.min(0.45 * sr)),
                sr,
            )
            .expect("valid band");
            band.filter(&mut y);
            let [lo, hi] = cfg.cremad_snr_db;
            let snr = uniform(lo, hi, &mut rng);
            add_background(&mut y, sr, snr, &mut rng);
        }
    }
    let peak = y.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    if peak > 0.99 {
        y.iter_mut().for_each(|v| *v *= 0.99 / peak);
    }
    y
}

/// A draw from `[lo, hi)` (`lo` when the range is empty).
fn uniform(lo: f64, hi: f64, rng: &mut ChaCha8Rng) -> f64 {
    if lo < hi {
        rng.random_range(lo..hi)
    } else {
        lo
    }
}

/// Adds brownish background noise (one-pole low-passed white) with mains hum at `snr` dB
/// below the signal's RMS level.
fn add_background(y: &mut [f32], sr: f64, snr: f64, rng: &mut ChaCha8Rng) {
    let z = Normal::new(0.0, 1.0).unwrap();
    let speech_rms = ser_audio::rms_dbfs(y);
    let noise_rms = 10f64.powf((speech_rms - snr) / 20.0);
    let mut lp = 0.0f64;
    let mut noise: Vec<f64> = (0..y.len())
        .map(|i| {
            lp = 0.95 * lp + 0.05 * z.sample(&mut *rng);
            lp + 0.3 * (2.0 * std::f64::consts::PI * 50.0 * i as f64 / sr).sin()
        })
        .collect();
    let nr = (noise.iter().map(|v| v * v).sum::<f64>() / noise.len().max(1) as f64)
        .sqrt()
        .max(1e-12);
    noise.iter_mut().for_each(|v| *v *= noise_rms / nr);
    for (v, n) in y.iter_mut().zip(noise) {
        *v += n as f32;
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SynthError + '_ {
    move |source| SynthError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes both corpora under `out` (or, with `hours`, the large one); `progress(done,
/// total)` is called as clips finish.
pub fn generate(
    cfg: &SynthConfig,
    out: &Path,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<SynthReport, SynthError> {
    cfg.validate()?;
    let (jobs, cremad_speakers) = jobs(cfg);
    let corpora = if cfg.hours > 0.0 {
        prepare_large(cfg, out, &jobs)?
    } else {
        prepare_layouts(cfg, out, &cremad_speakers, &jobs)?
    };
    let total = jobs.len();
    let done = AtomicUsize::new(0);
    let reused = AtomicUsize::new(0);
    let millis = AtomicUsize::new(0);
    jobs.par_iter()
        .try_for_each(|job| -> Result<(), SynthError> {
            let path = out.join(&job.rel);
            if let Some(n) = wav_i16_samples(&path) {
                reused.fetch_add(1, Ordering::Relaxed);
                millis.fetch_add(n * 1000 / job.rate as usize, Ordering::Relaxed);
            } else {
                let y = render(job, cfg);
                write_atomic_wav(&path, &y, job.rate)?;
                millis.fetch_add(y.len() * 1000 / job.rate as usize, Ordering::Relaxed);
            }
            progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
            Ok(())
        })?;
    let reused = reused.into_inner();
    Ok(SynthReport {
        corpora,
        written: total - reused,
        reused,
        hours: millis.into_inner() as f64 / 3_600_000.0,
    })
}

/// Samples of a finished 16-bit mono WAV that `ser synth` wrote (from its size: a 44-byte
/// header), or `None` where there is none yet.
fn wav_i16_samples(path: &Path) -> Option<usize> {
    let len = std::fs::metadata(path).ok().filter(|m| m.is_file())?.len() as usize;
    Some(len.saturating_sub(44) / 2)
}

/// Writes a clip under a temporary name and renames it, so that a killed run never leaves a
/// truncated clip that a resumed run would take as finished.
fn write_atomic_wav(path: &Path, y: &[f32], rate: u32) -> Result<(), SynthError> {
    let tmp = path.with_extension(format!("wav.{}.tmp", std::process::id()));
    ser_audio::write_wav_i16(&tmp, y, rate).map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err(path))
}

/// The RAVDESS- and CREMA-D-layout folders, markers and demographics; their
/// (name, layout, root, clips).
fn prepare_layouts(
    cfg: &SynthConfig,
    out: &Path,
    cremad_speakers: &[Speaker],
    jobs: &[Job],
) -> Result<Vec<(String, String, PathBuf, usize)>, SynthError> {
    for dir in ["ravdess", "cremad/AudioWAV"] {
        std::fs::create_dir_all(out.join(dir)).map_err(io_err(&out.join(dir)))?;
    }
    for a in 1..=cfg.ravdess_actors {
        let d = out.join(format!("ravdess/Actor_{a:02}"));
        std::fs::create_dir_all(&d).map_err(io_err(&d))?;
    }
    let describe = |name: &str, kind: &str, text: &str| -> Result<(), SynthError> {
        let root = out.join(kind);
        let marker = format!(
            "# Written by `ser synth` (seed {}).\nname = \"{name}\"\nkind = \"{kind}\"\n",
            cfg.seed
        );
        std::fs::write(root.join(ser_marker()), marker).map_err(io_err(&root))?;
        std::fs::write(root.join("README.txt"), text).map_err(io_err(&root))
    };
    describe(
        "synth_ravdess",
        "ravdess",
        "Synthetic emotional speech in the RAVDESS layout (studio, 48 kHz by default), made by `ser synth`.\nNot real speech: for trying ser end to end.\n",
    )?;
    describe(
        "synth_cremad",
        "cremad",
        "Synthetic emotional speech in the CREMA-D layout (telephone band, noisy, 16 kHz by default), made by `ser synth`.\nNot real speech: for trying ser end to end.\n",
    )?;
    let mut demo = String::from("ActorID,Age,Sex,Race,Ethnicity\n");
    for (i, s) in cremad_speakers.iter().enumerate() {
        let age = 20 + (key(cfg.seed, &format!("age{i}")) % 50);
        demo.push_str(&format!(
            "{},{age},{},Synthetic,Synthetic\n",
            1001 + i,
            if s.male { "Male" } else { "Female" }
        ));
    }
    let demo_path = out.join("cremad/VideoDemographics.csv");
    std::fs::write(&demo_path, demo).map_err(io_err(&demo_path))?;

    let count = |prefix: &str| jobs.iter().filter(|j| j.rel.starts_with(prefix)).count();
    Ok(vec![
        (
            "synth_ravdess".into(),
            "ravdess".into(),
            out.join("ravdess"),
            count("ravdess"),
        ),
        (
            "synth_cremad".into(),
            "cremad".into(),
            out.join("cremad"),
            count("cremad"),
        ),
    ])
}

/// The large corpus's folders and `large/manifest.csv` (path, label, speaker, corpus,
/// gender), written whole under a temporary name first; its (name, layout, root, clips).
fn prepare_large(
    cfg: &SynthConfig,
    out: &Path,
    jobs: &[Job],
) -> Result<Vec<(String, String, PathBuf, usize)>, SynthError> {
    let root = out.join("large");
    for s in 0..large_speakers(cfg) {
        let d = root.join(format!("wav/spk{s:05}"));
        std::fs::create_dir_all(&d).map_err(io_err(&d))?;
    }
    let mut csv = String::from("path,label,speaker,corpus,gender\n");
    for job in jobs {
        let rel = job
            .rel
            .strip_prefix("large")
            .expect("large clips live under large/");
        let speaker = rel
            .parent()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let gender = if job.speaker.male { "male" } else { "female" };
        csv.push_str(&format!(
            "{},{},{speaker},synth_large,{gender}\n",
            rel.display(),
            job.emotion.as_str()
        ));
    }
    let manifest = root.join("manifest.csv");
    let tmp = root.join(format!("manifest.csv.{}.tmp", std::process::id()));
    std::fs::write(&tmp, csv).map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, &manifest).map_err(io_err(&manifest))?;
    let readme = format!(
        "Synthetic emotional speech, {} h in {} clips of {} speakers (16 kHz, 6 emotions, studio and telephone conditions), made by `ser synth --hours`.\nNot real speech: for scale tests and benchmarks. Corpus argument: --corpus synth_large={}\n",
        cfg.hours,
        jobs.len(),
        large_speakers(cfg),
        manifest.display()
    );
    std::fs::write(root.join("README.txt"), readme).map_err(io_err(&root))?;
    Ok(vec![(
        "synth_large".into(),
        "manifest".into(),
        manifest,
        jobs.len(),
    )])
}

fn ser_marker() -> &'static str {
    "ser-corpus.toml"
}
