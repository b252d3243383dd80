//! Frame rows read on demand, for training on caches larger than memory.
//!
//! An uncompressed cache (the default of `ser extract`) stores each frame array as chunks of
//! [`CHUNK_ROWS`] raw little-endian `f32` rows. [`RowReader`] looks up every chunk's file
//! address once (one pass over its chunk index, `chunk_index`) and then reads a clip's rows with
//! one positioned read (`pread`) per chunk it touches: no HDF5 call, no global lock, any
//! number of threads at once, and the bytes come through the OS page cache, which several
//! processes on one node (sweep tasks) share instead of each holding a copy. A compressed
//! cache (`ser extract --compress`) falls back to HDF5 hyperslab reads, which decompress
//! under HDF5's lock.
//!
//! Why not memory-map the file: touched pages of a mapping count in the process's resident
//! memory until the kernel reclaims them, so an epoch over a large cache would look (and be
//! scheduled) as if it held the whole file; positioned reads keep only the batch.
//!
//! Measured (benches/results/row_reads.md, 2 cores, 1 h cache, shuffled clips, page cache
//! warm): positioned reads 45,000 clips/s on one thread (3.0 GB/s), 62,000 on two; HDF5
//! hyperslabs 30,000 on one and serialized by HDF5's lock; a compressed cache 1,500 (each
//! clip inflates whole 512-row chunks). The shipped CNN-LSTM trains at ~35 clips/s on those
//! cores, so reads cost nothing there, and even a GPU epoch at thousands of clips/s stays
//! far from the direct reads' limit, not from the compressed cache's.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use ndarray::{Array2, s};

use crate::CacheError;
use crate::chunk_index;
use crate::store::{CHUNK_ROWS, Cache};

/// Where one frame array's rows are.
enum Rows {
    /// File address of each chunk, chunk `k` holding rows `k * CHUNK_ROWS ..`.
    Direct { chunks: Vec<u64> },
    /// Read through HDF5 (compressed or otherwise not directly addressable).
    Hdf5(hdf5::Dataset),
}

/// Reads rows of a cache's frame arrays by clip, from any thread (see the module doc).
pub struct RowReader {
    path: PathBuf,
    file: File,
    /// Per frame array (in the cache's layout order): its width and where its rows are.
    arrays: Vec<(usize, Rows)>,
}

impl RowReader {
    /// The reader of `cache`'s frame arrays.
    pub fn new(cache: &Cache) -> Result<Self, CacheError> {
        let path = cache.path().to_path_buf();
        let file = File::open(&path).map_err(|source| CacheError::Io {
            path: path.clone(),
            source,
        })?;
        let file_len = file.metadata().map_or(0, |m| m.len());
        let arrays = cache
            .frame_sets()
            .iter()
            .zip(&cache.header.frame_layout)
            .map(|(ds, (_, dim))| (*dim, locate(ds, &file, *dim, file_len)))
            .collect();
        Ok(Self { path, file, arrays })
    }

    /// Whether every array is read with positioned reads (an uncompressed cache).
    pub fn is_direct(&self) -> bool {
        self.arrays
            .iter()
            .all(|(_, r)| matches!(r, Rows::Direct { .. }))
    }

    /// Rows `start .. start + out.len() / dim` of frame array `array` (layout index) into
    /// `out`.
    pub fn read(&self, array: usize, start: usize, out: &mut [f32]) -> Result<(), CacheError> {
        let (dim, rows) = &self.arrays[array];
        let n = out.len() / dim.max(&1);
        if n == 0 {
            return Ok(());
        }
        match rows {
            Rows::Direct { chunks } => read_rows(&self.file, &self.path, chunks, *dim, start, out),
            Rows::Hdf5(ds) => {
                let arr: Array2<f32> =
                    ds.read_slice_2d(s![start..start + n, ..])
                        .map_err(|e| CacheError::Hdf5 {
                            path: self.path.clone(),
                            message: e.to_string(),
                        })?;
                out.copy_from_slice(arr.as_slice().expect("standard layout"));
                Ok(())
            }
        }
    }
}

/// Rows `start .. start + out.len() / dim` of a raw chunked frame array whose chunk `k`
/// starts at byte `chunks[k]` of `file` (`u64::MAX` or past the end: not written), by one
/// positioned read per chunk.
pub(crate) fn read_rows(
    file: &File,
    path: &Path,
    chunks: &[u64],
    dim: usize,
    start: usize,
    out: &mut [f32],
) -> Result<(), CacheError> {
    let mut bytes = vec![0u8; out.len() * 4];
    let mut row = start;
    let mut done = 0;
    while done < bytes.len() {
        let (k, within) = (row / CHUNK_ROWS, row % CHUNK_ROWS);
        let take = ((CHUNK_ROWS - within) * dim * 4).min(bytes.len() - done);
        let Some(&addr) = chunks.get(k).filter(|&&a| a != u64::MAX) else {
            return Err(CacheError::Format {
                path: path.to_path_buf(),
                message: format!("row {row} lies past the frame array"),
            });
        };
        let at = addr + (within * dim * 4) as u64;
        file.read_exact_at(&mut bytes[done..done + take], at)
            .map_err(|source| CacheError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        done += take;
        row += take / (dim * 4);
    }
    for (v, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
        *v = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    }
    Ok(())
}

/// The chunk addresses of `ds` when its chunks are raw `f32` rows of full width (no filter
/// applied, every chunk allocated inside the file's `file_len` bytes), else HDF5 reads.
fn locate(ds: &hdf5::Dataset, file: &File, dim: usize, file_len: u64) -> Rows {
    let fallback = || Rows::Hdf5(ds.clone());
    let raw = ds.chunk().is_some_and(|c| c == [CHUNK_ROWS, dim.max(1)])
        && ds.filters().is_empty()
        && ds.dtype().is_ok_and(|t| t.is::<f32>())
        && cfg!(target_endian = "little");
    if !raw {
        return fallback();
    }
    let n = ds.shape()[0].div_ceil(CHUNK_ROWS);
    let full = (CHUNK_ROWS * dim.max(1) * 4) as u64;
    let usable = |mask: u32, addr: u64, size: u64| {
        mask == 0 && size == full && addr.saturating_add(full) <= file_len
    };
    let records = chunk_index::chunks_from(ds, file, CHUNK_ROWS, dim, 0)
        .filter(|r| agrees_with_hdf5(ds, r, n));
    let chunks: Option<Vec<u64>> = match records {
        Some(r) => (r.iter().enumerate())
            .map(|(k, c)| (c.index == k && usable(c.mask, c.addr, c.size)).then_some(c.addr))
            .collect(),
        // HDF5's own lookups: one walk of the index per chunk (see `chunk_index`).
        None => (0..n)
            .map(|k| {
                crate::chunks::chunk_info(ds, CHUNK_ROWS, k)
                    .filter(|&(mask, addr, size)| usable(mask, addr, size))
                    .map(|(_, addr, _)| addr)
            })
            .collect(),
    };
    match chunks {
        Some(chunks) => Rows::Direct { chunks },
        None => fallback(),
    }
}

/// Whether `records` lists all `n` chunks and its first and last agree with HDF5's lookup.
fn agrees_with_hdf5(ds: &hdf5::Dataset, records: &[chunk_index::ChunkRecord], n: usize) -> bool {
    records.len() == n
        && [records.first(), records.last()]
            .into_iter()
            .flatten()
            .all(|r| {
                crate::chunks::chunk_info(ds, CHUNK_ROWS, r.index).is_some_and(
                    |(mask, addr, size)| (mask, addr, size) == (r.mask, r.addr, r.size),
                )
            })
}
