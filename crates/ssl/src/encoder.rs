//! The wav2vec 2.0 family as burn modules, field for field named as transformers names its
//! parameters (`feature_extractor.conv_layers.0.conv.weight`, `encoder.layers.3.attention.
//! q_proj.weight`, ...), so that a checkpoint loads by name ([`crate::load`]).
//!
//! Written here rather than taken from a crate: no maintained burn port of these encoders
//! exists, and ser needs every layer's hidden state, which the Python reference returns as
//! `output_hidden_states` (the first layer's input, then each layer's output).

use burn::module::{Module, Param};
use burn::nn::conv::{Conv1d, Conv1dConfig};
use burn::nn::{
    Embedding, EmbeddingConfig, GroupNorm, GroupNormConfig, Initializer, LayerNorm,
    LayerNormConfig, Linear, LinearConfig,
};
use burn::tensor::module::conv1d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Int, Tensor, TensorData, activation};

use crate::SslError;
use crate::config::{Act, Architecture, EncoderConfig, FeatNorm};

fn activate<const D: usize>(a: Act, x: Tensor<D>) -> Tensor<D> {
    match a {
        Act::Gelu => activation::gelu(x),
        Act::Relu => activation::relu(x),
    }
}

fn linear(d_in: usize, d_out: usize, bias: bool, device: &Device) -> Linear {
    LinearConfig::new(d_in, d_out)
        .with_bias(bias)
        .with_initializer(Initializer::Zeros)
        .init(device)
}

fn layer_norm(d: usize, eps: f64, device: &Device) -> LayerNorm {
    LayerNormConfig::new(d).with_epsilon(eps).init(device)
}

/// The normalization after a feature-encoder convolution.
#[derive(Module, Debug)]
enum ConvNorm {
    /// Per-channel normalization over time (`nn.GroupNorm(C, C)`).
    Group(GroupNorm),
    /// Normalization over channels at each time step.
    Layer(LayerNorm),
}

/// One feature-encoder convolution, its normalization (if any) and activation.
#[derive(Module, Debug)]
struct ConvLayer {
    conv: Conv1d,
    layer_norm: Option<ConvNorm>,
    #[module(skip)]
    act: Act,
}

impl ConvLayer {
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let x = self.conv.forward(x);
        let x = match &self.layer_norm {
            Some(ConvNorm::Group(n)) => n.forward(x),
            Some(ConvNorm::Layer(n)) => n.forward(x.swap_dims(1, 2)).swap_dims(1, 2),
            None => x,
        };
        activate(self.act, x)
    }
}

/// The convolutional feature encoder: waveform `[batch, samples]` to `[batch, channels, frames]`.
#[derive(Module, Debug)]
struct FeatureEncoder {
    conv_layers: Vec<ConvLayer>,
}

/// Layer norm (optional for HuBERT) and the linear map into the transformer's width.
#[derive(Module, Debug)]
struct FeatureProjection {
    layer_norm: Option<LayerNorm>,
    projection: Linear,
}

/// A grouped 1-D convolution under weight normalization over the kernel axis (`dim=2`):
/// `weight = weight_g * weight_v / |weight_v|`, the norm taken over output and input
/// channels for each kernel position, as `torch.nn.utils.weight_norm` stores it.
#[derive(Module, Debug)]
struct WeightNormConv1d {
    weight_g: Param<Tensor<3>>,
    weight_v: Param<Tensor<3>>,
    bias: Param<Tensor<1>>,
    #[module(skip)]
    groups: usize,
    #[module(skip)]
    padding: usize,
}

impl WeightNormConv1d {
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let v = self.weight_v.val();
        let norm = (v.clone() * v.clone()).sum_dim(0).sum_dim(1).sqrt();
        let weight = v * (self.weight_g.val() / norm);
        let options = ConvOptions::new([1], [self.padding], [1], self.groups);
        conv1d(x, weight, Some(self.bias.val()), options)
    }
}

/// The positional convolution: grouped, weight-normed, "same" padded (one frame trimmed for
/// an even kernel), activated; added to the projected features.
#[derive(Module, Debug)]
struct PosConvEmbed {
    conv: WeightNormConv1d,
    #[module(skip)]
    act: Act,
}

