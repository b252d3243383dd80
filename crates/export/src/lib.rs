//! ONNX export of ser's networks: [`net_to_onnx`] rebuilds a trained [`ser_models::Net`]'s
//! inference graph (dropout is the identity there) from its weights, opset 17, with dynamic
//! batch and time axes: input `frames` `[batch, time, features]` (standardized frame
//! features, every item `time` steps long), output `probabilities` `[batch, classes]`.
//!
//! [`pipeline_to_onnx`] puts ser's feature front end ([`Frontend`]) before the network: the
//! graph then reads waveform samples and the file alone turns audio into probabilities.
//! [`ModelCard`] is the JSON file beside every export; [`OnnxModel`] runs an export (and
//! checks its card) in Rust.
//!
//! The graph is written here rather than by burn-onnx's experimental exporter, which handled
//! convolutions but not burn's LSTM when it was tried; one writer for every architecture keeps
//! the exported graph and ser's forward pass in one place to compare.

mod card;
mod frontend;
mod proto;
mod runtime;

pub use card::{CARD_FORMAT, CardError, CardInput, ModelCard};
pub use frontend::{Frontend, FrontendInfo, Segment, ShortFill};
pub use runtime::{OnnxModel, RuntimeError};

use prost::Message;
use ser_models::{Activation, CnnReduce, HostTensor, NetWeights, PoolKind, TimePooling};

use proto::{
    AttributeProto, Dimension, GraphProto, ModelProto, NodeProto, OperatorSetIdProto,
    StringStringEntryProto, TensorProto, TensorShapeProto, TypeProto, TypeTensor, ValueInfoProto,
    attr, dtype,
};

/// The opset every exported graph declares.
pub const OPSET: i64 = 17;

/// Why a graph could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The network has a part the exporter does not know.
    #[error("export: {0}")]
    Unsupported(String),
}

/// An attribute value.
pub(crate) enum A {
    I(i64),
    F(f32),
    Ints(Vec<i64>),
    S(&'static str),
}

/// A graph under construction: nodes, weights, unique names.
#[derive(Default)]
pub(crate) struct Graph {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    count: usize,
}

impl Graph {
    fn name(&mut self, hint: &str) -> String {
        self.count += 1;
        format!("{hint}_{}", self.count)
    }

    fn weight(&mut self, hint: &str, t: &HostTensor) -> String {
        let name = self.name(hint);
        self.initializers.push(TensorProto {
            dims: t.dims.iter().map(|&d| d as i64).collect(),
            data_type: dtype::FLOAT,
            name: name.clone(),
            raw_data: t.data.iter().flat_map(|v| v.to_le_bytes()).collect(),
        });
        name
    }

    /// A float initializer of shape `dims`.
    fn tensor(&mut self, hint: &str, dims: &[usize], data: Vec<f32>) -> String {
        self.weight(
            hint,
            &HostTensor {
                dims: dims.to_vec(),
                data,
            },
        )
    }

    /// An int64 scalar (rank 0) initializer.
    fn int_scalar(&mut self, hint: &str, v: i64) -> String {
        let name = self.name(hint);
        self.initializers.push(TensorProto {
            dims: vec![],
            data_type: dtype::INT64,
            name: name.clone(),
            raw_data: v.to_le_bytes().to_vec(),
        });
        name
    }

    /// `x * v`.
    fn mul_scalar(&mut self, x: &str, v: f32) -> String {
        let s = self.scalar("k", v);
        self.op("Mul", &[x, &s], vec![])
    }

    /// `x[start:end]` along `axis`.
    fn slice(&mut self, x: &str, start: i64, end: i64, axis: i64) -> String {
        let (st, en, ax) = (
            self.ints("starts", &[start]),
            self.ints("ends", &[end]),
            self.ints("axes", &[axis]),
        );
        self.op("Slice", &[x, &st, &en, &ax], vec![])
    }

    fn ints(&mut self, hint: &str, v: &[i64]) -> String {
        let name = self.name(hint);
        self.initializers.push(TensorProto {
            dims: vec![v.len() as i64],
            data_type: dtype::INT64,
            name: name.clone(),
            raw_data: v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        });
        name
    }

    fn scalar(&mut self, hint: &str, v: f32) -> String {
        self.weight(
            hint,
            &HostTensor {
                dims: vec![],
                data: vec![v],
            },
        )
    }

