//! The leakage audit run before every experiment and printed in its report: speakers shared
//! between parts, the same audio bytes in two parts (content hash), the same recording
//! re-encoded (another sample rate, codec or container: a spectro-temporal fingerprint), and
//! sentences shared between training and test.
//!
//! The fingerprint is written here rather than taken from an audio-fingerprinting crate
//! because it is computed from features ser already has in its cache (log-mel frames after
//! resampling to the model's rate), so it costs no decoding; the crates that exist
//! (chromaprint bindings, rusty-chromaprint) decode the audio again and match song-length
//! recordings, not 2-second utterances.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::split::{Clip, LeakageError, Split, shared, speaker_key};

/// Time blocks of the coarse picture.
const BLOCKS: usize = 48;
/// Band groups of a fingerprint.
const BANDS: usize = 12;
/// Values more than this many dB below a clip's loudest are raised to it, so the noise
/// floor (which a re-encoding changes most) does not count.
const FLOOR_DB: f32 = 50.0;
/// Coarse correlation a pair needs before the frame-level check.
const COARSE_CANDIDATE: f32 = 0.9;
/// Frame-level correlation (best alignment within a few frames) at which two clips are the
/// same recording. Measured on the synthetic corpora: 18 clips re-encoded with SciPy's
/// `resample_poly` (48 kHz to 22.05 kHz, 16 kHz to 44 kHz) and extracted again score at
/// least 0.998 against their originals; the closest pair of different speakers saying the
/// same sentence scores 0.957.
pub const NEAR_DUPLICATE_CORRELATION: f32 = 0.98;

/// How a clip's spectrum moves over time, in two resolutions: per frame, `BANDS` band groups
/// of the lower three quarters of the bins (a band-limited copy, e.g. re-encoded at 8 kHz,
/// keeps them), floored at `FLOOR_DB` below the loudest value, each band's mean over time
/// removed (channel and speaker colour), in 0.5 dB steps; and `BLOCKS` time blocks of those,
/// scaled to unit norm, for a cheap first pass.
#[derive(Debug, Clone, PartialEq)]
pub struct Fingerprint {
    /// Frames of the clip.
    pub frames: usize,
    /// `BLOCKS * BANDS` values of unit norm (all zero for a clip without movement).
    coarse: Vec<f32>,
    /// `frames * BANDS` values in 0.5 dB steps.
    fine: Vec<i8>,
}

impl Fingerprint {
    /// From a clip's frame-major `[frames x dim]` log-spectral features (log-mel in dB).
    pub fn from_frames(frames: &[f32], dim: usize) -> Self {
        let n = frames.len().checked_div(dim).unwrap_or(0);
        if n == 0 {
            return Self {
                frames: 0,
                coarse: vec![0.0; BLOCKS * BANDS],
                fine: Vec::new(),
            };
        }
        let bins = (dim * 3).div_ceil(4).clamp(1, dim);
        let top = frames.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut per_band = [0usize; BANDS];
        (0..bins).for_each(|k| per_band[k * BANDS / bins] += 1);
        let mut bands = vec![0f32; n * BANDS];
        for t in 0..n {
            for k in 0..bins {
                let v = frames[t * dim + k].max(top - FLOOR_DB);
                bands[t * BANDS + k * BANDS / bins] += v / per_band[k * BANDS / bins] as f32;
            }
        }
        for b in 0..BANDS {
            let mean = (0..n).map(|t| bands[t * BANDS + b]).sum::<f32>() / n as f32;
            (0..n).for_each(|t| bands[t * BANDS + b] -= mean);
        }
        let fine = bands
            .iter()
            .map(|v| (v * 2.0).round().clamp(-127.0, 127.0) as i8)
            .collect();
        let mut coarse = vec![0f32; BLOCKS * BANDS];
        let mut count = [0f32; BLOCKS];
        for t in 0..n {
            let blk = t * BLOCKS / n;
            count[blk] += 1.0;
            for b in 0..BANDS {
                coarse[blk * BANDS + b] += bands[t * BANDS + b];
            }
        }
        for blk in 0..BLOCKS {
            for b in 0..BANDS {
                coarse[blk * BANDS + b] = if count[blk] > 0.0 {
                    coarse[blk * BANDS + b] / count[blk]
                } else if blk > 0 {
                    // Short clips leave some blocks empty: repeat the previous block.
                    coarse[(blk - 1) * BANDS + b]
                } else {
                    0.0
                };
            }
        }
        let norm = coarse.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 1e-6 && norm.is_finite() {
            coarse.iter_mut().for_each(|x| *x /= norm);
        } else {
            coarse.iter_mut().for_each(|x| *x = 0.0);
        }
        Self {
            frames: n,
            coarse,
            fine,
        }
    }

