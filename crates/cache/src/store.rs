//! The on-disk format, and a streaming writer and a reader for it.
//!
//! ```text
//! /                        attrs: format = "ser-feature-cache", format_version = 1,
//!                                 ser_version, feature_config (TOML), feature_config_hash,
//!                                 frame_features (comma-separated), n_clips
//! /clips/<column>          one value per clip, sorted by (corpus, path):
//!                          path corpus speaker gender label raw_label text_id text
//!                          attrs (JSON) content_hash                       (UTF-8 strings)
//!                          file_size file_mtime_ns source_rate source_channels
//!                          source_duration_s duration_s n_frames frame_offset (numbers)
//! /frames/<name>           float32 [total_frames, dim]; clip i is rows
//!                          frame_offset[i] .. frame_offset[i] + n_frames[i]
//! /functionals             float32 [n_clips, n_functionals] (when computed)
//! /functional_names        UTF-8 strings [n_functionals]
//! /skipped/<column>        path corpus kind reason: files not in /clips, and why
//! ```

use std::path::{Path, PathBuf};
use std::str::FromStr;

use hdf5::types::VarLenUnicode;
use hdf5::{Extent, SimpleExtents};
use ndarray::{Array2, s};
use serde::{Deserialize, Serialize};

use crate::CacheError;
use crate::chunk_index;
use crate::chunks::{ChunkWritten, chunk_info, write_chunks};

/// Value of the root `format` attribute.
pub const FORMAT: &str = "ser-feature-cache";
/// Value of the root `format_version` attribute.
pub const FORMAT_VERSION: u32 = 1;
/// Rows per HDF5 chunk of a frame dataset.
pub(crate) const CHUNK_ROWS: usize = 512;
/// Rows a [`Writer`] buffers before it writes them out.
const FLUSH_ROWS: usize = 32 * CHUNK_ROWS;

/// What a cache holds, shared by all its clips.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheHeader {
    /// Resolved feature config as TOML.
    pub config_toml: String,
    /// Hash of the config (refuses mixing).
    pub config_hash: String,
    /// Frame-level arrays: (name, width).
    pub frame_layout: Vec<(String, usize)>,
    /// Names of the functionals (empty when not computed).
    pub functional_names: Vec<String>,
    /// Where the features were computed, one entry per device that contributed (a resumed
    /// or updated cache may mix them), e.g. `cpu (2 threads)`, `wgpu (NVIDIA H100 ...)`.
    /// Provenance only: caches of one config match within the tested tolerance on every
    /// device, so this never decides whether clips are reused. Empty for older caches.
    pub computed_on: Vec<String>,
}

/// Separator of `computed_on` entries in the HDF5 attribute.
const DEVICE_SEPARATOR: &str = "; ";

/// `f64`s as their bits in serialized metadata (the extraction journal): exact, where JSON's
/// decimal form is parsed back best-effort.
mod f64_bits {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(v.to_bits())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        u64::deserialize(d).map(f64::from_bits)
    }
}

/// Everything known about one cached clip.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ClipMeta {
    /// Audio file.
    pub path: String,
    /// Corpus name.
    pub corpus: String,
    /// Speaker id.
    pub speaker: String,
    /// `male`, `female` or `unknown`.
    pub gender: String,
    /// Common label.
    pub label: String,
    /// Corpus code of the label.
    pub raw_label: String,
    /// Sentence id.
    pub text_id: String,
    /// Sentence text.
    pub text: String,
    /// Corpus-specific attributes as a JSON object.
    pub attrs: String,
    /// BLAKE3 of the file's bytes.
    pub content_hash: String,
    /// File size in bytes when extracted (change detection).
    pub file_size: u64,
    /// File modification time in ns since the epoch when extracted (change detection).
    pub file_mtime_ns: i64,
    /// Sample rate of the file.
    pub source_rate: u32,
    /// Channels of the file.
    pub source_channels: u32,
    /// Duration of the file in seconds.
    #[serde(with = "f64_bits")]
    pub source_duration_s: f64,
    /// Duration after cleaning (trimming) in seconds.
    #[serde(with = "f64_bits")]
    pub duration_s: f64,
    /// Frames stored for the clip.
    pub n_frames: u64,
    /// First row of the clip in every `/frames/<name>` dataset.
    pub frame_offset: u64,
}

