//! Decoding audio files to interleaved f32 samples in [-1, 1].
//!
//! WAV goes through `hound`, which reads every PCM width (8-bit unsigned, 16/24/32-bit
//! signed) and 32-bit float exactly and reports a data chunk that ends early; everything
//! else (FLAC, MP3, OGG/Vorbis, and WAV encodings hound does not read) goes through
//! `symphonia`. Every failure becomes an [`AudioError`] whose message says what is wrong
//! with the file and what to do about it.

use std::io::Cursor;

use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

use crate::AudioError;

/// Audio as it was stored: interleaved samples, channel count and rate.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// Interleaved samples scaled to [-1, 1].
    pub samples: Vec<f32>,
    /// Number of interleaved channels (>= 1).
    pub channels: usize,
    /// Sample rate in Hz.
    pub sample_rate: u32,
}

impl Decoded {
    /// Samples per channel.
    pub fn frames(&self) -> usize {
        self.samples.len() / self.channels.max(1)
    }

    /// Duration in seconds.
    pub fn duration_s(&self) -> f64 {
        self.frames() as f64 / self.sample_rate as f64
    }
}

/// Decodes a whole file held in memory. `extension` (without dot) helps symphonia choose a
/// demuxer; the content decides in the end.
pub fn decode_bytes(bytes: &[u8], extension: Option<&str>) -> Result<Decoded, AudioError> {
    if bytes.is_empty() {
        return Err(AudioError::Empty);
    }
    let decoded = if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WAVE" {
        match decode_wav(bytes) {
            Ok(d) => d,
            // Encodings hound does not read (ADPCM, a-law, ...) may still be fine for symphonia.
            Err(AudioError::Unsupported(_)) => decode_symphonia(bytes, Some("wav"))?,
            Err(e) => return Err(e),
        }
    } else {
        decode_symphonia(bytes, extension)?
    };
    validate(&decoded)?;
    Ok(decoded)
}

/// Reads and decodes a file from disk.
pub fn decode_file(path: &std::path::Path) -> Result<Decoded, AudioError> {
    let bytes = std::fs::read(path).map_err(|e| AudioError::Io(e.to_string()))?;
    let ext = path.extension().and_then(|e| e.to_str());
    decode_bytes(&bytes, ext)
}

fn validate(d: &Decoded) -> Result<(), AudioError> {
    if d.channels == 0 || d.sample_rate == 0 {
        return Err(AudioError::Corrupt(format!(
            "header declares {} channels at {} Hz",
            d.channels, d.sample_rate
        )));
    }
    if d.samples.is_empty() {
        return Err(AudioError::NoSamples);
    }
    let bad = d.samples.iter().filter(|v| !v.is_finite()).count();
    if bad > 0 {
        return Err(AudioError::NonFinite {
            count: bad,
            total: d.samples.len(),
        });
    }
    Ok(())
}

