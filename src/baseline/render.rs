//! Human text for `tokengate baseline list`, `show` and `explain`, and
//! finding a set from what a user typed.

use std::fmt::Write as _;

use super::calibration::Calibration;
use super::types::{BaselineSet, FieldDiff, Resolution, StoredRun};
use crate::bundle::{BundleKey, LatencyStats};
use crate::timefmt::format_rfc3339;

fn key_line(k: &BundleKey) -> String {
    let v = |s: &str| {
        if s.is_empty() {
            "(empty)".to_owned()
        } else {
            s.to_owned()
        }
    };
    format!(
        "model {} | image {} | hardware {} | tokenizer {}",
        v(&k.model_version),
        v(&k.serving_image),
        v(&k.hardware_profile),
        v(&k.tokenizer)
    )
}

fn promoted(r: &StoredRun) -> String {
    r.promoted_at
        .map(format_rfc3339)
        .unwrap_or_else(|| "unknown (file not named by promote)".into())
}

fn short(d: &str) -> &str {
    d.get(..12).unwrap_or(d)
}

/// One line per set: location, key, workload, runs, newest promotion.
pub fn render_list(sets: &[BaselineSet]) -> String {
    if sets.is_empty() {
        return "no baselines stored\n".into();
    }
    let mut out = String::new();
    for s in sets {
        let _ = writeln!(out, "{}", s.location);
        let _ = writeln!(
            out,
            "  workload {} | {}",
            s.workload_name(),
            key_line(&s.key)
        );
        match s.runs.first() {
            Some(r) => {
                let _ = writeln!(
                    out,
                    "  {} run(s); newest promoted {}, digest {}",
                    s.runs.len(),
                    promoted(r),
                    short(&r.digest)
                );
            }
            None => {
                let _ = writeln!(out, "  no runs");
            }
        }
    }
    out
}

fn ms(x: Option<f64>) -> String {
    x.map(|v| format!("{v:.1} ms"))
        .unwrap_or_else(|| "-".into())
}

fn latency(name: &str, l: &LatencyStats) -> String {
    format!("{name} p50 {} p95 {} (n={})", ms(l.p50), ms(l.p95), l.count)
}

/// A set's key and each run with its headline metrics.
pub fn render_show(set: &BaselineSet) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "baseline set {}", set.location);
    let _ = writeln!(out, "  {}", key_line(&set.key));
    if let Some(r) = set.runs.first() {
        let c = &r.bundle.context;
        let _ = writeln!(
            out,
            "  workload {} (digest {}), api {}, streaming {}, endpoint {}",
            c.workload_name,
            short(&c.workload_digest),
            c.api,
            c.streaming,
            c.endpoint_kind
        );
    }
    match &set.calibration {
        Some(c) => calibration_lines(&mut out, c, true),
        None => {
            let _ = writeln!(
                out,
                "  calibration: none (`tokengate calibrate` measures one)"
            );
        }
    }
    let _ = writeln!(out, "runs (newest first): {}", set.runs.len());
    for r in &set.runs {
        let b = &r.bundle;
        let m = &b.metrics;
        let _ = writeln!(out, "- {}", r.location);
        let _ = writeln!(
            out,
            "    promoted {}, started {}, digest {}, tool {}, host {}",
            promoted(r),
            b.context.started_at,
            short(&r.digest),
            b.context.tool_version,
            b.context.runner_host
        );
        let _ = writeln!(
            out,
            "    requests {} (ok {}, failed {}, cancelled {}), error rate {:.2}%",
            m.requests.attempted,
            m.requests.succeeded,
            m.requests.failed,
            m.requests.cancelled,
            m.error_rate * 100.0
        );
        let _ = writeln!(
            out,
            "    {} | {} | {}",
            latency("ttft", &m.ttft_ms),
            latency("tpot", &m.tpot_ms),
            latency("e2e", &m.e2e_ms)
        );
        let _ = writeln!(
            out,
            "    output {:.1} tok/s, {:.2} req/s",
            m.output_tokens_per_s, m.requests_per_s
        );
    }
    out
}

