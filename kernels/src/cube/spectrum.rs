//! Frames → window → real FFT in shared memory → |X|^p → (mel projection).
//!
//! A cube holds `per_cube` frames and `units` units per frame. Each frame's `n_fft` real
//! samples are packed as `n_fft / 2` complex values (even samples real, odd imaginary),
//! transformed by a Stockham autosort FFT (natural order in and out, ping-pong shared
//! buffers, one barrier per stage) and unpacked into the `n_fft / 2 + 1` bins of the real
//! transform. Each stage gives every unit one butterfly of radix `radix` (4, 8 or 16), whose `radix`-point DFT runs in registers with constant twiddles; a first
//! stage of smaller radix takes what `log2(n_fft / 2)` leaves over. The stages are unrolled
//! at compile time (n_fft is a comptime value), so each one's span, twiddle stride, index
//! masks and ping-pong buffers are constants. A higher radix means
//! fewer stages, barriers and shared-memory round trips, and fewer units per frame. A second
//! choice, `first_from_signal`, feeds the first stage straight from the signal instead of
//! from the frame loaded into shared memory (one round trip and one barrier less); a third,
//! `pad`, leaves gaps in the FFT buffers (see [`pad_span`]) so that no stage's strided
//! stores hit a shared-memory bank twice; a fourth, `in_place`, has every stage read its
//! inputs into registers, wait for the cube and write back over them: one pair of buffers
//! instead of two (half the shared memory per frame) for one more barrier per stage. The
//! power spectrum overwrites the transform either way. The four choices are one
//! `FftVariant`, picked per device and shape by CubeCL's autotune (`cube/mod.rs`). The
//! kernel's arguments read by name: the clips ([`Clips`]), the per-config constants
//! ([`Constants`]), the runtime sizes ([`Sizes`]) and the comptime [`SpectrumConfig`].
//! Frames past a clip's own length are written as
//! zeros without being computed, and frames inside their clip load only the samples where
//! the window is non-zero (`SpectrumPlan::window_support`), two at a time where every frame
//! starts at an even sample (`paired`).
//!
//! Memory accesses are what a GPU runs short of first (an SM serves one warp-wide access of
//! shared memory or L1, 32 banks of 4 bytes, per clock, against four warp-wide FP32
//! instructions): each unit loads one twiddle per stage and takes the others as its powers
//! (times constants), and the real unpack computes bins `k` and `M - k` from the same two
//! values.
//!
//! The kernel is launched unchecked (in WGSL, no loop-bounding counters; CubeCL never
//! bounds-checks tensor indexing either way): every index is in bounds by construction for tensors of
//! the shapes `FeatureOps::spectrum` asserts on the host, and values read from tensors
//! (clip lengths, band bounds) are clamped where they are read, so no tensor content can
//! send an access out of bounds.
use cubecl::prelude::*;

use crate::plan::LENGTH_SPLIT;

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
pub(super) fn first_radix(m: usize, radix: usize) -> usize {
    let (bits, step) = (m.trailing_zeros(), radix.trailing_zeros());
    match bits % step {
        0 => radix.min(m),
        rest => 1 << rest,
    }
}

