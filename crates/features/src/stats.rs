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
    // Selection runs on integer keys ordered as `f64::total_cmp` orders the values (cheaper
    // compares, same order), and only the order statistics the percentiles read are put in
    // place (O(n) each on a shrinking tail, instead of a full sort). The rank just above one
    // already placed is the minimum of the tail: a scan, not another selection. Elements
    // equal under `total_cmp` are the same bits, so the values are a full sort's.
    let mut work: Vec<i64> = v.iter().map(|&x| total_key(x)).collect();
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
        let tail = &mut work[start..];
        if k == start && start > 0 {
            let m = (1..tail.len()).fold(0, |m, i| if tail[i] < tail[m] { i } else { m });
            tail.swap(0, m);
        } else {
            tail.select_nth_unstable(k - start);
        }
        start = k + 1;
    }
    for &p in percentiles {
        let (lo, hi) = percentile_ranks(work.len(), p);
        let (a, b) = (from_total_key(work[lo]), from_total_key(work[hi]));
        out.push(a + (b - a) * percentile_frac(work.len(), p, lo));
    }
    out
}

/// `x`'s bits as an integer that orders as [`f64::total_cmp`] orders the values (its
/// definition: negative values have their magnitude bits flipped).
fn total_key(x: f64) -> i64 {
    let b = x.to_bits() as i64;
    b ^ (((b >> 63) as u64) >> 1) as i64
}

/// The value of a [`total_key`] (the map is its own inverse).
fn from_total_key(k: i64) -> f64 {
    f64::from_bits((k ^ (((k >> 63) as u64) >> 1) as i64) as u64)
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
    sorted[lo] + (sorted[hi] - sorted[lo]) * percentile_frac(sorted.len(), p, lo)
}

/// Where percentile `p` lies between rank `lo` and the next, as NumPy's "linear" computes it.
fn percentile_frac(len: usize, p: f64, lo: usize) -> f64 {
    p / 100.0 * (len - 1) as f64 - lo as f64
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
        for (n, ties) in [
            (1usize, false),
            (2, false),
            (3, false),
            (10, false),
            (271, false),
            (271, true),
        ] {
            let v: Vec<f64> = (0..n)
                .map(|_| {
                    s = s
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let x = ((s >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 100.0;
                    // Ties (-0.0 and 0.0 among them: trunc keeps the sign) when asked.
                    if ties { (x / 10.0).trunc() } else { x }
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
