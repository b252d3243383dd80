//! Conv blocks, convolutions and LSTM layers whose backward pass libtorch's own autograd
//! computes, on burn's LibTorch backend (the `tch` feature).
//!
//! burn differentiates a convolution through its generic formulas (the input gradient as a
//! transposed convolution, the weight gradient as a convolution of the transposed input and
//! output gradient, copies of both, and a copy for the bias gradient), a training BatchNorm
//! out of tensor operations, and an LSTM through its step loop (recurrent.rs), op by op.
//! PyTorch runs the same layers through oneDNN's convolution backward, its fused BatchNorm
//! kernels and its fused LSTM, and tch 0.22 exposes none of those backward functions. So
//! here the forward runs under libtorch's autograd on leaf views of burn's tensors, burn
//! keeps a detached output, and the backward of the burn node asks libtorch for the
//! gradients of the recorded graph (`run_backward` on the scalar `dot(output, grad)`, whose
//! gradient with respect to the output is `grad`). Only the gradients burn needs are
//! requested, so libtorch skips the rest (the first convolution's input gradient). A whole
//! conv block (convolution, BatchNorm, ReLU, pooling) is one recorded graph, so that seed is
//! the pooled output, a quarter of the convolution's. Hand-written because burn
//! offers no bridge into another autograd.

// The extension macro reads each output from the signature, so the tuples are spelled out.
#![allow(clippy::type_complexity)]

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, NodeGuard, Ops, OpsKind};
use burn::backend::libtorch::TchTensor;
use burn::backend::{
    Backend, Dispatch, DispatchDevice, LibTorch, backend_extension, tensor::FloatTensor,
};
use burn::module::RunningState;
use burn::nn::BatchNorm;
use burn::tensor::{Device, Tensor};

/// The pooling that ends a conv block: kernel and stride, no padding.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BlockPool {
    /// No pooling.
    None,
    /// Max pooling, `[kernel, stride]`.
    Max([[usize; 2]; 2]),
    /// Average pooling, `[kernel, stride]`.
    Avg([[usize; 2]; 2]),
}

/// A convolution's geometry: `[stride, padding (the same on both sides), dilation]`, each
/// per dimension, and the groups.
pub type ConvArgs = ([[usize; 2]; 3], usize);

/// Operations recorded by libtorch's autograd. Every forward returns the detached output,
/// the recorded output (the tape) and the leaves the gradients are taken for.
#[backend_extension(LibTorch, Autodiff)]
pub trait TorchGraphOps: Backend {
    /// 2-D convolution: `(output, tape, x, weight, bias)`.
    fn graph_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        conv: ConvArgs,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    );

    /// A conv block in training: convolution, BatchNorm with the batch's statistics, ReLU,
    /// then `pool`: `(output, tape, batch mean, biased batch variance, x, weight, bias,
    /// gamma, beta)`.
    #[allow(clippy::too_many_arguments)]
    fn graph_conv_block(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        conv: ConvArgs,
        epsilon: f64,
        pool: BlockPool,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    );

    /// One LSTM direction from a zero state over `x [batch, time, input]`, weights in
    /// PyTorch's layout and gate order (i, f, g, o): `w_ih [4h, input]`, `w_hh [4h, h]`,
    /// `bias [4h]`; `(output [batch, time, h], tape, x, w_ih, w_hh, bias)`.
    fn graph_lstm(
        x: FloatTensor<Self>,
        w_ih: FloatTensor<Self>,
        w_hh: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        reverse: bool,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    );

    /// Gradients of the recorded `tape` with respect to the leaves `a` to `e`, given its own
    /// gradient; a leaf whose `need` is false gets an empty tensor and costs nothing.
    #[allow(clippy::too_many_arguments)]
    fn graph_backward(
        tape: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        a: FloatTensor<Self>,
        b: FloatTensor<Self>,
        c: FloatTensor<Self>,
        d: FloatTensor<Self>,
        e: FloatTensor<Self>,
        need: [bool; 5],
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    );
}

