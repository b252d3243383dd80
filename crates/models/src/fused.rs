//! BatchNorm + ReLU as one differentiable operation, for the conv blocks' training pass.
//!
//! burn 0.22 computes a training BatchNorm out of tensor operations on backends that do not
//! supply their own (LibTorch among them): a channel-major copy of the input for each
//! statistic, about ten full passes forward and twenty backward, then a ReLU whose backward
//! is a compare and a masked fill. On the tch backend that was the largest gap to PyTorch
//! in the CNN-LSTM training profile (benches/results/train_cnn_lstm_flex.md). libtorch has
//! the fused kernels, so this backend extension runs `native_batch_norm` and an in-place
//! ReLU there, and a backward written with per-channel reductions and fused
//! multiply-adds, six passes (tch 0.22 does not expose `native_batch_norm_backward`, hence
//! the hand-written formula). Flex runs the default bodies, burn's own operations, so the
//! autodiff node is exercised in CI; the other backends keep burn's `BatchNorm` path
//! ([`is_fused`] says which).

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::{Backend, Dispatch, DispatchDevice, backend_extension, tensor::FloatTensor};
use burn::module::RunningState;
use burn::nn::BatchNorm;
use burn::tensor::{Device, Tensor};

/// Three tensors: `(output, batch mean, biased batch variance)` of a training BatchNorm +
/// ReLU, or the gradients `(x, gamma, beta)` of one. (The trait spells the tuple out: the
/// extension macro reads the signature.)
pub(crate) type NormRelu<B> = (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>);

/// The fused training operations. Default bodies are burn's own operations.
#[backend_extension(Flex, LibTorch: cfg(feature = "tch"), Autodiff)]
pub trait TrainOps: Backend {
    /// `relu(batch_norm(x))` with the batch's own statistics, `x [batch, channels, ...]`,
    /// `gamma`, `beta [channels]`; returns the output, the mean and the biased variance.
    fn batch_norm_relu_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let r = Self::batch_norm_train(x, gamma, beta, epsilon);
        (Self::relu(r.output), r.mean, r.variance)
    }

    /// Gradients `(x, gamma, beta)` of [`batch_norm_relu_train`](Self::batch_norm_relu_train)
    /// given its input, statistics, output and the output's gradient.
    #[allow(clippy::too_many_arguments)]
    fn batch_norm_relu_train_backward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        output: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let grad = Self::relu_backward(output, grad);
        let b = Self::batch_norm_train_backward(x, gamma, mean, variance, epsilon, grad);
        (b.x_grad, b.gamma_grad, b.beta_grad)
    }
}

impl TrainOps for burn::backend::Flex {}

#[cfg(feature = "tch")]
pub(crate) use libtorch::variance_from_invstd;

#[cfg(feature = "tch")]
mod libtorch {
    use burn::backend::LibTorch;
    use burn::backend::libtorch::TchTensor;
    use burn::backend::tensor::FloatTensor;

    use super::{NormRelu, TrainOps};

    /// The biased variance the running statistics take, from libtorch's `1 / sqrt(var +
    /// eps)`; clamped where rounding makes a constant channel's slightly negative.
    pub(crate) fn variance_from_invstd(invstd: &tch::Tensor, epsilon: f64) -> tch::Tensor {
        (invstd.square().reciprocal() - epsilon).clamp_min(0.0)
    }

    /// `[1, C, 1, ...]`: a per-channel vector broadcast against `like`.
    fn channels(v: &tch::Tensor, like: &tch::Tensor) -> tch::Tensor {
        let mut shape = vec![1i64; like.dim()];
        shape[1] = -1;
        v.view(shape.as_slice())
    }

    /// Every dimension but the channels.
    fn reduced(x: &tch::Tensor) -> Vec<i64> {
        (0..x.dim() as i64).filter(|&d| d != 1).collect()
    }

    impl TrainOps for LibTorch {
        fn batch_norm_relu_train(
            x: FloatTensor<Self>,
            gamma: FloatTensor<Self>,
            beta: FloatTensor<Self>,
            epsilon: f64,
        ) -> NormRelu<Self> {
            let (mut out, mean, invstd) = x.tensor.native_batch_norm(
                Some(&gamma.tensor),
                Some(&beta.tensor),
                None,
                None,
                true,
                0.0,
                epsilon,
            );
            let _ = out.relu_();
            let variance = variance_from_invstd(&invstd, epsilon);
            (
                TchTensor::new(out),
                TchTensor::new(mean),
                TchTensor::new(variance),
            )
        }

