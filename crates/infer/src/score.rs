//! Scoring clips with a network: batches from a [`BatchSource`] through the network in
//! validation mode, giving the loss, the predicted classes and the class probabilities.
//! Training evaluates its validation split here, and [`crate::Predictor`] scores new audio
//! the same way.

use std::sync::Arc;

use burn::nn::loss::CrossEntropyLoss;
use burn::tensor::{Device, Int, Tensor, TensorData};
use ser_experiment::{Batch, BatchSource, Loader};
use ser_models::Net;

/// A host batch as the network's input `[len, frames, dim]` and its label tensor.
pub fn to_tensors(
    b: &Batch,
    frames: usize,
    dim: usize,
    device: &Device,
) -> (Tensor<3>, Tensor<1, Int>) {
    let x = Tensor::<3>::from_data(TensorData::new(b.x.clone(), [b.len, frames, dim]), device);
    let y = Tensor::<1, Int>::from_data(
        TensorData::new(
            b.labels.iter().map(|&l| l as i64).collect::<Vec<_>>(),
            [b.len],
        ),
        device,
    );
    (x, y)
}

/// Loss (0 without `loss_fn`), predictions and class probabilities of `net` (validation
/// mode) over `clips`.
pub fn evaluate(
    net: &Net,
    src: &Arc<BatchSource>,
    clips: &[usize],
    batch: usize,
    loss_fn: Option<&CrossEntropyLoss>,
    device: &Device,
) -> (f64, Vec<usize>, Vec<Vec<f64>>) {
    let (frames, dim) = (src.segment.frames, src.ds.dim);
    let (mut loss, mut preds) = (0.0, Vec::with_capacity(clips.len()));
    let mut scores = Vec::with_capacity(clips.len());
    for b in Loader::start(src.clone(), clips.to_vec(), batch, 2, None) {
        let (x, y) = to_tensors(&b, frames, dim, device);
        let logits = net.forward(x, &b.lengths);
        if let Some(f) = loss_fn {
            loss += f.forward(logits.clone(), y).into_scalar::<f32>() as f64 * b.len as f64;
        }
        let k = logits.dims()[1];
        let p = burn::tensor::activation::softmax(logits.clone(), 1)
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .expect("f32 probabilities");
        scores.extend(p.chunks(k).map(|r| r.iter().map(|&v| v as f64).collect()));
        preds.extend(argmax(logits));
    }
    (loss / clips.len().max(1) as f64, preds, scores)
}

/// The most probable class of each row of `logits`.
pub fn argmax(logits: Tensor<2>) -> Vec<usize> {
    logits
        .argmax(1)
        .into_data()
        .convert::<i64>()
        .try_to_vec::<i64>()
        .expect("int predictions")
        .into_iter()
        .map(|v| v as usize)
        .collect()
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
