//! Throughput of ser's self-supervised encoders (crates/ssl): a Hugging Face folder loaded
//! with `ser_ssl::load`, every layer's hidden states of a batch of clips, read back to the
//! host (what `ser extract` will store). Prints one JSON line: audio seconds per second, the
//! median of --reps timed forward passes after one warm-up.
//!
//! `cargo bench -p ser-benches --bench ssl_encoder -- --model DIR --device flex|wgpu|cuda|tch
//! [--batch 2] [--secs 4] [--reps 3]`. `benches/run_ssl_encoder.sh` makes the model (random
//! weights of a real size; no download) and runs PyTorch + transformers beside it.

use burn::tensor::{Tensor, TensorData};
use ser_benches::{SR, arg, bench_device, median_seconds, workload};

fn main() {
    let model = arg("--model").expect("--model DIR (a Hugging Face folder)");
    let batch: usize = arg("--batch").and_then(|v| v.parse().ok()).unwrap_or(2);
    let secs: f64 = arg("--secs").and_then(|v| v.parse().ok()).unwrap_or(4.0);
    let reps: usize = arg("--reps").and_then(|v| v.parse().ok()).unwrap_or(3);
    let (device, name) = bench_device(&arg("--device").unwrap_or_else(|| "flex".into()));
    let loaded = ser_ssl::load(model.as_ref(), &device).unwrap_or_else(|e| panic!("{e}"));
    let clips = workload(batch, secs, SR);
    let n = clips[0].len();
    let wave: Vec<f32> = clips.concat();
    let seconds = median_seconds(reps, || {
        let x = Tensor::<2>::from_data(TensorData::new(wave.clone(), [batch, n]), &device);
        let hidden = loaded.encoder.forward(x);
        // Every layer to the host, as an extraction stores them.
        for h in hidden.layers {
            std::hint::black_box(h.into_data());
        }
    });
    let audio = batch as f64 * secs;
    println!(
        "{}",
        serde_json::json!({
            "tool": "ser (burn 0.22)", "device": name, "model": loaded.config.model_type,
            "layers": loaded.config.num_hidden_layers, "hidden": loaded.config.hidden_size,
            "batch": batch, "clip_seconds": secs,
            "audio_seconds_per_second": audio / seconds, "seconds": seconds,
        })
    );
}