/// The `r`-point DFT of `(xr, xi)[at..at + r]` in place: radix-2 decimation in frequency,
/// unrolled at compile time with constant twiddles (multiplications by 1 and -i are moves),
/// so the values stay in registers; the output is left in bit-reversed order.
#[cube]
fn dft<F: Float>(
    xr: &mut Array<F>,
    xi: &mut Array<F>,
    #[comptime] at: usize,
    #[comptime] r: usize,
) {
    #[unroll]
    for level in 0..comptime![r.trailing_zeros() as usize] {
        let len = comptime![r >> level];
        let half = comptime![len / 2];
        #[unroll]
        for blk in 0..comptime![r / len] {
            #[unroll]
            for j in 0..half {
                let u = comptime![at + blk * len + j];
                let v = comptime![at + blk * len + j + half];
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

/// The `span` of the padded layout in which a stage of span `p` and radix `r` leaves its
/// output (0: unpadded). Padded, position `x` of a frame is stored at `x + (x / (p r)) p`:
/// a butterfly's outputs go to `p`-long runs `p r` apart, and one gap of `p` after every
/// `p r` values sends the runs of a warp's 32 units to distinct shared-memory banks (the
/// unpadded stores of the early stages hit the same bank up to `r` times). The last stage
/// (`p r = M`) needs no gap, so the transform the bins read is unpadded.
fn pad_span(m: usize, p: usize, r: usize, pad: bool) -> usize {
    if pad && p * r < m { p * r } else { 0 }
}

/// Where in-frame position `x` is stored in a buffer laid out with `(span, gap)` (see
/// [`pad_span`]; `span` 0 is the plain layout).
#[cube]
fn spot(x: usize, #[comptime] span: usize, #[comptime] gap: usize) -> usize {
    let mut at = x;
    if comptime![span > 0] {
        at = x + x / span * gap;
    }
    at
}

/// One frame as the code that loads it sees it: the first sample of its clip's `row` in
/// the signal, its `start` in the clip (negative where centring pads it), the clip's `len`,
/// whether it is computed at all (`live`) and wholly inside its clip (`inside`: all but a
/// few frames at each end, the same branch for every unit of a frame), its first value in
/// shared memory (`base`) and the running unit's index within the frame (`unit`).
#[derive(CubeType, Clone)]
struct Frame {
    row: usize,
    start: i32,
    len: usize,
    live: bool,
    inside: bool,
    base: usize,
    unit: usize,
}

/// Where frames read their samples and how: the signal and the window, each also viewed
/// as pairs (`Vector<F, N>`, `N = 2` where `paired`: every frame starts at an even sample),
/// the window's non-zero points `[lo, hi)` and the padding rule at clip edges.
#[derive(CubeType)]
struct Samples<'a, F: Float, N: Size> {
    signal: &'a Tensor<F>,
    window: &'a Tensor<F>,
    signal_pairs: &'a Tensor<Vector<F, N>>,
    window_pairs: &'a Tensor<Vector<F, N>>,
    #[cube(comptime)]
    lo: usize,
    #[cube(comptime)]
    hi: usize,
    #[cube(comptime)]
    paired: bool,
    #[cube(comptime)]
    pad_mode: u32,
}

#[cube]
impl<'a, F: Float, N: Size> Samples<'a, F, N> {
    /// The samples of `signal` and `window` (each also as pairs) as `cfg` reads them.
    fn new(
        signal: &'a Tensor<F>,
        window: &'a Tensor<F>,
        signal_pairs: &'a Tensor<Vector<F, N>>,
        window_pairs: &'a Tensor<Vector<F, N>>,
        #[comptime] cfg: SpectrumConfig,
    ) -> Samples<'a, F, N> {
        Samples::<'a, F, N> {
            signal,
            window,
            signal_pairs,
            window_pairs,
            lo: comptime![cfg.win_lo],
            hi: comptime![cfg.win_hi],
            paired: comptime![cfg.paired],
            pad_mode: comptime![cfg.pad_mode],
        }
    }
}

/// Point `n` (samples `2n, 2n + 1` from its start, windowed) of a frame wholly inside its
/// clip, read straight from the row (as one pair of signal and window where `paired`).
/// `n` lies in the comptime range `[from, to)`; points outside the window's support
/// `[lo, hi)` are zeros and load nothing, with a runtime test only where the range
/// straddles an end of the support.
#[cube]
fn inside_point<F: Float, N: Size>(
    src: &Samples<F, N>,
    frame: &Frame,
    n: usize,
    #[comptime] from: usize,
    #[comptime] to: usize,
) -> (F, F) {
    let lo = comptime![src.lo];
    let hi = comptime![src.hi];
    let mut a = F::new(0.0);
    let mut b = F::new(0.0);
    if comptime![from < hi && to > lo] {
        let mut wanted = true;
        if comptime![from < lo || to > hi] {
            wanted = n >= lo && n < hi;
        }
        if wanted {
            let at = frame.row + frame.start as usize;
            if comptime![src.paired] {
                let v = src.signal_pairs[at / 2 + n] * src.window_pairs[n];
                a = v.extract(0usize);
                b = v.extract(1usize);
            } else {
                a = src.signal[at + 2 * n] * src.window[2 * n];
                b = src.signal[at + 2 * n + 1] * src.window[2 * n + 1];
            }
        }
    }
    (a, b)
}

/// Point `n` of a frame that is not wholly inside its clip: samples `2n, 2n + 1` from its
/// start through the padding rule, windowed (zeros unless the frame is `live`).
#[cube]
fn padded_point<F: Float, N: Size>(src: &Samples<F, N>, frame: &Frame, n: usize) -> (F, F) {
    let pad_mode = comptime![src.pad_mode];
    let i0 = 2 * n;
    let mut a = F::new(0.0);
    let mut b = F::new(0.0);
    if frame.live {
        let len = frame.len as i32;
        let s0 = source_index(frame.start + i0 as i32, len, pad_mode);
        let s1 = source_index(frame.start + i0 as i32 + 1, len, pad_mode);
        // Branches, not selects: an empty row has no sample to read at all.
        if s0 >= 0 {
            a = src.signal[frame.row + s0 as usize] * src.window[i0];
        }
        if s1 >= 0 {
            b = src.signal[frame.row + s1 as usize] * src.window[i0 + 1];
        }
    }
    (a, b)
}

/// The packed frame into `sr`, `si` (the input of the first stage's [`butterflies`] from shared memory):
/// interior frames read the row directly (only the points in the window's support
/// `[lo, hi)`), the others through the padding rule.
#[cube]
fn load_frame<F: Float, N: Size>(
    src: &Samples<F, N>,
    sr: &mut Shared<[F]>,
    si: &mut Shared<[F]>,
    frame: &Frame,
    #[comptime] n_fft: usize,
    #[comptime] units: usize,
) {
    // `units` divides `n_fft / 2` (both powers of two): a fixed count per unit, unrolled.
    #[unroll]
    for j in 0..comptime![n_fft / 2 / units] {
        let n = frame.unit + comptime![j * units];
        let at = frame.base + n;
        if frame.inside {
            let (a, b) = inside_point(
                src,
                frame,
                n,
                comptime![j * units],
                comptime![(j + 1) * units],
            );
            sr[at] = a;
            si[at] = b;
        } else {
            let (a, b) = padded_point(src, frame, n);
            sr[at] = a;
            si[at] = b;
        }
    }
}

/// The butterflies of the first Stockham stage (`p = 1`, nothing to twiddle) from inputs
/// read straight from the signal, so that the frame makes no round trip through shared
/// memory (and one barrier less) before them: the `first_from_signal` variant of the
/// kernel. Outputs as [`butterflies`] leaves them. Frames not `inside` their clip first
/// gather their points into `scratch` (a loop, not unrolled, so the padding code is not
/// repeated `r` times) at positions only this unit reads back, so no barrier is needed.
#[cube]
fn first_butterflies_from_signal<F: Float, N: Size>(
    src: &Samples<F, N>,
    scratch_r: &mut Shared<[F]>,
    scratch_i: &mut Shared<[F]>,
    yr: &mut Array<F>,
    yi: &mut Array<F>,
    frame: &Frame,
    #[comptime] stage: Stage,
) {
    let r = comptime![stage.r];
    let units = comptime![stage.units];
    let count = comptime![stage.n_fft / 2 / r];
    let base = frame.base;
    // `units` divides `count` (both powers of two): a fixed count per unit, unrolled.
    #[unroll]
    for j in 0..comptime![count / units] {
        let i = frame.unit + comptime![j * units];
        if !frame.inside {
            for q in 0..r {
                let n = i + q * count;
                let (a, b) = padded_point(src, frame, n);
                scratch_r[base + n] = a;
                scratch_i[base + n] = b;
            }
        }
        #[unroll]
        for q in 0..r {
            let n = i + comptime![q * count];
            let y = comptime![j * r + q];
            if frame.inside {
                let (a, b) = inside_point(
                    src,
                    frame,
                    n,
                    comptime![j * units + q * count],
                    comptime![(j + 1) * units + q * count],
                );
                yr[y] = a;
                yi[y] = b;
            } else {
                yr[y] = scratch_r[base + n];
                yi[y] = scratch_i[base + n];
            }
        }
        dft(yr, yi, comptime![j * r], r);
    }
}

/// Stages of the full `radix` after the first (of radix `first_radix(m, radix)`).
fn later_stages(m: usize, radix: usize) -> usize {
    ((m / first_radix(m, radix)).trailing_zeros() / radix.trailing_zeros()) as usize
}

/// `(xr + i xi) W_N^e` for a constant exponent `e` (nothing to do when `e` is 0).
#[cube]
fn times_twiddle<F: Float>(xr: F, xi: F, #[comptime] e: usize, #[comptime] n_fft: usize) -> (F, F) {
    let mut yr = xr;
    let mut yi = xi;
    if comptime![!e.is_multiple_of(n_fft)] {
        let angle = comptime![-2.0 * std::f64::consts::PI * e as f64 / n_fft as f64];
        let c = F::new(comptime![angle.cos() as f32]);
        let s = F::new(comptime![angle.sin() as f32]);
        yr = xr * c - xi * s;
        yi = xr * s + xi * c;
    }
    (yr, yi)
}

/// `w^q` into `(wr[q], wi[q])` for `1 <= q < r`, `w` the table's twiddle at `at`: one load
/// instead of `r - 1`, the powers as a balanced product tree (`w^q = w^(q/2) w^(q - q/2)`),
/// so each is at most `log2 r` roundings from the exact value.
#[cube]
fn powers<F: Float>(
    twiddles: &Tensor<F>,
    at: usize,
    wr: &mut Array<F>,
    wi: &mut Array<F>,
    #[comptime] r: usize,
) {
    wr[1] = twiddles[at];
    wi[1] = twiddles[at + 1];
    #[unroll]
    for t in 0..comptime![r - 2] {
        let q = comptime![t + 2];
        let a = comptime![q / 2];
        let b = comptime![q - q / 2];
        let (ar, ai) = (wr[a], wi[a]);
        let (br, bi) = (wr[b], wi[b]);
        wr[q] = ar * br - ai * bi;
        wi[q] = ar * bi + ai * br;
    }
}

/// One Stockham stage as the kernel compiles it: it combines sub-transforms of span `p` by
/// radix `r` in an `n_fft`-point frame; `prev_r` is the radix of the stage before (whose
/// layout it reads), `first` marks the stage that reads the plain frame (`p = 1`, nothing to
/// twiddle), `pad` the gapped shared layout of [`pad_span`], `units` the units per frame.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
struct Stage {
    p: usize,
    n_fft: usize,
    r: usize,
    prev_r: usize,
    first: bool,
    pad: bool,
    units: usize,
}

/// This unit's butterflies of one Stockham stage of radix `r`, combining sub-transforms of
/// length `p` into length `r p`: butterfly `i < M/r` reads `src[i + q M/r]`, twiddles input
/// `q` by `W_{rp}^(q k)` with `k = i mod p` (nothing to twiddle in the `first` stage, where
/// `p = 1`) and takes the r-point DFT in registers: the unit's `j`-th butterfly leaves its
/// outputs in `(yr, yi)[j r..(j + 1) r]` (bit-reversed) for [`store_stage`]. `twiddles`
/// holds `W_N^j`, j < N. With `pad`, buffers use the layout of [`pad_span`]: this stage
/// reads the one the stage before (radix `prev_r`) wrote.
#[cube]
fn butterflies<F: Float>(
    sr: &Shared<[F]>,
    si: &Shared<[F]>,
    twiddles: &Tensor<F>,
    yr: &mut Array<F>,
    yi: &mut Array<F>,
    frame: &Frame,
    #[comptime] stage: Stage,
) {
    let (base, unit) = (frame.base, frame.unit);
    let p = comptime![stage.p];
    let n_fft = comptime![stage.n_fft];
    let r = comptime![stage.r];
    let prev_r = comptime![stage.prev_r];
    let first = comptime![stage.first];
    let pad = comptime![stage.pad];
    let units = comptime![stage.units];
    let m = comptime![n_fft / 2];
    let count = comptime![m / r];
    let stride = comptime![n_fft / (r * p)];
    // The first stage reads the plain frame, the others what the stage of span p / prev_r
    // wrote.
    let read_span = comptime![if first {
        0
    } else {
        pad_span(m, p / prev_r, prev_r, pad)
    }];
    let read_gap = comptime![if first { 0 } else { p / prev_r }];
    // Butterfly i = unit + j units twiddles input q by W_N^(q stride k), k = i mod p =
    // (unit mod p) + c with the constant c = (j units) mod p (powers of two: no carry), so
    // by a power of one loaded W_N^(stride (unit mod p)) times a constant.
    let mut wr = Array::<F>::new(r);
    let mut wi = Array::<F>::new(r);
    if comptime![!first] {
        powers(
            twiddles,
            comptime![2 * stride] * (unit & comptime![p - 1]),
            &mut wr,
            &mut wi,
            r,
        );
    }
    // `units` divides `count` (both powers of two): a fixed count per unit, unrolled.
    #[unroll]
    for j in 0..comptime![count / units] {
        let i = unit + comptime![j * units];
        let c = comptime![(j * units) & (p - 1)];
        #[unroll]
        for q in 0..r {
            let at = base + spot(i + comptime![q * count], read_span, read_gap);
            let a = sr[at];
            let b = si[at];
            let y = comptime![j * r + q];
            if comptime![first || q == 0] {
                yr[y] = a;
                yi[y] = b;
            } else {
                let (tr, ti) = times_twiddle::<F>(wr[q], wi[q], comptime![q * stride * c], n_fft);
                yr[y] = a * tr - b * ti;
                yi[y] = a * ti + b * tr;
            }
        }
        dft(yr, yi, comptime![j * r], r);
    }
}

/// Writes what [`butterflies`] left in `(yr, yi)` for the stage of span `p` and radix `r`:
/// output `s` of butterfly `i` (bit-reversed in its `r` values) to `dst[r (i - k) + k + s p]`,
/// `k = i mod p`, laid out by [`spot`] as [`pad_span`] says with `pad`.
#[cube]
fn store_stage<F: Float>(
    yr: &Array<F>,
    yi: &Array<F>,
    dr: &mut Shared<[F]>,
    di: &mut Shared<[F]>,
    frame: &Frame,
    #[comptime] stage: Stage,
) {
    let m = comptime![stage.n_fft / 2];
    let span = comptime![pad_span(m, stage.p, stage.r, stage.pad)];
    #[unroll]
    for j in 0..comptime![m / stage.r / stage.units] {
        let i = frame.unit + comptime![j * stage.units];
        let k = i & comptime![stage.p - 1];
        let first = (i - k) * comptime![stage.r] + k;
        #[unroll]
        for s in 0..comptime![stage.r] {
            let from = comptime![j * stage.r + bit_reverse(s, stage.r)];
            let at = frame.base + spot(first + comptime![s * stage.p], span, comptime![stage.p]);
            dr[at] = yr[from];
            di[at] = yi[from];
        }
    }
}

/// `|X|^power` from `2 X = (xr, xi)` (`power_mode` 2: power, 1: magnitude, 0: `power`).
#[cube]
fn scaled_power<F: Float>(xr: F, xi: F, power: f32, #[comptime] power_mode: u32) -> F {
    let p2 = (xr * xr + xi * xi) * F::new(0.25);
    let mut v = p2;
    if comptime![power_mode == 1] {
        v = p2.sqrt();
    } else if comptime![power_mode == 0] {
        v = F::powf(p2.sqrt(), F::cast_from(power));
    }
    v
}

/// The frame's power spectrum over its packed transform `Z` (plain layout) in `zr`, `zi`:
/// bins `k < M` into `zr[k]`, bin `M` (Nyquist) into `zi[0]`. Bins `k` and `M - k` share
/// their two loads: with `E = Z[k] + conj Z[M-k]`, `O = -i (Z[k] - conj Z[M-k])` (indices
/// mod `M`) and `T = W_N^k O`, `2 X[k] = E + T` and `2 X[M-k] = conj(E - T)`. Unit `u`
/// takes the pairs `k = u + j units < M / 2` (`W_N^k` is one loaded `W_N^u` times a
/// constant), unit 0 also bin `M / 2`, whose power is `|Z[M/2]|^2`. Each unit writes only
/// the positions it has just read, so the power overwrites the transform without a barrier.
#[cube]
fn unpack_power<F: Float>(
    zr: &mut Shared<[F]>,
    zi: &mut Shared<[F]>,
    twiddles: &Tensor<F>,
    frame: &Frame,
    power: f32,
    #[comptime] cfg: SpectrumConfig,
) {
    let (base, unit) = (frame.base, frame.unit);
    let n_fft = comptime![cfg.n_fft];
    let units = comptime![cfg.units];
    let power_mode = comptime![cfg.power_mode];
    let m = comptime![n_fft / 2];
    let w0r = twiddles[2 * unit];
    let w0i = twiddles[2 * unit + 1];
    // `units` divides `M / 2` (units <= M / 4): a fixed count per unit, unrolled.
    #[unroll]
    for j in 0..comptime![m / 2 / units] {
        let k = unit + comptime![j * units];
        let c = (m - k) & comptime![m - 1];
        let (wr, wi) = times_twiddle::<F>(w0r, w0i, comptime![j * units], n_fft);
        let (ar, ai) = (zr[base + k], zi[base + k]);
        let (cr, ci) = (zr[base + c], -zi[base + c]);
        let er = ar + cr;
        let ei = ai + ci;
        let or = ai - ci;
        let oi = cr - ar;
        let tr = wr * or - wi * oi;
        let ti = wr * oi + wi * or;
        zr[base + k] = scaled_power::<F>(er + tr, ei + ti, power, power_mode);
        let high = scaled_power::<F>(er - tr, ei - ti, power, power_mode);
        if comptime![j == 0] {
            // Bin 0's partner is Nyquist.
            if unit == 0 {
                zi[base] = high;
            } else {
                zr[base + m - k] = high;
            }
        } else {
            zr[base + m - k] = high;
        }
    }
    if unit == 0 {
        let h = base + comptime![m / 2];
        let (zhr, zhi) = (zr[h], zi[h]);
        zr[h] = scaled_power::<F>(zhr + zhr, zhi + zhi, power, power_mode);
    }
}

/// The raw spectrum of one frame into `output[out_base..]` (zeros for a frame that is not
/// `live`): bin `k < M` is `pr[base + k]`, bin `M` (Nyquist) `pi[base]`, as
/// [`unpack_power`] stored them.
#[cube]
fn project_bins<F: Float>(
    pr: &Shared<[F]>,
    pi: &Shared<[F]>,
    output: &mut Tensor<F>,
    frame: &Frame,
    out_base: usize,
    #[comptime] cfg: SpectrumConfig,
) {
    let (base, unit, live) = (frame.base, frame.unit, frame.live);
    let units = comptime![cfg.units];
    let m = comptime![cfg.n_fft / 2];
    let mut o = unit;
    while o <= m {
        let mut v = F::new(0.0);
        if live {
            v = select(o < m, pr[base + clamp_max(o, m - 1)], pi[base]);
        }
        output[out_base + o] = v;
        o += units;
    }
}

/// The mel projection of the cube's frames (of `frames` in the batch) into `output`. The
/// cube's `per_cube * units` units take the tasks
/// `(band o, frames g group .. (g + 1) group of the cube)` in turn, so that each weight is
/// loaded once for `group` frames (as many as leave no unit idle); frames past the batch
/// are not written. Bin `k < M` of the frame in slot `f` is `pr[f stride + k]`, bin `M`
/// (Nyquist) `pi[f stride]`. Frames that are not live have all-zero spectra, so they
/// project to zeros without a test. With `track_peak`, each value also raises its slot's
/// maximum in `peak` (as `f32` bits: for values >= 0 their order as integers is their
/// order as floats).
#[cube]
fn project_mel<F: Float, N: Size>(
    pr: &Shared<[F]>,
    pi: &Shared<[F]>,
    consts: &Constants<F, N>,
    output: &mut Tensor<F>,
    peak: &Shared<[Atomic<u32>]>,
    frames: usize,
    #[comptime] cfg: SpectrumConfig,
) {
    let n_fft = comptime![cfg.n_fft];
    let per_cube = comptime![cfg.per_cube];
    let units = comptime![cfg.units];
    let stride = comptime![cfg.frame_stride];
    let group = comptime![cfg.group];
    let out_dim = comptime![cfg.out_dim];
    let track_peak = comptime![cfg.track_peak];
    let m = comptime![n_fft / 2];
    let n_bins = comptime![n_fft / 2 + 1];
    let mel = &consts.mel;
    let bounds = &consts.bounds;
    let first_frame = CUBE_POS * per_cube;
    let mut task = UNIT_POS as usize;
    while task < comptime![out_dim * (per_cube / group)] {
        let o = task % out_dim;
        let g = task / out_dim;
        // Clamped to the filterbank's row whatever the bounds tensor holds.
        let first = clamp_max(u32::cast_from(bounds[2 * o]) as usize, n_bins);
        let n = clamp_max(u32::cast_from(bounds[2 * o + 1]) as usize, n_bins - first);
        let end = first + n;
        let row = o * n_bins;
        let slots = g * comptime![group * stride];
        let mut acc = Array::<F>::new(group);
        #[unroll]
        for f in 0..group {
            acc[f] = F::new(0.0);
        }
        // Bins below Nyquist in one branch-free loop, then Nyquist if the band has it.
        let mut k = first;
        while k < clamp_max(end, m) {
            let w = mel[row + k];
            #[unroll]
            for f in 0..group {
                acc[f] += w * pr[slots + comptime![f * stride] + k];
            }
            k += 1;
        }
        if end > m {
            let w = mel[row + m];
            #[unroll]
            for f in 0..group {
                acc[f] += w * pi[slots + comptime![f * stride]];
            }
        }
        #[unroll]
        for f in 0..group {
            let frame = first_frame + g * group + comptime![f];
            if frame < frames {
                output[frame * out_dim + o] = acc[f];
                if comptime![track_peak] {
                    peak[g * group + comptime![f]]
                        .fetch_max(u32::reinterpret(f32::cast_from(acc[f])));
                }
            }
        }
        task += comptime![per_cube * units];
    }
}

/// Raises `peaks[clip]` to the largest of the cube's `peak` slots (see [`project_mel`]) of
/// each clip among its frames: one global atomic per clip the cube's frames belong to
/// (usually one), by the unit of the clip's first slot.
#[cube]
fn publish_peaks(
    peak: &Shared<[Atomic<u32>]>,
    peaks: &mut Tensor<Atomic<u32>>,
    frames: usize,
    n_frames: usize,
    #[comptime] per_cube: usize,
) {
    let first = CUBE_POS * per_cube;
    let s = UNIT_POS as usize;
    if s < per_cube && first + s < frames {
        let clip = (first + s) / n_frames;
        if s == 0 || (first + s - 1) / n_frames != clip {
            let mut top = peak[s].load();
            let mut j = s + 1;
            while j < per_cube && first + j < frames && (first + j) / n_frames == clip {
                let v = peak[j].load();
                top = select(v > top, v, top);
                j += 1;
            }
            peaks[clip].fetch_max(top);
        }
    }
}

/// `min(a, b)`.
#[cube]
fn clamp_max(a: usize, b: usize) -> usize {
    select(a < b, a, b)
}

/// What `spectrum_kernel` is compiled for: sizes, layout and the variant, by name (the
/// launch in `cube/mod.rs` fills it from the plan and the device's limits).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub struct SpectrumConfig {
    /// FFT size (a power of two).
    pub n_fft: usize,
    /// Units per frame.
    pub units: usize,
    /// Frames per cube.
    pub per_cube: usize,
    /// Largest FFT radix (one of `FFT_RADICES`).
    pub radix: usize,
    /// Feed the first stage straight from the signal.
    pub first_from_signal: bool,
    /// Gapped shared-memory layout (see [`pad_span`]).
    pub pad: bool,
    /// FFT stages in place (2 shared buffers instead of 4).
    pub in_place: bool,
    /// Shared values per frame and buffer.
    pub frame_stride: usize,
    /// Frames per mel-projection task.
    pub group: usize,
    /// First point of the window's support.
    pub win_lo: usize,
    /// End of the window's support, in points.
    pub win_hi: usize,
    /// Interior frames load their samples as pairs.
    pub paired: bool,
    /// Frames are centred (padded by `n_fft / 2`).
    pub center: bool,
    /// Padding at clip edges: 0 constant, 1 reflect, 2 edge.
    pub pad_mode: u32,
    /// 2 power, 1 magnitude, 0 the runtime `power`.
    pub power_mode: u32,
    /// Project on the mel filterbank.
    pub use_mel: bool,
    /// Output width.
    pub out_dim: usize,
    /// Raise each clip's peak in `peaks` (mel only).
    pub track_peak: bool,
}

