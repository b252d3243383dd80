//! The feature front end as ONNX ops, for `ser export --with-frontend`: waveform samples in
//! 16-bit range at the model's rate in, the frame features ser computes (and the centre
//! segment it scores) out, so that the exported file alone turns audio into probabilities.
//!
//! Each stage is the ONNX form of ser's CPU reference (`ser-features`): pre-emphasis with the
//! same extrapolated first sample, peak / RMS normalization per item, centre padding with
//! the configured `np.pad` mode, the opset-17 `STFT` op with ser's padded window, power,
//! the mel projection as a `MatMul` with ser's own filterbank (ONNX's `MelWeightMatrix` is
//! HTK-scaled without Slaney's area normalization, so it would not be librosa's), `power_to_db`
//! with a fixed or per-item maximum reference and `top_db`, the orthonormal DCT (lifter folded
//! in) as a `MatMul`, and Savitzky-Golay deltas as a grouped `Conv` whose edges repeat the
//! nearest full window (`mode="interp"`). What ONNX cannot express as a fixed graph
//! (Butterworth IIR filtering, spectral gating, gated LUFS loudness) is refused by
//! [`Frontend::check`], naming the key. Silence trimming is not in the graph: the graph scores
//! the audio it is given, as ser scores the windows of long recordings.

use ser_dsp::window_padded;
use ser_features::{
    Extractor, FeatureConfig, FrameFeature, MelFilterbank, dct_matrix, savgol_coefficients,
};

use crate::{A, ExportError, Graph};

/// What the graph does with inputs of another length than the network's segment, as ser's
/// evaluation does: longer ones give their centre `frames` frames, shorter ones are filled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    /// Frames the network reads per item.
    pub frames: usize,
    /// How shorter inputs are filled.
    pub short: ShortFill,
}

/// Filling of inputs shorter than the segment (ser's `segment.policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShortFill {
    /// Frames repeated until the segment is full (`tile`).
    Tile,
    /// The clip's lowest feature value after it (`crop`: the silence ser's model saw).
    Floor,
}

/// The front end to put before a network: the feature config it computes, the frame arrays
/// the network reads (in order) and the segment, if the graph should cut one.
pub struct Frontend<'a> {
    /// The feature pipeline (only its `[audio]` cleaning steps that ONNX can express, and the
    /// frame features).
    pub config: &'a FeatureConfig,
    /// Names of the frame arrays the network reads, concatenated per frame in this order
    /// (e.g. `["logmel", "logmel_delta"]`).
    pub arrays: &'a [String],
    /// The segment ser scores; `None` passes every frame to the network.
    pub segment: Option<Segment>,
}

/// What a caller must know to feed the graph.
#[derive(Debug, Clone, PartialEq)]
pub struct FrontendInfo {
    /// Values per frame the front end hands the network.
    pub n_features: usize,
    /// The shortest input (samples) the graph accepts: one frame, or a full delta window.
    pub min_samples: usize,
}

/// One of the base arrays before deltas.
fn base(name: &str) -> Option<(FrameFeature, usize)> {
    let (stem, order) = match name.rsplit_once('_') {
        Some((s, "delta")) => (s, 1),
        Some((s, "delta2")) => (s, 2),
        _ => (name, 0),
    };
    let f = match stem {
        "spectrogram" => FrameFeature::Spectrogram,
        "mel" => FrameFeature::Mel,
        "logmel" => FrameFeature::Logmel,
        "mfcc" => FrameFeature::Mfcc,
        _ => return None,
    };
    Some((f, order))
}