    /// The coarse picture alone, kept for every clip of a dataset (see [`Sketch`]).
    pub fn sketch(&self) -> Sketch {
        Sketch {
            frames: self.frames,
            coarse: (self.coarse.iter())
                .map(|v| (v * SKETCH_SCALE).round() as i16)
                .collect(),
        }
    }

    /// Correlation of the coarse pictures (time scaled to the clips' lengths).
    fn coarse_correlation(&self, other: &Fingerprint) -> f32 {
        self.coarse
            .iter()
            .zip(&other.coarse)
            .map(|(a, b)| a * b)
            .sum()
    }

    /// Frame-level correlation at the best shift of at most `max_shift` frames.
    fn fine_correlation(&self, other: &Fingerprint, max_shift: usize) -> f32 {
        let (a, b) = (&self.fine, &other.fine);
        let mut best = f32::NEG_INFINITY;
        for s in -(max_shift as isize)..=max_shift as isize {
            let (x0, y0) = if s >= 0 {
                (s as usize, 0)
            } else {
                (0, (-s) as usize)
            };
            if x0 >= self.frames || y0 >= other.frames {
                continue;
            }
            let m = (self.frames - x0).min(other.frames - y0);
            let mut num = 0f64;
            let (mut xx, mut yy) = (0f64, 0f64);
            for band in 0..BANDS {
                let (mut sx, mut sy, mut sxy, mut sxx, mut syy) = (0f64, 0f64, 0f64, 0f64, 0f64);
                for t in 0..m {
                    let x = a[(x0 + t) * BANDS + band] as f64;
                    let y = b[(y0 + t) * BANDS + band] as f64;
                    sx += x;
                    sy += y;
                    sxy += x * y;
                    sxx += x * x;
                    syy += y * y;
                }
                let mf = m as f64;
                num += sxy - sx * sy / mf;
                xx += sxx - sx * sx / mf;
                yy += syy - sy * sy / mf;
            }
            let c = (num / (xx * yy).sqrt().max(1e-12)) as f32;
            best = best.max(c);
        }
        best
    }

    /// Same recording: lengths within 3 % (3 frames at least), similar coarse pictures, and
    /// frame-level correlation at [`NEAR_DUPLICATE_CORRELATION`] at the best alignment.
    pub fn same_recording(&self, other: &Fingerprint) -> bool {
        self.similarity(other)
            .is_some_and(|r| r >= NEAR_DUPLICATE_CORRELATION)
    }

    /// The frame-level correlation of two clips that pass the cheap checks (length, coarse
    /// picture); `None` for the rest.
    pub fn similarity(&self, other: &Fingerprint) -> Option<f32> {
        let (a, b) = (self.frames, other.frames);
        let tol = ((a.max(b) as f64 * 0.03) as usize).max(3);
        if a == 0 || b == 0 || a.abs_diff(b) > tol {
            return None;
        }
        if self.coarse_correlation(other) < COARSE_CANDIDATE {
            return None;
        }
        Some(self.fine_correlation(other, tol))
    }
}

/// Steps of a sketch's coarse values (which lie in [-1, 1]).
const SKETCH_SCALE: f32 = 32767.0;
/// Bound on how far a sketch's correlation lies from its fingerprint's: each value is off by at
/// most half a step and the coarse pictures have unit norm, so the error is at most
/// 2 * sqrt(BLOCKS * BANDS) / (2 * 32767) + rounding, about 7.4e-4.
const SKETCH_SLACK: f32 = 1e-3;

