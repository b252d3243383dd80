//! End-to-end tests of the `ser` binary, as a user runs it, one module per command: `help`,
//! `extract` (synthetic corpus -> cache -> h5py, bad input, kill and resume, config mixing,
//! devices), `train` (`ser run`, on-the-fly features, the audit), `predict` (clips, manifests,
//! timelines), `stream` and `export` (ONNX, tract, onnxruntime). One binary: the predict,
//! stream and export tests share one trained run (`scored`).

#[path = "../support/paths.rs"]
mod paths;
#[path = "../support/python.rs"]
mod python;
#[path = "../support/cli.rs"]
mod support;

mod export;
mod extract;
mod help;
mod predict;
mod scored;
mod stream;
mod train;
