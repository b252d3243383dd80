//! Frame chunks written with HDF5's direct chunk write, compressed in parallel or raw.
//!
//! HDF5 runs its filters on one thread under a global lock, which made deflate the slowest
//! step of an extraction (~55 MB/s measured, slower than the features themselves). Here each
//! chunk is shuffled and deflated on the rayon pool exactly as HDF5's own `shuffle` and
//! `deflate` filters would, and handed to `H5Dwrite_chunk`, which stores the bytes as they
//! are. The dataset declares the same filter pipeline, so h5py, h5dump or any HDF5 reader
//! decodes the chunks with the standard filters.
//!
//! Uncompressed chunks take the same route, straight from the writer's buffer: HDF5's own
//! `H5Dwrite` of a hyperslab copies every chunk into its chunk cache and out again, which
//! (with the buffers it made the writer reallocate) was about a fifth of an extraction's CPU
//! time on 2 cores (benches/results/extract_end_to_end.md).

use std::io::Write;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// A frame chunk as written: frame array (layout index), chunk index, file address, CRC-32.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct ChunkWritten {
    pub array: usize,
    pub index: usize,
    pub addr: u64,
    pub crc: u32,
}

/// Deflate level: 1 keeps pace with feature extraction; higher levels gain little on float
/// features (measured: level 4 is 1 % smaller and 2x slower).
pub const DEFLATE_LEVEL: u32 = 1;

/// HDF5 shuffle filter: byte `b` of every element, then byte `b + 1`, ...
fn shuffle(values: &[f32]) -> Vec<u8> {
    let n = values.len();
    let mut out = vec![0u8; n * 4];
    for (i, v) in values.iter().enumerate() {
        let b = v.to_le_bytes();
        out[i] = b[0];
        out[n + i] = b[1];
        out[2 * n + i] = b[2];
        out[3 * n + i] = b[3];
    }
    out
}

/// Shuffled and zlib-deflated bytes of one chunk.
pub fn compress_chunk(values: &[f32]) -> Vec<u8> {
    let raw = shuffle(values);
    let mut enc = flate2::write::ZlibEncoder::new(
        Vec::with_capacity(raw.len() / 2),
        flate2::Compression::new(DEFLATE_LEVEL),
    );
    enc.write_all(&raw).expect("in-memory write");
    enc.finish().expect("in-memory write")
}

/// Writes `chunks` (each a full `[chunk_rows, dim]` block, row-major) to `ds` starting at
/// chunk row index `first_chunk`: shuffled and deflated in parallel when `compress` (the
/// dataset must declare those filters), else as raw native `f32` bytes.
pub fn write_chunks(
    ds: &hdf5::Dataset,
    chunk_rows: usize,
    first_chunk: usize,
    chunks: &[&[f32]],
    compress: bool,
) -> Result<(), String> {
    if !compress {
        let raw: Vec<&[u8]> = chunks.iter().map(|c| bytemuck::cast_slice(c)).collect();
        return put_chunks(ds, chunk_rows, first_chunk, &raw);
    }
    let compressed: Vec<Vec<u8>> = chunks.par_iter().map(|c| compress_chunk(c)).collect();
    let refs: Vec<&[u8]> = compressed.iter().map(Vec::as_slice).collect();
    put_chunks(ds, chunk_rows, first_chunk, &refs)
}

/// Stores each of `chunks` as it is (`H5Dwrite_chunk`, filter mask 0: every declared filter
/// was applied, or none is declared).
fn put_chunks(
    ds: &hdf5::Dataset,
    chunk_rows: usize,
    first_chunk: usize,
    chunks: &[&[u8]],
) -> Result<(), String> {
    hdf5::sync::sync(|| {
        for (k, bytes) in chunks.iter().enumerate() {
            let offset: [hdf5_sys::h5::hsize_t; 2] = [((first_chunk + k) * chunk_rows) as u64, 0];
            // SAFETY: the dataset id is valid while `ds` lives; `offset` has the dataset's
            // rank; `bytes` outlives the call.
            let status = unsafe {
                hdf5_sys::h5d::H5Dwrite_chunk(
                    ds.id(),
                    hdf5_sys::h5p::H5P_DEFAULT,
                    0,
                    offset.as_ptr(),
                    bytes.len(),
                    bytes.as_ptr().cast(),
                )
            };
            if status < 0 {
                return Err(format!(
                    "H5Dwrite_chunk failed at chunk {}",
                    first_chunk + k
                ));
            }
        }
        Ok(())
    })
}

/// Filter mask, file address and stored size of chunk `index` (rows `index * chunk_rows ..`)
/// of `ds`; `None` when it is not allocated.
pub fn chunk_info(ds: &hdf5::Dataset, chunk_rows: usize, index: usize) -> Option<(u32, u64, u64)> {
    let offset: [hdf5_sys::h5::hsize_t; 2] = [(index * chunk_rows) as u64, 0];
    let (mut mask, mut addr, mut size) = (0u32, 0u64, 0u64);
    // SAFETY: the dataset id is valid while `ds` lives; `offset` has the dataset's rank; the
    // out-pointers point at locals.
    let status = hdf5::sync::sync(|| unsafe {
        hdf5_sys::h5d::H5Dget_chunk_info_by_coord(
            ds.id(),
            offset.as_ptr(),
            &mut mask,
            &mut addr,
            &mut size,
        )
    });
    (status >= 0 && addr != hdf5_sys::h5::HADDR_UNDEF).then_some((mask, addr, size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffle_groups_bytes_by_significance() {
        let s = shuffle(&[
            f32::from_le_bytes([1, 2, 3, 4]),
            f32::from_le_bytes([5, 6, 7, 8]),
        ]);
        assert_eq!(s, [1, 5, 2, 6, 3, 7, 4, 8]);
    }
}
