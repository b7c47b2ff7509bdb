//! The short human summary printed on stdout at the end of a run.

use std::fmt::Write as _;
use std::path::Path;

use crate::bundle::{Bundle, LatencyStats};
use crate::wording::{fixed, number as fmt_num};

pub fn render_summary(b: &Bundle, path: &Path) -> String {
    let m = &b.metrics;
    let c = &b.context;
    let mut s = String::new();
    let load = match (c.load.concurrency, c.load.rate) {
        (Some(n), _) => format!("closed loop, concurrency {n}"),
        (_, Some(r)) => format!("open loop, {r} req/s"),
        _ => String::new(),
    };
    let _ = writeln!(
        s,
        "tokengate run: {} → {} ({load})",
        c.workload_name, c.endpoint
    );
    if !c.complete {
        let _ = writeln!(
            s,
            "INCOMPLETE: {}",
            c.incomplete_reason.as_deref().unwrap_or("interrupted")
        );
    }
    let r = &m.requests;
    let _ = writeln!(
        s,
        "requests: {} ok, {} failed, {} cancelled, {} retried ({} warm-up excluded) in {} s",
        r.succeeded,
        r.failed,
        r.cancelled,
        r.retried,
        r.warmup,
        fixed(c.window_s, 2)
    );
    let _ = writeln!(
        s,
        "{:<10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7}",
        "ms", "p50", "p90", "p95", "p99", "mean", "n"
    );
    let row = |s: &mut String, name: &str, l: &LatencyStats| {
        let f = |v: Option<f64>| v.map(|v| fixed(v, 2)).unwrap_or_else(|| "-".into());
        let _ = writeln!(
            s,
            "{:<10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7}",
            name,
            f(l.p50),
            f(l.p90),
            f(l.p95),
            f(l.p99),
            f(l.mean),
            l.count
        );
    };
    row(&mut s, "TTFT", &m.ttft_ms);
    row(&mut s, "ITL", &m.itl_ms);
    row(&mut s, "TPOT", &m.tpot_ms);
    row(&mut s, "E2E", &m.e2e_ms);
    let _ = writeln!(
        s,
        "throughput: {} output tok/s, {} input tok/s, {} req/s (tokens from {})",
        fixed(m.output_tokens_per_s, 1),
        fixed(m.input_tokens_per_s, 1),
        fixed(m.requests_per_s, 2),
        c.token_source
    );
    let errors: Vec<String> = m
        .errors
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    let _ = writeln!(
        s,
        "errors: {} % ({}), stream errors {} %",
        fixed(m.error_rate * 100.0, 2),
        if errors.is_empty() {
            "none".into()
        } else {
            errors.join(", ")
        },
        fixed(m.stream_error_rate * 100.0, 2)
    );
    let mut extra = Vec::new();
    if let Some(g) = m.goodput {
        extra.push(format!("goodput {} %", fixed(g * 100.0, 1)));
    }
    if let Some(cst) = m.cost_per_1k {
        extra.push(format!("cost per 1k responses {}", fixed(cst, 4)));
    }
    if let Some(q) = m.quality_pass_rate {
        extra.push(format!("quality pass rate {} %", fixed(q * 100.0, 1)));
    }
    if !extra.is_empty() {
        let _ = writeln!(s, "{}", extra.join(", "));
    }
    let _ = writeln!(
        s,
        "client: {} µs CPU per request, {} % of a core",
        fixed(c.client.cpu_per_request_us, 0),
        fixed(c.client.cpu_utilization * 100.0, 0)
    );
    for w in &c.warnings {
        let _ = writeln!(s, "warning: {w}");
    }
    let _ = writeln!(s, "bundle: {}", path.display());
    s
}

fn opt_ms(v: Option<f64>) -> String {
    v.map(|v| fixed(v, 1)).unwrap_or_else(|| "-".into())
}

/// One line per measured level, as the sweep goes.
pub fn render_sweep_level(p: &crate::bundle::SweepPoint, unit: &str) -> String {
    let slo = match p.slo_met {
        Some(true) => " SLO ok",
        Some(false) => " SLO broken",
        None => "",
    };
    format!(
        "level {:>7} {unit}: {:>5} req, TTFT p95 {:>8} ms, ITL p95 {:>6} ms, {:>9} tok/s, {:>6} req/s, errors {} %, queue p95 {} ms{slo}",
        fmt_num(p.load),
        p.requests,
        opt_ms(p.ttft_p95_ms),
        opt_ms(p.itl_p95_ms),
        fixed(p.output_tokens_per_s, 1),
        fixed(p.requests_per_s, 2),
        fixed(p.error_rate * 100.0, 2),
        opt_ms(p.server_queue_p95_ms),
    )
}

/// The end of a sweep: the knee, the first signal, the safe operating point.
pub fn render_sweep_summary(b: &Bundle, path: &Path) -> String {
    use crate::sweep::signal_label;
    let mut s = String::new();
    let Some(sw) = &b.sweep else {
        return s;
    };
    let unit = &sw.load_unit;
    let _ = writeln!(
        s,
        "tokengate sweep: {} → {} ({} loop, {} levels, {})",
        b.context.workload_name,
        b.context.endpoint,
        sw.mode,
        sw.curve.len(),
        sw.strategy
    );
    let _ = writeln!(s, "stopped: {}", sw.stop_reason);
    match (&sw.knee, &sw.safe) {
        (Some(k), Some(safe)) => {
            let _ = writeln!(
                s,
                "knee: {unit} {} — first signal: {} ({})",
                fmt_num(k.load),
                signal_label(&k.first_signal),
                k.signals
                    .iter()
                    .map(|x| signal_label(x))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let _ = writeln!(
                s,
                "safe operating point: {unit} {} ({} % of the knee) → configure {}; expected p95 TTFT {} ms, p95 ITL {} ms, {} output tok/s, {} req/s",
                fmt_num(safe.load),
                fixed(safe.share * 100.0, 0),
                fmt_num(safe.configured_load),
                opt_ms(safe.ttft_p95_ms),
                opt_ms(safe.itl_p95_ms),
                fixed(safe.output_tokens_per_s, 1),
                fixed(safe.requests_per_s, 2)
            );
        }
        _ => {
            let _ = writeln!(
                s,
                "knee: none in the measured range (no signal bent); no safe operating point"
            );
        }
    }
    for sig in &sw.signals {
        let _ = writeln!(s, "  {}: {}", signal_label(&sig.signal), sig.note);
    }
    for w in &b.context.warnings {
        let _ = writeln!(s, "warning: {w}");
    }
    let _ = writeln!(s, "bundle: {}", path.display());
    s
}