/// A leaf of libtorch's autograd over `t`'s data. It shares burn's storage handle too, so
/// that burn, which writes in place into tensors it holds the only handle of, leaves the
/// data alone while the recorded graph may read it.
fn leaf(t: &TchTensor) -> TchTensor {
    TchTensor {
        tensor: t.tensor.detach().set_requires_grad(true),
        storage: t.storage.clone(),
    }
}

/// The detached output for burn and the recorded tape, sharing one storage handle (see
/// [`leaf`]: an output the graph saved, such as the ReLU's or the LSTM's, must not change).
fn outputs(y: tch::Tensor) -> (TchTensor, TchTensor) {
    let tape = TchTensor::new(y);
    let out = TchTensor {
        tensor: tape.tensor.detach(),
        storage: tape.storage.clone(),
    };
    (out, tape)
}

fn ints(v: [usize; 2]) -> [i64; 2] {
    v.map(|x| x as i64)
}

/// The biased variance the running statistics take, from libtorch's `1 / sqrt(var + eps)`;
/// clamped where rounding makes a constant channel's slightly negative.
fn variance_from_invstd(invstd: &tch::Tensor, epsilon: f64) -> tch::Tensor {
    (invstd.square().reciprocal() - epsilon).clamp_min(0.0)
}

/// The convolution of `x` by `w` and `b` on libtorch.
fn convolve(x: &tch::Tensor, w: &tch::Tensor, b: &tch::Tensor, conv: ConvArgs) -> tch::Tensor {
    let ([stride, padding, dilation], groups) = conv;
    x.conv2d(
        w,
        Some(b),
        ints(stride),
        ints(padding),
        ints(dilation),
        groups as i64,
    )
}

impl TorchGraphOps for LibTorch {
    fn graph_conv2d(
        x: TchTensor,
        weight: TchTensor,
        bias: TchTensor,
        conv: ConvArgs,
    ) -> (TchTensor, TchTensor, TchTensor, TchTensor, TchTensor) {
        let (x, w, b) = (leaf(&x), leaf(&weight), leaf(&bias));
        let (out, tape) = outputs(tch::with_grad(|| {
            convolve(&x.tensor, &w.tensor, &b.tensor, conv)
        }));
        (out, tape, x, w, b)
    }

    fn graph_conv_block(
        x: TchTensor,
        weight: TchTensor,
        bias: TchTensor,
        gamma: TchTensor,
        beta: TchTensor,
        conv: ConvArgs,
        epsilon: f64,
        pool: BlockPool,
    ) -> (
        TchTensor,
        TchTensor,
        TchTensor,
        TchTensor,
        TchTensor,
        TchTensor,
        TchTensor,
        TchTensor,
        TchTensor,
    ) {
        let (x, w, b) = (leaf(&x), leaf(&weight), leaf(&bias));
        let (g, be) = (leaf(&gamma), leaf(&beta));
        let (y, mean, invstd) = tch::with_grad(|| {
            let c = convolve(&x.tensor, &w.tensor, &b.tensor, conv);
            let (mut n, mean, invstd) = c.native_batch_norm(
                Some(&g.tensor),
                Some(&be.tensor),
                None,
                None,
                true,
                0.0,
                epsilon,
            );
            // In place: BatchNorm's backward reads its input and statistics, not its output.
            let _ = n.relu_();
            let y = match pool {
                BlockPool::None => n,
                BlockPool::Max([k, s]) => n.max_pool2d(ints(k), ints(s), [0, 0], [1, 1], false),
                BlockPool::Avg([k, s]) => n.avg_pool2d(ints(k), ints(s), [0, 0], false, true, None),
            };
            (y, mean, invstd)
        });
        let variance = variance_from_invstd(&invstd, epsilon);
        let (out, tape) = outputs(y);
        // A copy of the mean: the graph saved it, and burn updates running statistics in place.
        let t = TchTensor::new;
        (out, tape, t(mean.copy()), t(variance), x, w, b, g, be)
    }

