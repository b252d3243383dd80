//! `ser extract`: corpora → HDF5 feature cache.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use ser_cache::{ExtractJob, extract};
use ser_data::{CorpusSpec, scan};
use ser_features::{Extractor, FeatureBackend, FeatureConfig};
use ser_kernels::{DeviceChoice, DeviceError, GpuExtractor};
use ser_ssl::SslExtractor;

use crate::progress::ClipBar;

/// Arguments of `ser extract`.
#[derive(clap::Args)]
#[command(
    after_help = "CORPUS forms: PATH | KIND=PATH | NAME=PATH | NAME:KIND=PATH, with KIND one of \
ravdess, cremad, tess, savee, emodb, iemocap, csv. NAME is written into every clip's `corpus` field.\n\n\
Re-running with the same config only processes new or changed files; a different config is refused \
(--overwrite replaces the cache). A killed run resumes from <out>.parts/ when run again.\n\n\
Exit status: 0 all files cached; 3 done, but some files were skipped (listed with reasons, and \
stored in the cache under /skipped); 1 error."
)]
pub struct Args {
    /// Corpus to extract (repeat for several).
    #[arg(long = "corpus", value_name = "CORPUS", required = true)]
    corpora: Vec<String>,
    /// Feature config TOML (default: librosa's defaults; see `ser features show`).
    #[arg(long, value_name = "CONFIG.toml")]
    features: Option<PathBuf>,
    /// Cache file to create or update.
    #[arg(long, value_name = "FILE.h5")]
    out: PathBuf,
    /// Label map for a corpus name or kind, replacing datasets/<kind>.toml (repeatable).
    #[arg(long, value_name = "NAME=FILE")]
    label_map: Vec<String>,
    /// Clips per resumable batch (decoded on CPU threads while the previous batch's features
    /// are computed).
    #[arg(long, default_value_t = 256, value_name = "N")]
    batch: usize,
    /// Where features are computed: cpu (rayon), wgpu / wgpu:N (Vulkan / Metal / DX12; the
    /// N-th adapter), cuda / cuda:N (a build with `--features cuda`), or auto: CUDA if
    /// present, else a hardware wgpu adapter, else the CPU (also when the config needs
    /// something the GPU kernels lack, e.g. n_fft 400).
    #[arg(long, default_value = "auto", value_name = "DEVICE")]
    device: DeviceChoice,
    /// Seconds of audio per GPU launch batch (default: sized from the device's memory).
    #[arg(long, value_name = "SECONDS")]
    device_batch_seconds: Option<f64>,
    /// Replace a cache made with a different feature config.
    #[arg(long)]
    overwrite: bool,
    /// Also write the skipped files and reasons to this CSV.
    #[arg(long, value_name = "FILE.csv")]
    skipped_csv: Option<PathBuf>,
    /// Shuffle + deflate the frame arrays: an 11 % smaller file for a slower extraction
    /// (1.5-2x end to end, measured; any HDF5 reader decodes either).
    #[arg(long)]
    compress: bool,
}

impl Args {
    /// `ser extract --corpus C... [--features F] --out OUT` with every other flag at its
    /// default (used by `ser train` to build a missing cache).
    pub fn for_cache(corpora: Vec<String>, features: Option<PathBuf>, out: PathBuf) -> Self {
        Args {
            corpora,
            features,
            out,
            label_map: Vec::new(),
            batch: 256,
            device: DeviceChoice::Auto,
            device_batch_seconds: None,
            overwrite: false,
            skipped_csv: None,
            compress: false,
        }
    }
}

pub fn load_config(path: Option<&PathBuf>) -> anyhow::Result<FeatureConfig> {
    match path {
        None => Ok(FeatureConfig::default()),
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("reading feature config {}", p.display()))?;
            FeatureConfig::from_toml(&text).with_context(|| format!("in {}", p.display()))
        }
    }
}

/// The feature backend `--device` asks for, and why it was chosen; `auto` falls back to the
/// CPU, with a notice, where the GPU cannot run the config.
fn backend(a: &Args, cfg: FeatureConfig) -> anyhow::Result<(Box<dyn FeatureBackend>, String)> {
    let chosen = a.device.choose().context("--device")?;
    let why = chosen.reason;
    if cfg.ssl.is_some() {
        // The encoder runs on the chosen device, or on burn's CPU backend for `cpu`.
        let device = chosen
            .device
            .unwrap_or_else(|| burn::backend::FlexDevice.into());
        let ssl = SslExtractor::new(cfg, device).context("[ssl]")?;
        eprintln!("{}", ssl_size_notice(&ssl));
        return Ok((Box::new(ssl), why));
    }
    let cpu = |cfg, why| -> anyhow::Result<(Box<dyn FeatureBackend>, String)> {
        Ok((Box::new(Extractor::new(cfg)?), why))
    };
    let Some(device) = chosen.device else {
        return cpu(cfg, why);
    };
    match GpuExtractor::new(cfg.clone(), device) {
        Ok(mut gpu) => {
            if let Some(s) = a.device_batch_seconds {
                if !(s > 0.0) {
                    bail!("--device-batch-seconds must be positive (got {s})");
                }
                let samples = s * cfg.audio.sample_rate as f64;
                gpu = gpu.with_batch_samples(samples as usize);
            }
            Ok((Box::new(gpu), why))
        }
        Err(e @ DeviceError::Unsupported(_)) if a.device == DeviceChoice::Auto => {
            cpu(cfg, format!("{why}, but {e}"))
        }
        Err(e) => Err(e).context("--device"),
    }
}