impl Frontend<'_> {
    /// Refuses what the graph cannot compute, naming the key and the way out; returns the
    /// feature width and the shortest input.
    pub fn check(&self) -> Result<FrontendInfo, ExportError> {
        let c = self.config;
        let refuse = |what: &str| {
            Err(ExportError::Unsupported(format!(
                "--with-frontend: {what} has no fixed ONNX graph; export without --with-frontend \
                 (the graph then reads ser's frame features) or train with it off"
            )))
        };
        if c.audio.bandpass.enabled {
            return refuse("audio.bandpass (a Butterworth IIR filter)");
        }
        if c.audio.denoise.enabled {
            return refuse("audio.denoise (spectral gating from per-clip noise statistics)");
        }
        if c.audio.normalize.mode == ser_audio::NormalizeMode::Lufs {
            return refuse("audio.normalize.mode = \"lufs\" (K-weighted, gated loudness)");
        }
        if self.arrays.is_empty() {
            return Err(ExportError::Unsupported(
                "--with-frontend: the network reads no frame array".into(),
            ));
        }
        // The arrays and widths ser's own extractor computes for this config.
        let mut frames_only = c.clone();
        frames_only.functionals.enabled = false;
        let extractor =
            Extractor::new(frames_only).map_err(|e| ExportError::Unsupported(e.to_string()))?;
        let layout = extractor.frame_layout();
        let p = c.stft.params().map_err(ExportError::Unsupported)?;
        let (mut n_features, mut needs_deltas) = (0, false);
        for name in self.arrays {
            let Some((_, dim)) = layout.iter().find(|(n, _)| n == name) else {
                let known: Vec<&str> = layout.iter().map(|(n, _)| n.as_str()).collect();
                return Err(ExportError::Unsupported(format!(
                    "--with-frontend: the feature config does not compute {name:?} (it computes {})",
                    known.join(", ")
                )));
            };
            needs_deltas |= base(name).is_some_and(|(_, order)| order > 0);
            n_features += dim;
        }
        let frames = if needs_deltas { c.deltas.width } else { 1 };
        let pad = if p.center { p.n_fft / 2 } else { 0 };
        let mut min = ((frames - 1) * p.hop_length + p.n_fft).saturating_sub(2 * pad);
        if p.center && p.pad_mode != ser_dsp::PadMode::Constant {
            // np.pad's reflect / edge need a sample beyond the pad (ONNX's Pad reflects once).
            min = min.max(pad + 1);
        }
        if c.audio.preemphasis != 0.0 {
            min = min.max(2);
        }
        Ok(FrontendInfo {
            n_features,
            min_samples: min.max(1),
        })
    }

    /// Adds the front end reading `waveform` `[batch, samples]` to `g`; returns the name of
    /// its frame features `[batch, time, n_features]`.
    pub(crate) fn build(&self, g: &mut Graph, waveform: &str) -> Result<String, ExportError> {
        self.check()?;
        let c = self.config;
        let p = c.stft.params().map_err(ExportError::Unsupported)?;
        let mut x = g.mul_scalar(waveform, 1.0 / 32768.0);
        if c.audio.preemphasis != 0.0 {
            // y[n] = x[n] - coef x[n-1], x[-1] extrapolated as 2 x[0] - x[1] (ser's).
            let x0 = g.slice(&x, 0, 1, 1);
            let x1 = g.slice(&x, 1, 2, 1);
            let twice = g.mul_scalar(&x0, 2.0);
            let first = g.op("Sub", &[&twice, &x1], vec![]);
            let head = g.slice(&x, 0, -1, 1);
            let prev = g.op("Concat", &[&first, &head], vec![("axis", A::I(1))]);
            let scaled = g.mul_scalar(&prev, c.audio.preemphasis);
            x = g.op("Sub", &[&x, &scaled], vec![]);
        }
        let target = 10f32.powf(c.audio.normalize.target_level() as f32 / 20.0);
        let level = match c.audio.normalize.mode {
            ser_audio::NormalizeMode::Peak => {
                let a = g.op("Abs", &[&x], vec![]);
                Some(g.op(
                    "ReduceMax",
                    &[&a],
                    vec![("axes", A::Ints(vec![1])), ("keepdims", A::I(1))],
                ))
            }
            ser_audio::NormalizeMode::Rms => {
                let sq = g.op("Mul", &[&x, &x], vec![]);
                let ms = g.op(
                    "ReduceMean",
                    &[&sq],
                    vec![("axes", A::Ints(vec![1])), ("keepdims", A::I(1))],
                );
                Some(g.op("Sqrt", &[&ms], vec![]))
            }
            _ => None,
        };
        if let Some(level) = level {
            let t = g.scalar("target", target);
            let gain = g.op("Div", &[&t, &level], vec![]);
            x = g.op("Mul", &[&x, &gain], vec![]);
        }
        if p.center {
            let half = (p.n_fft / 2) as i64;
            let pads = g.ints("pads", &[0, half, 0, half]);
            let mode = match p.pad_mode {
                ser_dsp::PadMode::Constant => "constant",
                ser_dsp::PadMode::Reflect => "reflect",
                ser_dsp::PadMode::Edge => "edge",
            };
            x = g.op("Pad", &[&x, &pads], vec![("mode", A::S(mode))]);
        }
        let axes = g.ints("axes", &[2]);
        let signal = g.op("Unsqueeze", &[&x, &axes], vec![]);
        let win: Vec<f64> = window_padded(p.window, p.win_length, p.n_fft)
            .map_err(|e| ExportError::Unsupported(e.to_string()))?;
        let window = g.tensor(
            "window",
            &[p.n_fft],
            win.iter().map(|&v| v as f32).collect(),
        );
        let step = g.int_scalar("hop", p.hop_length as i64);
        let length = g.int_scalar("n_fft", p.n_fft as i64);
        // [B, T, bins, 2] (real, imaginary)
        let stft = g.op(
            "STFT",
            &[&signal, &step, &window, &length],
            vec![("onesided", A::I(1))],
        );
        let power2 = g.op(
            "ReduceSumSquare",
            &[&stft],
            vec![("axes", A::Ints(vec![3])), ("keepdims", A::I(0))],
        );
        let power = c.mel.power;
        let spec = if power == 2.0 {
            power2
        } else {
            let mag = g.op("Sqrt", &[&power2], vec![]);
            if power == 1.0 {
                mag
            } else {
                let e = g.scalar("power", power as f32);
                g.op("Pow", &[&mag, &e], vec![])
            }
        };
        let want = |f: FrameFeature| self.arrays.iter().any(|a| base(a).unwrap().0 == f);
        let n_bins = p.n_fft / 2 + 1;
        let n_mels = c.mel.n_mels;
        let need_mel =
            want(FrameFeature::Mel) || want(FrameFeature::Logmel) || want(FrameFeature::Mfcc);
        let mut arrays: Vec<(FrameFeature, String, usize)> = Vec::new();
        arrays.push((FrameFeature::Spectrogram, spec.clone(), n_bins));
        if need_mel {
            let fb = MelFilterbank::new(
                c.audio.sample_rate as f64,
                p.n_fft,
                n_mels,
                c.mel.fmin,
                c.fmax(),
                c.mel.htk,
                c.mel.norm == "slaney",
            );
            let dense = &fb.dense(); // [n_mels, n_bins]
            let wt: Vec<f32> = (0..n_bins)
                .flat_map(|b| dense.iter().map(move |row| row[b] as f32))
                .collect();
            let w = g.tensor("mel_basis", &[n_bins, n_mels], wt);
            let mel = g.op("MatMul", &[&spec, &w], vec![]);
            arrays.push((FrameFeature::Mel, mel.clone(), n_mels));
            let db = self.power_to_db(g, &mel);
            arrays.push((FrameFeature::Logmel, db.clone(), n_mels));
            if want(FrameFeature::Mfcc) {
                let n_mfcc = c.mfcc.n_mfcc;
                let m = &dct_matrix(n_mfcc, n_mels, c.mfcc.lifter); // [n_mfcc, n_mels]
                let mt: Vec<f32> = (0..n_mels)
                    .flat_map(|j| (0..n_mfcc).map(move |k| m[k * n_mels + j] as f32))
                    .collect();
                let w = g.tensor("dct", &[n_mels, n_mfcc], mt);
                let mfcc = g.op("MatMul", &[&db, &w], vec![]);
                arrays.push((FrameFeature::Mfcc, mfcc, n_mfcc));
            }
        }
        let mut picked = Vec::new();
        for name in self.arrays {
            let (f, order) = base(name).unwrap();
            let (_, t, dim) = arrays.iter().find(|a| a.0 == f).unwrap().clone();
            picked.push(if order == 0 {
                t
            } else {
                delta(g, &t, dim, c.deltas.width, order)
            });
        }
        let refs: Vec<&str> = picked.iter().map(String::as_str).collect();
        let frames = if refs.len() == 1 {
            picked[0].clone()
        } else {
            g.op("Concat", &refs, vec![("axis", A::I(2))])
        };
        Ok(match self.segment {
            None => frames,
            Some(s) => segment(g, &frames, s),
        })
    }

    /// `power_to_db`: `10 log10(max(amin, S)) - 10 log10(max(amin, ref))`, clipped at the
    /// item's maximum less `top_db`.
    fn power_to_db(&self, g: &mut Graph, mel: &str) -> String {
        let db = &self.config.db;
        let amin = g.scalar("amin", db.amin as f32);
        let ten_over_ln10 = 10.0 / std::f32::consts::LN_10;
        let floored = g.op("Max", &[mel, &amin], vec![]);
        let ln = g.op("Log", &[&floored], vec![]);
        let mut out = g.mul_scalar(&ln, ten_over_ln10);
        match db.fixed_reference() {
            Some(r) => {
                let offset = 10.0 * r.max(db.amin).log10();
                if offset != 0.0 {
                    let o = g.scalar("ref_db", offset as f32);
                    out = g.op("Sub", &[&out, &o], vec![]);
                }
            }
            None => {
                let top = g.op(
                    "ReduceMax",
                    &[mel],
                    vec![("axes", A::Ints(vec![1, 2])), ("keepdims", A::I(1))],
                );
                let top = g.op("Max", &[&top, &amin], vec![]);
                let ln = g.op("Log", &[&top], vec![]);
                let o = g.mul_scalar(&ln, ten_over_ln10);
                out = g.op("Sub", &[&out, &o], vec![]);
            }
        }
        if db.top_db.is_finite() {
            let top = g.op(
                "ReduceMax",
                &[&out],
                vec![("axes", A::Ints(vec![1, 2])), ("keepdims", A::I(1))],
            );
            let range = g.scalar("top_db", db.top_db as f32);
            let floor = g.op("Sub", &[&top, &range], vec![]);
            out = g.op("Max", &[&out, &floor], vec![]);
        }
        out
    }
}

