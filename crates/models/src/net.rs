//! The networks: one [`Net`] module whose parts are present or absent by kind.

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AvgPool2d, AvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{
    BatchNorm, BatchNormConfig, BiLstm, BiLstmConfig, Dropout, DropoutConfig, Linear, LinearConfig,
    Lstm, LstmConfig as BurnLstmConfig, PaddingConfig2d,
};
use burn::tensor::activation;
use burn::tensor::{Device, Tensor, TensorData};

use crate::config::{
    Activation, CnnConfig, CnnReduce, ConfigError, HeadConfig, LstmConfig, NetConfig, NetKind,
    PoolKind, TimePooling, cnn_output_size,
};
use crate::recurrent;

fn activate<const D: usize>(a: Activation, x: Tensor<D>) -> Tensor<D> {
    match a {
        Activation::Relu => activation::relu(x),
        Activation::Gelu => activation::gelu(x),
        Activation::Silu => activation::silu(x),
        Activation::LeakyRelu => activation::leaky_relu(x, 0.01),
    }
}

/// Max or average pooling, as a module.
#[derive(Module, Debug)]
enum Pool {
    Max(MaxPool2d),
    Avg(AvgPool2d),
}

/// One Conv2d + BatchNorm + activation + pooling + dropout block.
#[derive(Module, Debug)]
struct ConvBlock {
    conv: Conv2d,
    norm: BatchNorm,
    pool: Option<Pool>,
    dropout: Dropout,
    #[module(skip)]
    activation: Activation,
}

impl ConvBlock {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        #[cfg(feature = "tch")]
        if let Some(y) = self.torch_block(&x) {
            return self.dropout.forward(y);
        }
        let x = activate(self.activation, self.norm.forward(self.convolve(x)));
        let x = match &self.pool {
            Some(Pool::Max(p)) => p.forward(x),
            Some(Pool::Avg(p)) => p.forward(x),
            None => x,
        };
        self.dropout.forward(x)
    }

    /// The convolution; in training on LibTorch through libtorch's own backward, where the
    /// padding is the same on both sides (always, for ser's odd kernels).
    fn convolve(&self, x: Tensor<4>) -> Tensor<4> {
        #[cfg(feature = "tch")]
        if let (true, Some(bias)) = (crate::torch_graph::applies(&x.device()), &self.conv.bias) {
            let (c, [_, _, h, w]) = (&self.conv, x.dims());
            if let Some(padding) = symmetric_padding(c, [h, w]) {
                let conv = ([c.stride, padding, c.dilation], c.groups);
                return crate::torch_graph::conv2d(x, c.weight.val(), bias.val(), conv);
            }
        }
        self.conv.forward(x)
    }

    /// In training on LibTorch, the whole block but its dropout as one libtorch graph
    /// (torch_graph.rs), where it is convolution, BatchNorm, ReLU and unpadded pooling or
    /// none; `None` elsewhere.
    #[cfg(feature = "tch")]
    fn torch_block(&self, x: &Tensor<4>) -> Option<Tensor<4>> {
        use crate::torch_graph::BlockPool;
        let c = &self.conv;
        let applies = self.activation == Activation::Relu
            && self.norm.training.is_enabled()
            && crate::torch_graph::applies(&x.device());
        let (true, Some(bias)) = (applies, &c.bias) else {
            return None;
        };
        // Unpadded pooling (a padded average would also need burn's count_include_pad).
        let pool = match &self.pool {
            None => BlockPool::None,
            Some(Pool::Max(p))
                if p.padding == PaddingConfig2d::Valid && p.dilation == [1, 1] && !p.ceil_mode =>
            {
                BlockPool::Max([p.kernel_size, p.stride])
            }
            Some(Pool::Avg(p)) if p.padding == PaddingConfig2d::Valid && !p.ceil_mode => {
                BlockPool::Avg([p.kernel_size, p.stride])
            }
            Some(_) => return None,
        };
        let [_, _, h, w] = x.dims();
        let padding = symmetric_padding(c, [h, w])?;
        let params = crate::torch_graph::BlockParams {
            weight: c.weight.val(),
            bias: bias.val(),
            gamma: self.norm.gamma.val(),
            beta: self.norm.beta.val(),
            conv: ([c.stride, padding, c.dilation], c.groups),
            epsilon: self.norm.epsilon,
            pool,
        };
        let (y, mean, variance) = crate::torch_graph::conv_block(x.clone(), params);
        crate::torch_graph::update_running(&self.norm, mean, variance);
        Some(y)
    }
}