    fn graph_lstm(
        x: TchTensor,
        w_ih: TchTensor,
        w_hh: TchTensor,
        bias: TchTensor,
        reverse: bool,
    ) -> (
        TchTensor,
        TchTensor,
        TchTensor,
        TchTensor,
        TchTensor,
        TchTensor,
    ) {
        let (x, w_ih, w_hh, b) = (leaf(&x), leaf(&w_ih), leaf(&w_hh), leaf(&bias));
        let y = tch::with_grad(|| {
            let input = match reverse {
                true => x.tensor.flip([1i64]),
                false => x.tensor.shallow_clone(),
            };
            let (batch, hidden) = (x.tensor.size()[0], w_hh.tensor.size()[1]);
            let options = (x.tensor.kind(), x.tensor.device());
            let zeros = || tch::Tensor::zeros([1, batch, hidden], options);
            // libtorch takes two biases; the second is a constant zero.
            let b_hh = tch::Tensor::zeros_like(&b.tensor);
            let params = [&w_ih.tensor, &w_hh.tensor, &b.tensor, &b_hh];
            let (h0, c0) = (zeros(), zeros());
            let (y, _, _) = input.lstm(&[&h0, &c0], &params, true, 1, 0.0, true, false, true);
            match reverse {
                true => y.flip([1i64]),
                false => y,
            }
        });
        let (out, tape) = outputs(y);
        (out, tape, x, w_ih, w_hh, b)
    }

    fn graph_backward(
        tape: TchTensor,
        grad: TchTensor,
        a: TchTensor,
        b: TchTensor,
        c: TchTensor,
        d: TchTensor,
        e: TchTensor,
        need: [bool; 5],
    ) -> (TchTensor, TchTensor, TchTensor, TchTensor, TchTensor) {
        let leaves = [a, b, c, d, e];
        let wanted: Vec<&tch::Tensor> = leaves
            .iter()
            .zip(need)
            .filter(|(_, n)| *n)
            .map(|(l, _)| &l.tensor)
            .collect();
        let mut grads = match wanted.is_empty() {
            true => Vec::new(),
            false => {
                // A scalar whose gradient with respect to the tape is `grad`.
                let seed =
                    tch::with_grad(|| tape.tensor.flatten(0, -1).dot(&grad.tensor.flatten(0, -1)));
                tch::Tensor::run_backward(&[seed], &wanted, false, false)
            }
        }
        .into_iter();
        let (kind, device) = (grad.tensor.kind(), grad.tensor.device());
        let mut next = |n: bool| {
            TchTensor::new(match n {
                true => grads.next().expect("one gradient per wanted leaf"),
                false => tch::Tensor::zeros([0], (kind, device)),
            })
        };
        (
            next(need[0]),
            next(need[1]),
            next(need[2]),
            next(need[3]),
            next(need[4]),
        )
    }
}

/// The burn node of a recorded operation: its tape, five leaves and which of them are real
/// (an operation with fewer repeats its last; those gradients are never requested).
#[derive(Debug)]
struct Recorded;

impl<B: TorchGraphOps> Backward<B, 5> for Recorded {
    type State = (FloatTensor<B>, [FloatTensor<B>; 5], [bool; 5]);

    fn backward(self, ops: Ops<Self::State, 5>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<B>(&ops.node);
        let (tape, [a, b, c, d, e], real) = ops.state;
        let mut need = [false; 5];
        for (n, (p, r)) in need.iter_mut().zip(ops.parents.iter().zip(real)) {
            *n = p.is_some() && r;
        }
        let (ga, gb, gc, gd, ge) = B::graph_backward(tape, grad, a, b, c, d, e, need);
        for ((parent, g), n) in ops.parents.into_iter().zip([ga, gb, gc, gd, ge]).zip(need) {
            if let (Some(node), true) = (parent, n) {
                grads.register::<B>(node.id, g);
            }
        }
    }
}

