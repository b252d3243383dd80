//! Defaults sized by the device a run trains on: a GPU gets bigger batches and a deeper
//! prefetch where the file says nothing, and the file's own settings always win.

use ser_experiment::{Experiment, Target};

const HEAD: &str = "name = \"x\"\n[data]\n[model]\nkind = \"cnn\"\n";

#[test]
fn a_gpu_fills_batch_size_and_prefetch_the_file_leaves_out() {
    let gpu = Experiment::from_toml_for(HEAD, Target::Gpu).unwrap();
    assert_eq!((gpu.train.batch_size, gpu.train.prefetch), (64, 8));
    let cpu = Experiment::from_toml_for(HEAD, Target::Cpu).unwrap();
    assert_eq!((cpu.train.batch_size, cpu.train.prefetch), (32, 4));
    assert_eq!(cpu, Experiment::from_toml(HEAD).unwrap());
    // Everything else is the same experiment.
    let mut back = gpu.clone();
    back.train.batch_size = 32;
    back.train.prefetch = 4;
    assert_eq!(back, cpu);
}

#[test]
fn settings_the_file_gives_are_kept_on_a_gpu() {
    let text = format!("{HEAD}[train]\nbatch_size = 16\nlr = 3e-3\n");
    let gpu = Experiment::from_toml_for(&text, Target::Gpu).unwrap();
    assert_eq!((gpu.train.batch_size, gpu.train.prefetch), (16, 8));
    assert_eq!(gpu.train.lr, 3e-3);
    // The resolved file states the values used, and reads back as the same experiment.
    assert_eq!(Experiment::from_toml(&gpu.to_toml()).unwrap(), gpu);
}

#[test]
fn unknown_keys_are_refused_on_every_target() {
    let text = format!("{HEAD}[train]\nbatchsize = 16\n");
    for t in [Target::Cpu, Target::Gpu] {
        let e = Experiment::from_toml_for(&text, t).unwrap_err().to_string();
        assert!(e.contains("batchsize"), "{e}");
    }
}
