//! Everything a model needs before its first epoch: the dataset (read once per run and
//! shared by the models of a study), its split for one part of the data, the leakage audit,
//! the training statistics, and the files that let the run folder score new audio alone.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use burn::tensor::Device;
use ser_eval::{
    Audit, Folds, NormScope, Protocol, Split, corpus_split, fold_split, random_split, speaker_split,
};
use ser_experiment::folder::{GROUP_NORMS, io, write_atomic, write_json};
use ser_experiment::{BatchSource, Dataset, Experiment, Normalizer, TrainError, Waveforms};

use crate::summary::Observer;

/// Everything prepared from the experiment and the data, before any epoch.
pub struct Prepared {
    /// The run's clips.
    pub ds: Arc<Dataset>,
    /// Which clips train, validate and test.
    pub split: Split,
    /// The leakage audit of that split.
    pub audit: Audit,
    /// Batches of the clips, standardized with the training statistics.
    pub src: Arc<BatchSource>,
}

/// Which part of the data one model sees.
pub enum Part<'a> {
    /// The holdout (or random) split of all clips.
    Whole,
    /// Fold `i` of a cross-validation.
    Fold(&'a Folds, usize),
    /// Trained on the `train` corpora, tested on the `test` ones (and, with `own_test`, on
    /// held-out speakers of its own corpora).
    Corpora {
        /// Corpora the model trains on.
        train: &'a [String],
        /// Corpora it is tested on.
        test: &'a [String],
        /// Also test on held-out speakers of its training corpora.
        own_test: bool,
    },
}

/// The dataset the last [`load_dataset`] call returned, keyed by what it was made from:
/// sweep points (and studies) of one process that read the same data share one copy and one
/// read of the caches. One entry only, so a process never holds more than one dataset for
/// later use.
static LAST: Mutex<Option<(String, Arc<Dataset>)>> = Mutex::new(None);

/// How many datasets this process has read from caches (the others were shared).
static READS: AtomicUsize = AtomicUsize::new(0);

/// How many times this process has read a dataset from its caches, rather than sharing the
/// one it had (see [`load_dataset`]).
pub fn dataset_reads() -> usize {
    READS.load(Ordering::Relaxed)
}

/// What a dataset is made from: the data section, the protocol's kind and the normalization
/// scope, and each cache file's size and modification time (a cache written since is read
/// again).
fn dataset_key(exp: &Experiment) -> Result<String, TrainError> {
    let mut stamps = Vec::new();
    for p in exp.data.cache.paths() {
        let m = fs::metadata(p).map_err(io(p))?;
        stamps.push(format!(
            "{}:{}:{:?}",
            p.display(),
            m.len(),
            m.modified().ok()
        ));
    }
    Ok(format!(
        "{:?}|{}|{:?}|{}",
        exp.data,
        exp.split.protocol.is_corpus_level(),
        exp.split.normalize,
        stamps.join(",")
    ))
}

/// The experiment's clips, read once per run: restricted to the labels every corpus shares
/// for corpus-level protocols, and standardized per group when `split.normalize` asks. A
/// process that asks again for the same data (the next point of a sweep) gets the same
/// copy without reading the caches again.
pub fn load_dataset(exp: &Experiment) -> Result<Arc<Dataset>, TrainError> {
    let key = dataset_key(exp)?;
    let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((k, ds)) = last.as_ref()
        && *k == key
    {
        return Ok(ds.clone());
    }
    // The old one goes before the new one is read: at most one extra copy in memory.
    *last = None;
    let ds = read_dataset(exp)?;
    READS.fetch_add(1, Ordering::Relaxed);
    *last = Some((key, ds.clone()));
    Ok(ds)
}

/// [`load_dataset`] without sharing.
fn read_dataset(exp: &Experiment) -> Result<Arc<Dataset>, TrainError> {
    let mut ds = Dataset::load_caches(
        exp.data.cache.paths(),
        &exp.data.frames,
        &exp.data.labels,
        exp.data.memory_bytes(),
    )?;
    if exp.split.protocol.is_corpus_level() {
        let corpora = ds.corpora();
        if corpora.len() < 2 {
            return Err(TrainError::Data(format!(
                "{}: protocol {:?} needs at least two corpora; the cache has {corpora:?}",
                exp.data.cache, exp.split.protocol
            )));
        }
        let shared: Vec<String> = ds
            .classes
            .iter()
            .enumerate()
            .filter(|(c, _)| {
                corpora.iter().all(|k| {
                    ds.labels
                        .iter()
                        .zip(&ds.meta)
                        .any(|(l, m)| l == c && m.corpus == *k)
                })
            })
            .map(|(_, name)| name.clone())
            .collect();
        if shared.len() < 2 {
            return Err(TrainError::Data(format!(
                "the corpora {corpora:?} share {shared:?}; a cross-corpus study needs two labels they all have (see datasets/ for the label maps)"
            )));
        }
        ds.restrict(&shared);
    }
    ds.normalize_groups(exp.split.normalize);
    Ok(Arc::new(ds))
}

