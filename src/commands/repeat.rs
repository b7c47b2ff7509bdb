//! `--repeat N` on `run` and `check` (and the A/A runs of `calibrate`): N
//! runs of one workload back to back, each with its own warm-up, into ONE
//! bundle. The gate's noise model sees them as N runs (`gate::runs`), so a
//! candidate of N runs carries its own run-to-run spread.
//!
//! The pooled bundle holds:
//! * `samples` of every run, concatenated, with `samples.run` = the run's
//!   index and `start_us` counted from the run's own window;
//! * `repeats`: one entry per run (its window, counts and throughputs — a
//!   throughput belongs to a run's window and cannot be recomputed from
//!   pooled samples);
//! * `metrics` and `histograms` over every request of every run (one
//!   recorder sees all of them), except the throughputs: total work over
//!   the total span, Σ rateₖ·spanₖ / Σ spanₖ, which is each run's rate
//!   weighted by the length of the span it was measured over;
//! * the context of the series: first start, last end, summed windows and
//!   CPU, the client's and the validity's findings of every run with the
//!   run they came from (`run 2 of 3: …`), the last run's server telemetry.
//!
//! Bounded: at most [`super::run::MAX_REPEAT`] runs, and no run starts once
//! the series has taken [`super::run::REPEAT_TIME_BUDGET`]. An interrupt
//! during run k keeps the complete runs before it and marks the bundle
//! incomplete; the interrupted run is left out (its window was cut).

use std::time::Instant;

use anyhow::Context as _;

use super::run::{
    MeasuredRun, REPEAT_TIME_BUDGET, RunOptions, Target, measure_run, round3, token_source_of,
};
use crate::bundle::{
    Bundle, Metrics, RepeatRun, Samples, ThroughputBasis, ThroughputSpan, Validity, ValidityProblem,
};
use crate::metrics::Recorder;
use crate::workload::Plan;

/// Run the series of `opts.repeat` runs and pool it into one bundle.
pub(super) async fn measure_series(target: &Target, opts: &RunOptions) -> anyhow::Result<Bundle> {
    let asked = opts.repeat;
    let began = Instant::now();
    let plan = &target.plan;
    let mut runs: Vec<MeasuredRun> = Vec::new();
    let mut pooled = Some(recorder_for(plan));
    let mut stopped = None;
    for k in 0..asked {
        if k > 0 {
            if let Some(reason) = opts.stop.reason() {
                stopped = Some(format!(
                    "{reason} after run {k} of {asked}; the {k} complete run(s) are kept"
                ));
                break;
            }
            if began.elapsed() >= REPEAT_TIME_BUDGET {
                stopped = Some(format!(
                    "the --repeat series stopped after {k} of {asked} runs: it had taken longer than its budget of {} min",
                    REPEAT_TIME_BUDGET.as_secs() / 60
                ));
                break;
            }
        }
        // The pooled records of the runs so far, should this one be cut.
        let before = pooled.clone();
        let (run, after) = measure_run(target, opts, pooled).await?;
        if !run.bundle.context.complete {
            let reason = run
                .bundle
                .context
                .incomplete_reason
                .clone()
                .unwrap_or_else(|| "interrupted".to_owned());
            if runs.is_empty() {
                // Nothing whole to keep: the cut first run is the bundle, as
                // a plain run's would be.
                let mut bundle = run.bundle;
                bundle.context.incomplete_reason =
                    Some(format!("{reason} during run 1 of {asked}"));
                return Ok(bundle);
            }
            stopped = Some(format!(
                "{reason} during run {} of {asked}; the {k} complete run(s) before it are kept, the interrupted one is left out",
                k + 1
            ));
            pooled = before;
            break;
        }
        pooled = after;
        runs.push(run);
    }
    let pooled = pooled.unwrap_or_else(|| recorder_for(plan));
    pool(plan, runs, pooled, stopped).context("the --repeat series measured no run")
}

fn recorder_for(plan: &Plan) -> Recorder {
    let expected = plan.total_requests().unwrap_or(4096) as usize;
    Recorder::new(plan.slo, plan.pricing.clone(), plan.max_tokens, expected)
}

