//! Every network kind builds from its config, maps `[batch, time, features]` to
//! `[batch, classes]`, learns a separable toy problem, and ignores padding where it should.

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Int, Tensor, TensorData};
use ser_models::{Net, NetConfig, NetKind, TimePooling};

/// burn's CPU backend, named: in a workspace build the default device is wgpu (lavapipe in
/// CI), which runs these small nets ~50x slower and is not what they test.
fn flex() -> Device {
    burn::backend::FlexDevice.into()
}

fn config(kind: NetKind) -> NetConfig {
    let mut c: NetConfig = toml::from_str(&format!(
        "kind = \"{}\"\n[cnn]\nchannels = [4, 8]\n[lstm]\nhidden = 8\n[head]\nhidden = [8]\ndropout = 0.0\n",
        match kind {
            NetKind::Cnn => "cnn",
            NetKind::Lstm => "lstm",
            NetKind::CnnLstm => "cnn_lstm",
            NetKind::SslHead => "ssl_head",
        }
    ))
    .unwrap();
    c.cnn.dropout = 0.0;
    c.lstm.dropout = 0.0;
    c
}

/// Two classes that differ in which half of the feature bins carries energy.
fn toy(batch: usize, time: usize, feats: usize, seed: u64) -> (Vec<f32>, Vec<i64>) {
    let mut s = seed;
    let mut rnd = || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 40) as f32 / (1u64 << 24) as f32) - 0.5
    };
    let mut x = Vec::with_capacity(batch * time * feats);
    let mut y = Vec::with_capacity(batch);
    for b in 0..batch {
        let class = (b % 2) as i64;
        for _ in 0..time {
            for f in 0..feats {
                let on = (f < feats / 2) == (class == 0);
                x.push(rnd() + if on { 1.0 } else { 0.0 });
            }
        }
        y.push(class);
    }
    (x, y)
}

#[test]
fn every_kind_has_the_right_output_shape_and_learns_a_toy_task() {
    let device = flex().autodiff();
    let (batch, time, feats) = (8, 16, 8);
    for kind in [
        NetKind::Cnn,
        NetKind::Lstm,
        NetKind::CnnLstm,
        NetKind::SslHead,
    ] {
        for pooling in [TimePooling::Mean, TimePooling::Last, TimePooling::Attention] {
            if kind == NetKind::Cnn && pooling != TimePooling::Mean
                || kind == NetKind::SslHead && pooling == TimePooling::Last
            {
                continue;
            }
            let mut cfg = config(kind);
            cfg.lstm.pooling = pooling;
            // ssl_head: two encoder states per frame, the toy's frame and half of it (the
            // class shows in each state, as in an encoder's layers), projected to 8.
            cfg.ssl_head.states = 2;
            cfg.ssl_head.projection = 8;
            cfg.ssl_head.pooling = pooling;
            let width = if kind == NetKind::SslHead {
                2 * feats
            } else {
                feats
            };
            device.seed(7);
            let mut net = Net::new(&cfg, width, time, 2, &device).unwrap();
            let mut optim = AdamConfig::new().init();
            let loss_fn = CrossEntropyLossConfig::new().init(&device);
            let (x, y) = toy(batch, time, feats, 1);
            let x = if kind == NetKind::SslHead {
                x.chunks(feats)
                    .flat_map(|f| {
                        f.iter()
                            .copied()
                            .chain(f.iter().map(|v| 0.5 * v))
                            .collect::<Vec<_>>()
                    })
                    .collect()
            } else {
                x
            };
            let x = Tensor::<3>::from_data(TensorData::new(x, [batch, time, width]), &device);
            let y = Tensor::<1, Int>::from_data(TensorData::new(y, [batch]), &device);
            let lengths = vec![time; batch];
            let mut losses = Vec::new();
            for _ in 0..30 {
                let logits = net.forward(x.clone(), &lengths);
                assert_eq!(logits.dims(), [batch, 2], "{kind:?}");
                let loss = loss_fn.forward(logits, y.clone());
                losses.push(loss.clone().into_scalar::<f32>());
                let grads = GradientsParams::from_grads(loss.backward(), &net);
                net = optim.step(1e-2, net, grads);
            }
            let (first, last) = (losses[0], *losses.last().unwrap());
            assert!(
                last < 0.5 * first,
                "{kind:?}/{pooling:?}: loss {first} -> {last}"
            );
        }
    }
}

#[test]
fn lstm_pooling_ignores_padding() {
    let device = flex();
    let (batch, time, feats) = (2, 12, 4);
    for pooling in [TimePooling::Mean, TimePooling::Last, TimePooling::Attention] {
        let mut cfg = config(NetKind::Lstm);
        cfg.lstm.bidirectional = false;
        cfg.lstm.pooling = pooling;
        let net = Net::new(&cfg, feats, time, 3, &device).unwrap().valid();
        let (x, _) = toy(batch, time, feats, 3);
        let lengths = [7usize, 12];
        let mut noisy = x.clone();
        for v in &mut noisy[7 * feats..time * feats] {
            *v += 100.0; // padding of item 0 only
        }
        let run = |data: Vec<f32>| {
            net.forward(
                Tensor::<3>::from_data(TensorData::new(data, [batch, time, feats]), &device),
                &lengths,
            )
            .into_data()
            .try_to_vec::<f32>()
            .unwrap()
        };
        let (a, b) = (run(x), run(noisy));
        ser_check::assert_all_close(&a, &b, 1e-5, format!("{pooling:?}"));
    }
}

#[test]
fn configs_that_cannot_work_are_refused_with_the_reason() {
    let device = flex();
    let mut cfg = config(NetKind::Cnn);
    cfg.cnn.channels = vec![4; 6];
    let e = Net::new(&cfg, 8, 16, 2, &device).unwrap_err().to_string();
    assert!(
        e.contains("shrink 8 features x 16 frames to nothing"),
        "{e}"
    );
    let mut cfg = config(NetKind::Lstm);
    cfg.head.dropout = 1.0;
    let e = Net::new(&cfg, 8, 16, 2, &device).unwrap_err().to_string();
    assert!(e.contains("head.dropout"), "{e}");
    let e = Net::new(&config(NetKind::Lstm), 8, 16, 1, &device)
        .unwrap_err()
        .to_string();
    assert!(e.contains("at least 2"), "{e}");
    let bad: Result<NetConfig, _> =
        toml::from_str("kind = \"transformer\"\n[cnn]\n[lstm]\n[head]\n");
    assert!(bad.is_err());
    // ssl_head: the states must divide the frame (unset, or not the cache's count).
    let mut cfg = config(NetKind::SslHead);
    let e = Net::new(&cfg, 96, 16, 2, &device).unwrap_err().to_string();
    assert!(
        e.contains("ssl_head.states = 0") && e.contains("[ssl.resolved]"),
        "{e}"
    );
    cfg.ssl_head.states = 5;
    let e = Net::new(&cfg, 96, 16, 2, &device).unwrap_err().to_string();
    assert!(e.contains("must divide the 96"), "{e}");
}