/// The padding of `conv` over an input of `size` (height, width) where it is the same on
/// both sides of each dimension (burn's `Same` puts an odd remainder at the end).
#[cfg(feature = "tch")]
fn symmetric_padding(conv: &Conv2d, size: [usize; 2]) -> Option<[usize; 2]> {
    // As burn's `Same`: padding to keep ceil(size / stride) outputs (dilation not counted).
    let same = |d: usize| {
        let (k, s, n) = (conv.kernel_size[d], conv.stride[d], size[d]);
        let total = match n.div_ceil(s) {
            0 => 0,
            out => ((out - 1) * s + k).saturating_sub(n),
        };
        (total % 2 == 0).then_some(total / 2)
    };
    match conv.padding {
        PaddingConfig2d::Same => Some([same(0)?, same(1)?]),
        PaddingConfig2d::Valid => Some([0, 0]),
        PaddingConfig2d::Explicit(top, left, bottom, right) => {
            (top == bottom && left == right).then_some([top, left])
        }
    }
}

/// One recurrent layer, one or both directions (boxed alike: a `BiLstm` is two `Lstm`s).
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
enum Recurrent {
    Uni(Lstm),
    Bi(BiLstm),
}

impl Recurrent {
    /// The layer's outputs from a zero state (both directions concatenated for a `BiLstm`,
    /// as burn's forward gives them), by ser's fused step loop.
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        match self {
            Recurrent::Uni(l) => recurrent::lstm(l, x, false),
            Recurrent::Bi(l) => Tensor::cat(
                vec![
                    recurrent::lstm(&l.forward, x.clone(), false),
                    recurrent::lstm(&l.reverse, x, true),
                ],
                2,
            ),
        }
    }
}

/// A speech emotion classifier over frame features `[batch, time, features]`.
#[derive(Module, Debug)]
pub struct Net {
    /// ssl_head: one score per encoder state (softmax gives the mixing weights).
    layer_weights: Option<Param<Tensor<1>>>,
    /// ssl_head: linear projection after the mix.
    projection: Option<Linear>,
    convs: Vec<ConvBlock>,
    lstms: Vec<Recurrent>,
    lstm_dropout: Dropout,
    attention: Option<Linear>,
    hidden: Vec<Linear>,
    head_dropout: Dropout,
    output: Linear,
    #[module(skip)]
    spec: Spec,
}

/// What the forward pass needs to know besides the weights.
#[derive(Debug, Clone)]
struct Spec {
    reduce: CnnReduce,
    pooling: TimePooling,
    bidirectional: bool,
    head_activation: Activation,
    n_classes: usize,
    /// Encoder states per frame (ssl_head), 0 otherwise.
    ssl_states: usize,
}

