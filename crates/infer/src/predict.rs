//! Prediction with a trained run: audio files in, class probabilities out, computed exactly
//! as the run's test clips were (same cleaning, same features from the run's
//! `features.toml`, the training statistics, the centre segment), so a file of the test set
//! gets the probabilities of its row in the run's `predictions.csv`.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use burn::module::Module;
use burn::tensor::Device;
use rayon::prelude::*;
use ser_audio::Cleaner;
use ser_eval::NormScope;
use ser_models::Net;

use ser_experiment::folder::{GROUP_NORMS, io, read_experiment};
use ser_experiment::{
    AugmentConfig, BatchSource, ClipInfo, Dataset, Experiment, FramePipeline, Normalizer,
    TrainError,
};

use crate::score::{argmax_first, evaluate};

/// A trained network ready to score audio.
pub struct Predictor {
    /// Class names, in the order of every probability vector.
    pub classes: Vec<String>,
    /// Where the features are computed, for messages.
    pub features_on: String,
    exp: Experiment,
    net: Net,
    norm: Normalizer,
    pipeline: FramePipeline,
    /// The run's cleaning without silence trimming, for long recordings (times must stay
    /// those of the file).
    untrimmed: Cleaner,
    device: Device,
}

/// RMS level of samples in dBFS (-200 for digital silence).
pub fn rms_db(y: &[f32]) -> f64 {
    let power = y.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / y.len().max(1) as f64;
    10.0 * power.max(1e-20).log10()
}

/// How a long recording is cut into scored windows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimelineConfig {
    /// Window length in seconds (default 3.0).
    pub window_s: f64,
    /// Step between window starts in seconds (default 1.0).
    pub hop_s: f64,
    /// Energy VAD: windows whose RMS is more than this many dB below the loudest window's
    /// (or below -70 dBFS) are silence and not scored (default 35.0).
    pub vad_db: f64,
}

impl Default for TimelineConfig {
    fn default() -> Self {
        Self {
            window_s: 3.0,
            hop_s: 1.0,
            vad_db: 35.0,
        }
    }
}

/// One window of a timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// Start in seconds from the start of the file.
    pub start_s: f64,
    /// End in seconds.
    pub end_s: f64,
    /// RMS level in dBFS.
    pub rms_db: f64,
    /// Class probabilities; `None` for silence.
    pub probs: Option<Vec<f64>>,
}

impl Window {
    /// The most probable class of a speech window.
    pub fn class(&self) -> Option<usize> {
        self.probs.as_ref().map(|p| argmax_first(p))
    }
}

/// What a timeline says about a recording.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TimelineSummary {
    /// Seconds of the file.
    pub seconds: f64,
    /// Speech windows / all windows.
    pub speech_share: f64,
    /// Per class: share of the speech windows it wins.
    pub share: Vec<(String, f64)>,
    /// Per class: the longest run of consecutive speech windows it wins, in seconds (first
    /// start to last end), and where it starts.
    pub longest: Vec<(String, f64, f64)>,
}

/// One file's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// The file as given.
    pub path: String,
    /// Probability of each class (`Predictor::classes` order).
    pub probs: Vec<f64>,
    /// The most probable class.
    pub class: usize,
    /// Seconds of audio after cleaning (trimmed silence excluded).
    pub seconds: f64,
}

/// A model that scores cleaned audio: a run's network ([`Predictor`]) or an exported file.
/// Prediction of clips, timelines of long recordings and their summaries are built on it,
/// so every kind of model cuts, cleans and reports audio the same way.
pub trait Scorer {
    /// Class names, in the order of every probability vector.
    fn classes(&self) -> &[String];
    /// The sample rate cleaned signals are at.
    fn rate(&self) -> u32;
    /// Where the features are computed, for messages.
    fn describe(&self) -> String;
    /// Turns a decoded clip into what [`Scorer::probabilities`] reads, as the run cleaned its
    /// test clips (trimming included).
    fn clip_cleaner(&self) -> &Cleaner;
    /// The same for windows of long recordings and streams: no trimming, so times stay
    /// those of the file.
    fn window_cleaner(&self) -> &Cleaner;
    /// Class probabilities of cleaned signals, scored like the run's test clips, `batch` per
    /// forward pass.
    fn probabilities(&self, signals: &[Vec<f32>], batch: usize) -> Result<Vec<Vec<f64>>, String>;
    /// The shortest cleaned signal (samples) the model scores (default 1).
    fn min_samples(&self) -> usize {
        1
    }

