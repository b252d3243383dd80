//! [`SslExtractor`]: an encoder as a feature backend of `ser extract`, so that its hidden
//! states go into the cache through the same resumable, crash-safe writer as log-mel.
//!
//! Each clip is encoded alone (no padding: the base models' group norm would see it), in
//! windows of `window_s` with `overlap_s` overlap when it is longer; every 20 ms frame is
//! taken from the window in which it lies farthest from an edge. Windows of one clip run as
//! one batch (they have one length).

use std::path::Path;

use burn::tensor::{Device, Tensor, TensorData};
use ser_features::{ClipFeatures, Extractor, FeatureBackend, FeatureConfig, SslResolved, SslStore};

use crate::SslError;
use crate::config::EncoderConfig;
use crate::encoder::SslEncoder;
use crate::load::{load, weights_file};

/// Windows encoded per forward pass (bounds device memory for long clips).
const WINDOWS_PER_PASS: usize = 8;

/// Frames of one window, and the window's first frame in the clip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Window {
    start: usize,
    frames: usize,
}

/// Sample offsets of the windows covering `len` samples: whole when it fits in `window`,
/// else starts `step` apart (multiples of `hop`), the last one ending at or before `len`.
fn window_starts(len: usize, window: usize, step: usize, hop: usize) -> Vec<usize> {
    if len <= window {
        return vec![0];
    }
    let last = (len - window) / hop * hop;
    let mut starts: Vec<usize> = (0..).map(|i| i * step).take_while(|&s| s < last).collect();
    starts.push(last);
    starts
}

/// For each frame of the clip, the window it is taken from and its index there: the window
/// where it lies farthest from an edge (the earlier one on ties).
fn stitch(windows: &[Window]) -> Vec<(usize, usize)> {
    let end = windows
        .iter()
        .map(|w| w.start + w.frames)
        .max()
        .unwrap_or(0);
    (0..end)
        .map(|g| {
            windows
                .iter()
                .enumerate()
                .filter(|(_, w)| (w.start..w.start + w.frames).contains(&g))
                .map(|(i, w)| {
                    (
                        i,
                        g - w.start,
                        (g - w.start).min(w.start + w.frames - 1 - g),
                    )
                })
                .fold(None, |best: Option<(usize, usize, usize)>, c| match best {
                    Some(b) if b.2 >= c.2 => Some(b),
                    _ => Some(c),
                })
                .map(|(i, j, _)| (i, j))
                .expect("windows cover every frame up to the last one's end")
        })
        .collect()
}

/// Zero mean, unit variance, as transformers' `zero_mean_unit_var_norm` (variance + 1e-7).
fn normalize(x: &mut [f32]) {
    let n = x.len().max(1) as f64;
    let mean = x.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
    let scale = 1.0 / (var + 1e-7).sqrt();
    for v in x {
        *v = ((*v as f64 - mean) * scale) as f32;
    }
}

/// `preprocessor_config.json`'s `do_normalize` (false without the file), after checking its
/// sampling rate.
fn checkpoint_normalizes(dir: &Path) -> Result<bool, SslError> {
    let path = dir.join("preprocessor_config.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(false);
    };
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| SslError::Checkpoint(format!("{}: {e}", path.display())))?;
    if let Some(sr) = v.get("sampling_rate").and_then(|s| s.as_u64())
        && sr != 16_000
    {
        return Err(SslError::Checkpoint(format!(
            "{}: sampling_rate {sr}: ser runs encoders at 16 kHz",
            path.display()
        )));
    }
    Ok(v.get("do_normalize")
        .and_then(|b| b.as_bool())
        .unwrap_or(false))
}

/// An SSL encoder computing the `ssl` frames of a feature config's `[ssl]` section.
pub struct SslExtractor {
    reference: Extractor,
    encoder: SslEncoder,
    config: EncoderConfig,
    device: Device,
    states: Vec<usize>,
    normalize: bool,
    mean: bool,
    window: usize,
    step: usize,
}

impl SslExtractor {
    /// Loads `cfg.ssl.model` onto `device` and resolves `cfg.ssl` from it (states, width,
    /// normalization, weights hash), so that the cache's config says what was computed.
    pub fn new(mut cfg: FeatureConfig, device: Device) -> Result<Self, SslError> {
        let ssl = cfg
            .ssl
            .clone()
            .ok_or_else(|| SslError::Config("the feature config has no [ssl] section".into()))?;
        let dir = Path::new(&ssl.model);
        let loaded = load(dir, &device)?;
        let n = loaded.encoder.num_states();
        let states: Vec<usize> = if ssl.layers.is_empty() {
            (0..n).collect()
        } else {
            ssl.layers.clone()
        };
        if let Some(&bad) = states.iter().find(|&&s| s >= n) {
            return Err(SslError::Config(format!(
                "ssl.layers names state {bad}, but {} has {n} (0 = the first layer's input, {} = \
                 the last layer's output)",
                dir.display(),
                n - 1
            )));
        }
        let normalize = match ssl.normalize {
            Some(b) => b,
            None => checkpoint_normalizes(dir)?,
        };
        // Streamed: a large model's weights are not held in memory a second time.
        let file = weights_file(dir)?;
        let weights_blake3 = ser_data::hash_file(file.path())
            .map_err(|e| SslError::Checkpoint(format!("{}: {e}", file.path().display())))?;
        let resolved = SslResolved {
            model_type: loaded.config.model_type.clone(),
            states: states.len(),
            hidden: loaded.config.hidden_size,
            normalize,
            weights_blake3,
        };
        cfg.ssl.as_mut().expect("checked above").resolved = Some(resolved);
        let reference = Extractor::for_ssl(cfg).map_err(|e| SslError::Config(e.to_string()))?;
        let hop = loaded.config.hop();
        let sr = 16_000.0;
        let window = ((ssl.window_s * sr) as usize / hop).max(1) * hop;
        let step = (((ssl.window_s - ssl.overlap_s) * sr) as usize / hop).max(1) * hop;
        Ok(SslExtractor {
            reference,
            encoder: loaded.encoder,
            config: loaded.config,
            device,
            states,
            normalize,
            mean: ssl.store == SslStore::Mean,
            window,
            step,
        })
    }

