//! Which models of a multi-model study one call trains: all of them (one process), every
//! n-th (`--shard I/N`, one array task of a cluster job), or none (`--collect`: combine what
//! the tasks finished). Each model folder is claimed by one task at a time (`run.lock`, the
//! claim of a killed task taken over once stale), so a duplicated or requeued task never
//! trains a model twice; the study's results are written by whichever call finds every model
//! finished, and equal those of one process (each model is the same deterministic run).

use std::path::Path;

use ser_experiment::TrainError;
use ser_train::{Observer, RunSummary, claim, read_summary};

/// The models of a study this call trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Models {
    /// Every model, one after another (the default).
    #[default]
    All,
    /// Models `index - 1`, `index - 1 + count`, ... (1-based `index`), as `--shard I/N`.
    Shard {
        /// Which shard, from 1.
        index: usize,
        /// How many shards.
        count: usize,
    },
    /// None: read back what has finished and write the study's results if all have.
    Collect,
}

impl Models {
    /// Refuses a shard outside `1..=count`.
    pub fn validate(self) -> Result<(), TrainError> {
        match self {
            Models::Shard { index, count } if count == 0 || index == 0 || index > count => {
                Err(TrainError::Config(format!(
                    "--shard {index}/{count}: give I/N with 1 <= I <= N"
                )))
            }
            _ => Ok(()),
        }
    }

    /// Whether model `k` (from 0) is this call's to train.
    fn owns(self, k: usize) -> bool {
        match self {
            Models::All => true,
            Models::Shard { index, count } => k % count == index - 1,
            Models::Collect => false,
        }
    }
}

/// What a study call ended with.
#[derive(Debug)]
pub enum StudyOutcome {
    /// Every model finished: the study's results.
    Done(Box<RunSummary>),
    /// Some models are not finished yet (other shards' or held by another task).
    Partial {
        /// Models finished, by any task.
        finished: usize,
        /// Models of the study.
        total: usize,
        /// The folders of the models not finished.
        pending: Vec<String>,
    },
}

/// Model `k` of a study in folder `sub` (named `folder`): read back when finished; trained
/// by `train` when it is this call's and no other task holds its claim; else `None`.
pub(crate) fn model(
    models: Models,
    k: usize,
    sub: &Path,
    obs: &mut dyn Observer,
    train: impl FnOnce(&mut dyn Observer) -> Result<RunSummary, TrainError>,
) -> Result<Option<RunSummary>, TrainError> {
    let done = sub.join("results.json");
    if done.exists() {
        return read_summary(&done).map(Some);
    }
    if !models.owns(k) {
        return Ok(None);
    }
    let _claim = match claim(sub) {
        Ok(c) => c,
        Err(TrainError::Busy(why)) if models != Models::All => {
            obs.note(&format!("{why}; left to it"));
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    // Another task may have finished it between the check above and the claim.
    if done.exists() {
        return read_summary(&done).map(Some);
    }
    train(obs).map(Some)
}

/// The outcome of a study whose models, in folders `dir/<folders>`, gave `runs` (`None`:
/// not finished when this call passed them; read again now, since other tasks may have
/// finished them since): `Partial`, or `Done` with what `combine` makes of them all.
pub(crate) fn outcome(
    mut runs: Vec<Option<RunSummary>>,
    dir: &Path,
    folders: &[String],
    combine: impl FnOnce(Vec<RunSummary>) -> Result<RunSummary, TrainError>,
) -> Result<StudyOutcome, TrainError> {
    for (run, folder) in runs.iter_mut().zip(folders) {
        let done = dir.join(folder).join("results.json");
        if run.is_none() && done.exists() {
            *run = Some(read_summary(&done)?);
        }
    }
    let pending: Vec<String> = runs
        .iter()
        .zip(folders)
        .filter(|(r, _)| r.is_none())
        .map(|(_, f)| f.clone())
        .collect();
    if pending.is_empty() {
        return combine(runs.into_iter().flatten().collect())
            .map(|s| StudyOutcome::Done(Box::new(s)));
    }
    Ok(StudyOutcome::Partial {
        finished: runs.len() - pending.len(),
        total: runs.len(),
        pending,
    })
}