    /// Scores `paths` in batches of `batch`; a file that cannot be read or decoded, or is
    /// silent after cleaning, gets its reason instead, and the others go on.
    fn predict(&self, paths: &[String], batch: usize) -> Vec<Result<Prediction, String>> {
        let cleaner = self.clip_cleaner();
        let rate = self.rate() as f64;
        let min = self.min_samples();
        let audio: Vec<Result<Vec<f32>, String>> = paths
            .par_iter()
            .map(|p| {
                let decoded =
                    ser_audio::decode_file(Path::new(p)).map_err(|e| format!("{p}: {e}"))?;
                let y = cleaner.clean(&decoded).map_err(|e| format!("{p}: {e}"))?;
                if y.is_empty() {
                    return Err(format!("{p}: nothing left after cleaning (silent?)"));
                }
                if y.len() < min {
                    return Err(format!(
                        "{p}: {} samples after cleaning, the model needs at least {min}",
                        y.len()
                    ));
                }
                Ok(y)
            })
            .collect();
        let mut errors: Vec<Option<String>> = vec![None; paths.len()];
        let (mut ok, mut signals) = (Vec::new(), Vec::new());
        for (i, a) in audio.into_iter().enumerate() {
            match a {
                Ok(y) => {
                    ok.push(i);
                    signals.push(y);
                }
                Err(e) => errors[i] = Some(e),
            }
        }
        let scores = match self.probabilities(&signals, batch) {
            Ok(s) => s,
            Err(e) => {
                return paths
                    .iter()
                    .zip(errors)
                    .map(|(p, err)| Err(err.unwrap_or_else(|| format!("{p}: {e}"))))
                    .collect();
            }
        };
        let mut k = 0;
        errors
            .into_iter()
            .enumerate()
            .map(|(i, e)| match e {
                Some(e) => Err(e),
                None => {
                    let probs = scores[k].clone();
                    let p = Prediction {
                        path: paths[i].clone(),
                        class: crate::score::argmax_first(&probs),
                        probs,
                        seconds: signals[k].len() as f64 / rate,
                    };
                    k += 1;
                    Ok(p)
                }
            })
            .collect()
    }

