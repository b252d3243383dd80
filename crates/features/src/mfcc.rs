//! MFCC from log-mel frames: orthonormal DCT-II (`scipy.fftpack.dct(type=2, norm="ortho")`)
//! as a small matrix product, then optional sinusoidal liftering, as `librosa.feature.mfcc`.

use ser_dsp::Real;

/// `[n_mfcc, n_mels]` orthonormal DCT-II matrix with the lifter folded in.
pub fn dct_matrix(n_mfcc: usize, n_mels: usize, lifter: f64) -> Vec<f64> {
    let n = n_mels as f64;
    let mut m = vec![0.0; n_mfcc * n_mels];
    for k in 0..n_mfcc {
        let scale = if k == 0 {
            (1.0 / n).sqrt()
        } else {
            (2.0 / n).sqrt()
        };
        let lift = if lifter > 0.0 {
            1.0 + (lifter / 2.0) * (std::f64::consts::PI * (k + 1) as f64 / lifter).sin()
        } else {
            1.0
        };
        for j in 0..n_mels {
            m[k * n_mels + j] = lift
                * scale
                * (std::f64::consts::PI * k as f64 * (2 * j + 1) as f64 / (2.0 * n)).cos();
        }
    }
    m
}

/// Applies a `[n_out, n_in]` matrix to every frame of a frame-major `[n_frames, n_in]` array.
pub fn project<T: Real>(frames: &[T], n_in: usize, matrix: &[T], n_out: usize) -> Vec<T> {
    let n_frames = frames.len() / n_in.max(1);
    let mut out = vec![T::zero(); n_frames * n_out];
    for (src, dst) in frames.chunks_exact(n_in).zip(out.chunks_exact_mut(n_out)) {
        for (k, o) in dst.iter_mut().enumerate() {
            *o = dot(&matrix[k * n_in..(k + 1) * n_in], src);
        }
    }
    out
}

/// Dot product with eight independent accumulators, so that it vectorises (a single
/// floating-point accumulator imposes an order the compiler must keep).
#[inline]
pub fn dot<T: Real>(a: &[T], b: &[T]) -> T {
    let mut lanes = [T::zero(); 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: T = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| *x * *y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            lanes[i] = lanes[i] + x[i] * y[i];
        }
    }
    lanes.iter().copied().sum::<T>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dct_matrix_is_orthonormal() {
        let n = 16;
        let m = dct_matrix(n, n, 0.0);
        for a in 0..n {
            for b in 0..n {
                let dot: f64 = (0..n).map(|j| m[a * n + j] * m[b * n + j]).sum();
                let expect = if a == b { 1.0 } else { 0.0 };
                assert!((dot - expect).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn constant_input_lands_in_c0_only() {
        let m = dct_matrix(5, 8, 0.0);
        let out = project(&[2.0f64; 8], 8, &m, 5);
        assert!((out[0] - 2.0 * 8f64.sqrt()).abs() < 1e-12);
        assert!(out[1..].iter().all(|v| v.abs() < 1e-12));
    }
}
