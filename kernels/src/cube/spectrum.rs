//! Frames → window → real FFT in shared memory → |X|^p → (mel projection).
//!
//! A cube holds `per_cube` frames and `units` units per frame. Each frame's `n_fft` real
//! samples are packed as `n_fft / 2` complex values (even samples real, odd imaginary),
//! transformed by a Stockham autosort FFT (natural order in and out, ping-pong shared
//! buffers, one barrier per stage) and unpacked into the `n_fft / 2 + 1` bins of the real
//! transform. Each stage gives every unit one butterfly of radix `radix` (4, 8 or 16: a
//! tuning knob), whose `radix`-point DFT runs in registers with constant twiddles; a first
//! stage of smaller radix takes what `log2(n_fft / 2)` leaves over. The stages are unrolled
//! at compile time (n_fft is a comptime value), so each one's span, twiddle stride, index
//! masks and ping-pong buffers are constants. A higher radix means
//! fewer stages, barriers and shared-memory round trips, and fewer units per frame. A second
//! knob, `first_from_signal`, feeds the first stage straight from the signal instead of
//! from the frame loaded into shared memory (one round trip and one barrier less).
//! Frames past a clip's own length are written as zeros without being computed.
//!
//! The kernel is launched unchecked (in WGSL, no loop-bounding counters; CubeCL never
//! bounds-checks tensor indexing either way): every index is in bounds by construction for tensors of
//! the shapes `FeatureOps::spectrum` asserts on the host, and values read from tensors
//! (clip lengths, band bounds) are clamped where they are read, so no tensor content can
//! send an access out of bounds.
use cubecl::prelude::*;

use crate::ops::LENGTH_SPLIT;

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

/// `bit_reverse(s, r)`: `s` with its `log2 r` low bits reversed (where a radix-2
/// decimation-in-frequency transform of size `r` leaves output `s`).
fn bit_reverse(s: usize, r: usize) -> usize {
    let bits = r.trailing_zeros();
    if bits == 0 {
        0
    } else {
        s.reverse_bits() >> (usize::BITS - bits)
    }
}

/// The first stage's radix: what is left of `log2 m` after whole stages of `radix`, so
/// that every later stage has the full radix (`radix` itself when it divides evenly).
fn first_radix(m: usize, radix: usize) -> usize {
    let (bits, step) = (m.trailing_zeros(), radix.trailing_zeros());
    match bits % step {
        0 => radix.min(m),
        rest => 1 << rest,
    }
}

/// The `r`-point DFT of `(xr, xi)` in place: radix-2 decimation in frequency, unrolled at
/// compile time with constant twiddles (multiplications by 1 and -i are moves), so the
/// values stay in registers; the output is left in bit-reversed order.
#[cube]
fn dft<F: Float>(xr: &mut Array<F>, xi: &mut Array<F>, #[comptime] r: usize) {
    #[unroll]
    for level in 0..comptime![r.trailing_zeros() as usize] {
        let len = comptime![r >> level];
        let half = comptime![len / 2];
        #[unroll]
        for blk in 0..comptime![r / len] {
            #[unroll]
            for j in 0..half {
                let u = comptime![blk * len + j];
                let v = comptime![blk * len + j + half];
                let ar = xr[u];
                let ai = xi[u];
                let br = xr[v];
                let bi = xi[v];
                xr[u] = ar + br;
                xi[u] = ai + bi;
                let tr = ar - br;
                let ti = ai - bi;
                if comptime![j == 0] {
                    xr[v] = tr;
                    xi[v] = ti;
                } else if comptime![4 * j == len] {
                    // times W_4 = -i
                    xr[v] = ti;
                    xi[v] = -tr;
                } else {
                    let angle = comptime![-2.0 * std::f64::consts::PI * j as f64 / len as f64];
                    let c = F::new(comptime![angle.cos() as f32]);
                    let s = F::new(comptime![angle.sin() as f32]);
                    xr[v] = tr * c - ti * s;
                    xi[v] = tr * s + ti * c;
                }
            }
        }
    }
}

/// Writes a butterfly's `r` outputs (bit-reversed in `xr`, `xi`) to `dst[j + s p]`.
#[cube]
fn store<F: Float>(
    xr: &Array<F>,
    xi: &Array<F>,
    dr: &mut Shared<[F]>,
    di: &mut Shared<[F]>,
    j: usize,
    p: usize,
    #[comptime] r: usize,
) {
    #[unroll]
    for s in 0..r {
        let from = comptime![bit_reverse(s, r)];
        dr[j + comptime![s] * p] = xr[from];
        di[j + comptime![s] * p] = xi[from];
    }
}

