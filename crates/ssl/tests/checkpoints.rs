//! Loading checkpoint folders as users have them: hub checkpoints of the pretraining or task
//! models (prefixed keys, old weight-norm names, extra heads), and folders that do not fit.

use std::fs;
use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor, TensorData};
use safetensors::SafeTensors;
use safetensors::tensor::TensorView;
use ser_ssl::load;

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/golden/ssl")
        .join(name)
}

fn flex() -> Device {
    burn::backend::FlexDevice.into()
}

/// A copy of golden folder `name` whose tensors are renamed by `rename` (None drops one),
/// plus `extra` tensors, and whose config.json is `edit`ed.
fn variant(
    dir: &Path,
    name: &str,
    rename: impl Fn(&str) -> Option<String>,
    extra: &[(&str, Vec<usize>)],
    edit: impl Fn(&mut serde_json::Value),
) -> PathBuf {
    let src = golden(name);
    let out = dir.join(name);
    fs::create_dir_all(&out).unwrap();
    let mut config: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(src.join("config.json")).unwrap()).unwrap();
    edit(&mut config);
    fs::write(out.join("config.json"), config.to_string()).unwrap();
    let bytes = fs::read(src.join("model.safetensors")).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let zeros: Vec<(String, Vec<usize>, Vec<u8>)> = extra
        .iter()
        .map(|(k, s)| {
            (
                k.to_string(),
                s.clone(),
                vec![0u8; 4 * s.iter().product::<usize>()],
            )
        })
        .collect();
    let mut views: Vec<(String, TensorView)> = st
        .tensors()
        .into_iter()
        .filter_map(|(k, v)| rename(&k).map(|k| (k, v)))
        .collect();
    for (k, s, b) in &zeros {
        views.push((
            k.clone(),
            TensorView::new(safetensors::Dtype::F32, s.clone(), b).unwrap(),
        ));
    }
    safetensors::serialize_to_file(views, None, &out.join("model.safetensors")).unwrap();
    out
}

fn last_state(dir: &Path) -> Vec<f32> {
    let enc = load(dir, &flex()).unwrap_or_else(|e| panic!("{e}")).encoder;
    let t = 8000;
    let wave: Vec<f32> = (0..t).map(|i| (i as f32 * 0.013).sin() * 0.3).collect();
    let x = Tensor::<2>::from_data(TensorData::new(wave, [1, t]), &flex());
    enc.forward(x)
        .last
        .into_data()
        .try_into_vec::<f32>()
        .unwrap()
}

#[test]
fn a_pretraining_checkpoint_with_prefixed_keys_and_old_weight_norm_names_loads_the_same() {
    let tmp = tempfile::tempdir().unwrap();
    let hub = variant(
        tmp.path(),
        "wav2vec2_base",
        |k| {
            let k = k
                .replace("parametrizations.weight.original0", "weight_g")
                .replace("parametrizations.weight.original1", "weight_v");
            Some(format!("wav2vec2.{k}"))
        },
        &[
            ("quantizer.codevectors", vec![1, 4, 8]),
            ("project_q.weight", vec![8, 8]),
        ],
        |_| {},
    );
    let want = last_state(&golden("wav2vec2_base"));
    let got = last_state(&hub);
    ser_check::assert_all_close(&got, &want, 0.0, "prefixed checkpoint vs plain one");
}

fn load_err(dir: &Path) -> String {
    match load(dir, &flex()) {
        Ok(_) => panic!("{} loaded, but should have been refused", dir.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn an_unknown_architecture_is_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = variant(
        tmp.path(),
        "hubert_base",
        |k| Some(k.into()),
        &[],
        |c| {
            c["model_type"] = "data2vec-audio".into();
        },
    );
    let e = load_err(&dir);
    assert!(e.contains("data2vec-audio") && e.contains("wavlm"), "{e}");
    assert!(e.contains("config.json"), "names the file: {e}");
}

#[test]
fn a_missing_tensor_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let gone = "encoder.layers.1.feed_forward.output_dense.weight";
    let dir = variant(
        tmp.path(),
        "wavlm_base",
        |k| (k != gone).then(|| k.into()),
        &[],
        |_| {},
    );
    let e = load_err(&dir);
    assert!(e.contains(gone) && e.contains("model.safetensors"), "{e}");
}

#[test]
fn weights_of_another_shape_are_refused_with_the_tensor_named() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = variant(
        tmp.path(),
        "wav2vec2_large",
        |k| Some(k.into()),
        &[],
        |c| {
            c["intermediate_size"] = 48.into();
        },
    );
    let e = load_err(&dir);
    assert!(e.contains("intermediate_dense"), "{e}");
}

#[test]
fn encoder_weights_beyond_the_config_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = variant(
        tmp.path(),
        "hubert_base",
        |k| Some(k.into()),
        &[],
        |c| {
            c["num_hidden_layers"] = 1.into();
        },
    );
    let e = load_err(&dir);
    assert!(e.contains("encoder.layers.1."), "{e}");
}

#[test]
fn a_pickled_checkpoint_loads_and_a_bad_one_or_none_is_named() {
    // tests/golden/ssl/hubert_base_bin: hubert_base's weights as pytorch_model.bin.
    let want = last_state(&golden("hubert_base"));
    let got = last_state(&golden("hubert_base_bin"));
    ser_check::assert_all_close(&got, &want, 0.0, "pytorch_model.bin vs model.safetensors");
    let tmp = tempfile::tempdir().unwrap();
    fs::copy(
        golden("wavlm_base").join("config.json"),
        tmp.path().join("config.json"),
    )
    .unwrap();
    fs::write(tmp.path().join("pytorch_model.bin"), b"not a pickle").unwrap();
    let e = load_err(tmp.path());
    assert!(e.contains("pytorch_model.bin"), "{e}");
    fs::remove_file(tmp.path().join("pytorch_model.bin")).unwrap();
    let e = load_err(tmp.path());
    assert!(
        e.contains("no model.safetensors or pytorch_model.bin") && e.contains("huggingface-cli"),
        "{e}"
    );
    let empty = tempfile::tempdir().unwrap();
    let e = load_err(empty.path());
    assert!(e.contains("config.json"), "{e}");
}

#[test]
fn ssl_layers_beyond_the_checkpoint_are_refused_with_the_range() {
    let toml = format!(
        "frames = []\n[audio]\nsample_rate = 16000\n[ssl]\nmodel = {:?}\nlayers = [0, 3]\n",
        golden("hubert_base").display().to_string()
    );
    let cfg = ser_features::FeatureConfig::from_toml(&toml).unwrap();
    let e = match ser_ssl::SslExtractor::new(cfg, flex()) {
        Ok(_) => panic!("layer 3 of a 2-layer model accepted"),
        Err(e) => e.to_string(),
    };
    assert!(e.contains("state 3") && e.contains("has 3"), "{e}");
}
