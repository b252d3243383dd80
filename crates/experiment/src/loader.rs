//! Batches for training and evaluation: fixed-length segments (crop / pad / tile), per-feature
//! standardization and augmentation, made on a background thread so the model never waits
//! for them (the trainer reports how long it did).
//!
//! Order of operations for one training segment, so that every augmentation acts in the
//! units it is defined in, whatever `split.normalize` says:
//! 1. speed (time-axis resampling of the cached dB frames), then the segment window;
//! 2. gain and noise at an SNR, in dB (with `data.on_the_fly`, 1 and 2 act on the audio
//!    before its features instead);
//! 3. standardization: the clip's group statistics (corpus or speaker, when
//!    `split.normalize` asks for them), then the training split's;
//! 4. SpecAugment masks, in standardized units (a masked bin becomes 0, the mean).
//!
//! Evaluation segments take steps 3 only (centre window, no augmentation).

use std::sync::Arc;
use std::sync::mpsc::{Receiver, sync_channel};
use std::thread::JoinHandle;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::dataset::{Dataset, Normalizer};
use crate::experiment::{AugmentConfig, SegmentConfig, SegmentPolicy};
use crate::waveform::{Waveforms, stretch};

/// One batch on the host: `x` is `[len, frames, dim]`.
pub struct Batch {
    /// Segment frames, standardized.
    pub x: Vec<f32>,
    /// Items.
    pub len: usize,
    /// Real (unpadded) frames per item.
    pub lengths: Vec<usize>,
    /// Class ids.
    pub labels: Vec<usize>,
}

impl Batch {
    /// The batch cut into `n` consecutive shards of near-equal size (at most `n`; none
    /// empty), one per device of a data-parallel step.
    pub fn shards(&self, n: usize) -> Vec<Batch> {
        let per = self.len.div_ceil(n.max(1)).max(1);
        let stride = self.x.len() / self.len.max(1);
        (0..self.len)
            .step_by(per)
            .map(|start| {
                let end = (start + per).min(self.len);
                Batch {
                    x: self.x[start * stride..end * stride].to_vec(),
                    len: end - start,
                    lengths: self.lengths[start..end].to_vec(),
                    labels: self.labels[start..end].to_vec(),
                }
            })
            .collect()
    }
}

/// Everything a batch is made from, shared with the loader thread.
pub struct BatchSource {
    /// The data.
    pub ds: Arc<Dataset>,
    /// Train-split statistics.
    pub norm: Normalizer,
    /// Segmenting.
    pub segment: SegmentConfig,
    /// Augmentation (training only).
    pub augment: AugmentConfig,
    /// Audio for on-the-fly training features (`[data] on_the_fly`); `None` reads the cache.
    pub wave: Option<Arc<Waveforms>>,
}

/// The segment ser evaluates a clip on: the centre `seg.frames` frames of its frames `src`
/// (`[n, d]`, not yet standardized), shorter clips filled by `seg.policy`, with its real
/// length. Exporters reproduce it.
pub fn centre_segment(src: &[f32], d: usize, seg: SegmentConfig) -> (Vec<f32>, usize) {
    fit_segment(src, d, seg, |n| (n - seg.frames) / 2)
}

/// `src` cut or filled to `seg.frames` frames; `start(n)` picks the window of longer clips.
fn fit_segment(
    src: &[f32],
    d: usize,
    seg: SegmentConfig,
    start: impl FnOnce(usize) -> usize,
) -> (Vec<f32>, usize) {
    let t = seg.frames;
    let n = (src.len() / d.max(1)).max(1);
    let mut out = vec![0f32; t * d];
    let mut real = t;
    if src.is_empty() {
        real = 1;
    } else if n >= t {
        let start = start(n);
        out.copy_from_slice(&src[start * d..(start + t) * d]);
    } else if seg.policy == SegmentPolicy::Pad {
        out[..n * d].copy_from_slice(src);
        real = n;
    } else if seg.policy == SegmentPolicy::Crop {
        let floor = src.iter().copied().fold(f32::INFINITY, f32::min);
        out[..n * d].copy_from_slice(src);
        out[n * d..].fill(floor);
    } else {
        for (k, row) in out.chunks_mut(d).enumerate() {
            let s = k % n;
            row.copy_from_slice(&src[s * d..(s + 1) * d]);
        }
    }
    (out, real)
}