/// A [`Fingerprint`]'s length and coarse picture in 16-bit steps (1.2 KB a clip): what a
/// dataset keeps of every clip, so that the audit's memory does not grow with the frames.
/// Pairs it cannot rule out get their full fingerprints recomputed from the frames.
#[derive(Debug, Clone, PartialEq)]
pub struct Sketch {
    /// Frames of the clip.
    pub frames: usize,
    coarse: Vec<i16>,
}

impl Sketch {
    /// Whether the clips' fingerprints may pass [`Fingerprint::similarity`]'s cheap checks
    /// (never false where they pass).
    fn may_match(&self, other: &Sketch) -> bool {
        let (a, b) = (self.frames, other.frames);
        let tol = ((a.max(b) as f64 * 0.03) as usize).max(3);
        if a == 0 || b == 0 || a.abs_diff(b) > tol {
            return false;
        }
        let dot: i64 = (self.coarse.iter().zip(&other.coarse))
            .map(|(&x, &y)| x as i64 * y as i64)
            .sum();
        (dot as f64 / (SKETCH_SCALE as f64 * SKETCH_SCALE as f64)) as f32
            >= COARSE_CANDIDATE - SKETCH_SLACK
    }
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Nothing found.
    Clean,
    /// Worth knowing, not a leak under this protocol (e.g. shared sentences).
    Info,
    /// The protocol's claim does not hold: the experiment is refused.
    Error,
}

/// One check of one pair of parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// What was checked.
    pub check: String,
    /// Which parts, e.g. "train / test".
    pub parts: String,
    /// Items found in both.
    pub count: usize,
    /// A few of them.
    pub examples: Vec<String>,
    /// Verdict under the run's protocol.
    pub severity: Severity,
}

/// Everything the audit found, in a fixed order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Audit {
    /// The protocol the split claims.
    pub protocol: String,
    /// Clips per part (train, val, test).
    pub counts: [usize; 3],
    /// One finding per check and pair of parts.
    pub findings: Vec<Finding>,
}

/// What the audit reads of each clip beyond the split view.
pub struct AuditClip<'a> {
    /// Sentence identity (`text`, or `corpus/text_id`; empty when unknown).
    pub sentence: &'a str,
    /// Path, for examples.
    pub path: &'a str,
    /// Sketch of its fingerprint (None: not available, the re-encoding check skips the clip).
    pub sketch: Option<&'a Sketch>,
}

/// Recomputes clip `i`'s full fingerprint for the pairs its sketch cannot rule out (`None`:
/// not available, the pair is skipped).
pub type FingerprintOf<'a> = dyn Fn(usize) -> Option<Fingerprint> + 'a;