impl Net {
    /// Builds the network for frames of `n_features` values, segments of `frames` steps and
    /// `n_classes` labels, with fresh weights from the device's random generator.
    pub fn new(
        config: &NetConfig,
        n_features: usize,
        frames: usize,
        n_classes: usize,
        device: &Device,
    ) -> Result<Self, ConfigError> {
        config.validate(n_features, frames)?;
        if n_classes < 2 {
            return Err(ConfigError(format!(
                "{n_classes} class(es): a classifier needs at least 2"
            )));
        }
        let uses_cnn = matches!(config.kind, NetKind::Cnn | NetKind::CnnLstm);
        let uses_lstm = matches!(config.kind, NetKind::Lstm | NetKind::CnnLstm);
        let c: &CnnConfig = &config.cnn;
        let mut convs = Vec::new();
        if uses_cnn {
            let mut in_ch = 1;
            for &ch in &c.channels {
                let pool = (c.pool != [1, 1]).then(|| match c.pool_kind {
                    PoolKind::Max => {
                        Pool::Max(MaxPool2dConfig::new(c.pool).with_strides(c.pool).init())
                    }
                    PoolKind::Avg => {
                        Pool::Avg(AvgPool2dConfig::new(c.pool).with_strides(c.pool).init())
                    }
                });
                convs.push(ConvBlock {
                    conv: Conv2dConfig::new([in_ch, ch], c.kernel)
                        .with_stride(c.stride)
                        .with_padding(PaddingConfig2d::Same)
                        .init(device),
                    norm: BatchNormConfig::new(ch).init(device),
                    pool,
                    dropout: DropoutConfig::new(c.dropout).init(),
                    activation: c.activation,
                });
                in_ch = ch;
            }
        }
        let (f_out, _) = cnn_output_size(c, n_features, frames);
        let last_ch = c.channels.last().copied().unwrap_or(1);
        // Width of the vectors the LSTM (or the CNN's reduction) produces.
        let seq_width = if uses_cnn {
            last_ch * f_out
        } else {
            n_features
        };
        let l: &LstmConfig = &config.lstm;
        let mut lstms = Vec::new();
        let mut width = seq_width;
        if uses_lstm {
            for _ in 0..l.layers {
                lstms.push(if l.bidirectional {
                    Recurrent::Bi(
                        BiLstmConfig::new(width, l.hidden, true)
                            .with_batch_first(true)
                            .init(device),
                    )
                } else {
                    Recurrent::Uni(
                        BurnLstmConfig::new(width, l.hidden, true)
                            .with_batch_first(true)
                            .init(device),
                    )
                });
                width = if l.bidirectional {
                    2 * l.hidden
                } else {
                    l.hidden
                };
            }
        } else if uses_cnn {
            width = match c.reduce {
                CnnReduce::Mean | CnnReduce::Max => last_ch,
                CnnReduce::Flatten => last_ch * f_out,
            };
        }
        let ssl = config.kind == NetKind::SslHead;
        let sh = &config.ssl_head;
        let mut projection = None;
        if ssl {
            width = n_features / sh.states;
            if sh.projection > 0 {
                projection = Some(LinearConfig::new(width, sh.projection).init(device));
                width = sh.projection;
            }
        }
        let pooling = if ssl { sh.pooling } else { l.pooling };
        let attention = ((uses_lstm || ssl) && pooling == TimePooling::Attention)
            .then(|| LinearConfig::new(width, 1).init(device));
        let h: &HeadConfig = &config.head;
        let mut hidden = Vec::new();
        for &w in &h.hidden {
            hidden.push(LinearConfig::new(width, w).init(device));
            width = w;
        }
        Ok(Self {
            layer_weights: ssl.then(|| Param::from_tensor(Tensor::zeros([sh.states], device))),
            projection,
            convs,
            lstms,
            lstm_dropout: DropoutConfig::new(l.dropout).init(),
            attention,
            hidden,
            head_dropout: DropoutConfig::new(h.dropout).init(),
            output: LinearConfig::new(width, n_classes).init(device),
            spec: Spec {
                reduce: c.reduce,
                pooling,
                bidirectional: l.bidirectional,
                head_activation: h.activation,
                n_classes,
                ssl_states: if ssl { sh.states } else { 0 },
            },
        })
    }

    /// Number of classes the head predicts.
    pub fn n_classes(&self) -> usize {
        self.spec.n_classes
    }