/// Registers the burn node of a recorded operation whose first `real` leaves are its inputs.
fn record<B: TorchGraphOps, C: CheckpointStrategy>(
    parents: [NodeGuard; 5],
    out: FloatTensor<B>,
    tape: FloatTensor<B>,
    leaves: [FloatTensor<B>; 5],
    real: usize,
) -> FloatTensor<Autodiff<B, C>> {
    let real = [0, 1, 2, 3, 4].map(|i| i < real);
    match Recorded.prepare::<C>(parents).compute_bound().stateful() {
        OpsKind::Tracked(prep) => prep.finish((tape, leaves, real), out),
        OpsKind::UnTracked(prep) => prep.finish(out),
    }
}

impl<B: TorchGraphOps, C: CheckpointStrategy> TorchGraphOps for Autodiff<B, C> {
    fn graph_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        conv: ConvArgs,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    ) {
        let parents = [
            x.node(),
            weight.node(),
            bias.node(),
            bias.node(),
            bias.node(),
        ];
        let (out, tape, xl, wl, bl) = B::graph_conv2d(
            x.into_primitive(),
            weight.into_primitive(),
            bias.into_primitive(),
            conv,
        );
        let leaves = [xl, wl, bl.clone(), bl.clone(), bl];
        let out = record::<B, C>(parents, out, tape.clone(), leaves, 3);
        let empty = || FloatTensor::<Self>::new(tape.clone());
        (out, empty(), empty(), empty(), empty())
    }

    fn graph_conv_block(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        conv: ConvArgs,
        epsilon: f64,
        pool: BlockPool,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    ) {
        let parents = [
            x.node(),
            weight.node(),
            bias.node(),
            gamma.node(),
            beta.node(),
        ];
        let (out, tape, mean, variance, xl, wl, bl, gl, el) = B::graph_conv_block(
            x.into_primitive(),
            weight.into_primitive(),
            bias.into_primitive(),
            gamma.into_primitive(),
            beta.into_primitive(),
            conv,
            epsilon,
            pool,
        );
        let out = record::<B, C>(parents, out, tape.clone(), [xl, wl, bl, gl, el], 5);
        let wrap = FloatTensor::<Self>::new;
        let empty = || wrap(tape.clone());
        let (mean, variance) = (wrap(mean), wrap(variance));
        (
            out,
            empty(),
            mean,
            variance,
            empty(),
            empty(),
            empty(),
            empty(),
            empty(),
        )
    }

    fn graph_lstm(
        x: FloatTensor<Self>,
        w_ih: FloatTensor<Self>,
        w_hh: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        reverse: bool,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    ) {
        let parents = [x.node(), w_ih.node(), w_hh.node(), bias.node(), bias.node()];
        let (out, tape, xl, wl, hl, bl) = B::graph_lstm(
            x.into_primitive(),
            w_ih.into_primitive(),
            w_hh.into_primitive(),
            bias.into_primitive(),
            reverse,
        );
        let leaves = [xl, wl, hl, bl.clone(), bl];
        let out = record::<B, C>(parents, out, tape.clone(), leaves, 4);
        let empty = || FloatTensor::<Self>::new(tape.clone());
        (out, empty(), empty(), empty(), empty(), empty())
    }

    fn graph_backward(
        _tape: FloatTensor<Self>,
        _grad: FloatTensor<Self>,
        _a: FloatTensor<Self>,
        _b: FloatTensor<Self>,
        _c: FloatTensor<Self>,
        _d: FloatTensor<Self>,
        _e: FloatTensor<Self>,
        _need: [bool; 5],
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    ) {
        panic!("a libtorch-recorded backward is not differentiated twice");
    }
}

