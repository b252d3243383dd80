//! Classical baselines on the per-utterance functionals: an RBF SVM (one-vs-one, as
//! scikit-learn's `SVC`) and a random forest, both from smartcore, after standardization
//! with the training split's statistics.

use smartcore::ensemble::random_forest_classifier::{
    RandomForestClassifier, RandomForestClassifierParameters,
};
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::svm::Kernels;
use smartcore::svm::svc::{SVC, SVCParameters};

use ser_experiment::{ForestConfig, SvmConfig, TrainError, column_mean_std};

/// Column means and standard deviations of the training rows.
fn standardizer(rows: &[Vec<f32>]) -> (Vec<f64>, Vec<f64>) {
    let (mean, std) = column_mean_std(rows);
    (mean, std.into_iter().map(|s| s.max(1e-12)).collect())
}

fn matrix(rows: &[Vec<f32>], mean: &[f64], std: &[f64]) -> Result<DenseMatrix<f64>, TrainError> {
    let v: Vec<Vec<f64>> = rows
        .iter()
        .map(|r| {
            r.iter()
                .zip(mean.iter().zip(std))
                .map(|(&x, (m, s))| (x as f64 - m) / s)
                .collect()
        })
        .collect();
    DenseMatrix::from_2d_vec(&v).map_err(|e| TrainError::Model(e.to_string()))
}

/// Trains on `train` rows and scores `eval` rows with the RBF SVM, one-vs-one over the
/// classes: each row's class scores are its shares of the pairwise votes (the prediction is
/// the highest, ties to the lower class id, so a run is reproducible).
pub fn svm(
    cfg: &SvmConfig,
    train: &[Vec<f32>],
    labels: &[usize],
    n_classes: usize,
    eval: &[&[Vec<f32>]],
    seed: u64,
) -> Result<Vec<Vec<Vec<f64>>>, TrainError> {
    let (mean, std) = standardizer(train);
    let d = mean.len();
    let gamma = if cfg.gamma > 0.0 {
        cfg.gamma
    } else {
        1.0 / d.max(1) as f64
    };
    let evals: Vec<DenseMatrix<f64>> = eval
        .iter()
        .map(|rows| matrix(rows, &mean, &std))
        .collect::<Result<_, _>>()?;
    let mut votes: Vec<Vec<Vec<u32>>> = eval
        .iter()
        .map(|rows| vec![vec![0u32; n_classes]; rows.len()])
        .collect();
    for a in 0..n_classes {
        for b in a + 1..n_classes {
            let idx: Vec<usize> = (0..labels.len())
                .filter(|&i| labels[i] == a || labels[i] == b)
                .collect();
            if idx.is_empty() {
                continue;
            }
            // smartcore 0.7's SVC optimizer keeps only the first n_samples values of each
            // support vector (`take(n)` with n the row count), so it breaks when a class pair
            // has fewer clips than there are features. Repeating every clip k times with C / k
            // is the same primal problem (C/k summed over k copies is C per clip), hence the
            // same solution, and gives the solver enough rows.
            let k = d.div_ceil(idx.len()).max(1);
            let rows: Vec<Vec<f32>> = (0..k)
                .flat_map(|_| idx.iter().map(|&i| train[i].clone()))
                .collect();
            let x = matrix(&rows, &mean, &std)?;
            let y: Vec<i32> = (0..k)
                .flat_map(|_| idx.iter().map(|&i| if labels[i] == b { 1 } else { -1 }))
                .collect();
            if !y.contains(&1) || !y.contains(&-1) {
                // One class absent from training: every vote goes to the present one.
                let only = if y.contains(&1) { b } else { a };
                for v in votes.iter_mut().flatten() {
                    v[only] += 1;
                }
                continue;
            }
            let params = SVCParameters::default()
                .with_c(cfg.c / k as f64)
                .with_tol(cfg.tol)
                .with_epoch(cfg.epochs)
                .with_seed(Some(seed))
                .with_kernel(Kernels::rbf().with_gamma(gamma));
            let model = SVC::fit(&x, &y, &params).map_err(|e| TrainError::Model(e.to_string()))?;
            for (m, v) in evals.iter().zip(votes.iter_mut()) {
                let pred = model
                    .predict(m)
                    .map_err(|e| TrainError::Model(e.to_string()))?;
                for (p, vv) in pred.iter().zip(v.iter_mut()) {
                    vv[if *p > 0.0 { b } else { a }] += 1;
                }
            }
        }
    }
    Ok(votes
        .into_iter()
        .map(|set| {
            set.into_iter()
                .map(|v| {
                    let total = v.iter().sum::<u32>().max(1) as f64;
                    v.iter().map(|&c| c as f64 / total).collect()
                })
                .collect()
        })
        .collect())
}

/// Trains a random forest on `train` rows and scores each set in `eval`: one-hot on the
/// predicted class (smartcore 0.7 keeps the trees' votes private).
pub fn forest(
    cfg: &ForestConfig,
    train: &[Vec<f32>],
    labels: &[usize],
    n_classes: usize,
    eval: &[&[Vec<f32>]],
    seed: u64,
) -> Result<Vec<Vec<Vec<f64>>>, TrainError> {
    let (mean, std) = standardizer(train);
    let x = matrix(train, &mean, &std)?;
    let y: Vec<i32> = labels.iter().map(|&l| l as i32).collect();
    let d = mean.len().max(1);
    let m = if cfg.max_features > 0 {
        cfg.max_features.min(d)
    } else {
        ((d as f64).sqrt().round() as usize).max(1)
    };
    let mut params = RandomForestClassifierParameters::default()
        .with_n_trees(cfg.trees)
        .with_min_samples_split(cfg.min_samples_split)
        .with_min_samples_leaf(cfg.min_samples_leaf)
        .with_m(m)
        .with_seed(seed);
    if cfg.max_depth > 0 {
        params = params.with_max_depth(cfg.max_depth);
    }
    let model: RandomForestClassifier<f64, i32, DenseMatrix<f64>, Vec<i32>> =
        RandomForestClassifier::fit(&x, &y, params)
            .map_err(|e| TrainError::Model(e.to_string()))?;
    eval.iter()
        .map(|rows| {
            let p = model
                .predict(&matrix(rows, &mean, &std)?)
                .map_err(|e| TrainError::Model(e.to_string()))?;
            Ok(p.into_iter()
                .map(|c| {
                    let mut v = vec![0.0; n_classes];
                    v[(c.max(0) as usize).min(n_classes - 1)] = 1.0;
                    v
                })
                .collect())
        })
        .collect()
}