    /// Class logits `[batch, classes]` for frames `x` `[batch, time, features]` of which the
    /// first `lengths[b]` steps of item b are real and the rest padding: pooling and
    /// attention only see the real steps.
    pub fn forward(&self, x: Tensor<3>, lengths: &[usize]) -> Tensor<2> {
        let [batch, time, _] = x.dims();
        assert_eq!(lengths.len(), batch, "one length per batch item");
        let device = x.device();
        let pooled = if self.convs.is_empty() {
            let x = self.mix_states(x);
            self.sequence(x, lengths, time, &device)
        } else {
            // [B, T, F] -> [B, 1, F, T]: height = frequency, width = time.
            let mut m = x.swap_dims(1, 2).unsqueeze_dim::<4>(1);
            for block in &self.convs {
                m = block.forward(m);
            }
            let [b, ch, f, t] = m.dims();
            if self.lstms.is_empty() {
                let mask = time_mask(lengths, time, t, &device); // [B, T']
                match self.spec.reduce {
                    CnnReduce::Mean => {
                        let w = mask.clone().reshape([b, 1, 1, t]);
                        let sum = (m * w).sum_dim(3).sum_dim(2).reshape([b, ch]);
                        let count = mask.sum_dim(1).reshape([b, 1]) * (f as f64);
                        sum / count
                    }
                    CnnReduce::Max => {
                        let pad = (mask.reshape([b, 1, 1, t]) - 1.0) * 1e9;
                        (m + pad).max_dim(3).max_dim(2).reshape([b, ch])
                    }
                    CnnReduce::Flatten => {
                        let w = mask.clone().reshape([b, 1, 1, t]);
                        let sum = (m * w).sum_dim(3).reshape([b, ch * f]);
                        sum / mask.sum_dim(1).reshape([b, 1])
                    }
                }
            } else {
                // [B, C, F', T'] -> [B, T', C * F']
                let seq = m.permute([0, 3, 1, 2]).reshape([b, t, ch * f]);
                self.sequence(seq, lengths, time, &device)
            }
        };
        let mut h = pooled;
        for layer in &self.hidden {
            h = activate(
                self.spec.head_activation,
                layer.forward(self.head_dropout.forward(h)),
            );
        }
        self.output.forward(self.head_dropout.forward(h))
    }

    /// ssl_head: frames `[B, T, S * H]` to `[B, T, H]` by softmax weights over the S states,
    /// then the projection; other kinds pass through.
    fn mix_states(&self, x: Tensor<3>) -> Tensor<3> {
        let Some(w) = &self.layer_weights else {
            return x;
        };
        let [b, t, d] = x.dims();
        let s = self.spec.ssl_states;
        let w = activation::softmax(w.val(), 0).reshape([1, 1, s, 1]);
        let mixed = (x.reshape([b, t, s, d / s]) * w)
            .sum_dim(2)
            .reshape([b, t, d / s]);
        match &self.projection {
            Some(p) => p.forward(mixed),
            None => mixed,
        }
    }

    /// LSTM stack + pooling over a sequence `[B, T', D]` whose items were `lengths` of
    /// `time` input steps long.
    fn sequence(
        &self,
        mut s: Tensor<3>,
        lengths: &[usize],
        time: usize,
        device: &Device,
    ) -> Tensor<2> {
        for layer in &self.lstms {
            s = self.lstm_dropout.forward(layer.forward(s));
        }
        let [b, t, d] = s.dims();
        let valid = reduced_lengths(lengths, time, t);
        match self.spec.pooling {
            TimePooling::Mean => {
                let mask = time_mask(lengths, time, t, device);
                let sum = (s * mask.clone().reshape([b, t, 1]))
                    .sum_dim(1)
                    .reshape([b, d]);
                sum / mask.sum_dim(1).reshape([b, 1])
            }
            TimePooling::Last => {
                let last: Vec<i64> = valid.iter().map(|&v| v as i64 - 1).collect();
                let idx =
                    Tensor::<1, burn::tensor::Int>::from_data(TensorData::new(last, [b]), device)
                        .reshape([b, 1, 1])
                        .expand([b, 1, d]);
                let at_last = s.clone().gather(1, idx).reshape([b, d]);
                if self.spec.bidirectional && !self.lstms.is_empty() {
                    let half = d / 2;
                    let first = s.narrow(1, 0, 1).reshape([b, d]);
                    Tensor::cat(
                        vec![at_last.narrow(1, 0, half), first.narrow(1, half, half)],
                        1,
                    )
                } else {
                    at_last
                }
            }
            TimePooling::Attention => {
                let mask = time_mask(lengths, time, t, device);
                let score = self
                    .attention
                    .as_ref()
                    .expect("attention pooling has a score layer")
                    .forward(s.clone())
                    .reshape([b, t]);
                let score = score + (mask - 1.0) * 1e9;
                let w = activation::softmax(score, 1).reshape([b, t, 1]);
                (s * w).sum_dim(1).reshape([b, d])
            }
        }
    }
}

