//! `ser predict`: clips, folders and manifests scored as the run scored them, bad files
//! listed, JSON lines, and emotion timelines of longer recordings.

use std::path::Path;

use ser_check::assert_close;

use crate::scored::{scored, span};
use crate::support::{features, read_csv, run, ser, text};

#[test]
fn predict_gives_the_runs_own_test_probabilities_and_lists_bad_files() {
    let s = scored();
    let d = s.dir("predict");
    // The test speaker's folder, a manifest naming two of its files, and a broken file.
    let broken = d.join("broken.wav");
    std::fs::write(&broken, b"RIFF\x10\x00\x00\x00WAVEfmt nothing").unwrap();
    // Manifest paths are relative to the manifest's folder.
    let manifest = d.join("m.csv");
    std::fs::write(
        &manifest,
        "path,label\n../synth/ravdess/Actor_02/03-01-05-01-01-01-02.wav,angry\n../synth/ravdess/Actor_02/03-01-04-01-01-01-02.wav,sad\n",
    )
    .unwrap();
    let file = |name: &str| s.rav.join("Actor_02").join(name);
    let out = d.join("p.csv");
    let o = run(ser()
        .arg("predict")
        .arg(&s.run_dir)
        .arg(s.rav.join("Actor_02"))
        .arg(&manifest)
        .arg(&broken)
        .arg("--out")
        .arg(&out)
        .args(["--batch", "7"]));
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("broken.wav"), "{}", text(&o));
    let ours = read_csv(&out);
    assert_eq!(
        ours.len(),
        60 + 2,
        "the folder's 60 files and the manifest's 2"
    );
    for t in &s.predictions {
        let o = ours
            .iter()
            .find(|o| Path::new(&o[0]) == Path::new(&t[0]))
            .unwrap_or_else(|| panic!("{} not predicted", t[0]));
        assert_eq!(o[1], t[4], "{}: predicted class", t[0]);
        assert_eq!(o.len() - 3, t.len() - 5, "{}: class columns", t[0]);
        for (a, b) in o[3..].iter().zip(&t[5..]) {
            let (a, b): (f64, f64) = (a.parse().unwrap(), b.parse().unwrap());
            assert_close(a, b, 1e-4, &t[0]);
        }
    }
    // JSON lines carry the same numbers.
    let jl = d.join("p.jsonl");
    let o = run(ser()
        .arg("predict")
        .arg(&s.run_dir)
        .arg(file("03-01-05-01-01-01-02.wav"))
        .arg("--out")
        .arg(&jl));
    assert!(o.status.success(), "{}", text(&o));
    let line: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(&jl)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    let sum: f64 = line["probabilities"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_f64().unwrap())
        .sum();
    assert_close(sum, 1.0, 1e-5, &line);
}

/// The timeline of the shared recording (8 clips, 1.5 s pauses): its files, silence in the
/// pauses, speech in the clips, and mostly each clip's own class; a silent file is "no
/// speech".
#[test]
fn timeline_windows_follow_speech_and_pauses_and_agree_with_the_clips() {
    let s = scored();
    let d = s.dir("timeline");
    let silent = d.join("silent.wav");
    ser_audio::write_wav_i16(&silent, &vec![0.0; 80_000], 16_000).unwrap();
    let o = run(ser()
        .arg("predict")
        .arg(&s.run_dir)
        .arg(&s.rec)
        .arg(&silent)
        .args(["--timeline", "--window", "1.0", "--hop", "0.25", "--out"])
        .arg(&d));
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("silent.wav: 5.0 s, speech in 0% of windows; no speech"),
        "{}",
        text(&o)
    );
    for f in [
        "rec.timeline.csv",
        "rec.timeline.png",
        "rec.timeline.svg",
        "rec.summary.json",
    ] {
        assert!(d.join(f).exists(), "{f}");
    }
    let rows = read_csv(&d.join("rec.timeline.csv"));
    assert_eq!(rows, s.timeline, "the same recording scored twice");
    // Windows wholly inside a pause are silence; windows wholly inside a clip are speech.
    for r in &rows {
        let (a, b) = span(r);
        let inside_clip = s.spans.iter().any(|&(st, e)| a >= st && b <= e);
        let inside_pause = !s.spans.iter().any(|&(st, e)| a < e && b > st);
        if inside_pause {
            assert_eq!(r[3], "0", "window {a}-{b} is in a pause");
        }
        if inside_clip {
            assert_eq!(r[3], "1", "window {a}-{b} is in a clip");
        }
    }
    // Each clip's dominant timeline class against the clip scored by the run.
    let mut agree = 0;
    for (c, &(st, e)) in s.clips.iter().zip(&s.spans) {
        let mut mean = vec![0.0f64; rows[0].len() - 5];
        for r in rows.iter().filter(|r| {
            let (a, b) = span(r);
            r[3] == "1" && (a + b) / 2.0 >= st && (a + b) / 2.0 <= e
        }) {
            for (m, v) in mean.iter_mut().zip(&r[5..]) {
                *m += v.parse::<f64>().unwrap();
            }
        }
        let best = ser_infer::argmax_first(&mean);
        let own = s
            .predictions
            .iter()
            .find(|t| Path::new(&t[0]) == c.as_path())
            .unwrap();
        let own: Vec<f64> = own[5..].iter().map(|v| v.parse().unwrap()).collect();
        agree += usize::from(best == ser_infer::argmax_first(&own));
    }
    eprintln!("timeline vs clip-level class: {agree} of 8 clips");
    assert!(agree >= 5, "{agree} of 8 clips");
}

