//! Summary statistics over frames (NumPy conventions: population std, linear percentiles).

/// Mean, standard deviation (ddof 0) and the given percentiles of `v`; zeros when empty.
pub fn summarize(v: &[f64], percentiles: &[f64]) -> Vec<f64> {
    let mut out = Vec::with_capacity(2 + percentiles.len());
    if v.is_empty() {
        out.resize(2 + percentiles.len(), 0.0);
        return out;
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    out.push(mean);
    out.push(var.sqrt());
    let mut sorted = v.to_vec();
    // Unstable is exact here: values equal under `total_cmp` are the same bits.
    sorted.sort_unstable_by(f64::total_cmp);
    for p in percentiles {
        out.push(percentile_sorted(&sorted, *p));
    }
    out
}

/// `np.percentile(..., method="linear")` of an ascending slice.
pub fn percentile_sorted(sorted: &[f64], p: f64) -> f64 {
    let pos = p / 100.0 * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    let frac = pos - lo as f64;
    sorted[lo] + (sorted[hi] - sorted[lo]) * frac
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_numpy() {
        // np.mean, np.std, np.percentile([1, 2, 3, 4, 10], [10, 50, 90])
        let s = summarize(&[4.0, 1.0, 10.0, 2.0, 3.0], &[10.0, 50.0, 90.0]);
        let expect = [4.0, 3.1622776601683795, 1.4, 3.0, 7.6];
        for (a, b) in s.iter().zip(expect) {
            assert!((a - b).abs() < 1e-12, "{s:?}");
        }
        assert_eq!(summarize(&[], &[50.0]), vec![0.0, 0.0, 0.0]);
    }
}
