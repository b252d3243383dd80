//! The one error type of training, studies and scoring: what went wrong, in words that say
//! which file or key and what to do. Variants carry the file or the key and its value as
//! fields, so callers (and tests) can match on them instead of parsing the message.

use std::fmt::Display;
use std::path::{Path, PathBuf};

/// Why a run could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The experiment file.
    #[error("experiment: {0}")]
    Config(String),
    /// A key of the experiment file holds a value it cannot take.
    #[error("experiment: {key} = {value}: {fix}")]
    Key {
        /// Dotted key, e.g. `train.lr`.
        key: String,
        /// The value as written.
        value: String,
        /// What the value must be.
        fix: String,
    },
    /// The feature cache or the split.
    #[error("data: {0}")]
    Data(String),
    /// Reading or writing a file of the run folder (or one it names).
    #[error("run folder: {}: {reason}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong with it.
        reason: String,
    },
    /// Writing the run's logs (TensorBoard, CSV) failed where no single file is to blame.
    #[error("run folder: {0}")]
    Io(String),
    /// A baseline could not be fitted.
    #[error("model: {0}")]
    Model(String),
    /// The loss became NaN or infinite; the run folder keeps the last good epoch.
    #[error("training stopped: {0}")]
    NonFinite(String),
    /// Another process holds the run folder (or sweep point); nothing was changed.
    #[error("busy: {0}")]
    Busy(String),
    /// Stopped on request after this many finished epochs (resumable).
    #[error("stopped after epoch {0} as asked; resume to continue")]
    Interrupted(usize),
}

impl TrainError {
    /// A [`TrainError::File`] for `path`.
    pub fn file(path: impl AsRef<Path>, reason: impl Display) -> Self {
        Self::File {
            path: path.as_ref().to_path_buf(),
            reason: reason.to_string(),
        }
    }

    /// A [`TrainError::Key`]: `key` holds `value`, which must be as `fix` says.
    pub fn key(key: &str, value: impl Display, fix: &str) -> Self {
        Self::Key {
            key: key.to_string(),
            value: value.to_string(),
            fix: fix.to_string(),
        }
    }
}
