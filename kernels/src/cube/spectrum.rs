//! Frames → window → real FFT in shared memory → |X|^p → (mel projection).
//!
//! A cube holds `per_cube` frames and `units` units per frame. Each frame's `n_fft` real
//! samples are packed as `n_fft / 2` complex values (even samples real, odd imaginary),
//! transformed by a Stockham autosort FFT (natural order in and out, ping-pong shared
//! buffers: one radix-2 stage when `log2(n_fft / 2)` is odd, then radix-4 stages, one
//! barrier each), and unpacked into the `n_fft / 2 + 1` bins of the real transform. Half the
//! arithmetic and a quarter of the barriers of a radix-2 complex FFT of the padded frame.
//! Frames past a clip's own length are written as zeros without being computed.
use cubecl::prelude::*;

/// Index into a clip of `len` samples for position `pos` under the padding mode
/// (0 zeros, 1 reflect, 2 edge); -1 stands for a zero sample.
#[cube]
fn source_index(pos: i32, len: i32, #[comptime] pad_mode: u32) -> i32 {
    let mut idx = pos;
    if len == 0 {
        idx = -1;
    } else if pos < 0 || pos >= len {
        if comptime![pad_mode == 2] {
            idx = select(pos < 0, 0i32, len - 1);
        } else if comptime![pad_mode == 1] {
            if len == 1 {
                idx = 0;
            } else {
                let period = 2 * (len - 1);
                let mut j = pos % period;
                if j < 0 {
                    j += period;
                }
                if j >= len {
                    j = period - j;
                }
                idx = j;
            }
        } else {
            idx = -1;
        }
    }
    idx
}

/// Radix-2 Stockham stage with `p = 1` (no twiddles): `dst[2i + q] = src[i] ± src[i + M/2]`.
#[cube]
fn radix2_stage<F: Float>(
    sr: &Shared<[F]>,
    si: &Shared<[F]>,
    dr: &mut Shared<[F]>,
    di: &mut Shared<[F]>,
    base: usize,
    unit: usize,
    #[comptime] m: usize,
    #[comptime] units: usize,
) {
    let half = comptime![m / 2];
    let mut i = unit;
    while i < half {
        let (ar, ai) = (sr[base + i], si[base + i]);
        let (br, bi) = (sr[base + i + half], si[base + i + half]);
        let j = base + 2 * i;
        dr[j] = ar + br;
        di[j] = ai + bi;
        dr[j + 1] = ar - br;
        di[j + 1] = ai - bi;
        i += units;
    }
}

/// `src[at] * W_N^j` with `w = 2 j` the index of `cos, sin` in `twiddles`.
#[cube]
fn twiddled<F: Float>(
    sr: &Shared<[F]>,
    si: &Shared<[F]>,
    twiddles: &Tensor<F>,
    at: usize,
    w: usize,
) -> (F, F) {
    let a = sr[at];
    let b = si[at];
    let wr = twiddles[w];
    let wi = twiddles[w + 1];
    (a * wr - b * wi, a * wi + b * wr)
}

/// Radix-4 Stockham stage combining sub-transforms of length `p` into length `4p`:
/// butterfly `i < M/4` reads `src[i + q M/4]`, twiddles input q by `W_{4p}^(q k)` with
/// `k = i mod p`, and writes `dst[4(i - k) + k + q p]`. `twiddles` holds `W_N^j`, j < N.
#[cube]
#[allow(clippy::too_many_arguments)]
fn radix4_stage<F: Float>(
    sr: &Shared<[F]>,
    si: &Shared<[F]>,
    dr: &mut Shared<[F]>,
    di: &mut Shared<[F]>,
    twiddles: &Tensor<F>,
    base: usize,
    unit: usize,
    p: usize,
    #[comptime] n_fft: usize,
    #[comptime] units: usize,
) {
    let quarter = comptime![n_fft / 8];
    let stride = n_fft / (4 * p);
    let mut i = unit;
    while i < quarter {
        let k = i & (p - 1);
        let x0r = sr[base + i];
        let x0i = si[base + i];
        let (x1r, x1i) = twiddled(sr, si, twiddles, base + i + quarter, 2 * k * stride);
        let (x2r, x2i) = twiddled(sr, si, twiddles, base + i + 2 * quarter, 4 * k * stride);
        let (x3r, x3i) = twiddled(sr, si, twiddles, base + i + 3 * quarter, 6 * k * stride);
        // 4-point DFT: y1 = (x0 - x2) - i (x1 - x3), y3 = (x0 - x2) + i (x1 - x3).
        let a0r = x0r + x2r;
        let a0i = x0i + x2i;
        let a1r = x0r - x2r;
        let a1i = x0i - x2i;
        let a2r = x1r + x3r;
        let a2i = x1i + x3i;
        let a3r = x1r - x3r;
        let a3i = x1i - x3i;
        let j = base + ((i - k) << 2) + k;
        dr[j] = a0r + a2r;
        di[j] = a0i + a2i;
        dr[j + p] = a1r + a3i;
        di[j + p] = a1i - a3r;
        dr[j + 2 * p] = a0r - a2r;
        di[j + 2 * p] = a0i - a2i;
        dr[j + 3 * p] = a1r - a3i;
        di[j + 3 * p] = a1i + a3r;
        i += units;
    }
}

