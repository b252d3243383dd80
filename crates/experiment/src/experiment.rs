//! The experiment file: one TOML that says which data, which split, which model and how to
//! train it. Every key has a default; [`Experiment::validate`] checks all of them in one place,
//! and the run directory keeps the fully resolved file beside the results.

use std::path::{Path, PathBuf};

use ser_eval::SplitConfig;
use ser_models::{CnnConfig, HeadConfig, LstmConfig, NetConfig, NetKind, SslHeadConfig};
use serde::{Deserialize, Serialize};

use crate::error::TrainError;

/// A whole experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// Run name: the run directory is `<runs>/<name>`.
    pub name: String,
    /// Where the features come from.
    pub data: DataConfig,
    /// How clips are divided between training, validation and test.
    #[serde(default)]
    pub split: SplitConfig,
    /// How variable-length clips become fixed-length training segments.
    #[serde(default)]
    pub segment: SegmentConfig,
    /// The model.
    pub model: ModelConfig,
    /// Optimisation.
    #[serde(default)]
    pub train: TrainConfig,
    /// Data augmentation (training batches only).
    #[serde(default)]
    pub augment: AugmentConfig,
}

/// The feature caches an experiment reads: one file (`cache = "a.h5"`), or several made with
/// the same feature config (`cache = ["a.h5", "b.h5"]`, e.g. one per corpus, so that adding a
/// corpus extracts only its own cache and never rewrites the others).
#[derive(Debug, Clone, PartialEq)]
pub struct CachePaths(pub Vec<PathBuf>);

impl CachePaths {
    /// The caches, in the order the experiment lists them (their clips are read in it).
    pub fn paths(&self) -> &[PathBuf] {
        &self.0
    }

    /// The first cache: the feature config every cache shares is read from it.
    pub fn first(&self) -> &Path {
        &self.0[0]
    }
}

/// `a.h5`, or `a.h5 + b.h5`.
impl std::fmt::Display for CachePaths {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = self.0.iter().map(|p| p.display().to_string()).collect();
        f.write_str(&names.join(" + "))
    }
}

/// One cache is written as a string (as before several were allowed), several as a list.
impl Serialize for CachePaths {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.0[..] {
            [one] => one.serialize(s),
            many => many.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for CachePaths {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(PathBuf),
            Many(Vec<PathBuf>),
        }
        match OneOrMany::deserialize(d)? {
            OneOrMany::One(p) => Ok(CachePaths(vec![p])),
            OneOrMany::Many(v) if !v.is_empty() => Ok(CachePaths(v)),
            OneOrMany::Many(_) => Err(serde::de::Error::custom(
                "data.cache is an empty list: name at least one cache",
            )),
        }
    }
}

/// Features: a ser cache, and how to build it when it is missing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// The HDF5 feature cache (`ser extract --out`), or several with the same feature config
    /// (see [`CachePaths`]); with several, `corpora` lists one corpus per cache, the one it
    /// is extracted from when missing.
    pub cache: CachePaths,
    /// Frame arrays the networks read, concatenated per frame (e.g. `["logmel"]`, or
    /// `["mfcc", "mfcc_delta"]`).
    pub frames: Vec<String>,
    /// Labels to keep, in class order (empty: every label in the cache, sorted).
    pub labels: Vec<String>,
    /// Corpora to extract when the cache is missing (`ser extract --corpus` syntax).
    pub corpora: Vec<String>,
    /// Feature config to extract with when the cache is missing.
    pub features: Option<PathBuf>,
    /// Write the built-in synthetic corpora into the parent folder of `corpora` when they are
    /// missing (for the ready-made experiments; a fresh clone needs nothing else).
    pub synthetic: bool,
    /// Which synthetic corpora `synthetic` writes: `standard` (default, `ser synth`) or
    /// `hard` (`ser synth --hard`: closer to real corpora).
    pub synth: SynthPreset,
    /// Compute the training batches' features from the audio, after augmenting the audio
    /// (`[augment]` gain, noise, speed then act on the waveform), with the cache's feature
    /// config: on the CubeCL kernels on a GPU device, the CPU reference on flex (default
    /// false: read the cache). Evaluation always reads the cache. The audio files must be
    /// the ones the cache was built from (checked by content hash).
    pub on_the_fly: bool,
    /// Gigabytes of clip data (frames, and the audio of `on_the_fly`) a run may hold in RAM;
    /// beyond it frames are read from the caches per batch and audio from a spill file in
    /// `$TMPDIR`, with the same results (default: a quarter of the memory this process may
    /// use, the machine's or its cgroup's). The model, batches and clip metadata come on top.
    pub memory_gb: Option<f64>,
}

