//! `ser predict`: a trained run's class probabilities for audio files, folders and CSV
//! manifests.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use ser_infer::{Scorer, TimelineConfig};
use ser_plot::{Lines, render};

use crate::progress::ClipBar;

/// Audio file extensions a folder is searched for.
const AUDIO: [&str; 6] = ["wav", "flac", "mp3", "ogg", "oga", "aiff"];

/// Arguments of `ser predict`.
#[derive(clap::Args)]
#[command(
    after_help = "MODEL is a run folder with a finished network (runs/<name>, or one \
fold / corpus-set folder of a study), or a file `ser export` wrote (FILE.onnx with its card \
FILE.json beside it; run by tract on the CPU; a card that does not describe the file is \
refused). Each file is scored as the run scored its test clips: the same cleaning and features \
(the run's features.toml), the training statistics, the centre segment of segment.frames \
frames (shorter files per the segment policy).\n\n\
PATH: audio files, folders (searched recursively for .wav .flac .mp3 .ogg .oga .aiff), or CSV \
manifests with a `path` column (relative paths are relative to the manifest).\n\n\
Output: one row per file, `path,predicted,seconds,p_<class>...` (CSV), or the same fields as \
JSON lines with --out FILE.jsonl. Files that cannot be decoded are listed on stderr with the \
reason and the exit status is 3; the others are scored."
)]
pub struct Args {
    /// Run folder of the model, or an exported FILE.onnx (card beside it).
    #[arg(value_name = "MODEL")]
    model: PathBuf,
    /// Audio files, folders, or CSV manifests.
    #[arg(value_name = "PATH", required = true)]
    paths: Vec<PathBuf>,
    /// Write the table here (`.csv` or `.jsonl`) instead of standard output (CSV).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Files per forward pass.
    #[arg(long, default_value_t = 32, value_name = "N")]
    batch: usize,
    /// Where the model (and, on a GPU, the features) run: flex, wgpu, cuda or auto.
    #[arg(long, default_value = "flex", value_name = "DEVICE")]
    device: String,
    /// Runs trained with split.normalize = "corpus" / "speaker": the corpus (or
    /// corpus/speaker) whose own statistics standardize the input, one the run folder kept
    /// in group_normalizers.json.
    #[arg(long, value_name = "NAME")]
    norm_group: Option<String>,
    /// Long recordings: score windows over each file and write, into the folder --out, an
    /// emotion timeline per file (<stem>.timeline.csv, .png, .svg) and a summary
    /// (<stem>.summary.json: share of speech per emotion, longest stretches).
    #[arg(long, requires = "out")]
    timeline: bool,
    #[command(flatten)]
    windows: WindowArgs,
}

/// Windows of a timeline or a stream.
#[derive(clap::Args)]
pub struct WindowArgs {
    /// Window length in seconds.
    #[arg(long, default_value_t = 3.0, value_name = "S")]
    window: f64,
    /// Step between windows in seconds.
    #[arg(long, default_value_t = 1.0, value_name = "S")]
    hop: f64,
    /// Energy VAD: windows more than this many dB below the loudest window (of the file; of
    /// the stream so far) are silence and not scored.
    #[arg(long, default_value_t = 35.0, value_name = "DB")]
    vad_db: f64,
}

impl WindowArgs {
    /// As the library's config, checked.
    pub fn config(&self) -> anyhow::Result<TimelineConfig> {
        if !(self.window > 0.0 && self.hop > 0.0 && self.vad_db > 0.0) {
            bail!("--window, --hop and --vad-db must be > 0");
        }
        Ok(TimelineConfig {
            window_s: self.window,
            hop_s: self.hop,
            vad_db: self.vad_db,
        })
    }
}

