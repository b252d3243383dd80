//! Extraction into the HDF5 cache: contents, incremental updates, config mixing, bad input,
//! and resuming after an interruption.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use ser_cache::{Cache, CacheError, ExtractJob, NoProgress, Progress, RowReader, extract};
use ser_data::{CorpusScan, CorpusSpec, scan};
use ser_features::{Extractor, FeatureConfig};
use ser_synth::{SynthConfig, generate};

fn config() -> FeatureConfig {
    FeatureConfig::from_toml(
        "frames = [\"logmel\", \"mfcc\"]\n[audio]\nsample_rate = 16000\n[audio.trim]\nenabled = true\n[stft]\nn_fft = 512\nwin_length = 400\nhop_length = 160\n[mel]\nn_mels = 40\n[mfcc]\nn_mfcc = 13\n[deltas]\norder = 1\n[functionals]\nenabled = true\n",
    )
    .unwrap()
}

fn synth(dir: &Path) -> Vec<CorpusScan> {
    let cfg = SynthConfig {
        ravdess_actors: 2,
        cremad_actors: 1,
        cremad_sentences: 1,
        ..SynthConfig::tiny(5)
    };
    generate(&cfg, dir, &|_, _| {}).unwrap();
    ["ravdess", "cremad"]
        .iter()
        .map(|k| scan(&CorpusSpec::parse(&dir.join(k).display().to_string()).unwrap()).unwrap())
        .collect()
}

fn job<'a>(corpora: &'a [CorpusScan], ex: &'a Extractor, out: PathBuf) -> ExtractJob<'a> {
    ExtractJob {
        corpora,
        extractor: ex,
        out,
        batch_size: 16,
        overwrite: false,
        compress: false,
    }
}

/// Same content (metadata, every frame array, functionals, skip list), whatever the timestamps.
fn assert_same_cache(a: &Path, b: &Path) {
    let diff = Cache::open(a)
        .unwrap()
        .diff(&Cache::open(b).unwrap())
        .unwrap();
    assert_eq!(diff, None);
}

#[test]
fn cache_holds_labels_speakers_and_the_extractors_features() {
    let d = tempfile::tempdir().unwrap();
    let corpora = synth(&d.path().join("synth"));
    let ex = Extractor::new(config()).unwrap();
    let out = d.path().join("cache.h5");
    let report = extract(&job(&corpora, &ex, out.clone()), &NoProgress).unwrap();
    let n = corpora.iter().map(|c| c.records.len()).sum::<usize>();
    assert_eq!((report.clips, report.computed, report.reused), (n, n, 0));
    assert_eq!(report.problems().count(), 0);
    assert!(!d.path().join("cache.h5.parts").exists());

    let cache = Cache::open(&out).unwrap();
    assert_eq!(cache.clips.len(), n);
    assert_eq!(cache.header.config_hash, config().hash());
    let names: Vec<&str> = cache
        .header
        .frame_layout
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(names, ["logmel", "logmel_delta", "mfcc", "mfcc_delta"]);
    // Sorted by (corpus, path), with labels and speakers from the corpora.
    let keys: Vec<(String, String)> = cache
        .clips
        .iter()
        .map(|c| (c.corpus.clone(), c.path.clone()))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    for scan in &corpora {
        for r in &scan.records {
            let c = cache
                .clips
                .iter()
                .find(|c| c.path == r.path.display().to_string())
                .unwrap();
            assert_eq!(
                (c.corpus.as_str(), c.speaker.as_str(), c.label.as_str()),
                (scan.name.as_str(), r.speaker.as_str(), r.label.as_str())
            );
            assert_eq!(c.gender, r.gender.as_str());
        }
    }
    // Stored features equal a direct computation.
    let i = 7;
    let c = &cache.clips[i];
    let decoded = ser_audio::decode_file(Path::new(&c.path)).unwrap();
    let y = ex.cleaner().clean(&decoded).unwrap();
    let direct = ex.compute(&y);
    assert_eq!(c.n_frames as usize, direct.n_frames);
    assert_eq!(cache.frames("mfcc", i).unwrap(), direct.frames[2]);
    let k = cache.header.functional_names.len();
    assert_eq!(
        &cache.functionals().unwrap()[i * k..(i + 1) * k],
        &direct.functionals[..]
    );
    assert_eq!(c.source_rate, 16_000); // SynthConfig::tiny writes both corpora at 16 kHz
    assert_eq!(
        c.content_hash,
        ser_data::hash_file(Path::new(&c.path)).unwrap()
    );
}

