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
use ser_eval::NormScope;
use ser_models::Net;

use crate::TrainError;
use crate::dataset::{ClipInfo, Dataset, Normalizer};
use crate::experiment::{AugmentConfig, Experiment};
use crate::loader::BatchSource;
use crate::run::{evaluate, io, read_experiment, read_summary};
use crate::waveform::FramePipeline;

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
    device: Device,
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

impl Predictor {
    /// Loads the best model of the run in `dir` onto `device` (features too go there when
    /// the GPU kernels run on it).
    pub fn load(dir: &Path, device: &Device) -> Result<Self, TrainError> {
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
            return Err(TrainError::Io(if study {
                format!(
                    "{} holds one model per fold or corpus set; give one of its model folders (e.g. {}/fold-01)",
                    dir.display(),
                    dir.display()
                )
            } else {
                format!(
                    "{}: no model_best.bpk; the run has not finished an epoch (resume it)",
                    dir.display()
                )
            }));
        }
        if exp.split.normalize != NormScope::Train {
            return Err(TrainError::Config(format!(
                "{}: trained with split.normalize = {:?}, which needs the statistics of each new corpus or speaker; predict from a run with normalize = \"train\"",
                dir.display(),
                exp.split.normalize
            )));
        }
        let results = dir.join("results.json");
        if !results.exists() {
            return Err(TrainError::Io(format!(
                "{}: no results.json; finish the run first (`ser run` or `ser train --resume {}`)",
                dir.display(),
                dir.display()
            )));
        }
        let classes = read_summary(&results)?.classes;
        let norm_path = dir.join("normalizer.json");
        let norm: Normalizer =
            serde_json::from_str(&fs::read_to_string(&norm_path).map_err(io(&norm_path))?)
                .map_err(|e| TrainError::Io(format!("{}: {e}", norm_path.display())))?;
        // Runs made before features.toml existed: the config of the cache they read.
        let features = dir.join("features.toml");
        let config = if features.exists() {
            fs::read_to_string(&features).map_err(io(&features))?
        } else {
            ser_cache::Cache::open(&exp.data.cache)
                .map_err(|e| {
                    TrainError::Data(format!(
                        "{} has no features.toml and its cache is unreadable: {e}",
                        dir.display()
                    ))
                })?
                .header
                .config_toml
        };
        let pipeline = FramePipeline::new(&config, &exp.data.frames, device)?;
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
            .map_err(|e| TrainError::Io(format!("{}: {e:?}", best.display())))?
            .valid();
        Ok(Self {
            classes,
            features_on: pipeline.describe.clone(),
            exp,
            net,
            norm,
            pipeline,
            device: device.clone(),
        })
    }

    /// Scores `paths` in batches of `batch`; a file that cannot be read or decoded, or is
    /// silent after cleaning, gets its reason instead, and the others go on.
    pub fn predict(&self, paths: &[String], batch: usize) -> Vec<Result<Prediction, String>> {
        let reference = self.pipeline.reference();
        let rate = reference.config().audio.sample_rate as f64;
        let audio: Vec<Result<Vec<f32>, String>> = paths
            .par_iter()
            .map(|p| {
                let bytes = fs::read(p).map_err(|e| format!("{p}: cannot read: {e}"))?;
                let ext = Path::new(p).extension().and_then(|e| e.to_str());
                let decoded =
                    ser_audio::decode_bytes(&bytes, ext).map_err(|e| format!("{p}: {e}"))?;
                let y = reference
                    .cleaner()
                    .clean(&decoded)
                    .map_err(|e| format!("{p}: {e}"))?;
                if y.is_empty() {
                    return Err(format!("{p}: nothing left after cleaning (silent?)"));
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
        let frames = self.pipeline.features(&signals);
        let dim = self.pipeline.dim();
        let n = ok.len();
        let ds = Dataset {
            classes: self.classes.clone(),
            dim,
            frames,
            labels: vec![0; n],
            meta: ok
                .iter()
                .map(|&i| ClipInfo {
                    corpus: String::new(),
                    speaker: String::new(),
                    content_hash: String::new(),
                    path: paths[i].clone(),
                    sentence: String::new(),
                })
                .collect(),
            functionals: vec![Vec::new(); n],
            functional_names: Vec::new(),
            fingerprints: Vec::new(),
            feature_config: String::new(),
        };
        let src = Arc::new(BatchSource {
            ds: Arc::new(ds),
            norm: self.norm.clone(),
            segment: self.exp.segment,
            augment: AugmentConfig::default(),
            wave: None,
        });
        let all: Vec<usize> = (0..n).collect();
        let (pred, scores) = if n == 0 {
            (Vec::new(), Vec::new())
        } else {
            let (_, p, s) = evaluate(&self.net, &src, &all, batch.max(1), None, &self.device);
            (p, s)
        };
        let mut k = 0;
        errors
            .into_iter()
            .enumerate()
            .map(|(i, e)| match e {
                Some(e) => Err(e),
                None => {
                    let p = Prediction {
                        path: paths[i].clone(),
                        probs: scores[k].clone(),
                        class: pred[k],
                        seconds: signals[k].len() as f64 / rate,
                    };
                    k += 1;
                    Ok(p)
                }
            })
            .collect()
    }
}