impl DataConfig {
    /// `memory_gb` in bytes, or its default.
    pub fn memory_bytes(&self) -> u64 {
        self.memory_gb
            .map_or_else(crate::store::default_memory_bytes, |g| (g * 1e9) as u64)
    }
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            cache: CachePaths(vec![PathBuf::from("data/cache/synth_logmel16k.h5")]),
            frames: vec!["logmel".into()],
            labels: Vec::new(),
            corpora: Vec::new(),
            features: None,
            synthetic: false,
            synth: SynthPreset::Standard,
            on_the_fly: false,
            memory_gb: None,
        }
    }
}

/// The built-in synthetic corpora an experiment writes when they are missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SynthPreset {
    /// `ser synth`: 940 clips the shipped recipes learn easily.
    #[default]
    Standard,
    /// `ser synth --hard`: 1,560 clips of subtler emotions, more speakers with fewer clips
    /// each, band limits and noise.
    Hard,
}

/// Fixed-length segments: what happens to clips longer or shorter than `frames`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SegmentPolicy {
    /// Longer clips: a random window in training, the centre one in evaluation; shorter
    /// clips are followed by silence (the clip's quietest dB value) that the model sees as
    /// part of the input, as when waveforms are zero-padded before feature extraction.
    Crop,
    /// Longer clips as `crop`; shorter clips zero-padded, with their length passed to the
    /// model so pooling ignores the padding.
    Pad,
    /// Longer clips as `crop`; shorter clips repeated until the segment is full (default).
    #[default]
    Tile,
}

/// Segment length and policy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SegmentConfig {
    /// Frames per segment (300 = 3 s at a 10 ms hop).
    pub frames: usize,
    /// What to do with clips of another length.
    pub policy: SegmentPolicy,
}

impl Default for SegmentConfig {
    fn default() -> Self {
        Self {
            frames: 300,
            policy: SegmentPolicy::Tile,
        }
    }
}

/// Which model: a burn network or a classical baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// Conv2d blocks, global pooling, MLP head.
    Cnn,
    /// (Bi)LSTM over frames, pooling over time, head.
    Lstm,
    /// CNN front end read as a sequence by a (Bi)LSTM.
    CnnLstm,
    /// The SUPERB head over an `[ssl]` cache's encoder states (`[model.ssl_head]`).
    SslHead,
    /// RBF support vector machine on the standardized functionals.
    Svm,
    /// Random forest on the functionals.
    RandomForest,
}

impl ModelKind {
    /// The network kind, for the burn models.
    pub fn net(self) -> Option<NetKind> {
        match self {
            ModelKind::Cnn => Some(NetKind::Cnn),
            ModelKind::Lstm => Some(NetKind::Lstm),
            ModelKind::CnnLstm => Some(NetKind::CnnLstm),
            ModelKind::SslHead => Some(NetKind::SslHead),
            ModelKind::Svm | ModelKind::RandomForest => None,
        }
    }
}

/// `[model]`: the kind and every kind's section (only the kind's own are read).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Which model.
    pub kind: ModelKind,
    /// Conv2d front end (cnn, cnn_lstm).
    #[serde(default)]
    pub cnn: CnnConfig,
    /// Recurrent stack (lstm, cnn_lstm).
    #[serde(default)]
    pub lstm: LstmConfig,
    /// Classifier head (networks).
    #[serde(default)]
    pub head: HeadConfig,
    /// SUPERB head front: states, projection, pooling (ssl_head).
    #[serde(default)]
    pub ssl_head: SslHeadConfig,
    /// RBF SVM (svm).
    #[serde(default)]
    pub svm: crate::baselines::SvmConfig,
    /// Random forest (random_forest).
    #[serde(default)]
    pub random_forest: crate::baselines::ForestConfig,
}