#[test]
fn rerun_reuses_changed_files_are_recomputed_and_configs_never_mix() {
    let d = tempfile::tempdir().unwrap();
    let corpora = synth(&d.path().join("synth"));
    let ex = Extractor::new(config()).unwrap();
    let out = d.path().join("c.h5");
    extract(&job(&corpora, &ex, out.clone()), &NoProgress).unwrap();
    let copy = d.path().join("first.h5");
    std::fs::copy(&out, &copy).unwrap();

    let before = std::fs::metadata(&out).unwrap().modified().unwrap();
    let again = extract(&job(&corpora, &ex, out.clone()), &NoProgress).unwrap();
    assert_eq!((again.computed, again.reused), (0, again.clips));
    assert_same_cache(&out, &copy);
    // Nothing changed, so the file was left alone.
    assert_eq!(std::fs::metadata(&out).unwrap().modified().unwrap(), before);

    // Replace one file with another clip's audio: only it is recomputed.
    let recs = &corpora[0].records;
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::copy(&recs[1].path, &recs[0].path).unwrap();
    let upd = extract(&job(&corpora, &ex, out.clone()), &NoProgress).unwrap();
    assert_eq!(upd.computed, 1);
    let changed = Cache::open(&out)
        .unwrap()
        .diff(&Cache::open(&copy).unwrap())
        .unwrap();
    assert!(
        changed
            .as_ref()
            .is_some_and(|d| d.contains("clip metadata")),
        "{changed:?}"
    );
    let cache = Cache::open(&out).unwrap();
    let a = cache
        .clips
        .iter()
        .position(|c| c.path == recs[0].path.display().to_string())
        .unwrap();
    let b = cache
        .clips
        .iter()
        .position(|c| c.path == recs[1].path.display().to_string())
        .unwrap();
    assert_eq!(cache.clips[a].content_hash, cache.clips[b].content_hash);
    assert_eq!(
        cache.frames("logmel", a).unwrap(),
        cache.frames("logmel", b).unwrap()
    );

    // Another config refuses to write into this cache, and leaves it untouched.
    let mut other = config();
    other.mel.n_mels = 64;
    let ex2 = Extractor::new(other).unwrap();
    let err = extract(&job(&corpora, &ex2, out.clone()), &NoProgress).unwrap_err();
    assert!(matches!(err, CacheError::ConfigMismatch { .. }), "{err}");
    assert!(err.to_string().contains("--overwrite"));
    Cache::open(&out).unwrap();
    let mut j = job(&corpora, &ex2, out.clone());
    j.overwrite = true;
    extract(&j, &NoProgress).unwrap();
    assert_eq!(Cache::open(&out).unwrap().header.frame_layout[0].1, 64);
}

/// Stops the run (as a kill would) after a number of batches.
struct StopAfter(AtomicUsize);
impl Progress for StopAfter {
    fn advance(&self, _: usize, _: f64) {
        if self.0.fetch_sub(1, Ordering::SeqCst) == 1 {
            panic!("simulated kill");
        }
    }
}

#[test]
fn interrupted_run_resumes_to_the_same_cache() {
    let d = tempfile::tempdir().unwrap();
    let corpora = synth(&d.path().join("synth"));
    let ex = Extractor::new(config()).unwrap();
    let whole = d.path().join("whole.h5");
    extract(&job(&corpora, &ex, whole.clone()), &NoProgress).unwrap();

    let out = d.path().join("resumed.h5");
    let stop = StopAfter(AtomicUsize::new(3));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        extract(&job(&corpora, &ex, out.clone()), &stop)
    }));
    assert!(r.is_err());
    assert!(
        !out.exists(),
        "no cache file may appear before the run completes"
    );
    let parts = d.path().join("resumed.h5.parts");
    let journal = parts.join("run-000000.journal");
    let lines = std::fs::read_to_string(&journal).unwrap().lines().count();
    assert!(
        lines > 3,
        "{lines} journal lines: a head and a checkpoint per batch"
    );
    // A kill in the middle of an append leaves a torn last line: ignored.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&journal)
        .unwrap()
        .write_all(b"{\"chunks\":[{\"array\":0,\"ind")
        .unwrap();
    // A run file without a journal (killed before its first checkpoint) is dropped.
    std::fs::write(parts.join("run-000007.h5"), b"garbage").unwrap();

    let resumed = extract(&job(&corpora, &ex, out.clone()), &NoProgress).unwrap();
    assert_eq!(resumed.reused, 3 * 16);
    assert_same_cache(&out, &whole);
}

