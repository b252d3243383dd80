//! Exported models as scorers: an `.onnx` file with its card, run by tract on the CPU, scores
//! audio as the run it came from did (the card's cleaning, and either the graph's own front
//! end or ser's features and centre segment in front of it).

use std::path::Path;

use ser_audio::{AudioConfig, Cleaner};
use ser_experiment::{FramePipeline, SegmentConfig, SegmentPolicy, TrainError, centre_segment};
use ser_export::{OnnxModel, RuntimeError};
use ser_features::FeatureConfig;

use crate::predict::Scorer;

/// Why an exported model cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum OnnxError {
    /// The file or its card (missing, edited, another file's).
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// The card's settings cannot be used.
    #[error("{0}")]
    Card(String),
    /// ser's feature pipeline for the card's config.
    #[error(transparent)]
    Features(#[from] TrainError),
}

/// An exported file scoring audio as the run it came from: the card's cleaning, and either
/// the graph's own front end (waveform input) or ser's features and centre segment (frame
/// input) in front of it.
pub struct OnnxScorer {
    /// The graph and its card.
    pub model: OnnxModel,
    clip: Cleaner,
    window: Cleaner,
    /// Frame-input graphs: ser's features of the card's config.
    frames: Option<(FramePipeline, SegmentConfig)>,
    min_samples: usize,
}

impl OnnxScorer {
    /// Loads `path` and its card (`path` with `.json`), refusing a card that does not
    /// describe the file.
    pub fn load(path: &Path) -> Result<Self, OnnxError> {
        let model = OnnxModel::load(path)?;
        let card = &model.card;
        let cfg = FeatureConfig::from_toml(&card.feature_config).map_err(|e| {
            OnnxError::Card(format!(
                "the card's feature config ({}): {e}",
                path.display()
            ))
        })?;
        if cfg.audio.sample_rate != card.sample_rate {
            return Err(OnnxError::Card(format!(
                "{}: the card says {} Hz, its feature config {} Hz; export again",
                path.display(),
                card.sample_rate,
                cfg.audio.sample_rate
            )));
        }
        let (clip, window, frames, min_samples) = if model.reads_waveform() {
            // The graph cleans (pre-emphasis, normalization) and computes the features
            // itself: the host decodes, mixes to mono, resamples and, for clips, trims.
            let bare = AudioConfig {
                sample_rate: cfg.audio.sample_rate,
                trim: cfg.audio.trim.clone(),
                min_duration_s: cfg.audio.min_duration_s,
                ..AudioConfig::default()
            };
            let min = card.input.min_samples.unwrap_or(1);
            (
                Cleaner::new(bare.clone()).map_err(OnnxError::Card)?,
                Cleaner::new(bare.untrimmed()).map_err(OnnxError::Card)?,
                None,
                min,
            )
        } else {
            // The card holds the policy's experiment-file name.
            let policy: SegmentPolicy = serde_json::from_value(card.segment_policy.clone().into())
                .map_err(|e| {
                    OnnxError::Card(format!(
                        "{}: segment_policy {:?}: {e}",
                        path.display(),
                        card.segment_policy
                    ))
                })?;
            let flex: burn::tensor::Device = burn::backend::FlexDevice.into();
            let pipeline = FramePipeline::new(&card.feature_config, &card.input.arrays, &flex)?;
            let clip = pipeline.reference().cleaner().clone();
            let window = Cleaner::new(cfg.audio.untrimmed()).map_err(OnnxError::Card)?;
            let seg = SegmentConfig {
                frames: card.segment_frames,
                policy,
            };
            (clip, window, Some((pipeline, seg)), 1)
        };
        Ok(Self {
            model,
            clip,
            window,
            frames,
            min_samples,
        })
    }
}

impl Scorer for OnnxScorer {
    fn classes(&self) -> &[String] {
        &self.model.card.labels
    }

    fn rate(&self) -> u32 {
        self.model.card.sample_rate
    }

    fn describe(&self) -> String {
        match &self.frames {
            Some(_) => "the CPU reference (ser's features), graph in tract".into(),
            None => "the graph (its own front end), in tract".into(),
        }
    }

    fn clip_cleaner(&self) -> &Cleaner {
        &self.clip
    }

    fn window_cleaner(&self) -> &Cleaner {
        &self.window
    }

    fn min_samples(&self) -> usize {
        self.min_samples
    }

    fn probabilities(&self, signals: &[Vec<f32>], batch: usize) -> Result<Vec<Vec<f64>>, String> {
        let batch = batch.max(1);
        // Items of one call share a length: group them, keeping the input order.
        let mut order: Vec<usize> = (0..signals.len()).collect();
        let inputs: Vec<(Vec<f32>, Vec<usize>)> = match &self.frames {
            None => signals
                .iter()
                .map(|y| {
                    if y.len() < self.min_samples {
                        return Err(format!(
                            "{} samples, shorter than the model's minimum of {}",
                            y.len(),
                            self.min_samples
                        ));
                    }
                    Ok((y.iter().map(|v| v * 32768.0).collect(), vec![y.len()]))
                })
                .collect::<Result<_, _>>()?,
            Some((pipeline, seg)) => pipeline
                .features(signals)
                .into_iter()
                .map(|f| {
                    let d = pipeline.dim();
                    let (mut x, real) = centre_segment(&f, d, *seg);
                    x.truncate(real * d);
                    (x, vec![real, d])
                })
                .collect(),
        };
        order.sort_by_key(|&i| inputs[i].1.clone());
        let mut out = vec![Vec::new(); signals.len()];
        for group in order.chunk_by(|&a, &b| inputs[a].1 == inputs[b].1) {
            for part in group.chunks(batch) {
                let mut shape = vec![part.len()];
                shape.extend(&inputs[part[0]].1);
                let data: Vec<f32> = part
                    .iter()
                    .flat_map(|&i| inputs[i].0.iter().copied())
                    .collect();
                let probs = self.model.run(data, &shape).map_err(|e| e.to_string())?;
                for (&i, p) in part.iter().zip(probs) {
                    out[i] = p.into_iter().map(f64::from).collect();
                }
            }
        }
        Ok(out)
    }
}
