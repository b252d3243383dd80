//! Loading a Hugging Face checkpoint folder (`config.json` + `model.safetensors` or
//! `pytorch_model.bin`) into an
//! [`SslEncoder`], through burn-store: PyTorch's layouts adapted (linear weights transposed,
//! norm weights renamed), the task model's prefix (`wav2vec2.`, `hubert.`, `wavlm.`) and
//! weight-norm names of either torch version mapped, every tensor checked.

use std::path::{Path, PathBuf};

use burn::store::{
    ApplyResult, FloatCastAdapter, ModuleAdapter, ModuleSnapshot, PyTorchToBurnAdapter,
    PytorchStore, SafetensorsStore,
};
use burn::tensor::{DType, Device};

use crate::SslError;
use crate::config::EncoderConfig;
use crate::encoder::SslEncoder;

/// A loaded encoder and the config it was built from.
#[derive(Debug)]
pub struct Loaded {
    /// The checkpoint's config.
    pub config: EncoderConfig,
    /// The encoder, on the device it was loaded to.
    pub encoder: SslEncoder,
    /// Tensors of the file that the encoder does not use (pretraining / task heads).
    pub unused: Vec<String>,
}

/// The prefixes of the parameters ser's encoder owns (after a task prefix is removed).
const ENCODER_PARTS: [&str; 3] = ["feature_extractor.", "feature_projection.", "encoder."];

/// A checkpoint's weights file.
pub(crate) enum Weights {
    /// `model.safetensors`.
    Safetensors(PathBuf),
    /// `pytorch_model.bin` (PyTorch's pickle format, older hub checkpoints).
    Pytorch(PathBuf),
}

impl Weights {
    /// The file.
    pub(crate) fn path(&self) -> &Path {
        match self {
            Weights::Safetensors(p) | Weights::Pytorch(p) => p,
        }
    }
}

/// The weights file of the folder `dir`: `model.safetensors`, else `pytorch_model.bin`.
pub(crate) fn weights_file(dir: &Path) -> Result<Weights, SslError> {
    let st = dir.join("model.safetensors");
    if st.is_file() {
        return Ok(Weights::Safetensors(st));
    }
    let bin = dir.join("pytorch_model.bin");
    if bin.is_file() {
        return Ok(Weights::Pytorch(bin));
    }
    let sharded = [
        "model.safetensors.index.json",
        "pytorch_model.bin.index.json",
    ]
    .iter()
    .any(|f| dir.join(f).is_file());
    Err(SslError::Checkpoint(if sharded {
        format!(
            "{}: sharded checkpoints (*.index.json) are not supported yet; re-save the model as \
             one file (`save_pretrained(DIR, max_shard_size=\"100GB\")`)",
            dir.display()
        )
    } else {
        format!(
            "{}: no model.safetensors or pytorch_model.bin; download the model's folder, e.g. \
             `huggingface-cli download microsoft/wavlm-base-plus --local-dir DIR`",
            dir.display()
        )
    }))
}

/// Key renames from transformers' checkpoints to ser's module paths: the task model's prefix,
/// and both spellings of the positional convolution's weight norm.
const REMAP: [(&str, &str); 3] = [
    (r"^(wav2vec2|hubert|wavlm)\.", ""),
    (r"\.parametrizations\.weight\.original0$", ".weight_g"),
    (r"\.parametrizations\.weight\.original1$", ".weight_v"),
];

/// Applies the weights file to `encoder` (PyTorch layouts adapted, keys remapped;
/// safetensors floats cast to f32), reporting what fitted and what did not.
fn apply(encoder: &mut SslEncoder, weights: &Weights) -> Result<ApplyResult, String> {
    match weights {
        Weights::Safetensors(p) => {
            let adapter = PyTorchToBurnAdapter.chain(FloatCastAdapter::to(DType::F32));
            let mut store = REMAP
                .iter()
                .fold(SafetensorsStore::from_file(p), |s, (a, b)| {
                    s.with_key_remapping(a, *b)
                })
                .with_from_adapter(adapter)
                .skip_enum_variants(true)
                .allow_partial(true)
                .validate(false);
            encoder.load_from(&mut store).map_err(|e| e.to_string())
        }
        Weights::Pytorch(p) => {
            // burn-store applies PyTorchToBurnAdapter to PyTorch files itself.
            let mut store = REMAP
                .iter()
                .fold(PytorchStore::from_file(p), |s, (a, b)| {
                    s.with_key_remapping(a, *b)
                })
                .skip_enum_variants(true)
                .allow_partial(true)
                .validate(false);
            encoder.load_from(&mut store).map_err(|e| e.to_string())
        }
    }
}

/// Reads `dir/config.json` and the weights (`model.safetensors`, else `pytorch_model.bin`)
/// and builds the encoder on `device`.
/// Refuses an architecture ser does not build, and weights that do not fit the config (the
/// first offending tensor named).
pub fn load(dir: &Path, device: &Device) -> Result<Loaded, SslError> {
    let config_path = dir.join("config.json");
    let text = std::fs::read_to_string(&config_path).map_err(|e| {
        SslError::Checkpoint(format!(
            "{}: {e} (a Hugging Face model folder has one)",
            config_path.display()
        ))
    })?;
    let config = EncoderConfig::from_json(&text)
        .map_err(|e| SslError::Checkpoint(format!("{}: {e}", config_path.display())))?;
    let weights = weights_file(dir)?;
    let mut encoder = SslEncoder::init(&config, device)?;
    let file = weights.path().display();
    let result =
        apply(&mut encoder, &weights).map_err(|e| SslError::Checkpoint(format!("{file}: {e}")))?;
    if let Some(e) = result.errors.first() {
        return Err(SslError::Checkpoint(format!(
            "{file}: {e} ({} tensor(s) do not fit {}; is config.json the checkpoint's own?)",
            result.errors.len(),
            config_path.display()
        )));
    }
    if let Some((key, _)) = result.missing.first() {
        return Err(SslError::Checkpoint(format!(
            "{file}: no tensor for `{key}` ({} missing); the file does not hold a {} encoder of \
             the config's shape",
            result.missing.len(),
            config.model_type
        )));
    }
    if let Some(key) = result
        .unused
        .iter()
        .find(|k| ENCODER_PARTS.iter().any(|p| k.starts_with(p)))
    {
        return Err(SslError::Checkpoint(format!(
            "{file}: tensor `{key}` belongs to the encoder but the config has no place for it \
             (num_hidden_layers, conv_dim, ... differ from the weights)"
        )));
    }
    Ok(Loaded {
        config,
        encoder,
        unused: result.unused,
    })
}
