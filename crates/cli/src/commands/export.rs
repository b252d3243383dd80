//! `ser export`: a trained network as an ONNX file with its model card.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use ser_train::Predictor;

/// Arguments of `ser export`.
#[derive(clap::Args)]
#[command(
    after_help = "Writes FILE.onnx (opset 17, dynamic batch and time axes) and FILE.json, its model \
card. The graph's input `frames` [batch, time, features] holds the frame features exactly as \
`ser extract` computes them with the card's feature config (the graph standardizes them with the \
training statistics itself); its output `probabilities` [batch, classes] is in the card's label \
order. ser scores a clip from its centre `segment_frames` frames; the graph takes any length.\n\n\
The card records the labels, sample rate, feature config (TOML) and its hash, frame arrays, \
normalization statistics, training corpora, the protocol and test metrics, the ser version and \
the ONNX file's BLAKE3 hash (so a card and a file that do not belong together are caught).\n\
Check a file with onnx.checker and onnxruntime: tests/onnx/check_onnx.py."
)]
pub struct Args {
    /// Run folder of the model (a finished network run, or one fold / corpus-set folder).
    #[arg(value_name = "RUN_DIR")]
    run: PathBuf,
    /// The ONNX file to write; the card goes beside it with the extension .json.
    #[arg(long, value_name = "FILE.onnx")]
    out: PathBuf,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let flex: burn::tensor::Device = burn::backend::FlexDevice.into();
    let p = Predictor::load(&a.run, &flex)
        .with_context(|| format!("loading the model of {}", a.run.display()))?;
    let exp = p.experiment();
    let norm = p.normalizer();
    let results: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(a.run.join("results.json")).context("reading results.json")?,
    )?;
    let cfg = p.feature_config();
    let metadata = vec![
        (
            "ser_version".to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        ),
        ("feature_config_hash".to_string(), cfg.hash()),
        ("frames".to_string(), exp.data.frames.join(",")),
        ("sample_rate".to_string(), cfg.audio.sample_rate.to_string()),
    ];
    let bytes = ser_export::net_to_onnx(
        &p.net_weights(),
        p.n_features(),
        &p.classes,
        Some(ser_export::Standardize {
            mean: &norm.mean,
            std: &norm.std,
        }),
        &metadata,
    )?;
    if let Some(dir) = a.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&a.out, &bytes).with_context(|| format!("writing {}", a.out.display()))?;
    let card = serde_json::json!({
        "format": "ser-model-card",
        "version": 1,
        "onnx_file": a.out.file_name().map(|n| n.to_string_lossy().to_string()),
        "onnx_blake3": ser_data::content_hash(&bytes),
        "opset": ser_export::OPSET,
        "input": {
            "name": "frames",
            "shape": ["batch", "time", p.n_features()],
            "arrays": exp.data.frames,
            "standardized_inside": true,
        },
        "output": { "name": "probabilities", "shape": ["batch", p.classes.len()] },
        "labels": p.classes,
        "sample_rate": cfg.audio.sample_rate,
        "feature_config_hash": cfg.hash(),
        "feature_config": cfg.to_toml(),
        "segment_frames": exp.segment.frames,
        "normalization": { "mean": norm.mean, "std": norm.std },
        "model": exp.model.kind,
        "training_corpora": exp.data.corpora,
        "protocol": results["protocol"],
        "test_metrics": {
            "ua": results["test"]["ua"],
            "wa": results["test"]["wa"],
            "macro_f1": results["test"]["macro_f1"],
            "n": results["test"]["n"],
        },
        "ser_version": env!("CARGO_PKG_VERSION"),
        "run": a.run.display().to_string(),
    });
    let card_path = a.out.with_extension("json");
    std::fs::write(&card_path, serde_json::to_string_pretty(&card)?)
        .with_context(|| format!("writing {}", card_path.display()))?;
    println!(
        "{} ({} bytes, opset {}), card {}",
        a.out.display(),
        bytes.len(),
        ser_export::OPSET,
        card_path.display()
    );
    Ok(ExitCode::SUCCESS)
}