/// Find a set by location (exact, prefix, or a path-aligned part of it such
/// as `quickstart/sim`) or by key text (`model@image`, the serving image or
/// the model version). Several matches: the most recently promoted one.
pub fn find_set<'a>(sets: &'a [BaselineSet], query: &str) -> Option<&'a BaselineSet> {
    let q = query.trim().trim_end_matches('/');
    if q.is_empty() {
        return None;
    }
    let by_location = |s: &&BaselineSet| {
        let loc = s.location.trim_end_matches('/');
        loc == q || s.location.starts_with(&format!("{q}/")) || {
            // A path-aligned infix: `quickstart/sim` inside `baselines/quickstart/sim/…`.
            let loc = format!("/{}/", loc.replace(':', "/"));
            loc.contains(&format!("/{q}/"))
        }
    };
    let by_key = |s: &&BaselineSet| {
        let k = &s.key;
        q == format!("{}@{}", k.model_version, k.serving_image)
            || q == k.serving_image
            || q == k.model_version
    };
    let newest = |s: &&BaselineSet| s.runs.first().and_then(|r| r.promoted_at);
    let pick =
        |f: &dyn Fn(&&BaselineSet) -> bool| sets.iter().filter(|s| f(s)).max_by_key(|s| newest(s));
    pick(&by_location).or_else(|| pick(&by_key))
}

/// A set's calibration in a few lines: runs, when, and the between-run CV
/// of the headline metrics (all of them for `show`).
fn calibration_lines(out: &mut String, c: &Calibration, all: bool) {
    let _ = writeln!(
        out,
        "  calibration: {} A/A runs, {} (tool {}), endpoint {}",
        c.runs, c.created_at, c.tool_version, c.endpoint
    );
    const HEADLINE: [&str; 4] = ["ttft.p50", "ttft.p95", "tpot.p50", "output_tokens_per_s"];
    for (name, m) in &c.metrics {
        if all || HEADLINE.contains(&name.as_str()) {
            let _ = writeln!(
                out,
                "    {name}: between-run CV {:.1} % (df {})",
                m.cv * 100.0,
                m.df
            );
        }
    }
}

fn diffs(out: &mut String, title: &str, ds: &[FieldDiff]) {
    if ds.is_empty() {
        let _ = writeln!(out, "{title}: none");
        return;
    }
    let _ = writeln!(out, "{title}:");
    for d in ds {
        let _ = writeln!(
            out,
            "  {}: baseline {}, candidate {}",
            d.field, d.baseline, d.candidate
        );
    }
}

/// The resolution in words: source, chosen set and runs, the change under
/// test, warnings, and every refused set with its reasons.
pub fn render_explain(res: &Resolution) -> String {
    let mut out = String::new();
    let _ = write!(out, "baselines read from {}", res.source);
    if let Some(c) = &res.git_commit {
        let _ = write!(out, " (commit {c})");
    }
    out.push('\n');
    match &res.chosen {
        Some(set) => {
            let _ = writeln!(out, "chosen: {}", set.location);
            let _ = writeln!(out, "  {}", key_line(&set.key));
            let _ = writeln!(
                out,
                "  {} run(s), each compared as one run (not pooled), newest first:",
                set.runs.len()
            );
            for r in &set.runs {
                let _ = writeln!(out, "    {} (sha256 {})", r.location, short(&r.digest));
            }
            match (&set.calibration, &res.calibration_refused) {
                (Some(c), _) => calibration_lines(&mut out, c, false),
                (None, Some(why)) => {
                    let _ = writeln!(out, "  {why}");
                }
                (None, None) => {
                    let _ = writeln!(out, "  calibration: none");
                }
            }
        }
        None => {
            let reason = res.skip_reason().unwrap_or_default();
            let _ = writeln!(out, "chosen: none — the gate will skip: {reason}");
        }
    }
    diffs(&mut out, "change under test", &res.change_under_test);
    diffs(&mut out, "warnings", &res.warnings);
    if res.refused.is_empty() {
        let _ = writeln!(out, "not used: none");
    } else {
        let _ = writeln!(out, "not used:");
        for r in &res.refused {
            let _ = writeln!(out, "  {}", r.location);
            for d in &r.reasons {
                let _ = writeln!(out, "    refused: {}", d.describe());
            }
            if let Some(n) = &r.note {
                let _ = writeln!(out, "    {n}");
            }
        }
    }
    out
}