/// Whether `device` trains on LibTorch, where these operations replace burn's.
pub(crate) fn applies(device: &Device) -> bool {
    device.is_autodiff()
        && matches!(
            device.clone().inner().as_dispatch(),
            DispatchDevice::LibTorch(_)
        )
}

/// [`TorchGraphOps::graph_conv2d`] on burn tensors.
pub(crate) fn conv2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Tensor<1>,
    conv: ConvArgs,
) -> Tensor<4> {
    let (out, ..) = Dispatch::graph_conv2d(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
        conv,
    );
    Tensor::from_dispatch(out)
}

/// The parameters of [`TorchGraphOps::graph_conv_block`] besides its input.
pub(crate) struct BlockParams {
    /// Convolution weight and bias.
    pub(crate) weight: Tensor<4>,
    pub(crate) bias: Tensor<1>,
    /// BatchNorm scale and shift.
    pub(crate) gamma: Tensor<1>,
    pub(crate) beta: Tensor<1>,
    pub(crate) conv: ConvArgs,
    pub(crate) epsilon: f64,
    pub(crate) pool: BlockPool,
}

/// [`TorchGraphOps::graph_conv_block`] on burn tensors: `(output, batch mean, variance)`.
pub(crate) fn conv_block(x: Tensor<4>, p: BlockParams) -> (Tensor<4>, Tensor<1>, Tensor<1>) {
    let (out, _, mean, variance, ..) = Dispatch::graph_conv_block(
        x.into_dispatch(),
        p.weight.into_dispatch(),
        p.bias.into_dispatch(),
        p.gamma.into_dispatch(),
        p.beta.into_dispatch(),
        p.conv,
        p.epsilon,
        p.pool,
    );
    (
        Tensor::from_dispatch(out),
        Tensor::from_dispatch(mean),
        Tensor::from_dispatch(variance),
    )
}

/// Moves `norm`'s running mean and variance towards a batch's, by its momentum, as burn's
/// `BatchNorm::forward` does in training.
pub(crate) fn update_running(norm: &BatchNorm, mean: Tensor<1>, variance: Tensor<1>) {
    let device = mean.device();
    let m = norm.momentum;
    let update = |running: &RunningState<Tensor<1>>, batch: Tensor<1>| {
        let old = running.value_sync().to_device(&device);
        let new = old.mul_scalar(1.0 - m).add(batch.detach().mul_scalar(m));
        running.update(new.detach());
    };
    update(&norm.running_mean, mean);
    update(&norm.running_var, variance);
}

