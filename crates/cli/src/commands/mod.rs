//! One module per subcommand.

pub mod cache;
pub mod corpus;
pub mod export;
pub mod extract;
pub mod features;
pub mod model;
pub mod predict;
pub mod run;
pub mod stream;
pub mod sweep;
pub mod synth;
pub mod train;