/// Point `n` of a frame wholly inside its clip: samples `2n, 2n + 1` from `start`, read
/// straight from the row, windowed.
#[cube]
fn inside_point<F: Float>(
    signal: &Tensor<F>,
    window: &Tensor<F>,
    row: usize,
    start: i32,
    n: usize,
) -> (F, F) {
    let at = row + start as usize + 2 * n;
    (
        signal[at] * window[2 * n],
        signal[at + 1] * window[2 * n + 1],
    )
}

/// Point `n` of a frame that is not wholly inside its clip: samples `2n, 2n + 1` from
/// `start` through the padding rule, windowed, into `sr[at]`, `si[at]` (zeros unless
/// `live`).
#[cube]
#[allow(clippy::too_many_arguments)]
fn padded_point<F: Float>(
    signal: &Tensor<F>,
    window: &Tensor<F>,
    sr: &mut Shared<[F]>,
    si: &mut Shared<[F]>,
    at: usize,
    row: usize,
    start: i32,
    len: usize,
    n: usize,
    live: bool,
    #[comptime] pad_mode: u32,
) {
    let i0 = 2 * n;
    let mut a = F::new(0.0);
    let mut b = F::new(0.0);
    if live {
        let s0 = source_index(start + i0 as i32, len as i32, pad_mode);
        let s1 = source_index(start + i0 as i32 + 1, len as i32, pad_mode);
        // Branches, not selects: an empty row has no sample to read at all.
        if s0 >= 0 {
            a = signal[row + s0 as usize] * window[i0];
        }
        if s1 >= 0 {
            b = signal[row + s1 as usize] * window[i0 + 1];
        }
    }
    sr[at] = a;
    si[at] = b;
}

/// The packed frame into `sr`, `si` (the input of a first [`stage`] from shared memory).
/// Frames wholly inside the clip (`inside`: all but a few at each end; the same branch for
/// every unit of a frame) read the row directly, the others through the padding rule.
#[cube]
#[allow(clippy::too_many_arguments)]
fn load_frame<F: Float>(
    signal: &Tensor<F>,
    window: &Tensor<F>,
    sr: &mut Shared<[F]>,
    si: &mut Shared<[F]>,
    row: usize,
    start: i32,
    len: usize,
    live: bool,
    inside: bool,
    base: usize,
    unit: usize,
    #[comptime] n_fft: usize,
    #[comptime] units: usize,
    #[comptime] pad_mode: u32,
) {
    // `units` divides `n_fft / 2` (both powers of two): a fixed count per unit, unrolled.
    #[unroll]
    for j in 0..comptime![n_fft / 2 / units] {
        let n = unit + comptime![j * units];
        if inside {
            let (a, b) = inside_point(signal, window, row, start, n);
            sr[base + n] = a;
            si[base + n] = b;
        } else {
            padded_point(
                signal,
                window,
                sr,
                si,
                base + n,
                row,
                start,
                len,
                n,
                live,
                pad_mode,
            );
        }
    }
}

/// The first Stockham stage (`p = 1`, nothing to twiddle) reading its inputs straight from
/// the signal, so that the frame makes no round trip through shared memory (and one barrier
/// less) before its first butterfly: the `first_from_signal` variant of the kernel. Frames
/// not `inside` their clip first gather their points into `scratch` (a loop, not unrolled,
/// so the padding code is not repeated `r` times) at positions only this unit reads back,
/// so no barrier is needed.
#[cube]
#[allow(clippy::too_many_arguments)]
fn first_stage_from_signal<F: Float>(
    signal: &Tensor<F>,
    window: &Tensor<F>,
    scratch_r: &mut Shared<[F]>,
    scratch_i: &mut Shared<[F]>,
    dr: &mut Shared<[F]>,
    di: &mut Shared<[F]>,
    row: usize,
    start: i32,
    len: usize,
    live: bool,
    inside: bool,
    base: usize,
    unit: usize,
    #[comptime] n_fft: usize,
    #[comptime] r: usize,
    #[comptime] units: usize,
    #[comptime] pad_mode: u32,
) {
    let count = comptime![n_fft / 2 / r];
    let mut xr = Array::<F>::new(r);
    let mut xi = Array::<F>::new(r);
    // `units` divides `count` (both powers of two): a fixed count per unit, unrolled.
    #[unroll]
    for j in 0..comptime![count / units] {
        let i = unit + comptime![j * units];
        if !inside {
            for q in 0..r {
                let n = i + q * count;
                padded_point(
                    signal,
                    window,
                    scratch_r,
                    scratch_i,
                    base + n,
                    row,
                    start,
                    len,
                    n,
                    live,
                    pad_mode,
                );
            }
        }
        #[unroll]
        for q in 0..r {
            let n = i + comptime![q * count];
            if inside {
                let (a, b) = inside_point(signal, window, row, start, n);
                xr[q] = a;
                xi[q] = b;
            } else {
                xr[q] = scratch_r[base + n];
                xi[q] = scratch_i[base + n];
            }
        }
        dft(&mut xr, &mut xi, r);
        store(&xr, &xi, dr, di, base + i * r, 1, r);
    }
}

