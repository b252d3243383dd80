//! Writing WAV files (synthetic corpora, test fixtures) atomically: the data goes to a
//! temporary file beside the target and is renamed into place, so a killed writer never
//! leaves a half-written clip that looks complete.

use std::path::Path;

fn write_atomic(
    path: &Path,
    spec: hound::WavSpec,
    write: impl FnOnce(&mut hound::WavWriter<std::io::BufWriter<std::fs::File>>) -> hound::Result<()>,
) -> std::io::Result<()> {
    let tmp = path.with_extension("wav.partial");
    let to_io = |e: hound::Error| std::io::Error::other(e.to_string());
    {
        let mut w = hound::WavWriter::create(&tmp, spec).map_err(to_io)?;
        write(&mut w).map_err(to_io)?;
        w.finalize().map_err(to_io)?;
    }
    std::fs::rename(&tmp, path)
}

/// Writes mono 16-bit PCM, clipping to [-1, 1].
pub fn write_wav_i16(path: &Path, samples: &[f32], rate: u32) -> std::io::Result<()> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    write_atomic(path, spec, |w| {
        for &s in samples {
            w.write_sample((s.clamp(-1.0, 1.0) * 32767.0).round() as i16)?;
        }
        Ok(())
    })
}

/// Writes mono 32-bit float samples as they are (NaN included, for bad-input fixtures).
pub fn write_wav_f32(path: &Path, samples: &[f32], rate: u32) -> std::io::Result<()> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    write_atomic(path, spec, |w| {
        for &s in samples {
            w.write_sample(s)?;
        }
        Ok(())
    })
}
