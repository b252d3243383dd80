//! Savitzky-Golay deltas per clip, one unit per output value. Launched unchecked: the frame
//! count read from the tensor is clamped to the array's and the window to the coefficient
//! table's width, so every index is in bounds for the shapes `FeatureOps::deltas` asserts.

use cubecl::prelude::*;

use super::db::ClipShape;

/// See `FeatureOps::deltas`. Launched with one unit per element of `[B, T, D]` (`shape`'s
/// `chunks` unused); `width` is the widest window, the coefficient table's row length.
#[cube(launch_unchecked)]
pub fn delta_kernel<F: Float>(
    x: &Tensor<F>,
    frames: &Tensor<F>,
    coefs: &Tensor<F>,
    output: &mut Tensor<F>,
    shape: ClipShape,
    width: u32,
    #[define(F)] _dtype: ElemType,
) {
    let idx = ABSOLUTE_POS;
    let dim = shape.dim as usize;
    let n_frames = shape.n_frames as usize;
    if idx >= shape.batch as usize * n_frames * dim {
        terminate!();
    }
    let d = idx % dim;
    let bt = idx / dim;
    let t = bt % n_frames;
    let b = bt / n_frames;
    let count = u32::cast_from(frames[b]) as usize;
    let n = select(count < n_frames, count, n_frames);
    let mut v = F::new(0.0);
    if t < n {
        let fit = select(n % 2 == 1, n, n - 1);
        let w = select(fit < width as usize, fit, width as usize);
        if w >= 3 {
            let half = w / 2;
            let mut centre = t;
            if centre < half {
                centre = half;
            }
            if centre > n - 1 - half {
                centre = n - 1 - half;
            }
            let first = (b * n_frames + centre - half) * dim + d;
            let row = (w - 3) / 2 * width as usize;
            let mut j = 0usize;
            while j < w {
                v += coefs[row + j] * x[first + j * dim];
                j += 1;
            }
        }
    }
    output[idx] = v;
}
