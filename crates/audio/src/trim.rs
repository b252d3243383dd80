//! Leading/trailing silence trimming with `librosa.effects.trim` semantics.

use ser_dsp::{PadMode, frame_rms};

use crate::TrimConfig;

/// Sample range `[start, end)` that `librosa.effects.trim` keeps: from the first to the last
/// frame whose RMS is within `top_db` of the loudest frame. `(0, 0)` when all is silent.
pub fn trim_bounds(y: &[f32], top_db: f64, frame_length: usize, hop: usize) -> (usize, usize) {
    let rms = frame_rms(y, frame_length, hop, true, PadMode::Constant);
    let max = rms.iter().copied().fold(0.0f32, f32::max) as f64;
    let db = |r: f64| 10.0 * (r * r).max(1e-10).log10();
    let ref_db = db(max);
    let loud: Vec<usize> = rms
        .iter()
        .enumerate()
        .filter(|(_, r)| db(**r as f64) - ref_db > -top_db)
        .map(|(i, _)| i)
        .collect();
    match (loud.first(), loud.last()) {
        (Some(&first), Some(&last)) => (first * hop, ((last + 1) * hop).min(y.len())),
        _ => (0, 0),
    }
}

/// Returns the trimmed signal (a copy of the kept span).
pub fn trim_silence(y: &[f32], cfg: &TrimConfig) -> Vec<f32> {
    let (start, end) = trim_bounds(y, cfg.top_db, cfg.frame_length, cfg.hop_length);
    y[start..end].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_loud_span_on_hop_boundaries() {
        let mut y = vec![0.0f32; 16_000];
        for (i, v) in y.iter_mut().enumerate().take(12_000).skip(4_000) {
            *v = (i as f32 * 0.1).sin() * 0.5;
        }
        let (s, e) = trim_bounds(&y, 60.0, 2048, 512);
        // The first frame that reaches into the tone is centred 1024 samples before it.
        assert!((4_000 - 1024 - 512..=4_000).contains(&s), "start {s}");
        assert!((12_000..=12_000 + 1024 + 512).contains(&e), "end {e}");
        assert_eq!(s % 512, 0);
    }

    #[test]
    fn all_zero_signal_is_kept_whole_as_librosa_does() {
        // Every frame equals the (zero) reference, so none is "below" it.
        assert_eq!(trim_bounds(&[0.0; 5000], 60.0, 2048, 512), (0, 5000));
    }
}
