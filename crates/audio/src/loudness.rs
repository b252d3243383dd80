//! Level measures for normalisation: peak and RMS in dBFS, and ITU-R BS.1770-4 integrated
//! loudness (K-weighting, 400 ms blocks with 75 % overlap, absolute and relative gates),
//! following the reference behaviour of `pyloudnorm`.

use ser_dsp::Biquad;

/// Peak absolute amplitude in dBFS (`-inf` for digital silence).
pub fn peak_dbfs(y: &[f32]) -> f64 {
    let peak = y.iter().fold(0.0f32, |m, v| m.max(v.abs())) as f64;
    20.0 * peak.log10()
}

/// RMS level in dBFS (`-inf` for digital silence).
pub fn rms_dbfs(y: &[f32]) -> f64 {
    if y.is_empty() {
        return f64::NEG_INFINITY;
    }
    let ms = y.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / y.len() as f64;
    10.0 * ms.log10()
}

/// Integrated loudness in LUFS of a mono signal at `rate` Hz; `None` when every block is
/// below the -70 LUFS absolute gate (silence). Clips shorter than one 400 ms block are
/// measured as a single block.
pub fn integrated_loudness(y: &[f32], rate: u32) -> Option<f64> {
    let fs = rate as f64;
    let mut w: Vec<f64> = y.iter().map(|v| *v as f64).collect();
    Biquad::high_shelf(1500.0, std::f64::consts::FRAC_1_SQRT_2, 4.0, fs)
        .to_sos()
        .filter_f64(&mut w);
    Biquad::high_pass(38.0, 0.5, fs).to_sos().filter_f64(&mut w);
    let block = ((0.4 * fs).round() as usize).max(1);
    let step = ((0.1 * fs).round() as usize).max(1);
    let energies: Vec<f64> = if w.len() <= block {
        vec![w.iter().map(|v| v * v).sum::<f64>() / w.len().max(1) as f64]
    } else {
        (0..=(w.len() - block) / step)
            .map(|j| {
                w[j * step..j * step + block]
                    .iter()
                    .map(|v| v * v)
                    .sum::<f64>()
                    / block as f64
            })
            .collect()
    };
    let lufs = |z: f64| -0.691 + 10.0 * z.log10();
    let above_abs: Vec<f64> = energies
        .iter()
        .copied()
        .filter(|z| lufs(*z) > -70.0)
        .collect();
    if above_abs.is_empty() {
        return None;
    }
    let rel_gate = lufs(above_abs.iter().sum::<f64>() / above_abs.len() as f64) - 10.0;
    let gated: Vec<f64> = above_abs
        .into_iter()
        .filter(|z| lufs(*z) > rel_gate)
        .collect();
    Some(lufs(gated.iter().sum::<f64>() / gated.len() as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f64, amp: f64, rate: u32, secs: f64) -> Vec<f32> {
        (0..(rate as f64 * secs) as usize)
            .map(|i| {
                (amp * (2.0 * std::f64::consts::PI * freq * i as f64 / rate as f64).sin()) as f32
            })
            .collect()
    }

    #[test]
    fn full_scale_1khz_sine_reads_about_minus_3_lufs() {
        // BS.1770: a 0 dBFS 997 Hz sine reads -3.01 LUFS (K-weighting gain ~ +0.7 dB at 1 kHz
        // is cancelled by the -0.691 offset).
        let l = integrated_loudness(&sine(997.0, 1.0, 48_000, 5.0), 48_000).unwrap();
        assert!((l - (-3.01)).abs() < 0.1, "{l}");
        let l16 = integrated_loudness(&sine(997.0, 1.0, 16_000, 5.0), 16_000).unwrap();
        assert!((l16 - l).abs() < 0.1, "rate dependence: {l16} vs {l}");
    }

    #[test]
    fn loudness_scales_with_gain_and_silence_is_none() {
        let a = integrated_loudness(&sine(440.0, 0.5, 16_000, 3.0), 16_000).unwrap();
        let b = integrated_loudness(&sine(440.0, 0.05, 16_000, 3.0), 16_000).unwrap();
        assert!((a - b - 20.0).abs() < 0.05, "{a} {b}");
        assert!(integrated_loudness(&vec![0.0; 16_000], 16_000).is_none());
    }

    #[test]
    fn peak_and_rms_levels() {
        let y = sine(100.0, 0.5, 8000, 1.0);
        assert!((peak_dbfs(&y) - (-6.02)).abs() < 0.01);
        assert!((rms_dbfs(&y) - (-9.03)).abs() < 0.01);
    }
}
