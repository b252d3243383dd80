//! Content hashes of audio files: BLAKE3 of the bytes, 128 bits in hex. Two records with the
//! same hash hold the same file, whatever their names (the leakage audit relies on this).

use std::path::Path;

/// Hash of bytes already in memory.
pub fn content_hash(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex()[..32].to_string()
}

/// Hash of a file on disk.
pub fn hash_file(path: &Path) -> std::io::Result<String> {
    let mut hasher = blake3::Hasher::new();
    hasher.update_reader(std::fs::File::open(path)?)?;
    Ok(hasher.finalize().to_hex()[..32].to_string())
}
