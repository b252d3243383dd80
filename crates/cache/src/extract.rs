//! Building a cache from corpora: incremental, resumable and crash-safe.
//!
//! Work goes in batches. Each batch is computed in parallel (rayon) on one thread and handed
//! to a writer (the calling thread), which walks the cache's entries sorted by (corpus,
//! path) and writes each clip once, into `<out>.parts/run-NNNNNN.h5`: the unchanged clips of
//! the previous cache, those an interrupted run left, and this run's as their batch
//! arrives. After every batch it appends a checkpoint to the run's journal (see
//! [`crate::journal`]), so a killed run loses at most the batches in flight, and the next
//! run reads what the journal vouches for back from the killed run's file. The writing
//! overlaps the computing; no pass re-reads or rewrites the frames at the end (the earlier
//! shard files, each batch written twice, cost 15-30 % end to end). The run file is read
//! back ([`Cache::verify`]) and renamed over `<out>`: readers see the old cache or the new
//! one, never a partial file. Re-running after success reuses every clip whose file size
//! and modification time are unchanged. `--compress` writes the run file raw and deflates
//! it into `<out>` at the end (a second pass, the price of that option).
//!
//! Several processes may extract into the same `<out>` at once (array tasks of a sweep whose
//! cache is missing, on a shared file system): each takes `<out>.lock` ([`ser_lock`]: host +
//! pid inside, stale locks of killed tasks recognised) for the whole extraction, and the
//! others wait on it, then find the cache up to date. Temporary files carry the host and
//! pid in their names, and a finished cache is read back whole before its rename, so
//! nothing corrupt ever sits under a final name.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender};
use std::time::{Instant, UNIX_EPOCH};

use rayon::prelude::*;
use ser_data::{CorpusScan, Record};
use ser_features::{ClipFeatures, Extractor, FeatureBackend};

use crate::CacheError;
use crate::journal::{Entry, JournalClip, JournalWriter, Salvage};
use crate::store::{Cache, CacheHeader, ClipMeta, SkipRecord, Writer};

/// Receives progress events (the CLI draws bars from them).
pub trait Progress: Sync {
    /// Work is known: `todo` clips to compute, `reused` taken from earlier runs.
    fn begin(&self, _todo: usize, _reused: usize) {}
    /// `clips` more clips computed, holding `audio_s` seconds of audio.
    fn advance(&self, _clips: usize, _audio_s: f64) {}
    /// A phase change or notice ("merging 12 shards", "resuming ...").
    fn note(&self, _message: &str) {}
}

/// A [`Progress`] that ignores everything.
pub struct NoProgress;
impl Progress for NoProgress {}

/// What to extract and where.
pub struct ExtractJob<'a> {
    /// Corpora to read (their `skipped` lists end up in the cache's skip list).
    pub corpora: &'a [CorpusScan],
    /// Planned feature pipeline: the CPU extractor or a GPU one.
    pub extractor: &'a dyn FeatureBackend,
    /// Cache file to create or update.
    pub out: PathBuf,
    /// Clips per shard (default 256): smaller loses less work to a kill.
    pub batch_size: usize,
    /// Replace a cache (or interrupted run) made with another config instead of refusing.
    pub overwrite: bool,
    /// Shuffle + deflate the final cache's frame arrays. Off by default: on float features
    /// it saves 11 % of the file and cost 29 % of an extraction's CPU time (measured on 1 h
    /// with logmel_16k.toml: 399 vs 444 MB, 424-445 vs 613-906 audio-s/s end to end;
    /// benches/results/extract_end_to_end.md).
    pub compress: bool,
}

/// Outcome of an extraction.
#[derive(Debug, Clone)]
pub struct ExtractReport {
    /// The cache written.
    pub out: PathBuf,
    /// Clips in the cache.
    pub clips: usize,
    /// Clips computed in this run.
    pub computed: usize,
    /// Clips reused from the previous cache or an interrupted run.
    pub reused: usize,
    /// Files left out, with reasons (problems and label-map exclusions).
    pub skipped: Vec<SkipRecord>,
    /// Seconds of source audio computed in this run.
    pub audio_seconds: f64,
    /// Wall time of the run.
    pub elapsed_s: f64,
}