    /// Values per frame: kept states times width.
    pub fn dim(&self) -> usize {
        self.states.len() * self.config.hidden_size
    }

    /// Samples per frame (320 at 16 kHz: 20 ms).
    pub fn hop(&self) -> usize {
        self.config.hop()
    }

    /// Whether one mean row per clip is stored instead of every frame.
    pub fn stores_mean(&self) -> bool {
        self.mean
    }

    /// The encoder's frames (state-major rows) of one clip: `[frames * dim]`.
    fn encode(&self, clip: &[f32]) -> (usize, Vec<f32>) {
        // Shorter than the receptive field (25 ms): zero-padded to one frame.
        let mut y = clip.to_vec();
        while self.config.frames(y.len()) == 0 {
            y.push(0.0);
        }
        let starts = window_starts(y.len(), self.window, self.step, self.config.hop());
        let len = y.len().min(self.window);
        let hop = self.config.hop();
        let windows: Vec<Window> = starts
            .iter()
            .map(|&s| Window {
                start: s / hop,
                frames: self.config.frames(len),
            })
            .collect();
        // Encoded states per window: [window][state] -> [frames * hidden].
        let mut out: Vec<Vec<Vec<f32>>> = Vec::with_capacity(starts.len());
        for group in starts.chunks(WINDOWS_PER_PASS) {
            let mut wave = Vec::with_capacity(group.len() * len);
            for &s in group {
                let mut w = y[s..s + len].to_vec();
                if self.normalize {
                    normalize(&mut w);
                }
                wave.extend(w);
            }
            let x = Tensor::<2>::from_data(TensorData::new(wave, [group.len(), len]), &self.device);
            let hidden = self.encoder.forward(x);
            let per_state: Vec<Vec<f32>> = self
                .states
                .iter()
                .map(|&s| {
                    hidden.layers[s]
                        .clone()
                        .into_data()
                        .convert::<f32>()
                        .try_into_vec::<f32>()
                        .expect("f32 hidden states")
                })
                .collect();
            let per_window = windows[0].frames * self.config.hidden_size;
            for b in 0..group.len() {
                out.push(
                    per_state
                        .iter()
                        .map(|v| v[b * per_window..(b + 1) * per_window].to_vec())
                        .collect(),
                );
            }
        }
        let d = self.config.hidden_size;
        let picks = stitch(&windows);
        let mut frames = Vec::with_capacity(picks.len() * self.dim());
        for &(w, j) in &picks {
            for state in &out[w] {
                frames.extend_from_slice(&state[j * d..(j + 1) * d]);
            }
        }
        (picks.len(), frames)
    }
}

impl FeatureBackend for SslExtractor {
    fn reference(&self) -> &Extractor {
        &self.reference
    }

    fn compute_batch(&self, clips: &[Vec<f32>]) -> Vec<ClipFeatures> {
        clips
            .iter()
            .map(|clip| {
                let (n, frames) = self.encode(clip);
                let (n_frames, frames) = if self.mean {
                    let dim = self.dim();
                    let mut mean = vec![0.0f64; dim];
                    for row in frames.chunks(dim) {
                        for (m, &v) in mean.iter_mut().zip(row) {
                            *m += v as f64;
                        }
                    }
                    (1, mean.into_iter().map(|m| (m / n as f64) as f32).collect())
                } else {
                    (n, frames)
                };
                ClipFeatures {
                    n_frames,
                    frames: vec![frames],
                    functionals: Vec::new(),
                }
            })
            .collect()
    }

    fn describe(&self) -> String {
        format!("{} encoder on {:?}", self.config.model_type, self.device)
    }
}

#[cfg(test)]
mod tests {
    use super::{Window, stitch, window_starts};

    #[test]
    fn windows_cover_the_clip_on_frame_boundaries() {
        assert_eq!(window_starts(1000, 3200, 2880, 320), vec![0]);
        // 10 s at 16 kHz in 4 s windows stepping 3.6 s: the last one ends at the clip's end.
        let s = window_starts(160_000, 64_000, 57_600, 320);
        assert_eq!(s, vec![0, 57_600, 96_000]);
        assert!(s.iter().all(|x| x % 320 == 0));
    }

    #[test]
    fn each_frame_comes_from_the_window_where_it_is_farthest_from_an_edge() {
        let w = [
            Window {
                start: 0,
                frames: 10,
            },
            Window {
                start: 8,
                frames: 10,
            },
        ];
        let picks = stitch(&w);
        assert_eq!(picks.len(), 18);
        assert_eq!(picks[7], (0, 7));
        // Frame 8: 1 from the end of window 0, 0 from the start of window 1.
        assert_eq!(picks[8], (0, 8));
        assert_eq!(picks[9], (1, 1)); // 0 from window 0's end, 1 from window 1's start
        assert_eq!(picks[17], (1, 9));
    }
}
