//! `power_to_db` per clip: one cube per clip reduces the clip's maximum in shared memory,
//! then converts and clips its valid frames in the same launch.

use cubecl::prelude::*;

/// 10 / ln(10): `10 log10(x) = DB_PER_NEPER * ln(x)`.
const DB_PER_NEPER: f32 = 4.342_944_8;

/// See `FeatureOps::power_to_db`. Launched with one cube per clip and `threads` units
/// (a power of two).
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn db_kernel<F: Float>(
    x: &Tensor<F>,
    frames: &Tensor<F>,
    output: &mut Tensor<F>,
    batch: u32,
    n_frames: u32,
    dim: u32,
    reference: f32,
    amin: f32,
    top_db: f32,
    #[comptime] threads: usize,
    #[comptime] reference_is_max: bool,
    #[comptime] clip: bool,
    #[define(F)] _dtype: ElemType,
) {
    let b = CUBE_POS;
    if b >= batch as usize {
        terminate!();
    }
    let total = n_frames as usize * dim as usize;
    let base = b * total;
    let valid = u32::cast_from(frames[b]) as usize * dim as usize;
    let unit = UNIT_POS as usize;

    let mut red = Shared::new_slice(threads);
    let mut m = F::new(0.0);
    let mut i = unit;
    while i < valid {
        m = F::max(m, x[base + i]);
        i += threads;
    }
    red[unit] = m;
    sync_cube();
    #[unroll]
    for level in 0..comptime![threads.trailing_zeros() as usize] {
        let stride = comptime![threads >> (level + 1)];
        if unit < stride {
            red[unit] = F::max(red[unit], red[unit + stride]);
        }
        sync_cube();
    }

    let scale = F::new(DB_PER_NEPER);
    let amin = F::cast_from(amin);
    let peak_db = scale * F::max(amin, red[0]).ln();
    let mut ref_db = peak_db;
    if comptime![!reference_is_max] {
        ref_db = scale * F::max(amin, F::cast_from(reference)).ln();
    }
    let floor = peak_db - ref_db - F::cast_from(top_db);
    let mut i = unit;
    while i < total {
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