/// [`TorchGraphOps::graph_lstm`] on burn tensors.
pub(crate) fn lstm(
    x: Tensor<3>,
    w_ih: Tensor<2>,
    w_hh: Tensor<2>,
    bias: Tensor<1>,
    reverse: bool,
) -> Tensor<3> {
    let (out, ..) = Dispatch::graph_lstm(
        x.into_dispatch(),
        w_ih.into_dispatch(),
        w_hh.into_dispatch(),
        bias.into_dispatch(),
        reverse,
    );
    Tensor::from_dispatch(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use burn::module::Param;
    use burn::nn::conv::{Conv2d, Conv2dConfig};
    use burn::nn::pool::{AvgPool2dConfig, MaxPool2dConfig};
    use burn::nn::{BatchNormConfig, PaddingConfig2d};
    use burn::tensor::activation::relu;
    use burn::tensor::{Device, Distribution, Gradients, Tensor};

    use super::{BlockParams, BlockPool};

    pub(crate) fn flat<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
    }

    /// The gradient of `p` in both runs, compared.
    pub(crate) fn same_grad<const D: usize>(
        name: &str,
        p: &Tensor<D>,
        g1: &Gradients,
        g2: &Gradients,
    ) {
        let a = flat(p.grad(g1).expect(name));
        let b = flat(p.grad(g2).expect(name));
        ser_check::assert_all_close(&a, &b, 1e-4, name);
        assert!(b.iter().any(|&v| v != 0.0), "{name}: zero gradient");
    }

    pub(crate) fn device(seed: u64) -> Device {
        let dev: Device = burn::backend::LibTorchDevice::Cpu.into();
        let dev = dev.autodiff();
        assert!(super::applies(&dev));
        dev.seed(seed);
        dev
    }

    fn conv(dev: &Device) -> Conv2d {
        Conv2dConfig::new([3, 4], [3, 3])
            .with_padding(PaddingConfig2d::Same)
            .init(dev)
    }

    pub(crate) fn val<const D: usize>(p: &Param<Tensor<D>>) -> Tensor<D> {
        p.val()
    }

    #[test]
    fn recorded_conv2d_equals_burns_in_values_and_gradients() {
        let dev = device(3);
        let conv = conv(&dev);
        let bias = conv.bias.as_ref().unwrap();
        let x = Tensor::<4>::random([2, 3, 6, 7], Distribution::Normal(0.0, 1.0), &dev);
        let w = Tensor::<4>::random([2, 4, 6, 7], Distribution::Normal(0.0, 1.0), &dev);
        let (x1, x2) = (x.clone().require_grad(), x.require_grad());
        let geometry = ([[1, 1], [1, 1], [1, 1]], 1);
        let ours = super::conv2d(x1.clone(), val(&conv.weight), val(bias), geometry);
        let theirs = conv.forward(x2.clone());
        ser_check::assert_all_close(&flat(ours.clone()), &flat(theirs.clone()), 1e-5, "conv");
        let g1 = (ours * w.clone()).sum().backward();
        let g2 = (theirs * w).sum().backward();
        let (a, b) = (flat(x1.grad(&g1).unwrap()), flat(x2.grad(&g2).unwrap()));
        ser_check::assert_all_close(&a, &b, 1e-4, "conv input gradient");
        same_grad("conv weight", &val(&conv.weight), &g1, &g2);
        same_grad("conv bias", &val(bias), &g1, &g2);
    }

    #[test]
    fn recorded_conv_block_equals_burns_layers_in_values_and_gradients() {
        // Max and average pooling, and none (the graph then saves the very output burn
        // receives).
        block_matches_burns_layers(BlockPool::Max([[2, 2], [2, 2]]));
        block_matches_burns_layers(BlockPool::Avg([[2, 2], [2, 2]]));
        block_matches_burns_layers(BlockPool::None);
    }

    fn block_matches_burns_layers(pool: BlockPool) {
        let dev = device(4);
        let conv = conv(&dev);
        let norm = BatchNormConfig::new(4).init(&dev);
        let bias = conv.bias.as_ref().unwrap();
        let x = Tensor::<4>::random([3, 3, 6, 8], Distribution::Normal(0.5, 2.0), &dev);
        let (x1, x2) = (x.clone().require_grad(), x.require_grad());
        let params = BlockParams {
            weight: val(&conv.weight),
            bias: val(bias),
            gamma: val(&norm.gamma),
            beta: val(&norm.beta),
            conv: ([[1, 1], [1, 1], [1, 1]], 1),
            epsilon: norm.epsilon,
            pool,
        };
        let (ours, mean, variance) = super::conv_block(x1.clone(), params);
        let c = conv.forward(x2.clone());
        let stats = burn::tensor::module::batch_norm_train(
            c.clone(),
            val(&norm.gamma),
            val(&norm.beta),
            norm.epsilon,
        );
        let theirs = relu(norm.forward(c));
        let theirs = match pool {
            BlockPool::Max([k, s]) => MaxPool2dConfig::new(k)
                .with_strides(s)
                .init()
                .forward(theirs),
            BlockPool::Avg([k, s]) => AvgPool2dConfig::new(k)
                .with_strides(s)
                .init()
                .forward(theirs),
            BlockPool::None => theirs,
        };
        ser_check::assert_all_close(&flat(ours.clone()), &flat(theirs.clone()), 1e-5, "block");
        ser_check::assert_all_close(&flat(mean.clone()), &flat(stats.mean), 1e-5, "batch mean");
        ser_check::assert_all_close(
            &flat(variance.clone()),
            &flat(stats.variance),
            1e-5,
            "batch variance",
        );
        // The running statistics move as burn's BatchNorm moved `norm`'s (in place where
        // burn can, before the backward pass, as the conv block does).
        let running = BatchNormConfig::new(4).init(&dev);
        super::update_running(&running, mean, variance);
        for (name, a, b) in [
            ("running mean", &running.running_mean, &norm.running_mean),
            ("running var", &running.running_var, &norm.running_var),
        ] {
            ser_check::assert_all_close(&flat(a.value()), &flat(b.value()), 1e-6, name);
        }
        // burn writes `* 2` into the output in place where it holds the only handle.
        let w = Tensor::<4>::random(ours.dims(), Distribution::Normal(0.0, 1.0), &dev);
        let g1 = (ours.mul_scalar(2.0) * w.clone()).sum().backward();
        let g2 = (theirs.mul_scalar(2.0) * w).sum().backward();
        let (a, b) = (flat(x1.grad(&g1).unwrap()), flat(x2.grad(&g2).unwrap()));
        ser_check::assert_all_close(&a, &b, 1e-4, "block input gradient");
        same_grad("block conv weight", &val(&conv.weight), &g1, &g2);
        same_grad("block gamma", &val(&norm.gamma), &g1, &g2);
        same_grad("block beta", &val(&norm.beta), &g1, &g2);
        // The conv bias cancels in BatchNorm: both gradients are ~0, so compare only.
        let (a, b) = (
            flat(val(bias).grad(&g1).unwrap()),
            flat(val(bias).grad(&g2).unwrap()),
        );
        ser_check::assert_all_close(&a, &b, 1e-4, "block conv bias");
    }
}

