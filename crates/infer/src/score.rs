//! Scoring clips with a network: batches from a [`BatchSource`] through the network in
//! validation mode, giving the loss, the predicted classes and the class probabilities.
//! Training evaluates its validation split here, and [`crate::Predictor`] scores new audio
//! the same way.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use burn::nn::loss::CrossEntropyLoss;
use burn::tensor::{Device, Int, Tensor, TensorData, Transaction};
use ser_experiment::{Batch, BatchSource, Loader};
use ser_models::Net;

/// A host batch as the network's input `[len, frames, dim]` and its label tensor. The frames
/// move into the upload (`b.x` is left empty), so a batch is copied once, host to device.
pub fn to_tensors(
    b: &mut Batch,
    frames: usize,
    dim: usize,
    device: &Device,
) -> (Tensor<3>, Tensor<1, Int>) {
    let frames_of = std::mem::take(&mut b.x);
    let x = Tensor::<3>::from_data(TensorData::new(frames_of, [b.len, frames, dim]), device);
    let y = Tensor::<1, Int>::from_data(
        TensorData::new(
            b.labels.iter().map(|&l| l as i64).collect::<Vec<_>>(),
            [b.len],
        ),
        device,
    );
    (x, y)
}

/// A batch already on the device: made by the loader's thread ([`DeviceBatch::upload`]), so
/// that the next step's upload overlaps this step's compute.
pub struct DeviceBatch {
    /// Frames `[len, frames, dim]`.
    pub x: Tensor<3>,
    /// Class ids `[len]`.
    pub y: Tensor<1, Int>,
    /// Real (unpadded) frames per item.
    pub lengths: Vec<usize>,
    /// Items.
    pub len: usize,
}

impl DeviceBatch {
    /// Moves host batch `b`'s frames and labels to `device` (see [`to_tensors`]).
    pub fn upload(mut b: Batch, frames: usize, dim: usize, device: &Device) -> Self {
        let (x, y) = to_tensors(&mut b, frames, dim, device);
        Self {
            x,
            y,
            lengths: b.lengths,
            len: b.len,
        }
    }
}

static READS: AtomicUsize = AtomicUsize::new(0);

/// Device-to-host reads made by training and scoring loops in this process: one per
/// evaluation pass, one per `train.sync_every` training steps (tests hold the loops to it).
pub fn device_reads() -> usize {
    READS.load(Ordering::Relaxed)
}

/// Counts one read (see [`device_reads`]).
pub fn count_read() {
    READS.fetch_add(1, Ordering::Relaxed);
}

/// Loss (0 without `loss_fn`), predictions and class probabilities of `net` (validation
/// mode) over `clips`. The outputs stay on the device until the pass ends and are read in
/// one transaction, so the device never waits for the host between batches.
pub fn evaluate(
    net: &Net,
    src: &Arc<BatchSource>,
    clips: &[usize],
    batch: usize,
    loss_fn: Option<&CrossEntropyLoss>,
    device: &Device,
) -> (f64, Vec<usize>, Vec<Vec<f64>>) {
    let (frames, dim) = (src.segment.frames, src.ds.dim);
    let (mut probs, mut preds, mut loss) = (Vec::new(), Vec::new(), None::<Tensor<1>>);
    let dev = device.clone();
    let upload = move |b| DeviceBatch::upload(b, frames, dim, &dev);
    for b in Loader::start_with(src.clone(), clips.to_vec(), batch, 2, None, upload) {
        let logits = net.forward(b.x, &b.lengths);
        if let Some(f) = loss_fn {
            let l = f.forward(logits.clone(), b.y) * b.len as f32;
            loss = Some(match loss {
                Some(sum) => sum + l,
                None => l,
            });
        }
        probs.push(burn::tensor::activation::softmax(logits.clone(), 1));
        preds.push(logits.argmax(1).squeeze_dim::<1>(1));
    }
    if probs.is_empty() {
        return (0.0, Vec::new(), Vec::new());
    }
    let k = probs[0].dims()[1];
    count_read();
    let mut tx = Transaction::default()
        .register(Tensor::cat(probs, 0))
        .register(Tensor::cat(preds, 0));
    if let Some(l) = loss {
        tx = tx.register(l);
    }
    let mut data = tx.execute().into_iter();
    let mut next = || data.next().expect("one result per registered tensor");
    let p = next()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .expect("f32 probabilities");
    let scores = p
        .chunks(k)
        .map(|r| r.iter().map(|&v| v as f64).collect())
        .collect();
    let preds = (next()
        .convert::<i64>()
        .try_to_vec::<i64>()
        .expect("int predictions"))
    .into_iter()
    .map(|v| v as usize)
    .collect();
    let loss = match loss_fn {
        Some(_) => next()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .expect("f32 loss")[0] as f64,
        None => 0.0,
    };
    (loss / clips.len().max(1) as f64, preds, scores)
}

/// Index of the highest score, ties to the lowest index.
pub fn argmax_first(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}