/// `ser predict --timeline`: one timeline, plot and summary per file into `dir`.
fn timelines(
    a: &Args,
    predictor: &dyn Scorer,
    files: &[String],
    dir: &Path,
) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let cfg = a.windows.config()?;
    let mut failed = Vec::new();
    let mut stems = std::collections::BTreeSet::new();
    for f in files {
        let windows = match predictor.timeline(f, &cfg, a.batch) {
            Ok(w) => w,
            Err(e) => {
                failed.push(e);
                continue;
            }
        };
        let stem = Path::new(f)
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        // Files of the same name in several folders: number the later ones.
        let mut name = stem.clone();
        let mut k = 1;
        while !stems.insert(name.clone()) {
            k += 1;
            name = format!("{stem}-{k}");
        }
        let mut w = csv::Writer::from_path(dir.join(format!("{name}.timeline.csv")))?;
        let mut head = vec![
            "start_s".to_string(),
            "end_s".into(),
            "rms_db".into(),
            "speech".into(),
            "predicted".into(),
        ];
        head.extend(predictor.classes().iter().map(|c| format!("p_{c}")));
        w.write_record(&head)?;
        for x in &windows {
            let mut row = vec![
                format!("{:.3}", x.start_s),
                format!("{:.3}", x.end_s),
                format!("{:.1}", x.rms_db),
            ];
            match (&x.probs, x.class()) {
                (Some(p), Some(c)) => {
                    row.push("1".into());
                    row.push(predictor.classes()[c].clone());
                    row.extend(p.iter().map(|v| format!("{v:.6}")));
                }
                _ => {
                    row.push("0".into());
                    row.push(String::new());
                    row.extend(predictor.classes().iter().map(|_| String::new()));
                }
            }
            w.write_record(&row)?;
        }
        w.flush()?;
        let series = predictor
            .classes()
            .iter()
            .enumerate()
            .map(|(c, name)| {
                let pts = windows
                    .iter()
                    .map(|x| {
                        (
                            (x.start_s + x.end_s) / 2.0,
                            x.probs.as_ref().map_or(0.0, |p| p[c]),
                        )
                    })
                    .collect();
                (name.clone(), pts)
            })
            .collect();
        let end = windows.last().map_or(1.0, |x| x.end_s).max(1e-3);
        let fig = render(&Lines {
            title: format!(
                "{name}: class probability per {:.1} s window (silence: 0)",
                cfg.window_s
            ),
            x_label: "time (s)".into(),
            y_label: "probability".into(),
            x: (0.0, end),
            y: (0.0, 1.0),
            series,
        })
        .map_err(anyhow::Error::msg)?;
        std::fs::write(dir.join(format!("{name}.timeline.png")), &fig.png)?;
        std::fs::write(dir.join(format!("{name}.timeline.svg")), &fig.svg)?;
        let summary = predictor.summarize(&windows);
        std::fs::write(
            dir.join(format!("{name}.summary.json")),
            serde_json::to_string_pretty(&serde_json::json!({ "file": f, "summary": summary }))?,
        )?;
        let mut shares: Vec<&(String, f64)> = summary.share.iter().filter(|s| s.1 > 0.0).collect();
        shares.sort_by(|a, b| b.1.total_cmp(&a.1));
        let shown: Vec<String> = shares
            .iter()
            .map(|(c, v)| format!("{c} {:.0}%", v * 100.0))
            .collect();
        println!(
            "{f}: {:.1} s, speech in {:.0}% of windows; {}",
            summary.seconds,
            summary.speech_share * 100.0,
            if shown.is_empty() {
                "no speech".to_string()
            } else {
                shown.join(", ")
            }
        );
    }
    eprintln!("timelines in {}", dir.display());
    if failed.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("{} file(s) not scored:", failed.len());
    for e in &failed {
        eprintln!("  {e}");
    }
    Ok(ExitCode::from(3))
}