/// Stages of the full `radix` after the first (of radix `first_radix(m, radix)`).
fn later_stages(m: usize, radix: usize) -> usize {
    ((m / first_radix(m, radix)).trailing_zeros() / radix.trailing_zeros()) as usize
}

/// One Stockham stage of radix `r`, combining sub-transforms of length `p` into length
/// `r p`: butterfly `i < M/r` reads `src[i + q M/r]`, twiddles input `q` by `W_{rp}^(q k)`
/// with `k = i mod p` (nothing to twiddle in the `first` stage, where `p = 1`), takes the
/// r-point DFT in registers and writes output `s` to `dst[r (i - k) + k + s p]`.
/// `twiddles` holds `W_N^j`, j < N.
#[cube]
#[allow(clippy::too_many_arguments)]
fn stage<F: Float>(
    sr: &Shared<[F]>,
    si: &Shared<[F]>,
    dr: &mut Shared<[F]>,
    di: &mut Shared<[F]>,
    twiddles: &Tensor<F>,
    base: usize,
    unit: usize,
    #[comptime] p: usize,
    #[comptime] n_fft: usize,
    #[comptime] r: usize,
    #[comptime] first: bool,
    #[comptime] units: usize,
) {
    let count = comptime![n_fft / 2 / r];
    let stride = comptime![n_fft / (r * p)];
    let mut xr = Array::<F>::new(r);
    let mut xi = Array::<F>::new(r);
    // `units` divides `count` (both powers of two): a fixed count per unit, unrolled.
    #[unroll]
    for j in 0..comptime![count / units] {
        let i = unit + comptime![j * units];
        let k = i & comptime![p - 1];
        #[unroll]
        for q in 0..r {
            let at = base + i + comptime![q * count];
            let a = sr[at];
            let b = si[at];
            if comptime![first || q == 0] {
                xr[q] = a;
                xi[q] = b;
            } else {
                let w = comptime![2 * q * stride] * k;
                let wr = twiddles[w];
                let wi = twiddles[w + 1];
                xr[q] = a * wr - b * wi;
                xi[q] = a * wi + b * wr;
            }
        }
        dft(&mut xr, &mut xi, r);
        store(&xr, &xi, dr, di, base + (i - k) * r + k, p, r);
    }
}

/// `|X[k]|^p` of bin `k <= M` of the real transform, from the packed transform `Z` in
/// `zr`, `zi`: `X[k] = (Z[k] + conj Z[M-k]) / 2 - i W_N^k (Z[k] - conj Z[M-k]) / 2`, with
/// `Z` indices taken mod `M`.
#[cube]
#[allow(clippy::too_many_arguments)]
fn bin_power<F: Float>(
    zr: &Shared<[F]>,
    zi: &Shared<[F]>,
    twiddles: &Tensor<F>,
    base: usize,
    k: usize,
    power: f32,
    #[comptime] n_fft: usize,
    #[comptime] power_mode: u32,
) -> F {
    let m = comptime![n_fft / 2];
    let a = k & comptime![m - 1];
    let c = (m - k) & comptime![m - 1];
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
    v
}

/// The frame's power spectrum: bins `k < M` into `pr[k]`, unrolled over each unit's fixed
/// share (`units` divides `M`), and bin `M` (Nyquist) into `pi[0]` by unit 0.
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
    #[unroll]
    for j in 0..comptime![m / units] {
        let k = unit + comptime![j * units];
        pr[base + k] = bin_power(zr, zi, twiddles, base, k, power, n_fft, power_mode);
    }
    if unit == 0 {
        pi[base] = bin_power(zr, zi, twiddles, base, m, power, n_fft, power_mode);
    }
}

/// Mel projection (or the raw spectrum) of one frame into `output[out_base..]`; zeros for a
/// frame that is not `live`. Bin `k < M` of the power spectrum is `pr[base + k]`, bin `M`
/// (Nyquist) `pi[base]`, as [`unpack_power`] stored them.
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
                // Clamped to the filterbank's row whatever the bounds tensor holds.
                let first = clamp_max(u32::cast_from(bounds[2 * o]) as usize, n_bins);
                let n = clamp_max(u32::cast_from(bounds[2 * o + 1]) as usize, n_bins - first);
                let end = first + n;
                let row = o * n_bins;
                // Bins below Nyquist in one branch-free loop, then Nyquist if the band has it.
                let mut k = first;
                while k < clamp_max(end, m) {
                    acc += mel[row + k] * pr[base + k];
                    k += 1;
                }
                if end > m {
                    acc += mel[row + m] * pi[base];
                }
            } else if o < m {
                acc = pr[base + o];
            } else {
                acc = pi[base];
            }
        }
        output[out_base + o] = acc;
        o += units;
    }
}

