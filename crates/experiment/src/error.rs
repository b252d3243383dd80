//! The one error type of training, studies and scoring: what went wrong, in words that say
//! which file or key and what to do.

/// Why a run could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The experiment file.
    #[error("experiment: {0}")]
    Config(String),
    /// The feature cache or the split.
    #[error("data: {0}")]
    Data(String),
    /// Reading or writing the run folder.
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
