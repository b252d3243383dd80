//! Serde configs of the networks, as they appear under `[model]` in an experiment file, with
//! defaults and one validation pass.

use serde::{Deserialize, Serialize};

/// Which network reads the frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetKind {
    /// Conv2d blocks over (mel x time), global pooling, MLP head.
    Cnn,
    /// (Bi)LSTM stack over frames, pooling over time, MLP head.
    Lstm,
    /// Conv2d front end, its output read as a time sequence by a (Bi)LSTM, pooling, head.
    CnnLstm,
    /// The SUPERB head over self-supervised encoder states (`[ssl]` caches): learned softmax
    /// weights over the states, a linear projection, pooling over time, head.
    SslHead,
}

/// Non-linearity after each convolution and hidden head layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// max(0, x).
    #[default]
    Relu,
    /// Gaussian error linear unit.
    Gelu,
    /// x * sigmoid(x).
    Silu,
    /// max(0.01 x, x).
    LeakyRelu,
}

/// Pooling applied after each convolution block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PoolKind {
    /// Max pooling.
    #[default]
    Max,
    /// Average pooling.
    Avg,
}

/// How the CNN's (channels x mel x time) map becomes one vector (CNN model only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum CnnReduce {
    /// Mean over mel and valid time steps, per channel.
    #[default]
    Mean,
    /// Max over mel and valid time steps, per channel.
    Max,
    /// Mean over valid time steps, keeping mel: channels x mel' values.
    Flatten,
}

/// How a sequence of vectors becomes one (LSTM and CNN-LSTM).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TimePooling {
    /// The last valid step (for a BiLSTM: the forward half at the last valid step and the
    /// reverse half at the first, i.e. both directions' final states).
    Last,
    /// The mean over valid steps.
    #[default]
    Mean,
    /// Additive attention: a learned score per step, softmax over valid steps, weighted sum.
    Attention,
}

/// Conv2d front end: block i is Conv2d(channels\[i\], kernel, stride, "same" padding) +
/// BatchNorm + activation + pooling(pool) + dropout. Input: one channel, height = feature
/// bins (mel), width = time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CnnConfig {
    /// Output channels of each block; the number of entries is the number of blocks.
    pub channels: Vec<usize>,
    /// Convolution kernel \[freq, time\].
    pub kernel: [usize; 2],
    /// Convolution stride \[freq, time\].
    pub stride: [usize; 2],
    /// Pooling window and stride \[freq, time\] after each block (\[1, 1\] disables it).
    pub pool: [usize; 2],
    /// Max or average pooling.
    pub pool_kind: PoolKind,
    /// Activation after BatchNorm.
    pub activation: Activation,
    /// Dropout after each block.
    pub dropout: f64,
    /// How the CNN model reduces the final map (ignored by the CNN-LSTM, which reads it as a
    /// sequence).
    pub reduce: CnnReduce,
}

impl Default for CnnConfig {
    fn default() -> Self {
        Self {
            channels: vec![16, 32, 64, 64],
            kernel: [3, 3],
            stride: [1, 1],
            pool: [2, 2],
            pool_kind: PoolKind::Max,
            activation: Activation::Relu,
            dropout: 0.1,
            reduce: CnnReduce::Mean,
        }
    }
}

/// (Bi)LSTM stack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LstmConfig {
    /// Hidden units per direction.
    pub hidden: usize,
    /// Stacked layers.
    pub layers: usize,
    /// Read the sequence both ways (output 2 x hidden).
    pub bidirectional: bool,
    /// Dropout between stacked layers and after the last.
    pub dropout: f64,
    /// Pooling over time.
    pub pooling: TimePooling,
}

impl Default for LstmConfig {
    fn default() -> Self {
        Self {
            hidden: 128,
            layers: 1,
            bidirectional: true,
            dropout: 0.1,
            pooling: TimePooling::Mean,
        }
    }
}

/// MLP head: hidden layers (activation + dropout after each), then a linear layer to the
/// classes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HeadConfig {
    /// Width of each hidden layer (empty: a single linear layer).
    pub hidden: Vec<usize>,
    /// Dropout before each linear layer.
    pub dropout: f64,
    /// Activation of the hidden layers.
    pub activation: Activation,
}

impl Default for HeadConfig {
    fn default() -> Self {
        Self {
            hidden: vec![64],
            dropout: 0.3,
            activation: Activation::Relu,
        }
    }
}

