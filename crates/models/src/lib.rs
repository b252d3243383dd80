//! Neural speech emotion classifiers on burn: CNN, (Bi)LSTM and CNN-LSTM over frame
//! features (log-mel, MFCC), built from the serde configs an experiment file holds.
//!
//! Variable length: a batch is padded to a common number of frames and each item's real
//! length travels with it; mean, max, last-step and attention pooling only see real steps
//! (the lengths are scaled through the CNN's time reduction). Recurrent layers read the
//! padding after an item's end like PyTorch does without `pack_padded_sequence`: the
//! forward direction is unaffected at the pooled steps, the reverse direction of a BiLSTM
//! starts in the padding. Training crops or tiles to a fixed length by default
//! (`ser-train`'s `segment` policy), where this does not arise.

mod config;
mod net;
mod recurrent;
// burn marks its LibTorch backend deprecated (0.22); ser keeps it as an optional backend.
#[cfg(feature = "tch")]
#[allow(deprecated)]
mod torch_graph;

pub use config::{
    Activation, CnnConfig, CnnReduce, ConfigError, HeadConfig, LstmConfig, NetConfig, NetKind,
    PoolKind, SslHeadConfig, TimePooling, cnn_output_size,
};
pub use net::{ConvWeights, HostTensor, LstmWeights, Net, NetWeights, reduced_lengths};
