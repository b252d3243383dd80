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

/// Starts `command(shard)` for every shard at once and waits for all: each must succeed;
/// their outputs, joined.
fn at_once(shards: &[&str], command: impl Fn(&str) -> Command) -> String {
    let children: Vec<_> = shards
        .iter()
        .map(|shard| {
            command(shard)
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
    outputs.join("\n----\n")
}

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
    let all = at_once(&["1/4", "2/4", "3/4", "4/4", "2/4"], |shard| {
        let mut c = ser();
        c.arg("sweep")
            .arg(&sweep)
            .arg("--runs")
            .arg(&runs)
            .args(["--shard", shard]);
        c
    });
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

/// A `speaker_kfold` run and a `cross_corpus` study of random forests on the tiny corpora,
/// sharing `cache` (extracted when missing).
fn study_files(d: &Path, synth: &Path, cache: &Path) -> [std::path::PathBuf; 2] {
    let data = format!(
        "[data]\ncache = \"{}\"\nframes = []\ncorpora = [\"{}\", \"{}\"]\nfeatures = \"{}\"\n\
         [model]\nkind = \"random_forest\"\n",
        cache.display(),
        synth.join("ravdess").display(),
        synth.join("cremad").display(),
        features().display()
    );
    ["speaker_kfold", "cross_corpus"].map(|protocol| {
        let path = d.join(format!("{protocol}.toml"));
        let folds = if protocol == "speaker_kfold" {
            "folds = 4\n"
        } else {
            ""
        };
        std::fs::write(
            &path,
            format!("name = \"{protocol}\"\n{data}[split]\nprotocol = \"{protocol}\"\n{folds}"),
        )
        .unwrap();
        path
    })
}

/// What a study's results say, without the folders they were written in.
fn figures(results: &Path) -> serde_json::Value {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(results).unwrap()).unwrap();
    serde_json::json!({
        "val": v["val"], "test": v["test"], "cv": v["cv"]["mean"], "matrix": v["cross_corpus"]["cells"],
    })
}

#[test]
fn study_models_spread_over_shards_and_a_duplicate_run_once_and_equal_one_process() {
    let d = tempfile::tempdir().unwrap();
    let synth = d.path().join("synth");
    synth_tiny(&synth);
    let cache = d.path().join("cache/cache.h5");
    let (whole, sharded) = (d.path().join("whole"), d.path().join("sharded"));
    for exp in study_files(d.path(), &synth, &cache) {
        let o = run(ser().arg("run").arg(&exp).arg("--runs").arg(&whole));
        assert!(o.status.success(), "{}", text(&o));
        // Shards 1-3 of 3 and a second shard 1 (a requeued task), all at once.
        let all = at_once(&["1/3", "2/3", "3/3", "1/3"], |shard| {
            let mut c = ser();
            c.arg("run")
                .arg(&exp)
                .arg("--runs")
                .arg(&sharded)
                .args(["--shard", shard]);
            c
        });
        let name = exp.file_stem().unwrap().to_string_lossy().to_string();
        let (prefix, n) = if name == "speaker_kfold" {
            ("fold ", 4)
        } else {
            ("model ", 2)
        };
        for k in 1..=n {
            let ran = all
                .lines()
                .filter(|l| l.starts_with(&format!("{prefix}{k} of {n}:")))
                .count();
            assert_eq!(ran, 1, "{name}: {prefix}{k} ran {ran} times:\n{all}");
        }
        let results = sharded.join(&name).join("results.json");
        assert!(results.exists(), "no shard wrote the results:\n{all}");
        assert_eq!(
            figures(&results),
            figures(&whole.join(&name).join("results.json")),
            "{name}: the shards' results differ from one process's"
        );
        // Collecting afterwards gives them again; a holdout run cannot be sharded.
        let o = run(ser()
            .arg("run")
            .arg(&exp)
            .arg("--runs")
            .arg(&sharded)
            .arg("--collect"));
        assert!(o.status.success(), "{}", text(&o));
        assert_eq!(
            figures(&results),
            figures(&whole.join(&name).join("results.json"))
        );
    }
    let holdout = d.path().join("holdout.toml");
    let text_of = std::fs::read_to_string(d.path().join("cross_corpus.toml")).unwrap();
    std::fs::write(
        &holdout,
        text_of
            .replace("name = \"cross_corpus\"", "name = \"holdout\"")
            .replace("protocol = \"cross_corpus\"", "protocol = \"holdout\""),
    )
    .unwrap();
    let o = run(ser().arg("run").arg(&holdout).args(["--shard", "1/2"]));
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("trains one model"), "{}", text(&o));
}
