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
    let mut work = v.to_vec();
    // Only the order statistics the percentiles read are put in place (selection, O(n) each
    // on a shrinking tail, instead of a full sort): the same values, as elements equal under
    // `total_cmp` are the same bits.
    let mut ranks: Vec<usize> = percentiles
        .iter()
        .flat_map(|&p| {
            let (lo, hi) = percentile_ranks(work.len(), p);
            [lo, hi]
        })
        .collect();
    ranks.sort_unstable();
    ranks.dedup();
    let mut start = 0;
    for k in ranks {
        work[start..].select_nth_unstable_by(k - start, f64::total_cmp);
        start = k + 1;
    }
    for p in percentiles {
        out.push(percentile_sorted(&work, *p));
    }
    out
}

/// The two ranks `np.percentile(..., method="linear")` interpolates between.
fn percentile_ranks(len: usize, p: f64) -> (usize, usize) {
    let pos = p / 100.0 * (len - 1) as f64;
    let lo = pos.floor() as usize;
    (lo, (lo + 1).min(len - 1))
}

/// `np.percentile(..., method="linear")` of an ascending slice (or one whose two ranks
/// the percentile reads are in place).
pub fn percentile_sorted(sorted: &[f64], p: f64) -> f64 {
    let (lo, hi) = percentile_ranks(sorted.len(), p);
    let frac = p / 100.0 * (sorted.len() - 1) as f64 - lo as f64;
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

    #[test]
    fn selection_gives_the_percentiles_of_a_full_sort_bit_for_bit() {
        let mut s = 7u64;
        for n in [1usize, 2, 3, 10, 271] {
            let v: Vec<f64> = (0..n)
                .map(|_| {
                    s = s
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    ((s >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 100.0
                })
                .collect();
            let ps = [90.0, 1.0, 50.0, 25.0, 99.0, 75.0, 10.0, 0.0, 100.0];
            let mut sorted = v.clone();
            sorted.sort_by(f64::total_cmp);
            let want: Vec<u64> = ps
                .iter()
                .map(|&p| percentile_sorted(&sorted, p).to_bits())
                .collect();
            let got: Vec<u64> = summarize(&v, &ps)[2..]
                .iter()
                .map(|x| x.to_bits())
                .collect();
            assert_eq!(got, want, "n = {n}");
        }
    }
}
