//! The run folder's shared vocabulary: the names of the files every crate reads, and writes
//! that a kill cannot leave half done (a temporary file, then a rename).

use std::fs;
use std::path::Path;

use serde::Serialize;

use crate::error::TrainError;
use crate::experiment::Experiment;

/// Per-group statistics of a run trained with `split.normalize = "corpus" | "speaker"`.
pub const GROUP_NORMS: &str = "group_normalizers.json";

/// Marks a folder as one model of a study (`{"study": .., "model": ..}`).
pub const PART: &str = "part.json";

/// Turns an I/O error on `path` into a [`TrainError::Io`] naming the file.
pub fn io(path: &Path) -> impl Fn(std::io::Error) -> TrainError + '_ {
    move |e| TrainError::file(path, e)
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a kill leaves either
/// the old or the new file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    let tmp = ser_lock::unique_sibling(path, "tmp");
    fs::write(&tmp, bytes).map_err(io(&tmp))?;
    fs::rename(&tmp, path).map_err(io(path))
}

/// Writes `value` as pretty JSON through [`write_atomic`].
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), TrainError> {
    write_atomic(
        path,
        serde_json::to_string_pretty(value)
            .expect("json")
            .as_bytes(),
    )
}

/// Fixes a run's plan (folds, corpus sets, sweep points) in `path` on the first call and
/// refuses to go on when a later call would make another one: results must not mix plans.
pub fn pin_plan(path: &Path, text: &str, fix: &str) -> Result<(), TrainError> {
    if !path.exists() {
        return write_atomic(path, text.as_bytes());
    }
    if fs::read_to_string(path).map_err(io(path))? != text {
        return Err(TrainError::Data(format!(
            "{}: the data or the settings changed since the run started; {fix}",
            path.display()
        )));
    }
    Ok(())
}

/// The resolved experiment a run folder was started with.
pub fn read_experiment(dir: &Path) -> Result<Experiment, TrainError> {
    let path = dir.join("experiment.toml");
    let text = fs::read_to_string(&path).map_err(|e| {
        TrainError::file(&path, format!("{e} (is {} a run folder?)", dir.display()))
    })?;
    Experiment::from_toml(&text)
}
