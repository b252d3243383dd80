//! `ser run`: one command from an experiment file to its report, starting the run or
//! continuing it where it stopped.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use ser_experiment::Experiment;
use ser_study::RunOptions;

use crate::commands::train::{Bars, device, ensure_data, outcome};

/// Arguments of `ser run`.
#[derive(clap::Args)]
#[command(
    after_help = "Starts RUNS/<name> from the experiment, or continues it when the folder holds a run of the \
same experiment (a finished run is re-evaluated and its report rewritten; a folder holding another \
experiment is refused). Extracts the feature cache first when it is missing. The leakage audit runs \
before any training and stops a protocol whose claim it breaks.\n\n\
Writes everything `ser train` writes, and report.md: protocol, leakage audit, data counts, metrics, \
plots. Cross-corpus studies (experiments/cross_corpus_synth.toml) add the train x test UA matrix \
(ua_matrix.png / .svg)."
)]
pub struct Args {
    /// Experiment file (TOML; see experiments/).
    #[arg(value_name = "EXPERIMENT.toml")]
    experiment: PathBuf,
    /// Folder that holds run folders.
    #[arg(long, default_value = "runs", value_name = "DIR")]
    runs: PathBuf,
    /// Where networks train: flex (burn's CPU backend), wgpu, cuda, or auto.
    #[arg(long, default_value = "flex", value_name = "DEVICE")]
    device: String,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let (device, device_name) = device(&a.device)?;
    let text = std::fs::read_to_string(&a.experiment)
        .with_context(|| format!("reading experiment {}", a.experiment.display()))?;
    let exp =
        Experiment::from_toml(&text).with_context(|| format!("in {}", a.experiment.display()))?;
    exp.validate()
        .with_context(|| format!("in {}", a.experiment.display()))?;
    ensure_data(&exp)?;
    eprintln!(
        "{} ({:?}, protocol {:?}) on {device_name}",
        exp.name, exp.model.kind, exp.split.protocol
    );
    let opts = RunOptions {
        runs_dir: a.runs,
        device,
        device_name,
        stop_after: None,
    };
    outcome(ser_study::run_or_resume(&exp, &opts, &mut Bars::new()))
}
