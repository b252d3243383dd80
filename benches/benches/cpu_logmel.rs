//! CPU feature-extraction throughput of ser on the fixed workload of the foundation issue:
//! 512 clips x 3 s at 16 kHz, n_fft 512 (400-sample Hann window), hop 160, 64 Slaney mels,
//! power_to_db(top_db = 80). Prints one JSON line per measurement.
//!
//! `cargo bench -p ser-benches --bench cpu_logmel -- [--write-workload FILE] [--reps N] [--only NAME]`
//! Run `benches/run_cpu_logmel.sh` for the side-by-side table with librosa and torchaudio.

use ser_benches::{
    CLIPS, SECS, SR, arg, bench_config as config, median_seconds, workload, write_raw,
};
use ser_features::{Extractor, FeatureConfig};

fn main() {
    let reps: usize = arg("--reps").and_then(|v| v.parse().ok()).unwrap_or(7);
    let clips = workload(CLIPS, SECS, SR);
    if let Some(p) = arg("--write-workload") {
        write_raw(std::path::Path::new(&p), &clips).expect("write workload");
    }
    let audio_s = CLIPS as f64 * SECS;
    let cases = [
        ("logmel", config("\"logmel\"", "")),
        ("logmel_f64", config("\"logmel\"", "").with_precision_f64()),
        ("mfcc40", config("\"mfcc\"", "[mfcc]\nn_mfcc = 40\n")),
        ("functionals", config("", "[functionals]\nenabled = true\n")),
    ];
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let only = arg("--only");
    for (name, cfg) in cases {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let ex = Extractor::new(cfg).unwrap();
        for threads in [1, cores] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let secs = pool.install(|| {
                median_seconds(reps, || {
                    std::hint::black_box(ex.compute_batch(&clips));
                })
            });
            println!(
                "{}",
                serde_json::json!({
                    "tool": "ser", "feature": name, "threads": threads, "batch": CLIPS,
                    "seconds": secs, "audio_seconds_per_second": audio_s / secs,
                })
            );
        }
    }
}

trait F64 {
    fn with_precision_f64(self) -> Self;
}
impl F64 for FeatureConfig {
    fn with_precision_f64(mut self) -> Self {
        self.precision = ser_features::Precision::F64;
        self
    }
}
