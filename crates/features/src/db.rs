//! `librosa.power_to_db`: `10 log10(max(amin, S)) - 10 log10(max(amin, ref))`, then clipped
//! at `max - top_db` over the whole clip.

use ser_dsp::Real;

/// Converts a power array to dB in place. `reference` is a fixed power, or `None` for the
/// array's maximum (`ref=np.max`). `top_db = inf` disables clipping.
#[inline(always)]
pub fn power_to_db<T: Real>(s: &mut [T], reference: Option<f64>, amin: f64, top_db: f64) {
    let ref_value = reference.unwrap_or_else(|| s.iter().fold(0.0f64, |m, v| m.max(v.as_f64())));
    let amin_t = T::lit(amin);
    let offset = T::lit(10.0 * ref_value.max(amin).log10());
    let ten = T::lit(10.0);
    // Separate passes so each one vectorises (a running max in the first loop kept it scalar).
    for v in s.iter_mut() {
        *v = ten * v.max(amin_t).log10_fast() - offset;
    }
    if top_db.is_finite() {
        let mut lanes = [T::neg_infinity(); 8];
        let chunks = s.chunks_exact(8);
        let rest = chunks.remainder();
        for c in chunks {
            for (l, v) in lanes.iter_mut().zip(c) {
                *l = if *v > *l { *v } else { *l };
            }
        }
        let max = rest
            .iter()
            .chain(&lanes)
            .fold(T::neg_infinity(), |m, v| if *v > m { *v } else { m });
        let floor = max - T::lit(top_db);
        for v in s.iter_mut() {
            *v = if *v < floor { floor } else { *v };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_formula_with_clipping() {
        let mut s = vec![1.0f64, 0.1, 1e-12, 100.0];
        power_to_db(&mut s, Some(1.0), 1e-10, 80.0);
        assert_eq!(s, vec![0.0, -10.0, -60.0, 20.0]);
        let mut s = vec![1.0f64, 1e-12];
        power_to_db(&mut s, None, 1e-10, f64::INFINITY);
        assert_eq!(s, vec![0.0, -100.0]);
    }
}
