//! TensorBoard event files: scalars and PNG images, one `events.out.tfevents.*` file per run.
//!
//! Written by hand over `prost` + `crc32c` rather than with the `tensorboard-rs` crate, which
//! is unmaintained (protobuf 2.28, with an open advisory) and writes wrong image sizes. The
//! format is small: a file is a sequence of records
//! `len: u64 LE | masked_crc32c(len): u32 LE | data | masked_crc32c(data): u32 LE`, each
//! `data` a serialized `tensorflow.Event` protobuf; the first event carries
//! `file_version = "brain.Event:2"`. The message types below keep the field numbers of
//! TensorFlow's `event.proto` and `summary.proto` for the fields ser writes.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use prost::Message;

/// Why an event file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum TensorBoardError {
    /// The log folder or event file could not be created or written.
    #[error("cannot write TensorBoard events in {path}: {source}")]
    Io {
        /// Event file or folder.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

/// `tensorflow.Event`, restricted to the fields ser writes.
#[derive(Clone, PartialEq, Message)]
pub struct Event {
    /// Seconds since the epoch.
    #[prost(double, tag = "1")]
    pub wall_time: f64,
    /// Global step (ser: the epoch).
    #[prost(int64, tag = "2")]
    pub step: i64,
    /// What the event holds.
    #[prost(oneof = "EventWhat", tags = "3, 5")]
    pub what: Option<EventWhat>,
}

/// The `what` oneof of `tensorflow.Event`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum EventWhat {
    /// Format marker of the first event of a file.
    #[prost(string, tag = "3")]
    FileVersion(String),
    /// Values logged at this step.
    #[prost(message, tag = "5")]
    Summary(Summary),
}

/// `tensorflow.Summary`.
#[derive(Clone, PartialEq, Message)]
pub struct Summary {
    /// Tagged values.
    #[prost(message, repeated, tag = "1")]
    pub value: Vec<SummaryValue>,
}

/// `tensorflow.Summary.Value`.
#[derive(Clone, PartialEq, Message)]
pub struct SummaryValue {
    /// Name of the series (`loss/train`, ...).
    #[prost(string, tag = "1")]
    pub tag: String,
    /// The value.
    #[prost(oneof = "Value", tags = "2, 4")]
    pub value: Option<Value>,
}

/// The `value` oneof of `tensorflow.Summary.Value`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Value {
    /// A scalar.
    #[prost(float, tag = "2")]
    SimpleValue(f32),
    /// An encoded image.
    #[prost(message, tag = "4")]
    Image(Image),
}

/// `tensorflow.Summary.Image`.
#[derive(Clone, PartialEq, Message)]
pub struct Image {
    /// Pixels high.
    #[prost(int32, tag = "1")]
    pub height: i32,
    /// Pixels wide.
    #[prost(int32, tag = "2")]
    pub width: i32,
    /// 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA.
    #[prost(int32, tag = "3")]
    pub colorspace: i32,
    /// The PNG file's bytes.
    #[prost(bytes = "vec", tag = "4")]
    pub encoded_image_string: Vec<u8>,
}

/// TFRecord's CRC: CRC-32C, rotated and offset so that CRCs of CRCs stay well distributed.
pub fn masked_crc(data: &[u8]) -> u32 {
    let crc = crc32c::crc32c(data);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// One TFRecord around `data`.
pub fn record(data: &[u8]) -> Vec<u8> {
    let len = (data.len() as u64).to_le_bytes();
    let mut out = Vec::with_capacity(data.len() + 16);
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc(&len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc(data).to_le_bytes());
    out
}

/// Splits a file of TFRecords back into their payloads, checking both CRCs of each: the test
/// oracle for [`record`], and a way for ser to read back what it wrote.
pub fn read_records(bytes: &[u8]) -> Result<Vec<&[u8]>, String> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at < bytes.len() {
        let head = bytes
            .get(at..at + 12)
            .ok_or_else(|| format!("truncated record header at byte {at}"))?;
        let len_bytes = &head[..8];
        let len = u64::from_le_bytes(len_bytes.try_into().expect("8 bytes")) as usize;
        if u32::from_le_bytes(head[8..12].try_into().expect("4 bytes")) != masked_crc(len_bytes) {
            return Err(format!("bad length CRC at byte {at}"));
        }
        let data = bytes
            .get(at + 12..at + 12 + len)
            .ok_or_else(|| format!("truncated record at byte {at}"))?;
        let crc = bytes
            .get(at + 12 + len..at + 16 + len)
            .ok_or_else(|| format!("truncated record CRC at byte {at}"))?;
        if u32::from_le_bytes(crc.try_into().expect("4 bytes")) != masked_crc(data) {
            return Err(format!("bad data CRC at byte {at}"));
        }
        out.push(data);
        at += 16 + len;
    }
    Ok(out)
}

