//! Training figures summed on the device and read back every `train.sync_every` steps.
//!
//! A read from the device waits for every operation queued before it, so a loop that reads
//! the loss and the predictions of every step never lets a GPU run ahead of the host. Here
//! each step adds its loss (times its batch size) and its correct count to one two-value
//! tensor on the device; the host reads it once per window, checks the loss there (a NaN or
//! infinity in any step of the window makes the sum non-finite) and shows the window's mean
//! loss. [`ser_infer::device_reads`] counts the reads, so tests can hold the loop to its
//! budget.

use burn::tensor::{Int, Tensor};
use ser_infer::count_read;

/// The figures of the steps since the last read, on the device.
#[derive(Default)]
pub(crate) struct Tally {
    /// `[sum of loss * batch size, correct]` of the pending steps.
    pending: Option<Tensor<1>>,
    /// Pending steps and samples.
    steps: usize,
    samples: usize,
    /// Steps of the epoch read so far.
    read_steps: usize,
}

/// What one read found.
pub(crate) struct Window {
    /// Sum of loss * batch size over the window (not finite when any step's loss was not).
    pub loss_sum: f64,
    /// Correctly classified training samples.
    pub correct: usize,
    /// Samples in the window.
    pub samples: usize,
    /// Steps of the epoch the window covers, from 1.
    pub first_step: usize,
    pub last_step: usize,
}

impl Tally {
    /// Adds one step: its mean loss over `n` samples, its logits and labels (all on the
    /// device, nothing read).
    pub fn add(&mut self, loss: Tensor<1>, logits: Tensor<2>, y: Tensor<1, Int>, n: usize) {
        let correct = logits
            .detach()
            .argmax(1)
            .squeeze_dim::<1>(1)
            .equal(y)
            .float()
            .sum();
        let row = Tensor::cat(vec![loss.detach() * n as f32, correct], 0);
        self.pending = Some(match self.pending.take() {
            Some(p) => p + row,
            None => row,
        });
        self.steps += 1;
        self.samples += n;
    }

    /// Whether `every` steps are pending.
    pub fn due(&self, every: usize) -> bool {
        self.steps >= every.max(1)
    }

    /// Reads the pending steps (none pending: `None`).
    pub fn read(&mut self) -> Option<Window> {
        let t = self.pending.take()?;
        count_read();
        let v = t
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .expect("f32 tally");
        let w = Window {
            loss_sum: v[0] as f64,
            correct: v[1].max(0.0).round() as usize,
            samples: self.samples,
            first_step: self.read_steps + 1,
            last_step: self.read_steps + self.steps,
        };
        self.read_steps += self.steps;
        (self.steps, self.samples) = (0, 0);
        Some(w)
    }
}
