//! A small feature cache written directly (no audio): 4 classes, 9 speakers, class-dependent
//! log-mel patterns and functionals with speaker and clip noise, so models can learn it and
//! runs stay seconds long.

use std::path::Path;

use ser_cache::{CacheHeader, ClipMeta, Writer};
use ser_study::RunOptions;

/// Runs in `dir` on burn's flex CPU backend, stopped after `stop_after` epochs if given.
pub fn flex(dir: &Path, stop_after: Option<usize>) -> RunOptions {
    RunOptions {
        runs_dir: dir.to_path_buf(),
        device: burn::backend::FlexDevice.into(),
        replicas: Vec::new(),
        device_name: "flex".into(),
        stop_after,
    }
}

/// Labels of the toy corpus.
pub const CLASSES: [&str; 4] = ["angry", "happy", "neutral", "sad"];
/// Mel bands per frame.
pub const MELS: usize = 16;

fn rnd(state: &mut u64) -> f32 {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ((*state >> 40) as f32 / (1u64 << 24) as f32) - 0.5
}

/// Writes the toy cache: `speakers` speakers, `per_class` clips per class each.
#[allow(dead_code)] // not every test file uses it
pub fn write_cache(path: &Path, speakers: usize, per_class: usize) {
    write_corpora(path, &[("toy", speakers, per_class, 0.0)]);
}

/// Writes a toy cache of several corpora: (name, speakers, clips per class, channel shift
/// in dB added to every frame of the corpus: a domain difference).
pub fn write_corpora(path: &Path, corpora: &[(&str, usize, usize, f32)]) {
    write_toy(path, corpora, Toy::default());
}

/// How the toy classes differ and how much else varies.
#[derive(Debug, Clone, Copy)]
pub struct Toy {
    /// dB added to the class's own quarter of the mel bands.
    pub class_db: f32,
    /// Spread (uniform, +-half) of each clip's overall level in dB: recording gain, as real
    /// corpora have it, which makes the features' spread realistic (several dB).
    pub clip_level_db: f32,
}

impl Default for Toy {
    fn default() -> Self {
        Toy {
            class_db: 12.0,
            clip_level_db: 0.0,
        }
    }
}

/// [`write_corpora`] with the class contrast and level spread of `toy`.
pub fn write_toy(path: &Path, corpora: &[(&str, usize, usize, f32)], toy: Toy) {
    let header = CacheHeader {
        config_toml: "test".into(),
        config_hash: "test".into(),
        frame_layout: vec![("logmel".into(), MELS)],
        functional_names: (0..6).map(|i| format!("f{i}")).collect(),
        computed_on: vec!["toy data (tests/common)".into()],
    };
    let mut clips = Vec::new();
    let mut s = 99u64;
    for &(corpus, speakers, per_class, shift) in corpora {
        for sp in 0..speakers {
            let offset = rnd(&mut s) * 4.0;
            for (c, label) in CLASSES.iter().enumerate() {
                for k in 0..per_class {
                    let n = 40 + ((sp * 7 + k * 13 + c * 5) % 30);
                    let level = if toy.clip_level_db > 0.0 {
                        toy.clip_level_db * rnd(&mut s)
                    } else {
                        0.0
                    };
                    let mut x = Vec::with_capacity(n * MELS);
                    for t in 0..n {
                        for m in 0..MELS {
                            let band = m * CLASSES.len() / MELS;
                            let on = if band == c { toy.class_db } else { 0.0 };
                            let wobble = if c == 1 {
                                4.0 * ((t as f32) * 0.7).sin()
                            } else {
                                0.0
                            };
                            x.push(
                                -40.0 + on + wobble + offset + shift + level + 3.0 * rnd(&mut s),
                            );
                        }
                    }
                    let f: Vec<f32> = (0..6)
                    .map(|j| if j % 4 == c { 1.0 } else { 0.0 } + 0.8 * rnd(&mut s) + offset * 0.1)
                    .collect();
                    let meta = ClipMeta {
                        path: format!("{corpus}/spk{sp}/{label}_{k}.wav"),
                        corpus: corpus.into(),
                        speaker: format!("spk{sp}"),
                        gender: "unknown".into(),
                        label: label.to_string(),
                        content_hash: format!("{corpus}-{sp}-{c}-{k}"),
                        ..Default::default()
                    };
                    clips.push((meta, n, x, f));
                }
            }
        }
    }
    let total: usize = clips.iter().map(|c| c.1).sum();
    let mut w = Writer::create(path, &header, total, false).unwrap();
    for (meta, n, x, f) in clips {
        w.push(meta, n, &[x], &f).unwrap();
    }
    w.finish(&[]).unwrap();
}
