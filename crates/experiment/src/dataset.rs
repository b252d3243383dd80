//! Clips, labels and speakers read from ser feature caches once per run; their frames held in
//! RAM, or read from the caches per batch when they exceed `data.memory_gb` (see `store`).
//!
//! Frames stay in the units the cache stores (log-mel in dB): augmentations that are defined
//! in those units (gain, noise at an SNR, speed) act on them in the loader, and only then are
//! they standardized, first with their group's own statistics (`split.normalize = "corpus"` /
//! `"speaker"`, kept in [`Dataset::group_norms`]), then with the training split's
//! ([`Normalizer`]). Functionals, which no augmentation touches, are standardized per group
//! in place.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use std::sync::Arc;

use rayon::prelude::*;
use ser_cache::{Cache, RowReader};
use ser_eval::{AuditClip, Fingerprint, NormScope};

use crate::error::TrainError;
use crate::store::{CacheFrames, CacheSpan, ClipStore, read_span};

/// Every clip the experiment uses, with its frames and functionals in memory.
pub struct Dataset {
    /// Class names, index = class id.
    pub classes: Vec<String>,
    /// Width of a frame (sum of the chosen arrays' widths).
    pub dim: usize,
    /// Per clip: `[n_frames * dim]` frame-major, in RAM or read from the caches on demand
    /// (`data.memory_gb`).
    pub frames: ClipStore,
    /// Per clip: its class id.
    pub labels: Vec<usize>,
    /// Per clip: corpus, speaker, content hash, path.
    pub meta: Vec<ClipInfo>,
    /// Per clip: functionals (empty when the cache has none).
    pub functionals: Vec<Vec<f32>>,
    /// Names of the functionals.
    pub functional_names: Vec<String>,
    /// Per clip: fingerprint of the cache's first frame array (the leakage audit's
    /// re-encoded-copy check).
    pub fingerprints: Vec<Fingerprint>,
    /// The feature config the cache was made with (TOML), for features computed afresh.
    pub feature_config: String,
    /// Per clip: its normalization group, an index into `group_norms` (unused when that is
    /// empty).
    pub group: Vec<usize>,
    /// Per group (corpus or speaker, by `split.normalize`): its key and the statistics of its
    /// raw frames; empty for `normalize = "train"`.
    pub group_norms: Vec<(String, Normalizer)>,
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
    /// Sentence identity: its text, else `corpus/text id`, else empty.
    pub sentence: String,
}

impl Dataset {
    /// Reads the clips whose label is in `labels` (all labels when empty) with the frame
    /// arrays `frames` concatenated per frame (none: functionals only), frames in RAM.
    pub fn load(path: &Path, frames: &[String], labels: &[String]) -> Result<Self, TrainError> {
        Self::load_caches(&[path.to_path_buf()], frames, labels, u64::MAX)
    }