/// A file that is not in the cache, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkipRecord {
    /// The file.
    pub path: String,
    /// Corpus name.
    pub corpus: String,
    /// Category (`truncated`, `not_audio`, `bad_name`, `excluded_label`, ...).
    pub kind: String,
    /// Explanation with the fix.
    pub reason: String,
}

impl SkipRecord {
    /// True for clips the label map leaves out on purpose.
    pub fn is_exclusion(&self) -> bool {
        self.kind == "excluded_label"
    }
}

/// A string column: its dataset name and how to read it from a row.
type Column<T> = (&'static str, fn(&T) -> &str);

fn h5err(path: &Path) -> impl Fn(hdf5::Error) -> CacheError + '_ {
    move |e| CacheError::Hdf5 {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

fn vlu(s: &str) -> VarLenUnicode {
    // Interior NUL bytes cannot be stored in HDF5 strings; they never occur in paths or labels.
    VarLenUnicode::from_str(&s.replace('\0', "")).expect("NUL-free string")
}

fn write_strings(g: &hdf5::Group, name: &str, values: &[&str]) -> hdf5::Result<()> {
    let data: Vec<VarLenUnicode> = values.iter().map(|s| vlu(s)).collect();
    g.new_dataset_builder().with_data(&data).create(name)?;
    Ok(())
}

fn write_numbers<T: hdf5::H5Type>(g: &hdf5::Group, name: &str, values: &[T]) -> hdf5::Result<()> {
    g.new_dataset_builder().with_data(values).create(name)?;
    Ok(())
}

fn set_attr_str(loc: &hdf5::Location, name: &str, value: &str) -> hdf5::Result<()> {
    loc.new_attr::<VarLenUnicode>()
        .shape(())
        .create(name)?
        .write_scalar(&vlu(value))
}

fn read_attr_str(loc: &hdf5::Location, name: &str) -> hdf5::Result<String> {
    Ok(loc
        .attr(name)?
        .read_scalar::<VarLenUnicode>()?
        .as_str()
        .to_string())
}

fn read_strings(g: &hdf5::Group, name: &str) -> hdf5::Result<Vec<String>> {
    Ok(g.dataset(name)?
        .read_raw::<VarLenUnicode>()?
        .into_iter()
        .map(|s| s.as_str().to_string())
        .collect())
}

/// Streams clips into a new cache file: frames are appended as they come, metadata is
/// written at [`Writer::finish`]. The file is only complete (and only has the root
/// `format` attribute) after `finish`.
pub struct Writer {
    path: PathBuf,
    file: hdf5::File,
    header: CacheHeader,
    frames: Vec<hdf5::Dataset>,
    buffers: Vec<Vec<f32>>,
    buffered_rows: usize,
    written_rows: usize,
    compress: bool,
    functionals: Vec<f32>,
    metas: Vec<ClipMeta>,
    track: bool,
    written: Vec<ChunkWritten>,
    /// The file opened for plain reads of its chunk index and for early writeback.
    raw: std::fs::File,
    /// Bytes of frames written since writeback was last started.
    unsynced: usize,
}

/// Frame bytes after which the writer asks the kernel to start writing them to disk.
const WRITEBACK_BYTES: usize = 64 << 20;

/// Address of a tracked chunk until [`Writer::checkpoint`] looks it up.
const UNRESOLVED: u64 = u64::MAX;

impl Writer {
    /// Creates `path` (replacing it) for clips with `total_frames` frames in all. `compress`
    /// turns on deflate + shuffle (`ser extract --compress`; shards stay uncompressed).
    pub fn create(
        path: &Path,
        header: &CacheHeader,
        total_frames: usize,
        compress: bool,
    ) -> Result<Self, CacheError> {
        let e = h5err(path);
        let file = hdf5::File::create(path).map_err(&e)?;
        let raw = std::fs::File::open(path).map_err(|source| CacheError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let g = file.create_group("frames").map_err(&e)?;
        let mut frames = Vec::new();
        for (name, dim) in &header.frame_layout {
            let shape = SimpleExtents::new([Extent::resizable(total_frames), Extent::fixed(*dim)]);
            let b = g
                .new_dataset::<f32>()
                .chunk((CHUNK_ROWS, (*dim).max(1)))
                .shape(shape);
            let ds = if compress {
                b.shuffle()
                    .deflate(crate::chunks::DEFLATE_LEVEL as u8)
                    .create(name.as_str())
            } else {
                b.create(name.as_str())
            };
            frames.push(ds.map_err(&e)?);
        }
        Ok(Writer {
            path: path.to_path_buf(),
            file,
            header: header.clone(),
            // Room for a flush's worth of rows and the clip that crosses the threshold.
            buffers: (header.frame_layout.iter())
                .map(|(_, dim)| Vec::with_capacity((FLUSH_ROWS + CHUNK_ROWS) * dim))
                .collect(),
            frames,
            buffered_rows: 0,
            written_rows: 0,
            compress,
            functionals: Vec::new(),
            metas: Vec::new(),
            track: false,
            written: Vec::new(),
            raw,
            unsynced: 0,
        })
    }

    /// Appends one clip. `frames[k]` is the clip's `[n_frames, dim_k]` array for the k-th
    /// entry of the frame layout; `meta.frame_offset` and `meta.n_frames` are set here.
    pub fn push(
        &mut self,
        mut meta: ClipMeta,
        n_frames: usize,
        frames: &[Vec<f32>],
        functionals: &[f32],
    ) -> Result<(), CacheError> {
        if frames.len() != self.header.frame_layout.len()
            || functionals.len() != self.header.functional_names.len()
        {
            return Err(CacheError::Format {
                path: self.path.clone(),
                message: format!("clip {} does not match the cache layout", meta.path),
            });
        }
        for ((buf, data), (_, dim)) in self
            .buffers
            .iter_mut()
            .zip(frames)
            .zip(&self.header.frame_layout)
        {
            debug_assert_eq!(data.len(), n_frames * dim);
            buf.extend_from_slice(data);
        }
        meta.frame_offset = (self.written_rows + self.buffered_rows) as u64;
        meta.n_frames = n_frames as u64;
        self.buffered_rows += n_frames;
        self.functionals.extend_from_slice(functionals);
        self.metas.push(meta);
        if self.buffered_rows >= FLUSH_ROWS {
            self.flush_frames(false)?;
        }
        Ok(())
    }

    /// Writes buffered rows as whole chunks; with `last`, the final partial chunk too,
    /// padded with zeros (HDF5 stores full chunks anyway). Buffers keep their capacity.
    fn flush_frames(&mut self, last: bool) -> Result<(), CacheError> {
        let whole = self.buffered_rows / CHUNK_ROWS;
        if whole > 0 {
            self.put(whole, true)?;
        }
        if last && self.buffered_rows > 0 {
            self.put(1, true)?;
        }
        Ok(())
    }

    /// Puts every pushed row on disk: whole chunks as usual, and the partial last chunk
    /// padded while its rows stay buffered (that chunk is written again, in place, as it
    /// fills). Returns the chunks written since the last call ([`Writer::track_chunks`]).
    pub(crate) fn checkpoint(&mut self) -> Result<Vec<ChunkWritten>, CacheError> {
        self.flush_frames(false)?;
        if self.buffered_rows > 0 {
            self.put(1, false)?;
        }
        self.resolve_addresses()?;
        Ok(std::mem::take(&mut self.written))
    }

    /// Starts writeback of the frames written so far once [`WRITEBACK_BYTES`] have piled
    /// up, without waiting for it: the disk writes while features are computed, instead of
    /// all at once in the `fsync` that [`Writer::finish`] ends with (measured: 1.2 s of
    /// an 18 s, 4.4 GB extraction on 2 cores). A hint only: errors are left to that fsync.
    fn start_writeback(&mut self, bytes: usize) {
        self.unsynced += bytes;
        if self.unsynced < WRITEBACK_BYTES {
            return;
        }
        self.unsynced = 0;
        #[cfg(target_os = "linux")]
        {
            let fd = std::os::fd::AsRawFd::as_raw_fd(&self.raw);
            // SAFETY: `fd` is an open descriptor owned by `self.raw`; offset 0 and length 0
            // mean the whole file; the call only queues writeback.
            unsafe { libc::sync_file_range(fd, 0, 0, libc::SYNC_FILE_RANGE_WRITE) };
        }
    }

    /// Fills in the file address of each chunk written since the last checkpoint: the file
    /// is flushed and each array's chunk index read from its first new chunk on
    /// ([`chunk_index`], O(new chunks)); HDF5 is asked chunk by chunk (O(all chunks) each)
    /// only where the index cannot be read. A wrong address would fail the chunk's CRC when
    /// the journal is salvaged, so the clips would be extracted again, not read wrong.
    fn resolve_addresses(&mut self) -> Result<(), CacheError> {
        if self.written.is_empty() {
            return Ok(());
        }
        self.file.flush().map_err(h5err(&self.path))?;
        let raw = &self.raw;
        let layout = self.header.frame_layout.iter();
        for (array, (ds, (name, dim))) in self.frames.iter().zip(layout).enumerate() {
            let mine = self.written.iter().filter(|c| c.array == array);
            let Some(from) = mine.map(|c| c.index).min() else {
                continue;
            };
            let read =
                chunk_index::chunks_from(ds, raw, CHUNK_ROWS, *dim, from).unwrap_or_default();
            for c in self.written.iter_mut().filter(|c| c.array == array) {
                let found = read.get(c.index - from).filter(|r| r.index == c.index);
                c.addr = match found {
                    Some(r) => r.addr,
                    None => {
                        chunk_info(ds, CHUNK_ROWS, c.index)
                            .ok_or_else(|| CacheError::Hdf5 {
                                path: self.path.clone(),
                                message: format!(
                                    "chunk {} of frames/{name} has no address",
                                    c.index
                                ),
                            })?
                            .1
                    }
                };
            }
        }
        Ok(())
    }

    /// Records the address and CRC-32 of every chunk written from now on (the run journal).
    pub(crate) fn track_chunks(&mut self) {
        self.track = true;
    }

    /// Rows pushed so far: the next clip's `frame_offset`.
    pub(crate) fn rows(&self) -> usize {
        self.written_rows + self.buffered_rows
    }

    /// Writes the first `n_chunks` chunks of the buffers (zeros past the buffered rows);
    /// `drain` drops their rows from the buffers and counts them written.
    fn put(&mut self, n_chunks: usize, drain: bool) -> Result<(), CacheError> {
        debug_assert_eq!(self.written_rows % CHUNK_ROWS, 0);
        let first = self.written_rows / CHUNK_ROWS;
        let rows = (n_chunks * CHUNK_ROWS).min(self.buffered_rows);
        let e = h5err(&self.path);
        let layout = self.header.frame_layout.iter();
        for (array, ((ds, buf), (_, dim))) in
            (self.frames.iter().zip(&mut self.buffers).zip(layout)).enumerate()
        {
            if ds.shape()[0] < self.written_rows + rows {
                ds.resize((self.written_rows + rows, *dim)).map_err(&e)?;
            }
            let span = n_chunks * CHUNK_ROWS * dim;
            let held = buf.len();
            if held < span {
                buf.resize(span, 0.0);
            }
            let chunks: Vec<&[f32]> = buf[..span].chunks(CHUNK_ROWS * dim).collect();
            write_chunks(ds, CHUNK_ROWS, first, &chunks, self.compress).map_err(|m| {
                CacheError::Hdf5 {
                    path: self.path.clone(),
                    message: m,
                }
            })?;
            if self.track {
                for (j, c) in chunks.iter().enumerate() {
                    (self.written).push(ChunkWritten {
                        array,
                        index: first + j,
                        addr: UNRESOLVED,
                        crc: crc32fast::hash(bytemuck::cast_slice(c)),
                    });
                }
            }
            match drain {
                true => drop(buf.drain(..span)),
                false => buf.truncate(held),
            }
        }
        if drain {
            self.written_rows += rows;
            self.buffered_rows -= rows;
        }
        let width: usize = self.header.frame_layout.iter().map(|(_, d)| d).sum();
        drop(e); // borrows the path
        self.start_writeback(n_chunks * CHUNK_ROWS * width * 4);
        Ok(())
    }

    /// Writes metadata, functionals and the skip list, flushes and closes the file.
    pub fn finish(mut self, skipped: &[SkipRecord]) -> Result<(), CacheError> {
        self.flush_frames(true)?;
        let path = self.path.clone();
        let e = h5err(&path);
        for (ds, (_, dim)) in self.frames.iter().zip(&self.header.frame_layout) {
            if ds.shape()[0] != self.written_rows {
                ds.resize((self.written_rows, *dim)).map_err(&e)?;
            }
        }
        let m = &self.metas;
        let g = self.file.create_group("clips").map_err(&e)?;
        let strs = |f: fn(&ClipMeta) -> &str| m.iter().map(f).collect::<Vec<&str>>();
        let columns: [Column<ClipMeta>; 10] = [
            ("path", |c| &c.path),
            ("corpus", |c| &c.corpus),
            ("speaker", |c| &c.speaker),
            ("gender", |c| &c.gender),
            ("label", |c| &c.label),
            ("raw_label", |c| &c.raw_label),
            ("text_id", |c| &c.text_id),
            ("text", |c| &c.text),
            ("attrs", |c| &c.attrs),
            ("content_hash", |c| &c.content_hash),
        ];
        for (name, f) in columns {
            write_strings(&g, name, &strs(f)).map_err(&e)?;
        }
        write_numbers(
            &g,
            "file_size",
            &m.iter().map(|c| c.file_size).collect::<Vec<_>>(),
        )
        .map_err(&e)?;
        write_numbers(
            &g,
            "file_mtime_ns",
            &m.iter().map(|c| c.file_mtime_ns).collect::<Vec<_>>(),
        )
        .map_err(&e)?;
        write_numbers(
            &g,
            "source_rate",
            &m.iter().map(|c| c.source_rate).collect::<Vec<_>>(),
        )
        .map_err(&e)?;
        write_numbers(
            &g,
            "source_channels",
            &m.iter().map(|c| c.source_channels).collect::<Vec<_>>(),
        )
        .map_err(&e)?;
        write_numbers(
            &g,
            "source_duration_s",
            &m.iter().map(|c| c.source_duration_s).collect::<Vec<_>>(),
        )
        .map_err(&e)?;
        write_numbers(
            &g,
            "duration_s",
            &m.iter().map(|c| c.duration_s).collect::<Vec<_>>(),
        )
        .map_err(&e)?;
        write_numbers(
            &g,
            "n_frames",
            &m.iter().map(|c| c.n_frames).collect::<Vec<_>>(),
        )
        .map_err(&e)?;
        write_numbers(
            &g,
            "frame_offset",
            &m.iter().map(|c| c.frame_offset).collect::<Vec<_>>(),
        )
        .map_err(&e)?;

        let k = self.header.functional_names.len();
        if k > 0 {
            let arr = Array2::from_shape_vec((m.len(), k), std::mem::take(&mut self.functionals))
                .expect("functionals shape");
            self.file
                .new_dataset_builder()
                .with_data(&arr)
                .create("functionals")
                .map_err(&e)?;
            let names: Vec<&str> = self
                .header
                .functional_names
                .iter()
                .map(String::as_str)
                .collect();
            write_strings(&self.file, "functional_names", &names).map_err(&e)?;
        }
        let sg = self.file.create_group("skipped").map_err(&e)?;
        let cols: [Column<SkipRecord>; 4] = [
            ("path", |s| &s.path),
            ("corpus", |s| &s.corpus),
            ("kind", |s| &s.kind),
            ("reason", |s| &s.reason),
        ];
        for (name, f) in cols {
            write_strings(&sg, name, &skipped.iter().map(f).collect::<Vec<_>>()).map_err(&e)?;
        }

        let h = &self.header;
        set_attr_str(&self.file, "ser_version", env!("CARGO_PKG_VERSION")).map_err(&e)?;
        set_attr_str(&self.file, "feature_config", &h.config_toml).map_err(&e)?;
        set_attr_str(&self.file, "feature_config_hash", &h.config_hash).map_err(&e)?;
        let devices = h.computed_on.join(DEVICE_SEPARATOR);
        set_attr_str(&self.file, "computed_on", &devices).map_err(&e)?;
        let names: Vec<&str> = h.frame_layout.iter().map(|(n, _)| n.as_str()).collect();
        set_attr_str(&self.file, "frame_features", &names.join(",")).map_err(&e)?;
        self.file
            .new_attr::<u64>()
            .shape(())
            .create("n_clips")
            .map_err(&e)?
            .write_scalar(&(m.len() as u64))
            .map_err(&e)?;
        self.file
            .new_attr::<u32>()
            .shape(())
            .create("format_version")
            .map_err(&e)?
            .write_scalar(&FORMAT_VERSION)
            .map_err(&e)?;
        // Written last: a file without it was never finished.
        set_attr_str(&self.file, "format", FORMAT).map_err(&e)?;
        self.file.flush().map_err(&e)?;
        drop(self.frames);
        self.file.close().map_err(&e)?;
        std::fs::File::open(&path)
            .and_then(|f| f.sync_all())
            .map_err(|err| CacheError::Io {
                path: path.clone(),
                source: err,
            })?;
        Ok(())
    }
}

/// An open cache (final file or shard).
pub struct Cache {
    path: PathBuf,
    file: hdf5::File,
    /// Open frame datasets, in layout order (opened once, not per read).
    frame_sets: Vec<hdf5::Dataset>,
    /// Config and layout.
    pub header: CacheHeader,
    /// One entry per clip, sorted as stored.
    pub clips: Vec<ClipMeta>,
    /// Files left out, with reasons.
    pub skipped: Vec<SkipRecord>,
}

impl Cache {
    /// Opens a finished cache; an unfinished or foreign file is a [`CacheError::Format`].
    pub fn open(path: &Path) -> Result<Self, CacheError> {
        let e = h5err(path);
        let file = hdf5::File::open(path).map_err(&e)?;
        let not_ours = |m: &str| CacheError::Format {
            path: path.to_path_buf(),
            message: m.to_string(),
        };
        match read_attr_str(&file, "format") {
            Ok(f) if f == FORMAT => {}
            Ok(f) => {
                return Err(not_ours(&format!(
                    "format attribute is '{f}', not a ser cache"
                )));
            }
            Err(_) => {
                return Err(not_ours(
                    "no 'format' attribute: not a ser cache, or its writing never finished",
                ));
            }
        }
        let version = file
            .attr("format_version")
            .and_then(|a| a.read_scalar::<u32>())
            .map_err(&e)?;
        if version != FORMAT_VERSION {
            return Err(not_ours(&format!(
                "format_version {version}; this ser reads version {FORMAT_VERSION}"
            )));
        }
        let config_toml = read_attr_str(&file, "feature_config").map_err(&e)?;
        let config_hash = read_attr_str(&file, "feature_config_hash").map_err(&e)?;
        let computed_on = match read_attr_str(&file, "computed_on") {
            Ok(v) => v
                .split(DEVICE_SEPARATOR)
                .filter(|d| !d.is_empty())
                .map(String::from)
                .collect(),
            Err(_) => Vec::new(), // written before the attribute existed
        };
        let fg = file.group("frames").map_err(&e)?;
        let names = read_attr_str(&file, "frame_features").map_err(&e)?;
        let mut frame_layout = Vec::new();
        let mut frame_sets = Vec::new();
        for name in names.split(',').filter(|n| !n.is_empty()) {
            let ds = fg.dataset(name).map_err(&e)?;
            frame_layout.push((name.to_string(), ds.shape()[1]));
            frame_sets.push(ds);
        }
        let functional_names = if file.link_exists("functional_names") {
            read_strings(&file, "functional_names").map_err(&e)?
        } else {
            vec![]
        };
        let g = file.group("clips").map_err(&e)?;
        let col = |n: &str| read_strings(&g, n);
        let (path_c, corpus, speaker, gender, label, raw_label, text_id, text, attrs, hash) = (
            col("path").map_err(&e)?,
            col("corpus").map_err(&e)?,
            col("speaker").map_err(&e)?,
            col("gender").map_err(&e)?,
            col("label").map_err(&e)?,
            col("raw_label").map_err(&e)?,
            col("text_id").map_err(&e)?,
            col("text").map_err(&e)?,
            col("attrs").map_err(&e)?,
            col("content_hash").map_err(&e)?,
        );
        let num = |n: &str| g.dataset(n).and_then(|d| d.read_raw::<f64>());
        let unum = |n: &str| g.dataset(n).and_then(|d| d.read_raw::<u64>());
        let (size, mtime) = (
            unum("file_size").map_err(&e)?,
            g.dataset("file_mtime_ns")
                .and_then(|d| d.read_raw::<i64>())
                .map_err(&e)?,
        );
        let (rate, chans) = (
            unum("source_rate").map_err(&e)?,
            unum("source_channels").map_err(&e)?,
        );
        let (sdur, dur) = (
            num("source_duration_s").map_err(&e)?,
            num("duration_s").map_err(&e)?,
        );
        let (nf, off) = (
            unum("n_frames").map_err(&e)?,
            unum("frame_offset").map_err(&e)?,
        );
        let clips = (0..path_c.len())
            .map(|i| ClipMeta {
                path: path_c[i].clone(),
                corpus: corpus[i].clone(),
                speaker: speaker[i].clone(),
                gender: gender[i].clone(),
                label: label[i].clone(),
                raw_label: raw_label[i].clone(),
                text_id: text_id[i].clone(),
                text: text[i].clone(),
                attrs: attrs[i].clone(),
                content_hash: hash[i].clone(),
                file_size: size[i],
                file_mtime_ns: mtime[i],
                source_rate: rate[i] as u32,
                source_channels: chans[i] as u32,
                source_duration_s: sdur[i],
                duration_s: dur[i],
                n_frames: nf[i],
                frame_offset: off[i],
            })
            .collect();
        let sg = file.group("skipped").map_err(&e)?;
        let (sp, sc, sk, sr) = (
            read_strings(&sg, "path").map_err(&e)?,
            read_strings(&sg, "corpus").map_err(&e)?,
            read_strings(&sg, "kind").map_err(&e)?,
            read_strings(&sg, "reason").map_err(&e)?,
        );
        let skipped = (0..sp.len())
            .map(|i| SkipRecord {
                path: sp[i].clone(),
                corpus: sc[i].clone(),
                kind: sk[i].clone(),
                reason: sr[i].clone(),
            })
            .collect();
        let header = CacheHeader {
            config_toml,
            config_hash,
            frame_layout,
            functional_names,
            computed_on,
        };
        Ok(Cache {
            path: path.to_path_buf(),
            file,
            frame_sets,
            header,
            clips,
            skipped,
        })
    }

    /// The file this cache was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The open frame datasets, in layout order.
    pub(crate) fn frame_sets(&self) -> &[hdf5::Dataset] {
        &self.frame_sets
    }

    /// Frame-level array `name` of clip `index` as `[n_frames * dim]` (frame-major).
    pub fn frames(&self, name: &str, index: usize) -> Result<Vec<f32>, CacheError> {
        let c = &self.clips[index];
        self.frame_rows(name, c.frame_offset as usize, c.n_frames as usize)
    }

    /// Rows `start .. start + rows` of a frame dataset, flattened.
    pub fn frame_rows(
        &self,
        name: &str,
        start: usize,
        rows: usize,
    ) -> Result<Vec<f32>, CacheError> {
        let e = h5err(&self.path);
        let k = self
            .header
            .frame_layout
            .iter()
            .position(|(n, _)| n == name)
            .ok_or_else(|| CacheError::Format {
                path: self.path.clone(),
                message: format!("no frame array '{name}'"),
            })?;
        let ds = &self.frame_sets[k];
        if rows == 0 {
            return Ok(Vec::new());
        }
        let arr: Array2<f32> = ds.read_slice_2d(s![start..start + rows, ..]).map_err(&e)?;
        Ok(arr.into_raw_vec_and_offset().0)
    }

    /// The first difference in content (config, clips, skip list, functionals, every frame
    /// array) between two caches, or `None` when they hold the same data. File times and
    /// HDF5 bookkeeping are ignored.
    pub fn diff(&self, other: &Cache) -> Result<Option<String>, CacheError> {
        if self.header != other.header {
            return Ok(Some("headers (config or layout) differ".into()));
        }
        if self.clips.len() != other.clips.len() {
            return Ok(Some(format!(
                "{} clips vs {}",
                self.clips.len(),
                other.clips.len()
            )));
        }
        if let Some((a, b)) = self.clips.iter().zip(&other.clips).find(|(a, b)| a != b) {
            return Ok(Some(format!("clip metadata differs: {a:?} vs {b:?}")));
        }
        if self.skipped != other.skipped {
            return Ok(Some("skip lists differ".into()));
        }
        if self.functionals()? != other.functionals()? {
            return Ok(Some("functionals differ".into()));
        }
        let rows: usize = self.clips.iter().map(|c| c.n_frames as usize).sum();
        for (name, _) in &self.header.frame_layout {
            if self.frame_rows(name, 0, rows)? != other.frame_rows(name, 0, rows)? {
                return Ok(Some(format!("frames/{name} differ")));
            }
        }
        Ok(None)
    }

    /// Checks the frame arrays, the functionals and the clip table, and that each clip's rows
    /// lie inside the arrays: a file that passes reads whole. Compressed frame arrays are
    /// read back (in blocks of rows) to prove they decompress; raw ones need only every
    /// chunk allocated at full size inside the file ([`crate::RowReader`]), which is what a
    /// read could fail on. Run on a new cache before it gets its final name.
    pub fn verify(&self) -> Result<(), CacheError> {
        let bad = |m: String| CacheError::Format {
            path: self.path.clone(),
            message: m,
        };
        let rows: usize = self.clips.iter().map(|c| c.n_frames as usize).sum();
        let raw = crate::RowReader::new(self)?.is_direct();
        for (k, (name, dim)) in self.header.frame_layout.iter().enumerate() {
            let have = self.frame_sets[k].shape();
            if have != [rows, *dim] {
                return Err(bad(format!(
                    "frames/{name} is {have:?}, the clips need [{rows}, {dim}]"
                )));
            }
            if raw {
                continue;
            }
            const BLOCK: usize = 65_536;
            for start in (0..rows).step_by(BLOCK) {
                self.frame_rows(name, start, BLOCK.min(rows - start))?;
            }
        }
        if let Some(c) = self
            .clips
            .iter()
            .find(|c| (c.frame_offset + c.n_frames) as usize > rows)
        {
            return Err(bad(format!("clip {} points past the frame arrays", c.path)));
        }
        let f = self.functionals()?;
        let want = self.clips.len() * self.header.functional_names.len();
        if f.len() != want {
            return Err(bad(format!(
                "{} functionals, the clips need {want}",
                f.len()
            )));
        }
        Ok(())
    }

    /// The `[n_clips, n_functionals]` matrix, flattened (empty when not computed).
    pub fn functionals(&self) -> Result<Vec<f32>, CacheError> {
        if self.header.functional_names.is_empty() {
            return Ok(Vec::new());
        }
        let e = h5err(&self.path);
        self.file
            .dataset("functionals")
            .and_then(|d| d.read_raw::<f32>())
            .map_err(&e)
    }
}