#[cfg(test)]
mod net_tests {
    use burn::module::Module;
    use burn::tensor::{Device, Distribution, Tensor};

    use crate::{Net, NetConfig};

    /// The whole benchmark-size CNN-LSTM in training mode: the same weights and batch give
    /// the same logits on tch (libtorch-recorded layers) as on flex (burn's own).
    #[test]
    fn cnn_lstm_trains_the_same_on_tch_as_on_flex() {
        let config: NetConfig = toml::from_str(
            "kind = \"cnn_lstm\"\n[cnn]\nchannels = [16, 32, 64, 64]\ndropout = 0.0\n[lstm]\nhidden = 128\ndropout = 0.0\n[head]\nhidden = [64]\ndropout = 0.0\n",
        )
        .unwrap();
        let flex: Device = burn::backend::FlexDevice.into();
        let flex = flex.autodiff();
        let tch: Device = burn::backend::LibTorchDevice::Cpu.into();
        let tch = tch.autodiff();
        flex.seed(1);
        let a = Net::new(&config, 64, 300, 8, &flex).unwrap();
        let b = a.clone().to_device(&tch);
        let x = Tensor::<3>::random([16, 300, 64], Distribution::Normal(0.0, 1.0), &flex);
        let lengths = [300; 16];
        let ya = a.forward(x.clone(), &lengths);
        let yb = b.forward(x.to_device(&tch), &lengths);
        let flat = |t: Tensor<2>| t.into_data().convert::<f32>().to_vec::<f32>().unwrap();
        ser_check::assert_all_close(&flat(yb), &flat(ya), 1e-4, "logits");
        // Not compared element by element: the input's gradient. Where a pre-activation sits
        // within rounding of a ReLU's kink, or two values of a max-pooling window within
        // rounding of each other, flex and libtorch route that gradient differently, so from
        // the third block on isolated elements (0.2-0.7 % of the input) differ by up to the
        // gradient's own size; burn's own layers on LibTorch and ser's agree to 1e-9.
    }
}