impl BatchSource {
    /// Segment of clip `i` from the cached frames: `frames` rows, standardized, with its
    /// real length. `rng` picks the crop window and the augmentations; without it
    /// (evaluation) the centre is taken.
    fn segment(&self, i: usize, rng: Option<&mut ChaCha8Rng>) -> (Vec<f32>, usize) {
        self.segment_frames(i, &self.ds.frames.get(i), rng, true)
    }

    /// Segment of the frames `src` (`[n, dim]`, raw) of clip `clip`; `frame_augment` applies
    /// gain, noise and speed to the frames (off when the audio was augmented before its
    /// features).
    fn segment_frames(
        &self,
        clip: usize,
        src: &[f32],
        rng: Option<&mut ChaCha8Rng>,
        frame_augment: bool,
    ) -> (Vec<f32>, usize) {
        let (d, t) = (self.ds.dim, self.segment.frames);
        let mut rng = rng;
        let src: Vec<f32> = match (&mut rng, self.augment.speed.as_slice()) {
            (Some(r), [lo, hi]) if frame_augment => stretch(src, d, r.random_range(*lo..=*hi)),
            _ => src.to_vec(),
        };
        let (mut out, real) = fit_segment(&src, d, self.segment, |n| match &mut rng {
            Some(r) => r.random_range(0..=n - t),
            None => (n - t) / 2,
        });
        if let Some(r) = rng.as_deref_mut().filter(|_| frame_augment) {
            self.augment_db(&mut out[..real * d], r);
        }
        self.standardize(clip, &mut out[..real * d]);
        if let Some(r) = rng {
            self.spec_augment(&mut out, real, r);
        }
        (out, real)
    }

    /// Standardizes augmented frames of `clip`: its group's statistics (when the dataset has
    /// them), then the training split's.
    fn standardize(&self, clip: usize, x: &mut [f32]) {
        if let Some(g) = self.ds.group_norm(clip) {
            g.apply(x);
        }
        self.norm.apply(x);
    }

    /// Gain and additive noise on dB frames (before standardization).
    fn augment_db(&self, x: &mut [f32], r: &mut ChaCha8Rng) {
        let a = &self.augment;
        if let [lo, hi] = a.gain_db.as_slice() {
            let g = r.random_range(*lo..=*hi) as f32;
            x.iter_mut().for_each(|v| *v += g);
        }
        if let [lo, hi] = a.noise_snr_db.as_slice()
            && r.random::<f64>() < a.noise_prob
        {
            // Mean power of the segment; noise of equal power in every band at the SNR.
            let mean_p =
                x.iter().map(|&v| 10f64.powf(v as f64 / 10.0)).sum::<f64>() / x.len().max(1) as f64;
            let snr = r.random_range(*lo..=*hi);
            let noise = mean_p / 10f64.powf(snr / 10.0);
            for v in x.iter_mut() {
                *v = (10.0 * (10f64.powf(*v as f64 / 10.0) + noise).log10()) as f32;
            }
        }
    }

    /// SpecAugment masks (after standardization: masked bins become 0, the mean).
    fn spec_augment(&self, x: &mut [f32], real: usize, r: &mut ChaCha8Rng) {
        let (d, a) = (self.ds.dim, &self.augment);
        for _ in 0..a.time_masks {
            let w = r.random_range(0..=a.time_mask_frames.min(real));
            let s = r.random_range(0..=real - w);
            x[s * d..(s + w) * d].fill(0.0);
        }
        for _ in 0..a.freq_masks {
            let w = r.random_range(0..=a.freq_mask_bins.min(d));
            let s = r.random_range(0..=d - w);
            for row in x.chunks_mut(d) {
                row[s..s + w].fill(0.0);
            }
        }
    }

