//! An experiment under its protocol: a new run, a resumed one, or one that continues when the
//! folder holds the same experiment. Holdout and random splits train one model
//! ([`ser_train::run_one`]); folds ([`crate::cv`]) and corpus-level protocols
//! ([`crate::corpus`]) train one per fold or corpus set.

use std::fs;
use std::path::Path;

use ser_experiment::folder::{PART, io, read_experiment, write_atomic};
use ser_experiment::{Experiment, Protocol, TrainError};
use ser_train::{Observer, Part, RunOptions, RunSummary, claim, load_dataset, run_one};

use crate::shard::{Models, StudyOutcome};

/// Starts a new run of `exp` in `<runs_dir>/<name>` (refusing to overwrite one that exists).
pub fn train(
    exp: &Experiment,
    opts: &RunOptions,
    obs: &mut dyn Observer,
) -> Result<RunSummary, TrainError> {
    exp.validate()?;
    let dir = opts.runs_dir.join(&exp.name);
    let _claim = claim(&dir)?;
    start(exp, &dir, opts, obs)
}

/// Starts a new run of `exp` in `dir` (claimed by the caller).
fn start(
    exp: &Experiment,
    dir: &Path,
    opts: &RunOptions,
    obs: &mut dyn Observer,
) -> Result<RunSummary, TrainError> {
    if ["state.json", "results.json", "folds.json", "plan.json"]
        .iter()
        .any(|f| dir.join(f).exists())
    {
        return Err(TrainError::Config(format!(
            "{} already holds a run; resume it with `ser train --resume {}`, or change `name`",
            dir.display(),
            dir.display()
        )));
    }
    write_atomic(&dir.join("experiment.toml"), exp.to_toml().as_bytes())?;
    run(exp, dir, opts, obs, false, Models::All).map(done)
}

/// The summary of a study run with [`Models::All`], which always finishes every model.
fn done(outcome: StudyOutcome) -> RunSummary {
    match outcome {
        StudyOutcome::Done(s) => *s,
        StudyOutcome::Partial { .. } => unreachable!("every model runs with Models::All"),
    }
}

/// Starts `exp` in `<runs_dir>/<name>`, or, when that folder holds a run of the same
/// experiment, continues it (a finished run is re-evaluated and its report rewritten). A
/// folder holding another experiment is refused.
pub fn run_or_resume(
    exp: &Experiment,
    opts: &RunOptions,
    obs: &mut dyn Observer,
) -> Result<RunSummary, TrainError> {
    exp.validate()?;
    let dir = opts.runs_dir.join(&exp.name);
    let _claim = claim(&dir)?;
    let path = dir.join("experiment.toml");
    if !path.exists() {
        return start(exp, &dir, opts, obs);
    }
    same_experiment(exp, &dir)?;
    let resume = dir.join("split.json").exists();
    run(exp, &dir, opts, obs, resume, Models::All).map(done)
}

/// Runs the models of the study `exp` that `models` selects (`--shard I/N`, `--collect`),
/// in `<runs_dir>/<name>`, beside other tasks running the others (see [`crate::shard`]):
/// the study folder is claimed only while its experiment is written or compared.
pub fn run_shard(
    exp: &Experiment,
    opts: &RunOptions,
    models: Models,
    obs: &mut dyn Observer,
) -> Result<StudyOutcome, TrainError> {
    exp.validate()?;
    models.validate()?;
    if !matches!(
        exp.split.protocol,
        Protocol::SpeakerKfold
            | Protocol::Loso
            | Protocol::CrossCorpus
            | Protocol::LeaveOneCorpusOut
    ) {
        return Err(TrainError::Config(format!(
            "--shard and --collect spread the models of speaker_kfold, loso, cross_corpus and leave_one_corpus_out studies; protocol {:?} trains one model: run it without them",
            exp.split.protocol
        )));
    }
    let dir = opts.runs_dir.join(&exp.name);
    {
        // Held only while the experiment is written or compared: the other shards wait.
        fs::create_dir_all(&dir).map_err(io(&dir))?;
        let lock = dir.join("run.lock");
        let _claim = ser_lock::Lock::acquire(&lock, &format!("starting {}", dir.display()), |h| {
            obs.note(&format!("waiting for {h} to let go of {}", dir.display()))
        })
        .map_err(|e| TrainError::file(&lock, e))?;
        let path = dir.join("experiment.toml");
        if path.exists() {
            same_experiment(exp, &dir)?;
        } else if models == Models::Collect {
            return Err(TrainError::Config(format!(
                "{} holds no run of {} to collect; run its shards first (`ser run EXPERIMENT --shard I/N`)",
                dir.display(),
                exp.name
            )));
        } else {
            write_atomic(&path, exp.to_toml().as_bytes())?;
        }
    }
    run(exp, &dir, opts, obs, false, models)
}