/// The clips of one launch: the zero-padded `[B, L]` signal (also read as pairs of samples
/// where `paired`) and `encode_lengths`' `[B, 2]` lengths.
#[derive(CubeLaunch, CubeType)]
pub struct Clips<F: Float, N: Size> {
    pub signal: OwnedTensor<F>,
    pub signal_pairs: OwnedTensor<Vector<F, N>>,
    pub lengths: OwnedTensor<F>,
}

/// What a feature config uploads once: the `n_fft` window (also as pairs), the `2 n_fft`
/// twiddles, the `[out_dim, n_bins]` mel weights and each band's `[out_dim, 2]` bin bounds.
#[derive(CubeLaunch, CubeType)]
pub struct Constants<F: Float, N: Size> {
    pub window: OwnedTensor<F>,
    pub window_pairs: OwnedTensor<Vector<F, N>>,
    pub twiddles: OwnedTensor<F>,
    pub mel: OwnedTensor<F>,
    pub bounds: OwnedTensor<F>,
}

/// The runtime sizes of one launch: clips, samples per padded row, frames per clip (the
/// longest clip's), hop, and the exponent on `|X|` (used where not 1 or 2).
#[derive(CubeLaunch, CubeType)]
pub struct Sizes {
    pub batch: u32,
    pub signal_len: u32,
    pub n_frames: u32,
    pub hop: u32,
    pub power: f32,
}

