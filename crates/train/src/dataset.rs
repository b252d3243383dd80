//! Clips, labels and speakers read from a ser feature cache into memory once per run.

use std::path::Path;

use ser_cache::Cache;

use crate::TrainError;

/// Every clip the experiment uses, with its frames and functionals in memory.
pub struct Dataset {
    /// Class names, index = class id.
    pub classes: Vec<String>,
    /// Width of a frame (sum of the chosen arrays' widths).
    pub dim: usize,
    /// Per clip: `[n_frames * dim]` frame-major.
    pub frames: Vec<Vec<f32>>,
    /// Per clip: its class id.
    pub labels: Vec<usize>,
    /// Per clip: corpus, speaker, content hash, path.
    pub meta: Vec<ClipInfo>,
    /// Per clip: functionals (empty when the cache has none).
    pub functionals: Vec<Vec<f32>>,
    /// Names of the functionals.
    pub functional_names: Vec<String>,
}

/// Identity of a clip, for splits and reports.
#[derive(Debug, Clone)]
pub struct ClipInfo {
    /// Corpus name.
    pub corpus: String,
    /// Speaker id within the corpus.
    pub speaker: String,
    /// BLAKE3 of the audio file.
    pub content_hash: String,
    /// Audio file.
    pub path: String,
}

impl Dataset {
    /// Reads the clips whose label is in `labels` (all labels when empty) with the frame
    /// arrays `frames` concatenated per frame (none: functionals only).
    pub fn load(path: &Path, frames: &[String], labels: &[String]) -> Result<Self, TrainError> {
        let cache = Cache::open(path).map_err(|e| TrainError::Data(e.to_string()))?;
        let layout = &cache.header.frame_layout;
        let mut widths = Vec::new();
        for f in frames {
            let Some((_, w)) = layout.iter().find(|(n, _)| n == f) else {
                let have: Vec<&str> = layout.iter().map(|(n, _)| n.as_str()).collect();
                return Err(TrainError::Data(format!(
                    "{}: no frame array '{f}' (it has {have:?}); change data.frames or extract with a feature config that stores it",
                    path.display()
                )));
            };
            widths.push(*w);
        }
        let classes: Vec<String> = if labels.is_empty() {
            let mut l: Vec<String> = cache.clips.iter().map(|c| c.label.clone()).collect();
            l.sort();
            l.dedup();
            l
        } else {
            labels.to_vec()
        };
        if classes.len() < 2 {
            return Err(TrainError::Data(format!(
                "{}: {} class(es) {classes:?}; a classifier needs at least 2",
                path.display(),
                classes.len()
            )));
        }
        let total_rows: usize = cache.clips.iter().map(|c| c.n_frames as usize).sum();
        let arrays: Vec<Vec<f32>> = frames
            .iter()
            .map(|f| cache.frame_rows(f, 0, total_rows))
            .collect::<Result<_, _>>()
            .map_err(|e| TrainError::Data(e.to_string()))?;
        let all_functionals = cache
            .functionals()
            .map_err(|e| TrainError::Data(e.to_string()))?;
        let n_func = cache.header.functional_names.len();
        let dim: usize = widths.iter().sum();
        let mut ds = Dataset {
            classes: classes.clone(),
            dim,
            frames: Vec::new(),
            labels: Vec::new(),
            meta: Vec::new(),
            functionals: Vec::new(),
            functional_names: cache.header.functional_names.clone(),
        };
        for (i, c) in cache.clips.iter().enumerate() {
            let Some(class) = classes.iter().position(|l| *l == c.label) else {
                continue;
            };
            let (off, n) = (c.frame_offset as usize, c.n_frames as usize);
            let mut x = Vec::with_capacity(n * dim);
            for t in 0..n {
                for (a, &w) in arrays.iter().zip(&widths) {
                    x.extend_from_slice(&a[(off + t) * w..(off + t + 1) * w]);
                }
            }
            if x.iter().any(|v| !v.is_finite()) {
                return Err(TrainError::Data(format!(
                    "{}: clip {} has NaN or infinite features; re-extract it",
                    path.display(),
                    c.path
                )));
            }
            ds.frames.push(x);
            ds.labels.push(class);
            ds.meta.push(ClipInfo {
                corpus: c.corpus.clone(),
                speaker: c.speaker.clone(),
                content_hash: c.content_hash.clone(),
                path: c.path.clone(),
            });
            ds.functionals.push(if n_func > 0 {
                all_functionals[i * n_func..(i + 1) * n_func].to_vec()
            } else {
                Vec::new()
            });
        }
        if ds.labels.is_empty() {
            return Err(TrainError::Data(format!(
                "{}: no clip has one of the labels {classes:?}",
                path.display()
            )));
        }
        Ok(ds)
    }

    /// Frames of clip `i`.
    pub fn n_frames(&self, i: usize) -> usize {
        self.frames[i].len() / self.dim.max(1)
    }

    /// The clips as the split sees them.
    pub fn split_view(&self) -> Vec<ser_eval::Clip<'_>> {
        self.meta
            .iter()
            .map(|m| ser_eval::Clip {
                corpus: &m.corpus,
                speaker: &m.speaker,
                content_hash: &m.content_hash,
            })
            .collect()
    }
}

/// Per-feature mean and standard deviation over the training clips' frames only.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Normalizer {
    /// Mean per feature.
    pub mean: Vec<f32>,
    /// Standard deviation per feature (at least 1e-5).
    pub std: Vec<f32>,
}

impl Normalizer {
    /// Statistics of the frames of `clips` (f64 sums).
    pub fn fit(ds: &Dataset, clips: &[usize]) -> Self {
        let d = ds.dim;
        let (mut s, mut s2, mut n) = (vec![0f64; d], vec![0f64; d], 0f64);
        for &i in clips.iter().filter(|_| d > 0) {
            for row in ds.frames[i].chunks(d) {
                for (k, &v) in row.iter().enumerate() {
                    s[k] += v as f64;
                    s2[k] += (v as f64) * (v as f64);
                }
                n += 1.0;
            }
        }
        let n = n.max(1.0);
        let mean: Vec<f64> = s.iter().map(|v| v / n).collect();
        Normalizer {
            mean: mean.iter().map(|&m| m as f32).collect(),
            std: s2
                .iter()
                .zip(&mean)
                .map(|(v, m)| ((v / n - m * m).max(0.0).sqrt() as f32).max(1e-5))
                .collect(),
        }
    }

    /// Standardizes frames in place.
    pub fn apply(&self, frames: &mut [f32]) {
        let d = self.mean.len();
        if d == 0 {
            return;
        }
        for row in frames.chunks_mut(d) {
            for (k, v) in row.iter_mut().enumerate() {
                *v = (*v - self.mean[k]) / self.std[k];
            }
        }
    }
}
