//! `ser cache info`: what a feature cache holds.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use ser_cache::Cache;

/// Subcommands of `ser cache`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Summarise a cache: corpora, labels, speakers, arrays, config, skipped files.
    Info {
        /// Cache file.
        file: PathBuf,
    },
}

pub fn run(c: Command) -> anyhow::Result<ExitCode> {
    let Command::Info { file } = c;
    let cache = Cache::open(&file)?;
    let h = &cache.header;
    println!(
        "{}: {} clips, feature config {}",
        file.display(),
        cache.clips.len(),
        h.config_hash
    );
    if !h.computed_on.is_empty() {
        println!("  computed on            {}", h.computed_on.join("; "));
    }
    let total: u64 = cache.clips.iter().map(|c| c.n_frames).sum();
    for (name, dim) in &h.frame_layout {
        println!("  frames/{name:<18} [{total}, {dim}] float32");
    }
    if !h.functional_names.is_empty() {
        println!(
            "  functionals            [{}, {}] float32",
            cache.clips.len(),
            h.functional_names.len()
        );
    }
    let mut per: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    let mut speakers: BTreeMap<&str, std::collections::BTreeSet<&str>> = BTreeMap::new();
    let mut hours: BTreeMap<&str, f64> = BTreeMap::new();
    for c in &cache.clips {
        *per.entry((&c.corpus, &c.label)).or_default() += 1;
        speakers.entry(&c.corpus).or_default().insert(&c.speaker);
        *hours.entry(&c.corpus).or_default() += c.duration_s / 3600.0;
    }
    for (corpus, spk) in &speakers {
        let labels: Vec<String> = per
            .iter()
            .filter(|((c, _), _)| c == corpus)
            .map(|((_, l), n)| format!("{l} {n}"))
            .collect();
        println!(
            "  {corpus}: {} speakers, {:.2} h; {}",
            spk.len(),
            hours[corpus],
            labels.join(", ")
        );
    }
    let problems = cache.skipped.iter().filter(|s| !s.is_exclusion()).count();
    println!(
        "  skipped: {problems} files, excluded by label maps: {}",
        cache.skipped.len() - problems
    );
    Ok(ExitCode::SUCCESS)
}