/// Savitzky-Golay derivative of `x` `[B, T, dim]` along time: a grouped valid `Conv` over the
/// full windows, the edges repeating the nearest one (needs `T >= width`).
fn delta(g: &mut Graph, x: &str, dim: usize, width: usize, order: usize) -> String {
    let coefs = savgol_coefficients(width, order);
    let w: Vec<f32> = (0..dim)
        .flat_map(|_| coefs.iter().map(|&v| v as f32))
        .collect();
    let w = g.tensor("savgol", &[dim, 1, width], w);
    let t = g.op("Transpose", &[x], vec![("perm", A::Ints(vec![0, 2, 1]))]);
    let conv = g.op(
        "Conv",
        &[&t, &w],
        vec![
            ("kernel_shape", A::Ints(vec![width as i64])),
            ("group", A::I(dim as i64)),
        ],
    );
    let half = (width / 2) as i64;
    let pads = g.ints("pads", &[0, 0, half, 0, 0, half]);
    let padded = g.op("Pad", &[&conv, &pads], vec![("mode", A::S("edge"))]);
    g.op(
        "Transpose",
        &[&padded],
        vec![("perm", A::Ints(vec![0, 2, 1]))],
    )
}

/// ser's evaluation segment of `x` `[B, T, D]`: the centre `s.frames` frames of longer
/// inputs, shorter ones tiled or followed by their floor value.
fn segment(g: &mut Graph, x: &str, s: Segment) -> String {
    let shape = g.op("Shape", &[x], vec![]);
    let i1 = g.ints("i", &[1]);
    let t = g.op("Gather", &[&shape, &i1], vec![("axis", A::I(0))]); // [1]
    let len = g.ints("segment", &[s.frames as i64]);
    let zero = g.ints("zero", &[0]);
    let two = g.ints("two", &[2]);
    let excess = g.op("Sub", &[&t, &len], vec![]);
    let excess = g.op("Max", &[&excess, &zero], vec![]);
    let start = g.op("Div", &[&excess, &two], vec![]);
    let end = g.op("Add", &[&start, &len], vec![]);
    let filled = match s.short {
        ShortFill::Tile => {
            // ceil(S / T) copies (1 for T >= S).
            let one = g.ints("one", &[1]);
            let sum = g.op("Add", &[&len, &t], vec![]);
            let sum = g.op("Sub", &[&sum, &one], vec![]);
            let reps = g.op("Div", &[&sum, &t], vec![]);
            let repeats = g.op("Concat", &[&one, &reps, &one], vec![("axis", A::I(0))]);
            g.op("Tile", &[x, &repeats], vec![])
        }
        ShortFill::Floor => {
            let lowest = g.op(
                "ReduceMin",
                &[x],
                vec![("axes", A::Ints(vec![1, 2])), ("keepdims", A::I(1))],
            );
            let missing = g.op("Sub", &[&len, &t], vec![]);
            let missing = g.op("Max", &[&missing, &zero], vec![]);
            let (i0, i2) = (g.ints("i", &[0]), g.ints("i", &[2]));
            let b = g.op("Gather", &[&shape, &i0], vec![("axis", A::I(0))]);
            let d = g.op("Gather", &[&shape, &i2], vec![("axis", A::I(0))]);
            let fill_shape = g.op("Concat", &[&b, &missing, &d], vec![("axis", A::I(0))]);
            let fill = g.op("Expand", &[&lowest, &fill_shape], vec![]);
            g.op("Concat", &[x, &fill], vec![("axis", A::I(1))])
        }
    };
    let axes = g.ints("axes", &[1]);
    g.op("Slice", &[&filled, &start, &end, &axes], vec![])
}
