//! The MODEL argument of `ser predict` and `ser stream`: a run folder (the network, on the
//! chosen device) or an exported `.onnx` file with its card (run by tract on the CPU).

use std::path::Path;

use anyhow::Context;
use ser_audio::{AudioConfig, Cleaner};
use ser_export::OnnxModel;
use ser_features::FeatureConfig;
use ser_train::{FramePipeline, Predictor, Scorer, SegmentConfig, SegmentPolicy, centre_segment};

use crate::commands::train::device;

/// Loads MODEL: `(scorer, where it runs)`; `norm_group` as `Predictor::load` (exported files
/// carry their statistics and refuse it).
pub fn load(
    model: &Path,
    device_name: &str,
    norm_group: Option<&str>,
) -> anyhow::Result<(Box<dyn Scorer>, String)> {
    if model.extension().is_some_and(|e| e == "onnx") {
        if let Some(g) = norm_group {
            anyhow::bail!(
                "--norm-group {g}: {} carries the statistics it was exported with (its card's `normalization`); leave --norm-group out, or export again with another --norm-group",
                model.display()
            );
        }
        let s = OnnxScorer::load(model)
            .with_context(|| format!("loading the exported model {}", model.display()))?;
        let on = format!(
            "tract (CPU; --device applies to run folders), {} input",
            s.model.card.input.name
        );
        return Ok((Box::new(s), on));
    }
    let (device, on) = device(device_name)?;
    let p = Predictor::load(model, &device, norm_group)
        .with_context(|| format!("loading the model of {}", model.display()))?;
    Ok((Box::new(p), on))
}

/// An exported file scoring audio as the run it came from: the card's cleaning, and either
/// the graph's own front end (waveform input) or ser's features and centre segment (frame
/// input) in front of it.
pub struct OnnxScorer {
    model: OnnxModel,
    clip: Cleaner,
    window: Cleaner,
    /// Frame-input graphs: ser's features of the card's config.
    frames: Option<(FramePipeline, SegmentConfig)>,
    min_samples: usize,
}

impl OnnxScorer {
    fn load(path: &Path) -> anyhow::Result<Self> {
        let model = OnnxModel::load(path)?;
        let card = &model.card;
        let cfg = FeatureConfig::from_toml(&card.feature_config)
            .with_context(|| format!("the card's feature config ({})", path.display()))?;
        if cfg.audio.sample_rate != card.sample_rate {
            anyhow::bail!(
                "{}: the card says {} Hz, its feature config {} Hz; export again",
                path.display(),
                card.sample_rate,
                cfg.audio.sample_rate
            );
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
                Cleaner::new(bare.clone()).map_err(anyhow::Error::msg)?,
                Cleaner::new(bare.untrimmed()).map_err(anyhow::Error::msg)?,
                None,
                min,
            )
        } else {
            // The card holds the policy's experiment-file name.
            let policy: SegmentPolicy = serde_json::from_value(card.segment_policy.clone().into())
                .with_context(|| {
                    format!(
                        "{}: segment_policy {:?}",
                        path.display(),
                        card.segment_policy
                    )
                })?;
            let flex: burn::tensor::Device = burn::backend::FlexDevice.into();
            let pipeline = FramePipeline::new(&card.feature_config, &card.input.arrays, &flex)?;
            let clip = pipeline.reference().cleaner().clone();
            let window = Cleaner::new(cfg.audio.untrimmed()).map_err(anyhow::Error::msg)?;
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
