//! One optimisation step's gradients, on one device or data-parallel over several.
//!
//! With several devices the batch is cut into one shard per device; a replica of the model on
//! each device (a fork of the main model, so every step starts from the same weights) runs
//! forward and backward on its shard; the gradients are moved to the main device and summed
//! with burn's `GradientsAccumulator`, each shard's loss weighted by its share of the batch, so
//! that the sum is the gradient of the whole batch's mean loss. This is burn's own multi-device
//! path (burn-train's `MultiDevice` strategy: gradients to the main device, one optimizer
//! step there). burn 0.22's collective `all_reduce` (DDP) is implemented for CUDA and remote
//! devices only, not for flex or wgpu, so it cannot be built or tested here; the gradients
//! this path sums are the ones an all-reduce would average.
//!
//! One host thread drives the devices: nothing is read between the shards, so each GPU's
//! kernels are queued before the host waits for any of them and the devices compute at once;
//! on flex the shards run one after another (a correctness path, no speed-up).
//!
//! N devices with batch B each equal one device with batch N * B up to float rounding when each
//! sample's loss is independent of the others' (tested). They do not where the shard is a
//! batch of its own: BatchNorm normalizes over each shard (as PyTorch's DDP without
//! SyncBatchNorm; the running statistics are the main device's), and a class-weighted loss
//! (`train.balance = "loss_weights"`) divides by each shard's weight sum.

use burn::module::Module;
use burn::nn::loss::CrossEntropyLoss;
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::tensor::Device;
use ser_experiment::Batch;
use ser_infer::{DeviceBatch, to_tensors};
use ser_models::Net;

use crate::tally::Tally;

/// What a step runs on: the devices (autodiff; the first is the main one, which holds the
/// model and the optimizer), one loss per device, and the input's shape.
pub(crate) struct Step<'a> {
    pub devices: &'a [Device],
    pub losses: &'a [CrossEntropyLoss],
    pub frames: usize,
    pub dim: usize,
}

/// A training batch as the loader hands it over: uploaded to the one training device ahead
/// of use, or on the host when a data-parallel step cuts it into one shard per device.
pub(crate) enum Ready {
    Device(Box<DeviceBatch>),
    Host(Batch),
}

impl Ready {
    /// What the loader's thread makes of host batch `b` for a step on `devices`.
    pub fn of(b: Batch, devices: &[Device], frames: usize, dim: usize) -> Self {
        match devices {
            [one] => Ready::Device(Box::new(DeviceBatch::upload(b, frames, dim, one))),
            _ => Ready::Host(b),
        }
    }

    /// Items.
    pub fn len(&self) -> usize {
        match self {
            Ready::Device(d) => d.len,
            Ready::Host(b) => b.len,
        }
    }
}