/// What an `[ssl]` cache costs on disk, said before extracting (frames are large: a base
/// model's 13 states x 768 take about 7 GB per hour of audio).
fn ssl_size_notice(ssl: &SslExtractor) -> String {
    let bytes_per_frame = ssl.dim() as f64 * 4.0;
    let frames_per_hour = 3600.0 * 16_000.0 / ssl.hop() as f64;
    let per_hour_gb = bytes_per_frame * frames_per_hour / 1e9;
    if ssl.stores_mean() {
        format!(
            "ssl: {} values per clip (store = \"mean\"): {:.1} KB per clip",
            ssl.dim(),
            bytes_per_frame / 1e3
        )
    } else {
        format!(
            "ssl: {} values per {} ms frame: {per_hour_gb:.1} GB per hour of audio (store = \"mean\" \
             keeps {:.1} KB per clip)",
            ssl.dim(),
            ssl.hop() / 16,
            bytes_per_frame / 1e3
        )
    }
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let cfg = load_config(a.features.as_ref())?;
    let (extractor, why) = backend(&a, cfg)?;
    eprintln!("features on: {} ({why})", extractor.describe());
    let mut maps = Vec::new();
    for m in &a.label_map {
        let Some((who, file)) = m.split_once('=') else {
            bail!("--label-map '{m}': write NAME=FILE or KIND=FILE")
        };
        maps.push((who.to_string(), PathBuf::from(file)));
    }
    let mut scans = Vec::new();
    for arg in &a.corpora {
        let mut spec = CorpusSpec::parse(arg)?;
        spec.label_map = maps
            .iter()
            .find(|(w, _)| *w == spec.name)
            .or_else(|| {
                maps.iter()
                    .find(|(w, _)| w.parse::<ser_data::CorpusKind>().ok() == Some(spec.kind))
            })
            .map(|(_, f)| f.clone());
        let s = scan(&spec)?;
        eprintln!(
            "{:<16} {:>6} clips  {:>4} skipped  {:<8} {}",
            s.name,
            s.records.len(),
            s.skipped.iter().filter(|k| !k.is_exclusion()).count(),
            s.kind.as_str(),
            s.root.display()
        );
        if scans
            .iter()
            .any(|o: &ser_data::CorpusScan| o.name == s.name)
        {
            bail!(
                "two corpora are named '{}': give each a distinct NAME (NAME=PATH)",
                s.name
            );
        }
        scans.push(s);
    }
    let bar = ClipBar::new("extract");
    let job = ExtractJob {
        corpora: &scans,
        extractor: extractor.as_ref(),
        out: a.out.clone(),
        batch_size: a.batch,
        overwrite: a.overwrite,
        compress: a.compress,
    };
    let report = extract(&job, &bar)?;
    bar.finish();
    let rate = if report.elapsed_s > 0.0 {
        report.audio_seconds / report.elapsed_s
    } else {
        0.0
    };
    if report.computed == 0 {
        println!(
            "{}: {} clips, all up to date ({:.1} s)",
            report.out.display(),
            report.clips,
            report.elapsed_s
        );
    } else {
        println!(
            "{}: {} clips ({} extracted, {} reused) in {:.1} s, {:.0} s of audio ({:.0} audio-s/s)",
            report.out.display(),
            report.clips,
            report.computed,
            report.reused,
            report.elapsed_s,
            report.audio_seconds,
            rate
        );
    }
    if let Some(p) = &a.skipped_csv {
        let mut f =
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?;
        writeln!(f, "path,corpus,kind,reason")?;
        for s in &report.skipped {
            let q = |v: &str| format!("\"{}\"", v.replace('"', "\"\""));
            writeln!(
                f,
                "{},{},{},{}",
                q(&s.path),
                q(&s.corpus),
                q(&s.kind),
                q(&s.reason)
            )?;
        }
    }
    let problems: Vec<_> = report.problems().collect();
    let excluded = report.skipped.len() - problems.len();
    if excluded > 0 {
        println!("{excluded} clips excluded by label maps (see `ser corpus inspect`)");
    }
    if problems.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("\n{} files skipped:", problems.len());
    for s in problems.iter().take(20) {
        eprintln!("  {} [{}]: {}", s.path, s.kind, s.reason);
    }
    if problems.len() > 20 {
        eprintln!(
            "  ... and {} more (all are in the cache under /skipped; --skipped-csv writes them out)",
            problems.len() - 20
        );
    }
    Ok(ExitCode::from(3))
}