impl ModelConfig {
    /// The network config, for network kinds.
    pub fn net(&self) -> Option<NetConfig> {
        self.kind.net().map(|kind| NetConfig {
            kind,
            cnn: self.cnn.clone(),
            lstm: self.lstm.clone(),
            head: self.head.clone(),
            ssl_head: self.ssl_head.clone(),
        })
    }
}

/// Optimizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    /// Adam with L2 weight decay added to the gradient.
    Adam,
    /// AdamW: decoupled weight decay.
    #[default]
    Adamw,
}

/// Learning-rate schedule over epochs (after warm-up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// `lr` throughout.
    Constant,
    /// Half a cosine from `lr` down to `lr * min_lr_ratio` at the last epoch.
    #[default]
    Cosine,
    /// `lr * step_gamma^(epoch / step_every)`.
    Step,
}

/// How unequal class sizes are handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Balance {
    /// Nothing.
    None,
    /// Cross-entropy weighted by n / (classes * count) per class.
    #[default]
    LossWeights,
    /// Each epoch draws clips with probability inversely proportional to their class size.
    Sampler,
}

/// `[train]`: optimisation of the networks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Passes over the training clips.
    pub epochs: usize,
    /// Clips per step (per device when training data-parallel). Default 32; 64 where the
    /// run trains on a GPU and the file leaves it out ([`Target`]).
    pub batch_size: usize,
    /// Adam or AdamW.
    pub optimizer: OptimizerKind,
    /// Peak learning rate.
    pub lr: f64,
    /// Weight decay (decoupled for AdamW, L2 for Adam); 0 disables.
    pub weight_decay: f64,
    /// Clip each parameter tensor's gradient to this L2 norm (burn's `Norm` clipping); 0
    /// disables.
    pub grad_clip: f64,
    /// Learning-rate schedule.
    pub schedule: Schedule,
    /// Epochs of linear warm-up from lr / 10 (0 disables).
    pub warmup_epochs: usize,
    /// Cosine: final lr as a fraction of `lr`.
    pub min_lr_ratio: f64,
    /// Step: epochs between decays.
    pub step_every: usize,
    /// Step: factor per decay.
    pub step_gamma: f64,
    /// Stop after this many epochs without a better validation UA (0: never).
    pub early_stopping: usize,
    /// Class imbalance handling.
    pub balance: Balance,
    /// Label smoothing of the cross-entropy (0 disables).
    pub label_smoothing: f64,
    /// Seed of weights, shuffling, augmentation and dropout: the same seed on the same
    /// backend gives the same run.
    pub seed: u64,
    /// Batches the background loader prepares ahead (built, augmented and uploaded to the
    /// device). Default 4; 8 where the run trains on a GPU and the file leaves it out.
    pub prefetch: usize,
    /// Steps between reads of the training loss and accuracy from the device (each read
    /// waits for the device; a non-finite loss is caught at the next read). Does not change
    /// the weights.
    pub sync_every: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 30,
            batch_size: 32,
            optimizer: OptimizerKind::Adamw,
            lr: 1e-3,
            weight_decay: 1e-4,
            grad_clip: 5.0,
            schedule: Schedule::Cosine,
            warmup_epochs: 1,
            min_lr_ratio: 0.05,
            step_every: 10,
            step_gamma: 0.5,
            early_stopping: 10,
            balance: Balance::LossWeights,
            label_smoothing: 0.0,
            seed: 42,
            prefetch: 4,
            sync_every: 10,
        }
    }
}