/// `min(a, b)`.
#[cube]
fn clamp_max(a: usize, b: usize) -> usize {
    select(a < b, a, b)
}

/// See `FeatureOps::spectrum`. Launched with `ceil(batch * n_frames / per_cube)` cubes of
/// `per_cube * units` units, `per_cube * n_fft / 2` shared values per buffer. `units` is a
/// power of two of at most `max(1, n_fft / 2 / radix)`, so it divides every stage's
/// butterfly count (the FFT loops are unrolled on that).
#[cube(launch_unchecked)]
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
    #[comptime] radix: usize,
    #[comptime] first_from_signal: bool,
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
    // `encode_lengths`' pair, at most the padded row whatever the tensor holds.
    let encoded = u32::cast_from(lengths[2 * b]) as usize * LENGTH_SPLIT
        + u32::cast_from(lengths[2 * b + 1]) as usize;
    let len = clamp_max(encoded, signal_len as usize);
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
    let inside = live && start >= 0 && start as usize + n_fft <= len;
    // First stage (radix `first_radix(m, radix)`, no twiddles) into `re1`, `im1`, either
    // from the frame loaded into `re0`, `im0` or straight from the signal; then full-radix
    // stages.
    let r0 = comptime![first_radix(m, radix)];
    if comptime![first_from_signal] {
        first_stage_from_signal(
            signal, window, &mut re0, &mut im0, &mut re1, &mut im1, row, start, len, live, inside,
            base, unit, n_fft, r0, units, pad_mode,
        );
    } else {
        load_frame(
            signal, window, &mut re0, &mut im0, row, start, len, live, inside, base, unit, n_fft,
            units, pad_mode,
        );
        sync_cube();
        stage(
            &re0, &im0, &mut re1, &mut im1, twiddles, base, unit, 1usize, n_fft, r0, true, units,
        );
    }
    sync_cube();
    // The later stages, unrolled: every stage's `p` (and with it the twiddle stride and the
    // index masks) is a constant, and which buffer holds the data is known at compile time.
    #[unroll]
    for st in 0..comptime![later_stages(m, radix)] {
        let p = comptime![first_radix(m, radix) * radix.pow(st as u32)];
        if comptime![st % 2 == 0] {
            stage(
                &re1, &im1, &mut re0, &mut im0, twiddles, base, unit, p, n_fft, radix, false, units,
            );
        } else {
            stage(
                &re0, &im0, &mut re1, &mut im1, twiddles, base, unit, p, n_fft, radix, false, units,
            );
        }
        sync_cube();
    }
    // The transform is in `re0`, `im0` after an odd number of later stages, else in `re1`.
    let in0 = comptime![later_stages(m, radix) % 2 == 1];

    let out_base = fr * out_dim;
    if comptime![in0] {
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
        if comptime![in0] {
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

#[cfg(test)]
mod tests {
    use super::{bit_reverse, first_radix, later_stages};

    #[test]
    fn stages_multiply_to_the_transform_size_with_full_radix_after_the_first() {
        for bits in 1..=11 {
            let m = 1usize << bits;
            for radix in crate::ops::FFT_RADICES {
                let r0 = first_radix(m, radix);
                assert!(
                    r0.is_power_of_two() && r0 >= 2 && r0 <= radix,
                    "{m} {radix}"
                );
                let rest = m / r0;
                // Every later stage is a full `radix` stage, as many as the kernel unrolls.
                assert_eq!(
                    rest,
                    radix.pow(later_stages(m, radix) as u32),
                    "{m} {radix}"
                );
            }
        }
    }

    #[test]
    fn bit_reversal_is_a_permutation_that_undoes_itself() {
        for r in [2usize, 4, 8, 16] {
            let rev: Vec<usize> = (0..r).map(|s| bit_reverse(s, r)).collect();
            let mut sorted = rev.clone();
            sorted.sort();
            assert_eq!(sorted, (0..r).collect::<Vec<_>>());
            assert!((0..r).all(|s| bit_reverse(rev[s], r) == s));
        }
        assert_eq!(bit_reverse(1, 8), 4);
        assert_eq!(bit_reverse(3, 16), 12);
    }
}
