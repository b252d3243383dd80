//! `ser corpus inspect`: counts per label, speaker and gender, duplicates and skipped files.

use std::path::PathBuf;
use std::process::ExitCode;

use ser_data::{CorpusKind, CorpusSpec, scan};

/// Subcommands of `ser corpus`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Count clips per label, speaker and gender; list duplicates and skipped files.
    Inspect(InspectArgs),
}

/// Arguments of `ser corpus inspect`.
#[derive(clap::Args)]
#[command(
    after_help = "PATH may also be written NAME=PATH or NAME:KIND=PATH, as for `ser extract --corpus`.\n\
Without --kind the layout is read from the folder's ser-corpus.toml or guessed from file names."
)]
pub struct InspectArgs {
    /// Corpus folder (or CSV manifest).
    path: String,
    /// Layout: ravdess, cremad, tess, savee, emodb, iemocap or csv (default: detected).
    #[arg(long)]
    kind: Option<CorpusKind>,
    /// Label map replacing the embedded datasets/<kind>.toml.
    #[arg(long, value_name = "FILE")]
    label_map: Option<PathBuf>,
    /// Skip content hashing (faster; no duplicate report).
    #[arg(long)]
    no_hash: bool,
    /// How many skipped files to list (all with 0).
    #[arg(long, default_value_t = 30, value_name = "N")]
    show_skipped: usize,
}

pub fn run(c: Command) -> anyhow::Result<ExitCode> {
    let Command::Inspect(a) = c;
    let mut spec = match a.kind {
        Some(kind) if !a.path.contains('=') => CorpusSpec::parse(&format!("{kind}={}", a.path))?,
        _ => CorpusSpec::parse(&a.path)?,
    };
    if let Some(k) = a.kind {
        spec.kind = k;
    }
    spec.label_map = a.label_map;
    let mut s = scan(&spec)?;
    if !a.no_hash {
        s.hash_all();
    }
    let sum = s.summary();
    let problems: Vec<_> = s.skipped.iter().filter(|k| !k.is_exclusion()).collect();
    let excluded = s.skipped.len() - problems.len();
    println!(
        "corpus {} ({} layout) at {}",
        s.name,
        s.kind,
        s.root.display()
    );
    println!(
        "  {} clips, {} speakers, {} files skipped, {} excluded by the label map, {} non-audio files ignored",
        s.records.len(),
        sum.speakers.len(),
        problems.len(),
        excluded,
        s.ignored_non_audio
    );
    println!("\n  {:<12} {:>6}", "label", "clips");
    for (l, n) in &sum.labels {
        println!("  {l:<12} {n:>6}");
    }
    println!("\n  {:<12} {:<8} {:>6}", "speaker", "gender", "clips");
    for (spk, n) in &sum.speakers {
        println!("  {spk:<12} {:<8} {n:>6}", sum.speaker_gender[spk]);
    }
    println!("\n  {:<12} {:>6}", "gender", "clips");
    for (g, n) in &sum.genders {
        println!("  {g:<12} {n:>6}");
    }
    if !a.no_hash {
        if sum.duplicate_groups.is_empty() {
            println!("\n  duplicates: none (by content hash)");
        } else {
            println!(
                "\n  duplicates: {} groups of identical files",
                sum.duplicate_groups.len()
            );
            for g in sum.duplicate_groups.iter().take(10) {
                println!(
                    "    {}",
                    g.iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join("  =  ")
                );
            }
        }
    }
    if !s.skipped.is_empty() {
        println!("\n  skipped / excluded files:");
        let limit = if a.show_skipped == 0 {
            usize::MAX
        } else {
            a.show_skipped
        };
        for k in s.skipped.iter().take(limit) {
            println!("    {} [{}]: {}", k.path.display(), k.kind, k.reason);
        }
        if s.skipped.len() > limit {
            println!(
                "    ... and {} more (--show-skipped 0 lists all)",
                s.skipped.len() - limit
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