/// Valid steps of each item after the time axis shrank from `time` to `reduced` steps:
/// ceil(len * reduced / time), at least 1, at most `reduced`.
pub fn reduced_lengths(lengths: &[usize], time: usize, reduced: usize) -> Vec<usize> {
    lengths
        .iter()
        .map(|&l| {
            let l = l.min(time);
            (l * reduced).div_ceil(time.max(1)).clamp(1, reduced.max(1))
        })
        .collect()
}

/// `[B, reduced]` mask, 1 for valid steps, 0 for padding.
fn time_mask(lengths: &[usize], time: usize, reduced: usize, device: &Device) -> Tensor<2> {
    let valid = reduced_lengths(lengths, time, reduced);
    let mut m = vec![0f32; valid.len() * reduced];
    for (b, &v) in valid.iter().enumerate() {
        m[b * reduced..b * reduced + v].fill(1.0);
    }
    Tensor::from_data(TensorData::new(m, [valid.len(), reduced]), device)
}

/// A tensor's values (row-major) and shape, off the device.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    /// Shape.
    pub dims: Vec<usize>,
    /// Values, row-major.
    pub data: Vec<f32>,
}

fn host<const D: usize>(t: Tensor<D>) -> HostTensor {
    HostTensor {
        dims: t.dims().to_vec(),
        data: t
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .expect("f32 weights"),
    }
}

/// One Conv2d block's weights, for exporters.
#[derive(Debug, Clone)]
pub struct ConvWeights {
    /// `[out, in, kh, kw]`.
    pub weight: HostTensor,
    /// `[out]`, if any.
    pub bias: Option<HostTensor>,
    /// Stride (frequency, time); padding is "same" (extra at the end when odd).
    pub stride: [usize; 2],
    /// BatchNorm scale, shift, running mean and variance (`[out]` each) and epsilon.
    pub norm: [HostTensor; 4],
    /// BatchNorm epsilon.
    pub epsilon: f64,
    /// Activation after the norm.
    pub activation: Activation,
    /// Pooling after the activation (kernel = stride), if any.
    pub pool: Option<(PoolKind, [usize; 2])>,
}

/// One recurrent layer in ONNX's LSTM layout: gates in the order input, output, forget,
/// cell; directions forward then reverse.
#[derive(Debug, Clone)]
pub struct LstmWeights {
    /// `[directions, 4 * hidden, input]`.
    pub w: HostTensor,
    /// `[directions, 4 * hidden, hidden]`.
    pub r: HostTensor,
    /// `[directions, 8 * hidden]`: input biases, then recurrent biases.
    pub b: HostTensor,
    /// Hidden units per direction.
    pub hidden: usize,
}

/// Everything an exporter needs to rebuild [`Net`]'s inference graph (dropout is the
/// identity there).
#[derive(Debug, Clone)]
pub struct NetWeights {
    /// ssl_head: the mixing weights over the encoder states (softmax applied), `[S]`.
    pub layer_weights: Option<HostTensor>,
    /// ssl_head: the projection `[H, P]` and `[P]` after the mix.
    pub projection: Option<(HostTensor, HostTensor)>,
    /// Conv blocks, in order (empty for the LSTM).
    pub convs: Vec<ConvWeights>,
    /// How the CNN's map becomes a vector when there is no LSTM.
    pub reduce: CnnReduce,
    /// Recurrent layers, in order (empty for the CNN).
    pub lstms: Vec<LstmWeights>,
    /// Whether the LSTMs are bidirectional.
    pub bidirectional: bool,
    /// Pooling over time after the LSTMs.
    pub pooling: TimePooling,
    /// Attention score layer `[d, 1]` and `[1]`, for attention pooling.
    pub attention: Option<(HostTensor, HostTensor)>,
    /// Hidden head layers `[in, out]` and `[out]`.
    pub hidden: Vec<(HostTensor, HostTensor)>,
    /// Activation of the hidden head layers.
    pub head_activation: Activation,
    /// Output layer `[in, classes]` and `[classes]`.
    pub output: (HostTensor, HostTensor),
}