#[test]
fn bad_files_are_skipped_with_reasons_and_good_ones_cached() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("ravdess");
    let actor = root.join("Actor_01");
    std::fs::create_dir_all(&actor).unwrap();
    let tone: Vec<f32> = (0..16_000).map(|i| 0.3 * (i as f32 * 0.05).sin()).collect();
    ser_audio::write_wav_i16(&actor.join("03-01-05-01-01-01-01.wav"), &tone, 16_000).unwrap();
    ser_audio::write_wav_i16(&actor.join("03-01-04-01-01-01-01.wav"), &tone, 16_000).unwrap();
    let bytes = std::fs::read(actor.join("03-01-04-01-01-01-01.wav")).unwrap();
    std::fs::write(
        actor.join("03-01-03-01-01-01-01.wav"),
        &bytes[..bytes.len() / 2],
    )
    .unwrap(); // truncated
    std::fs::write(actor.join("03-01-02-01-01-01-01.wav"), b"").unwrap(); // empty
    ser_audio::write_wav_f32(
        &actor.join("03-01-06-01-01-01-01.wav"),
        &vec![f32::NAN; 8000],
        16_000,
    )
    .unwrap();
    std::fs::write(
        actor.join("03-01-07-01-01-01-01.wav"),
        "just some notes\n".repeat(10),
    )
    .unwrap(); // text
    ser_audio::write_wav_i16(&actor.join("my_recording.wav"), &tone, 16_000).unwrap(); // bad name
    ser_audio::write_wav_i16(
        &actor.join("03-01-08-01-01-01-01.wav"),
        &vec![0.0; 16_000],
        16_000,
    )
    .unwrap(); // silence

    let corpora =
        vec![scan(&CorpusSpec::parse(&format!("ravdess={}", root.display())).unwrap()).unwrap()];
    let ex = Extractor::new(config()).unwrap();
    let out = d.path().join("c.h5");
    let report = extract(&job(&corpora, &ex, out.clone()), &NoProgress).unwrap();
    assert_eq!(report.clips, 2);
    let kinds: Vec<(String, String)> = report
        .problems()
        .map(|s| {
            (
                Path::new(&s.path)
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .to_string(),
                s.kind.clone(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("03-01-02-01-01-01-01.wav", "empty"),
            ("03-01-03-01-01-01-01.wav", "truncated"),
            ("03-01-06-01-01-01-01.wav", "non_finite"),
            ("03-01-07-01-01-01-01.wav", "not_audio"),
            ("03-01-08-01-01-01-01.wav", "silent"),
            ("my_recording.wav", "bad_name"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    assert!(
        report.skipped.iter().all(|s| s.reason.len() > 20),
        "{:?}",
        report.skipped
    );
    let cache = Cache::open(&out).unwrap();
    assert_eq!(cache.clips.len(), 2);
    assert_eq!(cache.skipped.len(), 6);
    assert!(cache.skipped.iter().any(|s| s.reason.contains("fix:")));
}

#[test]
fn a_compressed_cache_holds_the_same_values_in_a_smaller_file_and_rows_read_alike() {
    let d = tempfile::tempdir().unwrap();
    let corpora = synth(&d.path().join("synth"));
    let ex = Extractor::new(config()).unwrap();
    let (plain, packed) = (d.path().join("plain.h5"), d.path().join("packed.h5"));
    extract(&job(&corpora, &ex, plain.clone()), &NoProgress).unwrap();
    let compressed = ExtractJob {
        compress: true,
        ..job(&corpora, &ex, packed.clone())
    };
    extract(&compressed, &NoProgress).unwrap();
    assert_same_cache(&plain, &packed);
    Cache::open(&packed).unwrap().verify().unwrap();
    let size = |p: &Path| std::fs::metadata(p).unwrap().len();
    assert!(
        size(&packed) < size(&plain),
        "deflate made the file no smaller: {} vs {}",
        size(&packed),
        size(&plain)
    );
    // Clip by clip, the row reader gives HDF5's values: by positioned reads of the plain
    // cache's chunks (some clips straddle two), through HDF5 for the compressed one.
    for (path, direct) in [(&plain, true), (&packed, false)] {
        let cache = Cache::open(path).unwrap();
        let rows = RowReader::new(&cache).unwrap();
        assert_eq!(rows.is_direct(), direct, "{}", path.display());
        for (k, (name, dim)) in cache.header.frame_layout.iter().enumerate() {
            for (i, c) in cache.clips.iter().enumerate() {
                let mut got = vec![f32::NAN; c.n_frames as usize * dim];
                rows.read(k, c.frame_offset as usize, &mut got).unwrap();
                assert_eq!(got, cache.frames(name, i).unwrap(), "{name} of {}", c.path);
            }
        }
        assert!(
            (cache.clips.iter())
                .any(|c| c.frame_offset / 512 != (c.frame_offset + c.n_frames - 1) / 512),
            "no clip straddles a chunk"
        );
    }
}

/// Lists, at every progress report, the files in one extraction's parts folder.
struct PartsSeen(
    PathBuf,
    std::sync::Mutex<std::collections::BTreeSet<String>>,
);

impl Progress for PartsSeen {
    fn advance(&self, _: usize, _: f64) {
        let names = std::fs::read_dir(&self.0).unwrap();
        let mut seen = self.1.lock().unwrap();
        seen.extend(names.map(|e| e.unwrap().file_name().to_string_lossy().to_string()));
    }
}

#[test]
fn an_uninterrupted_extraction_writes_one_run_file_and_its_journal() {
    let d = tempfile::tempdir().unwrap();
    let corpora = synth(&d.path().join("synth"));
    let ex = Extractor::new(config()).unwrap();
    let out = d.path().join("c.h5");
    let seen = PartsSeen(d.path().join("c.h5.parts"), Default::default());
    let r = extract(&job(&corpora, &ex, out.clone()), &seen).unwrap();
    assert!(
        r.clips > 3 * 16,
        "too few clips for several batches: {}",
        r.clips
    );
    // Each clip is written once: no per-batch shard copies beside the run file.
    let seen: Vec<String> = seen.1.into_inner().unwrap().into_iter().collect();
    assert_eq!(seen, ["config_hash", "run-000000.h5", "run-000000.journal"]);
    assert!(!d.path().join("c.h5.parts").exists());
    Cache::open(&out).unwrap().verify().unwrap();
}