/// Bins `k <= M` of the real transform from the packed transform `Z`:
/// `X[k] = (Z[k] + conj Z[M-k]) / 2 - i W_N^k (Z[k] - conj Z[M-k]) / 2`, then `|X[k]|^p`
/// into `pr[k]` (k < M) and `pi[0]` (k = M).
#[cube]
#[allow(clippy::too_many_arguments)]
fn unpack_power<F: Float>(
    zr: &Shared<[F]>,
    zi: &Shared<[F]>,
    pr: &mut Shared<[F]>,
    pi: &mut Shared<[F]>,
    twiddles: &Tensor<F>,
    base: usize,
    unit: usize,
    power: f32,
    #[comptime] n_fft: usize,
    #[comptime] units: usize,
    #[comptime] power_mode: u32,
) {
    let m = comptime![n_fft / 2];
    let mut k = unit;
    while k <= m {
        let a = k % m;
        let c = (m - k) % m;
        let (ar, ai) = (zr[base + a], zi[base + a]);
        let (cr, ci) = (zr[base + c], -zi[base + c]);
        let half = F::new(0.5);
        let er = (ar + cr) * half;
        let ei = (ai + ci) * half;
        // o = -i (Z[k] - conj Z[M-k]) / 2
        let or = (ai - ci) * half;
        let oi = (cr - ar) * half;
        let wr = twiddles[2 * k];
        let wi = twiddles[2 * k + 1];
        let xr = er + wr * or - wi * oi;
        let xi = ei + wr * oi + wi * or;
        let p2 = xr * xr + xi * xi;
        let mut v = p2;
        if comptime![power_mode == 1] {
            v = p2.sqrt();
        } else if comptime![power_mode == 0] {
            v = F::powf(p2.sqrt(), F::cast_from(power));
        }
        if k == m {
            pi[base] = v;
        } else {
            pr[base + k] = v;
        }
        k += units;
    }
}

/// Bin `k` of a frame's power spectrum as [`unpack_power`] stored it.
#[cube]
fn bin<F: Float>(
    pr: &Shared<[F]>,
    pi: &Shared<[F]>,
    base: usize,
    k: usize,
    #[comptime] m: usize,
) -> F {
    let mut v = pi[base];
    if k < m {
        v = pr[base + k];
    }
    v
}

/// Mel projection (or the raw spectrum) of one frame into `output[out_base..]`; zeros for a
/// frame that is not `live`.
#[cube]
#[allow(clippy::too_many_arguments)]
fn project<F: Float>(
    pr: &Shared<[F]>,
    pi: &Shared<[F]>,
    mel: &Tensor<F>,
    bounds: &Tensor<F>,
    output: &mut Tensor<F>,
    base: usize,
    out_base: usize,
    unit: usize,
    live: bool,
    #[comptime] n_fft: usize,
    #[comptime] units: usize,
    #[comptime] use_mel: bool,
    #[comptime] out_dim: usize,
) {
    let m = comptime![n_fft / 2];
    let n_bins = comptime![n_fft / 2 + 1];
    let mut o = unit;
    while o < out_dim {
        let mut acc = F::new(0.0);
        if live {
            if comptime![use_mel] {
                let first = u32::cast_from(bounds[2 * o]) as usize;
                let n = u32::cast_from(bounds[2 * o + 1]) as usize;
                let mut j = 0usize;
                while j < n {
                    acc += mel[o * n_bins + first + j] * bin(pr, pi, base, first + j, m);
                    j += 1;
                }
            } else {
                acc = bin(pr, pi, base, o, m);
            }
        }
        output[out_base + o] = acc;
        o += units;
    }
}

