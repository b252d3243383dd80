//! The checkpoint's `config.json`: the fields of transformers' `Wav2Vec2Config`,
//! `HubertConfig` and `WavLMConfig` that decide the encoder's shape, with transformers'
//! defaults, checked in one place ([`EncoderConfig::validate`]).

use serde::Deserialize;

use crate::SslError;

/// The architectures ser builds; anything else in `model_type` is refused by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Architecture {
    /// wav2vec 2.0 (`facebook/wav2vec2-*`): convolutional feature encoder, positional
    /// convolution, transformer.
    Wav2vec2,
    /// HuBERT (`facebook/hubert-*`): wav2vec 2.0's network, optionally without the feature
    /// projection's layer norm.
    Hubert,
    /// WavLM (`microsoft/wavlm-*`): wav2vec 2.0's network with gated relative position bias.
    Wavlm,
}

/// Normalization in the convolutional feature encoder (`feat_extract_norm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FeatNorm {
    /// Group norm (one group per channel) after the first convolution only: base models.
    Group,
    /// Layer norm over channels after every convolution: large models.
    Layer,
}

/// The encoder's shape, read from a Hugging Face `config.json`. Field names and defaults
/// are transformers'.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EncoderConfig {
    /// `model_type`: which architecture.
    pub model_type: String,
    /// Transformer width (768 base, 1024 large).
    #[serde(default = "d_hidden")]
    pub hidden_size: usize,
    /// Transformer layers (12 base, 24 large).
    #[serde(default = "d_layers")]
    pub num_hidden_layers: usize,
    /// Attention heads.
    #[serde(default = "d_heads")]
    pub num_attention_heads: usize,
    /// Feed-forward width.
    #[serde(default = "d_intermediate")]
    pub intermediate_size: usize,
    /// Feed-forward activation (`gelu` or `relu`).
    #[serde(default = "d_gelu")]
    pub hidden_act: String,
    /// Epsilon of the transformer's layer norms.
    #[serde(default = "d_eps")]
    pub layer_norm_eps: f64,
    /// Feature encoder normalization.
    #[serde(default = "d_feat_norm")]
    pub feat_extract_norm: FeatNorm,
    /// Feature encoder activation (`gelu` or `relu`).
    #[serde(default = "d_gelu")]
    pub feat_extract_activation: String,
    /// Channels of each feature-encoder convolution.
    #[serde(default = "d_conv_dim")]
    pub conv_dim: Vec<usize>,
    /// Stride of each feature-encoder convolution.
    #[serde(default = "d_conv_stride")]
    pub conv_stride: Vec<usize>,
    /// Kernel of each feature-encoder convolution.
    #[serde(default = "d_conv_kernel")]
    pub conv_kernel: Vec<usize>,
    /// Whether the feature-encoder convolutions have biases.
    #[serde(default)]
    pub conv_bias: bool,
    /// Kernel of the positional convolution.
    #[serde(default = "d_pos_kernel")]
    pub num_conv_pos_embeddings: usize,
    /// Groups of the positional convolution.
    #[serde(default = "d_pos_groups")]
    pub num_conv_pos_embedding_groups: usize,
    /// Pre-norm transformer layers and a final layer norm (large models).
    #[serde(default)]
    pub do_stable_layer_norm: bool,
    /// HuBERT only: layer norm before the feature projection (wav2vec 2.0 and WavLM always).
    #[serde(default = "d_true")]
    pub feat_proj_layer_norm: bool,
    /// HuBERT only: batch norm instead of weight norm in the positional convolution (not
    /// supported yet: refused).
    #[serde(default)]
    pub conv_pos_batch_norm: bool,
    /// WavLM only: relative position buckets.
    #[serde(default = "d_buckets")]
    pub num_buckets: usize,
    /// WavLM only: the distance the last bucket starts at.
    #[serde(default = "d_bucket_distance")]
    pub max_bucket_distance: usize,
    /// An adapter after the encoder (refused: it changes no hidden state ser reads, but a
    /// checkpoint with one was fine-tuned for something else).
    #[serde(default)]
    pub add_adapter: bool,
    /// MMS attention adapters (refused).
    #[serde(default)]
    pub adapter_attn_dim: Option<usize>,
}

fn d_hidden() -> usize {
    768
}
fn d_layers() -> usize {
    12
}
fn d_heads() -> usize {
    12
}
fn d_intermediate() -> usize {
    3072
}
fn d_gelu() -> String {
    "gelu".into()
}
fn d_eps() -> f64 {
    1e-5
}
fn d_feat_norm() -> FeatNorm {
    FeatNorm::Group
}
fn d_conv_dim() -> Vec<usize> {
    vec![512; 7]
}
fn d_conv_stride() -> Vec<usize> {
    vec![5, 2, 2, 2, 2, 2, 2]
}
fn d_conv_kernel() -> Vec<usize> {
    vec![10, 3, 3, 3, 3, 2, 2]
}
fn d_pos_kernel() -> usize {
    128
}
fn d_pos_groups() -> usize {
    16
}
fn d_true() -> bool {
    true
}
fn d_buckets() -> usize {
    320
}
fn d_bucket_distance() -> usize {
    800
}