#[test]
fn the_timeline_of_a_minute_of_known_emotions_names_most_of_them() {
    // A 4-class network (IEMOCAP's angry / happy / neutral / sad) trained on a synthetic
    // RAVDESS-layout corpus of 12 speakers, one held out for test and one for validation.
    let d = tempfile::tempdir().unwrap();
    let synth = d.path().join("synth");
    let o = run(ser()
        .args([
            "synth",
            "--seed",
            "3",
            "--ravdess-actors",
            "12",
            "--ravdess-rate",
            "16000",
        ])
        .args(["--cremad-actors", "1", "--cremad-sentences", "1", "--out"])
        .arg(&synth));
    assert!(o.status.success(), "{}", text(&o));
    let exp = d.path().join("tl.toml");
    std::fs::write(
        &exp,
        format!(
            "name = \"tl\"\n[data]\ncache = \"{}\"\nframes = [\"logmel\"]\n\
             labels = [\"angry\", \"happy\", \"neutral\", \"sad\"]\ncorpora = [\"{}\"]\nfeatures = \"{}\"\n\
             [split]\ntest_list = [\"synth_ravdess/02\"]\nval_list = [\"synth_ravdess/03\"]\n\
             [segment]\nframes = 150\n[model]\nkind = \"lstm\"\n[model.lstm]\nhidden = 32\nlayers = 1\n\
             [model.head]\nhidden = []\n[train]\nepochs = 20\nbatch_size = 8\nlr = 3e-3\n\
             [augment]\ngain_db = [-10.0, 10.0]\n",
            d.path().join("cache.h5").display(),
            synth.join("ravdess").display(),
            features().display()
        ),
    )
    .unwrap();
    let runs = d.path().join("runs");
    let o = run(ser().arg("run").arg(&exp).arg("--runs").arg(&runs));
    assert!(o.status.success(), "{}", text(&o));
    let run_dir = runs.join("tl");

    // A minute of the test speaker's clips in a shuffled order, 1 s of silence after each.
    let mut clips: Vec<(String, String)> = csv::Reader::from_path(run_dir.join("predictions.csv"))
        .unwrap()
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_string(), r[3].to_string())
        })
        .collect();
    let clip_right = {
        let rows: Vec<csv::StringRecord> = csv::Reader::from_path(run_dir.join("predictions.csv"))
            .unwrap()
            .records()
            .map(|r| r.unwrap())
            .collect();
        rows.iter().filter(|r| r[3] == r[4]).count() as f64 / rows.len() as f64
    };
    let mut state = 12345u64;
    for i in (1..clips.len()).rev() {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        clips.swap(i, (state >> 33) as usize % (i + 1));
    }
    let (mut y, mut truth) = (Vec::new(), Vec::new());
    for (path, label) in &clips {
        let a = ser_audio::decode_file(Path::new(path)).unwrap();
        assert_eq!((a.sample_rate, a.channels), (16_000, 1));
        let t0 = y.len() as f64 / 16_000.0;
        y.extend_from_slice(&a.samples);
        truth.push((t0, y.len() as f64 / 16_000.0, label.clone()));
        y.extend(std::iter::repeat_n(0.0f32, 16_000));
        if y.len() >= 60 * 16_000 {
            break;
        }
    }
    let rec = d.path().join("minute.wav");
    ser_audio::write_wav_i16(&rec, &y, 16_000).unwrap();
    let tl = d.path().join("tl");
    let o = run(ser()
        .arg("predict")
        .arg(&run_dir)
        .arg(&rec)
        .args(["--timeline", "--window", "1.5", "--hop", "0.5", "--out"])
        .arg(&tl));
    assert!(o.status.success(), "{}", text(&o));
    let mut r = csv::Reader::from_path(tl.join("minute.timeline.csv")).unwrap();
    let classes: Vec<String> = r
        .headers()
        .unwrap()
        .iter()
        .skip(5)
        .map(|h| h.trim_start_matches("p_").to_string())
        .collect();
    let rows: Vec<csv::StringRecord> = r.records().map(|r| r.unwrap()).collect();
    // The dominant emotion of a segment: the highest mean probability over the speech
    // windows centred inside it.
    let mut right = 0;
    for (t0, t1, label) in &truth {
        let mut mean = vec![0.0f64; classes.len()];
        for w in rows.iter().filter(|w| {
            let c = (w[0].parse::<f64>().unwrap() + w[1].parse::<f64>().unwrap()) / 2.0;
            &w[3] == "1" && c >= *t0 && c <= *t1
        }) {
            for (m, v) in mean.iter_mut().zip(w.iter().skip(5)) {
                *m += v.parse::<f64>().unwrap();
            }
        }
        let best = (0..mean.len())
            .max_by(|&a, &b| mean[a].total_cmp(&mean[b]))
            .unwrap();
        right += usize::from(mean[best] > 0.0 && &classes[best] == label);
    }
    eprintln!(
        "timeline: dominant emotion right in {right} of {} segments of {:.0} s (clip-level accuracy of the test speaker {clip_right:.3}, chance 0.25)",
        truth.len(),
        y.len() as f64 / 16_000.0
    );
    assert!(truth.len() >= 10, "{} segments", truth.len());
    assert!(
        2 * right > truth.len(),
        "{right} of {} segments",
        truth.len()
    );
}
