//! One model in its run folder: the folder claimed by one process, its data prepared, then
//! a network trained or a baseline fitted, and its outputs written. The protocols that train
//! several models (`ser-study`) call [`run_one`] / [`sub_run`] once per model.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use ser_experiment::folder::{PART, io, write_atomic, write_json};
use ser_experiment::{Dataset, Experiment, TrainError};

use crate::net::{read_state, train_net};
use crate::prepare::{Part, prepare};
use crate::summary::{Observer, RunOptions, RunSummary, read_summary};

/// Claims the run folder `dir` (creating it) for this process: two processes never train in
/// one folder (a duplicated or requeued array task, two `ser run` of one experiment). A
/// claim left by a killed process is taken over ([`ser_lock`]).
pub fn claim(dir: &Path) -> Result<ser_lock::Lock, TrainError> {
    fs::create_dir_all(dir).map_err(io(dir))?;
    let path = dir.join("run.lock");
    match ser_lock::Lock::try_acquire(&path, &format!("training {}", dir.display())) {
        Ok(Ok(lock)) => Ok(lock),
        Ok(Err(holder)) => Err(TrainError::Busy(format!(
            "{} is being trained by {holder}; wait for it to finish (a claim of a killed process is taken over after at most {} s)",
            dir.display(),
            ser_lock::STALE_AFTER.as_secs()
        ))),
        Err(e) => Err(TrainError::file(&path, e)),
    }
}

/// One model of a multi-model run (a fold, a corpus set) in its folder `sub`: read back when
/// it finished, else started or resumed after telling the user `what`.
pub fn sub_run(
    exp: &Experiment,
    sub: &Path,
    opts: &RunOptions,
    obs: &mut dyn Observer,
    ds: Arc<Dataset>,
    part: &Part<'_>,
    what: &str,
) -> Result<RunSummary, TrainError> {
    let done = sub.join("results.json");
    if done.exists() {
        return read_summary(&done);
    }
    fs::create_dir_all(sub).map_err(io(sub))?;
    // The folder then holds everything `ser predict` / `ser export` read of a run.
    write_atomic(&sub.join("experiment.toml"), exp.to_toml().as_bytes())?;
    write_json(
        &sub.join(PART),
        &serde_json::json!({ "study": "..", "model": what }),
    )?;
    obs.note(what);
    let resume = sub.join("split.json").exists();
    run_one(exp, sub, opts, obs, resume, ds, part)
}

/// One model on one part of the data (the holdout split, a fold, a corpus combination).
pub fn run_one(
    exp: &Experiment,
    dir: &Path,
    opts: &RunOptions,
    obs: &mut dyn Observer,
    resume: bool,
    ds: Arc<Dataset>,
    part: &Part<'_>,
) -> Result<RunSummary, TrainError> {
    let p = prepare(exp, dir, resume, &opts.device, obs, ds, part)?;
    if exp.model.kind.net().is_none() {
        return crate::classical::run(exp, dir, &p, obs);
    }
    let state = if resume { read_state(dir)? } else { None };
    if resume && state.is_none() {
        obs.note("no finished epoch to resume from: starting from epoch 1");
    }
    if let Some(s) = &state
        && s.finished
    {
        obs.note("this run already finished; re-evaluating its best model");
    }
    train_net(exp, dir, opts, obs, p, state)
}