/// See `FeatureOps::spectrum`. Launched with `ceil(batch * n_frames / per_cube)` cubes of
/// `per_cube * units` units, `per_cube * frame_stride` shared values per buffer (4 buffers,
/// 2 `in_place`; `frame_stride` is `n_fft / 2`, or more with `pad`). `units` is a
/// power of two of at most `max(1, n_fft / 2 / radix)`, so it divides every stage's
/// butterfly count (the FFT loops are unrolled on that). With `track_peak` (mel only),
/// `peaks [B]` (zeros before the launch) ends holding each clip's largest mel value as
/// `f32` bits; otherwise it is not touched.
#[cube(launch_unchecked)]
pub fn spectrum_kernel<F: Float, N: Size>(
    clips: &Clips<F, N>,
    consts: &Constants<F, N>,
    output: &mut Tensor<F>,
    peaks: &mut Tensor<Atomic<u32>>,
    sizes: Sizes,
    #[comptime] cfg: SpectrumConfig,
    #[define(F)] _dtype: ElemType,
) {
    let signal = &clips.signal;
    let signal_pairs = &clips.signal_pairs;
    let lengths = &clips.lengths;
    let window = &consts.window;
    let window_pairs = &consts.window_pairs;
    let twiddles = &consts.twiddles;
    let batch = sizes.batch;
    let signal_len = sizes.signal_len;
    let n_frames = sizes.n_frames;
    let hop = sizes.hop;
    let power = sizes.power;
    let n_fft = comptime![cfg.n_fft];
    let units = comptime![cfg.units];
    let per_cube = comptime![cfg.per_cube];
    let radix = comptime![cfg.radix];
    let first_from_signal = comptime![cfg.first_from_signal];
    let pad = comptime![cfg.pad];
    let in_place = comptime![cfg.in_place];
    let frame_stride = comptime![cfg.frame_stride];
    let center = comptime![cfg.center];
    let use_mel = comptime![cfg.use_mel];
    let out_dim = comptime![cfg.out_dim];
    let track_peak = comptime![cfg.track_peak];
    let m = comptime![n_fft / 2];
    let slot = UNIT_POS as usize / units;
    let unit = UNIT_POS as usize % units;
    let n_frames = n_frames as usize;
    let index = CUBE_POS * per_cube + slot;
    let active = index < batch as usize * n_frames;
    let fr = select(active, index, 0usize);
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
    let base = slot * frame_stride;

    // Ping-pong pairs of FFT buffers, or one pair (the second a stub) `in_place`.
    let size = comptime![per_cube * frame_stride];
    let second = comptime![if in_place { 1 } else { size }];
    let mut re0 = Shared::new_slice(size);
    let mut im0 = Shared::new_slice(size);
    let mut re1 = Shared::new_slice(second);
    let mut im1 = Shared::new_slice(second);
    // A unit's butterfly outputs between reading a stage's inputs and writing them: as
    // many values in every stage, `M / units`.
    let mut yr = Array::<F>::new(comptime![m / units]);
    let mut yi = Array::<F>::new(comptime![m / units]);
    // Each frame slot's largest mel value, as `f32` bits (see `project_mel`); zeroed here,
    // long before the first barrier-separated use.
    let peak = Shared::<[Atomic<u32>]>::new_slice(comptime![if track_peak { per_cube } else { 1 }]);
    if comptime![track_peak] && (UNIT_POS as usize) < per_cube {
        peak[UNIT_POS as usize].store(0u32);
    }

    let offset = select(center, m, 0usize);
    let start = (t * hop) as i32 - offset as i32;
    let frame = Frame {
        row: b * signal_len as usize,
        start,
        len,
        live,
        inside: live && start >= 0 && start as usize + n_fft <= len,
        base,
        unit,
    };
    // First stage (radix `first_radix(m, radix)`, no twiddles) from the frame loaded into
    // `re0`, `im0` or straight from the signal, into `re1`, `im1` (`re0`, `im0` in place);
    // then full-radix stages.
    let src = Samples::new(signal, window, signal_pairs, window_pairs, cfg);
    let r0 = comptime![first_radix(m, radix)];
    let first = comptime![Stage {
        p: 1,
        n_fft,
        r: r0,
        prev_r: 1,
        first: true,
        pad,
        units,
    }];
    if comptime![first_from_signal] {
        first_butterflies_from_signal(&src, &mut re0, &mut im0, &mut yr, &mut yi, &frame, first);
    } else {
        load_frame(&src, &mut re0, &mut im0, &frame, n_fft, units);
        sync_cube();
        butterflies(&re0, &im0, twiddles, &mut yr, &mut yi, &frame, first);
    }
    if comptime![in_place] {
        // Every unit has read its inputs (or its scratch) before any is overwritten.
        sync_cube();
        store_stage(&yr, &yi, &mut re0, &mut im0, &frame, first);
    } else {
        store_stage(&yr, &yi, &mut re1, &mut im1, &frame, first);
    }
    sync_cube();
    // The later stages, unrolled: every stage's `p` (and with it the twiddle stride and the
    // index masks) is a constant, and which buffer holds the data is known at compile time.
    #[unroll]
    for st in 0..comptime![later_stages(m, radix)] {
        let p = comptime![first_radix(m, radix) * radix.pow(st as u32)];
        let prev_r = comptime![if st == 0 {
            first_radix(m, radix)
        } else {
            radix
        }];
        let stage = comptime![Stage {
            p,
            n_fft,
            r: radix,
            prev_r,
            first: false,
            pad,
            units,
        }];
        if comptime![in_place] {
            butterflies(&re0, &im0, twiddles, &mut yr, &mut yi, &frame, stage);
            sync_cube();
            store_stage(&yr, &yi, &mut re0, &mut im0, &frame, stage);
        } else if comptime![st % 2 == 0] {
            butterflies(&re1, &im1, twiddles, &mut yr, &mut yi, &frame, stage);
            store_stage(&yr, &yi, &mut re0, &mut im0, &frame, stage);
        } else {
            butterflies(&re0, &im0, twiddles, &mut yr, &mut yi, &frame, stage);
            store_stage(&yr, &yi, &mut re1, &mut im1, &frame, stage);
        }
        sync_cube();
    }
    // The transform is in `re0`, `im0` in place or after an odd number of later stages,
    // else in `re1`, `im1`; its power spectrum overwrites it (see `unpack_power`).
    let in0 = comptime![in_place || later_stages(m, radix) % 2 == 1];

    let out_base = fr * out_dim;
    if comptime![in0] {
        unpack_power(&mut re0, &mut im0, twiddles, &frame, power, cfg);
    } else {
        unpack_power(&mut re1, &mut im1, twiddles, &frame, power, cfg);
    }
    sync_cube();
    let (pr, pi) = if comptime![in0] {
        (&re0, &im0)
    } else {
        (&re1, &im1)
    };
    if comptime![use_mel] {
        let frames = batch as usize * n_frames;
        project_mel(pr, pi, consts, output, &peak, frames, cfg);
        if comptime![track_peak] {
            sync_cube();
            publish_peaks(&peak, peaks, frames, n_frames, per_cube);
        }
    } else if active {
        project_bins(pr, pi, output, &frame, out_base, cfg);
    }
}

