//! `ser --help` and every subcommand's help.

use crate::support::{run, ser};

#[test]
fn every_subcommand_has_help() {
    for args in [
        vec!["--help"],
        vec!["synth", "--help"],
        vec!["corpus", "inspect", "--help"],
        vec!["extract", "--help"],
        vec!["features", "show", "--help"],
        vec!["cache", "info", "--help"],
        vec!["train", "--help"],
        vec!["run", "--help"],
        vec!["sweep", "--help"],
        vec!["predict", "--help"],
        vec!["stream", "--help"],
    ] {
        let o = run(ser().args(&args));
        assert!(o.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("Usage: ser"),
            "{args:?}"
        );
    }
    let o = run(ser().args(["extract", "--help"]));
    assert!(String::from_utf8_lossy(&o.stdout).contains("Exit status"));
    let o = run(ser().args(["sweep", "--help"]));
    assert!(String::from_utf8_lossy(&o.stdout).contains("SLURM_ARRAY_TASK_ID"));
}

/// Output into a pipe whose reader has gone (`ser features show | head -1`) ends the process
/// quietly, as Unix tools do, instead of a panic.
#[test]
fn a_closed_pipe_ends_output_without_a_panic() {
    use std::process::Stdio;
    let mut child = ser()
        .args(["features", "show"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader closes before the first line
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("panicked"), "{err}");
}
