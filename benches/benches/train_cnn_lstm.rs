//! Training and inference throughput of ser's CNN-LSTM (burn) on the fixed model:
//! input [32, 1, 64, 301] (64 mel x 301 frames), four Conv2d blocks 16/32/64/64 (3x3,
//! BatchNorm, ReLU, 2x2 max pooling), BiLSTM 128 per direction, mean pooling over time, a
//! linear layer to 8 classes; AdamW. Prints one JSON line per measurement (median of --reps
//! timed rounds of --steps steps, after one warm-up round).
//!
//! `cargo bench -p ser-benches --bench train_cnn_lstm -- --device flex|wgpu|cuda|tch|tch-cuda [--reps N]
//! [--steps N] [--onnx FILE]`. `benches/run_train_cnn_lstm.sh` runs it beside the same model in
//! PyTorch, and beside onnxruntime on the trained model exported with `--onnx` (ser's
//! exporter, as `ser export` writes it).

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{Int, Tensor, TensorData};
use ser_benches::{arg, bench_device, median_seconds};
use ser_models::{Net, NetConfig};

const BATCH: usize = 32;
const MELS: usize = 64;
const FRAMES: usize = 301;
const CLASSES: usize = 8;

fn config() -> NetConfig {
    toml_config(
        "kind = \"cnn_lstm\"\n[cnn]\nchannels = [16, 32, 64, 64]\nkernel = [3, 3]\npool = [2, 2]\ndropout = 0.0\n[lstm]\nhidden = 128\nlayers = 1\nbidirectional = true\ndropout = 0.0\npooling = \"mean\"\n[head]\nhidden = []\ndropout = 0.0\n",
    )
}

fn toml_config(text: &str) -> NetConfig {
    toml::from_str(text).expect("valid bench model")
}

fn main() {
    let reps: usize = arg("--reps").and_then(|v| v.parse().ok()).unwrap_or(5);
    let steps: usize = arg("--steps").and_then(|v| v.parse().ok()).unwrap_or(5);
    let (base, name) = bench_device(&arg("--device").unwrap_or_else(|| "flex".into()));
    let x: Vec<f32> = (0..BATCH * FRAMES * MELS)
        .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
        .collect();
    let y: Vec<i64> = (0..BATCH).map(|i| (i % CLASSES) as i64).collect();
    let lengths = vec![FRAMES; BATCH];
    let report = |mode: &str, secs: f64| {
        println!(
            "{}",
            serde_json::json!({
                "tool": "ser (burn 0.22)", "mode": mode, "device": name,
                "samples_per_second": (BATCH * steps) as f64 / secs, "seconds": secs, "steps": steps,
            })
        );
    };

    // Training: forward, backward, AdamW step.
    let dev = base.clone().autodiff();
    dev.seed(0);
    let mut net = Net::new(&config(), MELS, FRAMES, CLASSES, &dev).expect("bench model");
    let mut optim = AdamWConfig::new().init();
    let loss_fn = CrossEntropyLossConfig::new().init(&dev);
    let xt = Tensor::<3>::from_data(TensorData::new(x.clone(), [BATCH, FRAMES, MELS]), &dev);
    let yt = Tensor::<1, Int>::from_data(TensorData::new(y, [BATCH]), &dev);
    let secs = median_seconds(reps, || {
        for _ in 0..steps {
            let loss = loss_fn.forward(net.forward(xt.clone(), &lengths), yt.clone());
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            net = optim.step(1e-3, net.clone(), grads);
            // As a training loop logs its loss (PyTorch's `loss.item()` after the step): the
            // read waits for the queued backward and update too.
            std::hint::black_box(loss.into_scalar::<f32>());
        }
    });
    report("train", secs);

    // Inference: forward in validation mode, logits read back.
    let valid = net.valid();
    let xv = Tensor::<3>::from_data(TensorData::new(x, [BATCH, FRAMES, MELS]), &base);
    let secs = median_seconds(reps, || {
        for _ in 0..steps {
            let v = valid
                .forward(xv.clone(), &lengths)
                .into_data()
                .try_to_vec::<f32>();
            std::hint::black_box(v.expect("f32"));
        }
    });
    report("inference", secs);

    // Latency of one 3 s clip (batch 1), as a service scoring requests one at a time sees it.
    let x1 = xv.clone().narrow(0, 0, 1);
    let one = [FRAMES];
    let secs = median_seconds(reps, || {
        for _ in 0..steps {
            let v = valid
                .forward(x1.clone(), &one)
                .into_data()
                .try_to_vec::<f32>();
            std::hint::black_box(v.expect("f32"));
        }
    });
    println!(
        "{}",
        serde_json::json!({
            "tool": "ser (burn 0.22)", "mode": "latency_b1", "device": name,
            "samples_per_second": steps as f64 / secs, "ms_per_clip": 1e3 * secs / steps as f64,
            "seconds": secs, "steps": steps,
        })
    );
    if let Some(path) = arg("--onnx") {
        let classes: Vec<String> = (0..CLASSES).map(|c| format!("c{c}")).collect();
        let bytes =
            ser_export::net_to_onnx(&valid.weights(), MELS, &classes, None, &[]).expect("export");
        std::fs::write(&path, bytes).expect("writing the ONNX file");
    }
}