impl PosConvEmbed {
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [_, frames, _] = x.dims();
        let y = self.conv.forward(x.swap_dims(1, 2)).narrow(2, 0, frames);
        activate(self.act, y).swap_dims(1, 2)
    }
}

/// Multi-head self-attention; for WavLM also the gate of the relative position bias (every
/// layer) and the bucket embedding (first layer only).
#[derive(Module, Debug)]
struct Attention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    out_proj: Linear,
    gru_rel_pos_const: Option<Param<Tensor<4>>>,
    gru_rel_pos_linear: Option<Linear>,
    rel_attn_embed: Option<Embedding>,
    #[module(skip)]
    heads: usize,
}

impl Attention {
    /// `x`: `[batch, frames, hidden]`; `bias`: WavLM's position bias `[1, heads, frames,
    /// frames]` before gating.
    fn forward(&self, x: Tensor<3>, bias: Option<&Tensor<4>>) -> Tensor<3> {
        let [b, t, d] = x.dims();
        let (h, dh) = (self.heads, d / self.heads);
        let split = |y: Tensor<3>| y.reshape([b, t, h, dh]).swap_dims(1, 2);
        let q = split(self.q_proj.forward(x.clone()));
        let k = split(self.k_proj.forward(x.clone()));
        let v = split(self.v_proj.forward(x.clone()));
        let mut scores = q
            .matmul(k.swap_dims(2, 3))
            .mul_scalar((dh as f64).powf(-0.5));
        if let (Some(bias), Some(lin), Some(c)) =
            (bias, &self.gru_rel_pos_linear, &self.gru_rel_pos_const)
        {
            // The gate reads the attention's input split into heads (not the projections).
            let g = lin.forward(split(x)).reshape([b, h, t, 2, 4]).sum_dim(4);
            let g = activation::sigmoid(g).reshape([b, h, t, 2]);
            let (ga, gb) = (g.clone().narrow(3, 0, 1), g.narrow(3, 1, 1));
            let gate = (ga * (gb * c.val()).sub_scalar(1.0)).add_scalar(2.0);
            scores = scores + gate * bias.clone();
        }
        let probs = activation::softmax(scores, 3);
        let out = probs.matmul(v).swap_dims(1, 2).reshape([b, t, d]);
        self.out_proj.forward(out)
    }
}

/// The transformer's feed-forward block.
#[derive(Module, Debug)]
struct FeedForward {
    intermediate_dense: Linear,
    output_dense: Linear,
    #[module(skip)]
    act: Act,
}

impl FeedForward {
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.output_dense
            .forward(activate(self.act, self.intermediate_dense.forward(x)))
    }
}

/// One transformer layer, post-norm (base) or pre-norm ("stable", large).
#[derive(Module, Debug)]
struct EncoderLayer {
    attention: Attention,
    layer_norm: LayerNorm,
    feed_forward: FeedForward,
    final_layer_norm: LayerNorm,
    #[module(skip)]
    pre_norm: bool,
}

impl EncoderLayer {
    fn forward(&self, x: Tensor<3>, bias: Option<&Tensor<4>>) -> Tensor<3> {
        if self.pre_norm {
            let x = x.clone() + self.attention.forward(self.layer_norm.forward(x), bias);
            x.clone() + self.feed_forward.forward(self.final_layer_norm.forward(x))
        } else {
            let x = self
                .layer_norm
                .forward(x.clone() + self.attention.forward(x, bias));
            self.final_layer_norm
                .forward(x.clone() + self.feed_forward.forward(x))
        }
    }
}

/// Positional convolution, the layer norm (before the layers for base models, after them
/// for large ones) and the layers.
#[derive(Module, Debug)]
struct Encoder {
    pos_conv_embed: PosConvEmbed,
    layer_norm: LayerNorm,
    layers: Vec<EncoderLayer>,
}

/// Every layer's hidden states for a batch of waveforms.
#[derive(Debug, Clone)]
pub struct Hidden {
    /// `num_hidden_layers + 1` tensors `[batch, frames, hidden]`: the first layer's input,
    /// then each layer's output, as transformers' `output_hidden_states` gives them.
    pub layers: Vec<Tensor<3>>,
    /// transformers' `last_hidden_state`: the last layer's output, after the final layer
    /// norm for pre-norm (large) models.
    pub last: Tensor<3>,
}

