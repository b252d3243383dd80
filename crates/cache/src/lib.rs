//! ser's HDF5 feature cache.
//!
//! One file holds the frame-level features of every clip (concatenated along time, with
//! per-clip offsets), the per-utterance functionals, a metadata table (path, corpus, speaker,
//! gender, label, text, content hash, durations) and the full feature config with its hash.
//! The layout is plain HDF5 that h5py reads in a few lines (see `store` and the README).
//! [`extract`] builds or updates a cache crash-safely and resumably.

mod chunk_index;
mod chunks;
mod extract;
mod journal;
mod rows;
mod store;

pub use extract::{ExtractJob, ExtractReport, NoProgress, Progress, beside, extract, header_for};
pub use rows::RowReader;
pub use store::{Cache, CacheHeader, ClipMeta, FORMAT, FORMAT_VERSION, SkipRecord, Writer};

use std::path::PathBuf;

/// Failures that stop an extraction or a read (single bad clips never do).
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The HDF5 library reported an error.
    #[error("HDF5 error on {path}: {message}")]
    Hdf5 {
        /// File.
        path: PathBuf,
        /// Library message.
        message: String,
    },
    /// The file is not a (finished) ser cache of a version this build reads.
    #[error("{path} is not a usable ser cache: {message}")]
    Format {
        /// File.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The cache (or an interrupted run's shards) was made with another feature config.
    #[error(
        "{path} was built with feature config {found}, but this run's config is {wanted}; \
         ser does not mix features from different configs. Write to another --out file, \
         or pass --overwrite to replace it"
    )]
    ConfigMismatch {
        /// Cache file or parts folder.
        path: PathBuf,
        /// Hash found there.
        found: String,
        /// Hash of this run.
        wanted: String,
    },
    /// The disk filled up while an extraction wrote its run file.
    #[error(
        "no space left on the disk of {path}: an extraction needs free space for the cache it \
         writes (in <out>.parts, kept so that a rerun resumes), besides the cache it updates \
         and, with --compress, its compressed copy; free space, or split the corpora over \
         several caches (`[data] cache = [...]`, one extraction each)"
    )]
    DiskFull {
        /// The cache being written.
        path: PathBuf,
    },
    /// File-system error.
    #[error("cannot write {path}: {source}")]
    Io {
        /// File or folder.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}
