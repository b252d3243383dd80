//! Runs of the classical baselines: fit on the training split's functionals, report
//! validation and test metrics in the same run folder layout as the networks.

use std::path::Path;

use ser_tensorboard::EventWriter;

use ser_experiment::{Experiment, ModelKind, TrainError};
use ser_infer::argmax_first;

use crate::baseline;
use crate::prepare::Prepared;
use crate::report::{Scored, finish};
use crate::summary::{Observer, RunSummary};

pub(crate) fn run(
    exp: &Experiment,
    dir: &Path,
    p: &Prepared,
    obs: &mut dyn Observer,
) -> Result<RunSummary, TrainError> {
    let (ds, split) = (&*p.ds, &p.split);
    if ds.functional_names.is_empty() {
        return Err(TrainError::Data(format!(
            "{}: the cache has no functionals; extract with [functionals] enabled = true (experiments/features/logmel_16k.toml has it)",
            exp.data.cache
        )));
    }
    let functionals = ds.functionals()?;
    let rows =
        |idx: &[usize]| -> Vec<Vec<f32>> { idx.iter().map(|&i| functionals[i].clone()).collect() };
    let (train, val, test) = (rows(&split.train), rows(&split.val), rows(&split.test));
    let labels: Vec<usize> = split.train.iter().map(|&i| ds.labels[i]).collect();
    let n_classes = ds.classes.len();
    obs.note(&format!(
        "fitting {:?} on {} clips x {} functionals",
        exp.model.kind,
        train.len(),
        ds.functional_names.len()
    ));
    let scores = match exp.model.kind {
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
            n_classes,
            &[&val, &test],
            exp.train.seed,
        )?,
        _ => unreachable!("networks train in run.rs"),
    };
    let mut scores = scores.into_iter();
    let mut scored = |clips: &[usize]| {
        let s = scores.next().expect("one score set per evaluated part");
        Scored {
            clips: clips.to_vec(),
            pred: s.iter().map(|r| argmax_first(r)).collect(),
            scores: s,
        }
    };
    let (val, test) = (scored(&split.val), scored(&split.test));
    let (val_m, test_m) = (val.metrics(ds), test.metrics(ds));
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
        p,
        &test,
        RunSummary::one_model(
            dir,
            &split.protocol,
            &ds.classes,
            (val_m, test_m),
            "cpu (smartcore)".into(),
        )
        .judged(None),
        0,
    )
}