/// WavLM's relative position buckets (T5-style, bidirectional), computed as transformers
/// does (float32 logarithm, truncated).
fn buckets(t: usize, num_buckets: usize, max_distance: usize) -> Vec<i64> {
    let half = (num_buckets / 2) as i64;
    let exact = half / 2;
    let scale = ((max_distance as f64) / (exact as f64)).ln() as f32;
    let mut out = Vec::with_capacity(t * t);
    for i in 0..t as i64 {
        for j in 0..t as i64 {
            let rel = j - i;
            let base = if rel > 0 { half } else { 0 };
            let a = rel.abs();
            let offset = if a < exact {
                a
            } else {
                let v = (a as f32 / exact as f32).ln() / scale * (half - exact) as f32;
                ((exact as f32 + v) as i64).min(half - 1)
            };
            out.push(base + offset);
        }
    }
    out
}

/// A wav2vec 2.0 / HuBERT / WavLM encoder (no pretraining or task heads).
#[derive(Module, Debug)]
pub struct SslEncoder {
    feature_extractor: FeatureEncoder,
    feature_projection: FeatureProjection,
    encoder: Encoder,
    #[module(skip)]
    spec: Spec,
}

/// What the forward pass needs besides the weights.
#[derive(Debug, Clone)]
struct Spec {
    pre_norm: bool,
    wavlm: Option<(usize, usize)>,
}

impl SslEncoder {
    /// An encoder of `config`'s shape with zero weights, to be filled from a checkpoint.
    pub fn init(config: &EncoderConfig, device: &Device) -> Result<Self, SslError> {
        config.validate()?;
        let arch = config.architecture()?;
        let feat_act = config.feat_act()?;
        let eps = config.layer_norm_eps;
        let mut conv_layers = Vec::new();
        let mut c_in = 1;
        for (i, ((&c, &k), &s)) in config
            .conv_dim
            .iter()
            .zip(&config.conv_kernel)
            .zip(&config.conv_stride)
            .enumerate()
        {
            let layer_norm = match config.feat_extract_norm {
                FeatNorm::Group if i == 0 => {
                    Some(ConvNorm::Group(GroupNormConfig::new(c, c).init(device)))
                }
                FeatNorm::Group => None,
                FeatNorm::Layer => Some(ConvNorm::Layer(LayerNormConfig::new(c).init(device))),
            };
            let conv = Conv1dConfig::new(c_in, c, k)
                .with_stride(s)
                .with_bias(config.conv_bias)
                .with_initializer(Initializer::Zeros)
                .init(device);
            conv_layers.push(ConvLayer {
                conv,
                layer_norm,
                act: feat_act,
            });
            c_in = c;
        }
        let d = config.hidden_size;
        let (k, g) = (
            config.num_conv_pos_embeddings,
            config.num_conv_pos_embedding_groups,
        );
        let zeros = |shape: [usize; 3]| Param::from_tensor(Tensor::zeros(shape, device));
        let pos_conv_embed = PosConvEmbed {
            conv: WeightNormConv1d {
                weight_g: zeros([1, 1, k]),
                weight_v: zeros([d, d / g, k]),
                bias: Param::from_tensor(Tensor::zeros([d], device)),
                groups: g,
                padding: k / 2,
            },
            act: feat_act,
        };
        let heads = config.num_attention_heads;
        let ff_act = config.hidden_act()?;
        let wavlm = arch == Architecture::Wavlm;
        let layers = (0..config.num_hidden_layers)
            .map(|i| EncoderLayer {
                attention: Attention {
                    q_proj: linear(d, d, true, device),
                    k_proj: linear(d, d, true, device),
                    v_proj: linear(d, d, true, device),
                    out_proj: linear(d, d, true, device),
                    gru_rel_pos_const: wavlm
                        .then(|| Param::from_tensor(Tensor::zeros([1, heads, 1, 1], device))),
                    gru_rel_pos_linear: wavlm.then(|| linear(d / heads, 8, true, device)),
                    rel_attn_embed: (wavlm && i == 0).then(|| {
                        EmbeddingConfig::new(config.num_buckets, heads)
                            .with_initializer(Initializer::Zeros)
                            .init(device)
                    }),
                    heads,
                },
                layer_norm: layer_norm(d, eps, device),
                feed_forward: FeedForward {
                    intermediate_dense: linear(d, config.intermediate_size, true, device),
                    output_dense: linear(config.intermediate_size, d, true, device),
                    act: ff_act,
                },
                final_layer_norm: layer_norm(d, eps, device),
                pre_norm: config.do_stable_layer_norm,
            })
            .collect();
        let c_last = *config.conv_dim.last().expect("validated: non-empty");
        Ok(SslEncoder {
            feature_extractor: FeatureEncoder { conv_layers },
            feature_projection: FeatureProjection {
                layer_norm: config
                    .projection_norm()
                    .then(|| layer_norm(c_last, eps, device)),
                projection: linear(c_last, d, true, device),
            },
            encoder: Encoder {
                pos_conv_embed,
                layer_norm: layer_norm(d, eps, device),
                layers,
            },
            spec: Spec {
                pre_norm: config.do_stable_layer_norm,
                wavlm: wavlm.then_some((config.num_buckets, config.max_bucket_distance)),
            },
        })
    }

