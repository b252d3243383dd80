//! `librosa.feature.delta`: Savitzky-Golay derivative along time (`scipy.signal.savgol_filter`
//! with `polyorder = deriv = order`, `mode="interp"`).
//!
//! With `mode="interp"` SciPy fits one polynomial of degree `order` to the first (last)
//! `width` frames and differentiates it `order` times; a degree-`order` polynomial has a
//! constant `order`-th derivative, so every edge frame takes the value of the first (last)
//! full window. That is what [`delta`] computes.

use ser_dsp::Real;

/// Savitzky-Golay coefficients `c[j]`, `j = 0..width`, such that the `order`-th derivative
/// at the window centre is `sum_j c[j] * x[t - half + j]` (least-squares polynomial of
/// degree `order`, unit sample spacing).
pub fn savgol_coefficients(width: usize, order: usize) -> Vec<f64> {
    let half = (width / 2) as isize;
    let p = order + 1;
    // Normal equations (A^T A) a = A^T e_t; the derivative at 0 is order! * a[order].
    let mut ata = vec![vec![0.0f64; p]; p];
    for i in 0..p {
        for j in 0..p {
            ata[i][j] = (-half..=half)
                .map(|x| (x as f64).powi((i + j) as i32))
                .sum();
        }
    }
    let inv = invert(&ata);
    let fact: f64 = (1..=order).map(|v| v as f64).product();
    (-half..=half)
        .map(|x| {
            fact * (0..p)
                .map(|k| inv[order][k] * (x as f64).powi(k as i32))
                .sum::<f64>()
        })
        .collect()
}

fn invert(m: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let n = m.len();
    let mut a: Vec<Vec<f64>> = m
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let mut r = row.clone();
            r.extend((0..n).map(|j| if i == j { 1.0 } else { 0.0 }));
            r
        })
        .collect();
    for c in 0..n {
        let piv = (c..n)
            .max_by(|&x, &y| a[x][c].abs().total_cmp(&a[y][c].abs()))
            .unwrap();
        a.swap(c, piv);
        let d = a[c][c];
        a[c].iter_mut().for_each(|v| *v /= d);
        for r in 0..n {
            if r != c {
                let f = a[r][c];
                for k in 0..2 * n {
                    a[r][k] -= f * a[c][k];
                }
            }
        }
    }
    a.into_iter().map(|r| r[n..].to_vec()).collect()
}

/// Time derivative of order `order` of a frame-major `[n_frames, dim]` array.
/// When there are fewer frames than `width`, the largest odd width that fits is used
/// (at least 3); with fewer than 3 frames the derivative is zero.
pub fn delta<T: Real>(frames: &[T], dim: usize, width: usize, order: usize) -> Vec<T> {
    let n = frames.len() / dim.max(1);
    let mut out = vec![T::zero(); frames.len()];
    let mut w = width.min(if n % 2 == 1 { n } else { n.saturating_sub(1) });
    if w < 3 || order == 0 || order >= w {
        if order == 0 {
            out.copy_from_slice(frames);
        }
        return out;
    }
    w -= (w + 1) % 2; // keep odd
    let half = w / 2;
    let coefs: Vec<T> = savgol_coefficients(w, order)
        .into_iter()
        .map(T::lit)
        .collect();
    // Row by row, so that the inner loop runs along contiguous values (vector lanes); each
    // value still sums its window's terms in order, from zero, as a loop per value would.
    for (t, row) in out.chunks_exact_mut(dim).enumerate() {
        let base = t.clamp(half, n - 1 - half) - half;
        for (j, c) in coefs.iter().enumerate() {
            let src = &frames[(base + j) * dim..(base + j + 1) * dim];
            for (o, x) in row.iter_mut().zip(src) {
                *o = *o + *c * *x;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_derivative_coefficients_are_the_regression_slope() {
        let c = savgol_coefficients(9, 1);
        for (j, v) in c.iter().enumerate() {
            assert!((v - (j as f64 - 4.0) / 60.0).abs() < 1e-12, "{c:?}");
        }
    }

    #[test]
    fn derivatives_of_polynomials_are_exact() {
        // x(t) = 3 t^2 + 2 t: first derivative 6t + 2, second 6.
        let x: Vec<f64> = (0..30)
            .map(|t| 3.0 * (t * t) as f64 + 2.0 * t as f64)
            .collect();
        let d1 = delta(&x, 1, 9, 1);
        let d2 = delta(&x, 1, 9, 2);
        for t in 4..26 {
            assert!((d1[t] - (6.0 * t as f64 + 2.0)).abs() < 1e-9);
            assert!((d2[t] - 6.0).abs() < 1e-9);
        }
        // interp edges: the value of the nearest full window.
        assert_eq!(d1[0], d1[4]);
        assert_eq!(d1[29], d1[25]);
    }

    #[test]
    fn short_inputs_shrink_the_window() {
        let x = [0.0f64, 1.0, 2.0, 3.0, 4.0];
        let d = delta(&x, 1, 9, 1);
        assert!(d.iter().all(|v| (v - 1.0).abs() < 1e-12), "{d:?}");
        assert_eq!(delta(&[1.0f64, 2.0], 1, 9, 1), vec![0.0, 0.0]);
    }
}
