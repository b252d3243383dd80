//! Sweeps: one experiment file (`base`) run at every point of a grid over any of its keys,
//! plus random samples, each point under the base's own protocol. Points are fixed in
//! `<runs>/<sweep>/points.json`; each runs in `<runs>/<sweep>/pNNN/` (an ordinary run
//! folder, so a killed point resumes), finished points are skipped, a failing point is
//! listed and the sweep goes on, and `summary.csv` / `summary.md` rank the points by mean
//! test UA. `shard = (i, n)` runs every n-th point (for array jobs on a cluster); collecting
//! rebuilds the summary from whatever points have finished, wherever they ran.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Value;

use ser_experiment::folder::{io, pin_plan, write_atomic};
use ser_experiment::{Experiment, Target, TrainError, mix};
use ser_train::{MeanStd, Observer, RunOptions, RunSummary, read_summary};

use crate::protocol::run_or_resume;

/// A sweep file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sweep {
    /// Sweep name: its folder is `<runs>/<name>`.
    pub name: String,
    /// The experiment every point starts from (relative to the sweep file).
    pub base: PathBuf,
    /// Dotted experiment keys and the values to try; every combination is a point.
    #[serde(default)]
    pub grid: BTreeMap<String, Vec<Value>>,
    /// Random points, after the grid's.
    #[serde(default)]
    pub random: Option<RandomSearch>,
}

/// Random search: `samples` points, each key drawn from its distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomSearch {
    /// Points to draw.
    pub samples: usize,
    /// Seed of the draws.
    #[serde(default)]
    pub seed: u64,
    /// Dotted experiment keys and their distributions.
    pub params: BTreeMap<String, Distribution>,
}

/// How a random key is drawn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Distribution {
    /// Uniform in `[low, high]`.
    Uniform([f64; 2]),
    /// Log-uniform in `[low, high]` (both > 0): learning rates, SVM C and gamma.
    LogUniform([f64; 2]),
    /// One of the values, equally likely.
    Choice(Vec<Value>),
}

/// One point: the keys it sets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Folder name under the sweep (`p001`, ...).
    pub id: String,
    /// Key = value pairs, in key order.
    pub settings: BTreeMap<String, Value>,
}

/// How a point went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PointStatus {
    /// Trained (or resumed) in this call.
    Ran,
    /// Finished before this call; read from its folder.
    Done,
    /// Not run here (another shard's, or not finished yet).
    Pending,
    /// Failed with this error.
    Failed(String),
}

/// One row of the summary.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PointResult {
    /// The point.
    pub point: Point,
    /// What happened to it.
    pub status: PointStatus,
    /// Its results, when finished.
    pub summary: Option<RunSummary>,
}

impl PointResult {
    /// Test UA and its std over folds (none for one split; cross-corpus: the pooled
    /// cross-corpus cells).
    pub fn ua(&self) -> Option<(f64, Option<f64>)> {
        self.summary.as_ref().map(|s| match &s.cv {
            Some(cv) => (cv.ua.mean, Some(cv.ua.std)),
            None => (s.test.ua, None),
        })
    }
}

/// Sweep outcome, in point order.
pub struct SweepReport {
    /// The sweep folder.
    pub dir: PathBuf,
    /// Every point.
    pub points: Vec<PointResult>,
}

impl Sweep {
    /// Reads a sweep file; `base` is resolved against its folder and read for a run on
    /// `target` (the `[train]` defaults it sizes).
    pub fn load(path: &Path, target: Target) -> Result<(Self, Experiment), TrainError> {
        let text = fs::read_to_string(path).map_err(io(path))?;
        let mut s: Sweep = toml::from_str(&text)
            .map_err(|e| TrainError::Config(format!("{}: {e}", path.display())))?;
        if s.base.is_relative() {
            s.base = path.parent().unwrap_or(Path::new(".")).join(&s.base);
        }
        let base_text = fs::read_to_string(&s.base).map_err(io(&s.base))?;
        let base = Experiment::from_toml_for(&base_text, target)
            .map_err(|e| TrainError::Config(format!("{}: {e}", s.base.display())))?;
        s.validate(&base)?;
        Ok((s, base))
    }