/// `[augment]`: applied to training batches only. With cached features, gain, noise and
/// speed act on the log-mel (dB) frames as their waveform counterparts would: a gain of g dB
/// adds g to every bin; noise adds power at a random SNR to every mel band; speed resamples
/// the time axis; they then need dB-scaled frames (`logmel`), not MFCC. With
/// `[data] on_the_fly = true` they act on the audio before its features, for any frames.
/// The random crop window of a longer clip is the time shift.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct AugmentConfig {
    /// SpecAugment time masks per segment.
    pub time_masks: usize,
    /// Widest time mask in frames.
    pub time_mask_frames: usize,
    /// SpecAugment frequency masks per segment.
    pub freq_masks: usize,
    /// Widest frequency mask in bins.
    pub freq_mask_bins: usize,
    /// Random gain range in dB, e.g. `[-6.0, 6.0]` (empty: off).
    pub gain_db: Vec<f64>,
    /// Random SNR range in dB of added noise, e.g. `[10.0, 30.0]` (empty: off).
    pub noise_snr_db: Vec<f64>,
    /// Probability of adding noise to a segment.
    pub noise_prob: f64,
    /// Random speed factor range, e.g. `[0.9, 1.1]` (empty: off).
    pub speed: Vec<f64>,
}

/// The kind of device a run trains on, for the `[train]` defaults sized by it: a GPU wants
/// bigger batches and more of them queued than a CPU core does. Settings the file gives are
/// kept, and the run folder's `experiment.toml` states the values used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// flex, LibTorch on the CPU: `batch_size` 32, `prefetch` 4.
    Cpu,
    /// wgpu, CUDA, LibTorch on CUDA: `batch_size` 64, `prefetch` 8.
    Gpu,
}

impl Target {
    /// `[train]` keys this target sets where the file leaves them out.
    fn train_defaults(self) -> &'static [(&'static str, i64)] {
        match self {
            Target::Cpu => &[],
            Target::Gpu => &[("batch_size", 64), ("prefetch", 8)],
        }
    }
}

impl Experiment {
    /// Parses an experiment file's text; unknown keys are errors that name the key.
    pub fn from_toml(text: &str) -> Result<Self, TrainError> {
        toml::from_str(text).map_err(|e| TrainError::Config(e.to_string()))
    }

    /// Parses an experiment file's text for a run on `target`, whose defaults fill the
    /// `[train]` keys the file leaves out (see [`Target`]).
    pub fn from_toml_for(text: &str, target: Target) -> Result<Self, TrainError> {
        let exp = Self::from_toml(text)?;
        let defaults = target.train_defaults();
        if defaults.is_empty() {
            return Ok(exp);
        }
        let given: toml::Table =
            toml::from_str(text).map_err(|e| TrainError::Config(e.to_string()))?;
        let given = given.get("train").and_then(toml::Value::as_table);
        let mut table = exp.to_table();
        let train = table
            .get_mut("train")
            .and_then(toml::Value::as_table_mut)
            .expect("an experiment's table has [train]");
        for &(key, value) in defaults {
            if given.is_none_or(|t| !t.contains_key(key)) {
                train.insert(key.into(), value.into());
            }
        }
        table
            .try_into()
            .map_err(|e: toml::de::Error| TrainError::Config(e.to_string()))
    }