    /// Every layer's hidden states for waveforms `[batch, samples]` of equal length (16 kHz,
    /// normalized as the checkpoint's feature extractor says). No padding mask: clips of
    /// different lengths go in separate calls, or in windows of one length.
    pub fn forward(&self, wave: Tensor<2>) -> Hidden {
        let mut x = wave.unsqueeze_dim(1);
        for layer in &self.feature_extractor.conv_layers {
            x = layer.forward(x);
        }
        let mut x = x.swap_dims(1, 2);
        if let Some(n) = &self.feature_projection.layer_norm {
            x = n.forward(x);
        }
        let x = self.feature_projection.projection.forward(x);
        let enc = &self.encoder;
        let mut x = x.clone() + enc.pos_conv_embed.forward(x);
        if !self.spec.pre_norm {
            x = enc.layer_norm.forward(x);
        }
        let bias = self.position_bias(x.dims()[1], &x.device());
        let mut layers = vec![x.clone()];
        for layer in &enc.layers {
            x = layer.forward(x, bias.as_ref());
            layers.push(x.clone());
        }
        let last = if self.spec.pre_norm {
            enc.layer_norm.forward(x)
        } else {
            x
        };
        Hidden { layers, last }
    }

    /// WavLM's relative position bias `[1, heads, frames, frames]` from the first layer's
    /// bucket embedding (shared by every layer, each gating it); `None` for the others.
    fn position_bias(&self, t: usize, device: &Device) -> Option<Tensor<4>> {
        let (num_buckets, max_distance) = self.spec.wavlm?;
        let embed = self
            .encoder
            .layers
            .first()?
            .attention
            .rel_attn_embed
            .as_ref()?;
        let idx = Tensor::<1, Int>::from_data(
            TensorData::new(buckets(t, num_buckets, max_distance), [t * t]),
            device,
        );
        let w = embed.weight.val();
        let heads = w.dims()[1];
        let values = w.select(0, idx).reshape([t, t, heads]).permute([2, 0, 1]);
        Some(values.unsqueeze_dim(0))
    }

    /// Hidden states per layer, including the first layer's input.
    pub fn num_states(&self) -> usize {
        self.encoder.layers.len() + 1
    }
}

#[cfg(test)]
mod tests {
    use super::buckets;

    #[test]
    fn buckets_match_transformers_at_the_exact_and_logarithmic_ranges() {
        // transformers' WavLMAttention._relative_positions_bucket with num_buckets = 320,
        // max_distance = 800: half = 160, exact below 80; row 0 holds distances 0..t.
        let b = buckets(400, 320, 800);
        assert_eq!(b[0], 0);
        assert_eq!(b[1], 161); // key after query: +160
        assert_eq!(b[79], 160 + 79);
        // 80 -> 80 + floor(ln(1) ...) = 80; 399 -> 80 + floor(ln(399/80)/ln(10) * 80) = 135
        assert_eq!(b[80], 160 + 80);
        assert_eq!(b[399], 160 + 135);
        // query after key: no offset of 160.
        assert_eq!(b[400 * 399], 135);
    }
}