#[cfg(test)]
mod tests {
    use super::{bit_reverse, first_radix, later_stages, pad_span};
    use crate::cube::frame_stride;
    use std::collections::{BTreeMap, BTreeSet};

    /// `spot` of the kernel, on the host.
    fn spot(x: usize, span: usize, gap: usize) -> usize {
        x.checked_div(span).map_or(x, |d| x + d * gap)
    }

    /// The FFT stages of the kernel: `(p, r, (read span, read gap), (write span, write gap))`.
    fn stages(m: usize, radix: usize, pad: bool) -> Vec<(usize, usize, [usize; 2], [usize; 2])> {
        let r0 = first_radix(m, radix);
        let mut out = vec![(1, r0, [0, 0], [pad_span(m, 1, r0, pad), 1])];
        let (mut p, mut prev) = (r0, r0);
        while p < m {
            let read = [pad_span(m, p / prev, prev, pad), p / prev];
            out.push((p, radix, read, [pad_span(m, p, radix, pad), p]));
            (prev, p) = (radix, p * radix);
        }
        out
    }

    /// Shared-memory wavefronts of one warp access: the most distinct addresses in one of
    /// the 32 four-byte banks.
    fn wavefronts(addresses: &[usize]) -> usize {
        let mut banks: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
        for &a in addresses {
            banks.entry(a % 32).or_default().insert(a);
        }
        banks.values().map(BTreeSet::len).max().unwrap_or(0)
    }

