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

#[test]
fn a_device_index_past_the_machines_adapters_names_them() {
    let o = run(ser().args(["train", "none.toml", "--device", "wgpu:9"]));
    let t = crate::support::text(&o);
    assert!(!o.status.success(), "{t}");
    assert!(t.contains("no wgpu:9 on this machine; it has"), "{t}");
    if ser_check::wgpu_or_opt_out(ser_kernels::probe_wgpu()).is_some() {
        // lavapipe in CI: listed by its name and kind.
        assert!(t.contains("wgpu:0 = "), "{t}");
    }
    let o = run(ser().args(["train", "none.toml", "--device", "wgpu:first"]));
    let t = crate::support::text(&o);
    assert!(
        !o.status.success() && t.contains("must be a device index"),
        "{t}"
    );
}