/// The audio files named by `p`: itself, the audio under a folder (sorted), or a manifest's
/// `path` column.
fn expand(p: &Path, out: &mut Vec<String>) -> anyhow::Result<()> {
    if p.is_dir() {
        let mut found = Vec::new();
        let mut stack = vec![p.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
                let path = e?.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path
                    .extension()
                    .and_then(|x| x.to_str())
                    .is_some_and(|x| AUDIO.contains(&x.to_ascii_lowercase().as_str()))
                {
                    found.push(path.display().to_string());
                }
            }
        }
        found.sort();
        if found.is_empty() {
            bail!(
                "{}: no audio files ({}) under it",
                p.display(),
                AUDIO.join(", ")
            );
        }
        out.extend(found);
    } else if p.extension().is_some_and(|x| x == "csv") {
        let mut r =
            csv::Reader::from_path(p).with_context(|| format!("reading {}", p.display()))?;
        let col = r
            .headers()?
            .iter()
            .position(|h| h.trim() == "path")
            .with_context(|| format!("{}: no `path` column in the header", p.display()))?;
        let base = p.parent().unwrap_or(Path::new("."));
        for row in r.records() {
            let row = row.with_context(|| format!("reading {}", p.display()))?;
            let f = Path::new(row.get(col).unwrap_or_default().trim());
            out.push(
                if f.is_relative() {
                    base.join(f)
                } else {
                    f.to_path_buf()
                }
                .display()
                .to_string(),
            );
        }
    } else if p.exists() {
        out.push(p.display().to_string());
    } else {
        bail!("{}: no such file or folder", p.display());
    }
    Ok(())
}

/// Where rows go.
enum Out {
    Csv(Box<csv::Writer<Box<dyn Write>>>),
    Jsonl(Box<dyn Write>),
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let mut files = Vec::new();
    for p in &a.paths {
        expand(p, &mut files)?;
    }
    let (predictor, device_name) =
        crate::commands::model::load(&a.model, &a.device, a.norm_group.as_deref())?;
    let predictor = predictor.as_ref();
    eprintln!(
        "{} file(s); model {} on {device_name}, features on {}",
        files.len(),
        a.model.display(),
        predictor.describe()
    );
    if a.timeline {
        let dir = a.out.clone().expect("clap requires --out");
        return timelines(&a, predictor, &files, &dir);
    }
    let jsonl = a
        .out
        .as_ref()
        .is_some_and(|o| o.extension().is_some_and(|x| x == "jsonl"));
    let sink: Box<dyn Write> = match &a.out {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = if jsonl {
        Out::Jsonl(sink)
    } else {
        let mut w = csv::Writer::from_writer(sink);
        let mut head = vec!["path".to_string(), "predicted".into(), "seconds".into()];
        head.extend(predictor.classes().iter().map(|c| format!("p_{c}")));
        w.write_record(&head)?;
        Out::Csv(Box::new(w))
    };
    let bar = ClipBar::new("predict");
    bar.start(files.len());
    let mut failed = Vec::new();
    // Chunks bound the memory of decoded audio and features.
    for (k, chunk) in files.chunks(256).enumerate() {
        for r in predictor.predict(chunk, a.batch) {
            match r {
                Err(e) => failed.push(e),
                Ok(p) => {
                    let class = &predictor.classes()[p.class];
                    match &mut out {
                        Out::Csv(w) => {
                            let mut row =
                                vec![p.path.clone(), class.clone(), format!("{:.3}", p.seconds)];
                            row.extend(p.probs.iter().map(|v| format!("{v:.6}")));
                            w.write_record(&row)?;
                        }
                        Out::Jsonl(sink) => {
                            let probs: serde_json::Map<String, serde_json::Value> = predictor
                                .classes()
                                .iter()
                                .zip(&p.probs)
                                .map(|(c, v)| (c.clone(), serde_json::json!(v)))
                                .collect();
                            let line = serde_json::json!({
                                "path": p.path,
                                "predicted": class,
                                "seconds": p.seconds,
                                "probabilities": probs,
                            });
                            writeln!(sink, "{line}")?;
                        }
                    }
                }
            }
        }
        bar.set((k * 256 + chunk.len()).min(files.len()));
    }
    bar.finish();
    match &mut out {
        Out::Csv(w) => w.flush()?,
        Out::Jsonl(s) => s.flush()?,
    }
    if failed.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("{} file(s) not scored:", failed.len());
    for e in failed.iter().take(20) {
        eprintln!("  {e}");
    }
    if failed.len() > 20 {
        eprintln!("  ... and {} more", failed.len() - 20);
    }
    Ok(ExitCode::from(3))
}