    /// Adds `op(inputs) -> one output` and returns the output's name.
    fn op(&mut self, op: &str, inputs: &[&str], attrs: Vec<(&str, A)>) -> String {
        let out = self.name(&op.to_ascii_lowercase());
        self.op_to(op, inputs, attrs, &out);
        out
    }

    fn op_to(&mut self, op: &str, inputs: &[&str], attrs: Vec<(&str, A)>, out: &str) {
        let attribute = attrs
            .into_iter()
            .map(|(name, a)| {
                let mut p = AttributeProto {
                    name: name.to_string(),
                    ..Default::default()
                };
                match a {
                    A::I(i) => {
                        p.i = i;
                        p.r#type = attr::INT;
                    }
                    A::F(f) => {
                        p.f = f;
                        p.r#type = attr::FLOAT;
                    }
                    A::Ints(v) => {
                        p.ints = v;
                        p.r#type = attr::INTS;
                    }
                    A::S(s) => {
                        p.s = s.as_bytes().to_vec();
                        p.r#type = attr::STRING;
                    }
                }
                p
            })
            .collect();
        let name = self.name(&format!("{op}_node"));
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![out.to_string()],
            name,
            op_type: op.to_string(),
            attribute,
        });
    }

    fn activation(&mut self, a: Activation, x: &str) -> String {
        match a {
            Activation::Relu => self.op("Relu", &[x], vec![]),
            Activation::LeakyRelu => self.op("LeakyRelu", &[x], vec![("alpha", A::F(0.01))]),
            Activation::Silu => {
                let s = self.op("Sigmoid", &[x], vec![]);
                self.op("Mul", &[x, &s], vec![])
            }
            Activation::Gelu => {
                // x * 0.5 * (1 + erf(x / sqrt 2)): Gelu is an operator only from opset 20.
                let r2 = self.scalar("sqrt2", std::f32::consts::SQRT_2);
                let (half, one) = (self.scalar("half", 0.5), self.scalar("one", 1.0));
                let d = self.op("Div", &[x, &r2], vec![]);
                let e = self.op("Erf", &[&d], vec![]);
                let p = self.op("Add", &[&e, &one], vec![]);
                let h = self.op("Mul", &[x, &half], vec![]);
                self.op("Mul", &[&h, &p], vec![])
            }
        }
    }

    /// `x @ w + b` for `x` `[..., in]`, `w` `[in, out]`.
    fn linear(&mut self, x: &str, (w, b): &(HostTensor, HostTensor)) -> String {
        let wn = self.weight("w", w);
        let bn = self.weight("b", b);
        let m = self.op("MatMul", &[x, &wn], vec![]);
        self.op("Add", &[&m, &bn], vec![])
    }
}

fn value_info(name: &str, dims: &[Result<i64, &str>]) -> ValueInfoProto {
    ValueInfoProto {
        name: name.to_string(),
        r#type: Some(TypeProto {
            tensor_type: Some(TypeTensor {
                elem_type: dtype::FLOAT,
                shape: Some(TensorShapeProto {
                    dim: dims
                        .iter()
                        .map(|d| match d {
                            Ok(v) => Dimension {
                                dim_value: Some(*v),
                                dim_param: None,
                            },
                            Err(p) => Dimension {
                                dim_value: None,
                                dim_param: Some(p.to_string()),
                            },
                        })
                        .collect(),
                }),
            }),
        }),
    }
}

/// Feature standardization the graph applies to its input first: `(x - mean) / std` per
/// feature (the training split's statistics).
pub struct Standardize<'a> {
    /// Mean per feature.
    pub mean: &'a [f32],
    /// Standard deviation per feature.
    pub std: &'a [f32],
}

/// The ONNX model (serialized `ModelProto`) of a network reading `n_features` values per
/// frame and predicting `classes` (names, in output order). With `standardize`, the graph
/// takes the features as computed and standardizes them itself; without it, it takes
/// standardized features. `metadata` goes into the model's metadata properties.
pub fn net_to_onnx(
    net: &NetWeights,
    n_features: usize,
    classes: &[String],
    standardize: Option<Standardize<'_>>,
    metadata: &[(String, String)],
) -> Result<Vec<u8>, ExportError> {
    let mut g = Graph::default();
    net_graph(&mut g, "frames", net, n_features, classes, standardize)?;
    Ok(model(
        g,
        value_info(
            "frames",
            &[Err("batch"), Err("time"), Ok(n_features as i64)],
        ),
        probabilities(classes),
        with_classes(classes, metadata),
        "speech emotion recognition: frame features in, class probabilities out",
    ))
}

