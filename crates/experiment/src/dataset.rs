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

use std::sync::{Arc, OnceLock};

use rayon::prelude::*;
use ser_cache::{Cache, RowReader};
use ser_eval::{AuditClip, Fingerprint, NormScope, Sketch};

use crate::error::TrainError;
use crate::store::{CacheFrames, CacheSpan, ClipStore, read_span, retain_clips};

/// Every clip the experiment uses: its labels and identity in RAM, its frames in RAM or read
/// on demand, its functionals read when first asked for.
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
    /// Per clip: where its functionals lie, read when a baseline first asks
    /// ([`Dataset::functionals`]).
    functionals: FunctionalRows,
    /// Names of the functionals.
    pub functional_names: Vec<String>,
    /// Per clip: sketch of the fingerprint of the cache's first frame array (the leakage
    /// audit's re-encoded-copy check; [`Dataset::fingerprint`] recomputes the rest).
    pub sketches: Vec<Sketch>,
    /// Per clip: the cache's first frame array, which fingerprints are computed from, and its
    /// width (none for datasets not read from a cache).
    fingerprint_frames: Option<(ClipStore, usize)>,
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
    /// A dataset of frames already in hand (scoring new audio, tests): no functionals, no
    /// fingerprints, one normalization group.
    pub fn from_frames(
        classes: Vec<String>,
        dim: usize,
        frames: ClipStore,
        labels: Vec<usize>,
        meta: Vec<ClipInfo>,
    ) -> Self {
        let n = labels.len();
        Dataset {
            classes,
            dim,
            frames,
            labels,
            meta,
            functionals: FunctionalRows::default(),
            functional_names: Vec::new(),
            sketches: Vec::new(),
            fingerprint_frames: None,
            feature_config: String::new(),
            group: vec![0; n],
            group_norms: Vec::new(),
        }
    }

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
    /// files named. Caches are opened one at a time, so their clip tables are never all in
    /// memory at once.
    pub fn load_caches(
        paths: &[PathBuf],
        frames: &[String],
        labels: &[String],
        memory: u64,
    ) -> Result<Self, TrainError> {
        if paths.is_empty() {
            return Err(TrainError::Config("data.cache names no cache".into()));
        }
        let open = |p: &PathBuf| Cache::open(p).map_err(|e| TrainError::Data(e.to_string()));
        // Rows per label and frame width of each cache, for the classes and the memory check.
        let mut rows_by_label: Vec<(BTreeMap<String, u64>, usize)> = Vec::new();
        for p in paths {
            let c = open(p)?;
            let dim: usize = picks(&c, frames)?.iter().map(|p| p.1).sum();
            let mut rows = BTreeMap::new();
            for m in &c.clips {
                *rows.entry(m.label.clone()).or_insert(0u64) += m.n_frames;
            }
            rows_by_label.push((rows, dim));
        }
        let classes: Vec<String> = if labels.is_empty() {
            let all: BTreeSet<&String> = rows_by_label.iter().flat_map(|r| r.0.keys()).collect();
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
        let bytes: u64 = (rows_by_label.iter())
            .map(|(rows, dim)| {
                let n: u64 = classes.iter().filter_map(|c| rows.get(c)).sum();
                n * *dim as u64 * 4
            })
            .sum();
        let in_ram = bytes <= memory;
        let mut ds = Self::read_cache(&open(&paths[0])?, frames, &classes, in_ram)?;
        let mut seen: HashMap<(String, String), usize> = (ds.meta.iter())
            .map(|m| ((m.corpus.clone(), m.path.clone()), 0))
            .collect();
        for (k, p) in paths.iter().enumerate().skip(1) {
            let more = Self::read_cache(&open(p)?, frames, &classes, in_ram)?;
            if more.feature_config != ds.feature_config {
                return Err(TrainError::Data(format!(
                    "{} and {} were extracted with different feature configs; extract every cache of data.cache with the same one",
                    paths[0].display(),
                    p.display()
                )));
            }
            for m in &more.meta {
                if let Some(other) = seen.insert((m.corpus.clone(), m.path.clone()), k) {
                    return Err(TrainError::Data(format!(
                        "clip {} of corpus {} is in both {} and {}; list each corpus in one cache",
                        m.path,
                        m.corpus,
                        paths[other].display(),
                        p.display()
                    )));
                }
            }
            ds.append(more);
        }
        Ok(ds)
    }

    /// Appends the clips of `more` (read from another cache of the same layout).
    fn append(&mut self, more: Dataset) {
        self.frames.extend(more.frames);
        self.labels.extend(more.labels);
        self.meta.extend(more.meta);
        self.functionals.extend(more.functionals);
        self.sketches.extend(more.sketches);
        match (&mut self.fingerprint_frames, more.fingerprint_frames) {
            (Some((a, _)), Some((b, _))) => a.extend(b),
            (a, _) => *a = None,
        }
        self.group.extend(more.group);
    }

    /// The clips of one cache with a label in `classes`: each clip's frames read once (in
    /// parallel) for the NaN check and the audit's sketch, and kept when `in_ram`.
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
        let read: Vec<(Sketch, Vec<f32>)> = (wanted.par_iter().zip(&spans))
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
                Ok((fp.sketch(), if in_ram { x } else { Vec::new() }))
            })
            .collect::<Result<_, _>>()?;
        let (sketches, xs): (Vec<Sketch>, Vec<Vec<f32>>) = read.into_iter().unzip();
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
                ClipStore::from_caches(vec![src], spans.clone())
            },
            labels: wanted.iter().map(|w| w.1).collect(),
            meta,
            functionals: FunctionalRows {
                caches: vec![path.to_path_buf()],
                rows: wanted.iter().map(|&(i, _)| (0, i as u32)).collect(),
                values: OnceLock::new(),
            },
            functional_names: cache.header.functional_names.clone(),
            sketches,
            fingerprint_frames: (fp_dim > 0)
                .then(|| (ClipStore::from_caches(vec![fp_src], spans), fp_dim)),
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
        self.frames.retain(&keep);
        retain_clips(&mut self.meta, &keep);
        self.functionals.values = OnceLock::new();
        retain_clips(&mut self.functionals.rows, &keep);
        if self.sketches.len() == keep.len() {
            retain_clips(&mut self.sketches, &keep);
        }
        if let Some((store, _)) = &mut self.fingerprint_frames {
            store.retain(&keep);
        }
        retain_clips(&mut self.group, &keep);
        self.labels = self.labels.iter().filter_map(|&l| map[l]).collect();
        self.classes = classes.to_vec();
    }

    /// Fits each corpus's or speaker's own statistics (nothing for [`NormScope::Train`]) into
    /// [`Dataset::group_norms`]: the loader applies them to frames after augmenting,
    /// [`Dataset::functionals`] to the functionals. Labels are not used, so a test group's
    /// statistics come from its unlabeled audio, as in the cross-corpus literature.
    pub fn normalize_groups(&mut self, scope: NormScope) {
        if scope == NormScope::Train {
            return;
        }
        let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, m) in self.meta.iter().enumerate() {
            groups.entry(group_key(scope, m)).or_default().push(i);
        }
        self.group_norms.clear();
        self.functionals.values = OnceLock::new();
        for (g, (key, idx)) in groups.into_iter().enumerate() {
            for &i in &idx {
                self.group[i] = g;
            }
            let norm = Normalizer::fit_raw(self, &idx);
            self.group_norms.push((key, norm));
        }
    }

    /// The statistics of clip `i`'s own group, when frames are standardized per group.
    pub fn group_norm(&self, i: usize) -> Option<&Normalizer> {
        self.group_norms.get(self.group[i]).map(|(_, n)| n)
    }

    /// Per clip, its functionals (empty when the caches have none), standardized per group
    /// when frames are. Read from the caches the first time they are asked for and kept:
    /// only the baselines use them, so a network's run never holds them.
    pub fn functionals(&self) -> Result<&[Vec<f32>], TrainError> {
        let values = (self.functionals.values)
            .get_or_init(|| self.read_functionals().map_err(|e| e.to_string()));
        values.as_deref().map_err(|e| TrainError::Data(e.clone()))
    }

    fn read_functionals(&self) -> Result<Vec<Vec<f32>>, TrainError> {
        let k = self.functional_names.len();
        let rows = &self.functionals.rows;
        let mut out = vec![Vec::new(); rows.len()];
        for (c, path) in self.functionals.caches.iter().enumerate().filter(|_| k > 0) {
            let table = (Cache::open(path).and_then(|cache| cache.functionals()))
                .map_err(|e| TrainError::Data(e.to_string()))?;
            for (o, &(_, r)) in out.iter_mut().zip(rows).filter(|(_, r)| r.0 as usize == c) {
                let r = r as usize;
                *o = table
                    .get(r * k..(r + 1) * k)
                    .map(<[f32]>::to_vec)
                    .ok_or_else(|| {
                        TrainError::Data(format!(
                            "{}: fewer functionals than clips; the cache changed during the run",
                            path.display()
                        ))
                    })?;
            }
        }
        for g in 0..self.group_norms.len() {
            let idx: Vec<usize> = (0..out.len()).filter(|&i| self.group[i] == g).collect();
            let (mean, std) = column_mean_std(&idx.iter().map(|&i| &out[i]).collect::<Vec<_>>());
            for &i in &idx {
                for (k, v) in out[i].iter_mut().enumerate() {
                    *v = (*v - mean[k] as f32) / (std[k] as f32).max(1e-5);
                }
            }
        }
        Ok(out)
    }

    /// Clip `i`'s full audit fingerprint, recomputed from its frames (none for datasets not
    /// read from a cache).
    pub fn fingerprint(&self, i: usize) -> Option<Fingerprint> {
        let (store, dim) = self.fingerprint_frames.as_ref()?;
        Some(Fingerprint::from_frames(&store.get(i), *dim))
    }

    /// What the leakage audit reads of each clip.
    pub fn audit_view(&self) -> Vec<AuditClip<'_>> {
        (self.meta.iter().enumerate())
            .map(|(i, m)| AuditClip {
                sentence: &m.sentence,
                path: &m.path,
                sketch: self.sketches.get(i).filter(|s| s.frames > 0),
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

/// Where a dataset's functionals lie: per clip, its cache (an index into `caches`) and row;
/// the values once read.
#[derive(Default)]
struct FunctionalRows {
    caches: Vec<PathBuf>,
    rows: Vec<(u32, u32)>,
    values: OnceLock<Result<Vec<Vec<f32>>, String>>,
}

impl FunctionalRows {
    fn extend(&mut self, more: FunctionalRows) {
        let base = self.caches.len() as u32;
        self.caches.extend(more.caches);
        (self.rows).extend(more.rows.into_iter().map(|(c, r)| (c + base, r)));
        self.values = OnceLock::new();
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
