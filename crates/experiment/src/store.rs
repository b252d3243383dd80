//! Per-clip arrays (a dataset's frames, on-the-fly training audio) held in RAM while they fit
//! `data.memory_gb`, else read per clip when a batch needs them: frames from the caches
//! themselves ([`ser_cache::RowReader`]: positioned reads through the page cache, which sweep
//! tasks on one node share), cleaned audio from an unnamed spill file in `$TMPDIR` (written
//! once per run, gone when the process ends, even killed).
//!
//! A clip reads the same values from either place, so a bounded run equals an unbounded one
//! bit for bit; only the memory it holds differs.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use ser_cache::RowReader;

use crate::error::TrainError;

/// Where clip `i` lies in a cache: which reader, first row, rows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CacheSpan {
    pub reader: usize,
    pub row: u64,
    pub rows: u32,
}

/// The frame arrays a dataset reads from each cache: per array, its layout index and width.
pub(crate) struct CacheFrames {
    pub reader: Arc<RowReader>,
    pub arrays: Vec<(usize, usize)>,
}

enum Kind {
    Ram(Vec<Vec<f32>>),
    Cache {
        sources: Vec<CacheFrames>,
        spans: Vec<CacheSpan>,
        dim: usize,
    },
    Spill {
        file: Arc<File>,
        /// Per clip: byte offset and number of values.
        spans: Vec<(u64, usize)>,
    },
}

/// One `f32` array per clip, in RAM or read on demand (see the module doc).
pub struct ClipStore(Kind);

impl ClipStore {
    /// Arrays held in RAM.
    pub fn in_ram(clips: Vec<Vec<f32>>) -> Self {
        Self(Kind::Ram(clips))
    }

    /// Frames read from caches: clip `i` is `spans[i]`, its arrays concatenated per frame.
    pub(crate) fn from_caches(sources: Vec<CacheFrames>, spans: Vec<CacheSpan>) -> Self {
        let dim = sources
            .first()
            .map_or(0, |s| s.arrays.iter().map(|a| a.1).sum());
        Self(Kind::Cache {
            sources,
            spans,
            dim,
        })
    }

    /// Clips held.
    pub fn len(&self) -> usize {
        match &self.0 {
            Kind::Ram(v) => v.len(),
            Kind::Cache { spans, .. } => spans.len(),
            Kind::Spill { spans, .. } => spans.len(),
        }
    }

    /// Whether it holds no clip.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the arrays are in RAM.
    pub fn is_in_ram(&self) -> bool {
        matches!(self.0, Kind::Ram(_))
    }

    /// Bytes of all the arrays, wherever they are.
    pub fn bytes(&self) -> u64 {
        (0..self.len()).map(|i| self.values(i) as u64 * 4).sum()
    }

    /// Bytes of the arrays held in RAM.
    pub fn ram_bytes(&self) -> u64 {
        if self.is_in_ram() { self.bytes() } else { 0 }
    }

    /// Values of clip `i`, without reading it.
    pub fn values(&self, i: usize) -> usize {
        match &self.0 {
            Kind::Ram(v) => v[i].len(),
            Kind::Cache { spans, dim, .. } => spans[i].rows as usize * dim,
            Kind::Spill { spans, .. } => spans[i].1,
        }
    }

    /// Clip `i`'s array. A read that fails (a disk error under a running job) panics with
    /// the file named: the loader thread hands the panic to the trainer.
    pub fn get(&self, i: usize) -> Cow<'_, [f32]> {
        match &self.0 {
            Kind::Ram(v) => Cow::Borrowed(&v[i]),
            Kind::Cache {
                sources,
                spans,
                dim,
            } => Cow::Owned(
                read_span(&sources[spans[i].reader], spans[i], *dim)
                    .unwrap_or_else(|e| panic!("reading frames of a training clip: {e}")),
            ),
            Kind::Spill { file, spans } => {
                let (at, n) = spans[i];
                let mut bytes = vec![0u8; n * 4];
                file.read_exact_at(&mut bytes, at)
                    .unwrap_or_else(|e| panic!("reading the spilled audio in $TMPDIR: {e}"));
                Cow::Owned(bytes_to_f32(&bytes))
            }
        }
    }

    /// Keeps clip `i` where `keep[i]`.
    pub fn retain(&mut self, keep: &[bool]) {
        match &mut self.0 {
            Kind::Ram(v) => retain_clips(v, keep),
            Kind::Cache { spans, .. } => retain_clips(spans, keep),
            Kind::Spill { spans, .. } => retain_clips(spans, keep),
        }
    }

    /// Appends `other`'s clips (both in RAM, or both read from caches of one layout).
    pub fn extend(&mut self, other: ClipStore) {
        match (&mut self.0, other.0) {
            (Kind::Ram(a), Kind::Ram(b)) => a.extend(b),
            (
                Kind::Cache { sources, spans, .. },
                Kind::Cache {
                    sources: more,
                    spans: more_spans,
                    ..
                },
            ) => {
                let base = sources.len();
                sources.extend(more);
                spans.extend(more_spans.into_iter().map(|s| CacheSpan {
                    reader: s.reader + base,
                    ..s
                }));
            }
            _ => unreachable!("a dataset's caches are all in RAM or all read on demand"),
        }
    }
}