/// The ONNX model of the whole pipeline: input `waveform` `[batch, samples]` (mono samples
/// in 16-bit range, `-32768..32767`, at the config's rate, every item `samples` long and at
/// least [`FrontendInfo::min_samples`]), the front end, then the network as in
/// [`net_to_onnx`]; output `probabilities` `[batch, classes]`.
pub fn pipeline_to_onnx(
    net: &NetWeights,
    frontend: &Frontend<'_>,
    classes: &[String],
    standardize: Option<Standardize<'_>>,
    metadata: &[(String, String)],
) -> Result<Vec<u8>, ExportError> {
    let info = frontend.check()?;
    let mut g = Graph::default();
    let frames = frontend.build(&mut g, "waveform")?;
    net_graph(&mut g, &frames, net, info.n_features, classes, standardize)?;
    Ok(model(
        g,
        value_info("waveform", &[Err("batch"), Err("samples")]),
        probabilities(classes),
        with_classes(classes, metadata),
        "speech emotion recognition: waveform samples (16-bit range) in, class probabilities out",
    ))
}

/// The front end alone as an ONNX model: `waveform` `[batch, samples]` in (as in
/// [`pipeline_to_onnx`]), `features` `[batch, time, n_features]` out, the frame features (and
/// segment) ser computes, for serving features to another model.
pub fn frontend_to_onnx(
    frontend: &Frontend<'_>,
    metadata: &[(String, String)],
) -> Result<Vec<u8>, ExportError> {
    let info = frontend.check()?;
    let mut g = Graph::default();
    let frames = frontend.build(&mut g, "waveform")?;
    g.op_to("Identity", &[&frames], vec![], "features");
    Ok(model(
        g,
        value_info("waveform", &[Err("batch"), Err("samples")]),
        value_info(
            "features",
            &[Err("batch"), Err("time"), Ok(info.n_features as i64)],
        ),
        metadata.to_vec(),
        "ser's feature front end: waveform samples (16-bit range) in, frame features out",
    ))
}

