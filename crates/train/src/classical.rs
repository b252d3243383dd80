//! Runs of the classical baselines: fit on the training split's functionals, report
//! validation and test metrics in the same run folder layout as the networks.

use std::path::Path;

use ser_eval::{Metrics, Split};
use ser_tensorboard::EventWriter;

use crate::dataset::Dataset;
use crate::experiment::{Experiment, ModelKind};
use crate::run::{Observer, RunSummary, finish};
use crate::{TrainError, baseline};

pub(crate) fn run(
    exp: &Experiment,
    dir: &Path,
    ds: &Dataset,
    split: &Split,
    obs: &mut dyn Observer,
) -> Result<RunSummary, TrainError> {
    if ds.functional_names.is_empty() {
        return Err(TrainError::Data(format!(
            "{}: the cache has no functionals; extract with [functionals] enabled = true (experiments/features/logmel_16k.toml has it)",
            exp.data.cache.display()
        )));
    }
    let rows = |idx: &[usize]| -> Vec<Vec<f32>> {
        idx.iter().map(|&i| ds.functionals[i].clone()).collect()
    };
    let (train, val, test) = (rows(&split.train), rows(&split.val), rows(&split.test));
    let labels: Vec<usize> = split.train.iter().map(|&i| ds.labels[i]).collect();
    let n_classes = ds.classes.len();
    obs.note(&format!(
        "fitting {:?} on {} clips x {} functionals",
        exp.model.kind,
        train.len(),
        ds.functional_names.len()
    ));
    let preds = match exp.model.kind {
        ModelKind::Svm => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            baseline::svm(
                &exp.model.svm,
                &train,
                &labels,
                n_classes,
                &[&val, &test],
                exp.train.seed,
            )
        }))
        .map_err(|p| {
            let why = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            TrainError::Model(format!(
                "smartcore's SVC failed inside the library ({why}); this happens on some data sets with smartcore 0.7 (see the issue note). Use model.kind = \"random_forest\" meanwhile"
            ))
        })??,
        ModelKind::RandomForest => baseline::forest(
            &exp.model.random_forest,
            &train,
            &labels,
            &[&val, &test],
            exp.train.seed,
        )?,
        _ => unreachable!("networks train in run.rs"),
    };
    let metrics = |idx: &[usize], p: &[usize]| {
        let truth: Vec<usize> = idx.iter().map(|&i| ds.labels[i]).collect();
        Metrics::new(&truth, p, n_classes)
    };
    let (val_m, test_m) = (
        metrics(&split.val, &preds[0]),
        metrics(&split.test, &preds[1]),
    );
    let mut tb = EventWriter::create(&dir.join("tb")).map_err(|e| TrainError::Io(e.to_string()))?;
    tb.scalars(
        0,
        &[
            ("unweighted_accuracy/val", val_m.ua),
            ("accuracy/val", val_m.wa),
        ],
    )
    .map_err(|e| TrainError::Io(e.to_string()))?;
    finish(
        dir,
        &mut tb,
        RunSummary {
            dir: dir.to_path_buf(),
            protocol: split.protocol.clone(),
            classes: ds.classes.clone(),
            best_epoch: 0,
            val: val_m,
            test: test_m,
            device: "cpu (smartcore)".into(),
            stopped: None,
            cv: None,
        },
        0,
    )
}
