//! `power_to_db` per clip, spread over the whole device. Two ways to the clip's peak:
//!
//! - [`FeatureOps::power_to_db`](crate::FeatureOps::power_to_db) on a mel spectrum already in
//!   memory: every clip's `[T, D]` array is cut into `chunks` equal pieces (at most one
//!   cube's units of them); [`clip_max_kernel`] reduces each piece's maximum over the clip's
//!   valid frames, then [`db_kernel`] has every cube reduce its clip's partial maxima in
//!   shared memory and convert and clip its own piece (one cube per clip, as before, left a
//!   batch of a few long recordings on a few of the device's cores). Two reads of the mel
//!   spectrum, one write.
//! - [`FeatureOps::log_mel`](crate::FeatureOps::log_mel): the spectrum kernel has already
//!   left each clip's peak power in `peaks` (as `f32` bits), so [`db_peak_kernel`] converts
//!   the mel spectrum in place, one element per unit: one read, one write.
//!
//! Launched unchecked: the frame count read from the tensor is clamped to the array's, so
//! every index is in bounds for the shapes the host asserts.

use cubecl::prelude::*;

/// 10 / ln(10): `10 log10(x) = DB_PER_NEPER * ln(x)`.
const DB_PER_NEPER: f32 = 4.342_944_8;

/// The runtime shape of a `[B, T, D]` launch, by name: clips, frames per clip (the array's),
/// values per frame, and pieces per clip (1 where a kernel does not cut clips).
#[derive(CubeLaunch, CubeType)]
pub struct ClipShape {
    pub batch: u32,
    pub n_frames: u32,
    pub dim: u32,
    pub chunks: u32,
}

/// The dB conversion's runtime values: the fixed reference (1 when it is each clip's
/// maximum), `amin`, and `top_db` (0 when it does not clip).
#[derive(CubeLaunch, CubeType)]
pub struct DbValues {
    pub reference: f32,
    pub amin: f32,
    pub top_db: f32,
}

/// The dB conversion's compile-time switches: the reference is each clip's maximum, and
/// values below the peak minus `top_db` are clipped.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub struct DbMode {
    pub reference_is_max: bool,
    pub clip: bool,
}

/// What [`db_kernel`] reads: the power `x [B, T, D]`, the frame counts `frames [B]` and
/// [`clip_max_kernel`]'s `partial [B * chunks]` maxima.
#[derive(CubeLaunch, CubeType)]
pub struct Pieces<F: Float> {
    pub x: OwnedTensor<F>,
    pub frames: OwnedTensor<F>,
    pub partial: OwnedTensor<F>,
}