    /// The batch of `clips`; `rng` as in [`Self::segment`].
    pub fn batch(&self, clips: &[usize], rng: Option<&mut ChaCha8Rng>) -> Batch {
        let mut x = Vec::with_capacity(clips.len() * self.segment.frames * self.ds.dim);
        let mut lengths = Vec::with_capacity(clips.len());
        match (&self.wave, rng) {
            // Training on the fly: augmented audio -> features -> segment.
            (Some(w), Some(r)) => {
                let policy = self.segment.policy;
                let audio: Vec<Vec<f32>> = clips
                    .iter()
                    .map(|&i| w.segment_audio(i, self.segment.frames, policy, &self.augment, r))
                    .collect();
                for (f, &i) in w.features(&audio).iter().zip(clips) {
                    let (seg, real) = self.segment_frames(i, f, Some(&mut *r), false);
                    x.extend_from_slice(&seg);
                    lengths.push(real);
                }
            }
            (_, mut rng) => {
                for &i in clips {
                    let (seg, real) = self.segment(i, rng.as_deref_mut());
                    x.extend_from_slice(&seg);
                    lengths.push(real);
                }
            }
        }
        Batch {
            x,
            len: clips.len(),
            lengths,
            labels: clips.iter().map(|&i| self.ds.labels[i]).collect(),
        }
    }
}

/// SplitMix64's finalizer: spreads seeds that differ in a few bits over the whole word.
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The RNG of epoch `epoch` of a run seeded `seed`: a pure function of both, so a resumed
/// run draws exactly what an uninterrupted one would.
pub fn epoch_rng(seed: u64, epoch: usize, stream: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(mix(mix(mix(seed) ^ epoch as u64) ^ stream))
}

/// Training order of one epoch: a seeded shuffle of `clips`, or (`weights` given) a seeded
/// draw with replacement in proportion to the weights, the same count.
pub fn epoch_order(clips: &[usize], weights: Option<&[f64]>, rng: &mut ChaCha8Rng) -> Vec<usize> {
    match weights {
        None => {
            let mut v = clips.to_vec();
            for i in (1..v.len()).rev() {
                let j = rng.random_range(0..=i);
                v.swap(i, j);
            }
            v
        }
        Some(w) => {
            let total: f64 = w.iter().sum();
            let mut cum = Vec::with_capacity(w.len());
            let mut acc = 0.0;
            for &x in w {
                acc += x / total;
                cum.push(acc);
            }
            (0..clips.len())
                .map(|_| {
                    let u: f64 = rng.random();
                    clips[cum.partition_point(|&c| c < u).min(clips.len() - 1)]
                })
                .collect()
        }
    }
}

/// Batches of one epoch, made on a background thread `prefetch` ahead. `T` is what the
/// thread hands over: the host [`Batch`] itself, or (through [`Loader::start_with`]) the batch
/// already uploaded to a device, so that the upload also happens ahead of use.
pub struct Loader<T = Batch> {
    rx: Receiver<T>,
    handle: Option<JoinHandle<()>>,
}

impl Loader<Batch> {
    /// Starts making the batches of `order`, `batch_size` at a time (the last one may be
    /// smaller); `rng` set for training batches.
    pub fn start(
        src: Arc<BatchSource>,
        order: Vec<usize>,
        batch_size: usize,
        prefetch: usize,
        rng: Option<ChaCha8Rng>,
    ) -> Self {
        Loader::start_with(src, order, batch_size, prefetch, rng, |b| b)
    }
}

impl<T: Send + 'static> Loader<T> {
    /// As [`Loader::start`], each batch then passed through `finish` on the loader's thread
    /// (e.g. uploaded to the training device); at most `prefetch` finished batches wait.
    pub fn start_with(
        src: Arc<BatchSource>,
        order: Vec<usize>,
        batch_size: usize,
        prefetch: usize,
        mut rng: Option<ChaCha8Rng>,
        mut finish: impl FnMut(Batch) -> T + Send + 'static,
    ) -> Self {
        let (tx, rx) = sync_channel(prefetch.max(1));
        let handle = std::thread::spawn(move || {
            for chunk in order.chunks(batch_size) {
                let b = finish(src.batch(chunk, rng.as_mut()));
                if tx.send(b).is_err() {
                    return;
                }
            }
        });
        Loader {
            rx,
            handle: Some(handle),
        }
    }
}