        fn batch_norm_relu_train_backward(
            x: FloatTensor<Self>,
            gamma: FloatTensor<Self>,
            mean: FloatTensor<Self>,
            variance: FloatTensor<Self>,
            output: FloatTensor<Self>,
            grad: FloatTensor<Self>,
            epsilon: f64,
        ) -> NormRelu<Self> {
            let x = &x.tensor;
            // ReLU: no gradient where the output is zero (PyTorch's threshold_backward).
            let dy = output.tensor.threshold_backward(&grad.tensor, 0.0);
            let dims = reduced(x);
            let count = (x.numel() / x.size()[1] as usize) as f64;
            let invstd = (&variance.tensor + epsilon).rsqrt();
            let mean = &mean.tensor;
            let beta_grad = dy.sum_dim_intlist(dims.as_slice(), false, x.kind());
            // sum(dy * (x - mean)) = sum(dy * x) - mean * sum(dy), without an x - mean copy.
            let dy_x = (&dy * x).sum_dim_intlist(dims.as_slice(), false, x.kind());
            let gamma_grad = (dy_x - mean * &beta_grad) * &invstd;
            // dx = k (dy - sum(dy) / n - x_hat sum(dy x_hat) / n), k = gamma * invstd,
            // written as a dy + b x + c with per-channel a, b, c.
            let a = &gamma.tensor * &invstd;
            let b = -(&a * &invstd * &gamma_grad) / count;
            let c = -(&b * mean) - &a * &beta_grad / count;
            let mut x_grad = channels(&c, x).addcmul(x, &channels(&b, x));
            let _ = x_grad.addcmul_(&dy, &channels(&a, x));
            (
                TchTensor::new(x_grad),
                TchTensor::new(gamma_grad),
                TchTensor::new(beta_grad),
            )
        }
    }
}

impl<B: TrainOps, C: CheckpointStrategy> TrainOps for Autodiff<B, C> {
    fn batch_norm_relu_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> NormRelu<Self> {
        #[derive(Debug)]
        struct NormReluOp;

        /// Input and gamma (checkpointed), mean, variance, output, epsilon.
        type State<B> = (
            burn::backend::autodiff::NodeId,
            burn::backend::autodiff::NodeId,
            FloatTensor<B>,
            FloatTensor<B>,
            FloatTensor<B>,
            f64,
        );

        impl<B: TrainOps> Backward<B, 3> for NormReluOp {
            type State = State<B>;

            fn backward(
                self,
                ops: Ops<Self::State, 3>,
                grads: &mut Gradients,
                checkpointer: &mut Checkpointer,
            ) {
                let [node_x, node_gamma, node_beta] = ops.parents;
                let grad = grads.consume::<B>(&ops.node);
                let (x_id, gamma_id, mean, variance, output, epsilon) = ops.state;
                let x = checkpointer.retrieve_node_output::<FloatTensor<B>>(x_id);
                let gamma = checkpointer.retrieve_node_output::<FloatTensor<B>>(gamma_id);
                let (dx, dgamma, dbeta) = B::batch_norm_relu_train_backward(
                    x, gamma, mean, variance, output, grad, epsilon,
                );
                for (node, g) in [(node_x, dx), (node_gamma, dgamma), (node_beta, dbeta)] {
                    if let Some(node) = node {
                        grads.register::<B>(node.id, g);
                    }
                }
            }
        }

        let prepared = NormReluOp
            .prepare::<C>([x.node(), gamma.node(), beta.node()])
            .compute_bound()
            .stateful();
        let (out, mean, variance) = match prepared {
            OpsKind::Tracked(mut prep) => {
                let x_id = prep.checkpoint(&x);
                let gamma_id = prep.checkpoint(&gamma);
                let (out, mean, variance) = B::batch_norm_relu_train(
                    x.into_primitive(),
                    gamma.into_primitive(),
                    beta.into_primitive(),
                    epsilon,
                );
                let state = (
                    x_id,
                    gamma_id,
                    mean.clone(),
                    variance.clone(),
                    out.clone(),
                    epsilon,
                );
                (prep.finish(state, out), mean, variance)
            }
            OpsKind::UnTracked(prep) => {
                let (out, mean, variance) = B::batch_norm_relu_train(
                    x.into_primitive(),
                    gamma.into_primitive(),
                    beta.into_primitive(),
                    epsilon,
                );
                (prep.finish(out), mean, variance)
            }
        };
        (
            out,
            FloatTensor::<Self>::new(mean),
            FloatTensor::<Self>::new(variance),
        )
    }

    fn batch_norm_relu_train_backward(
        _x: FloatTensor<Self>,
        _gamma: FloatTensor<Self>,
        _mean: FloatTensor<Self>,
        _variance: FloatTensor<Self>,
        _output: FloatTensor<Self>,
        _grad: FloatTensor<Self>,
        _epsilon: f64,
    ) -> NormRelu<Self> {
        panic!("the fused BatchNorm + ReLU backward is not differentiated twice");
    }
}

