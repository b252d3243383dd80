//! `ser`: speech emotion recognition from corpora to features and trained models.
//!
//! A thin layer over the library crates: it parses arguments, draws progress bars and turns
//! errors into messages and exit codes. Exit codes: 0 success; 1 error; 3 finished, but some
//! files were skipped (each listed with its reason), some sweep points failed, or some files
//! could not be scored (listed).

mod commands;
mod progress;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc instead of glibc's malloc: burn's CPU backend allocates and frees tensors of tens
/// of MB every training step, which glibc serves with fresh mmap'd (page-faulted, zeroed)
/// memory each time; reusing it makes CNN-LSTM training steps ~20 % faster
/// (`benches/results/train_cnn_lstm_flex.md`). With the `tch` feature mimalloc replaces
/// `malloc` for the whole process (its `override`), libtorch's tensors included.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Speech emotion recognition: corpora in; features, models, reports and ONNX out.
#[derive(Parser)]
#[command(name = "ser", version, about, long_about = None, propagate_version = true)]
struct Cli {
    /// Worker threads for decoding and features (default: all cores).
    #[arg(long, global = true, value_name = "N")]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write the built-in synthetic emotional speech corpora (RAVDESS and CREMA-D layouts).
    Synth(commands::synth::Args),
    /// Look at corpora before using them.
    #[command(subcommand)]
    Corpus(commands::corpus::Command),
    /// Extract features of one or more corpora into an HDF5 cache.
    Extract(commands::extract::Args),
    /// Show feature configs.
    #[command(subcommand)]
    Features(commands::features::Command),
    /// Look into a feature cache.
    #[command(subcommand)]
    Cache(commands::cache::Command),
    /// Train a model from an experiment file (or resume a run), and report its test metrics.
    Train(commands::train::Args),
    /// Start or continue an experiment and write its report (protocol, leakage audit, metrics,
    /// plots; the train x test matrix for cross-corpus studies).
    Run(commands::run::Args),
    /// Run an experiment over a grid of settings (resumable, shardable) and rank the points.
    Sweep(commands::sweep::Args),
    /// Class probabilities of audio files from a trained run (or emotion timelines).
    Predict(commands::predict::Args),
    /// Emotion of live audio from standard input, one JSON line per window.
    Stream(commands::stream::Args),
    /// A trained network as an ONNX file with its model card.
    Export(commands::export::Args),
}

fn main() -> ExitCode {
    // SAFETY: the first statements of main: no other thread exists yet. SIGPIPE back to its
    // default (Rust ignores it, so `println!` to a closed pipe panicked): `ser cache show |
    // head` ends quietly, as Unix tools do.
    unsafe {
        ser_kernels::quiet_headless_vulkan();
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    if let Some(n) = cli.threads
        && let Err(e) = rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global()
    {
        eprintln!("error: cannot start {n} threads: {e}");
        return ExitCode::from(1);
    }
    let result = match cli.command {
        Command::Synth(a) => commands::synth::run(a),
        Command::Corpus(c) => commands::corpus::run(c),
        Command::Extract(a) => commands::extract::run(a),
        Command::Features(c) => commands::features::run(c),
        Command::Cache(c) => commands::cache::run(c),
        Command::Train(a) => commands::train::run(a),
        Command::Run(a) => commands::run::run(a),
        Command::Sweep(a) => commands::sweep::run(a),
        Command::Predict(a) => commands::predict::run(a),
        Command::Stream(a) => commands::stream::run(a),
        Command::Export(a) => commands::export::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