    fn validate(&self, base: &Experiment) -> Result<(), TrainError> {
        let bad = |m: String| Err(TrainError::Config(format!("sweep {}: {m}", self.name)));
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return bad("name must be letters, digits, '-', '_' or '.'".into());
        }
        let table = base.to_table();
        for (k, v) in &self.grid {
            if v.is_empty() {
                return bad(format!("grid key {k} has no values"));
            }
            lookup(&table, k).map_err(TrainError::Config)?;
        }
        if let Some(r) = &self.random {
            if r.samples == 0 || r.params.is_empty() {
                return bad(
                    "random needs samples >= 1 and at least one key in random.params".into(),
                );
            }
            for (k, d) in &r.params {
                lookup(&table, k).map_err(TrainError::Config)?;
                match d {
                    Distribution::Uniform([a, b]) if a <= b && a.is_finite() && b.is_finite() => {}
                    Distribution::LogUniform([a, b]) if *a > 0.0 && a <= b && b.is_finite() => {}
                    Distribution::Choice(v) if !v.is_empty() => {}
                    _ => {
                        return bad(format!(
                            "random.params.{k}: uniform = [low, high], log_uniform = [low > 0, high] or choice = [values...]"
                        ));
                    }
                }
            }
        }
        if self.grid.is_empty() && self.random.is_none() {
            return bad("nothing to sweep: add [grid] keys or a [random] section".into());
        }
        Ok(())
    }

    /// Every point, grid first (last key fastest), then the random samples.
    pub fn points(&self) -> Vec<Point> {
        let mut combos: Vec<BTreeMap<String, Value>> = vec![BTreeMap::new()];
        for (k, values) in &self.grid {
            combos = combos
                .into_iter()
                .flat_map(|c| {
                    values.iter().map(move |v| {
                        let mut c = c.clone();
                        c.insert(k.clone(), v.clone());
                        c
                    })
                })
                .collect();
        }
        if self.grid.is_empty() {
            combos.clear();
        }
        if let Some(r) = &self.random {
            // A SplitMix64 stream (stable across platforms and releases): draw k is
            // mix(start + k * golden ratio).
            let mut state = r.seed ^ 0x5eed_5eed;
            let mut next = || {
                let z = mix(state);
                state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
                (z >> 11) as f64 / (1u64 << 53) as f64
            };
            for _ in 0..r.samples {
                let mut c = BTreeMap::new();
                for (k, d) in &r.params {
                    let u = next();
                    let v = match d {
                        Distribution::Uniform([a, b]) => Value::Float(round6(a + (b - a) * u)),
                        Distribution::LogUniform([a, b]) => {
                            Value::Float(round6((a.ln() + (b.ln() - a.ln()) * u).exp()))
                        }
                        Distribution::Choice(v) => {
                            v[((u * v.len() as f64) as usize).min(v.len() - 1)].clone()
                        }
                    };
                    c.insert(k.clone(), v);
                }
                combos.push(c);
            }
        }
        combos
            .into_iter()
            .enumerate()
            .map(|(i, settings)| Point {
                id: format!("p{:03}", i + 1),
                settings,
            })
            .collect()
    }
}

/// Six significant digits: drawn values read well in tables and TOML.
fn round6(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let mag = 10f64.powi(5 - x.abs().log10().floor() as i32);
    (x * mag).round() / mag
}

fn lookup<'a>(t: &'a toml::Table, key: &str) -> Result<&'a Value, String> {
    let mut parts = key.split('.');
    let first = parts.next().unwrap_or_default();
    let mut v = t.get(first);
    for p in parts {
        v = v.and_then(|x| x.as_table()).and_then(|x| x.get(p));
    }
    v.ok_or_else(|| {
        format!("`{key}` is not a key of the experiment (keys are dotted paths such as model.svm.c or train.lr)")
    })
}