    /// The experiment with every default filled in, as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("experiment serializes")
    }

    /// The experiment with every default filled in, as a TOML table (sweeps set keys in it;
    /// `ser run` compares two of them key by key).
    pub fn to_table(&self) -> toml::Table {
        toml::from_str(&self.to_toml()).expect("an experiment's own TOML parses")
    }

    /// Checks every value that does not depend on the data.
    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |m: String| Err(TrainError::Config(m));
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(TrainError::key(
                "name",
                format!("'{}'", self.name),
                "must be letters, digits, '-', '_' or '.' (it names the run folder)",
            ));
        }
        let caches = self.data.cache.paths().len();
        if caches > 1 && !self.data.corpora.is_empty() && self.data.corpora.len() != caches {
            return Err(TrainError::key(
                "data.corpora",
                format!("{:?}", self.data.corpora),
                &format!(
                    "with {caches} caches, list one corpus per cache (the corpus each is extracted from when missing), or none"
                ),
            ));
        }
        if let Some(m) = self.data.memory_gb
            && !(m.is_finite() && m >= 0.0)
        {
            return Err(TrainError::key(
                "data.memory_gb",
                format!("{m}"),
                "must be a number of gigabytes >= 0 (0: read every clip from the cache per batch)",
            ));
        }
        if self.data.frames.is_empty() && self.model.kind.net().is_some() {
            return bad(
                "data.frames is empty: name the frame arrays the network reads, e.g. [\"logmel\"]"
                    .into(),
            );
        }
        let t = &self.train;
        if t.epochs == 0 || t.batch_size == 0 || t.sync_every == 0 {
            return bad("train.epochs, train.batch_size and train.sync_every must be >= 1".into());
        }
        if !(t.lr > 0.0) || !t.lr.is_finite() {
            return Err(TrainError::key("train.lr", t.lr, "must be > 0"));
        }
        if !(t.weight_decay >= 0.0) || !(t.grad_clip >= 0.0) {
            return bad("train.weight_decay and train.grad_clip must be >= 0".into());
        }
        if !(0.0..1.0).contains(&t.label_smoothing) {
            return Err(TrainError::key(
                "train.label_smoothing",
                t.label_smoothing,
                "must be in [0, 1)",
            ));
        }
        if !(0.0..=1.0).contains(&t.min_lr_ratio) || !(t.step_gamma > 0.0) || t.step_every == 0 {
            return bad(
                "train.min_lr_ratio in [0, 1], train.step_gamma > 0, train.step_every >= 1".into(),
            );
        }
        let sp = &self.split;
        if sp.protocol != ser_eval::Protocol::Holdout
            && (!sp.test_list.is_empty() || !sp.val_list.is_empty())
        {
            return bad(format!(
                "split.test_list / val_list name holdout speakers; protocol = {:?} makes its own folds (remove the lists or use protocol = \"holdout\")",
                sp.protocol
            ));
        }
        if !sp.train_sets.is_empty() && sp.protocol != ser_eval::Protocol::CrossCorpus {
            return bad(format!(
                "split.train_sets is for protocol = \"cross_corpus\" (this experiment has {:?})",
                sp.protocol
            ));
        }
        if sp.loso_group != ser_eval::LosoGroup::Speaker && sp.protocol != ser_eval::Protocol::Loso
        {
            return bad(format!(
                "split.loso_group is for protocol = \"loso\" (this experiment has {:?})",
                sp.protocol
            ));
        }
        if sp.train_sets.iter().any(|t| t.is_empty()) {
            return bad(
                "split.train_sets has an empty set; name at least one corpus in each".into(),
            );
        }
        if self.segment.frames == 0 {
            return bad("segment.frames must be >= 1".into());
        }
        let a = &self.augment;
        for (name, r, lo) in [
            ("augment.gain_db", &a.gain_db, f64::NEG_INFINITY),
            ("augment.noise_snr_db", &a.noise_snr_db, f64::NEG_INFINITY),
            ("augment.speed", &a.speed, 0.0),
        ] {
            if !(r.is_empty() || (r.len() == 2 && r[0] <= r[1] && r[0] > lo && r[1].is_finite())) {
                return Err(TrainError::key(
                    name,
                    format!("{r:?}"),
                    "give [low, high] with low <= high (or [] for off)",
                ));
            }
        }
        if !(0.0..=1.0).contains(&a.noise_prob) {
            return bad("augment.noise_prob must be in [0, 1]".into());
        }
        let db_only = !a.gain_db.is_empty() || !a.noise_snr_db.is_empty();
        if db_only
            && !self.data.on_the_fly
            && self
                .data
                .frames
                .iter()
                .any(|f| !f.starts_with("logmel") || f.contains("delta"))
        {
            return bad(format!(
                "augment.gain_db / noise_snr_db act on dB frames; data.frames = {:?} has others (use [\"logmel\"], or turn these off)",
                self.data.frames
            ));
        }
        if let Some(net) = self.model.net() {
            // A frame width that passes the width checks; the cache's is checked at load.
            let width = match net.kind {
                NetKind::SslHead => net.ssl_head.states.max(1),
                _ => 1,
            };
            net.validate(width, self.segment.frames)
                .or_else(|e| {
                    // The feature width is only known from the cache; recheck it there.
                    if e.0.contains("features x") {
                        Ok(())
                    } else {
                        Err(e)
                    }
                })
                .map_err(|e| TrainError::Config(e.to_string()))?;
        }
        self.model.svm.validate()?;
        self.model.random_forest.validate()?;
        Ok(())
    }
}