fn decode_wav(bytes: &[u8]) -> Result<Decoded, AudioError> {
    let mut reader = hound::WavReader::new(Cursor::new(bytes)).map_err(|e| match e {
        hound::Error::Unsupported => AudioError::Unsupported("WAV encoding".into()),
        hound::Error::FormatError(m) => AudioError::Corrupt(format!("bad WAV header: {m}")),
        hound::Error::IoError(e) => AudioError::Truncated(format!("header cut short: {e}")),
        other => AudioError::Corrupt(other.to_string()),
    })?;
    let spec = reader.spec();
    let declared = reader.len() as usize;
    let truncated = |got: usize| {
        AudioError::Truncated(format!(
            "the WAV header declares {declared} samples but the file ends after {got}"
        ))
    };
    // Fast path for the common encodings: convert the data chunk in place rather than
    // through hound's per-sample reader (a third of an extraction's time otherwise).
    let width = match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Int, 16) => Some(2),
        (hound::SampleFormat::Float, 32) => Some(4),
        _ => None,
    };
    if let Some(width) = width {
        let start = reader.into_inner().position() as usize;
        let data = &bytes[start.min(bytes.len())..];
        let available = data.len() / width;
        if available < declared {
            return Err(truncated(available));
        }
        let data = &data[..declared * width];
        let samples: Vec<f32> = if width == 2 {
            data.chunks_exact(2)
                .map(|b| i16::from_le_bytes([b[0], b[1]]) as f32 / 32768.0)
                .collect()
        } else {
            data.chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()
        };
        return Ok(Decoded {
            samples,
            channels: spec.channels as usize,
            sample_rate: spec.sample_rate,
        });
    }
    let mut samples = Vec::with_capacity(declared);
    match spec.sample_format {
        hound::SampleFormat::Float => {
            if spec.bits_per_sample != 32 {
                return Err(AudioError::Unsupported(format!(
                    "{}-bit float WAV",
                    spec.bits_per_sample
                )));
            }
            for s in reader.samples::<f32>() {
                samples.push(s.map_err(|_| truncated(samples.len()))?);
            }
        }
        hound::SampleFormat::Int => {
            let bits = spec.bits_per_sample;
            if !(8..=32).contains(&bits) {
                return Err(AudioError::Unsupported(format!("{bits}-bit integer WAV")));
            }
            let scale = 1.0 / (1u64 << (bits - 1)) as f64;
            for s in reader.samples::<i32>() {
                let v = s.map_err(|_| truncated(samples.len()))?;
                samples.push((v as f64 * scale) as f32);
            }
        }
    }
    Ok(Decoded {
        samples,
        channels: spec.channels as usize,
        sample_rate: spec.sample_rate,
    })
}

