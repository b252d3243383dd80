//! `ser synth`: the built-in synthetic corpora.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use ser_synth::SynthConfig;

use crate::progress::ClipBar;

/// Arguments of `ser synth`.
#[derive(clap::Args)]
#[command(
    after_help = "Writes DIR/ravdess (studio, 48 kHz, 8 emotions) and DIR/cremad (telephone band, \
noisy, 16 kHz, 6 emotions) with different speakers, for cross-corpus experiments.\n\
Runs are deterministic for a seed, and an interrupted run resumes where it stopped.\n\n\
--hard writes corpora closer to real ones (24 + 30 speakers with fewer clips each, subtler \
emotions, wider spreads within emotions and between speakers, band-limited and noisy \
recordings; 720 + 840 clips): what the shipped recipes are tuned on. --config FILE.toml \
sets every knob (seed, ravdess_actors, ravdess_rate, cremad_actors, cremad_sentences, \
cremad_rate, emotion_strength, prosody_spread, speaker_spread, ravdess_takes, ravdess_snr_db, \
ravdess_band_hz, cremad_snr_db, hours, speakers; see the ser-synth docs for each default).\n\n\
--hours H writes instead one corpus of about H hours in the CSV-manifest layout \
(DIR/large/manifest.csv, 16 kHz, 6 emotions, one speaker per 10 minutes unless --speakers, \
speakers alternating studio and telephone conditions): for scale tests and benchmarks, written \
on all cores and resumable. With --hard its voices are the harder ones.\n\n\
Next: ser extract --corpus DIR/ravdess --corpus DIR/cremad --features experiments/features/logmel_16k.toml --out cache.h5\n\
(or --corpus synth_large=DIR/large/manifest.csv after --hours)"
)]
pub struct Args {
    /// Output folder.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Random seed; the same seed writes the same audio.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Actors in the RAVDESS-layout corpus (60 clips each, 1-24).
    #[arg(long, default_value_t = 8)]
    ravdess_actors: usize,
    /// Actors in the CREMA-D-layout corpus (1-91).
    #[arg(long, default_value_t = 10)]
    cremad_actors: usize,
    /// Sentences per CREMA-D actor (1-12).
    #[arg(long, default_value_t = 6)]
    cremad_sentences: usize,
    /// Sample rate of the RAVDESS-layout corpus in Hz.
    #[arg(long, default_value_t = 48_000)]
    ravdess_rate: u32,
    /// Sample rate of the CREMA-D-layout corpus in Hz.
    #[arg(long, default_value_t = 16_000)]
    cremad_rate: u32,
    /// A small corpus for a quick look (4 + 4 actors, 16 kHz); overrides the sizes above.
    #[arg(long, conflicts_with_all = ["hard", "config"])]
    tiny: bool,
    /// Harder corpora, closer to real ones (see below); overrides the sizes above.
    #[arg(long, conflicts_with = "config")]
    hard: bool,
    /// Every knob from a TOML file (keys as below; missing keys keep their defaults).
    #[arg(long, value_name = "FILE.toml")]
    config: Option<PathBuf>,
    /// Write one corpus of about H hours of audio (DIR/large, CSV-manifest layout) instead.
    #[arg(long, value_name = "H", conflicts_with_all = ["tiny", "config"])]
    hours: Option<f64>,
    /// Speakers of the --hours corpus [default: one per 10 minutes, at least 4].
    #[arg(long, value_name = "N", requires = "hours")]
    speakers: Option<usize>,
}

/// Writes (or completes) the synthetic corpora under `out`, with a progress bar.
pub fn write(cfg: &SynthConfig, out: &std::path::Path) -> anyhow::Result<ser_synth::SynthReport> {
    let bar = ClipBar::new("synth");
    let started = std::sync::Once::new();
    let report = ser_synth::generate(cfg, out, &|done, total| {
        started.call_once(|| bar.start(total));
        bar.set(done);
    })
    .with_context(|| format!("writing the synthetic corpora to {}", out.display()))?;
    bar.finish();
    Ok(report)
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let mut cfg = if a.tiny {
        SynthConfig::tiny(a.seed)
    } else if a.hard {
        SynthConfig::hard(a.seed)
    } else if let Some(p) = &a.config {
        let text =
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
        toml::from_str(&text).with_context(|| format!("in {}", p.display()))?
    } else {
        SynthConfig {
            seed: a.seed,
            ravdess_actors: a.ravdess_actors,
            ravdess_rate: a.ravdess_rate,
            cremad_actors: a.cremad_actors,
            cremad_sentences: a.cremad_sentences,
            cremad_rate: a.cremad_rate,
            ..SynthConfig::default()
        }
    };
    if let Some(h) = a.hours {
        cfg.hours = h;
        cfg.speakers = a.speakers.unwrap_or(0);
    }
    let report = write(&cfg, &a.out)?;
    for (name, kind, root, n) in &report.corpora {
        println!(
            "{name:<14} {n:>5} clips  {kind:<8} layout  {}",
            root.display()
        );
    }
    println!(
        "{} written, {} already present, {:.2} h of audio",
        report.written, report.reused, report.hours
    );
    Ok(ExitCode::SUCCESS)
}
