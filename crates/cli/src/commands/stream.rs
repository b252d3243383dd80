//! `ser stream`: emotion of live audio from standard input, one JSON line per window as soon
//! as the window is complete.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use ser_audio::Decoded;
use ser_infer::rms_db;

use crate::commands::predict::WindowArgs;

/// Arguments of `ser stream`.
#[derive(clap::Args)]
#[command(after_help = "Reads raw PCM from standard input, e.g.\n  \
sox -d -t raw -r 16000 -e signed -b 16 -c 1 - | ser stream runs/synth_cnn_lstm\n  \
arecord -f S16_LE -r 16000 -c 1 -t raw | ser stream runs/synth_cnn_lstm\n\
and prints, as soon as each window is complete, one JSON line: start_s, end_s, rms_db, speech, \
predicted, probabilities. Each window is cleaned (the run's cleaning without trimming) and \
scored on its own, so a file piped in gives the windows of `ser predict --timeline` on that file \
(same window and hop). The VAD is causal: a window is silence when it is more than --vad-db \
below the loudest window so far, or below -70 dBFS. Latency: one window plus its scoring. On \
exit the real-time factor (processing time / audio time) goes to standard error.")]
pub struct Args {
    /// Run folder of the model, or an exported FILE.onnx (card beside it).
    #[arg(value_name = "MODEL")]
    model: PathBuf,
    /// Sample rate of the input in Hz.
    #[arg(long, default_value_t = 16_000, value_name = "HZ")]
    rate: u32,
    /// Sample format: s16le (16-bit signed little-endian) or f32le.
    #[arg(long, default_value = "s16le", value_name = "FORMAT")]
    format: String,
    /// Interleaved channels of the input (averaged to mono).
    #[arg(long, default_value_t = 1, value_name = "N")]
    channels: usize,
    #[command(flatten)]
    windows: WindowArgs,
    /// Where the model runs: flex, wgpu, cuda or auto.
    #[arg(long, default_value = "flex", value_name = "DEVICE")]
    device: String,
    /// Runs trained with split.normalize = "corpus" / "speaker": the corpus (or
    /// corpus/speaker) whose own statistics standardize the input, one the run folder kept
    /// in group_normalizers.json.
    #[arg(long, value_name = "NAME")]
    norm_group: Option<String>,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let bytes_per = match a.format.as_str() {
        "s16le" => 2,
        "f32le" => 4,
        other => bail!("--format {other}: use s16le or f32le"),
    };
    if a.rate == 0 || a.channels == 0 {
        bail!("--rate and --channels must be > 0");
    }
    let t = a.windows.config()?;
    let (predictor, device_name) =
        crate::commands::model::load(&a.model, &a.device, a.norm_group.as_deref())?;
    eprintln!(
        "streaming {}-channel {} at {} Hz into {} on {device_name}: {} s windows every {} s",
        a.channels,
        a.format,
        a.rate,
        a.model.display(),
        t.window_s,
        t.hop_s
    );
    // Window and hop in input frames, from the model-rate sample counts the timeline uses,
    // so that windows line up with `ser predict --timeline` on the same audio.
    let model_rate = predictor.rate() as f64;
    let to_input =
        |s: f64| ((s * model_rate) as usize as f64 * a.rate as f64 / model_rate).round() as usize;
    let (win, hop) = (to_input(t.window_s), to_input(t.hop_s).max(1));
    let frame_bytes = bytes_per * a.channels;
    let mut pending: Vec<u8> = Vec::new();
    let mut buf: Vec<f32> = Vec::new(); // interleaved samples from `offset` (frames) on
    let mut offset = 0usize; // input frame index of buf[0]
    let mut next = 0usize; // start frame of the next window
    let mut loudest = f64::NEG_INFINITY;
    let (mut windows, mut total_frames) = (0usize, 0usize);
    let started = Instant::now();
    let mut stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    let mut chunk = vec![0u8; 1 << 15];
    loop {
        let n = stdin.read(&mut chunk).context("reading standard input")?;
        if n == 0 {
            break;
        }
        pending.extend_from_slice(&chunk[..n]);
        let whole = pending.len() / frame_bytes * frame_bytes;
        for s in pending[..whole].chunks_exact(bytes_per) {
            let v = if bytes_per == 2 {
                i16::from_le_bytes([s[0], s[1]]) as f32 / 32768.0
            } else {
                f32::from_le_bytes([s[0], s[1], s[2], s[3]])
            };
            buf.push(if v.is_finite() { v } else { 0.0 });
        }
        total_frames += whole / frame_bytes;
        pending.drain(..whole);
        while next + win <= offset + buf.len() / a.channels {
            let from = (next - offset) * a.channels;
            let raw = Decoded {
                samples: buf[from..from + win * a.channels].to_vec(),
                channels: a.channels,
                sample_rate: a.rate,
            };
            let start_s = next as f64 / a.rate as f64;
            let end_s = (next + win) as f64 / a.rate as f64;
            let y = if raw.samples.iter().all(|v| *v == 0.0) {
                Vec::new()
            } else {
                predictor
                    .window_cleaner()
                    .clean(&raw)
                    .map_err(anyhow::Error::from)?
            };
            let level = rms_db(&y);
            loudest = loudest.max(level);
            let speech = !y.is_empty() && level >= (loudest - t.vad_db).max(-70.0);
            let mut line = serde_json::json!({
                "start_s": start_s,
                "end_s": end_s,
                "rms_db": level,
                "speech": speech,
            });
            if speech {
                let p = predictor
                    .probabilities(&[y], 1)
                    .map_err(anyhow::Error::msg)?
                    .remove(0);
                let best = (0..p.len())
                    .max_by(|&i, &j| p[i].total_cmp(&p[j]))
                    .unwrap_or(0);
                line["predicted"] = serde_json::json!(predictor.classes()[best]);
                line["probabilities"] = predictor
                    .classes()
                    .iter()
                    .zip(&p)
                    .map(|(c, v)| (c.clone(), serde_json::json!(v)))
                    .collect::<serde_json::Map<_, _>>()
                    .into();
            }
            writeln!(stdout, "{line}")?;
            stdout.flush()?;
            windows += 1;
            next += hop;
        }
        // Keep only what later windows need.
        let keep_from = next.min(offset + buf.len() / a.channels);
        buf.drain(..(keep_from - offset) * a.channels);
        offset = keep_from;
    }
    let audio_s = total_frames as f64 / a.rate as f64;
    if total_frames == 0 {
        eprintln!("no audio on standard input");
    } else {
        let busy = started.elapsed().as_secs_f64();
        eprintln!(
            "{windows} window(s) over {audio_s:.3} s of audio; real-time factor {:.4} ({busy:.3} s processing / audio time)",
            busy / audio_s
        );
    }
    Ok(ExitCode::SUCCESS)
}
