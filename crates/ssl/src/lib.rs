//! Self-supervised speech encoders on burn: wav2vec 2.0, HuBERT and WavLM, loaded from a
//! Hugging Face checkpoint folder, giving every layer's hidden states on any burn device
//! (flex, wgpu, CUDA). The SUPERB recipe (frozen encoder, learned layer weights, small
//! pooled head) builds on these; ser caches the states like any other feature.

mod config;
mod encoder;
mod extract;
mod load;

pub use config::{Act, Architecture, EncoderConfig, FeatNorm};
pub use encoder::{Hidden, SslEncoder};
pub use extract::SslExtractor;
pub use load::{Loaded, load};

/// Why an encoder could not be built or loaded.
#[derive(Debug, thiserror::Error)]
pub enum SslError {
    /// The config asks for something ser does not build (named in the message).
    #[error("encoder config: {0}")]
    Config(String),
    /// The checkpoint folder or its weights (file and tensor named in the message).
    #[error("checkpoint: {0}")]
    Checkpoint(String),
}