impl ExtractReport {
    /// Skips that are problems with files (not label-map exclusions).
    pub fn problems(&self) -> impl Iterator<Item = &SkipRecord> {
        self.skipped.iter().filter(|s| !s.is_exclusion())
    }
}

/// Where each clip of the new cache comes from.
#[derive(Clone, Copy)]
enum Source {
    /// The k-th clip of the previous cache.
    Old(usize),
    /// Clip i of what killed run s left.
    Salvaged(usize, usize),
}

/// `<out><suffix>` beside `out`: its shards folder (`.parts`), its lock (`.lock`), the lock
/// of whatever prepares it (`.prepare.lock`).
pub fn beside(out: &Path, suffix: &str) -> PathBuf {
    let mut name = out
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(suffix);
    out.with_file_name(name)
}

/// Temporary files an extraction into `out` left when it was killed (`<out>.<host>.<pid>...tmp`):
/// removed by the next one, which holds the lock.
fn stale_tmps(out: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (out.parent(), out.file_name()) else {
        return Vec::new();
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let prefix = format!("{}.", name.to_string_lossy());
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name().is_some_and(|n| {
                        let n = n.to_string_lossy();
                        n.starts_with(&prefix) && n.ends_with(".tmp")
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> CacheError + '_ {
    move |source| CacheError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn stat(path: &Path) -> std::io::Result<(u64, i64)> {
    let m = std::fs::metadata(path)?;
    let mtime = m
        .modified()?
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0);
    Ok((m.len(), mtime))
}

/// Header a cache made by `extractor` carries.
pub fn header_for(extractor: &Extractor) -> CacheHeader {
    let cfg = extractor.config();
    CacheHeader {
        config_toml: cfg.to_toml(),
        config_hash: cfg.hash(),
        frame_layout: extractor.frame_layout().to_vec(),
        functional_names: extractor.functional_names().to_vec(),
        computed_on: Vec::new(),
    }
}

/// The run files of interrupted extractions in `parts` that hold something to reuse (others
/// are removed), and the number the next run file takes.
fn salvage_runs(
    parts: &Path,
    header: &CacheHeader,
    progress: &dyn Progress,
) -> Result<(Vec<Salvage>, usize), CacheError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(parts)
        .map_err(io(parts))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| run_number(p).is_some())
        .collect();
    files.sort();
    let next = files
        .iter()
        .filter_map(|p| run_number(p))
        .max()
        .map_or(0, |n| n + 1);
    let mut runs = Vec::new();
    for p in files {
        let salvage = Salvage::open(&p, &header.config_hash, &header.frame_layout);
        match salvage {
            Ok(Some(r)) if !r.clips.is_empty() || !r.skips.is_empty() => {
                if r.lost > 0 {
                    progress.note(&format!(
                        "run file {} is damaged: {} of its clips are extracted again",
                        p.display(),
                        r.lost
                    ));
                }
                runs.push(r);
            }
            found => {
                if let Err(e) = found {
                    progress.note(&format!(
                        "run file {} is damaged ({e}); its clips are extracted again",
                        p.display()
                    ));
                }
                let _ = std::fs::remove_file(p.with_extension("journal"));
                std::fs::remove_file(&p).map_err(io(&p))?;
            }
        }
    }
    Ok((runs, next))
}

/// N of a run file `run-N.h5`.
fn run_number(p: &Path) -> Option<usize> {
    let name = p.file_name()?.to_str()?;
    name.strip_prefix("run-")?.strip_suffix(".h5")?.parse().ok()
}

/// Runs (or resumes, or updates) an extraction.
pub fn extract(job: &ExtractJob, progress: &dyn Progress) -> Result<ExtractReport, CacheError> {
    extract_into(job, progress).map_err(|e| {
        let full = match &e {
            CacheError::Io { source, .. } => source.raw_os_error() == Some(28),
            CacheError::Hdf5 { message, .. } => message.contains("No space left on device"),
            _ => false,
        };
        match full {
            true => CacheError::DiskFull {
                path: job.out.clone(),
            },
            false => e,
        }
    })
}

fn extract_into(job: &ExtractJob, progress: &dyn Progress) -> Result<ExtractReport, CacheError> {
    let started = Instant::now();
    let header = header_for(job.extractor.reference());
    let out = &job.out;
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    // Held for the whole extraction.
    let lock_file = beside(out, ".lock");
    let _lock = ser_lock::Lock::acquire(
        &lock_file,
        &format!("ser extract --out {}", out.display()),
        |h| {
            progress.note(&format!(
                "waiting for {h}, which is writing {}; this run goes on when it is done",
                out.display()
            ))
        },
    )
    .map_err(io(&lock_file))?;
    for p in stale_tmps(out) {
        let _ = std::fs::remove_file(p);
    }

    // The previous cache, if compatible.
    let old = if out.exists() {
        match Cache::open(out) {
            Ok(c) if c.header.config_hash == header.config_hash => Some(c),
            Ok(c) if !job.overwrite => {
                return Err(CacheError::ConfigMismatch {
                    path: out.clone(),
                    found: c.header.config_hash,
                    wanted: header.config_hash,
                });
            }
            Ok(_) => None,
            Err(e) if !job.overwrite => return Err(e),
            Err(_) => None,
        }
    } else {
        None
    };

    // What interrupted runs with the same config left.
    let parts = beside(out, ".parts");
    let stamp = parts.join("config_hash");
    if parts.exists() {
        let found = std::fs::read_to_string(&stamp).unwrap_or_default();
        if found.trim() != header.config_hash {
            if !job.overwrite {
                return Err(CacheError::ConfigMismatch {
                    path: parts.clone(),
                    found: found.trim().to_string(),
                    wanted: header.config_hash,
                });
            }
            std::fs::remove_dir_all(&parts).map_err(io(&parts))?;
        }
    }
    std::fs::create_dir_all(&parts).map_err(io(&parts))?;
    std::fs::write(&stamp, &header.config_hash).map_err(io(&stamp))?;
    let (runs, next_run) = salvage_runs(&parts, &header, progress)?;
    if !runs.is_empty() {
        progress.note(&format!(
            "resuming an interrupted extraction: {} clips found in {}",
            runs.iter().map(|r| r.clips.len()).sum::<usize>(),
            parts.display()
        ));
    }

    // What is already done: key -> (source, size, mtime).
    let mut done: HashMap<(String, String), (Source, u64, i64)> = HashMap::new();
    if let Some(c) = &old {
        for (i, m) in c.clips.iter().enumerate() {
            done.insert(
                (m.corpus.clone(), m.path.clone()),
                (Source::Old(i), m.file_size, m.file_mtime_ns),
            );
        }
    }
    let mut run_skips: HashMap<(String, String), SkipRecord> = HashMap::new();
    for (s, r) in runs.iter().enumerate() {
        for (i, (m, _)) in r.clips.iter().enumerate() {
            done.insert(
                (m.corpus.clone(), m.path.clone()),
                (Source::Salvaged(s, i), m.file_size, m.file_mtime_ns),
            );
        }
        for k in &r.skips {
            run_skips.insert((k.corpus.clone(), k.path.clone()), k.clone());
        }
    }

    // Plan: every record of this run, sorted; reuse what is unchanged.
    let mut skipped: Vec<SkipRecord> = Vec::new();
    let mut records: Vec<&Record> = Vec::new();
    for scan in job.corpora {
        for s in &scan.skipped {
            skipped.push(SkipRecord {
                path: s.path.display().to_string(),
                corpus: scan.name.clone(),
                kind: s.kind.clone(),
                reason: s.reason.clone(),
            });
        }
        records.extend(scan.records.iter());
    }
    records.sort_by(|a, b| (&a.corpus, &a.path).cmp(&(&b.corpus, &b.path)));
    records.dedup_by(|a, b| a.corpus == b.corpus && a.path == b.path);
    let mut plan: Vec<((String, String), Option<Source>)> = Vec::new();
    let mut todo: Vec<(&Record, u64, i64)> = Vec::new();
    for r in &records {
        let key = (r.corpus.clone(), r.path.display().to_string());
        let (size, mtime) = match stat(&r.path) {
            Ok(v) => v,
            Err(e) => {
                skipped.push(SkipRecord {
                    path: key.1,
                    corpus: key.0,
                    kind: "io".into(),
                    reason: format!("cannot read file: {e}"),
                });
                continue;
            }
        };
        match done.get(&key) {
            Some(&(src, s, m)) if s == size && m == mtime => plan.push((key, Some(src))),
            _ => {
                if let Some(k) = run_skips.get(&key) {
                    // Failed in an interrupted run of this same extraction: do not retry now.
                    skipped.push(k.clone());
                    continue;
                }
                plan.push((key, None));
                todo.push((r, size, mtime));
            }
        }
    }
    let reused = plan.iter().filter(|(_, s)| s.is_some()).count();
    progress.begin(todo.len(), reused);

    // The cache's entries, sorted: previous cache entries of corpora not in this run, then
    // this run's clips, reused or to compute (the k-th clip of `todo`).
    let this_run: std::collections::HashSet<&str> =
        job.corpora.iter().map(|c| c.name.as_str()).collect();
    let mut entries: BTreeMap<(String, String), Planned> = BTreeMap::new();
    if let Some(c) = &old {
        for (i, m) in c.clips.iter().enumerate() {
            if !this_run.contains(m.corpus.as_str()) {
                entries.insert(
                    (m.corpus.clone(), m.path.clone()),
                    Planned::Ready(Source::Old(i)),
                );
            }
        }
        skipped.extend(
            c.skipped
                .iter()
                .filter(|s| !this_run.contains(s.corpus.as_str()))
                .cloned(),
        );
    }
    let mut k = 0;
    for (key, src) in plan {
        let planned = match src {
            Some(src) => Planned::Ready(src),
            None => {
                k += 1;
                Planned::Todo(k - 1)
            }
        };
        entries.insert(key, planned);
    }
    // Nothing changed: the cache on disk is already the result.
    if let Some(c) = &old {
        let mut sorted = skipped.clone();
        sort_skips(&mut sorted);
        let unchanged = runs.is_empty()
            && todo.is_empty()
            && entries.len() == c.clips.len()
            && entries
                .values()
                .enumerate()
                .all(|(k, s)| matches!(s, Planned::Ready(Source::Old(i)) if *i == k))
            && sorted == c.skipped;
        if unchanged {
            let _ = std::fs::remove_dir_all(&parts);
            return Ok(ExtractReport {
                out: out.clone(),
                clips: entries.len(),
                computed: 0,
                reused,
                skipped: sorted,
                audio_seconds: 0.0,
                elapsed_s: started.elapsed().as_secs_f64(),
            });
        }
    }

    // Devices of the clips kept from the old cache, of interrupted runs and of this run.
    let keeps_old = (entries.values()).any(|s| matches!(s, Planned::Ready(Source::Old(_))));
    let mut devices: Vec<String> = old
        .iter()
        .filter(|_| keeps_old)
        .map(|c| c.header.computed_on.clone())
        .chain(runs.iter().map(|r| r.computed_on.clone()))
        .chain((!todo.is_empty()).then(|| vec![job.extractor.describe()]))
        .flatten()
        .collect();
    devices.sort();
    devices.dedup();
    let header = CacheHeader {
        computed_on: devices,
        ..header
    };
    let merge = Merge {
        job,
        progress,
        header: &header,
        old: old.as_ref(),
        runs: &runs,
        parts: &parts,
        run: next_run,
    };
    let (tx, rx) = std::sync::mpsc::sync_channel::<Computed>(2);
    let outcome = std::thread::scope(|scope| {
        // Batches are computed on this thread while the caller's writes the cache and its
        // journal: no core waits for the disk.
        scope.spawn(|| compute(job, &todo, tx));
        merge.run(&entries, skipped, rx)
    })?;
    Ok(ExtractReport {
        out: out.clone(),
        clips: outcome.clips,
        computed: outcome.computed,
        reused,
        skipped: outcome.skipped,
        audio_seconds: outcome.audio_seconds,
        elapsed_s: started.elapsed().as_secs_f64(),
    })
}

/// Where an entry of the new cache comes from.
#[derive(Clone, Copy)]
enum Planned {
    /// Already computed: the old cache or an interrupted run.
    Ready(Source),
    /// The k-th clip of this run's work list.
    Todo(usize),
}

/// One computed batch, on its way to the cache.
struct Computed {
    metas: Vec<ClipMeta>,
    features: Vec<ClipFeatures>,
    skips: Vec<SkipRecord>,
    /// Work-list clips it covers (computed or skipped).
    clips: usize,
}

/// Computes `todo` batch after batch and hands each over; decoding and cleaning of batch
/// k + 1 (CPU threads) overlaps the features of batch k (CPU threads or a GPU).
fn compute(job: &ExtractJob, todo: &[(&Record, u64, i64)], tx: SyncSender<Computed>) {
    let reference = job.extractor.reference();
    let chunks: Vec<&[(&Record, u64, i64)]> = todo.chunks(job.batch_size.max(1)).collect();
    let load_chunk = |c: &[(&Record, u64, i64)]| -> Vec<Result<(ClipMeta, Vec<f32>), SkipRecord>> {
        c.par_iter()
            .map(|(r, size, mtime)| load(r, *size, *mtime, reference))
            .collect()
    };
    let mut next = chunks.first().map(|c| load_chunk(c));
    for (k, chunk) in chunks.iter().enumerate() {
        let loaded = next.take().expect("loaded ahead");
        let mut metas = Vec::with_capacity(loaded.len());
        let mut signals = Vec::with_capacity(loaded.len());
        let mut skips = Vec::new();
        for r in loaded {
            match r {
                Ok((meta, y)) => {
                    metas.push(meta);
                    signals.push(y);
                }
                Err(s) => skips.push(s),
            }
        }
        let (features, following) = rayon::join(
            || job.extractor.compute_batch(&signals),
            || chunks.get(k + 1).map(|c| load_chunk(c)),
        );
        next = following;
        let batch = Computed {
            metas,
            features,
            skips,
            clips: chunk.len(),
        };
        if tx.send(batch).is_err() {
            return; // the writer stopped on an error
        }
    }
}

/// Writes the whole cache once, as this run's file, in one walk of the sorted entries (this
/// run's clips as their batches arrive), checkpointing the journal before each batch is
/// taken; then renames it over `<out>`.
struct Merge<'a> {
    job: &'a ExtractJob<'a>,
    progress: &'a dyn Progress,
    header: &'a CacheHeader,
    old: Option<&'a Cache>,
    runs: &'a [Salvage],
    parts: &'a Path,
    /// N of this run's `run-N.h5`.
    run: usize,
}