    /// The emotion timeline of a long recording: windows of `t.window_s` every `t.hop_s`
    /// seconds over the untrimmed, cleaned audio, silent ones (energy VAD) left unscored,
    /// the others scored like clips. A silent file gives only silent windows.
    fn timeline(
        &self,
        path: &str,
        t: &TimelineConfig,
        batch: usize,
    ) -> Result<Vec<Window>, String> {
        if !(t.window_s > 0.0 && t.hop_s > 0.0 && t.vad_db > 0.0) {
            return Err("timeline: window, hop and VAD threshold must be > 0".into());
        }
        let decoded =
            ser_audio::decode_file(Path::new(path)).map_err(|e| format!("{path}: {e}"))?;
        let rate = self.rate() as f64;
        let y = match self.window_cleaner().clean(&decoded) {
            Ok(y) => y,
            // All-zero audio: every window is silence.
            Err(_) if decoded.samples.iter().all(|v| *v == 0.0) => {
                vec![0.0; (decoded.frames() as f64 * rate / decoded.sample_rate as f64) as usize]
            }
            Err(e) => return Err(format!("{path}: {e}")),
        };
        let (win, hop) = (
            (t.window_s * rate) as usize,
            (t.hop_s * rate).max(1.0) as usize,
        );
        let mut starts: Vec<usize> = (0..)
            .map(|k| k * hop)
            .take_while(|&s| s + win <= y.len())
            .collect();
        if starts.is_empty() && !y.is_empty() {
            starts.push(0);
        }
        let mut windows: Vec<Window> = starts
            .iter()
            .map(|&s| {
                let seg = &y[s..(s + win).min(y.len())];
                Window {
                    start_s: s as f64 / rate,
                    end_s: (s + seg.len()) as f64 / rate,
                    rms_db: rms_db(seg),
                    probs: None,
                }
            })
            .collect();
        let loudest = windows
            .iter()
            .map(|w| w.rms_db)
            .fold(f64::NEG_INFINITY, f64::max);
        let speech: Vec<usize> = (0..windows.len())
            .filter(|&i| windows[i].rms_db >= (loudest - t.vad_db).max(-70.0))
            .collect();
        let signals: Vec<Vec<f32>> = speech
            .iter()
            .map(|&i| y[starts[i]..(starts[i] + win).min(y.len())].to_vec())
            .collect();
        let scores = self
            .probabilities(&signals, batch)
            .map_err(|e| format!("{path}: {e}"))?;
        for (&i, p) in speech.iter().zip(scores) {
            windows[i].probs = Some(p);
        }
        Ok(windows)
    }

    /// Share of speech windows per class and longest stretches (seconds) per class.
    fn summarize(&self, windows: &[Window]) -> TimelineSummary {
        let classes = self.classes();
        let k = classes.len();
        let speech: Vec<&Window> = windows.iter().filter(|w| w.probs.is_some()).collect();
        let mut wins = vec![0usize; k];
        let mut longest = vec![(0.0f64, 0.0f64); k];
        let mut run: Option<(usize, f64)> = None; // (class, start)
        for (i, w) in windows.iter().enumerate() {
            let c = w.class();
            if let Some(c) = c {
                wins[c] += 1;
            }
            run = match (run, c) {
                (Some((rc, start)), Some(c)) if rc == c => Some((rc, start)),
                (_, Some(c)) => Some((c, w.start_s)),
                (_, None) => None,
            };
            if let Some((rc, start)) = run {
                let end = windows[i].end_s;
                if end - start > longest[rc].0 {
                    longest[rc] = (end - start, start);
                }
            }
        }
        let n = speech.len().max(1) as f64;
        TimelineSummary {
            seconds: windows.last().map_or(0.0, |w| w.end_s),
            speech_share: speech.len() as f64 / windows.len().max(1) as f64,
            share: classes
                .iter()
                .zip(&wins)
                .map(|(c, &w)| (c.clone(), w as f64 / n))
                .collect(),
            longest: classes
                .iter()
                .zip(&longest)
                .map(|(c, &(len, at))| (c.clone(), len, at))
                .collect(),
        }
    }
}

impl Scorer for Predictor {
    fn classes(&self) -> &[String] {
        &self.classes
    }

    fn rate(&self) -> u32 {
        self.pipeline.reference().config().audio.sample_rate
    }

    fn describe(&self) -> String {
        self.features_on.clone()
    }

    fn clip_cleaner(&self) -> &Cleaner {
        self.pipeline.reference().cleaner()
    }

    fn window_cleaner(&self) -> &Cleaner {
        &self.untrimmed
    }

    fn probabilities(&self, signals: &[Vec<f32>], batch: usize) -> Result<Vec<Vec<f64>>, String> {
        Ok(self.score(signals, batch))
    }
}