/// Adds the network reading `frames` `[B, T, n_features]` and ending in `probabilities`.
fn net_graph(
    g: &mut Graph,
    frames: &str,
    net: &NetWeights,
    n_features: usize,
    classes: &[String],
    standardize: Option<Standardize<'_>>,
) -> Result<(), ExportError> {
    let standardized;
    let input: &str = match standardize {
        None => frames,
        Some(s) => {
            if s.mean.len() != n_features || s.std.len() != n_features {
                return Err(ExportError::Unsupported(format!(
                    "standardization for {} features, the network reads {n_features}",
                    s.mean.len()
                )));
            }
            let t = |v: &[f32]| HostTensor {
                dims: vec![v.len()],
                data: v.to_vec(),
            };
            let (m, d) = (g.weight("mean", &t(s.mean)), g.weight("std", &t(s.std)));
            let c = g.op("Sub", &[frames, &m], vec![]);
            standardized = g.op("Div", &[&c, &d], vec![]);
            &standardized
        }
    };
    let mut seq: Option<String> = None; // [B, T, D] for the LSTMs
    let pooled: String;
    if net.convs.is_empty() {
        seq = Some(match &net.layer_weights {
            None => input.to_string(),
            Some(w) => ssl_mix(g, input, w, net.projection.as_ref()),
        });
        pooled = String::new();
    } else {
        // [B, T, F] -> [B, 1, F, T]
        let t = g.op(
            "Transpose",
            &[input],
            vec![("perm", A::Ints(vec![0, 2, 1]))],
        );
        let axes = g.ints("axes", &[1]);
        let mut m = g.op("Unsqueeze", &[&t, &axes], vec![]);
        for c in &net.convs {
            let k = [c.weight.dims[2] as i64, c.weight.dims[3] as i64];
            let w = g.weight("conv_w", &c.weight);
            let mut ins = vec![m.clone(), w];
            if let Some(b) = &c.bias {
                ins.push(g.weight("conv_b", b));
            }
            let refs: Vec<&str> = ins.iter().map(String::as_str).collect();
            let conv = g.op(
                "Conv",
                &refs,
                vec![
                    ("kernel_shape", A::Ints(k.to_vec())),
                    (
                        "strides",
                        A::Ints(c.stride.iter().map(|&s| s as i64).collect()),
                    ),
                    ("auto_pad", A::S("SAME_UPPER")),
                ],
            );
            let [scale, shift, mean, var] = &c.norm;
            let names: Vec<String> = [scale, shift, mean, var]
                .iter()
                .map(|t| g.weight("bn", t))
                .collect();
            let bn = g.op(
                "BatchNormalization",
                &[&conv, &names[0], &names[1], &names[2], &names[3]],
                vec![("epsilon", A::F(c.epsilon as f32))],
            );
            m = g.activation(c.activation, &bn);
            if let Some((kind, p)) = c.pool {
                let op = match kind {
                    PoolKind::Max => "MaxPool",
                    PoolKind::Avg => "AveragePool",
                };
                let p = vec![p[0] as i64, p[1] as i64];
                m = g.op(
                    op,
                    &[&m],
                    vec![
                        ("kernel_shape", A::Ints(p.clone())),
                        ("strides", A::Ints(p)),
                    ],
                );
            }
        }
        if net.lstms.is_empty() {
            pooled = match net.reduce {
                CnnReduce::Mean => g.op(
                    "ReduceMean",
                    &[&m],
                    vec![("axes", A::Ints(vec![2, 3])), ("keepdims", A::I(0))],
                ),
                CnnReduce::Max => g.op(
                    "ReduceMax",
                    &[&m],
                    vec![("axes", A::Ints(vec![2, 3])), ("keepdims", A::I(0))],
                ),
                CnnReduce::Flatten => {
                    let r = g.op(
                        "ReduceMean",
                        &[&m],
                        vec![("axes", A::Ints(vec![3])), ("keepdims", A::I(0))],
                    );
                    let shape = g.ints("shape", &[0, -1]);
                    g.op("Reshape", &[&r, &shape], vec![])
                }
            };
        } else {
            // [B, C, F', T'] -> [B, T', C * F']
            let p = g.op(
                "Transpose",
                &[&m],
                vec![("perm", A::Ints(vec![0, 3, 1, 2]))],
            );
            let shape = g.ints("shape", &[0, 0, -1]);
            seq = Some(g.op("Reshape", &[&p, &shape], vec![]));
            pooled = String::new();
        }
    }
    let pooled = match seq {
        None => pooled,
        Some(mut s) => {
            for l in &net.lstms {
                let dirs = l.w.dims[0];
                let (w, r, b) = (
                    g.weight("lstm_w", &l.w),
                    g.weight("lstm_r", &l.r),
                    g.weight("lstm_b", &l.b),
                );
                // onnxruntime runs only the sequence-first layout: [B, T, D] -> [T, B, D].
                let x = g.op("Transpose", &[&s], vec![("perm", A::Ints(vec![1, 0, 2]))]);
                let direction = if dirs == 2 {
                    "bidirectional"
                } else {
                    "forward"
                };
                let y = g.op(
                    "LSTM",
                    &[&x, &w, &r, &b],
                    vec![
                        ("hidden_size", A::I(l.hidden as i64)),
                        ("direction", A::S(direction)),
                    ],
                );
                // Y [T, directions, B, hidden] -> [B, T, directions * hidden]
                let y = g.op(
                    "Transpose",
                    &[&y],
                    vec![("perm", A::Ints(vec![2, 0, 1, 3]))],
                );
                let shape = g.ints("shape", &[0, 0, -1]);
                s = g.op("Reshape", &[&y, &shape], vec![]);
            }
            match net.pooling {
                TimePooling::Mean => g.op(
                    "ReduceMean",
                    &[&s],
                    vec![("axes", A::Ints(vec![1])), ("keepdims", A::I(0))],
                ),
                TimePooling::Attention => {
                    let att = net.attention.as_ref().ok_or_else(|| {
                        ExportError::Unsupported("attention pooling without its layer".into())
                    })?;
                    let score = g.linear(&s, att); // [B, T, 1]
                    let w = g.op("Softmax", &[&score], vec![("axis", A::I(1))]);
                    let ws = g.op("Mul", &[&s, &w], vec![]);
                    let axes = g.ints("axes", &[1]);
                    g.op("ReduceSum", &[&ws, &axes], vec![("keepdims", A::I(0))])
                }
                TimePooling::Last => {
                    let step = |g: &mut Graph, s: &str, at: i64| {
                        let (st, en, ax) = (
                            g.ints("starts", &[at]),
                            g.ints("ends", &[if at < 0 { i64::MAX } else { at + 1 }]),
                            g.ints("axes", &[1]),
                        );
                        let sl = g.op("Slice", &[s, &st, &en, &ax], vec![]);
                        let sq = g.ints("axes", &[1]);
                        g.op("Squeeze", &[&sl, &sq], vec![])
                    };
                    let last = step(g, &s, -1);
                    if net.bidirectional && !net.lstms.is_empty() {
                        // Forward half from the last step, reverse half from the first.
                        let half = net.lstms.last().expect("lstm").hidden as i64;
                        let first = step(g, &s, 0);
                        let part = |g: &mut Graph, x: &str, a: i64, b: i64| {
                            let (st, en, ax) = (
                                g.ints("starts", &[a]),
                                g.ints("ends", &[b]),
                                g.ints("axes", &[1]),
                            );
                            g.op("Slice", &[x, &st, &en, &ax], vec![])
                        };
                        let f = part(g, &last, 0, half);
                        let r = part(g, &first, half, 2 * half);
                        g.op("Concat", &[&f, &r], vec![("axis", A::I(1))])
                    } else {
                        last
                    }
                }
            }
        }
    };
    let mut h = pooled;
    for layer in &net.hidden {
        let l = g.linear(&h, layer);
        h = g.activation(net.head_activation, &l);
    }
    let logits = g.linear(&h, &net.output);
    g.op_to(
        "Softmax",
        &[&logits],
        vec![("axis", A::I(1))],
        "probabilities",
    );
    if classes.len() != net.output.1.dims[0] {
        return Err(ExportError::Unsupported(format!(
            "{} class names for {} outputs",
            classes.len(),
            net.output.1.dims[0]
        )));
    }
    Ok(())
}