/// See `FeatureOps::spectrum`. Launched with `ceil(batch * n_frames / per_cube)` cubes of
/// `per_cube * units` units; `units` divides nothing in particular (every loop strides by
/// it), `per_cube * n_fft / 2` shared values per buffer.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn spectrum_kernel<F: Float>(
    signal: &Tensor<F>,
    lengths: &Tensor<F>,
    window: &Tensor<F>,
    twiddles: &Tensor<F>,
    mel: &Tensor<F>,
    bounds: &Tensor<F>,
    output: &mut Tensor<F>,
    batch: u32,
    signal_len: u32,
    n_frames: u32,
    hop: u32,
    power: f32,
    #[comptime] n_fft: usize,
    #[comptime] units: usize,
    #[comptime] per_cube: usize,
    #[comptime] radix2_first: bool,
    #[comptime] center: bool,
    #[comptime] pad_mode: u32,
    #[comptime] power_mode: u32,
    #[comptime] use_mel: bool,
    #[comptime] out_dim: usize,
    #[define(F)] _dtype: ElemType,
) {
    let m = comptime![n_fft / 2];
    let slot = UNIT_POS as usize / units;
    let unit = UNIT_POS as usize % units;
    let n_frames = n_frames as usize;
    let frame = CUBE_POS * per_cube + slot;
    let active = frame < batch as usize * n_frames;
    let fr = select(active, frame, 0usize);
    let b = fr / n_frames;
    let t = fr % n_frames;
    let hop = hop as usize;
    let len = u32::cast_from(lengths[b]) as usize;
    let mut clip_frames = 0usize;
    if comptime![center] {
        clip_frames = 1 + len / hop;
    } else if len >= n_fft {
        clip_frames = 1 + (len - n_fft) / hop;
    }
    // Every unit reaches every barrier; `live` only guards loads and arithmetic.
    let live = active && t < clip_frames;
    let base = slot * m;

    let mut re0 = Shared::new_slice(comptime![per_cube * n_fft / 2]);
    let mut im0 = Shared::new_slice(comptime![per_cube * n_fft / 2]);
    let mut re1 = Shared::new_slice(comptime![per_cube * n_fft / 2]);
    let mut im1 = Shared::new_slice(comptime![per_cube * n_fft / 2]);

    let offset = select(center, m, 0usize);
    let start = (t * hop) as i32 - offset as i32;
    let row = b * signal_len as usize;
    let mut n = unit;
    while n < m {
        let mut xr = F::new(0.0);
        let mut xi = F::new(0.0);
        if live {
            let i0 = 2 * n;
            let s0 = source_index(start + i0 as i32, len as i32, pad_mode);
            let s1 = source_index(start + i0 as i32 + 1, len as i32, pad_mode);
            let v0 = signal[row + select(s0 >= 0, s0, 0i32) as usize];
            let v1 = signal[row + select(s1 >= 0, s1, 0i32) as usize];
            xr = select(s0 >= 0, v0, F::new(0.0)) * window[i0];
            xi = select(s1 >= 0, v1, F::new(0.0)) * window[i0 + 1];
        }
        re0[base + n] = xr;
        im0[base + n] = xi;
        n += units;
    }
    sync_cube();

    let mut p = 1usize;
    let mut in0 = true;
    if comptime![radix2_first] {
        radix2_stage(&re0, &im0, &mut re1, &mut im1, base, unit, m, units);
        sync_cube();
        p = 2;
        in0 = false;
    }
    while p < m {
        if in0 {
            radix4_stage(
                &re0, &im0, &mut re1, &mut im1, twiddles, base, unit, p, n_fft, units,
            );
        } else {
            radix4_stage(
                &re1, &im1, &mut re0, &mut im0, twiddles, base, unit, p, n_fft, units,
            );
        }
        sync_cube();
        p *= 4;
        in0 = !in0;
    }

    let out_base = fr * out_dim;
    if in0 {
        unpack_power(
            &re0, &im0, &mut re1, &mut im1, twiddles, base, unit, power, n_fft, units, power_mode,
        );
    } else {
        unpack_power(
            &re1, &im1, &mut re0, &mut im0, twiddles, base, unit, power, n_fft, units, power_mode,
        );
    }
    sync_cube();
    if active {
        if in0 {
            project(
                &re1, &im1, mel, bounds, output, base, out_base, unit, live, n_fft, units, use_mel,
                out_dim,
            );
        } else {
            project(
                &re0, &im0, mel, bounds, output, base, out_base, unit, live, n_fft, units, use_mel,
                out_dim,
            );
        }
    }
}
