//! Running an exported file in Rust, with tract (pure Rust, no native runtime to install):
//! [`OnnxModel::load`] reads the file and its card, refuses a card that does not describe
//! the file, and runs batches of the graph's input. A plan is optimized once per input shape
//! and kept, since batches of one prediction job mostly share a shape (frame graphs read the
//! centre segment, timeline and stream windows share a length). Symbolic shapes were tried:
//! tract 0.23 panics planning the LSTM for a symbolic batch and cannot plan the front end for
//! a symbolic length, so clips of distinct lengths each cost a plan (about 15 ms here).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use prost::Message;
use tract_onnx::prelude::*;

use crate::card::{CardError, ModelCard};
use crate::proto::ModelProto;

/// An optimized plan (shared).
type Plan = std::sync::Arc<TypedRunnableModel>;

/// An exported model ready to run.
pub struct OnnxModel {
    /// Its card.
    pub card: ModelCard,
    model: InferenceModel,
    plans: Mutex<HashMap<Vec<usize>, Plan>>,
}

/// Why a model could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The card is missing or does not describe the file.
    #[error(transparent)]
    Card(#[from] CardError),
    /// The file is not a graph ser can run.
    #[error("{0}")]
    Model(String),
}

impl OnnxModel {
    /// Loads `path` and the card beside it, checking that they belong together (the card's
    /// hash of the file, and the labels, sample rate and feature-config hash ser wrote into
    /// the graph's metadata).
    pub fn load(path: &Path) -> Result<Self, RuntimeError> {
        let bytes = std::fs::read(path)
            .map_err(|e| RuntimeError::Model(format!("{}: {e}", path.display())))?;
        let card = ModelCard::read_for(path, &bytes)?;
        let proto = ModelProto::decode(&bytes[..]).map_err(|e| {
            RuntimeError::Model(format!("{}: not an ONNX model: {e}", path.display()))
        })?;
        let meta: HashMap<&str, &str> = proto
            .metadata_props
            .iter()
            .map(|p| (p.key.as_str(), p.value.as_str()))
            .collect();
        let card_path = ModelCard::path_for(path);
        let mismatch = |what: &str, card_v: String, graph_v: &str| {
            Err(RuntimeError::Card(CardError::Mismatch(format!(
                "{}: the card's {what} ({card_v}) is not the graph's ({graph_v}); the card was edited \
                 or belongs to another export: export again",
                card_path.display()
            ))))
        };
        let checks = [
            ("labels", card.labels.join(","), "classes"),
            ("sample_rate", card.sample_rate.to_string(), "sample_rate"),
            (
                "feature_config_hash",
                card.feature_config_hash.clone(),
                "feature_config_hash",
            ),
        ];
        for (what, card_v, key) in checks {
            match meta.get(key) {
                Some(v) if *v == card_v => {}
                Some(v) => return mismatch(what, card_v, v),
                None => {
                    return Err(RuntimeError::Model(format!(
                        "{}: no {key:?} in the graph's metadata; not a file ser exported",
                        path.display()
                    )));
                }
            }
        }
        let graph_input = proto
            .graph
            .as_ref()
            .and_then(|g| g.input.first())
            .map(|i| i.name.clone())
            .unwrap_or_default();
        if graph_input != card.input.name {
            return mismatch("input", card.input.name.clone(), &graph_input);
        }
        let model = tract_onnx::onnx()
            .model_for_read(&mut &bytes[..])
            .map_err(|e| RuntimeError::Model(format!("{}: {e:#}", path.display())))?;
        Ok(Self {
            card,
            model,
            plans: Mutex::new(HashMap::new()),
        })
    }

    /// Whether the graph reads waveform samples (`--with-frontend`) rather than frames.
    pub fn reads_waveform(&self) -> bool {
        self.card.input.name == "waveform"
    }

    /// Runs the graph on `data` of shape `shape` (`[batch, samples]` or `[batch, time,
    /// features]`); returns the probabilities, `batch` rows of `labels.len()`.
    pub fn run(&self, data: Vec<f32>, shape: &[usize]) -> Result<Vec<Vec<f32>>, RuntimeError> {
        let plan = self.plan(shape)?;
        let input = Tensor::from_shape(shape, &data)
            .map_err(|e| RuntimeError::Model(format!("input of shape {shape:?}: {e}")))?;
        let out = plan
            .run(tvec!(input.into()))
            .map_err(|e| RuntimeError::Model(format!("running the graph: {e:#}")))?;
        let view = out[0]
            .to_plain_array_view::<f32>()
            .map_err(|e| RuntimeError::Model(format!("reading the output: {e}")))?;
        let k = self.card.labels.len();
        let flat: Vec<f32> = view.iter().copied().collect();
        Ok(flat.chunks(k).map(|r| r.to_vec()).collect())
    }

    fn plan(&self, shape: &[usize]) -> Result<Plan, RuntimeError> {
        let mut plans = self.plans.lock().expect("plan cache");
        if let Some(p) = plans.get(shape) {
            return Ok(p.clone());
        }
        let fail = |e: TractError| RuntimeError::Model(format!("planning for {shape:?}: {e:#}"));
        let plan = self
            .model
            .clone()
            .with_input_fact(0, f32::fact(shape).into())
            .map_err(fail)?
            .into_optimized()
            .map_err(fail)?
            .into_runnable()
            .map_err(fail)?;
        if plans.len() > 16 {
            plans.clear();
        }
        plans.insert(shape.to_vec(), plan.clone());
        Ok(plan)
    }
}
