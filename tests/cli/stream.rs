//! `ser stream`: raw 16-bit PCM on standard input, one JSON line per window, as the timeline
//! of the same recording; empty and silent input.

use std::path::Path;

use ser_check::assert_close;

use crate::scored::{pcm, scored, span};
use crate::support::{ser, text};

/// `ser stream MODEL` with 1 s windows every 0.25 s on `input`: its JSON lines and its
/// output text.
pub fn stream_with(model: &Path, input: &[u8]) -> (Vec<serde_json::Value>, String) {
    use std::io::Write;
    let mut child = ser()
        .arg("stream")
        .arg(model)
        .args(["--window", "1.0", "--hop", "0.25"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let lines = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (lines, text(&o))
}

#[test]
fn stream_of_piped_pcm_gives_the_timelines_windows_and_probabilities() {
    let s = scored();
    let rows = &s.timeline;
    let (lines, msg) = stream_with(&s.run_dir, &pcm(&s.rec));
    assert!(msg.contains("real-time factor"), "{msg}");
    assert_eq!(lines.len(), rows.len(), "one line per timeline window");
    let mut both = 0;
    for (l, r) in lines.iter().zip(rows) {
        let (a, b) = span(r);
        let what = format!("{l} vs {r:?}");
        assert_close(l["start_s"].as_f64().unwrap(), a, 1e-3, &what);
        assert_close(l["end_s"].as_f64().unwrap(), b, 1e-3, &what);
        if l["speech"].as_bool().unwrap() && r[3] == "1" {
            both += 1;
            assert_eq!(l["predicted"].as_str().unwrap(), r[4], "{l} vs {r:?}");
            let probs = l["probabilities"].as_object().unwrap();
            for (v, class_p) in probs.values().zip(&r[5..]) {
                let (x, y): (f64, f64) = (v.as_f64().unwrap(), class_p.parse().unwrap());
                assert_close(x, y, 1e-5, format!("{a}-{b}"));
            }
        }
    }
    let speech = rows.iter().filter(|r| r[3] == "1").count();
    assert!(
        both + 2 >= speech,
        "{both} of {speech} speech windows scored by both"
    );
}

#[test]
fn an_empty_stream_gives_nothing_and_silence_gives_only_silence() {
    let s = scored();
    let (lines, msg) = stream_with(&s.run_dir, &[]);
    assert!(lines.is_empty() && msg.contains("no audio"), "{msg}");
    let (lines, _) = stream_with(&s.run_dir, &vec![0u8; 2 * 16_000 * 4]);
    assert_eq!(lines.len(), 13);
    assert!(lines.iter().all(|l| !l["speech"].as_bool().unwrap()));
}