/// The base experiment with `settings` applied, named `id`.
fn point_experiment(base: &Experiment, p: &Point) -> Result<Experiment, TrainError> {
    let mut t = base.to_table();
    for (k, v) in &p.settings {
        let path: Vec<&str> = k.split('.').collect();
        let mut cur = &mut t;
        for seg in &path[..path.len() - 1] {
            cur = cur
                .get_mut(*seg)
                .and_then(Value::as_table_mut)
                .ok_or_else(|| {
                    TrainError::Config(format!("`{k}` is not a key of the experiment"))
                })?;
        }
        let last = path[path.len() - 1];
        // Integers given for float keys (c = 1) are what a user means.
        let v = match (cur.get(last), v) {
            (Some(Value::Float(_)), Value::Integer(i)) => Value::Float(*i as f64),
            _ => v.clone(),
        };
        cur.insert(last.to_string(), v);
    }
    t.insert("name".into(), Value::String(p.id.clone()));
    let exp = Experiment::from_toml(&toml::to_string(&t).expect("table serializes"))?;
    exp.validate()?;
    Ok(exp)
}

/// Runs the points of `sweep` that belong to `shard` (`(i, n)`: every n-th point from the
/// i-th, 1-based; `None`: all), or none with `collect_only`, then writes the summary of all
/// points that have finished anywhere.
pub fn run_sweep(
    sweep: &Sweep,
    base: &Experiment,
    opts: &RunOptions,
    shard: Option<(usize, usize)>,
    collect_only: bool,
    obs: &mut dyn Observer,
) -> Result<SweepReport, TrainError> {
    if let Some((i, n)) = shard
        && (n == 0 || i == 0 || i > n)
    {
        return Err(TrainError::Config(format!(
            "--shard {i}/{n}: give I/N with 1 <= I <= N"
        )));
    }
    let dir = opts.runs_dir.join(&sweep.name);
    fs::create_dir_all(&dir).map_err(io(&dir))?;
    let points = sweep.points();
    let plan = serde_json::to_string_pretty(&serde_json::json!({
        "base": base.to_toml(),
        "points": points,
    }))
    .expect("json");
    pin_plan(
        &dir.join("points.json"),
        &plan,
        "this sweep folder was made from another sweep or base experiment: change the sweep's name or remove the folder",
    )?;
    let point_opts = RunOptions {
        runs_dir: dir.clone(),
        device: opts.device.clone(),
        replicas: opts.replicas.clone(),
        device_name: opts.device_name.clone(),
        stop_after: opts.stop_after,
    };
    let ctx = PointContext {
        dir: &dir,
        base,
        opts: &point_opts,
        total: points.len(),
    };
    let mut results = Vec::with_capacity(points.len());
    let mut claimed_elsewhere = Vec::new();
    for (k, p) in points.iter().enumerate() {
        let mine = !collect_only && shard.is_none_or(|(i, n)| k % n == i - 1);
        let (status, summary) = ctx.point(k, p, mine, obs)?;
        if mine && status == PointStatus::Pending {
            claimed_elsewhere.push(k);
        }
        results.push(PointResult {
            point: p.clone(),
            status,
            summary,
        });
    }
    // Points another task held: taken over now if that task has died since (a requeued
    // array task finds its killed predecessor's points this way), else left to it.
    for k in claimed_elsewhere {
        let (status, summary) = ctx.point(k, &points[k], true, obs)?;
        results[k].status = status;
        results[k].summary = summary;
    }
    let report = SweepReport {
        dir,
        points: results,
    };
    write_summary(sweep, base, &report)?;
    Ok(report)
}

/// What every point of one sweep call shares.
struct PointContext<'a> {
    dir: &'a Path,
    base: &'a Experiment,
    opts: &'a RunOptions,
    total: usize,
}