/// ssl_head: `[B, T, S * H]` frames mixed over the S states by the (softmaxed) weights into
/// `[B, T, H]`, then projected.
fn ssl_mix(
    g: &mut Graph,
    x: &str,
    weights: &HostTensor,
    projection: Option<&(HostTensor, HostTensor)>,
) -> String {
    let s = weights.dims[0];
    let shape = g.ints("shape", &[0, 0, s as i64, -1]);
    let split = g.op("Reshape", &[x, &shape], vec![]);
    let w = g.weight(
        "layer_weights",
        &HostTensor {
            dims: vec![s, 1],
            data: weights.data.clone(),
        },
    );
    let weighted = g.op("Mul", &[&split, &w], vec![]);
    let axes = g.ints("axes", &[2]);
    let mixed = g.op(
        "ReduceSum",
        &[&weighted, &axes],
        vec![("keepdims", A::I(0))],
    );
    match projection {
        Some(p) => g.linear(&mixed, p),
        None => mixed,
    }
}

/// The `probabilities` output.
fn probabilities(classes: &[String]) -> ValueInfoProto {
    value_info("probabilities", &[Err("batch"), Ok(classes.len() as i64)])
}

/// `metadata` after a `classes` entry naming the outputs in order.
fn with_classes(classes: &[String], metadata: &[(String, String)]) -> Vec<(String, String)> {
    let mut v = vec![("classes".to_string(), classes.join(","))];
    v.extend_from_slice(metadata);
    v
}

/// The serialized model of `g` with one input and one output.
fn model(
    g: Graph,
    input: ValueInfoProto,
    output: ValueInfoProto,
    metadata: Vec<(String, String)>,
    doc: &str,
) -> Vec<u8> {
    let graph = GraphProto {
        node: g.nodes,
        name: "ser".into(),
        initializer: g.initializers,
        input: vec![input],
        output: vec![output],
    };
    let props = metadata
        .into_iter()
        .map(|(key, value)| StringStringEntryProto { key, value })
        .collect();
    let model = ModelProto {
        ir_version: 8,
        producer_name: "ser".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        doc_string: doc.into(),
        graph: Some(graph),
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
        }],
        metadata_props: props,
    };
    model.encode_to_vec()
}
