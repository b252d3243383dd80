//! An experiment under its protocol: a new run, a resumed one, or one that continues when the
//! folder holds the same experiment. Holdout and random splits train one model
//! ([`ser_train::run_one`]); folds ([`crate::cv`]) and corpus-level protocols
//! ([`crate::corpus`]) train one per fold or corpus set.

use std::fs;
use std::path::Path;

use ser_experiment::folder::{PART, io, read_experiment, write_atomic};
use ser_experiment::{Experiment, Protocol, TrainError};
use ser_train::{Observer, Part, RunOptions, RunSummary, claim, load_dataset, run_one};

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
    run(exp, dir, opts, obs, false)
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
    let resume = dir.join("split.json").exists();
    run(exp, &dir, opts, obs, resume)
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
    run(&exp, dir, opts, obs, resume)
}

fn run(
    exp: &Experiment,
    dir: &Path,
    opts: &RunOptions,
    obs: &mut dyn Observer,
    resume: bool,
) -> Result<RunSummary, TrainError> {
    match exp.split.protocol {
        Protocol::Holdout | Protocol::Random => {
            let ds = load_dataset(exp)?;
            run_one(exp, dir, opts, obs, resume, ds, &Part::Whole)
        }
        Protocol::SpeakerKfold | Protocol::Loso => crate::cv::run_folds(exp, dir, opts, obs),
        Protocol::CrossCorpus | Protocol::LeaveOneCorpusOut => {
            crate::corpus::run_matrix(exp, dir, opts, obs)
        }
    }
}
