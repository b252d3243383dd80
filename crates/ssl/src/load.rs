//! Loading a Hugging Face checkpoint folder (`config.json` + `model.safetensors`) into an
//! [`SslEncoder`], through burn-store: PyTorch's layouts adapted (linear weights transposed,
//! norm weights renamed), the task model's prefix (`wav2vec2.`, `hubert.`, `wavlm.`) and
//! weight-norm names of either torch version mapped, every tensor checked.

use std::path::{Path, PathBuf};

use burn::store::{
    FloatCastAdapter, ModuleAdapter, ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore,
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

fn weights_file(dir: &Path) -> Result<PathBuf, SslError> {
    let st = dir.join("model.safetensors");
    if st.is_file() {
        return Ok(st);
    }
    if dir.join("model.safetensors.index.json").is_file() {
        return Err(SslError::Checkpoint(format!(
            "{}: sharded checkpoints (model.safetensors.index.json) are not supported yet; \
             re-save the model as one file",
            dir.display()
        )));
    }
    let bin = dir.join("pytorch_model.bin");
    let hint = if bin.is_file() {
        format!(
            "{} is PyTorch's pickle format: convert it once with `python -c \"from transformers \
             import AutoModel; AutoModel.from_pretrained('{d}').save_pretrained('{d}', \
             safe_serialization=True)\"`",
            bin.display(),
            d = dir.display()
        )
    } else {
        "download the model's folder (config.json and model.safetensors), e.g. \
         `huggingface-cli download microsoft/wavlm-base-plus --local-dir DIR`"
            .to_string()
    };
    Err(SslError::Checkpoint(format!(
        "{}: no model.safetensors; {hint}",
        dir.display()
    )))
}

/// Reads `dir/config.json` and `dir/model.safetensors` and builds the encoder on `device`.
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
    let adapter = PyTorchToBurnAdapter.chain(FloatCastAdapter::to(DType::F32));
    let mut store = SafetensorsStore::from_file(&weights)
        .with_from_adapter(adapter)
        .with_key_remapping(r"^(wav2vec2|hubert|wavlm)\.", "")
        .with_key_remapping(r"\.parametrizations\.weight\.original0$", ".weight_g")
        .with_key_remapping(r"\.parametrizations\.weight\.original1$", ".weight_v")
        .skip_enum_variants(true)
        .allow_partial(true)
        .validate(false);
    let file = weights.display();
    let result = encoder
        .load_from(&mut store)
        .map_err(|e| SslError::Checkpoint(format!("{file}: {e}")))?;
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