impl PointContext<'_> {
    /// Point `k`: read back when finished; run when `mine` and no other task holds its claim
    /// (`<sweep>/<id>.lock`; held by a live task: `Pending`).
    fn point(
        &self,
        k: usize,
        p: &Point,
        mine: bool,
        obs: &mut dyn Observer,
    ) -> Result<(PointStatus, Option<RunSummary>), TrainError> {
        let done = self.dir.join(&p.id).join("results.json");
        let failed = self.dir.join(&p.id).join("failed.txt");
        let recorded = || match fs::read_to_string(&failed) {
            Ok(why) => (PointStatus::Failed(why.trim().to_string()), None),
            Err(_) => (PointStatus::Pending, None),
        };
        if done.exists() {
            return Ok((PointStatus::Done, Some(read_summary(&done)?)));
        }
        if !mine {
            return Ok(recorded());
        }
        let lock = self.dir.join(format!("{}.lock", p.id));
        let _claim = match ser_lock::Lock::try_acquire(&lock, &format!("sweep point {}", p.id)) {
            Ok(Ok(claim)) => claim,
            Ok(Err(holder)) => {
                obs.note(&format!(
                    "point {}: being run by {holder}; left to it",
                    p.id
                ));
                return Ok((PointStatus::Pending, None));
            }
            Err(e) => return Err(TrainError::file(&lock, e)),
        };
        // Another task may have finished it between the check above and the claim.
        if done.exists() {
            return Ok((PointStatus::Done, Some(read_summary(&done)?)));
        }
        obs.note(&format!(
            "point {} of {} ({}): {}",
            k + 1,
            self.total,
            p.id,
            describe(&p.settings)
        ));
        match point_experiment(self.base, p).and_then(|e| run_or_resume(&e, self.opts, obs)) {
            Ok(s) => {
                let _ = fs::remove_file(&failed);
                Ok((PointStatus::Ran, Some(s)))
            }
            Err(e @ TrainError::Interrupted(_)) => Err(e),
            Err(TrainError::Busy(why)) => {
                obs.note(&format!("point {}: {why}", p.id));
                Ok((PointStatus::Pending, None))
            }
            Err(e) => {
                // Kept beside the point so that collecting another shard's sweep lists it;
                // the next run of its shard tries it again.
                obs.note(&format!("point {} failed: {e}", p.id));
                let pdir = self.dir.join(&p.id);
                fs::create_dir_all(&pdir).map_err(io(&pdir))?;
                write_atomic(&failed, e.to_string().as_bytes())?;
                Ok((PointStatus::Failed(e.to_string()), None))
            }
        }
    }
}