    /// Wavefronts of every FFT load and store of one cube of the kernel, per buffer
    /// (`(loads, stores)`), for the kernel's units per frame and frames per cube.
    fn fft_wavefronts(m: usize, radix: usize, pad: bool) -> (usize, usize) {
        let units = (m / radix).clamp(1, 256);
        let per_cube = (256 / units).clamp(1, (1024 / m).max(1));
        let stride = frame_stride(m, radix, units, pad);
        let threads = units * per_cube;
        let (mut loads, mut stores) = (0, 0);
        for (p, r, [rs, rg], [ws, wg]) in stages(m, radix, pad) {
            let count = m / r;
            for warp in 0..threads.div_ceil(32) {
                let lanes = 32 * warp..(32 * warp + 32).min(threads);
                for j in 0..count / units {
                    let at = |f: &dyn Fn(usize) -> usize| -> Vec<usize> {
                        lanes
                            .clone()
                            .map(|t| t / units * stride + f(t % units + j * units))
                            .collect()
                    };
                    for q in 0..r {
                        loads += wavefronts(&at(&|i| spot(i + q * count, rs, rg)));
                    }
                    for s in 0..r {
                        stores +=
                            wavefronts(&at(&|i| spot((i - i % p) * r + i % p + s * p, ws, wg)));
                    }
                }
            }
        }
        (loads, stores)
    }

