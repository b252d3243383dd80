//! Corpus loaders for ser.
//!
//! Each supported corpus is read from its real on-disk layout and file-naming convention;
//! every clip becomes a [`Record`] carrying corpus, speaker, gender, common label, raw code,
//! sentence id and (on request) a content hash of the audio. Files that cannot be read as
//! part of the corpus are never fatal: they are listed in [`CorpusScan::skipped`] with the
//! reason and the fix. Label mapping goes through the files in `datasets/` ([`LabelMap`]).

mod corpora;
mod hash;
mod kind;
mod label;
mod record;

pub use corpora::scan;
pub use hash::{content_hash, hash_file};
pub use kind::{CorpusKind, CorpusSpec, MARKER_FILE, detect_kind};
pub use label::{Emotion, Gender, LabelMap, Mapped};
pub use record::{CorpusScan, Record, Skipped, Summary};

/// Errors that stop a whole corpus from being read (a bad file never does).
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The corpus root does not exist or cannot be listed.
    #[error("cannot read corpus '{name}' at {path}: {message}")]
    Root {
        /// Corpus name.
        name: String,
        /// Root path.
        path: String,
        /// Cause, with the fix.
        message: String,
    },
    /// A label-map file is malformed.
    #[error("label map {file}: {message}")]
    LabelMap {
        /// File (or embedded name).
        file: String,
        /// What is wrong.
        message: String,
    },
    /// A `--corpus` argument or manifest header is malformed.
    #[error("{0}")]
    Spec(String),
}