/// Writes one event file; every call is flushed, so a killed run loses nothing it logged.
pub struct EventWriter {
    file: BufWriter<File>,
    path: PathBuf,
}

impl EventWriter {
    /// Starts a new event file in `dir` (created if missing), named as TensorFlow names them
    /// so that TensorBoard picks it up: `events.out.tfevents.<seconds>.<host>.<pid>.<suffix>`.
    /// A resumed run starts a second file in the same folder; TensorBoard merges them.
    pub fn create(dir: &Path) -> Result<Self, TensorBoardError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| TensorBoardError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let host = std::fs::read_to_string("/etc/hostname")
            .ok()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".into());
        let mut n = 0u32;
        let path = loop {
            let p = dir.join(format!(
                "events.out.tfevents.{}.{host}.{}.{n}.v2",
                now.as_secs(),
                std::process::id()
            ));
            if !p.exists() {
                break p;
            }
            n += 1;
        };
        let file = File::create(&path).map_err(io(&path))?;
        let mut w = Self {
            file: BufWriter::new(file),
            path,
        };
        w.write(Event {
            wall_time: wall_time(),
            step: 0,
            what: Some(EventWhat::FileVersion("brain.Event:2".into())),
        })?;
        Ok(w)
    }

    /// The event file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Logs scalars under their tags at `step`, in one event.
    pub fn scalars(&mut self, step: i64, values: &[(&str, f64)]) -> Result<(), TensorBoardError> {
        let value = values
            .iter()
            .map(|(tag, v)| SummaryValue {
                tag: (*tag).to_string(),
                value: Some(Value::SimpleValue(*v as f32)),
            })
            .collect();
        self.summary(step, value)
    }

    /// Logs a PNG image (`width` x `height`, RGB) under `tag` at `step`.
    pub fn png(
        &mut self,
        step: i64,
        tag: &str,
        png: Vec<u8>,
        width: u32,
        height: u32,
    ) -> Result<(), TensorBoardError> {
        self.summary(
            step,
            vec![SummaryValue {
                tag: tag.to_string(),
                value: Some(Value::Image(Image {
                    height: height as i32,
                    width: width as i32,
                    colorspace: 3,
                    encoded_image_string: png,
                })),
            }],
        )
    }

    fn summary(&mut self, step: i64, value: Vec<SummaryValue>) -> Result<(), TensorBoardError> {
        self.write(Event {
            wall_time: wall_time(),
            step,
            what: Some(EventWhat::Summary(Summary { value })),
        })
    }

    fn write(&mut self, event: Event) -> Result<(), TensorBoardError> {
        let bytes = record(&event.encode_to_vec());
        let path = self.path.clone();
        self.file
            .write_all(&bytes)
            .and_then(|_| self.file.flush())
            .map_err(|source| TensorBoardError::Io { path, source })
    }
}

fn wall_time() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CRC-32C check value from RFC 3720 (iSCSI), B.4: 32 bytes of zeros.
    #[test]
    fn crc_is_crc32c_masked() {
        assert_eq!(crc32c::crc32c(&[0u8; 32]), 0x8a91_36aa);
        let c = 0x8a91_36aau32;
        assert_eq!(
            masked_crc(&[0u8; 32]),
            c.rotate_right(15).wrapping_add(0xa282_ead8)
        );
    }

    #[test]
    fn written_events_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = EventWriter::create(dir.path()).unwrap();
        w.scalars(3, &[("loss/train", 0.5), ("lr", 1e-3)]).unwrap();
        w.png(3, "confusion", vec![1, 2, 3], 4, 5).unwrap();
        let bytes = std::fs::read(w.path()).unwrap();
        let events: Vec<Event> = read_records(&bytes)
            .unwrap()
            .into_iter()
            .map(|d| Event::decode(d).unwrap())
            .collect();
        assert_eq!(events.len(), 3);
        assert_eq!(
            events[0].what,
            Some(EventWhat::FileVersion("brain.Event:2".into()))
        );
        let Some(EventWhat::Summary(s)) = &events[1].what else {
            panic!("no summary")
        };
        assert_eq!(events[1].step, 3);
        assert_eq!(s.value[0].tag, "loss/train");
        assert_eq!(s.value[0].value, Some(Value::SimpleValue(0.5)));
        let Some(EventWhat::Summary(s)) = &events[2].what else {
            panic!("no image")
        };
        let Some(Value::Image(img)) = &s.value[0].value else {
            panic!("not an image")
        };
        assert_eq!((img.width, img.height), (4, 5));
        // A flipped byte is caught.
        let mut bad = bytes.clone();
        let last = bad.len() - 6;
        bad[last] ^= 1;
        assert!(read_records(&bad).is_err());
    }
}
