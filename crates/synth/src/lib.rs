//! ser's built-in synthetic emotional speech corpus.
//!
//! `ser synth --out DIR` writes two small corpora, in RAVDESS and CREMA-D layouts, of
//! speech-like audio from a seeded source-filter voice: per-speaker anatomy (F0, vocal-tract
//! length, rate, breathiness) and per-emotion prosody (mean F0, F0 range and contour,
//! speaking rate, loudness, spectral tilt, jitter, shimmer, tremor) drawn with wide spreads,
//! so that every command of ser runs on a fresh machine and classes are learnable without
//! being separable by any single cue.

mod corpus;
mod prosody;
mod voice;

pub use corpus::{SynthConfig, SynthError, SynthReport, generate};
pub use prosody::{EmotionProsody, Speaker, prosody, utterance_prosody, utterance_prosody_spread};
pub use voice::{Consonant, Syllable, sentence, synthesize};
