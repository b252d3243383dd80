//! ser's encoders against transformers: every layer's hidden states of the tiny random
//! checkpoints in tests/golden/ssl (tests/golden/make_ssl_golden.py), on flex and wgpu.

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor, TensorData};
use ser_ssl::{SslEncoder, load};

/// f32 against transformers' float64 run: stated by issue 23.
const TOL: f64 = 1e-4;
const MODELS: [&str; 5] = [
    "wav2vec2_base",
    "wav2vec2_large",
    "hubert_base",
    "wavlm_base",
    "wavlm_large",
];
const SIGNALS: [&str; 3] = ["chirp", "noise", "am"];

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden")
}

fn read(g: &hdf5::Group, name: &str) -> (Vec<f32>, Vec<usize>) {
    let d = g
        .dataset(name)
        .unwrap_or_else(|e| panic!("golden {}/{name} missing: {e}", g.name()));
    (d.read_raw::<f32>().unwrap(), d.shape())
}

fn values(t: Tensor<3>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap()
}

fn check_model(name: &str, device: &Device) {
    check_folder(name, name, device);
}

/// The checkpoint in tests/golden/ssl/`folder` against the golden states of `name`.
fn check_folder(folder: &str, name: &str, device: &Device) {
    let h5 =
        hdf5::File::open(golden_dir().join("ssl_golden.h5")).expect("tests/golden/ssl_golden.h5");
    let loaded = load(&golden_dir().join("ssl").join(folder), device)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let enc: &SslEncoder = &loaded.encoder;
    for sig in SIGNALS {
        let g = h5
            .group(&format!("{name}/{sig}"))
            .unwrap_or_else(|e| panic!("golden {name}/{sig}: {e}"));
        let (input, shape) = read(&g, "input");
        let wave = Tensor::<2>::from_data(TensorData::new(input, [1, shape[0]]), device);
        let out = enc.forward(wave);
        let (want, wshape) = read(&g, "hidden_states");
        assert_eq!(
            out.layers.len(),
            wshape[0],
            "{name}/{sig}: number of hidden states"
        );
        let per = wshape[1] * wshape[2];
        for (i, layer) in out.layers.into_iter().enumerate() {
            assert_eq!(
                layer.dims(),
                [1, wshape[1], wshape[2]],
                "{name}/{sig} layer {i} shape"
            );
            ser_check::assert_all_close(
                &values(layer),
                &want[i * per..(i + 1) * per],
                TOL,
                format!("{name}/{sig} hidden state {i}"),
            );
        }
        let (last, _) = read(&g, "last_hidden_state");
        ser_check::assert_all_close(&values(out.last), &last, TOL, format!("{name}/{sig} last"));
    }
}

fn flex() -> Device {
    burn::backend::FlexDevice.into()
}

#[test]
fn every_model_matches_transformers_hidden_states_on_flex() {
    for m in MODELS {
        check_model(m, &flex());
    }
    // The same HuBERT weights as pytorch_model.bin.
    check_folder("hubert_base_bin", "hubert_base", &flex());
}

#[test]
fn every_model_matches_transformers_hidden_states_on_wgpu() {
    if let Some(device) = ser_check::wgpu_or_opt_out(ser_kernels::probe_wgpu()) {
        for m in MODELS {
            check_model(m, &device);
        }
    }
}

#[test]
fn the_extractor_stores_each_frame_state_major_as_the_encoder_computes_it() {
    use ser_features::{FeatureBackend, FeatureConfig};
    let name = "wavlm_large";
    let model = golden_dir().join("ssl").join(name);
    let toml = format!(
        "frames = []\n[audio]\nsample_rate = 16000\n[ssl]\nmodel = {:?}\nwindow_s = 30.0\nnormalize = false\n",
        model.display().to_string()
    );
    let cfg = FeatureConfig::from_toml(&toml).unwrap();
    let ex = ser_ssl::SslExtractor::new(cfg, flex()).unwrap();
    let h5 = hdf5::File::open(golden_dir().join("ssl_golden.h5")).unwrap();
    let g = h5.group(&format!("{name}/chirp")).unwrap();
    let (input, _) = read(&g, "input");
    let (want, shape) = read(&g, "hidden_states"); // [states, frames, hidden]
    let (states, frames, hidden) = (shape[0], shape[1], shape[2]);
    let got = ex.compute_batch(&[input]).remove(0);
    assert_eq!(got.n_frames, frames);
    assert_eq!(
        ex.reference().frame_layout()[0],
        ("ssl".to_string(), states * hidden)
    );
    let mut want_rows = Vec::with_capacity(want.len());
    for f in 0..frames {
        for s in 0..states {
            want_rows
                .extend_from_slice(&want[(s * frames + f) * hidden..(s * frames + f + 1) * hidden]);
        }
    }
    ser_check::assert_all_close(
        &got.frames[0],
        &want_rows,
        TOL,
        "extractor rows vs golden states",
    );
}