fn decode_symphonia(bytes: &[u8], extension: Option<&str>) -> Result<Decoded, AudioError> {
    let mss = MediaSourceStream::new(Box::new(Cursor::new(bytes.to_vec())), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = extension {
        hint.with_extension(ext);
    }
    let mut format = symphonia::default::get_probe()
        .probe(
            &hint,
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| match e {
            SymError::Unsupported(_) => AudioError::NotAudio,
            SymError::IoError(_) => AudioError::NotAudio,
            other => AudioError::Corrupt(other.to_string()),
        })?;
    let track = format
        .default_track(TrackType::Audio)
        .ok_or_else(|| AudioError::Corrupt("the container holds no audio track".into()))?;
    let track_id = track.id;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or_else(|| AudioError::Corrupt("the audio track has no codec parameters".into()))?
        .clone();
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .map_err(|e| AudioError::Unsupported(format!("codec: {e}")))?;
    let mut samples: Vec<f32> = Vec::new();
    let mut channels = params.channels.as_ref().map(|c| c.count()).unwrap_or(0);
    let mut sample_rate = params.sample_rate.unwrap_or(0);
    let mut chunk: Vec<f32> = Vec::new();
    loop {
        let packet = match format.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(SymError::IoError(e)) => {
                return Err(AudioError::Truncated(format!(
                    "stream ends mid-packet after {} samples ({e})",
                    samples.len()
                )));
            }
            Err(SymError::ResetRequired) => break,
            Err(e) => return Err(AudioError::Corrupt(e.to_string())),
        };
        if packet.track_id != track_id {
            continue;
        }
        match decoder.decode(&packet) {
            Ok(buf) => {
                let spec = buf.spec();
                channels = spec.channels().count();
                sample_rate = spec.rate();
                chunk.resize(buf.samples_interleaved(), 0.0);
                buf.copy_to_slice_interleaved(&mut chunk);
                samples.extend_from_slice(&chunk);
            }
            // A damaged packet in a compressed stream: skip it as players do.
            Err(SymError::DecodeError(_)) => continue,
            Err(SymError::IoError(e)) => {
                return Err(AudioError::Truncated(format!("packet cut short: {e}")));
            }
            Err(e) => return Err(AudioError::Corrupt(e.to_string())),
        }
    }
    Ok(Decoded {
        samples,
        channels,
        sample_rate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav_bytes(
        spec: hound::WavSpec,
        write: impl FnOnce(&mut hound::WavWriter<&mut Cursor<Vec<u8>>>),
    ) -> Vec<u8> {
        let mut cur = Cursor::new(Vec::new());
        {
            let mut w = hound::WavWriter::new(&mut cur, spec).unwrap();
            write(&mut w);
            w.finalize().unwrap();
        }
        cur.into_inner()
    }

    fn spec(bits: u16, fmt: hound::SampleFormat, channels: u16) -> hound::WavSpec {
        hound::WavSpec {
            channels,
            sample_rate: 8000,
            bits_per_sample: bits,
            sample_format: fmt,
        }
    }

    #[test]
    fn every_pcm_width_scales_to_unit_range() {
        for bits in [8u16, 16, 24, 32] {
            let full = (1i64 << (bits - 1)) - 1;
            let bytes = wav_bytes(spec(bits, hound::SampleFormat::Int, 1), |w| {
                for v in [0i64, full, -full - 1, full / 2] {
                    if bits == 8 {
                        w.write_sample(v as i8).unwrap();
                    } else {
                        w.write_sample(v as i32).unwrap();
                    }
                }
            });
            let d = decode_bytes(&bytes, Some("wav")).unwrap();
            assert_eq!(d.channels, 1);
            assert_eq!(d.samples.len(), 4);
            assert_eq!(d.samples[0], 0.0, "{bits} bit");
            assert!(
                (d.samples[1] - 1.0).abs() < 1e-2,
                "{bits} bit: {:?}",
                d.samples
            );
            assert_eq!(d.samples[2], -1.0, "{bits} bit");
            assert!((d.samples[3] - 0.5).abs() < 1e-2, "{bits} bit");
        }
    }

    #[test]
    fn float_wav_and_stereo_are_read() {
        let bytes = wav_bytes(spec(32, hound::SampleFormat::Float, 2), |w| {
            for v in [0.25f32, -0.25, 0.5, -0.5] {
                w.write_sample(v).unwrap();
            }
        });
        let d = decode_bytes(&bytes, None).unwrap();
        assert_eq!((d.channels, d.frames(), d.sample_rate), (2, 2, 8000));
        assert_eq!(d.samples, vec![0.25, -0.25, 0.5, -0.5]);
    }

    #[test]
    fn bad_files_give_specific_errors() {
        assert!(matches!(
            decode_bytes(&[], Some("wav")),
            Err(AudioError::Empty)
        ));
        let text = b"this is not audio, just a text file renamed to .wav\n".repeat(4);
        assert!(matches!(
            decode_bytes(&text, Some("wav")),
            Err(AudioError::NotAudio)
        ));

        let good = wav_bytes(spec(16, hound::SampleFormat::Int, 1), |w| {
            for i in 0..1000 {
                w.write_sample((i % 100) as i16).unwrap();
            }
        });
        let cut = &good[..good.len() - 501];
        match decode_bytes(cut, Some("wav")) {
            Err(AudioError::Truncated(m)) => assert!(m.contains("1000"), "{m}"),
            other => panic!("expected truncation, got {other:?}"),
        }

        let nan = wav_bytes(spec(32, hound::SampleFormat::Float, 1), |w| {
            for _ in 0..100 {
                w.write_sample(f32::NAN).unwrap();
            }
        });
        assert!(matches!(
            decode_bytes(&nan, Some("wav")),
            Err(AudioError::NonFinite {
                count: 100,
                total: 100
            })
        ));

        let empty_data = wav_bytes(spec(16, hound::SampleFormat::Int, 1), |_| {});
        assert!(matches!(
            decode_bytes(&empty_data, Some("wav")),
            Err(AudioError::NoSamples)
        ));
    }
}
