//! indicatif progress bars behind the libraries' progress callbacks.

use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};

/// A bar counting clips, with clips/s, audio-seconds/s and ETA.
pub struct ClipBar {
    bar: Mutex<Option<ProgressBar>>,
    label: &'static str,
    audio: Mutex<f64>,
}

impl ClipBar {
    pub fn new(label: &'static str) -> Self {
        ClipBar {
            bar: Mutex::new(None),
            label,
            audio: Mutex::new(0.0),
        }
    }

    fn style() -> ProgressStyle {
        ProgressStyle::with_template(
            "{prefix:>9} [{bar:30}] {pos}/{len} clips  {per_sec}  {msg}  ETA {eta}",
        )
        .expect("valid template")
        .progress_chars("=> ")
    }

    pub fn start(&self, total: usize) {
        let bar = ProgressBar::new(total as u64)
            .with_style(Self::style())
            .with_prefix(self.label);
        *self.bar.lock().unwrap() = Some(bar);
    }

    pub fn set(&self, done: usize) {
        if let Some(b) = self.bar.lock().unwrap().as_ref() {
            b.set_position(done as u64);
        }
    }

    pub fn finish(&self) {
        if let Some(b) = self.bar.lock().unwrap().take() {
            b.finish_and_clear();
        }
    }

    fn println(&self, msg: &str) {
        match self.bar.lock().unwrap().as_ref() {
            Some(b) => b.println(msg),
            None => eprintln!("{msg}"),
        }
    }
}

impl ser_cache::Progress for ClipBar {
    fn begin(&self, todo: usize, reused: usize) {
        if reused > 0 {
            self.println(&format!(
                "reusing {reused} clips already extracted with this config"
            ));
        }
        self.start(todo);
    }

    fn advance(&self, clips: usize, audio_s: f64) {
        let mut a = self.audio.lock().unwrap();
        *a += audio_s;
        if let Some(b) = self.bar.lock().unwrap().as_ref() {
            b.inc(clips as u64);
            let secs = b.elapsed().as_secs_f64().max(1e-9);
            b.set_message(format!("{:.0} audio-s/s", *a / secs));
        }
    }

    fn note(&self, message: &str) {
        self.println(message);
    }
}
