//! The MODEL argument of `ser predict` and `ser stream`: a run folder (the network, on the
//! chosen device) or an exported `.onnx` file with its card (run by tract on the CPU).

use std::path::Path;

use anyhow::Context;
use ser_infer::{OnnxScorer, Predictor, Scorer};

use crate::commands::train::device;

/// Loads MODEL: `(scorer, where it runs)`; `norm_group` as `Predictor::load` (exported files
/// carry their statistics and refuse it).
pub fn load(
    model: &Path,
    device_name: &str,
    norm_group: Option<&str>,
) -> anyhow::Result<(Box<dyn Scorer>, String)> {
    if model.extension().is_some_and(|e| e == "onnx") {
        if let Some(g) = norm_group {
            anyhow::bail!(
                "--norm-group {g}: {} carries the statistics it was exported with (its card's `normalization`); leave --norm-group out, or export again with another --norm-group",
                model.display()
            );
        }
        let s = OnnxScorer::load(model)
            .with_context(|| format!("loading the exported model {}", model.display()))?;
        let on = format!(
            "tract (CPU; --device applies to run folders), {} input",
            s.model.card.input.name
        );
        return Ok((Box::new(s), on));
    }
    let (device, on) = device(device_name)?;
    let p = Predictor::load(model, &device, norm_group)
        .with_context(|| format!("loading the model of {}", model.display()))?;
    Ok((Box::new(p), on))
}
