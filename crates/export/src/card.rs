//! The model card: the JSON file `ser export` writes beside every `.onnx`, saying what the
//! graph reads and returns and where it comes from, so that a deployment (and `ser predict
//! MODEL.onnx`) feeds it exactly what ser evaluated.

use serde::{Deserialize, Serialize};

/// The `format` value of every card.
pub const CARD_FORMAT: &str = "ser-model-card";

/// What the graph reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CardInput {
    /// `frames` (`[batch, time, features]`, ser's frame features) or `waveform`
    /// (`[batch, samples]`, 16-bit range samples at the card's rate).
    pub name: String,
    /// The shape, dynamic axes by name.
    pub shape: Vec<serde_json::Value>,
    /// The frame arrays, concatenated per frame in this order.
    pub arrays: Vec<String>,
    /// Waveform graphs: the shortest input in samples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_samples: Option<usize>,
    /// Anything else the exporter says about the input (scale, what is in the graph).
    #[serde(flatten)]
    pub notes: serde_json::Map<String, serde_json::Value>,
}

/// The card of one exported file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    /// Always [`CARD_FORMAT`].
    pub format: String,
    /// Card layout version (1).
    pub version: u32,
    /// The ONNX file's name (beside the card).
    pub onnx_file: Option<String>,
    /// BLAKE3 (first 32 hex digits) of the ONNX file: a card and a file that do not belong
    /// together are caught.
    pub onnx_blake3: String,
    /// The opset the graph declares.
    pub opset: i64,
    /// The graph's input.
    pub input: CardInput,
    /// The graph's output (`probabilities` `[batch, classes]`).
    pub output: serde_json::Value,
    /// Class names in output order.
    pub labels: Vec<String>,
    /// Sample rate in Hz the features are computed at.
    pub sample_rate: u32,
    /// Hash of `feature_config` (ser's `FeatureConfig::hash`).
    pub feature_config_hash: String,
    /// The feature config (TOML).
    pub feature_config: String,
    /// Frames ser scores per clip (the centre segment).
    pub segment_frames: usize,
    /// How clips shorter than the segment are filled: `tile`, `crop` or `pad`.
    #[serde(default = "default_policy")]
    pub segment_policy: String,
    /// Training statistics the graph standardizes with (`mean`, `std`).
    pub normalization: serde_json::Value,
    /// The network (`cnn`, `lstm`, `cnn_lstm`).
    pub model: serde_json::Value,
    /// Corpora the model was trained on.
    pub training_corpora: Vec<String>,
    /// The evaluation protocol of `test_metrics`.
    pub protocol: serde_json::Value,
    /// Test-set figures of the run.
    pub test_metrics: serde_json::Value,
    /// The ser version that exported the file.
    pub ser_version: String,
    /// The run folder exported.
    pub run: String,
}

fn default_policy() -> String {
    "tile".into()
}

/// Why a card cannot be used with its file.
#[derive(Debug, thiserror::Error)]
pub enum CardError {
    /// Missing, unreadable or not a card.
    #[error("{0}")]
    Read(String),
    /// The card describes another file, or contradicts it.
    #[error("{0}")]
    Mismatch(String),
}

impl ModelCard {
    /// The card path of an ONNX file: the same name with the extension `.json`.
    pub fn path_for(onnx: &std::path::Path) -> std::path::PathBuf {
        onnx.with_extension("json")
    }

    /// Reads the card beside `onnx` and checks it describes `bytes` (the file's contents):
    /// the hash, and the metadata ser wrote into the graph.
    pub fn read_for(onnx: &std::path::Path, bytes: &[u8]) -> Result<Self, CardError> {
        let path = Self::path_for(onnx);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            CardError::Read(format!(
                "{}: cannot read the model card ({e}); `ser export` writes it beside the .onnx file, keep the two together",
                path.display()
            ))
        })?;
        let card: ModelCard = serde_json::from_str(&text).map_err(|e| {
            CardError::Read(format!("{}: not a ser model card: {e}", path.display()))
        })?;
        if card.format != CARD_FORMAT {
            return Err(CardError::Read(format!(
                "{}: format {:?}, expected {CARD_FORMAT:?}",
                path.display(),
                card.format
            )));
        }
        let hash = blake3::hash(bytes).to_hex()[..32].to_string();
        if hash != card.onnx_blake3 {
            return Err(CardError::Mismatch(format!(
                "{} does not belong to {}: the card is for a file with BLAKE3 {}, this file has {hash}; \
                 export again (`ser export RUN --out {}`) or put the right card beside it",
                path.display(),
                onnx.display(),
                card.onnx_blake3,
                onnx.display()
            )));
        }
        Ok(card)
    }
}
