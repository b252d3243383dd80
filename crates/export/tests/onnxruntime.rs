//! Every architecture, trained a few steps (so BatchNorm statistics and weights are not at
//! their initial values), exported to ONNX and run by onnxruntime: its probabilities equal
//! ser's own within 1e-4, and `onnx.checker` (full check) accepts the file. The comparison
//! runs in `tests/onnx/check_onnx.py` with onnx + onnxruntime from the repo's `.venv`
//! (scripts/setup.sh) or `$SER_PYTHON`.

use std::path::Path;

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Int, Tensor, TensorData, activation};
use ser_models::{
    Activation, CnnConfig, CnnReduce, HeadConfig, LstmConfig, Net, NetConfig, NetKind, PoolKind,
    TimePooling,
};

mod common;
use common::{check_in_onnxruntime, rnd, small_sections};

/// Writes `dir/model.onnx` and `dir/case.json` for `cfg`.
fn case(dir: &Path, name: &str, cfg: &NetConfig) {
    let (batch, time, feats, classes) = (3, 24, 12, 4);
    // Flex explicitly: in a workspace build burn's default device can be wgpu (lavapipe).
    let flex: Device = burn::backend::FlexDevice.into();
    let device = flex.clone().autodiff();
    device.seed(11);
    let mut net = Net::new(cfg, feats, time, classes, &device).unwrap();
    let mut optim = AdamConfig::new().init();
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let mut s = 5u64;
    // Learnable data (class c raises features 3c..3c+3), so the model grows confident and
    // the comparison is not between two near-uniform outputs.
    let sample = |s: &mut u64, n: usize| -> (Vec<f32>, Vec<i64>) {
        let y: Vec<i64> = (0..n).map(|i| (i % classes) as i64).collect();
        let x = (0..n * time * feats)
            .map(|k| {
                let (item, f) = (k / (time * feats), k % feats);
                let on = f / 3 == y[item] as usize;
                rnd(s) + if on { 2.0 } else { 0.0 }
            })
            .collect();
        (x, y)
    };
    for _ in 0..12 {
        let (x, y) = sample(&mut s, 8);
        let x = Tensor::<3>::from_data(TensorData::new(x, [8, time, feats]), &device);
        let y = Tensor::<1, Int>::from_data(TensorData::new(y, [8]), &device);
        let loss = loss_fn.forward(net.forward(x, &[time; 8]), y);
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        net = optim.step(2e-2, net, grads);
    }
    let net = net.valid();
    let (x, _) = sample(&mut s, batch);
    let logits = net.forward(
        Tensor::<3>::from_data(TensorData::new(x.clone(), [batch, time, feats]), &flex),
        &[time; 3],
    );
    let probs = activation::softmax(logits, 1)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let spread = ser_check::nan_max(probs.iter().map(|&p| p as f64))
        + ser_check::nan_max(probs.iter().map(|&p| -p as f64));
    assert!(
        spread > 0.05,
        "{name}: probabilities nearly uniform ({spread}), a weak check"
    );
    let names: Vec<String> = (0..classes).map(|c| format!("c{c}")).collect();
    // Half the cases standardize inside the graph: ser's input is then (x - mean) / std.
    let mean: Vec<f32> = (0..feats).map(|f| f as f32 * 0.1 - 0.3).collect();
    let std: Vec<f32> = (0..feats).map(|f| 0.5 + f as f32 * 0.05).collect();
    let inside = name.len().is_multiple_of(2);
    let raw: Vec<f32> = if inside {
        x.iter()
            .enumerate()
            .map(|(k, v)| v * std[k % feats] + mean[k % feats])
            .collect()
    } else {
        x.clone()
    };
    let standardize = inside.then_some(ser_export::Standardize {
        mean: &mean,
        std: &std,
    });
    let bytes = ser_export::net_to_onnx(&net.weights(), feats, &names, standardize, &[]).unwrap();
    let x = raw;
    let d = dir.join(name);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("model.onnx"), bytes).unwrap();
    let nested: Vec<Vec<Vec<f32>>> = x
        .chunks(time * feats)
        .map(|b| b.chunks(feats).map(|r| r.to_vec()).collect())
        .collect();
    let expected: Vec<Vec<f32>> = probs.chunks(classes).map(|r| r.to_vec()).collect();
    std::fs::write(
        d.join("case.json"),
        serde_json::json!({ "input": nested, "expected": expected }).to_string(),
    )
    .unwrap();
}

#[test]
fn every_architecture_runs_in_onnxruntime_with_sers_probabilities() {
    let (cnn, lstm, head) = small_sections();
    let net = |kind, cnn: CnnConfig, lstm: LstmConfig, head: HeadConfig| NetConfig {
        kind,
        cnn,
        lstm,
        head,
        ssl_head: Default::default(),
    };
    let mut cases: Vec<(String, NetConfig)> = Vec::new();
    for reduce in [CnnReduce::Mean, CnnReduce::Max, CnnReduce::Flatten] {
        let c = CnnConfig {
            reduce,
            ..cnn.clone()
        };
        cases.push((
            format!("cnn_{reduce:?}"),
            net(NetKind::Cnn, c, lstm.clone(), head.clone()),
        ));
    }
    let strided = CnnConfig {
        stride: [1, 2],
        pool_kind: PoolKind::Avg,
        activation: Activation::Silu,
        ..cnn.clone()
    };
    cases.push((
        "cnn_strided_avg_silu".into(),
        net(NetKind::Cnn, strided, lstm.clone(), head.clone()),
    ));
    for pooling in [TimePooling::Mean, TimePooling::Last, TimePooling::Attention] {
        for bidirectional in [false, true] {
            let l = LstmConfig {
                pooling,
                bidirectional,
                ..lstm.clone()
            };
            let h = HeadConfig {
                activation: Activation::LeakyRelu,
                ..head.clone()
            };
            cases.push((
                format!("lstm_{pooling:?}_bi{bidirectional}"),
                net(NetKind::Lstm, cnn.clone(), l.clone(), h),
            ));
            cases.push((
                format!("cnn_lstm_{pooling:?}_bi{bidirectional}"),
                net(NetKind::CnnLstm, cnn.clone(), l, head.clone()),
            ));
        }
    }
    // The SUPERB head: the 12 features read as 3 encoder states x 4.
    for (pooling, projection) in [(TimePooling::Mean, 6), (TimePooling::Attention, 0)] {
        let mut c = net(NetKind::SslHead, cnn.clone(), lstm.clone(), head.clone());
        c.ssl_head = ser_models::SslHeadConfig {
            states: 3,
            projection,
            pooling,
        };
        cases.push((format!("ssl_head_{pooling:?}_proj{projection}"), c));
    }
    let tmp = tempfile::tempdir().unwrap();
    for (name, cfg) in &cases {
        case(tmp.path(), name, cfg);
    }
    let dirs: Vec<_> = cases.iter().map(|(n, _)| tmp.path().join(n)).collect();
    check_in_onnxruntime(&dirs);
}