impl<T> Iterator for Loader<T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        match self.rx.recv() {
            Ok(b) => Some(b),
            Err(_) => {
                if let Some(h) = self.handle.take()
                    && let Err(p) = h.join()
                {
                    std::panic::resume_unwind(p);
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::{ClipInfo, Dataset, Normalizer};

    /// One clip of `n` frames, 2 values per frame: frame k is (k, -k) dB.
    fn source(n: usize, frames: usize, policy: SegmentPolicy) -> BatchSource {
        let clip: Vec<f32> = (0..n).flat_map(|k| [k as f32, -(k as f32)]).collect();
        let ds = Dataset::from_frames(
            vec!["a".into()],
            2,
            crate::ClipStore::in_ram(vec![clip]),
            vec![0],
            vec![ClipInfo {
                corpus: "c".into(),
                speaker: "s".into(),
                content_hash: String::new(),
                path: "x.wav".into(),
                sentence: String::new(),
            }],
        );
        BatchSource {
            ds: Arc::new(ds),
            norm: Normalizer {
                mean: vec![0.0; 2],
                std: vec![1.0; 2],
            },
            segment: SegmentConfig { frames, policy },
            augment: AugmentConfig::default(),
            wave: None,
        }
    }

    #[test]
    fn gain_acts_in_db_before_the_group_and_training_standardization() {
        // Frame k is (k, -k) dB; the clip's group has mean (1, -1), std (2, 4); the
        // training statistics on top have mean (0.5, 0) and std (1, 0.5).
        let mut src = source(3, 3, SegmentPolicy::Tile);
        let ds = Arc::get_mut(&mut src.ds).unwrap();
        ds.group_norms = vec![(
            "c".into(),
            Normalizer {
                mean: vec![1.0, -1.0],
                std: vec![2.0, 4.0],
            },
        )];
        src.norm = Normalizer {
            mean: vec![0.5, 0.0],
            std: vec![1.0, 0.5],
        };
        src.augment.gain_db = vec![6.0, 6.0];
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let (x, real) = src.segment(0, Some(&mut rng));
        assert_eq!(real, 3);
        // ((k + 6 - 1) / 2 - 0.5) / 1 and ((-k + 6 + 1) / 4 - 0) / 0.5: the 6 dB are 6 dB of
        // the cache's units, not 6 standard deviations.
        let want: Vec<f32> = (0..3)
            .flat_map(|k| {
                let k = k as f32;
                [(k + 5.0) / 2.0 - 0.5, (7.0 - k) / 4.0 / 0.5]
            })
            .collect();
        ser_check::assert_all_close(&x, &want, 1e-6, "gain then standardization");
        // Evaluation: the same standardization, no gain.
        let (x, _) = src.segment(0, None);
        let want: Vec<f32> = (0..3)
            .flat_map(|k| {
                let k = k as f32;
                [(k - 1.0) / 2.0 - 0.5, (1.0 - k) / 4.0 / 0.5]
            })
            .collect();
        ser_check::assert_all_close(&x, &want, 1e-6, "evaluation standardization");
        // The composed normalizer exporters use gives the same values.
        let one = src.ds.group_norms[0].1.then(&src.norm);
        let mut raw: Vec<f32> = (0..3).flat_map(|k| [k as f32, -(k as f32)]).collect();
        one.apply(&mut raw);
        ser_check::assert_all_close(&raw, &want, 1e-6, "composed normalizer");
    }

    #[test]
    fn each_policy_fills_short_clips_its_own_way_and_crops_long_ones_at_the_centre() {
        // 3 frames into 5: tile repeats, crop appends the clip's floor (-2 dB), pad masks.
        let (x, real) = source(3, 5, SegmentPolicy::Tile).segment(0, None);
        assert_eq!(
            (x, real),
            (vec![0., 0., 1., -1., 2., -2., 0., 0., 1., -1.], 5)
        );
        let (x, real) = source(3, 5, SegmentPolicy::Crop).segment(0, None);
        assert_eq!(
            (x, real),
            (vec![0., 0., 1., -1., 2., -2., -2., -2., -2., -2.], 5)
        );
        let (x, real) = source(3, 5, SegmentPolicy::Pad).segment(0, None);
        assert_eq!(
            (x, real),
            (vec![0., 0., 1., -1., 2., -2., 0., 0., 0., 0.], 3)
        );
        // 7 frames into 3: every policy takes frames 2..5 in evaluation.
        for p in [SegmentPolicy::Tile, SegmentPolicy::Crop, SegmentPolicy::Pad] {
            let (x, real) = source(7, 3, p).segment(0, None);
            assert_eq!((x, real), (vec![2., -2., 3., -3., 4., -4.], 3), "{p:?}");
        }
    }
}