/// What [`Merge::run`] wrote.
struct Merged {
    batches: usize,
    clips: usize,
    computed: usize,
    skipped: Vec<SkipRecord>,
    audio_seconds: f64,
}

/// The batch the walk takes this run's clips from, with each clip's place in it.
struct Received {
    index: usize,
    batch: Computed,
    by_key: HashMap<(String, String), usize>,
}

/// This run's file, its journal, and what the next checkpoint records.
struct RunFile {
    writer: Writer,
    journal: JournalWriter,
    pending: Entry,
    /// Batches taken since the last checkpoint: (work-list clips, audio seconds).
    batches: Vec<(usize, f64)>,
}

impl RunFile {
    /// Appends a clip the journal must vouch for (computed or salvaged in this run).
    fn push_journaled(
        &mut self,
        mut meta: ClipMeta,
        frames: &[Vec<f32>],
        functionals: &[f32],
    ) -> Result<(), CacheError> {
        let n = meta.n_frames as usize;
        meta.frame_offset = self.writer.rows() as u64;
        let journaled = JournalClip::new(meta.clone(), functionals);
        self.pending.clips.push(journaled);
        self.writer.push(meta, n, frames, functionals)
    }

    /// Puts every row pushed so far on disk, journals it, and reports the batches done.
    fn checkpoint(&mut self, progress: &dyn Progress) -> Result<(), CacheError> {
        let p = &self.pending;
        if p.clips.is_empty() && p.skips.is_empty() && self.batches.is_empty() {
            return Ok(());
        }
        self.pending.chunks = self.writer.checkpoint()?;
        self.journal.append(&self.pending)?;
        self.pending = Entry::default();
        for (clips, secs) in self.batches.drain(..) {
            progress.advance(clips, secs);
        }
        if let Some(ms) = std::env::var("SER_TEST_BATCH_DELAY_MS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
        {
            std::thread::sleep(std::time::Duration::from_millis(ms));
        }
        Ok(())
    }
}

impl Merge<'_> {
    fn run(
        &self,
        entries: &BTreeMap<(String, String), Planned>,
        mut skipped: Vec<SkipRecord>,
        rx: Receiver<Computed>,
    ) -> Result<Merged, CacheError> {
        let out = &self.job.out;
        self.progress.note(&format!(
            "writing {} clips to {}",
            entries.len(),
            out.display()
        ));
        let file = (self.parts).join(format!("run-{:06}.h5", self.run));
        // On failure the run file and its journal stay: the next run resumes from them.
        let merged = self.write(&file, entries, &mut skipped, rx)?;
        Cache::open(&file)?.verify()?;
        let done = match self.job.compress {
            false => file,
            true => {
                let tmp = ser_lock::unique_sibling(out, "tmp");
                compressed_copy(&file, &tmp, self.header)
                    .and_then(|()| Cache::open(&tmp)?.verify())
                    .inspect_err(|_| {
                        let _ = std::fs::remove_file(&tmp);
                    })?;
                tmp
            }
        };
        std::fs::rename(&done, out).map_err(io(out))?;
        if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty())
            && let Ok(d) = std::fs::File::open(dir)
        {
            let _ = d.sync_all();
        }
        std::fs::remove_dir_all(self.parts).map_err(io(self.parts))?;
        Ok(Merged { skipped, ..merged })
    }

    /// The walk: ready entries copied from their files, this run's from the batches as
    /// they arrive.
    fn write(
        &self,
        file: &Path,
        entries: &BTreeMap<(String, String), Planned>,
        skipped: &mut Vec<SkipRecord>,
        rx: Receiver<Computed>,
    ) -> Result<Merged, CacheError> {
        let batch = self.job.batch_size.max(1);
        let h = self.header;
        let mut writer = Writer::create(file, h, 0, false)?;
        writer.track_chunks();
        let journal = JournalWriter::create(
            &file.with_extension("journal"),
            &h.config_hash,
            &h.frame_layout,
            &h.computed_on,
        )?;
        let mut run = RunFile {
            writer,
            journal,
            pending: Entry::default(),
            batches: Vec::new(),
        };
        let old_func = match self.old {
            Some(c) => c.functionals()?,
            None => Vec::new(),
        };
        let n_func = h.functional_names.len();
        let mut received: Option<Received> = None;
        let mut m = Merged {
            batches: 0,
            clips: 0,
            computed: 0,
            skipped: Vec::new(),
            audio_seconds: 0.0,
        };
        for (key, planned) in entries {
            match *planned {
                Planned::Ready(Source::Old(i)) => {
                    let cache = self.old.expect("old cache");
                    let meta = cache.clips[i].clone();
                    let frames: Vec<Vec<f32>> = (h.frame_layout.iter())
                        .map(|(name, _)| cache.frames(name, i))
                        .collect::<Result<_, _>>()?;
                    let n = meta.n_frames as usize;
                    let funcs = &old_func[i * n_func..(i + 1) * n_func];
                    run.writer.push(meta, n, &frames, funcs)?;
                }
                Planned::Ready(Source::Salvaged(s, i)) => {
                    let r = &self.runs[s];
                    let frames: Vec<Vec<f32>> = (0..h.frame_layout.len())
                        .map(|a| r.frames(a, i))
                        .collect::<Result<_, _>>()?;
                    let (meta, funcs) = &r.clips[i];
                    run.push_journaled(meta.clone(), &frames, funcs)?;
                }
                Planned::Todo(k) => {
                    while received.as_ref().is_none_or(|r| r.index < k / batch) {
                        run.checkpoint(self.progress)?;
                        let b = rx.recv().map_err(|_| CacheError::Format {
                            path: self.job.out.clone(),
                            message: "feature computation stopped before every batch was done"
                                .into(),
                        })?;
                        received = Some(take(b, &mut run, skipped, &mut m));
                    }
                    let r = received.as_ref().expect("received above");
                    let Some(&j) = r.by_key.get(key) else {
                        continue; // the file failed: a skip record
                    };
                    let f = &r.batch.features[j];
                    let mut meta = r.batch.metas[j].clone();
                    meta.n_frames = f.n_frames as u64;
                    run.push_journaled(meta, &f.frames, &f.functionals)?;
                }
            }
            m.clips += 1;
        }
        // Batches none of whose clips made it (every file failed) still report their skips.
        while let Ok(b) = rx.recv() {
            take(b, &mut run, skipped, &mut m);
        }
        run.checkpoint(self.progress)?;
        sort_skips(skipped);
        run.writer.finish(skipped)?;
        Ok(m)
    }
}

