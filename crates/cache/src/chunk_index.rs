//! The file address of every chunk of a frame array, read in one pass over its chunk index.
//!
//! Why by hand: the HDF5 that Debian 12 ships (1.10.8) lists chunk addresses only through
//! `H5Dget_chunk_info` / `H5Dget_chunk_info_by_coord`, and each call walks the dataset's
//! chunk index from its first entry, so n addresses cost O(n²): 1.7 s of the 18 s a 10 h
//! extraction took (`Cache::verify`), another second for the run journal, and ~25 times
//! that for a single 50 h cache. `H5Dchunk_iter`, which does it in one pass, arrived in
//! HDF5 1.14. So this module reads the index straight from the file, as the HDF5 file format
//! specification lays it out for the format every HDF5 writes by default (the "earliest"
//! library bound): the dataset's version 1 object header, its version 3 layout message, and
//! the version 1 B-tree (node type 1) of raw data chunks. Anything else (another header or
//! layout version, other address sizes, a node that does not parse) gives `None`, and
//! callers fall back to the HDF5 calls; callers also check a few addresses against them.
//!
//! The file must be flushed (`H5Fflush`) for the bytes on disk to hold the index.

use std::fs::File;
use std::os::unix::fs::FileExt;

/// One chunk as the index records it: chunk index along the rows, file address, stored
/// size in bytes, filter mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChunkRecord {
    pub index: usize,
    pub addr: u64,
    pub size: u64,
    pub mask: u32,
}

/// Object header message types (HDF5 file format specification, section IV.A.2).
const MSG_LAYOUT: u16 = 0x0008;
const MSG_CONTINUATION: u16 = 0x0010;
/// Bound on B-tree nodes visited and header blocks followed: a corrupt index cannot loop.
const MAX_NODES: usize = 1 << 24;
const MAX_HEADER_BLOCKS: usize = 64;

/// The chunks of `ds` (rows of `chunk_rows`, every chunk the full width `dim` of 4-byte
/// elements) whose index is at least `from`, in order, read from `file` (the same file,
/// flushed); `None` when its index is not one this module reads.
pub(crate) fn chunks_from(
    ds: &hdf5::Dataset,
    file: &File,
    chunk_rows: usize,
    dim: usize,
    from: usize,
) -> Option<Vec<ChunkRecord>> {
    use hdf5::plist::file_create::Sizeof;
    let fcpl = ds.file().ok()?.fcpl().ok()?;
    let sizes = fcpl.sizes();
    // Addresses are relative to the superblock, which a user block would move.
    if sizes.sizeof_addr != Sizeof::Bytes8
        || sizes.sizeof_size != Sizeof::Bytes8
        || fcpl.userblock() != 0
    {
        return None;
    }
    let header = object_header_addr(ds)?;
    let root = layout_btree(file, header, [chunk_rows, dim.max(1), 4])?;
    let mut walk = Walk {
        file,
        chunk_rows: chunk_rows as u64,
        from: (from * chunk_rows) as u64,
        out: Vec::new(),
        visited: 0,
    };
    if root != UNDEF {
        walk.node(root, None)?;
    }
    Some(walk.out)
}

/// HDF5's undefined address (all bits set).
const UNDEF: u64 = u64::MAX;

/// File address of the dataset's object header.
fn object_header_addr(ds: &hdf5::Dataset) -> Option<u64> {
    let mut info = hdf5_sys::h5o::H5O_info1_t::default();
    // SAFETY: the dataset id is valid while `ds` lives; `info` is a plain out-struct.
    // H5Oget_info1 exists (deprecated, with the same struct) in every HDF5 this builds with.
    #[allow(deprecated)]
    let status = hdf5::sync::sync(|| unsafe { hdf5_sys::h5o::H5Oget_info1(ds.id(), &mut info) });
    (status >= 0 && info.addr != UNDEF).then_some(info.addr)
}

fn read(file: &File, addr: u64, len: usize) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; len];
    file.read_exact_at(&mut buf, addr).ok()?;
    Some(buf)
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// The B-tree address of a version 1 object header's version 3 chunked layout message whose
/// chunk dimensions are `dims` (rows, width, element size).
fn layout_btree(file: &File, header: u64, dims: [usize; 3]) -> Option<u64> {
    // Prefix: version 1, reserved, message count (2), reference count (4), size of the
    // first block's messages (4), padded to 16 bytes.
    let prefix = read(file, header, 16)?;
    if prefix[0] != 1 {
        return None;
    }
    let mut left = u16_at(&prefix, 2)? as usize;
    let mut blocks = vec![(header + 16, u32_at(&prefix, 8)? as u64)];
    let mut followed = 0;
    while let Some((addr, len)) = blocks.pop() {
        followed += 1;
        if followed > MAX_HEADER_BLOCKS || len > 1 << 20 {
            return None;
        }
        let block = read(file, addr, len as usize)?;
        let mut at = 0;
        // Each message: type (2), data size (2), flags (1), reserved (3), data.
        while at + 8 <= block.len() && left > 0 {
            let (kind, size) = (u16_at(&block, at)?, u16_at(&block, at + 2)? as usize);
            let data = block.get(at + 8..at + 8 + size)?;
            match kind {
                MSG_LAYOUT => return chunked_layout(data, dims),
                MSG_CONTINUATION => blocks.push((u64_at(data, 0)?, u64_at(data, 8)?)),
                _ => {}
            }
            left -= 1;
            at += 8 + size;
        }
    }
    None
}