fn describe(s: &BTreeMap<String, Value>) -> String {
    s.iter()
        .map(|(k, v)| format!("{k} = {}", show(v)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `summary.csv` and `summary.md`: finished points by mean test UA (best first), then the
/// pending and failed ones.
fn write_summary(sweep: &Sweep, base: &Experiment, r: &SweepReport) -> Result<(), TrainError> {
    let keys: Vec<String> = r
        .points
        .first()
        .map(|p| p.point.settings.keys().cloned().collect())
        .unwrap_or_default();
    let mut keys = keys;
    for p in &r.points {
        for k in p.point.settings.keys() {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    let mut order: Vec<&PointResult> = r.points.iter().collect();
    order.sort_by(|a, b| match (a.ua(), b.ua()) {
        (Some(x), Some(y)) => y.0.total_cmp(&x.0).then(a.point.id.cmp(&b.point.id)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.point.id.cmp(&b.point.id),
    });
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut head: Vec<String> = vec!["point".into()];
    head.extend(keys.iter().cloned());
    head.extend(
        [
            "ua_mean", "ua_std", "wa", "macro_f1", "clips", "status", "protocol", "learned",
        ]
        .map(String::from),
    );
    let err = |e: csv::Error| TrainError::Io(format!("summary.csv: {e}"));
    w.write_record(&head).map_err(err)?;
    let mut md = format!(
        "# Sweep {}\n\nBase experiment: {} (model {:?}). {} point(s): {} finished, {} failed, {} pending. Ranked by test UA (mean +- std over folds for cross-validation protocols). Command: `ser sweep`; collect shards with `ser sweep --collect`.\n\n| point |",
        sweep.name,
        sweep.base.display(),
        base.model.kind,
        r.points.len(),
        r.points.iter().filter(|p| p.summary.is_some()).count(),
        r.points
            .iter()
            .filter(|p| matches!(p.status, PointStatus::Failed(_)))
            .count(),
        r.points
            .iter()
            .filter(|p| p.status == PointStatus::Pending)
            .count(),
    );
    for k in &keys {
        let _ = write!(md, " {k} |");
    }
    md.push_str(" test UA | WA | macro-F1 | clips | status |\n|---|");
    md.push_str(&"---|".repeat(keys.len() + 5));
    md.push('\n');
    let mut protocols: Vec<String> = Vec::new();
    for p in order {
        let setting = |k: &String| p.point.settings.get(k).map(show).unwrap_or_default();
        let status = match &p.status {
            PointStatus::Ran | PointStatus::Done
                if p.summary.as_ref().is_some_and(|s| !s.learned) =>
            {
                "finished; DID NOT LEARN".to_string()
            }
            PointStatus::Ran | PointStatus::Done => "finished".to_string(),
            PointStatus::Pending => "pending".to_string(),
            PointStatus::Failed(e) => format!("failed: {e}"),
        };
        let mut row = vec![p.point.id.clone()];
        row.extend(keys.iter().map(setting));
        let _ = write!(md, "| {} |", p.point.id);
        for k in &keys {
            let _ = write!(md, " {} |", setting(k));
        }
        match (&p.summary, p.ua()) {
            (Some(s), Some((m, sd))) => {
                row.extend([
                    format!("{m:.6}"),
                    sd.map_or(String::new(), |v| format!("{v:.6}")),
                    format!("{:.6}", s.test.wa),
                    format!("{:.6}", s.test.macro_f1),
                    s.test.n.to_string(),
                ]);
                let sd = sd.map_or(String::new(), |v| format!(" +- {v:.4}"));
                let _ = write!(
                    md,
                    " {m:.4}{sd} | {:.4} | {:.4} | {} |",
                    s.test.wa, s.test.macro_f1, s.test.n
                );
                if !protocols.contains(&s.protocol) {
                    protocols.push(s.protocol.clone());
                }
            }
            _ => {
                row.extend(std::iter::repeat_n(String::new(), 5));
                md.push_str(" | | | |");
            }
        }
        let _ = writeln!(md, " {} |", status.replace('|', "\\|"));
        row.push(status);
        row.push(
            p.summary
                .as_ref()
                .map(|s| s.protocol.clone())
                .unwrap_or_default(),
        );
        row.push(
            p.summary
                .as_ref()
                .map_or(String::new(), |s| s.learned.to_string()),
        );
        w.write_record(&row).map_err(err)?;
    }
    md.push_str(&over_seeds(r, &keys));
    md.push_str("\nProtocol(s):\n\n");
    for p in &protocols {
        let _ = writeln!(md, "- {p}");
    }
    let csv = w
        .into_inner()
        .map_err(|e| TrainError::Io(format!("summary.csv: {e}")))?;
    write_atomic(&r.dir.join("summary.csv"), &csv)?;
    write_atomic(&r.dir.join("summary.md"), md.as_bytes())
}

/// Points that differ only in `*.seed` keys, as one row each: mean +- sample std of their
/// test UA (empty when no seed key is swept).
fn over_seeds(r: &SweepReport, keys: &[String]) -> String {
    let seeds: Vec<&String> = keys.iter().filter(|k| k.ends_with("seed")).collect();
    if seeds.is_empty() {
        return String::new();
    }
    let rest: Vec<&String> = keys.iter().filter(|k| !k.ends_with("seed")).collect();
    let mut groups: BTreeMap<Vec<String>, Vec<f64>> = BTreeMap::new();
    for p in &r.points {
        if let Some((ua, _)) = p.ua() {
            let key = rest
                .iter()
                .map(|k| p.point.settings.get(*k).map(show).unwrap_or_default())
                .collect();
            groups.entry(key).or_default().push(ua);
        }
    }
    let mut rows: Vec<(Vec<String>, MeanStd, usize)> = groups
        .into_iter()
        .map(|(k, v)| (k, MeanStd::of(&v), v.len()))
        .collect();
    rows.sort_by(|a, b| b.1.mean.total_cmp(&a.1.mean));
    let names: Vec<&str> = seeds.iter().map(|s| s.as_str()).collect();
    let mut md = format!(
        "\nOver seeds ({}): mean +- sample std of the test UA of the points that differ only in them.\n\n|",
        names.join(", ")
    );
    for k in &rest {
        let _ = write!(md, " {k} |");
    }
    md.push_str(" test UA | points |\n|");
    md.push_str(&"---|".repeat(rest.len() + 2));
    md.push('\n');
    for (k, m, n) in rows {
        md.push('|');
        for v in k {
            let _ = write!(md, " {v} |");
        }
        let _ = writeln!(md, " {:.4} +- {:.4} | {n} |", m.mean, m.std);
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sweep(text: &str) -> Sweep {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn grid_points_are_every_combination_and_random_points_are_seeded() {
        let s = sweep(
            r#"
name = "s"
base = "x.toml"
[grid]
"model.svm.c" = [0.5, 1, 2]
"split.normalize" = ["train", "speaker"]
[random]
samples = 3
seed = 4
[random.params]
"train.lr" = { log_uniform = [1e-4, 1e-2] }
"model.kind" = { choice = ["svm", "random_forest"] }
"#,
        );
        let p = s.points();
        assert_eq!(p.len(), 6 + 3);
        assert_eq!(p[0].id, "p001");
        assert_eq!(p[1].settings["split.normalize"].as_str(), Some("speaker"));
        assert_eq!(p[2].settings["model.svm.c"].as_integer(), Some(1));
        for q in &p[6..] {
            let lr = q.settings["train.lr"].as_float().unwrap();
            assert!((1e-4..=1e-2).contains(&lr), "{lr}");
        }
        assert_eq!(p, s.points(), "seeded");
    }

    #[test]
    fn settings_reach_the_experiment_and_unknown_keys_are_refused() {
        let base =
            Experiment::from_toml("name = \"b\"\n[data]\nframes = []\n[model]\nkind = \"svm\"\n")
                .unwrap();
        let mut settings = BTreeMap::new();
        settings.insert("model.svm.c".to_string(), Value::Integer(3));
        settings.insert(
            "split.protocol".to_string(),
            Value::String("speaker_kfold".into()),
        );
        let p = Point {
            id: "p007".into(),
            settings,
        };
        let e = point_experiment(&base, &p).unwrap();
        assert_eq!((e.name.as_str(), e.model.svm.c), ("p007", 3.0));
        assert_eq!(e.split.protocol, ser_experiment::Protocol::SpeakerKfold);
        let t = base.to_table();
        assert!(
            lookup(&t, "model.svm.cc")
                .unwrap_err()
                .contains("model.svm.cc")
        );
        assert!(lookup(&t, "train.lr").is_ok());
    }

    #[test]
    fn every_shipped_experiment_and_sweep_point_validates() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments");
        let tomls = |dir: &Path| -> Vec<std::path::PathBuf> {
            let mut v: Vec<_> = fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                .collect();
            v.sort();
            v
        };
        let experiments = tomls(&root);
        assert!(experiments.len() >= 10, "{experiments:?}");
        for path in experiments {
            let exp = Experiment::from_toml(&fs::read_to_string(&path).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            exp.validate()
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
        let sweeps = tomls(&root.join("sweeps"));
        assert!(sweeps.len() >= 4, "{sweeps:?}");
        for path in sweeps {
            let (sweep, base) = Sweep::load(&path, Target::Cpu)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            for p in sweep.points() {
                point_experiment(&base, &p)
                    .unwrap_or_else(|e| panic!("{} {}: {e}", path.display(), p.id));
            }
        }
    }
}