/// The `repeats` entry of one run.
fn repeat_entry(b: &Bundle) -> RepeatRun {
    RepeatRun {
        started_at: b.context.started_at.clone(),
        ended_at: b.context.ended_at.clone(),
        window_s: b.context.window_s,
        requests: b.metrics.requests.clone(),
        output_tokens_per_s: b.metrics.output_tokens_per_s,
        input_tokens_per_s: b.metrics.input_tokens_per_s,
        requests_per_s: b.metrics.requests_per_s,
    }
}

/// Length of the span a run's throughputs were measured over, seconds.
fn throughput_span_s(m: &Metrics) -> f64 {
    (m.throughput_span.end_s - m.throughput_span.start_s).max(0.0)
}

/// One bundle of the complete `runs` (at least one); `pooled` has seen
/// every record of them. `stopped`: why the series ended early. `None`
/// when there is no run.
fn pool(
    plan: &Plan,
    runs: Vec<MeasuredRun>,
    pooled: Recorder,
    stopped: Option<String>,
) -> Option<Bundle> {
    let n = runs.len();
    if n <= 1 {
        // One run is a plain bundle (no `repeats`, no `samples.run`).
        let mut bundle = runs.into_iter().next()?.bundle;
        if stopped.is_some() {
            bundle.context.complete = false;
            bundle.context.incomplete_reason = stopped;
        }
        return Some(bundle);
    }
    let recorded = pooled.finish();
    let bundles: Vec<&Bundle> = runs.iter().map(|r| &r.bundle).collect();
    let first = bundles[0];
    let last = bundles[n - 1];
    let mut bundle = first.clone();

    // Metrics over every request; throughputs as total work / total span.
    let mut metrics = recorded.metrics;
    let spans: Vec<f64> = bundles
        .iter()
        .map(|b| throughput_span_s(&b.metrics))
        .collect();
    let total_span: f64 = spans.iter().sum();
    let weighted = |rate: fn(&Metrics) -> f64| {
        if total_span > 0.0 {
            round3(
                bundles
                    .iter()
                    .zip(&spans)
                    .map(|(b, s)| rate(&b.metrics) * s)
                    .sum::<f64>()
                    / total_span,
            )
        } else {
            0.0
        }
    };
    metrics.output_tokens_per_s = weighted(|m| m.output_tokens_per_s);
    metrics.input_tokens_per_s = weighted(|m| m.input_tokens_per_s);
    metrics.requests_per_s = weighted(|m| m.requests_per_s);
    metrics.steady_window_s = round3(bundles.iter().map(|b| b.metrics.steady_window_s).sum());
    let fallbacks: Vec<String> = bundles
        .iter()
        .enumerate()
        .filter_map(|(k, b)| {
            b.metrics
                .throughput_span
                .fallback
                .as_ref()
                .map(|why| format!("run {} of {n}: {why}", k + 1))
        })
        .collect();
    metrics.throughput_span = ThroughputSpan {
        basis: if fallbacks.is_empty() {
            ThroughputBasis::Steady
        } else {
            ThroughputBasis::Window
        },
        start_s: 0.0,
        end_s: round3(total_span),
        fallback: (!fallbacks.is_empty()).then(|| fallbacks.join("; ")),
    };
    metrics.cost_per_1k = crate::metrics::cost_per_1k(
        plan.pricing.as_ref(),
        metrics.requests_per_s,
        metrics.requests.succeeded,
        (metrics.tokens.input_total, metrics.tokens.output_total),
    );
    metrics.queue_time_ms = last.metrics.queue_time_ms.clone();
    bundle.metrics = metrics;
    bundle.histograms = recorded.histograms;
    bundle.samples = concat_samples(&bundles);
    bundle.repeats = bundles.iter().map(|b| repeat_entry(b)).collect();
    bundle.server = last.server.clone();

    let c = &mut bundle.context;
    c.ended_at = last.context.ended_at.clone();
    c.window_s = round3(bundles.iter().map(|b| b.context.window_s).sum());
    c.complete = stopped.is_none();
    c.incomplete_reason = stopped;
    c.token_sources = recorded.token_sources;
    c.token_source = token_source_of(&c.token_sources);
    c.load.warmup_requests = bundle.metrics.requests.warmup;
    let numbers: Vec<usize> = (1..=n).collect();
    let parts = runs_of(&numbers);
    c.warnings = grouped(
        &bundles,
        parts,
        |b| &b.context.warnings,
        |s| s.clone(),
        |label, w| format!("{label}: {w}"),
    );
    c.validity = pooled_validity(&bundles, parts);

    let client = &mut c.client;
    let cpu_user: f64 = bundles.iter().map(|b| b.context.client.cpu_user_s).sum();
    let cpu_system: f64 = bundles.iter().map(|b| b.context.client.cpu_system_s).sum();
    let elapsed: f64 = runs.iter().map(|r| r.elapsed.as_secs_f64()).sum();
    let requests = (bundle.metrics.requests.attempted + bundle.metrics.requests.warmup).max(1);
    client.cpu_user_s = round3(cpu_user);
    client.cpu_system_s = round3(cpu_system);
    client.cpu_utilization = round3((cpu_user + cpu_system) / elapsed.max(1e-9));
    client.cpu_per_request_us = round3((cpu_user + cpu_system) * 1e6 / requests as f64);
    let max_of = |f: fn(&Bundle) -> f64| bundles.iter().map(|b| f(b)).fold(0.0, f64::max);
    client.schedule_lag_p99_ms = max_of(|b| b.context.client.schedule_lag_p99_ms);
    client.schedule_lag_max_ms = max_of(|b| b.context.client.schedule_lag_max_ms);
    client.saturated = bundles.iter().any(|b| b.context.client.saturated);
    client.warnings = grouped(
        &bundles,
        parts,
        |b| &b.context.client.warnings,
        |s| s.clone(),
        |label, w| format!("{label}: {w}"),
    );
    client.host = crate::runinfo::host_signals(&runs[0].host_start, &runs[n - 1].host_end);
    // The probe's verdict of the first run the client limited, else the
    // last run's: a saturated series must show why.
    client.health = bundles
        .iter()
        .find(|b| b.context.client.saturated)
        .unwrap_or(&last)
        .context
        .client
        .health
        .clone();
    Some(bundle)
}