/// An activation the checkpoint names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    /// Exact (erf) GELU, transformers' `gelu`.
    Gelu,
    /// ReLU.
    Relu,
}

fn act(field: &str, name: &str) -> Result<Act, SslError> {
    match name {
        "gelu" => Ok(Act::Gelu),
        "relu" => Ok(Act::Relu),
        other => Err(SslError::Config(format!(
            "{field} = \"{other}\" is not supported (ser knows \"gelu\" and \"relu\")"
        ))),
    }
}

impl EncoderConfig {
    /// Parses a `config.json` text and validates it.
    pub fn from_json(text: &str) -> Result<Self, SslError> {
        let c: EncoderConfig = serde_json::from_str(text)
            .map_err(|e| SslError::Config(format!("not a transformers config: {e}")))?;
        c.validate()?;
        Ok(c)
    }

    /// The architecture, or an error naming the model types ser knows.
    pub fn architecture(&self) -> Result<Architecture, SslError> {
        match self.model_type.as_str() {
            "wav2vec2" => Ok(Architecture::Wav2vec2),
            "hubert" => Ok(Architecture::Hubert),
            "wavlm" => Ok(Architecture::Wavlm),
            other => Err(SslError::Config(format!(
                "model_type \"{other}\" is not supported: ser builds wav2vec2, hubert and wavlm \
                 encoders"
            ))),
        }
    }

    /// The feed-forward activation.
    pub fn hidden_act(&self) -> Result<Act, SslError> {
        act("hidden_act", &self.hidden_act)
    }

    /// The feature encoder's activation.
    pub fn feat_act(&self) -> Result<Act, SslError> {
        act("feat_extract_activation", &self.feat_extract_activation)
    }

    /// Whether the feature projection starts with a layer norm (always but for HuBERT
    /// checkpoints that say otherwise).
    pub fn projection_norm(&self) -> bool {
        self.model_type != "hubert" || self.feat_proj_layer_norm
    }

    /// Checks everything the encoder's construction relies on.
    pub fn validate(&self) -> Result<(), SslError> {
        let arch = self.architecture()?;
        self.hidden_act()?;
        self.feat_act()?;
        let bad = |m: String| Err(SslError::Config(m));
        let n = self.conv_dim.len();
        if n == 0 || self.conv_stride.len() != n || self.conv_kernel.len() != n {
            return bad(format!(
                "conv_dim, conv_stride and conv_kernel must have one (equal, non-zero) length; got \
                 {n}, {}, {}",
                self.conv_stride.len(),
                self.conv_kernel.len()
            ));
        }
        if self
            .conv_dim
            .iter()
            .chain(&self.conv_stride)
            .chain(&self.conv_kernel)
            .any(|&v| v == 0)
        {
            return bad("conv_dim, conv_stride and conv_kernel must be positive".into());
        }
        if self.hidden_size == 0 || self.num_attention_heads == 0 || self.intermediate_size == 0 {
            return bad(
                "hidden_size, num_attention_heads and intermediate_size must be positive".into(),
            );
        }
        if !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return bad(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                self.hidden_size, self.num_attention_heads
            ));
        }
        let g = self.num_conv_pos_embedding_groups;
        if g == 0 || !self.hidden_size.is_multiple_of(g) || self.num_conv_pos_embeddings == 0 {
            return bad(format!(
                "num_conv_pos_embedding_groups {g} must divide hidden_size {} and \
                 num_conv_pos_embeddings must be positive",
                self.hidden_size
            ));
        }
        if self.conv_pos_batch_norm {
            return bad(
                "conv_pos_batch_norm = true (a batch-normed positional convolution) is not \
                        supported yet"
                    .into(),
            );
        }
        if self.add_adapter || self.adapter_attn_dim.is_some() {
            return bad(
                "checkpoints with adapters (add_adapter, adapter_attn_dim) are not \
                        supported: use the pretrained encoder's folder"
                    .into(),
            );
        }
        if arch == Architecture::Wavlm
            && (self.num_buckets < 4 || self.max_bucket_distance <= self.num_buckets / 4)
        {
            return bad(format!(
                "num_buckets {} / max_bucket_distance {}: need at least 4 buckets and a distance \
                 beyond the exact ones",
                self.num_buckets, self.max_bucket_distance
            ));
        }
        if !(self.layer_norm_eps > 0.0) {
            return bad(format!(
                "layer_norm_eps {} must be positive",
                self.layer_norm_eps
            ));
        }
        Ok(())
    }

    /// Samples consumed per output frame (the product of the strides: 320 at 16 kHz, 20 ms).
    pub fn hop(&self) -> usize {
        self.conv_stride.iter().product()
    }

    /// Output frames for `samples` input samples (0 when the clip is shorter than the
    /// feature encoder's receptive field).
    pub fn frames(&self, samples: usize) -> usize {
        let mut len = samples;
        for (&k, &s) in self.conv_kernel.iter().zip(&self.conv_stride) {
            if len < k {
                return 0;
            }
            len = (len - k) / s + 1;
        }
        len
    }
}