/// Counts batch `b` in, queues its skips for the journal and the cache, and indexes it.
fn take(b: Computed, run: &mut RunFile, skipped: &mut Vec<SkipRecord>, m: &mut Merged) -> Received {
    let secs: f64 = b.metas.iter().map(|meta| meta.source_duration_s).sum();
    let index = m.batches;
    m.batches += 1;
    m.computed += b.metas.len();
    m.audio_seconds += secs;
    skipped.extend(b.skips.iter().cloned());
    run.pending.skips.extend(b.skips.iter().cloned());
    run.batches.push((b.clips, secs));
    let by_key = (b.metas.iter().enumerate())
        .map(|(j, meta)| ((meta.corpus.clone(), meta.path.clone()), j))
        .collect();
    Received {
        index,
        batch: b,
        by_key,
    }
}

/// Writes the finished raw cache `from` again as `to`, its frame arrays shuffled and
/// deflated (`--compress`).
fn compressed_copy(from: &Path, to: &Path, header: &CacheHeader) -> Result<(), CacheError> {
    let c = Cache::open(from)?;
    let funcs = c.functionals()?;
    let n_func = header.functional_names.len();
    let mut w = Writer::create(to, &c.header, 0, true)?;
    for (i, meta) in c.clips.iter().enumerate() {
        let frames: Vec<Vec<f32>> = (header.frame_layout.iter())
            .map(|(name, _)| c.frames(name, i))
            .collect::<Result<_, _>>()?;
        let n = meta.n_frames as usize;
        w.push(
            meta.clone(),
            n,
            &frames,
            &funcs[i * n_func..(i + 1) * n_func],
        )?;
    }
    w.finish(&c.skipped)
}