/// Audits `split` of `clips` (`extra[i]` belongs to `clips[i]`; `fingerprint(i)` gives its
/// fingerprint where its sketch asks for it).
pub fn audit(
    clips: &[Clip<'_>],
    extra: &[AuditClip<'_>],
    split: &Split,
    fingerprint: &FingerprintOf<'_>,
) -> Audit {
    assert_eq!(clips.len(), extra.len(), "one audit record per clip");
    let parts: [(&str, &[usize]); 3] = [
        ("train", &split.train),
        ("val", &split.val),
        ("test", &split.test),
    ];
    let mut findings = Vec::new();
    for (a, b) in [(0, 2), (0, 1), (1, 2)] {
        let ((na, x), (nb, y)) = (parts[a], parts[b]);
        let pair = format!("{na} / {nb}");
        let speakers = shared(x, y, |i| Some(speaker_key(&clips[i])));
        findings.push(Finding {
            check: "speakers".into(),
            parts: pair.clone(),
            count: speakers.len(),
            examples: speakers.into_iter().take(5).collect(),
            severity: if split.speaker_dependent {
                Severity::Info
            } else {
                Severity::Error
            },
        });
        let hashes = shared(x, y, |i| {
            Some(clips[i].content_hash.to_string()).filter(|h| !h.is_empty())
        });
        let examples: Vec<String> = hashes
            .iter()
            .take(5)
            .map(|h| {
                let paths: Vec<&str> = x
                    .iter()
                    .chain(y)
                    .filter(|&&i| clips[i].content_hash == h)
                    .map(|&i| extra[i].path)
                    .collect();
                paths.join(" = ")
            })
            .collect();
        findings.push(Finding {
            check: "identical audio (content hash)".into(),
            parts: pair.clone(),
            count: hashes.len(),
            examples,
            severity: Severity::Error,
        });
        let near = near_duplicates(clips, extra, x, y, fingerprint);
        findings.push(Finding {
            check: format!(
                "re-encoded copies (fingerprint correlation >= {NEAR_DUPLICATE_CORRELATION})"
            ),
            parts: pair.clone(),
            count: near.len(),
            examples: near
                .iter()
                .take(5)
                .map(|(i, j, r)| format!("{} ~ {} (r = {r:.3})", extra[*i].path, extra[*j].path))
                .collect(),
            severity: Severity::Error,
        });
        if (a, b) == (0, 2) {
            let sentences = shared(x, y, |i| {
                Some(extra[i].sentence.to_string()).filter(|s| !s.is_empty())
            });
            findings.push(Finding {
                check: "sentences (text) in both".into(),
                parts: pair,
                count: sentences.len(),
                examples: sentences.into_iter().take(3).collect(),
                severity: Severity::Info,
            });
        }
    }
    for f in &mut findings {
        if f.count == 0 {
            f.severity = Severity::Clean;
        }
    }
    Audit {
        protocol: split.protocol.clone(),
        counts: [split.train.len(), split.val.len(), split.test.len()],
        findings,
    }
}

/// Pairs (i in `x`, j in `y`) that are the same recording by fingerprint but not by content
/// hash (those are counted as identical audio). Full fingerprints are recomputed only for
/// pairs the sketches leave, those of `y` kept in a small cache.
fn near_duplicates(
    clips: &[Clip<'_>],
    extra: &[AuditClip<'_>],
    x: &[usize],
    y: &[usize],
    fingerprint: &FingerprintOf<'_>,
) -> Vec<(usize, usize, f32)> {
    const CACHED: usize = 4096;
    let mut ys: Vec<(usize, &Sketch)> = y
        .iter()
        .filter_map(|&j| extra[j].sketch.map(|f| (j, f)))
        .collect();
    ys.sort_by_key(|(_, f)| f.frames);
    let mut cached: HashMap<usize, Option<Fingerprint>> = HashMap::new();
    let mut out = Vec::new();
    for &i in x {
        let Some(si) = extra[i].sketch else {
            continue;
        };
        let mut fi: Option<Option<Fingerprint>> = None;
        let tol = ((si.frames as f64 * 0.04) as usize).max(3);
        let lo = ys.partition_point(|(_, f)| f.frames + tol < si.frames);
        for &(j, sj) in &ys[lo..] {
            if sj.frames > si.frames + tol {
                break;
            }
            let same_bytes =
                !clips[i].content_hash.is_empty() && clips[i].content_hash == clips[j].content_hash;
            if same_bytes || !si.may_match(sj) {
                continue;
            }
            let Some(a) = fi.get_or_insert_with(|| fingerprint(i)) else {
                break;
            };
            if cached.len() >= CACHED && !cached.contains_key(&j) {
                cached.clear();
            }
            let Some(b) = cached.entry(j).or_insert_with(|| fingerprint(j)) else {
                continue;
            };
            if let Some(r) = a.similarity(b).filter(|&r| r >= NEAR_DUPLICATE_CORRELATION) {
                out.push((i, j, r));
            }
        }
    }
    out
}

impl Audit {
    /// The first finding that makes the protocol's claim false, as an error naming it.
    pub fn verdict(&self) -> Result<(), LeakageError> {
        match self.findings.iter().find(|f| f.severity == Severity::Error) {
            None => Ok(()),
            Some(f) => Err(LeakageError::Audit(format!(
                "{} shared by {}: {} (e.g. {}); {}",
                f.check,
                f.parts,
                f.count,
                f.examples.join("; "),
                if f.check == "speakers" {
                    "split by speaker (every protocol but `random` does)"
                } else {
                    "the same recording is in two parts: remove the copies from the corpus (or keep one), then extract again"
                }
            ))),
        }
    }

    /// The audit as a Markdown table for `report.md`.
    pub fn markdown(&self) -> String {
        let mut s = format!(
            "Protocol: {}\n\nClips: {} train, {} validation, {} test.\n\n| check | parts | found | verdict | examples |\n|---|---|---|---|---|\n",
            self.protocol, self.counts[0], self.counts[1], self.counts[2]
        );
        for f in &self.findings {
            let verdict = match f.severity {
                Severity::Clean => "clean",
                Severity::Info => "info",
                Severity::Error => "**LEAK**",
            };
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                f.check,
                f.parts,
                f.count,
                verdict,
                f.examples.join("; ").replace('|', "\\|")
            ));
        }
        s
    }

    /// Counts per check over all pairs, for a one-line summary.
    pub fn summary(&self) -> String {
        let mut by: BTreeMap<&str, usize> = BTreeMap::new();
        for f in &self.findings {
            *by.entry(f.check.as_str()).or_default() += f.count;
        }
        by.iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A log-mel-like clip: a moving formant pattern set by `seed`, plus `offset` dB.
    fn clip(seed: u64, n: usize, dim: usize, offset: f32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut rnd = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 24) as f32
        };
        let (f1, f2, f3) = (rnd() * 6.0 + 1.0, rnd() * 4.0 + 0.5, rnd() * 3.0);
        (0..n * dim)
            .map(|i| {
                let (t, k) = ((i / dim) as f32, (i % dim) as f32);
                let centre = dim as f32 * (0.3 + 0.2 * (t * f1 / n as f32 * 6.0 + f3).sin());
                -60.0
                    + offset
                    + 30.0 * (-(k - centre).powi(2) / (2.0 * 9.0)).exp()
                    + 8.0 * (t * f2 / n as f32 * 6.0).cos()
            })
            .collect()
    }

    #[test]
    fn fingerprints_match_copies_with_gain_noise_and_a_frame_of_shift_but_not_other_clips() {
        let dim = 64;
        let a = clip(1, 240, dim, 0.0);
        let fa = Fingerprint::from_frames(&a, dim);
        // A re-encoded copy: 6 dB quieter, a little noise, one frame less at the start.
        let mut s = 5u32;
        let copy: Vec<f32> = a[dim..]
            .iter()
            .map(|v| {
                s = s.wrapping_mul(1_103_515_245).wrapping_add(12345);
                v - 6.0 + ((s >> 16) % 100) as f32 / 100.0 - 0.5
            })
            .collect();
        let fc = Fingerprint::from_frames(&copy, dim);
        assert!(fa.same_recording(&fc), "r = {:?}", fa.similarity(&fc));
        for seed in 2..40 {
            let other = Fingerprint::from_frames(&clip(seed, 240, dim, 0.0), dim);
            assert!(
                !fa.same_recording(&other),
                "seed {seed}: r = {:?}",
                fa.similarity(&other)
            );
        }
        // Same movement, length 20 % off: not the same recording.
        let stretched = Fingerprint::from_frames(&clip(1, 290, dim, 0.0), dim);
        assert!(!fa.same_recording(&stretched));
    }

    #[test]
    fn sketches_never_rule_out_a_pair_the_fingerprints_pass() {
        let dim = 32;
        let (a, b) = (clip(3, 200, dim, 0.0), clip(4, 200, dim, 0.0));
        let fa = Fingerprint::from_frames(&a, dim);
        let (mut near, mut passed) = (0, 0);
        // Blends of a with another clip sweep the coarse correlation through the threshold.
        for k in 0..=400 {
            let w = k as f32 / 400.0;
            let mix: Vec<f32> = a.iter().zip(&b).map(|(x, y)| x + w * (y - x)).collect();
            let fm = Fingerprint::from_frames(&mix, dim);
            let r = fa.coarse_correlation(&fm);
            near += usize::from((r - COARSE_CANDIDATE).abs() < 0.01);
            if fa.similarity(&fm).is_some() {
                passed += 1;
                assert!(fa.sketch().may_match(&fm.sketch()), "w = {w}: r = {r}");
            }
        }
        assert!(near > 0 && passed > 0, "{near} near, {passed} passed");
    }

    #[test]
    fn audit_finds_speakers_hashes_and_re_encoded_copies_in_the_parts_they_cross() {
        let dim = 16;
        let frames: Vec<Vec<f32>> = (0..8).map(|i| clip(i + 10, 100, dim, 0.0)).collect();
        let mut fps: Vec<Fingerprint> = frames
            .iter()
            .map(|f| Fingerprint::from_frames(f, dim))
            .collect();
        fps[7] =
            Fingerprint::from_frames(&frames[1].iter().map(|v| v + 3.0).collect::<Vec<_>>(), dim);
        let speakers = ["a", "a", "b", "b", "c", "c", "d", "d"];
        let hashes: Vec<String> = (0..8).map(|i| format!("h{i}")).collect();
        let clips: Vec<Clip<'_>> = (0..8)
            .map(|i| Clip {
                corpus: "x",
                speaker: speakers[i],
                content_hash: &hashes[i],
            })
            .collect();
        let paths: Vec<String> = (0..8).map(|i| format!("clip{i}.wav")).collect();
        let sketches: Vec<Sketch> = fps.iter().map(Fingerprint::sketch).collect();
        let extra: Vec<AuditClip<'_>> = (0..8)
            .map(|i| AuditClip {
                sentence: if i % 2 == 0 { "kids" } else { "dogs" },
                path: &paths[i],
                sketch: Some(&sketches[i]),
            })
            .collect();
        let split = Split {
            train: vec![0, 1, 2, 3],
            val: vec![4, 5],
            test: vec![6, 7],
            test_speakers: vec![],
            val_speakers: vec![],
            protocol: "test".into(),
            speaker_dependent: false,
        };
        let of = |i: usize| Some(fps[i].clone());
        let a = audit(&clips, &extra, &split, &of);
        let e = a.verdict().unwrap_err().to_string();
        assert!(
            e.contains("re-encoded") && e.contains("clip1.wav ~ clip7.wav"),
            "{e}"
        );
        let sentences = &a
            .findings
            .iter()
            .find(|f| f.check.starts_with("sentences"))
            .unwrap();
        assert_eq!((sentences.count, sentences.severity), (2, Severity::Info));
        assert!(a.markdown().contains("**LEAK**"));
        // Without the copy the split is clean; a shared speaker is then the error.
        fps[7] = Fingerprint::from_frames(&frames[7], dim);
        let of = |i: usize| Some(fps[i].clone());
        let sketches: Vec<Sketch> = fps.iter().map(Fingerprint::sketch).collect();
        let extra: Vec<AuditClip<'_>> = (0..8)
            .map(|i| AuditClip {
                sentence: "",
                path: &paths[i],
                sketch: Some(&sketches[i]),
            })
            .collect();
        assert_eq!(audit(&clips, &extra, &split, &of).verdict(), Ok(()));
        let mixed = Split {
            train: vec![0, 2, 3],
            test: vec![1, 6, 7],
            ..split.clone()
        };
        let e = audit(&clips, &extra, &mixed, &of)
            .verdict()
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("speakers shared by train / test") && e.contains("x/a"),
            "{e}"
        );
        // Under the speaker-dependent protocol the same overlap is information.
        let random = Split {
            speaker_dependent: true,
            ..mixed
        };
        assert_eq!(audit(&clips, &extra, &random, &of).verdict(), Ok(()));
        // Identical bytes are found by hash even without fingerprints.
        let mut h2 = hashes.clone();
        h2[6] = h2[0].clone();
        let clips2: Vec<Clip<'_>> = (0..8)
            .map(|i| Clip {
                corpus: "x",
                speaker: speakers[i],
                content_hash: &h2[i],
            })
            .collect();
        let bare: Vec<AuditClip<'_>> = (0..8)
            .map(|i| AuditClip {
                sentence: "",
                path: &paths[i],
                sketch: None,
            })
            .collect();
        let e = audit(&clips2, &bare, &split, &|_| None)
            .verdict()
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("identical audio") && e.contains("clip0.wav = clip6.wav"),
            "{e}"
        );
    }
}
