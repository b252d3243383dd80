//! `ser run`: one command from an experiment file to its report, starting the run or
//! continuing it where it stopped.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use ser_experiment::Experiment;
use ser_study::{Models, StudyOutcome};

use crate::commands::sweep::parse_shard;
use crate::commands::train::{Bars, ensure_data, outcome, train_devices};

/// Arguments of `ser run`.
#[derive(clap::Args)]
#[command(
    after_help = "Starts RUNS/<name> from the experiment, or continues it when the folder holds a run of the \
same experiment (a finished run is re-evaluated and its report rewritten; a folder holding another \
experiment is refused). Extracts the feature cache first when it is missing. The leakage audit runs \
before any training and stops a protocol whose claim it breaks.\n\n\
Writes everything `ser train` writes, and report.md: protocol, leakage audit, data counts, metrics, \
plots. Cross-corpus studies (experiments/cross_corpus_synth.toml) add the train x test UA matrix \
(ua_matrix.png / .svg).\n\n\
Clusters: the folds of speaker_kfold / loso and the models of cross_corpus / leave_one_corpus_out \
spread over an array job with `--shard I/N` (models I, I+N, I+2N, ...; Slurm: `#SBATCH \
--array=1-N` and `ser run X.toml --shard $SLURM_ARRAY_TASK_ID/N` on a shared file system). Each \
model folder is claimed by one task at a time, so a duplicated or requeued task never trains a model \
twice; the task that finds every model finished writes the study's results (the same as one \
process), or `ser run X.toml --collect` does afterwards. Each task loads the whole dataset: a node \
needs the memory of one `ser run` per task it runs."
)]
pub struct Args {
    /// Experiment file (TOML; see experiments/).
    #[arg(value_name = "EXPERIMENT.toml")]
    experiment: PathBuf,
    /// Folder that holds run folders.
    #[arg(long, default_value = "runs", value_name = "DIR")]
    runs: PathBuf,
    /// Where networks train: flex (burn's CPU backend), wgpu[:N], cuda[:N], or auto; a
    /// comma-separated list trains data-parallel (see `ser train --help`).
    #[arg(long, default_value = "flex", value_name = "DEVICE")]
    device: String,
    /// Train only every N-th model of the study from the I-th (1-based), e.g. `--shard 2/4`.
    #[arg(long, value_name = "I/N", conflicts_with = "collect")]
    shard: Option<String>,
    /// Train nothing; write the study's results once every model has finished (by any shard).
    #[arg(long)]
    collect: bool,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let devices = train_devices(&a.device)?;
    let text = std::fs::read_to_string(&a.experiment)
        .with_context(|| format!("reading experiment {}", a.experiment.display()))?;
    let exp = Experiment::from_toml_for(&text, devices.target)
        .with_context(|| format!("in {}", a.experiment.display()))?;
    exp.validate()
        .with_context(|| format!("in {}", a.experiment.display()))?;
    ensure_data(&exp)?;
    eprintln!(
        "{} ({:?}, protocol {:?}) on {}",
        exp.name, exp.model.kind, exp.split.protocol, devices.name
    );
    let opts = devices.options(a.runs);
    let models = match (a.shard.as_deref().map(parse_shard).transpose()?, a.collect) {
        (Some((index, count)), _) => Models::Shard { index, count },
        (None, true) => Models::Collect,
        (None, false) => return outcome(ser_study::run_or_resume(&exp, &opts, &mut Bars::new())),
    };
    match ser_study::run_shard(&exp, &opts, models, &mut Bars::new()) {
        Ok(StudyOutcome::Done(s)) => outcome(Ok(*s)),
        Ok(StudyOutcome::Partial {
            finished,
            total,
            pending,
        }) => {
            eprintln!(
                "{finished} of {total} models finished; not yet: {} (other shards', or held by another task). \
The last shard to finish writes the study's results; or run `ser run {} --collect` once all have.",
                pending.join(", "),
                a.experiment.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => outcome(Err(e)),
    }
}