    /// [`Dataset::load`] over several caches made with the same feature config (one per
    /// corpus, say), their clips in the order of `paths`; the classes, when `labels` is empty,
    /// are every label of every cache. The frames stay in RAM when they take at most
    /// `memory` bytes, else they are read from the caches per batch (`data.memory_gb`). A
    /// clip in two caches, or caches of different feature configs, are refused with both
    /// files named.
    pub fn load_caches(
        paths: &[PathBuf],
        frames: &[String],
        labels: &[String],
        memory: u64,
    ) -> Result<Self, TrainError> {
        if paths.is_empty() {
            return Err(TrainError::Config("data.cache names no cache".into()));
        }
        let caches = paths
            .iter()
            .map(|p| Cache::open(p).map_err(|e| TrainError::Data(e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        let classes: Vec<String> = if labels.is_empty() {
            let all: BTreeSet<&String> = caches
                .iter()
                .flat_map(|c| c.clips.iter().map(|m| &m.label))
                .collect();
            all.into_iter().cloned().collect()
        } else {
            labels.to_vec()
        };
        if classes.len() < 2 {
            return Err(TrainError::Data(format!(
                "{}: {} class(es) {classes:?}; a classifier needs at least 2",
                paths[0].display(),
                classes.len()
            )));
        }
        let mut bytes = 0u64;
        for c in &caches {
            let dim: usize = picks(c, frames)?.iter().map(|p| p.1).sum();
            let rows: u64 = (c.clips.iter())
                .filter(|m| classes.contains(&m.label))
                .map(|m| m.n_frames)
                .sum();
            bytes += rows * dim as u64 * 4;
        }
        let in_ram = bytes <= memory;
        let mut ds = Self::read_cache(&caches[0], frames, &classes, in_ram)?;
        let mut seen: HashMap<(String, String), PathBuf> = ds
            .meta
            .iter()
            .map(|m| ((m.corpus.clone(), m.path.clone()), paths[0].clone()))
            .collect();
        for (cache, p) in caches.iter().zip(paths).skip(1) {
            let more = Self::read_cache(cache, frames, &classes, in_ram)?;
            if more.feature_config != ds.feature_config {
                return Err(TrainError::Data(format!(
                    "{} and {} were extracted with different feature configs; extract every cache of data.cache with the same one",
                    paths[0].display(),
                    p.display()
                )));
            }
            for m in &more.meta {
                if let Some(other) = seen.insert((m.corpus.clone(), m.path.clone()), p.clone()) {
                    return Err(TrainError::Data(format!(
                        "clip {} of corpus {} is in both {} and {}; list each corpus in one cache",
                        m.path,
                        m.corpus,
                        other.display(),
                        p.display()
                    )));
                }
            }
            ds.frames.extend(more.frames);
            ds.labels.extend(more.labels);
            ds.meta.extend(more.meta);
            ds.functionals.extend(more.functionals);
            ds.fingerprints.extend(more.fingerprints);
            ds.group.extend(more.group);
        }
        Ok(ds)
    }

    /// The clips of one cache with a label in `classes`: each clip's frames read once (in
    /// parallel) for the NaN check and the audit fingerprint, and kept when `in_ram`.
    fn read_cache(
        cache: &Cache,
        frames: &[String],
        classes: &[String],
        in_ram: bool,
    ) -> Result<Self, TrainError> {
        let path = cache.path();
        let data_err = |e: ser_cache::CacheError| TrainError::Data(e.to_string());
        let src = CacheFrames {
            reader: Arc::new(RowReader::new(cache).map_err(data_err)?),
            arrays: picks(cache, frames)?,
        };
        let dim: usize = src.arrays.iter().map(|a| a.1).sum();
        // The fingerprint reads the first array the cache stores (log-mel in every shipped
        // feature config), whatever the experiment trains on.
        let fp_dim = cache.header.frame_layout.first().map_or(0, |l| l.1);
        let fp_src = CacheFrames {
            reader: src.reader.clone(),
            arrays: vec![(0, fp_dim)],
        };
        let fp_is_x = src.arrays == [(0, fp_dim)];
        let wanted: Vec<(usize, usize)> = (cache.clips.iter().enumerate())
            .filter_map(|(i, c)| Some((i, classes.iter().position(|l| *l == c.label)?)))
            .collect();
        if wanted.is_empty() {
            return Err(TrainError::Data(format!(
                "{}: no clip has one of the labels {classes:?}",
                path.display()
            )));
        }
        let spans: Vec<CacheSpan> = (wanted.iter())
            .map(|&(i, _)| CacheSpan {
                reader: 0,
                row: cache.clips[i].frame_offset,
                rows: cache.clips[i].n_frames as u32,
            })
            .collect();
        let read: Vec<(Fingerprint, Vec<f32>)> = (wanted.par_iter().zip(&spans))
            .map(|(&(i, _), &span)| {
                let x = read_span(&src, span, dim).map_err(data_err)?;
                if x.iter().any(|v| !v.is_finite()) {
                    return Err(TrainError::Data(format!(
                        "{}: clip {} has NaN or infinite features; re-extract it",
                        path.display(),
                        cache.clips[i].path
                    )));
                }
                let fp = if fp_is_x {
                    Fingerprint::from_frames(&x, fp_dim)
                } else if fp_dim > 0 {
                    let rows = read_span(&fp_src, span, fp_dim).map_err(data_err)?;
                    Fingerprint::from_frames(&rows, fp_dim)
                } else {
                    Fingerprint::from_frames(&[], 0)
                };
                Ok((fp, if in_ram { x } else { Vec::new() }))
            })
            .collect::<Result<_, _>>()?;
        let (fingerprints, xs): (Vec<Fingerprint>, Vec<Vec<f32>>) = read.into_iter().unzip();
        let all_functionals = cache.functionals().map_err(data_err)?;
        let n_func = cache.header.functional_names.len();
        let meta = (wanted.iter())
            .map(|&(i, _)| {
                let c = &cache.clips[i];
                ClipInfo {
                    corpus: c.corpus.clone(),
                    speaker: c.speaker.clone(),
                    content_hash: c.content_hash.clone(),
                    path: c.path.clone(),
                    sentence: if !c.text.is_empty() {
                        c.text.to_lowercase()
                    } else if !c.text_id.is_empty() {
                        format!("{}/{}", c.corpus, c.text_id)
                    } else {
                        String::new()
                    },
                }
            })
            .collect();
        Ok(Dataset {
            classes: classes.to_vec(),
            dim,
            frames: if in_ram {
                ClipStore::in_ram(xs)
            } else {
                ClipStore::from_caches(vec![src], spans)
            },
            labels: wanted.iter().map(|w| w.1).collect(),
            meta,
            functionals: (wanted.iter())
                .map(|&(i, _)| all_functionals[i * n_func..(i + 1) * n_func].to_vec())
                .collect(),
            functional_names: cache.header.functional_names.clone(),
            fingerprints,
            feature_config: cache.header.config_toml.clone(),
            group: vec![0; wanted.len()],
            group_norms: Vec::new(),
        })
    }

    /// Frames of clip `i`.
    pub fn n_frames(&self, i: usize) -> usize {
        self.frames.values(i) / self.dim.max(1)
    }

    /// Corpus names, sorted.
    pub fn corpora(&self) -> Vec<String> {
        let s: BTreeSet<&str> = self.meta.iter().map(|m| m.corpus.as_str()).collect();
        s.into_iter().map(String::from).collect()
    }

    /// Keeps the clips of `classes` only, renumbered in that order (cross-corpus studies use
    /// the labels every corpus has).
    pub fn restrict(&mut self, classes: &[String]) {
        let map: Vec<Option<usize>> = self
            .classes
            .iter()
            .map(|c| classes.iter().position(|k| k == c))
            .collect();
        let keep: Vec<bool> = self.labels.iter().map(|&l| map[l].is_some()).collect();
        fn retain<T>(v: &mut Vec<T>, keep: &[bool]) {
            let mut k = keep.iter();
            v.retain(|_| *k.next().expect("one per clip"));
        }
        self.frames.retain(&keep);
        retain(&mut self.meta, &keep);
        retain(&mut self.functionals, &keep);
        retain(&mut self.fingerprints, &keep);
        retain(&mut self.group, &keep);
        self.labels = self.labels.iter().filter_map(|&l| map[l]).collect();
        self.classes = classes.to_vec();
    }

    /// Fits each corpus's or speaker's own statistics (nothing for [`NormScope::Train`]):
    /// the frames' into [`Dataset::group_norms`] (the loader applies them after augmenting),
    /// the functionals' applied in place. Labels are not used, so a test group's statistics
    /// come from its unlabeled audio, as in the cross-corpus literature.
    pub fn normalize_groups(&mut self, scope: NormScope) {
        if scope == NormScope::Train {
            return;
        }
        let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, m) in self.meta.iter().enumerate() {
            groups.entry(group_key(scope, m)).or_default().push(i);
        }
        self.group_norms.clear();
        for (g, (key, idx)) in groups.into_iter().enumerate() {
            for &i in &idx {
                self.group[i] = g;
            }
            let norm = Normalizer::fit_raw(self, &idx);
            self.group_norms.push((key, norm));
            let rows: Vec<&[f32]> = idx
                .iter()
                .map(|&i| self.functionals[i].as_slice())
                .collect();
            let (mean, std) = column_mean_std(&rows);
            for &i in &idx {
                for (k, v) in self.functionals[i].iter_mut().enumerate() {
                    *v = (*v - mean[k] as f32) / (std[k] as f32).max(1e-5);
                }
            }
        }
    }

    /// The statistics of clip `i`'s own group, when frames are standardized per group.
    pub fn group_norm(&self, i: usize) -> Option<&Normalizer> {
        self.group_norms.get(self.group[i]).map(|(_, n)| n)
    }

    /// What the leakage audit reads of each clip.
    pub fn audit_view(&self) -> Vec<AuditClip<'_>> {
        self.meta
            .iter()
            .zip(&self.fingerprints)
            .map(|(m, f)| AuditClip {
                sentence: &m.sentence,
                path: &m.path,
                fingerprint: (f.frames > 0).then_some(f),
            })
            .collect()
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

/// Layout index and width of each of `frames` in `cache`, or an error naming what it has.
fn picks(cache: &Cache, frames: &[String]) -> Result<Vec<(usize, usize)>, TrainError> {
    let layout = &cache.header.frame_layout;
    frames
        .iter()
        .map(|f| {
            layout
                .iter()
                .position(|(n, _)| n == f)
                .map(|k| (k, layout[k].1))
                .ok_or_else(|| {
                    let have: Vec<&str> = layout.iter().map(|(n, _)| n.as_str()).collect();
                    TrainError::Data(format!(
                        "{}: no frame array '{f}' (it has {have:?}); change data.frames or extract with a feature config that stores it",
                        cache.path().display()
                    ))
                })
        })
        .collect()
}

/// The group a clip is standardized with under `scope`: its corpus, or `corpus/speaker`.
pub fn group_key(scope: NormScope, m: &ClipInfo) -> String {
    match scope {
        NormScope::Train => String::new(),
        NormScope::Corpus => m.corpus.clone(),
        NormScope::Speaker => format!("{}/{}", m.corpus, m.speaker),
    }
}

/// Mean and (population) standard deviation of each column of `rows`, in f64: the
/// per-group standardization here and the baselines' standardizer.
pub fn column_mean_std<R: AsRef<[f32]>>(rows: &[R]) -> (Vec<f64>, Vec<f64>) {
    let d = rows.first().map_or(0, |r| r.as_ref().len());
    let n = rows.len().max(1) as f64;
    let mut mean = vec![0f64; d];
    for r in rows {
        for (m, &v) in mean.iter_mut().zip(r.as_ref()) {
            *m += v as f64 / n;
        }
    }
    let mut var = vec![0f64; d];
    for r in rows {
        for ((s, &v), m) in var.iter_mut().zip(r.as_ref()).zip(&mean) {
            *s += (v as f64 - m).powi(2) / n;
        }
    }
    (mean, var.iter().map(|v| v.sqrt()).collect())
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
    /// Statistics of the frames of `clips` as the model sees them before this normalizer:
    /// standardized with their group's statistics where the dataset has them (f64 sums).
    pub fn fit(ds: &Dataset, clips: &[usize]) -> Self {
        Self::fit_frames(ds, clips, true)
    }

    /// Statistics of the raw (cached, unstandardized) frames of `clips`.
    pub fn fit_raw(ds: &Dataset, clips: &[usize]) -> Self {
        Self::fit_frames(ds, clips, false)
    }

    fn fit_frames(ds: &Dataset, clips: &[usize], grouped: bool) -> Self {
        let d = ds.dim;
        let (mut s, mut s2, mut n) = (vec![0f64; d], vec![0f64; d], 0f64);
        let mut row_buf = vec![0f32; d];
        for &i in clips.iter().filter(|_| d > 0) {
            let group = ds.group_norm(i).filter(|_| grouped);
            for row in ds.frames.get(i).chunks(d) {
                row_buf.copy_from_slice(row);
                if let Some(g) = group {
                    g.apply(&mut row_buf);
                }
                for (k, &v) in row_buf.iter().enumerate() {
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

    /// The one standardization equal to this one followed by `next` (for exporters and
    /// prediction, which take a single mean and std per feature).
    pub fn then(&self, next: &Normalizer) -> Normalizer {
        let mean = (self.mean.iter().zip(&self.std).zip(&next.mean))
            .map(|((m, s), nm)| m + nm * s)
            .collect();
        let std = self
            .std
            .iter()
            .zip(&next.std)
            .map(|(s, ns)| s * ns)
            .collect();
        Normalizer { mean, std }
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