fn linear(l: &Linear) -> (HostTensor, HostTensor) {
    let w = host(l.weight.val());
    let out = w.dims[1];
    let b = l.bias.as_ref().map_or(
        HostTensor {
            dims: vec![out],
            data: vec![0.0; out],
        },
        |b| host(b.val()),
    );
    (w, b)
}

/// ONNX gate blocks of one direction: `[4h, in]`, `[4h, h]`, `[8h]` (i, o, f, c).
fn lstm_direction(l: &Lstm) -> (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>) {
    let forget = l
        .forget_gate
        .as_ref()
        .expect("ser builds LSTMs with a forget gate");
    let gates = [&l.input_gate, &l.output_gate, forget, &l.cell_gate];
    let (mut w, mut r, mut wb, mut rb) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for g in gates {
        // burn's Linear weight is [in, out]; ONNX wants [out, in].
        for (dst, bias, lin) in [
            (&mut w, &mut wb, &g.input_transform),
            (&mut r, &mut rb, &g.hidden_transform),
        ] {
            let (m, b) = linear(lin);
            let (n_in, n_out) = (m.dims[0], m.dims[1]);
            for o in 0..n_out {
                for i in 0..n_in {
                    dst.push(m.data[i * n_out + o]);
                }
            }
            bias.extend_from_slice(&b.data);
        }
    }
    (w, r, wb, rb)
}

impl Net {
    /// The weights and structure of the inference graph, on the host.
    pub fn weights(&self) -> NetWeights {
        let convs = self
            .convs
            .iter()
            .map(|c| ConvWeights {
                weight: host(c.conv.weight.val()),
                bias: c.conv.bias.as_ref().map(|b| host(b.val())),
                stride: c.conv.stride,
                norm: [
                    host(c.norm.gamma.val()),
                    host(c.norm.beta.val()),
                    host(c.norm.running_mean.value()),
                    host(c.norm.running_var.value()),
                ],
                epsilon: c.norm.epsilon,
                activation: c.activation,
                pool: c.pool.as_ref().map(|p| match p {
                    Pool::Max(m) => (PoolKind::Max, m.kernel_size),
                    Pool::Avg(a) => (PoolKind::Avg, a.kernel_size),
                }),
            })
            .collect();
        let lstms = self
            .lstms
            .iter()
            .map(|layer| {
                let dirs: Vec<&Lstm> = match layer {
                    Recurrent::Uni(l) => vec![l],
                    Recurrent::Bi(b) => vec![&b.forward, &b.reverse],
                };
                let hidden = dirs[0].d_hidden;
                let (mut w, mut r, mut b) = (Vec::new(), Vec::new(), Vec::new());
                for d in &dirs {
                    let (dw, dr, wb, rb) = lstm_direction(d);
                    w.extend(dw);
                    r.extend(dr);
                    b.extend(wb);
                    b.extend(rb);
                }
                let n = dirs.len();
                let input = w.len() / (n * 4 * hidden);
                LstmWeights {
                    w: HostTensor {
                        dims: vec![n, 4 * hidden, input],
                        data: w,
                    },
                    r: HostTensor {
                        dims: vec![n, 4 * hidden, hidden],
                        data: r,
                    },
                    b: HostTensor {
                        dims: vec![n, 8 * hidden],
                        data: b,
                    },
                    hidden,
                }
            })
            .collect();
        NetWeights {
            layer_weights: self
                .layer_weights
                .as_ref()
                .map(|w| host(activation::softmax(w.val(), 0))),
            projection: self.projection.as_ref().map(linear),
            convs,
            reduce: self.spec.reduce,
            lstms,
            bidirectional: self.spec.bidirectional,
            pooling: self.spec.pooling,
            attention: self.attention.as_ref().map(linear),
            hidden: self.hidden.iter().map(linear).collect(),
            head_activation: self.spec.head_activation,
            output: linear(&self.output),
        }
    }
}
