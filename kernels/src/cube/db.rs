//! `power_to_db` per clip in two launches, each spread over the whole device: every clip's
//! `[T, D]` array is cut into `chunks` equal pieces (at most one cube's units of them);
//! [`clip_max_kernel`] reduces each piece's maximum over the clip's valid frames, then
//! [`db_kernel`] has every cube reduce its clip's partial maxima in shared memory and
//! convert and clip its own piece. (One cube per clip, as before, left a batch of a few
//! long recordings on a few of the device's cores.) Launched unchecked: the frame count
//! read from the tensor is clamped to the array's, so every index is in bounds for the
//! shapes `FeatureOps::power_to_db` asserts on the host.

use cubecl::prelude::*;

/// 10 / ln(10): `10 log10(x) = DB_PER_NEPER * ln(x)`.
const DB_PER_NEPER: f32 = 4.342_944_8;

/// The piece of this cube (`CUBE_POS = b * chunks + chunk`, below `batch * chunks`): its clip
/// `b`, the clip's `total` values, how many are `valid` (its frame count, clamped to the
/// array's, times `dim`) and the piece's `[start, stop)`, `stop` at most `total` (the last
/// piece may be shorter).
#[cube]
fn clip_piece<F: Float>(
    frames: &Tensor<F>,
    chunks: usize,
    n_frames: usize,
    dim: usize,
) -> (usize, usize, usize, usize, usize) {
    let (b, chunk) = (CUBE_POS / chunks, CUBE_POS % chunks);
    let total = n_frames * dim;
    let count = u32::cast_from(frames[b]) as usize;
    let valid = select(count < n_frames, count, n_frames) * dim;
    let size = total.div_ceil(chunks);
    let start = chunk * size;
    let stop = start + size;
    (b, total, valid, start, select(stop < total, stop, total))
}

/// Tree maximum of `red[0..threads]` into `red[0]` (every unit must call it).
#[cube]
fn reduce_max<F: Float>(red: &mut Shared<[F]>, unit: usize, #[comptime] threads: usize) {
    sync_cube();
    #[unroll]
    for level in 0..comptime![threads.trailing_zeros() as usize] {
        let stride = comptime![threads >> (level + 1)];
        if unit < stride {
            red[unit] = F::max(red[unit], red[unit + stride]);
        }
        sync_cube();
    }
}

/// Maximum of each piece's valid values (0 for none) into `partial[b * chunks + chunk]`.
/// Launched with `batch * chunks` cubes (cube `b * chunks + chunk`) of `threads` units.
#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
pub fn clip_max_kernel<F: Float>(
    x: &Tensor<F>,
    frames: &Tensor<F>,
    partial: &mut Tensor<F>,
    batch: u32,
    n_frames: u32,
    dim: u32,
    chunks: u32,
    #[comptime] threads: usize,
    #[define(F)] _dtype: ElemType,
) {
    let chunks = chunks as usize;
    if CUBE_POS >= batch as usize * chunks {
        terminate!();
    }
    let (b, total, valid, start, stop) =
        clip_piece(frames, chunks, n_frames as usize, dim as usize);
    let end = select(stop < valid, stop, valid);
    let unit = UNIT_POS as usize;
    let mut m = F::new(0.0);
    let mut i = start + unit;
    while i < end {
        m = F::max(m, x[b * total + i]);
        i += threads;
    }
    let mut red = Shared::new_slice(threads);
    red[unit] = m;
    reduce_max(&mut red, unit, threads);
    if unit == 0 {
        partial[CUBE_POS] = red[0];
    }
}

/// See `FeatureOps::power_to_db`. Launched with `batch * chunks` cubes (as
/// [`clip_max_kernel`], whose `partial` maxima it reads when the reference is the maximum
/// or `top_db` clips) of `threads` units, `chunks <= threads`.
#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
pub fn db_kernel<F: Float>(
    x: &Tensor<F>,
    frames: &Tensor<F>,
    partial: &Tensor<F>,
    output: &mut Tensor<F>,
    batch: u32,
    n_frames: u32,
    dim: u32,
    chunks: u32,
    reference: f32,
    amin: f32,
    top_db: f32,
    #[comptime] threads: usize,
    #[comptime] reference_is_max: bool,
    #[comptime] clip: bool,
    #[define(F)] _dtype: ElemType,
) {
    let chunks = chunks as usize;
    if CUBE_POS >= batch as usize * chunks {
        terminate!();
    }
    let (b, total, valid, start, end) = clip_piece(frames, chunks, n_frames as usize, dim as usize);
    let unit = UNIT_POS as usize;

    let scale = F::new(DB_PER_NEPER);
    let amin = F::cast_from(amin);
    let mut ref_db = scale * F::max(amin, F::cast_from(reference)).ln();
    let mut floor = F::new(0.0);
    if comptime![reference_is_max || clip] {
        let mut red = Shared::new_slice(threads);
        let mut m = F::new(0.0);
        if unit < chunks {
            m = partial[b * chunks + unit];
        }
        red[unit] = m;
        reduce_max(&mut red, unit, threads);
        let peak_db = scale * F::max(amin, red[0]).ln();
        if comptime![reference_is_max] {
            ref_db = peak_db;
        }
        floor = peak_db - ref_db - F::cast_from(top_db);
    }

    let base = b * total;
    let mut i = start + unit;
    while i < end {
        let mut v = F::new(0.0);
        if i < valid {
            v = scale * F::max(amin, x[base + i]).ln() - ref_db;
            if comptime![clip] {
                v = F::max(v, floor);
            }
        }
        output[base + i] = v;
        i += threads;
    }
}