/// The statistics of group `name` a run kept, or none for a run standardized with its
/// training statistics only; refuses a missing or unknown group with the ones there are.
fn group_norm(
    dir: &Path,
    scope: NormScope,
    name: Option<&str>,
) -> Result<Option<Normalizer>, TrainError> {
    if scope == NormScope::Train {
        return match name {
            None => Ok(None),
            Some(n) => Err(TrainError::Config(format!(
                "--norm-group {n}: {} was trained with split.normalize = \"train\" (one set of statistics for every input); leave --norm-group out",
                dir.display()
            ))),
        };
    }
    let path = dir.join(GROUP_NORMS);
    #[derive(serde::Deserialize)]
    struct Groups {
        groups: std::collections::BTreeMap<String, Normalizer>,
    }
    let g: Groups = serde_json::from_str(&fs::read_to_string(&path).map_err(io(&path))?)
        .map_err(|e| TrainError::file(&path, e))?;
    let unit = if scope == NormScope::Corpus {
        "corpus"
    } else {
        "speaker (corpus/speaker)"
    };
    let names: Vec<&str> = g.groups.keys().map(String::as_str).collect();
    let Some(name) = name else {
        return Err(TrainError::Config(format!(
            "{} was trained with split.normalize = {scope:?}: each {unit} standardized with its own statistics; say whose statistics the input gets with --norm-group NAME, one of {names:?}",
            dir.display()
        )));
    };
    g.groups.get(name).cloned().map(Some).ok_or_else(|| {
        TrainError::Config(format!(
            "--norm-group {name}: {} kept the statistics of {names:?} only (each {unit} of its data)",
            dir.display()
        ))
    })
}

/// The class names of a finished run's `results.json`.
fn read_classes(path: &Path) -> Result<Vec<String>, TrainError> {
    #[derive(serde::Deserialize)]
    struct Results {
        classes: Vec<String>,
    }
    let t = fs::read_to_string(path).map_err(io(path))?;
    serde_json::from_str::<Results>(&t)
        .map(|r| r.classes)
        .map_err(|e| TrainError::file(path, e))
}

impl Predictor {
    /// Loads the best model of the run in `dir` onto `device` (features too go there when
    /// the GPU kernels run on it). A run trained with `split.normalize = "corpus"` or
    /// `"speaker"` standardizes its input with one group's own statistics first: `norm_group`
    /// names that corpus (or `corpus/speaker`), one of those the run kept.
    pub fn load(dir: &Path, device: &Device, norm_group: Option<&str>) -> Result<Self, TrainError> {
        Self::load_with(dir, device, norm_group, false)
    }

    /// [`Predictor::load`] for exporting the network alone: the feature config's layout is
    /// read but no feature pipeline is built, so runs on features ser cannot compute from
    /// audio (an `[ssl]` cache) export with frames in. Such a predictor must not score.
    pub fn load_for_export(
        dir: &Path,
        device: &Device,
        norm_group: Option<&str>,
    ) -> Result<Self, TrainError> {
        Self::load_with(dir, device, norm_group, true)
    }