/// Whether `device` runs the fused operation (flex and LibTorch); elsewhere the conv blocks
/// keep burn's `BatchNorm` and ReLU, which the CubeCL backends fuse themselves.
pub(crate) fn is_fused(device: &Device) -> bool {
    match device.clone().inner().as_dispatch() {
        DispatchDevice::Flex(_) => true,
        #[cfg(feature = "tch")]
        DispatchDevice::LibTorch(_) => true,
        _ => false,
    }
}

/// [`TrainOps::batch_norm_relu_train`] on burn tensors: `(output, mean, variance)`.
pub(crate) fn batch_norm_relu_train<const D: usize>(
    x: Tensor<D>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    epsilon: f64,
) -> (Tensor<D>, Tensor<1>, Tensor<1>) {
    let (out, mean, variance) = Dispatch::batch_norm_relu_train(
        x.into_dispatch(),
        gamma.into_dispatch(),
        beta.into_dispatch(),
        epsilon,
    );
    (
        Tensor::from_dispatch(out),
        Tensor::from_dispatch(mean),
        Tensor::from_dispatch(variance),
    )
}

/// `relu(norm(x))` in training through the fused operation, with the running statistics
/// updated as burn's `BatchNorm::forward` updates them.
pub(crate) fn norm_relu_train(norm: &BatchNorm, x: Tensor<4>) -> Tensor<4> {
    let (out, mean, variance) =
        batch_norm_relu_train(x, norm.gamma.val(), norm.beta.val(), norm.epsilon);
    update_running(norm, mean, variance);
    out
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

#[cfg(test)]
mod tests {
    use burn::nn::BatchNormConfig;
    use burn::tensor::activation::relu;
    use burn::tensor::{Device, Distribution, Tensor};

    use super::{is_fused, norm_relu_train};

    fn flat<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
    }

    /// The devices that run the fused operation in this build: flex, and LibTorch's CPU
    /// with the `tch` feature (scripts/tch.sh runs that build's tests).
    fn fused_devices() -> Vec<Device> {
        #[cfg_attr(not(feature = "tch"), allow(unused_mut))]
        let mut devices: Vec<Device> = vec![burn::backend::FlexDevice.into()];
        #[cfg(feature = "tch")]
        devices.push(burn::backend::LibTorchDevice::Cpu.into());
        devices
    }

    #[test]
    fn fused_norm_relu_equals_burns_batch_norm_and_relu() {
        for dev in fused_devices() {
            norm_relu_matches_on(dev.autodiff());
        }
    }

    fn norm_relu_matches_on(dev: Device) {
        assert!(is_fused(&dev));
        let on = |what: &str| format!("{what} on {dev:?}");
        dev.seed(5);
        let ours = BatchNormConfig::new(3).init(&dev);
        let theirs = ours.clone();
        // A constant channel (zero variance) and a shifted one beside a plain one.
        let x = Tensor::<4>::random([4, 3, 5, 6], Distribution::Normal(0.0, 1.0), &dev);
        let x = x.clone() * Tensor::<1>::from_floats([1.0, 0.0, 3.0], &dev).reshape([1, 3, 1, 1])
            + Tensor::<1>::from_floats([0.2, 0.5, -1.0], &dev).reshape([1, 3, 1, 1]);
        let w = Tensor::<4>::random([4, 3, 5, 6], Distribution::Normal(0.0, 1.0), &dev);
        let (x1, x2) = (x.clone().require_grad(), x.require_grad());
        let y_ours = norm_relu_train(&ours, x1.clone());
        let y_theirs = relu(theirs.forward(x2.clone()));
        ser_check::assert_all_close(
            &flat(y_ours.clone()),
            &flat(y_theirs.clone()),
            1e-5,
            on("fused vs burn output"),
        );
        let g_ours = (y_ours * w.clone()).sum().backward();
        let g_theirs = (y_theirs * w).sum().backward();
        let grads = [
            (
                "x",
                x1.grad(&g_ours).map(flat),
                x2.grad(&g_theirs).map(flat),
            ),
            (
                "gamma",
                ours.gamma.val().grad(&g_ours).map(flat),
                theirs.gamma.val().grad(&g_theirs).map(flat),
            ),
            (
                "beta",
                ours.beta.val().grad(&g_ours).map(flat),
                theirs.beta.val().grad(&g_theirs).map(flat),
            ),
        ];
        for (name, a, b) in grads {
            let (a, b) = (a.expect(name), b.expect(name));
            ser_check::assert_all_close(&a, &b, 1e-4, on(name));
            assert!(b.iter().any(|&v| v != 0.0), "{name}: zero gradient");
        }
        for (name, a, b) in [
            ("running mean", &ours.running_mean, &theirs.running_mean),
            ("running var", &ours.running_var, &theirs.running_var),
        ] {
            ser_check::assert_all_close(&flat(a.value()), &flat(b.value()), 1e-6, on(name));
        }
    }
}
