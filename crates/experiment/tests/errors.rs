//! Errors carry the file, or the key and its value, as fields a caller can match on.

use std::path::Path;

use ser_experiment::folder::read_experiment;
use ser_experiment::{Experiment, TrainError};

#[test]
fn a_bad_value_names_its_key_and_value() {
    let text = "name = \"x\"\n[data]\n[model]\nkind = \"cnn\"\n[train]\nlr = -1.0\n";
    let err = Experiment::from_toml(text).unwrap().validate().unwrap_err();
    let TrainError::Key { key, value, .. } = &err else {
        panic!("expected a Key error, got {err:?}");
    };
    assert_eq!((key.as_str(), value.as_str()), ("train.lr", "-1"));
    assert!(
        err.to_string()
            .starts_with("experiment: train.lr = -1: must be > 0")
    );
}

#[test]
fn a_missing_run_folder_names_the_file() {
    let err = read_experiment(Path::new("no/such/run")).unwrap_err();
    let TrainError::File { path, reason } = &err else {
        panic!("expected a File error, got {err:?}");
    };
    assert_eq!(path, Path::new("no/such/run/experiment.toml"));
    assert!(reason.contains("is no/such/run a run folder?"), "{reason}");
}