/// The gradients of `net`'s mean loss over batch `b`, on the main device; the step's loss
/// and correct count go to `tally`.
pub(crate) fn grads(net: &Net, b: Ready, s: &Step<'_>, tally: &mut Tally) -> GradientsParams {
    let main = &s.devices[0];
    let b = match b {
        Ready::Device(d) => {
            let logits = net.forward(d.x, &d.lengths);
            let loss = s.losses[0].forward(logits.clone(), d.y.clone());
            tally.add(loss.clone(), logits, d.y, d.len);
            return GradientsParams::from_grads(loss.backward(), net);
        }
        Ready::Host(b) => b,
    };
    let mut sum = GradientsAccumulator::<Net>::new();
    let shards = b.shards(s.devices.len());
    drop(b.x);
    for ((mut shard, dev), loss_fn) in shards.into_iter().zip(s.devices).zip(s.losses) {
        let replica = if dev == main {
            net.clone()
        } else {
            net.clone().fork(dev)
        };
        let (x, y) = to_tensors(&mut shard, s.frames, s.dim, dev);
        let logits = replica.forward(x, &shard.lengths);
        let loss = loss_fn.forward(logits.clone(), y.clone());
        tally.add(
            loss.clone().detach().to_device(main),
            logits.detach().to_device(main),
            y.to_device(main),
            shard.len,
        );
        let share = shard.len as f32 / b.len as f32;
        let g = GradientsParams::from_grads((loss * share).backward(), &replica);
        sum.accumulate(net, g.to_device(main, &replica));
    }
    sum.grads()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::{ModuleVisitor, Param};
    use burn::nn::loss::CrossEntropyLossConfig;
    use burn::optim::SgdConfig;
    use burn::tensor::Tensor;
    use ser_models::{HeadConfig, LstmConfig, NetConfig, NetKind};

    const FRAMES: usize = 12;
    const DIM: usize = 6;

    /// Every float parameter, in module order.
    struct Flat(Vec<f32>);
    impl ModuleVisitor for Flat {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let v = param.val().into_data().convert::<f32>();
            self.0.extend(v.try_to_vec::<f32>().expect("f32 weights"));
        }
    }

    /// Step `k`'s batch of `len` items (values from a fixed recurrence, 4 classes).
    fn batch(k: usize, len: usize) -> Batch {
        let mut s = 1 + k as u32 * 7919;
        let x = (0..len * FRAMES * DIM)
            .map(|_| {
                s = s.wrapping_mul(1_103_515_245).wrapping_add(12345);
                ((s >> 16) % 1000) as f32 / 500.0 - 1.0
            })
            .collect();
        Batch {
            x,
            len,
            lengths: vec![FRAMES; len],
            labels: (0..len).map(|i| (i + k) % 4).collect(),
        }
    }

    /// The weights after 3 SGD steps on batches of 16 spread over `devices`.
    fn weights_after_3_steps(devices: &[Device]) -> Vec<f32> {
        let main = devices[0].clone();
        main.seed(11);
        let cfg = NetConfig {
            kind: NetKind::Lstm,
            cnn: Default::default(),
            lstm: LstmConfig {
                hidden: 8,
                dropout: 0.0,
                ..Default::default()
            },
            head: HeadConfig {
                hidden: vec![8],
                dropout: 0.0,
                ..Default::default()
            },
            ssl_head: Default::default(),
        };
        let mut net = Net::new(&cfg, DIM, FRAMES, 4, &main).unwrap();
        // Plain SGD: an update proportional to the gradient, so a wrong scale shows.
        let mut optim = SgdConfig::new().init();
        let losses: Vec<CrossEntropyLoss> = (devices.iter())
            .map(|d| CrossEntropyLossConfig::new().init(d))
            .collect();
        let step = Step {
            devices,
            losses: &losses,
            frames: FRAMES,
            dim: DIM,
        };
        let mut tally = Tally::default();
        for k in 0..3 {
            let ready = Ready::of(batch(k, 16), devices, FRAMES, DIM);
            let g = grads(&net, ready, &step, &mut tally);
            net = optim.step(0.1, net, g);
        }
        let w = tally.read().expect("three steps pending");
        assert_eq!(w.samples, 48);
        assert!(w.loss_sum.is_finite());
        let mut flat = Flat(Vec::new());
        net.visit(&mut flat);
        flat.0
    }

    #[test]
    fn two_devices_with_batch_8_each_reach_the_weights_of_one_with_batch_16() {
        let flex: Device = burn::backend::FlexDevice.into();
        let flex = flex.autodiff();
        let one = weights_after_3_steps(std::slice::from_ref(&flex));
        let two = weights_after_3_steps(&[flex.clone(), flex]);
        assert_eq!(one.len(), two.len());
        // The shards' gradients are summed in another order than one batch's: f32 rounding.
        ser_check::assert_all_close(&two, &one, 1e-5, "weights after 3 steps, 2 x 8 vs 1 x 16");
        assert!(one.iter().any(|&w| w != 0.0));
    }
}