/// Skip records in a cache's order, once each.
fn sort_skips(v: &mut Vec<SkipRecord>) {
    v.sort_by(|a, b| (&a.corpus, &a.path, &a.kind).cmp(&(&b.corpus, &b.path, &b.kind)));
    v.dedup();
}

/// Reads, decodes and cleans one file, and describes it; any failure becomes a skip record.
fn load(
    r: &Record,
    size: u64,
    mtime: i64,
    ex: &Extractor,
) -> Result<(ClipMeta, Vec<f32>), SkipRecord> {
    let skip = |kind: &str, reason: String| SkipRecord {
        path: r.path.display().to_string(),
        corpus: r.corpus.clone(),
        kind: kind.to_string(),
        reason,
    };
    let audio_err = |e: ser_audio::AudioError| skip(e.kind(), format!("{e}; fix: {}", e.hint()));
    let bytes = std::fs::read(&r.path).map_err(|e| skip("io", format!("cannot read file: {e}")))?;
    let hash = ser_data::content_hash(&bytes);
    let ext = r.path.extension().and_then(|e| e.to_str());
    let decoded = ser_audio::decode_bytes(&bytes, ext).map_err(audio_err)?;
    let y = ex.cleaner().clean(&decoded).map_err(audio_err)?;
    let attrs = serde_json::to_string(&r.attrs).expect("string map serialises");
    let meta = ClipMeta {
        path: r.path.display().to_string(),
        corpus: r.corpus.clone(),
        speaker: r.speaker.clone(),
        gender: r.gender.as_str().to_string(),
        label: r.label.as_str().to_string(),
        raw_label: r.raw_label.clone(),
        text_id: r.text_id.clone(),
        text: r.text.clone(),
        attrs,
        content_hash: hash,
        file_size: size,
        file_mtime_ns: mtime,
        source_rate: decoded.sample_rate,
        source_channels: decoded.channels as u32,
        source_duration_s: decoded.duration_s(),
        duration_s: y.len() as f64 / ex.config().audio.sample_rate as f64,
        n_frames: 0,
        frame_offset: 0,
    };
    Ok((meta, y))
}
