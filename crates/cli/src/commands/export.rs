//! `ser export`: a trained network as an ONNX file with its model card.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use ser_experiment::SegmentPolicy;
use ser_infer::Predictor;

/// Arguments of `ser export`.
#[derive(clap::Args)]
#[command(
    after_help = "Writes FILE.onnx (opset 17, dynamic batch and time axes) and FILE.json, its model \
card. The graph's input `frames` [batch, time, features] holds the frame features exactly as \
`ser extract` computes them with the card's feature config (the graph standardizes them with the \
training statistics itself); its output `probabilities` [batch, classes] is in the card's label \
order. ser scores a clip from its centre `segment_frames` frames; the graph takes any length.\n\n\
With --with-frontend the graph's input is `waveform` [batch, samples] instead: mono samples in \
16-bit range (-32768..32767, i.e. float samples x 32768) at the card's sample_rate, each item at \
least the card's min_samples long (items of one call share a length). The graph computes the \
run's features itself (pre-emphasis and peak / RMS normalization included), cuts the centre \
segment as ser does (tile / crop), standardizes and classifies: what ser computes for a window \
of a long recording (`ser predict --timeline`, `ser stream`). Silence trimming is not in the \
graph; Butterworth band-pass, denoising and LUFS normalization have no fixed ONNX graph and \
are refused.\n\n\
The card records the labels, sample rate, feature config (TOML) and its hash, frame arrays, \
normalization statistics, training corpora, the protocol and test metrics, the ser version and \
the ONNX file's BLAKE3 hash (so a card and a file that do not belong together are caught).\n\
Check a file with onnx.checker and onnxruntime: tests/onnx/check_onnx.py. `ser predict FILE.onnx` \
and `ser stream FILE.onnx` run either kind of export (tract) as the run folder would."
)]
pub struct Args {
    /// Run folder of the model (a finished network run, or one fold / corpus-set folder).
    #[arg(value_name = "RUN_DIR")]
    run: PathBuf,
    /// The ONNX file to write; the card goes beside it with the extension .json.
    #[arg(long, value_name = "FILE.onnx")]
    out: PathBuf,
    /// Put the feature front end in the graph: waveform samples in, probabilities out.
    #[arg(long)]
    with_frontend: bool,
    /// Runs trained with split.normalize = "corpus" / "speaker": the corpus (or
    /// corpus/speaker) whose own statistics the graph applies before the training
    /// statistics (one the run folder kept in group_normalizers.json); the card names it.
    #[arg(long, value_name = "NAME")]
    norm_group: Option<String>,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let flex: burn::tensor::Device = burn::backend::FlexDevice.into();
    let p = Predictor::load_for_export(&a.run, &flex, a.norm_group.as_deref())
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
    let standardize = Some(ser_export::Standardize {
        mean: &norm.mean,
        std: &norm.std,
    });
    let (bytes, input) = if a.with_frontend {
        let short = match exp.segment.policy {
            SegmentPolicy::Tile => ser_export::ShortFill::Tile,
            SegmentPolicy::Crop => ser_export::ShortFill::Floor,
            SegmentPolicy::Pad => anyhow::bail!(
                "--with-frontend: the run uses segment.policy = \"pad\" (masked padding of short \
                 clips), which the exported graph does not reproduce; export without \
                 --with-frontend, or train with policy \"tile\" or \"crop\""
            ),
        };
        let frontend = ser_export::Frontend {
            config: cfg,
            arrays: &exp.data.frames,
            segment: Some(ser_export::Segment {
                frames: exp.segment.frames,
                short,
            }),
        };
        let info = frontend.check()?;
        let bytes = ser_export::pipeline_to_onnx(
            &p.net_weights(),
            &frontend,
            &p.classes,
            standardize,
            &metadata,
        )?;
        let notes = serde_json::json!({
            "scale": "16-bit range: float samples x 32768",
            "in_graph": "pre-emphasis, peak/RMS normalization, STFT, mel, dB, MFCC, deltas, centre segment, standardization",
            "not_in_graph": "decoding, mono mix, resampling to sample_rate; silence trimming (ser trims clips, not the windows of long recordings)",
        });
        let input = ser_export::CardInput {
            name: "waveform".into(),
            shape: vec!["batch".into(), "samples".into()],
            arrays: exp.data.frames.clone(),
            min_samples: Some(info.min_samples),
            notes: notes.as_object().cloned().unwrap_or_default(),
        };
        (bytes, input)
    } else {
        let bytes = ser_export::net_to_onnx(
            &p.net_weights(),
            p.n_features(),
            &p.classes,
            standardize,
            &metadata,
        )?;
        let input = ser_export::CardInput {
            name: "frames".into(),
            shape: vec!["batch".into(), "time".into(), p.n_features().into()],
            arrays: exp.data.frames.clone(),
            min_samples: None,
            notes: [("standardized_inside".to_string(), true.into())]
                .into_iter()
                .collect(),
        };
        (bytes, input)
    };
    if let Some(dir) = a.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&a.out, &bytes).with_context(|| format!("writing {}", a.out.display()))?;
    let card = ser_export::ModelCard {
        format: ser_export::CARD_FORMAT.into(),
        version: 1,
        onnx_file: a.out.file_name().map(|n| n.to_string_lossy().to_string()),
        onnx_blake3: ser_data::content_hash(&bytes),
        opset: ser_export::OPSET,
        input,
        output: serde_json::json!({ "name": "probabilities", "shape": ["batch", p.classes.len()] }),
        labels: p.classes.clone(),
        sample_rate: cfg.audio.sample_rate,
        feature_config_hash: cfg.hash(),
        feature_config: cfg.to_toml(),
        segment_frames: exp.segment.frames,
        segment_policy: serde_json::to_value(exp.segment.policy)?
            .as_str()
            .unwrap_or("tile")
            .to_string(),
        normalization: serde_json::json!({
            "mean": norm.mean,
            "std": norm.std,
            "scope": exp.split.normalize,
            "group": a.norm_group,
        }),
        model: serde_json::to_value(exp.model.kind)?,
        training_corpora: exp.data.corpora.clone(),
        protocol: results["protocol"].clone(),
        test_metrics: serde_json::json!({
            "ua": results["test"]["ua"],
            "wa": results["test"]["wa"],
            "macro_f1": results["test"]["macro_f1"],
            "n": results["test"]["n"],
        }),
        ser_version: env!("CARGO_PKG_VERSION").into(),
        run: a.run.display().to_string(),
    };
    let card_path = ser_export::ModelCard::path_for(&a.out);
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