/// Refuses a run folder that holds another experiment than `exp`.
fn same_experiment(exp: &Experiment, dir: &Path) -> Result<(), TrainError> {
    let path = dir.join("experiment.toml");
    let old = fs::read_to_string(&path).map_err(io(&path))?;
    // Compared as experiments, so that keys added to ser since (with their defaults) match.
    let theirs = Experiment::from_toml(&old)?;
    if theirs != *exp {
        let first = first_difference(&theirs, exp)
            .map(|(k, a, b)| format!(" ({k} is {a} there, {b} here)"))
            .unwrap_or_default();
        return Err(TrainError::Config(format!(
            "{} holds a run of a different experiment{first}; change `name`, or remove the folder to start over",
            dir.display()
        )));
    }
    Ok(())
}

/// The first dotted key (in file order) whose value differs between two experiments.
fn first_difference(a: &Experiment, b: &Experiment) -> Option<(String, String, String)> {
    fn flat(prefix: &str, v: &toml::Value, out: &mut Vec<(String, String)>) {
        match v {
            toml::Value::Table(t) => {
                for (k, x) in t {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    flat(&key, x, out);
                }
            }
            other => out.push((prefix.to_string(), other.to_string())),
        }
    }
    let table = |e: &Experiment| -> Vec<(String, String)> {
        let mut out = Vec::new();
        flat("", &toml::Value::Table(e.to_table()), &mut out);
        out
    };
    let (x, y) = (table(a), table(b));
    y.iter().find_map(|(k, vb)| {
        let va = x.iter().find(|(ka, _)| ka == k).map(|(_, v)| v.clone());
        (va.as_ref() != Some(vb)).then(|| (k.clone(), va.unwrap_or("unset".into()), vb.clone()))
    })
}

/// Continues the run in `dir` from its last finished epoch.
pub fn resume(
    dir: &Path,
    opts: &RunOptions,
    obs: &mut dyn Observer,
) -> Result<RunSummary, TrainError> {
    if dir.join(PART).exists() {
        let study = dir.parent().unwrap_or(Path::new(".."));
        return Err(TrainError::Config(format!(
            "{} is one model of the study in {}; resume the study: `ser train --resume {}`",
            dir.display(),
            study.display(),
            study.display()
        )));
    }
    let exp = read_experiment(dir)?;
    exp.validate()?;
    let _claim = claim(dir)?;
    let resume = dir.join("split.json").exists();
    run(&exp, dir, opts, obs, resume, Models::All).map(done)
}

fn run(
    exp: &Experiment,
    dir: &Path,
    opts: &RunOptions,
    obs: &mut dyn Observer,
    resume: bool,
    models: Models,
) -> Result<StudyOutcome, TrainError> {
    match exp.split.protocol {
        Protocol::Holdout | Protocol::Random => {
            let ds = load_dataset(exp)?;
            run_one(exp, dir, opts, obs, resume, ds, &Part::Whole)
                .map(|s| StudyOutcome::Done(Box::new(s)))
        }
        Protocol::SpeakerKfold | Protocol::Loso => {
            crate::cv::run_folds(exp, dir, opts, models, obs)
        }
        Protocol::CrossCorpus | Protocol::LeaveOneCorpusOut => {
            crate::corpus::run_matrix(exp, dir, opts, models, obs)
        }
    }
}