/// The rows of one clip from one cache, arrays concatenated per frame.
pub(crate) fn read_span(
    src: &CacheFrames,
    span: CacheSpan,
    dim: usize,
) -> Result<Vec<f32>, ser_cache::CacheError> {
    let n = span.rows as usize;
    let mut out = vec![0f32; n * dim];
    if let [(array, _)] = src.arrays.as_slice() {
        src.reader.read(*array, span.row as usize, &mut out)?;
        return Ok(out);
    }
    let mut col = 0;
    for &(array, w) in &src.arrays {
        let mut part = vec![0f32; n * w];
        src.reader.read(array, span.row as usize, &mut part)?;
        for (t, row) in part.chunks_exact(w).enumerate() {
            out[t * dim + col..t * dim + col + w].copy_from_slice(row);
        }
        col += w;
    }
    Ok(out)
}

fn bytes_to_f32(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// A spill file being written, clip after clip.
pub struct Spill {
    out: BufWriter<File>,
    spans: Vec<(u64, usize)>,
    at: u64,
}

impl Spill {
    /// An unnamed file in `$TMPDIR` (removed by the OS when the process ends).
    pub fn new() -> Result<Self, TrainError> {
        let file = tempfile::tempfile().map_err(|e| {
            TrainError::Data(format!(
                "cannot create a spill file in {}: {e}; point TMPDIR at a writable disk or raise data.memory_gb",
                std::env::temp_dir().display()
            ))
        })?;
        Ok(Self {
            out: BufWriter::with_capacity(1 << 20, file),
            spans: Vec::new(),
            at: 0,
        })
    }

    /// Appends one clip.
    pub fn push(&mut self, clip: &[f32]) -> Result<(), TrainError> {
        for v in clip {
            self.out.write_all(&v.to_le_bytes()).map_err(spill_err)?;
        }
        self.spans.push((self.at, clip.len()));
        self.at += clip.len() as u64 * 4;
        Ok(())
    }

    /// The store reading what was pushed.
    pub fn finish(self) -> Result<ClipStore, TrainError> {
        let file = self
            .out
            .into_inner()
            .map_err(|e| spill_err(e.into_error()))?;
        Ok(ClipStore(Kind::Spill {
            file: Arc::new(file),
            spans: self.spans,
        }))
    }
}

fn spill_err(e: std::io::Error) -> TrainError {
    TrainError::Data(format!(
        "writing the spill file in {}: {e}; free space there, point TMPDIR elsewhere, or raise data.memory_gb",
        std::env::temp_dir().display()
    ))
}

/// The default of `data.memory_gb`: a quarter of the memory this process may use, the
/// machine's or its control group's limit (a Slurm task's `--mem`) when lower; 8 GB where
/// neither can be read.
pub fn default_memory_bytes() -> u64 {
    let total = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        let kb = m.lines().find(|l| l.starts_with("MemTotal:"))?;
        Some(kb.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
    });
    match (total, cgroup_limit()) {
        (Some(t), Some(c)) => t.min(c) / 4,
        (Some(t), None) => t / 4,
        (None, Some(c)) => c / 4,
        (None, None) => 8 << 30,
    }
}

/// The memory limit of this process's control group (v2 `memory.max`, v1
/// `memory.limit_in_bytes`), if it has one.
fn cgroup_limit() -> Option<u64> {
    let groups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    groups.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let (_, controllers, path) = (f.next()?, f.next()?, f.next()?);
        let file = match controllers {
            "" => format!("/sys/fs/cgroup{path}/memory.max"),
            c if c.split(',').any(|c| c == "memory") => {
                format!("/sys/fs/cgroup/memory{path}/memory.limit_in_bytes")
            }
            _ => return None,
        };
        // "max" (v2) or a huge number (v1) when unlimited: no bound.
        let v = std::fs::read_to_string(file)
            .ok()?
            .trim()
            .parse::<u64>()
            .ok()?;
        (v < 1 << 60).then_some(v)
    })
}

/// Keeps the elements of a per-clip vector whose `keep` flag is set (one flag per element).
pub(crate) fn retain_clips<T>(v: &mut Vec<T>, keep: &[bool]) {
    let mut k = keep.iter();
    v.retain(|_| *k.next().expect("one per clip"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spilled_store_reads_back_what_was_written() {
        let clips: [Vec<f32>; 3] = [vec![1.0, -2.5, f32::MIN_POSITIVE], vec![], vec![7.0; 1000]];
        let mut spill = Spill::new().unwrap();
        clips.iter().for_each(|c| spill.push(c).unwrap());
        let s = spill.finish().unwrap();
        assert!(!s.is_in_ram());
        for (i, c) in clips.iter().enumerate() {
            assert_eq!(&*s.get(i), c.as_slice());
            assert_eq!(s.values(i), c.len());
        }
    }
}
