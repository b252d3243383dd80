//! The `[ssl]` section's validation: what goes with it is said, not guessed.

use ser_features::{Extractor, FeatureConfig, SslStore};

fn err(toml: &str) -> String {
    match FeatureConfig::from_toml(toml) {
        Ok(_) => panic!("accepted:\n{toml}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn an_ssl_section_takes_16_khz_no_spectral_frames_and_a_model() {
    let ok = "frames = []\n[audio]\nsample_rate = 16000\n[ssl]\nmodel = \"m\"\n";
    let cfg = FeatureConfig::from_toml(ok).unwrap();
    let ssl = cfg.ssl.as_ref().unwrap();
    assert_eq!(
        (ssl.window_s, ssl.overlap_s, ssl.store),
        (20.0, 2.0, SslStore::Frames)
    );
    let e = err("[audio]\nsample_rate = 16000\n[ssl]\nmodel = \"m\"\n");
    assert!(e.contains("frames = []"), "{e}");
    let e = err("frames = []\n[ssl]\nmodel = \"m\"\n");
    assert!(e.contains("sample_rate = 16000"), "{e}");
    let e = err("frames = []\n[audio]\nsample_rate = 16000\n[ssl]\n");
    assert!(e.contains("ssl.model"), "{e}");
    let e =
        err("frames = []\n[audio]\nsample_rate = 16000\n[ssl]\nmodel = \"m\"\noverlap_s = 10.0\n");
    assert!(e.contains("ssl.overlap_s"), "{e}");
}

#[test]
fn spectral_paths_refuse_an_ssl_config_instead_of_computing_log_mel() {
    let cfg = FeatureConfig::from_toml(
        "frames = []\n[audio]\nsample_rate = 16000\n[ssl]\nmodel = \"m\"\n",
    )
    .unwrap();
    let e = Extractor::new(cfg.clone())
        .err()
        .expect("refused")
        .to_string();
    assert!(e.contains("[ssl]") && e.contains("ser predict"), "{e}");
    let e = Extractor::for_ssl(cfg)
        .err()
        .expect("unresolved")
        .to_string();
    assert!(e.contains("resolved"), "{e}");
}
