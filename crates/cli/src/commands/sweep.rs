//! `ser sweep`: an experiment over a grid (and random samples) of settings, resumable,
//! shardable over machines, with one ranked summary.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use ser_study::{PointStatus, Sweep, run_sweep};

use crate::commands::train::{Bars, ensure_data, train_devices};

/// Arguments of `ser sweep`.
#[derive(clap::Args)]
#[command(after_help = "SWEEP.toml:\n\
  name = \"svm_sweep\"                 # folder RUNS/<name>/\n\
  base = \"svm_kfold.toml\"            # experiment every point starts from (relative to this file)\n\
  [grid]                             # every combination is a point\n\
  \"model.svm.c\" = [0.3, 1.0, 3.0]\n\
  \"split.normalize\" = [\"train\", \"speaker\"]\n\
  [random]                           # optional: random points after the grid's\n\
  samples = 4\n\
  seed = 0\n\
  [random.params]\n\
  \"model.svm.gamma\" = { log_uniform = [0.001, 0.1] }   # or uniform = [a, b], choice = [...]\n\n\
Each point runs in RUNS/<name>/pNNN/ under the base's protocol. Finished points are skipped, so \
running the same command again resumes a killed sweep; a failing point is listed (and retried next \
time) while the others go on. RUNS/<name>/summary.csv and summary.md rank the points by mean test UA.\n\n\
Clusters: `--shard I/N` runs points I, I+N, I+2N, ... so that an array job of N tasks shares the \
sweep (Slurm: `#SBATCH --array=1-N` and `ser sweep S.toml --shard $SLURM_ARRAY_TASK_ID/N`, on a \
shared file system); then `ser sweep S.toml --collect` writes the summary of every finished point.")]
pub struct Args {
    /// Sweep file (TOML).
    #[arg(value_name = "SWEEP.toml")]
    sweep: PathBuf,
    /// Folder that holds run folders.
    #[arg(long, default_value = "runs", value_name = "DIR")]
    runs: PathBuf,
    /// Where networks train: flex, wgpu[:N], cuda[:N] or auto; a comma-separated list trains
    /// data-parallel (see `ser train --help`).
    #[arg(long, default_value = "flex", value_name = "DEVICE")]
    device: String,
    /// Run only every N-th point from the I-th (1-based), e.g. `--shard 2/4`.
    #[arg(long, value_name = "I/N", conflicts_with = "collect")]
    shard: Option<String>,
    /// Run nothing; write the summary of the points finished so far (by any shard).
    #[arg(long)]
    collect: bool,
    /// Print the points and exit.
    #[arg(long)]
    list: bool,
}

/// `I/N` of `--shard`, with 1 <= I <= N.
pub(crate) fn parse_shard(s: &str) -> anyhow::Result<(usize, usize)> {
    let (i, n) = s
        .split_once('/')
        .with_context(|| format!("--shard {s}: give I/N, e.g. 1/4"))?;
    let (i, n): (usize, usize) = (
        i.trim()
            .parse()
            .with_context(|| format!("--shard {s}: I"))?,
        n.trim()
            .parse()
            .with_context(|| format!("--shard {s}: N"))?,
    );
    if i == 0 || n == 0 || i > n {
        bail!("--shard {s}: need 1 <= I <= N");
    }
    Ok((i, n))
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let devices = train_devices(&a.device)?;
    let (sweep, base) = Sweep::load(&a.sweep, devices.target)
        .with_context(|| format!("in {}", a.sweep.display()))?;
    let points = sweep.points();
    if a.list {
        for p in &points {
            let s: Vec<String> = p
                .settings
                .iter()
                .map(|(k, v)| format!("{k} = {v}"))
                .collect();
            println!("{}  {}", p.id, s.join(", "));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let shard = a.shard.as_deref().map(parse_shard).transpose()?;
    if !a.collect {
        ensure_data(&base)?;
    }
    eprintln!(
        "sweep {}: {} point(s) of {} ({:?}, protocol {:?}){}",
        sweep.name,
        points.len(),
        sweep.base.display(),
        base.model.kind,
        base.split.protocol,
        shard.map_or(String::new(), |(i, n)| format!(", shard {i}/{n}"))
    );
    let opts = devices.options(a.runs);
    let r = run_sweep(&sweep, &base, &opts, shard, a.collect, &mut Bars::new())?;
    let count = |f: &dyn Fn(&PointStatus) -> bool| r.points.iter().filter(|p| f(&p.status)).count();
    let failed: Vec<&str> = r
        .points
        .iter()
        .filter(|p| matches!(p.status, PointStatus::Failed(_)))
        .map(|p| p.point.id.as_str())
        .collect();
    let mut best: Vec<(&str, f64, Option<f64>)> = r
        .points
        .iter()
        .filter_map(|p| p.ua().map(|(m, s)| (p.point.id.as_str(), m, s)))
        .collect();
    best.sort_by(|a, b| b.1.total_cmp(&a.1));
    let unlearned: Vec<&str> = r
        .points
        .iter()
        .filter(|p| p.summary.as_ref().is_some_and(|s| !s.learned))
        .map(|p| p.point.id.as_str())
        .collect();
    if !unlearned.is_empty() {
        println!(
            "WARNING: {} point(s) did not learn (a model at chance level; see their report.md): {}",
            unlearned.len(),
            unlearned.join(", ")
        );
    }
    println!(
        "{} ran now, {} finished before, {} pending, {} failed{}",
        count(&|s| *s == PointStatus::Ran),
        count(&|s| *s == PointStatus::Done),
        count(&|s| *s == PointStatus::Pending),
        failed.len(),
        if failed.is_empty() {
            String::new()
        } else {
            format!(": {}", failed.join(", "))
        }
    );
    for (id, m, s) in best.iter().take(5) {
        let sd = s.map_or(String::new(), |v| format!(" +- {v:.4}"));
        let flag = if unlearned.contains(id) {
            "  (did not learn)"
        } else {
            ""
        };
        println!("{id}  test UA {m:.4}{sd}{flag}");
    }
    println!("summary:  {}", r.dir.join("summary.md").display());
    Ok(if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