/// Every run's samples in run order, `run` set to the run's index.
fn concat_samples(bundles: &[&Bundle]) -> Samples {
    let mut out = Samples::default();
    for (k, b) in bundles.iter().enumerate() {
        let s = &b.samples;
        out.append(s, 0);
        // `MAX_REPEAT` runs fit in a u16.
        let run = u16::try_from(k).unwrap_or(u16::MAX);
        out.run.extend(std::iter::repeat_n(run, s.len()));
    }
    out
}

/// The parts a pooled bundle is made of: `--repeat` runs or `merge`
/// shards, each named by a 1-based number of `total`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Parts<'a> {
    /// `run` or `shard`.
    pub noun: &'static str,
    /// The number of each bundle, in the order given.
    pub numbers: &'a [usize],
    pub total: usize,
}

impl Parts<'_> {
    /// Which parts something came from, in words: `run 2 of 3`, `all 3
    /// runs`, `shards 1, 3 of 4`.
    fn label(&self, parts: &[usize]) -> String {
        let (noun, n) = (self.noun, self.total);
        match parts {
            [one] => format!("{noun} {one} of {n}"),
            _ if parts.len() == n => format!("all {n} {noun}s"),
            _ => {
                let list: Vec<String> = parts.iter().map(|r| r.to_string()).collect();
                format!("{noun}s {} of {n}", list.join(", "))
            }
        }
    }
}

/// The runs 1..=n of a series.
fn runs_of(numbers: &[usize]) -> Parts<'_> {
    Parts {
        noun: "run",
        numbers,
        total: numbers.len(),
    }
}

/// Which runs (1-based) of `n` something came from, in words.
#[cfg(test)]
fn runs_label(runs: &[usize], n: usize) -> String {
    let numbers: Vec<usize> = (1..=n).collect();
    runs_of(&numbers).label(runs)
}