    fn load_with(
        dir: &Path,
        device: &Device,
        norm_group: Option<&str>,
        layout_only: bool,
    ) -> Result<Self, TrainError> {
        let exp = read_experiment(dir)?;
        let Some(net_cfg) = exp.model.net() else {
            return Err(TrainError::Config(format!(
                "{}: a {:?} baseline; `ser predict` scores the network runs (cnn, lstm, cnn_lstm)",
                dir.display(),
                exp.model.kind
            )));
        };
        let best = dir.join("model_best.bpk");
        if !best.exists() {
            let study = ["folds.json", "plan.json"]
                .iter()
                .any(|f| dir.join(f).exists());
            return Err(TrainError::file(
                dir,
                if study {
                    format!(
                        "holds one model per fold or corpus set; give one of its model folders (e.g. {}/fold-01)",
                        dir.display()
                    )
                } else {
                    "no model_best.bpk; the run has not finished an epoch (resume it)".to_string()
                },
            ));
        }
        let results = dir.join("results.json");
        if !results.exists() {
            return Err(TrainError::file(
                dir,
                format!(
                    "no results.json; finish the run first (`ser run` or `ser train --resume {}`)",
                    dir.display()
                ),
            ));
        }
        let classes = read_classes(&results)?;
        let norm_path = dir.join("normalizer.json");
        let train_norm: Normalizer =
            serde_json::from_str(&fs::read_to_string(&norm_path).map_err(io(&norm_path))?)
                .map_err(|e| TrainError::file(&norm_path, e))?;
        let norm = match group_norm(dir, exp.split.normalize, norm_group)? {
            Some(g) => g.then(&train_norm),
            None => train_norm,
        };
        // Runs made before features.toml existed: the config of the cache they read.
        let features = dir.join("features.toml");
        let config = if features.exists() {
            fs::read_to_string(&features).map_err(io(&features))?
        } else {
            ser_cache::Cache::open(exp.data.cache.first())
                .map_err(|e| {
                    TrainError::Data(format!(
                        "{} has no features.toml and its cache is unreadable: {e}",
                        dir.display()
                    ))
                })?
                .header
                .config_toml
        };
        let pipeline = if layout_only {
            FramePipeline::layout_only(&config, &exp.data.frames)?
        } else {
            FramePipeline::new(&config, &exp.data.frames, device)?
        };
        let audio = pipeline.reference().config().audio.untrimmed();
        let untrimmed = Cleaner::new(audio).map_err(TrainError::Config)?;
        let dim = pipeline.dim();
        if dim != norm.mean.len() {
            return Err(TrainError::Data(format!(
                "{}: features.toml gives {dim} values per frame, normalizer.json {}; the run folder is inconsistent",
                dir.display(),
                norm.mean.len()
            )));
        }
        let net = Net::new(&net_cfg, dim, exp.segment.frames, classes.len(), device)
            .map_err(|e| TrainError::Config(e.to_string()))?
            .try_load_file(&best)
            .map_err(|e| TrainError::file(&best, format!("{e:?}")))?
            .valid();
        Ok(Self {
            classes,
            features_on: pipeline.describe.clone(),
            exp,
            net,
            norm,
            pipeline,
            untrimmed,
            device: device.clone(),
        })
    }

    /// Class probabilities of cleaned signals: their features, the centre segment, the
    /// training statistics and the network, as the run's test clips.
    fn score(&self, signals: &[Vec<f32>], batch: usize) -> Vec<Vec<f64>> {
        let n = signals.len();
        if n == 0 {
            return Vec::new();
        }
        let ds = Dataset::from_frames(
            self.classes.clone(),
            self.pipeline.dim(),
            ser_experiment::ClipStore::in_ram(self.pipeline.features(signals)),
            vec![0; n],
            vec![
                ClipInfo {
                    corpus: String::new(),
                    speaker: String::new(),
                    content_hash: String::new(),
                    path: String::new(),
                    sentence: String::new(),
                };
                n
            ],
        );
        let src = Arc::new(BatchSource {
            ds: Arc::new(ds),
            norm: self.norm.clone(),
            segment: self.exp.segment,
            augment: AugmentConfig::default(),
            wave: None,
        });
        let all: Vec<usize> = (0..n).collect();
        evaluate(&self.net, &src, &all, batch.max(1), None, &self.device).2
    }

    /// The network's weights and structure, for exporters.
    pub fn net_weights(&self) -> ser_models::NetWeights {
        self.net.weights()
    }

    /// The training statistics the features are standardized with.
    pub fn normalizer(&self) -> &Normalizer {
        &self.norm
    }

    /// The experiment the run was trained with.
    pub fn experiment(&self) -> &Experiment {
        &self.exp
    }

    /// The feature config the model's input is computed with.
    pub fn feature_config(&self) -> &ser_features::FeatureConfig {
        self.pipeline.reference().config()
    }

    /// Values per frame of the model's input.
    pub fn n_features(&self) -> usize {
        self.pipeline.dim()
    }
}
