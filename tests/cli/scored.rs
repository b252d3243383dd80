//! One small trained network that the predict, stream and export tests share, trained once
//! per test binary: an LSTM on the tiny synthetic RAVDESS-layout corpus with speaker 02 held
//! out, and a recording of eight of that speaker's clips, 1.5 s of silence after each, scored
//! as a timeline (1 s windows every 0.25 s).
//!
//! It lives under cargo's `CARGO_TARGET_TMPDIR`, not in a temporary folder: a static is never
//! dropped, so nothing would delete one. Folders of earlier test runs older than a day are
//! removed when the next one starts.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use crate::support::{features, read_csv, run, ser, synth_tiny, text};

/// The shared run and what was scored with it.
pub struct Scored {
    /// A folder the tests may write into (each under its own sub-folder).
    pub root: PathBuf,
    /// The run folder (`ser run` of the LSTM experiment).
    pub run_dir: PathBuf,
    /// The feature cache the run trained on.
    pub cache: PathBuf,
    /// The synthetic RAVDESS-layout corpus.
    pub rav: PathBuf,
    /// The run's predictions.csv rows: the 60 clips of test speaker 02.
    pub predictions: Vec<Vec<String>>,
    /// The eight clips of the recording, in order, and their spans in it (seconds).
    pub clips: Vec<PathBuf>,
    /// Start and end of each clip in the recording, in seconds.
    pub spans: Vec<(f64, f64)>,
    /// The recording (16 kHz, 16-bit WAV).
    pub rec: PathBuf,
    /// Its timeline rows (`rec.timeline.csv`, header left out).
    pub timeline: Vec<Vec<String>>,
}

impl Scored {
    /// A fresh folder under [`Scored::root`] for one test.
    pub fn dir(&self, name: &str) -> PathBuf {
        let d = self.root.join(name);
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}

/// Start and end (seconds) of a timeline row.
pub fn span(r: &[String]) -> (f64, f64) {
    (r[0].parse().unwrap(), r[1].parse().unwrap())
}

/// The recording as raw 16-bit little-endian PCM, as `ser stream` reads it.
pub fn pcm(rec: &Path) -> Vec<u8> {
    ser_audio::decode_file(rec)
        .unwrap()
        .samples
        .iter()
        .flat_map(|v| ((v * 32768.0).round().clamp(-32768.0, 32767.0) as i16).to_le_bytes())
        .collect()
}

/// The shared run, trained on first use.
pub fn scored() -> &'static Scored {
    static SCORED: OnceLock<Scored> = OnceLock::new();
    SCORED.get_or_init(train)
}

fn train() -> Scored {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
    remove_old(base);
    std::fs::create_dir_all(base).unwrap();
    let root = tempfile::Builder::new()
        .prefix("cli-scored-")
        .tempdir_in(base)
        .unwrap()
        .keep();
    let synth = root.join("synth");
    synth_tiny(&synth);
    let cache = root.join("cache.h5");
    let rav = synth.join("ravdess");
    let exp = root.join("net.toml");
    std::fs::write(
        &exp,
        format!(
            "name = \"net\"\n[data]\ncache = \"{}\"\nframes = [\"logmel\"]\ncorpora = [\"{}\"]\nfeatures = \"{}\"\n\
             [split]\ntest_list = [\"synth_ravdess/02\"]\nval_list = [\"synth_ravdess/03\"]\n[segment]\nframes = 100\n\
             [model]\nkind = \"lstm\"\n[model.lstm]\nhidden = 16\nlayers = 1\n[model.head]\nhidden = []\n\
             [train]\nepochs = 2\nbatch_size = 16\n",
            cache.display(),
            rav.display(),
            features().display()
        ),
    )
    .unwrap();
    let runs = root.join("runs");
    let o = run(ser().arg("run").arg(&exp).arg("--runs").arg(&runs));
    assert!(o.status.success(), "{}", text(&o));
    let run_dir = runs.join("net");
    assert!(run_dir.join("features.toml").exists());
    let predictions = read_csv(&run_dir.join("predictions.csv"));
    assert_eq!(predictions.len(), 60);

    let clips: Vec<PathBuf> = (1..=8)
        .map(|e| rav.join(format!("Actor_02/03-01-0{e}-01-01-01-02.wav")))
        .collect();
    let (mut y, mut spans) = (Vec::new(), Vec::new());
    for c in &clips {
        let d = ser_audio::decode_file(c).unwrap();
        assert_eq!(d.sample_rate, 16_000);
        let t0 = y.len() as f64 / 16_000.0;
        y.extend_from_slice(&d.samples);
        spans.push((t0, y.len() as f64 / 16_000.0));
        y.extend(std::iter::repeat_n(0.0f32, 24_000));
    }
    let rec = root.join("rec.wav");
    ser_audio::write_wav_i16(&rec, &y, 16_000).unwrap();
    let tl = root.join("tl");
    let o = run(ser()
        .arg("predict")
        .arg(&run_dir)
        .arg(&rec)
        .args(["--timeline", "--window", "1.0", "--hop", "0.25", "--out"])
        .arg(&tl));
    assert!(o.status.success(), "{}", text(&o));
    let timeline = read_csv(&tl.join("rec.timeline.csv"));
    Scored {
        root,
        run_dir,
        cache,
        rav,
        predictions,
        clips,
        spans,
        rec,
        timeline,
    }
}

/// Removes `cli-scored-*` folders of test runs that started more than a day ago.
fn remove_old(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    let day_ago = SystemTime::now() - Duration::from_secs(24 * 3600);
    for e in entries.flatten() {
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t < day_ago);
        if old && e.file_name().to_string_lossy().starts_with("cli-scored-") {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}