/// The SUPERB head's front (kind `ssl_head`): frames of `states x hidden` values (an `[ssl]`
/// cache's `ssl` array, state-major) are mixed by softmax weights over the states (learned,
/// starting equal), projected, then pooled over time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SslHeadConfig {
    /// Encoder states per frame: the cache's `[ssl.resolved] states` (13 for a base model's
    /// every layer). Required.
    pub states: usize,
    /// Width of the linear projection after the weighted sum (default 256, SUPERB's; 0 = none).
    pub projection: usize,
    /// Pooling over time: `mean` (default) or `attention`.
    pub pooling: TimePooling,
}

impl Default for SslHeadConfig {
    fn default() -> Self {
        Self {
            states: 0,
            projection: 256,
            pooling: TimePooling::Mean,
        }
    }
}

/// A whole network: which kind, and the sections it uses (the others are ignored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetConfig {
    /// Which network.
    pub kind: NetKind,
    /// Conv2d front end (CNN, CNN-LSTM).
    #[serde(default)]
    pub cnn: CnnConfig,
    /// Recurrent stack (LSTM, CNN-LSTM).
    #[serde(default)]
    pub lstm: LstmConfig,
    /// Classifier head.
    #[serde(default)]
    pub head: HeadConfig,
    /// SUPERB head front (ssl_head).
    #[serde(default)]
    pub ssl_head: SslHeadConfig,
}

/// A config value that cannot build a network, and how to fix it.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("model config: {0}")]
pub struct ConfigError(pub String);

impl NetConfig {
    /// Checks every value once, before any tensor is made; `n_features` is the width of a
    /// frame (mel bands) and `frames` the time steps the network will see.
    pub fn validate(&self, n_features: usize, frames: usize) -> Result<(), ConfigError> {
        let err = |m: String| Err(ConfigError(m));
        let p = |name: &str, v: f64| {
            if !(0.0..1.0).contains(&v) {
                Err(ConfigError(format!("{name} = {v} must be in [0, 1)")))
            } else {
                Ok(())
            }
        };
        p("head.dropout", self.head.dropout)?;
        if self.head.hidden.contains(&0) {
            return err("head.hidden has a 0-wide layer".into());
        }
        if matches!(self.kind, NetKind::Cnn | NetKind::CnnLstm) {
            let c = &self.cnn;
            p("cnn.dropout", c.dropout)?;
            if c.channels.is_empty() || c.channels.contains(&0) {
                return err("cnn.channels needs at least one block, each > 0 channels".into());
            }
            if c.kernel.contains(&0) || c.stride.contains(&0) || c.pool.contains(&0) {
                return err("cnn.kernel, cnn.stride and cnn.pool must be >= 1".into());
            }
            let (f, t) = cnn_output_size(c, n_features, frames);
            if f == 0 || t == 0 {
                return err(format!(
                    "{} CNN blocks (stride {:?}, pool {:?}) shrink {n_features} features x {frames} frames to nothing; use fewer blocks, smaller pooling or longer segments",
                    c.channels.len(),
                    c.stride,
                    c.pool
                ));
            }
        }
        if matches!(self.kind, NetKind::Lstm | NetKind::CnnLstm) {
            p("lstm.dropout", self.lstm.dropout)?;
            if self.lstm.hidden == 0 || self.lstm.layers == 0 {
                return err("lstm.hidden and lstm.layers must be >= 1".into());
            }
        }
        if self.kind == NetKind::SslHead {
            let s = &self.ssl_head;
            if s.states == 0 || !n_features.is_multiple_of(s.states) {
                return err(format!(
                    "ssl_head.states = {} must divide the {n_features} values per frame (an [ssl] \
                     cache stores states x hidden; its config's [ssl.resolved] says how many states)",
                    s.states
                ));
            }
            if s.pooling == TimePooling::Last {
                return err("ssl_head.pooling: use \"mean\" or \"attention\"".into());
            }
        }
        if n_features == 0 || frames == 0 {
            return err("the input has no features or no frames".into());
        }
        Ok(())
    }
}

/// Size of the CNN's output map (freq, time) for an input of `f` x `t`, following the
/// convolutions ("same" padding, so only the stride shrinks) and floor-mode pooling.
pub fn cnn_output_size(c: &CnnConfig, mut f: usize, mut t: usize) -> (usize, usize) {
    for _ in &c.channels {
        f = f.div_ceil(c.stride[0]) / c.pool[0];
        t = t.div_ceil(c.stride[1]) / c.pool[1];
    }
    (f, t)
}