/// The items of every part, each once (first appearance first), with the
/// parts it came from: `label(parts, item)`. `key` decides sameness.
pub(super) fn grouped<T, K: PartialEq>(
    bundles: &[&Bundle],
    parts: Parts<'_>,
    items: impl Fn(&Bundle) -> &Vec<T>,
    key: impl Fn(&T) -> K,
    label: impl Fn(&str, &T) -> T,
) -> Vec<T> {
    let mut groups: Vec<(K, &T, Vec<usize>)> = Vec::new();
    for (b, &number) in bundles.iter().zip(parts.numbers) {
        for item in items(b) {
            let id = key(item);
            match groups.iter_mut().find(|(g, _, _)| *g == id) {
                Some((_, _, from)) => {
                    if from.last() != Some(&number) {
                        from.push(number);
                    }
                }
                None => groups.push((id, item, vec![number])),
            }
        }
    }
    groups
        .into_iter()
        .map(|(_, item, from)| label(&parts.label(&from), item))
        .collect()
}

/// The validity of pooled parts: every part's problems with the parts they
/// came from; the whole is valid only when every part is.
pub(super) fn pooled_validity(bundles: &[&Bundle], parts: Parts<'_>) -> Validity {
    let problems = grouped(
        bundles,
        parts,
        |b| &b.context.validity.problems,
        |p| (p.kind, p.message.clone()),
        |label, p| ValidityProblem {
            kind: p.kind,
            message: format!("{label}: {}", p.message),
            advice: p.advice.clone(),
        },
    );
    let mut untrusted: Vec<_> = bundles
        .iter()
        .flat_map(|b| b.context.validity.untrusted_metrics.iter().copied())
        .collect();
    untrusted.sort();
    untrusted.dedup();
    let checked = grouped(
        bundles,
        parts,
        |b| &b.context.validity.checked,
        |s| s.clone(),
        |label, s| format!("{label}: {s}"),
    );
    Validity {
        problems,
        untrusted_metrics: untrusted,
        checked,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::ProblemKind;

    use crate::test_support::committed_quickstart_run as committed_baseline;

    #[test]
    fn a_problem_of_one_run_names_that_run_and_a_shared_warning_is_said_once() {
        let mut runs = vec![committed_baseline(); 3];
        for b in &mut runs {
            b.context.warnings = vec!["the server reported no usage".into()];
        }
        runs[1].context.validity.problems.push(ValidityProblem {
            kind: ProblemKind::WindowCut,
            message: "the window was cut".into(),
            advice: "run to completion".into(),
        });
        let bundles: Vec<&Bundle> = runs.iter().collect();
        let numbers = [1, 2, 3];
        let v = pooled_validity(&bundles, runs_of(&numbers));
        assert!(!v.is_valid(), "one invalid run makes the series invalid");
        assert_eq!(v.problems.len(), 1);
        assert_eq!(v.problems[0].message, "run 2 of 3: the window was cut");
        assert_eq!(v.problems[0].advice, "run to completion");
        let warnings = grouped(
            &bundles,
            runs_of(&numbers),
            |b| &b.context.warnings,
            |w| w.clone(),
            |label, w| format!("{label}: {w}"),
        );
        assert_eq!(warnings, ["all 3 runs: the server reported no usage"]);
    }

    #[test]
    fn samples_of_the_runs_are_concatenated_with_their_run_index() {
        let runs = vec![committed_baseline(); 2];
        let n = runs[0].samples.len();
        let bundles: Vec<&Bundle> = runs.iter().collect();
        let s = concat_samples(&bundles);
        assert_eq!(s.len(), 2 * n);
        assert_eq!(s.run.len(), 2 * n);
        assert!(s.run[..n].iter().all(|&r| r == 0));
        assert!(s.run[n..].iter().all(|&r| r == 1));
        assert_eq!(s.start_us[n..], runs[1].samples.start_us[..]);
    }

    #[test]
    fn runs_are_named_one_based_and_all_runs_together() {
        assert_eq!(runs_label(&[2], 3), "run 2 of 3");
        assert_eq!(runs_label(&[1, 3], 3), "runs 1, 3 of 3");
        assert_eq!(runs_label(&[1, 2, 3], 3), "all 3 runs");
    }
}