    #[test]
    fn padded_layouts_keep_every_value_apart_within_the_frame_stride() {
        for bits in 1..=11 {
            let m = 1usize << bits;
            for radix in crate::plan::FFT_RADICES {
                let units = (m / radix).clamp(1, 256);
                let stride = frame_stride(m, radix, units, true);
                for (p, r, _, [span, gap]) in stages(m, radix, true) {
                    let spots: BTreeSet<usize> = (0..m).map(|x| spot(x, span, gap)).collect();
                    assert_eq!(spots.len(), m, "m {m} radix {radix} stage p {p} r {r}");
                    assert!(spots.last().unwrap() < &stride, "m {m} radix {radix} p {p}");
                }
            }
        }
    }

    #[test]
    fn padding_makes_fft_stores_conflict_free_and_never_adds_wavefronts() {
        for bits in 2..=10 {
            let m = 1usize << bits;
            for radix in crate::plan::FFT_RADICES {
                let plain = fft_wavefronts(m, radix, false);
                let padded = fft_wavefronts(m, radix, true);
                let ctx = format!("m {m} radix {radix}: plain {plain:?}, padded {padded:?}");
                assert!(padded.0 + padded.1 <= plain.0 + plain.1, "{ctx}");
                // Conflict-free: one wavefront per store instruction (r per butterfly).
                let units = (m / radix).clamp(1, 256);
                let per_cube = (256 / units).clamp(1, (1024 / m).max(1));
                let warps = (units * per_cube).div_ceil(32);
                let ideal: usize = stages(m, radix, true)
                    .iter()
                    .map(|&(_, r, _, _)| warps * (m / r / units) * r)
                    .sum();
                assert_eq!(padded.1, ideal, "{ctx}");
            }
        }
        // The benchmark's n_fft 512 (m 256): the plain layout's stores conflict up to 16-way.
        assert_eq!(fft_wavefronts(256, 16, false), (128, 576));
        assert_eq!(fft_wavefronts(256, 16, true), (64, 64));
    }

    #[test]
    fn stages_multiply_to_the_transform_size_with_full_radix_after_the_first() {
        for bits in 1..=11 {
            let m = 1usize << bits;
            for radix in crate::plan::FFT_RADICES {
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
