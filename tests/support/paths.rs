//! Shared by test files through `#[path]`: where the crate under test lives.

use std::path::PathBuf;

/// The crate's folder, read when the test runs (cargo sets it), not when it was compiled: a
/// test binary reused from a shared target dir may come from a checkout at another path.
pub fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}