/// Layout message version 3, class chunked: dimensionality (1), B-tree address (8), then
/// one 4-byte size per dimension (the last is the element size).
fn chunked_layout(data: &[u8], dims: [usize; 3]) -> Option<u64> {
    if data.first() != Some(&3) || data.get(1) != Some(&2) || data.get(2) != Some(&3) {
        return None;
    }
    let addr = u64_at(data, 3)?;
    let ok = (0..3).all(|k| u32_at(data, 11 + 4 * k) == Some(dims[k] as u32));
    ok.then_some(addr)
}

/// A walk over a chunk B-tree, collecting the chunks at or after row `from`.
struct Walk<'a> {
    file: &'a File,
    chunk_rows: u64,
    from: u64,
    out: Vec<ChunkRecord>,
    visited: usize,
}

/// Bytes of a chunk key for a rank-2 dataset: chunk size (4), filter mask (4), three 8-byte
/// offsets (rows, columns, element).
const KEY: usize = 8 + 3 * 8;
/// Bytes before the first key: "TREE", type, level, entries (2), left and right siblings.
const NODE_HEAD: usize = 8 + 2 * 8;

impl Walk<'_> {
    /// Visits the node at `addr` (whose level must be `level` when given).
    fn node(&mut self, addr: u64, level: Option<u8>) -> Option<()> {
        self.visited += 1;
        if self.visited > MAX_NODES {
            return None;
        }
        let head = read(self.file, addr, NODE_HEAD)?;
        if &head[..4] != b"TREE" || head[4] != 1 || level.is_some_and(|l| l != head[5]) {
            return None;
        }
        let (node_level, entries) = (head[5], u16_at(&head, 6)? as usize);
        let body = read(
            self.file,
            addr + NODE_HEAD as u64,
            entries * (KEY + 8) + KEY,
        )?;
        let key_at = |i: usize| i * (KEY + 8);
        let row_of = |i: usize| u64_at(&body, key_at(i) + 8);
        for i in 0..entries {
            let child = u64_at(&body, key_at(i) + KEY)?;
            if node_level > 0 {
                // Child i holds the chunks from key i up to (not including) key i + 1:
                // skip it when it ends at or before `from`. The last child is always read
                // (its right key bounds the tree, not a chunk).
                if i + 1 == entries || row_of(i + 1)? > self.from {
                    self.node(child, Some(node_level - 1))?;
                }
                continue;
            }
            let k = key_at(i);
            let row = row_of(i)?;
            if u64_at(&body, k + 16)? != 0 || u64_at(&body, k + 24)? != 0 {
                return None;
            }
            if row >= self.from {
                if row % self.chunk_rows != 0 {
                    return None;
                }
                self.out.push(ChunkRecord {
                    index: (row / self.chunk_rows) as usize,
                    addr: child,
                    size: u32_at(&body, k)? as u64,
                    mask: u32_at(&body, k + 4)?,
                });
            }
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdf5::Extent;
    use hdf5::SimpleExtents;

    /// A file with one `[rows, dim]` frame array of `chunks` chunks of 8 rows, written
    /// out of order (so the B-tree splits and rebalances), raw or deflated.
    fn array(dir: &std::path::Path, chunks: usize, compress: bool) -> (hdf5::File, hdf5::Dataset) {
        let (rows, dim) = (8, 3);
        let file = hdf5::File::create(dir.join(format!("a-{compress}.h5"))).unwrap();
        let shape = SimpleExtents::new([Extent::resizable(0), Extent::fixed(dim)]);
        let b = file.new_dataset::<f32>().chunk((rows, dim)).shape(shape);
        let ds = match compress {
            true => b.shuffle().deflate(1).create("a"),
            false => b.create("a"),
        }
        .unwrap();
        ds.resize((chunks * rows, dim)).unwrap();
        let mut order: Vec<usize> = (0..chunks).collect();
        order.sort_by_key(|k| (k * 7919) % chunks);
        for k in order {
            let values: Vec<f32> = (0..rows * dim).map(|i| (k * 100 + i) as f32).collect();
            crate::chunks::write_chunks(&ds, rows, k, &[&values], compress).unwrap();
        }
        file.flush().unwrap();
        (file, ds)
    }

    fn hdf5_records(ds: &hdf5::Dataset, from: usize, n: usize) -> Vec<ChunkRecord> {
        (from..n)
            .map(|index| {
                let (mask, addr, size) = crate::chunks::chunk_info(ds, 8, index).unwrap();
                ChunkRecord {
                    index,
                    addr,
                    size,
                    mask,
                }
            })
            .collect()
    }

    #[test]
    fn the_index_read_from_the_file_equals_hdf5s_lookups() {
        let dir = tempfile::tempdir().unwrap();
        // 3000 chunks: a B-tree three levels deep (HDF5 splits nodes at 64 entries).
        let n = 3000;
        for compress in [false, true] {
            let (file, ds) = array(dir.path(), n, compress);
            let raw = File::open(file.filename()).unwrap();
            let all = hdf5_records(&ds, 0, n);
            for from in [0, 1, 63, 64, 65, 1500, n - 1, n] {
                let read = chunks_from(&ds, &raw, 8, 3, from).expect("a v1 B-tree");
                assert_eq!(read, all[from..], "from {from}, compress {compress}");
            }
        }
    }

    #[test]
    fn an_empty_array_has_no_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let (file, ds) = array(dir.path(), 0, false);
        let raw = File::open(file.filename()).unwrap();
        assert_eq!(chunks_from(&ds, &raw, 8, 3, 0), Some(Vec::new()));
    }

    #[test]
    fn another_chunk_shape_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let (file, ds) = array(dir.path(), 5, false);
        let raw = File::open(file.filename()).unwrap();
        assert_eq!(chunks_from(&ds, &raw, 16, 3, 0), None);
        assert_eq!(chunks_from(&ds, &raw, 8, 4, 0), None);
    }
}