/// Splits the data for `part`, audits the split and writes the run folder's data files
/// (`split.json`, `normalizer.json`, `features.toml`), or checks them on `resume`.
pub(crate) fn prepare(
    exp: &Experiment,
    dir: &Path,
    resume: bool,
    device: &Device,
    obs: &mut dyn Observer,
    ds: Arc<Dataset>,
    part: &Part<'_>,
) -> Result<Prepared, TrainError> {
    let view = ds.split_view();
    let mut split = match part {
        Part::Whole if exp.split.protocol == Protocol::Random => random_split(&view, &exp.split),
        Part::Whole => speaker_split(&view, &exp.split),
        Part::Fold(folds, i) => {
            fold_split(&view, folds, *i, exp.split.val_speakers, exp.split.seed)
        }
        Part::Corpora {
            train,
            test,
            own_test,
        } => corpus_split(&view, train, test, *own_test, &exp.split),
    }
    .map_err(|e| TrainError::Data(e.to_string()))?;
    if split.train.is_empty() || split.val.is_empty() || split.test.is_empty() {
        return Err(TrainError::Data(
            "a split part is empty; add speakers or change split fractions".into(),
        ));
    }
    if exp.split.normalize != NormScope::Train {
        split.protocol = format!("{}; {}", split.protocol, exp.split.normalize.describe());
    }
    let audit = ser_eval::audit(&view, &ds.audit_view(), &split, &|i| ds.fingerprint(i));
    write_json(&dir.join("audit.json"), &audit)?;
    audit.verdict().map_err(|e| {
        TrainError::Data(format!(
            "{e} (details in {})",
            dir.join("audit.json").display()
        ))
    })?;
    drop(view);
    if !ds.frames.is_in_ram() {
        obs.note(&format!(
            "frames: {:.1} GB, over data.memory_gb = {:.1}: read from the cache per batch",
            ds.frames.bytes() as f64 / 1e9,
            exp.data.memory_bytes() as f64 / 1e9
        ));
    }
    let norm = Normalizer::fit(&ds, &split.train);
    let split_path = dir.join("split.json");
    let paths =
        |idx: &[usize]| -> Vec<&str> { idx.iter().map(|&i| ds.meta[i].path.as_str()).collect() };
    let split_json = serde_json::json!({
        "protocol": split.protocol,
        "test_speakers": split.test_speakers,
        "val_speakers": split.val_speakers,
        "train": paths(&split.train),
        "val": paths(&split.val),
        "test": paths(&split.test),
    });
    let text = serde_json::to_string_pretty(&split_json).expect("json");
    if resume {
        let old = fs::read_to_string(&split_path).map_err(io(&split_path))?;
        if old != text {
            return Err(TrainError::Data(format!(
                "{}: the cache or split changed since the run started; start a new run instead of resuming",
                split_path.display()
            )));
        }
    } else {
        write_atomic(&split_path, text.as_bytes())?;
        write_atomic(
            &dir.join("normalizer.json"),
            serde_json::to_string(&norm).expect("json").as_bytes(),
        )?;
        if !ds.group_norms.is_empty() {
            // Each group's own statistics, for scoring new audio of a known corpus or
            // speaker (`ser predict --norm-group`).
            let groups: BTreeMap<&str, &Normalizer> = ds
                .group_norms
                .iter()
                .map(|(k, n)| (k.as_str(), n))
                .collect();
            write_json(
                &dir.join(GROUP_NORMS),
                &serde_json::json!({ "scope": exp.split.normalize, "groups": groups }),
            )?;
        }
        // The run folder alone then says how to compute its model's input (`ser predict`).
        write_atomic(&dir.join("features.toml"), ds.feature_config.as_bytes())?;
    }
    let wave = if exp.data.on_the_fly && exp.model.kind.net().is_some() {
        let w = Waveforms::load(
            exp.data.cache.first(),
            &ds,
            &split.train,
            &exp.data.frames,
            device,
            exp.data
                .memory_bytes()
                .saturating_sub(ds.frames.ram_bytes()),
        )?;
        obs.note(&format!(
            "on-the-fly features: {} training clips' audio {}, features on {}",
            split.train.len(),
            match w.is_in_ram() {
                true => "in memory",
                false => "in a spill file (over data.memory_gb)",
            },
            w.describe
        ));
        Some(Arc::new(w))
    } else {
        None
    };
    let src = Arc::new(BatchSource {
        ds: ds.clone(),
        norm,
        segment: exp.segment,
        augment: exp.augment.clone(),
        wave,
    });
    Ok(Prepared {
        ds,
        split,
        audit,
        src,
    })
}
