//! Frames → window → radix-2 FFT in shared memory → |X|^p → (mel projection), one cube per
//! frame. Frames past a clip's own length are written as zeros without being computed.

use cubecl::prelude::*;

/// `i` with its lowest `bits` bits reversed (the input permutation of an in-place
/// decimation-in-time FFT).
#[cube]
fn reverse_bits(i: usize, #[comptime] bits: usize) -> usize {
    let mut r = 0usize;
    let mut x = i;
    #[unroll]
    for _ in 0..bits {
        r = (r << 1usize) | (x & 1usize);
        x >>= 1usize;
    }
    r
}

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

/// See `FeatureOps::spectrum`. Launched with one cube per (clip, frame) and `threads`
/// units, `threads` a power of two no larger than `n_fft / 2`.
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
    #[comptime] log2_n: usize,
    #[comptime] threads: usize,
    #[comptime] center: bool,
    #[comptime] pad_mode: u32,
    #[comptime] power_mode: u32,
    #[comptime] use_mel: bool,
    #[comptime] out_dim: usize,
    #[define(F)] _dtype: ElemType,
) {
    let cube = CUBE_POS;
    let n_frames = n_frames as usize;
    if cube >= batch as usize * n_frames {
        terminate!();
    }
    let b = cube / n_frames;
    let t = cube % n_frames;
    let hop = hop as usize;
    let len = u32::cast_from(lengths[b]) as usize;
    let half = comptime![n_fft / 2];
    let mut clip_frames = 0usize;
    if comptime![center] {
        clip_frames = 1 + len / hop;
    } else if len >= n_fft {
        clip_frames = 1 + (len - n_fft) / hop;
    }
    let out_base = cube * out_dim;
    if t >= clip_frames {
        let mut k = UNIT_POS as usize;
        while k < out_dim {
            output[out_base + k] = F::new(0.0);
            k += threads;
        }
        terminate!();
    }

    let mut re = Shared::new_slice(n_fft);
    let mut im = Shared::new_slice(n_fft);
    let offset = select(center, half, 0usize);
    let start = (t * hop) as i32 - offset as i32;
    let row = b * signal_len as usize;
    let mut i = UNIT_POS as usize;
    while i < n_fft {
        let idx = source_index(start + i as i32, len as i32, pad_mode);
        let x = select(
            idx >= 0,
            signal[row + select(idx >= 0, idx, 0i32) as usize],
            F::new(0.0),
        );
        let r = reverse_bits(i, log2_n);
        re[r] = x * window[i];
        im[r] = F::new(0.0);
        i += threads;
    }
    sync_cube();

    // Radix-2 butterflies, stage s combines pairs `2^s` apart; twiddle W_n^(k n / 2^(s+1)).
    #[unroll]
    for s in 0..log2_n {
        let span = 1usize << s;
        let mut j = UNIT_POS as usize;
        while j < half {
            let k = j & (span - 1);
            let i0 = ((j >> s) << (s + 1)) + k;
            let i1 = i0 + span;
            let tw = 2 * (k << (log2_n - 1 - s));
            let wr = twiddles[tw];
            let wi = twiddles[tw + 1];
            let br = re[i1];
            let bi = im[i1];
            let tr = wr * br - wi * bi;
            let ti = wr * bi + wi * br;
            let ar = re[i0];
            let ai = im[i0];
            re[i0] = ar + tr;
            im[i0] = ai + ti;
            re[i1] = ar - tr;
            im[i1] = ai - ti;
            j += threads;
        }
        sync_cube();
    }

    let n_bins = comptime![n_fft / 2 + 1];
    let mut k = UNIT_POS as usize;
    while k < n_bins {
        let p2 = re[k] * re[k] + im[k] * im[k];
        let mut p = p2;
        if comptime![power_mode == 1] {
            p = p2.sqrt();
        } else if comptime![power_mode == 0] {
            p = F::powf(p2.sqrt(), F::cast_from(power));
        }
        re[k] = p;
        k += threads;
    }
    sync_cube();

    let mut o = UNIT_POS as usize;
    while o < out_dim {
        if comptime![use_mel] {
            let first = u32::cast_from(bounds[2 * o]) as usize;
            let n = u32::cast_from(bounds[2 * o + 1]) as usize;
            let mut acc = F::new(0.0);
            let mut j = 0usize;
            while j < n {
                acc += mel[o * n_bins + first + j] * re[first + j];
                j += 1;
            }
            output[out_base + o] = acc;
        } else {
            output[out_base + o] = re[o];
        }
        o += threads;
    }
}
