//! One process reads a dataset once: consecutive points of a sweep that read the same data
//! share it, and a point that reads other data (other labels) reads again. Its own test
//! binary, so that no other test's reads count.

mod common;

use ser_experiment::{Experiment, Target};
use ser_study::{Quiet, Sweep, dataset_reads, run_sweep};

#[test]
fn sweep_points_on_the_same_data_share_one_read_of_the_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("toy.h5");
    common::write_cache(&cache, 8, 6);
    let base = Experiment::from_toml(&format!(
        "name = \"base\"\n[data]\ncache = \"{}\"\nframes = []\n[model]\nkind = \"svm\"\n",
        cache.display()
    ))
    .unwrap();
    std::fs::write(tmp.path().join("base.toml"), base.to_toml()).unwrap();
    let sweep_file = tmp.path().join("sweep.toml");
    std::fs::write(
        &sweep_file,
        "name = \"sw\"\nbase = \"base.toml\"\n[grid]\n\"data.labels\" = [[], [\"angry\", \"happy\", \"sad\"]]\n\"model.svm.c\" = [0.5, 1.0, 2.0]\n",
    )
    .unwrap();
    let (sweep, base) = Sweep::load(&sweep_file, Target::Cpu).unwrap();
    let before = dataset_reads();
    let r = run_sweep(
        &sweep,
        &base,
        &common::flex(&tmp.path().join("runs"), None),
        None,
        false,
        &mut Quiet,
    )
    .unwrap();
    assert_eq!(r.points.len(), 6);
    assert!(
        r.points.iter().all(|p| p.summary.is_some()),
        "a point failed"
    );
    // The grid's last key varies fastest: three points on all labels, then three on three
    // of them, so two reads.
    assert_eq!(
        dataset_reads() - before,
        2,
        "6 points on 2 datasets, in 2 runs of equal data"
    );
}
