//! ser on a cluster, as a Slurm array runs it: tasks that start together on a sweep whose
//! cache is missing, a duplicated (requeued) task, and collecting the shards.

use std::path::Path;
use std::process::{Command, Stdio};

use ser_cache::Cache;

#[path = "support/paths.rs"]
mod paths;
#[path = "support/cli.rs"]
mod support;
use support::{features, run, ser, synth_tiny, text};

/// A sweep of 4 random-forest points over the tiny synthetic corpora, extracting `cache` when missing.
fn sweep_files(d: &Path, synth: &Path, cache: &Path) -> std::path::PathBuf {
    std::fs::write(
        d.join("base.toml"),
        format!(
            "name = \"base\"\n[data]\ncache = \"{}\"\nframes = []\ncorpora = [\"{}\", \"{}\"]\nfeatures = \"{}\"\n\
             [model]\nkind = \"random_forest\"\n",
            cache.display(),
            synth.join("ravdess").display(),
            synth.join("cremad").display(),
            features().display()
        ),
    )
    .unwrap();
    let sweep = d.join("sw.toml");
    std::fs::write(
        &sweep,
        "name = \"sw\"\nbase = \"base.toml\"\n[grid]\n\"model.random_forest.trees\" = [10, 20, 30, 40]\n",
    )
    .unwrap();
    sweep
}

#[test]
fn four_shards_and_a_duplicate_on_a_missing_cache_run_every_point_once() {
    let d = tempfile::tempdir().unwrap();
    let synth = d.path().join("synth");
    synth_tiny(&synth);
    let cache = d.path().join("cache/cache.h5");
    let sweep = sweep_files(d.path(), &synth, &cache);
    let runs = d.path().join("runs");
    // Shards 1-4 of 4 and a second shard 2 (a requeued task), all at once.
    let children: Vec<_> = ["1/4", "2/4", "3/4", "4/4", "2/4"]
        .iter()
        .map(|shard| {
            ser()
                .arg("sweep")
                .arg(&sweep)
                .arg("--runs")
                .arg(&runs)
                .args(["--shard", shard])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<String> = children
        .into_iter()
        .map(|c| {
            let o = c.wait_with_output().unwrap();
            assert!(o.status.success(), "{}", text(&o));
            text(&o)
        })
        .collect();
    let all = outputs.join("\n----\n");
    for id in ["p001", "p002", "p003", "p004"] {
        let runs_of = all
            .lines()
            .filter(|l| l.starts_with("point ") && l.contains(&format!("({id})")))
            .count();
        assert_eq!(runs_of, 1, "{id} ran {runs_of} times:\n{all}");
    }
    let built = all.matches("extracting features into").count();
    assert_eq!(built, 1, "the cache was built {built} times:\n{all}");
    Cache::open(&cache).unwrap().verify().unwrap();
    let left: Vec<String> = std::fs::read_dir(cache.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(
        left,
        ["cache.h5"],
        "temporary files or locks left beside the cache"
    );
    let sw = runs.join("sw");
    assert!(
        std::fs::read_dir(&sw).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".lock")),
        "a point claim was left behind"
    );

    // Collecting the shards gives the summary of one unsharded sweep.
    let o = run(ser()
        .arg("sweep")
        .arg(&sweep)
        .arg("--runs")
        .arg(&runs)
        .arg("--collect"));
    assert!(o.status.success(), "{}", text(&o));
    let whole = d.path().join("whole");
    let o = run(ser().arg("sweep").arg(&sweep).arg("--runs").arg(&whole));
    assert!(o.status.success(), "{}", text(&o));
    let read = |p: &Path| std::fs::read_to_string(p).unwrap();
    assert_eq!(
        read(&sw.join("summary.csv")),
        read(&whole.join("sw/summary.csv")),
        "four shards + collect differ from one unsharded sweep"
    );
}

/// A second `ser run` of an experiment another process is training is refused, naming that
/// process, and leaves the run alone.
#[test]
fn a_run_folder_in_use_is_refused_with_its_holder() {
    let d = tempfile::tempdir().unwrap();
    let runs = d.path().join("runs");
    let dir = runs.join("held");
    std::fs::create_dir_all(&dir).unwrap();
    // A live process (this test) holds the folder's claim.
    let _claim = ser_lock::Lock::try_acquire(&dir.join("run.lock"), "a test")
        .unwrap()
        .unwrap();
    let exp = d.path().join("held.toml");
    std::fs::write(
        &exp,
        "name = \"held\"\n[data]\ncache = \"none.h5\"\nframes = []\n[model]\nkind = \"svm\"\n",
    )
    .unwrap();
    std::fs::write(d.path().join("none.h5"), b"").unwrap();
    let o = run(Command::new(env!("CARGO_BIN_EXE_ser"))
        .current_dir(d.path())
        .arg("run")
        .arg(&exp)
        .arg("--runs")
        .arg(&runs));
    let t = text(&o);
    assert!(!o.status.success(), "{t}");
    assert!(
        t.contains("is being trained by process") && t.contains(&std::process::id().to_string()),
        "{t}"
    );
    assert!(
        !dir.join("experiment.toml").exists(),
        "the held run was touched"
    );
}