/// The piece of this cube (`CUBE_POS = b * chunks + chunk`, below `batch * chunks`): its clip
/// `b`, the clip's `total` values, how many are `valid` (its frame count, clamped to the
/// array's, times `dim`) and the piece's `[start, stop)`, `stop` at most `total` (the last
/// piece may be shorter).
#[cube]
fn clip_piece<F: Float>(
    frames: &Tensor<F>,
    shape: &ClipShape,
) -> (usize, usize, usize, usize, usize) {
    let (chunks, n_frames, dim) = (
        shape.chunks as usize,
        shape.n_frames as usize,
        shape.dim as usize,
    );
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
pub fn clip_max_kernel<F: Float>(
    x: &Tensor<F>,
    frames: &Tensor<F>,
    partial: &mut Tensor<F>,
    shape: ClipShape,
    #[comptime] threads: usize,
    #[define(F)] _dtype: ElemType,
) {
    if CUBE_POS >= shape.batch as usize * shape.chunks as usize {
        terminate!();
    }
    let (b, total, valid, start, stop) = clip_piece(frames, &shape);
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
pub fn db_kernel<F: Float>(
    inputs: &Pieces<F>,
    output: &mut Tensor<F>,
    shape: ClipShape,
    db: DbValues,
    #[comptime] threads: usize,
    #[comptime] mode: DbMode,
    #[define(F)] _dtype: ElemType,
) {
    let chunks = shape.chunks as usize;
    if CUBE_POS >= shape.batch as usize * chunks {
        terminate!();
    }
    let (x, partial) = (&inputs.x, &inputs.partial);
    let (b, total, valid, start, end) = clip_piece(&inputs.frames, &shape);
    let unit = UNIT_POS as usize;
    let (reference_is_max, clip) = comptime![(mode.reference_is_max, mode.clip)];

    let mut peak = F::new(0.0);
    if comptime![reference_is_max || clip] {
        let mut red = Shared::new_slice(threads);
        let mut m = F::new(0.0);
        if unit < chunks {
            m = partial[b * chunks + unit];
        }
        red[unit] = m;
        reduce_max(&mut red, unit, threads);
        peak = red[0];
    }
    let (ref_db, floor) = db_offsets::<F>(peak, &db, mode);

    let base = b * total;
    let mut i = start + unit;
    while i < end {
        let mut v = F::new(0.0);
        if i < valid {
            v = to_db::<F>(x[base + i], db.amin, ref_db, floor, clip);
        }
        output[base + i] = v;
        i += threads;
    }
}

/// The reference and the floor in dB for a clip whose peak power is `peak` (read only when
/// the reference is the maximum or `top_db` clips).
#[cube]
fn db_offsets<F: Float>(peak: F, db: &DbValues, #[comptime] mode: DbMode) -> (F, F) {
    let (reference_is_max, clip) = comptime![(mode.reference_is_max, mode.clip)];
    let scale = F::new(DB_PER_NEPER);
    let amin = F::cast_from(db.amin);
    let mut ref_db = scale * F::max(amin, F::cast_from(db.reference)).ln();
    let mut floor = F::new(0.0);
    if comptime![reference_is_max || clip] {
        let peak_db = scale * F::max(amin, peak).ln();
        if comptime![reference_is_max] {
            ref_db = peak_db;
        }
        floor = peak_db - ref_db - F::cast_from(db.top_db);
    }
    (ref_db, floor)
}

/// One power value in dB against `ref_db`, clipped at `floor` when `clip`.
#[cube]
fn to_db<F: Float>(power: F, amin: f32, ref_db: F, floor: F, #[comptime] clip: bool) -> F {
    let mut v = F::new(DB_PER_NEPER) * F::max(F::cast_from(amin), power).ln() - ref_db;
    if comptime![clip] {
        v = F::max(v, floor);
    }
    v
}

/// See `FeatureOps::log_mel`: `x [B, T, D]` (`total` values) to dB in place, each clip
/// against its peak power in `peaks[b]` (`f32` bits, as the spectrum kernel's atomic
/// maximum left it); values of frames past the clip's count (`frames[b]`) are left as they
/// are (the spectrum kernel wrote zeros there). One value per unit.
#[cube(launch_unchecked)]
pub fn db_peak_kernel<F: Float>(
    x: &mut Tensor<F>,
    frames: &Tensor<F>,
    peaks: &Tensor<u32>,
    shape: ClipShape,
    db: DbValues,
    #[comptime] mode: DbMode,
    #[define(F)] _dtype: ElemType,
) {
    let i = ABSOLUTE_POS;
    let n_frames = shape.n_frames as usize;
    let per_clip = n_frames * shape.dim as usize;
    if i >= shape.batch as usize * per_clip {
        terminate!();
    }
    let b = i / per_clip;
    let count = u32::cast_from(frames[b]) as usize;
    let valid = select(count < n_frames, count, n_frames) * shape.dim as usize;
    if i % per_clip < valid {
        let peak = F::cast_from(f32::reinterpret(peaks[b]));
        let (ref_db, floor) = db_offsets::<F>(peak, &db, mode);
        x[i] = to_db::<F>(x[i], db.amin, ref_db, floor, comptime![mode.clip]);
    }
}
