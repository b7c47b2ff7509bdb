//! Evaluating a gate: every rule against the candidate bundle (and the
//! baseline runs, each a run of its own — not pooled), Benjamini-Hochberg
//! across the baseline comparisons, then severity and waivers, then the
//! overall verdict. Pure: the same inputs (including `today` and the
//! policy's seed) give the same [`GateReport`].
//!
//! Verdict rules (DESIGN.md §6, issue 12):
//! - validity first: a candidate whose `context.validity.problems` is not
//!   empty is **invalid** (exit 4) and no rule is judged;
//! - relative ratio rules (`max_increase`/`max_decrease` on latencies,
//!   decode rates, throughput) use the noise model (`stats::compare_runs`):
//!   **fail** iff the whole interval of the ratio is past the limit and the
//!   BH-adjusted p-value of "worse" is below alpha; **pass** iff the whole
//!   interval is within; else **inconclusive**. The between-run variance is
//!   the calibration's, else the runs' own (some side ≥ 2 runs), else
//!   unmeasured: tail quantiles (p90+) are then inconclusive with their MDE
//!   unknown, other statistics assume the policy's `unmeasured_run_cv`;
//! - rate differences (`max_increase: 0.5pp`): Fisher's exact test, fail iff
//!   the point is past and the adjusted p is below alpha;
//! - absolute latency/throughput limits: **pass** iff the interval is within;
//!   **fail** iff the point and the whole interval are past; else
//!   inconclusive (latency quantiles: block bootstrap interval);
//! - rate ceilings: **pass** iff observed ≤ ceiling; **fail** iff observed >
//!   ceiling and the Clopper-Pearson lower bound > ceiling (at any n); else
//!   inconclusive;
//! - fewer than `min_requests` requests: inconclusive, never pass — but a
//!   decisive rate-ceiling fail still fails;
//! - every relative rule skipped for lack of a comparable baseline:
//!   **ungated** (exit policy as for inconclusive), not pass.
//!
//! Each rule ends in a [`Decision`] holding the facts behind its verdict;
//! the verdict and the explanation are derived from it (the sentence by
//! [`wording::explain`]), never set by hand.

use super::data::{self, ThroughputKind};
use super::decision::{
    Absolute, Binomial, Bound, Caveat, Counted, Decision, Finding, NoEstimate, NoiseSource,
    PointValue, Relative, RunNoise, SkipReason, Test, TooFew, Unmeasured,
};
use super::file::{GateFile, LatencyKind, Limit, Metric, Rule, Severity, Stat, Threshold};
use super::report::{
    BaselineDesc, CandidateDesc, Estimate, EstimateKind, GateReport, KeyChange, Measured, Outcome,
    RuleResult, SideBySide, Verdict, WaiverNote, WaiverSummary, exit_code_for,
};
use super::waiver::{Date, Waiver};
use crate::bundle::Bundle;
use crate::stats::{
    self, BetweenNoise, BetweenRun, BetweenSource, BootstrapConfig, Direction, Interval, RunStat,
};
use crate::wording;

/// Power used for minimum detectable effects of rates (the conventional 80 %,
/// Cohen 1988 §2.4).
const MDE_POWER: f64 = 0.8;

/// One candidate bundle and the baseline it is compared with. The caller
/// (baseline resolution) fills it; the gate only reads it.
pub struct Comparison<'a> {
    pub candidate: &'a Bundle,
    /// sha256 of the candidate bundle file.
    pub candidate_digest: String,
    /// Comparable baseline runs (a bundle of `--repeat N` counts as N
    /// runs); empty when there is none.
    pub baseline_runs: Vec<&'a Bundle>,
    pub baseline_desc: BaselineDesc,
    /// Why there is no comparable baseline, when there is none.
    pub skip_reason: Option<String>,
    /// Key fields that differ and are allowed to (the change under test).
    pub change_under_test: Vec<KeyChange>,
    /// Comparability warnings (driver versions, runner host, …).
    pub warnings: Vec<String>,
    /// How baseline and candidate were measured (the noise model differs).
    pub design: Design,
    /// The baseline set's calibration (measured run-to-run noise), when it
    /// has one that applies to the candidate.
    pub calibration: Option<&'a crate::baseline::Calibration>,
}

/// How the compared runs were measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Design {
    /// Baseline runs first, the candidate later (CI's usual flow): run-to-run
    /// noise separates them.
    #[default]
    Sequential,
    /// Baseline (A) and candidate (B) interleaved in one time window
    /// (`tokengate ab`): noise common to both cancels; `baseline_runs` holds
    /// the one A bundle.
    Paired,
}

/// A relative decision that waits for the BH-adjusted p-value.
struct Pending {
    test: Test,
    p_raw: f64,
    /// Ratio (or rate difference) point and interval.
    point: f64,
    iv: Interval,
    /// The limit on the same scale as `point`.
    limit: f64,
    bound: Bound,
    n: u64,
    caveats: Vec<Caveat>,
    /// Minimum detectable effect and the noise behind the interval (ratio
    /// rules under the noise model).
    mde: Option<f64>,
    noise: Option<RunNoise>,
    /// Whether more requests per run would narrow the interval (false when
    /// the run-to-run term dominates: only more runs help then).
    settle_by_requests: bool,
}

/// A rule's decision, or the facts of a baseline comparison waiting for
/// its adjusted p-value.
enum Judgement {
    Decided(Decision),
    Pending(Pending),
}

impl From<Decision> for Judgement {
    fn from(d: Decision) -> Self {
        Judgement::Decided(d)
    }
}

struct Assessed {
    measured: Measured,
    judgement: Judgement,
}

/// Evaluate `gate` over `cmp`. `waivers` come from the waivers file; `today`
/// decides which have expired.
pub fn evaluate(gate: &GateFile, cmp: &Comparison, waivers: &[Waiver], today: Date) -> GateReport {
    let cand = cmp.candidate;
    let cfg = BootstrapConfig {
        resamples: gate.policy.bootstrap_resamples,
        level: gate.policy.confidence,
        seed: gate.policy.seed,
    };
    let ev = Evaluator {
        gate,
        cmp,
        cfg: &cfg,
    };
    let assessed: Vec<Assessed> = gate.rules.iter().map(|r| ev.rule(r)).collect();

    // Benjamini-Hochberg across every baseline comparison that produced a
    // p-value (Benjamini & Hochberg 1995), so a gate with many rules does not
    // fail by chance more often than alpha.
    let raw: Vec<f64> = assessed
        .iter()
        .filter_map(|a| match &a.judgement {
            Judgement::Pending(p) => Some(p.p_raw),
            Judgement::Decided(_) => None,
        })
        .collect();
    // In rule order, one adjusted p-value per pending comparison.
    let mut adjusted = stats::benjamini_hochberg(&raw).into_iter();
    let mut rules: Vec<RuleResult> = assessed
        .into_iter()
        .zip(&gate.rules)
        .map(|(a, rule)| {
            let decision = match a.judgement {
                Judgement::Decided(d) => d,
                Judgement::Pending(p) => {
                    let p_adj = adjusted
                        .next()
                        .expect("one adjusted p-value per pending comparison");
                    decide_relative(p, p_adj, &gate.policy)
                }
            };
            result(rule, a.measured, decision)
        })
        .collect();

    let mut warnings = cmp.warnings.clone();
    let mut summary = WaiverSummary::default();
    for w in waivers {
        let relevant = gate.rules.iter().any(|r| r.name == w.rule) && w.key.matches(&cand.key);
        if relevant && !w.is_active(today) {
            warnings.push(format!(
                "waiver for rule `{}` (approver {}) expired on {}; it was ignored",
                w.rule, w.approver, w.expires
            ));
            summary.expired.push(note(w));
        }
    }
    for (r, rule) in rules.iter_mut().zip(&gate.rules) {
        r.outcome = match r.verdict {
            Verdict::Pass => Outcome::Pass,
            Verdict::Inconclusive => Outcome::Inconclusive,
            Verdict::Skipped | Verdict::Ungated => Outcome::Skipped,
            Verdict::Invalid => Outcome::Invalid,
            Verdict::Fail => {
                let waiver = waivers.iter().find(|w| {
                    w.rule == rule.name && w.key.matches(&cand.key) && w.is_active(today)
                });
                if let Some(w) = waiver {
                    r.waiver = Some(note(w));
                    summary.applied.push(note(w));
                    Outcome::Waived
                } else if rule.severity == Severity::Warn {
                    Outcome::Warn
                } else {
                    Outcome::Fail
                }
            }
        };
    }

    let skipped_relative = rules
        .iter()
        .zip(&gate.rules)
        .filter(|(r, rule)| rule.limit.is_relative() && r.verdict == Verdict::Skipped)
        .count();
    if skipped_relative > 0
        && let Some(reason) = &cmp.skip_reason
    {
        warnings.push(format!(
            "{skipped_relative} baseline comparison(s) skipped: {reason}"
        ));
    }
    if !cand.context.complete {
        warnings.push(format!(
            "the candidate bundle is incomplete ({}); every rule is inconclusive",
            cand.context
                .incomplete_reason
                .as_deref()
                .unwrap_or("interrupted run")
        ));
    }
    for problem in &cand.context.validity.problems {
        warnings.push(wording::invalid_run_problem(
            &problem.message,
            &problem.advice,
        ));
    }
    for r in &rules {
        if let Decision::Relative(d) = &r.decision
            && d.limit_below_mde()
            && let Some(mde) = d.mde
        {
            warnings.push(wording::undetectable(
                &r.metric,
                d.bound,
                (d.limit - 1.0).abs(),
                mde,
            ));
        }
    }
    if cand.context.client.saturated {
        warnings.push(format!(
            "the load-generating client was saturated during the run; its numbers are suspect ({})",
            cand.context.client.warnings.join("; ")
        ));
    }

    let verdict = overall(
        &rules,
        &gate.rules,
        !cand.context.validity.problems.is_empty(),
    );
    GateReport {
        schema_version: super::report::VERDICT_SCHEMA_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        gate: gate.name.clone(),
        verdict,
        exit_code: exit_code_for(verdict, gate.policy.inconclusive),
        policy: gate.policy.clone(),
        candidate: CandidateDesc {
            // Key values are foreign: bounded before any report copies them.
            key: bounded_key(&cand.key),
            digest: cmp.candidate_digest.clone(),
            workload: cand.context.workload_name.clone(),
            workload_digest: cand.context.workload_digest.clone(),
            label: endpoint_label(&cand.context),
            complete: cand.context.complete,
            incomplete_reason: cand.context.incomplete_reason.clone(),
            started_at: cand.context.started_at.clone(),
            ended_at: cand.context.ended_at.clone(),
            window_s: cand.context.window_s,
            requests_attempted: cand.metrics.requests.attempted,
            ci_run_url: cand.context.ci_run_url.as_deref().map(bounded_text),
        },
        baseline: cmp.baseline_desc.clone(),
        skip_reason: cmp.skip_reason.as_deref().map(bounded_text),
        change_under_test: cmp.change_under_test.clone(),
        rules,
        warnings: warnings.iter().map(|w| bounded_text(w)).collect(),
        waivers: summary,
        client_server: client_server(cand, cmp.baseline_runs.first().copied()),
    }
}

/// Characters of [`CandidateDesc::label`] kept: it goes into a JUnit suite
/// name, a heading in CI views.
const MAX_LABEL_CHARS: usize = 120;

/// [`CandidateDesc::label`]: one bounded line, as every foreign text in a
/// report.
fn endpoint_label(ctx: &crate::bundle::Context) -> String {
    let one = |s: &str| wording::foreign::one_line_max(s.trim(), MAX_LABEL_CHARS);
    if let Some(l) = ctx.meta.get("label").filter(|l| !l.trim().is_empty()) {
        return one(l);
    }
    let host = reqwest::Url::parse(&ctx.endpoint)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .and_then(|u| {
            let host = u.host_str()?.to_owned();
            Some(match u.port() {
                Some(p) => format!("{host}:{p}"),
                None => host,
            })
        });
    one(host.as_deref().unwrap_or(&ctx.endpoint))
}

/// A rule's result: what it measured, its decision, and the verdict and
/// sentence that follow from the decision (the outcome is set after
/// severity and waivers).
fn result(rule: &Rule, m: Measured, decision: Decision) -> RuleResult {
    let metric = rule.metric.to_string();
    let unit = rule.metric.unit();
    RuleResult {
        name: rule.name.clone(),
        explanation: wording::explain(&metric, unit, &decision),
        metric,
        limit: rule.limit_text.clone(),
        severity: rule.severity,
        verdict: decision.verdict(),
        outcome: Outcome::Inconclusive,
        unit: unit.to_owned(),
        baseline_value: m.baseline_value,
        candidate_value: m.candidate_value,
        estimate: m.estimate,
        p_value: m.p_value,
        p_adjusted: decision.p_adjusted(),
        mde: m.mde,
        requests_to_settle: decision.requests_to_settle(),
        waiver: None,
        decision,
    }
}

/// Client and server rows for the newest baseline run and the candidate.
fn client_server(cand: &Bundle, base: Option<&Bundle>) -> Vec<SideBySide> {
    if cand.server.is_none() && base.is_none_or(|b| b.server.is_none()) {
        return Vec::new();
    }
    type Client = fn(&crate::bundle::Metrics) -> Option<f64>;
    type Server = fn(&crate::bundle::ServerTelemetry) -> Option<f64>;
    type Stats = fn(&crate::bundle::ServerTelemetry) -> Option<&crate::bundle::LatencyStats>;
    let none: Client = |_| None;
    let no_stats: Stats = |_| None;
    // (row, unit, client value, server value, server latency stats and the
    // quantile's field, for the bucket a server quantile was read from).
    let rows: [(&str, &str, Client, Server, Stats, &str); 9] = [
        (
            "TTFT p50",
            "ms",
            |m| m.ttft_ms.p50,
            |s| s.ttft_ms.as_ref()?.p50,
            |s| s.ttft_ms.as_ref(),
            "p50",
        ),
        (
            "TTFT p95",
            "ms",
            |m| m.ttft_ms.p95,
            |s| s.ttft_ms.as_ref()?.p95,
            |s| s.ttft_ms.as_ref(),
            "p95",
        ),
        (
            "ITL p50",
            "ms",
            |m| m.itl_ms.p50,
            |s| s.itl_ms.as_ref()?.p50,
            |s| s.itl_ms.as_ref(),
            "p50",
        ),
        (
            "E2E p50",
            "ms",
            |m| m.e2e_ms.p50,
            |s| s.e2e_ms.as_ref()?.p50,
            |s| s.e2e_ms.as_ref(),
            "p50",
        ),
        (
            "queue time mean",
            "ms",
            none,
            |s| s.queue_time_ms.as_ref()?.mean,
            no_stats,
            "",
        ),
        (
            "queue time p95",
            "ms",
            none,
            |s| s.queue_time_ms.as_ref()?.p95,
            |s| s.queue_time_ms.as_ref(),
            "p95",
        ),
        ("peak running", "", none, |s| s.peak_running, no_stats, ""),
        ("peak waiting", "", none, |s| s.peak_waiting, no_stats, ""),
        (
            "peak KV cache",
            "%",
            none,
            |s| s.peak_kv_cache_usage,
            no_stats,
            "",
        ),
    ];
    let pick = |b: &Bundle, client: Client, server: Server| {
        (client(&b.metrics), b.server.as_ref().and_then(server))
    };
    let bucket = |b: &Bundle, stats: Stats, q: &str| {
        b.server
            .as_ref()
            .and_then(stats)
            .and_then(|s| s.buckets_ms.get(q).copied())
    };
    rows.iter()
        .map(|&(metric, unit, client, server, stats, q)| {
            let (bc, bs) = base.map_or((None, None), |b| pick(b, client, server));
            let (cc, cs) = pick(cand, client, server);
            SideBySide {
                metric: metric.to_owned(),
                unit: unit.to_owned(),
                baseline_client: bc,
                baseline_server: bs,
                candidate_client: cc,
                candidate_server: cs,
                baseline_server_bucket: base.and_then(|b| bucket(b, stats, q)),
                candidate_server_bucket: bucket(cand, stats, q),
            }
        })
        .filter(|r| r.baseline_server.is_some() || r.candidate_server.is_some())
        .collect()
}

/// An invalid candidate run is `invalid` whatever the rules say (validity
/// before verdict: a measurement the client limited proves nothing either
/// way); else any failing `fail`-severity rule fails the gate; else, when
/// the gate has relative rules and every one was skipped for lack of a
/// comparable baseline, `ungated` (nothing was compared — not a pass); else
/// any inconclusive `fail`-severity rule makes it inconclusive (a `warn`
/// rule never blocks); else all-skipped is `skipped` (not a pass); else pass.
fn overall(results: &[RuleResult], rules: &[Rule], invalid: bool) -> Verdict {
    if invalid {
        return Verdict::Invalid;
    }
    if results.iter().any(|r| r.outcome == Outcome::Fail) {
        return Verdict::Fail;
    }
    let relative: Vec<&RuleResult> = results
        .iter()
        .zip(rules)
        .filter(|(_, rule)| rule.limit.is_relative())
        .map(|(r, _)| r)
        .collect();
    let no_baseline = |r: &&RuleResult| {
        matches!(
            r.decision,
            Decision::Skipped {
                reason: SkipReason::NoBaseline { .. }
            }
        )
    };
    if !relative.is_empty()
        && relative.iter().all(|r| r.verdict == Verdict::Skipped)
        && relative.iter().any(no_baseline)
    {
        return Verdict::Ungated;
    }
    if results
        .iter()
        .zip(rules)
        .any(|(r, rule)| r.outcome == Outcome::Inconclusive && rule.severity == Severity::Fail)
    {
        return Verdict::Inconclusive;
    }
    if results.iter().all(|r| r.verdict == Verdict::Skipped) {
        return Verdict::Skipped;
    }
    Verdict::Pass
}

fn note(w: &Waiver) -> WaiverNote {
    WaiverNote {
        rule: w.rule.clone(),
        key: w.key.clone(),
        approver: w.approver.clone(),
        reason: w.reason.clone(),
        expires: w.expires,
    }
}

struct Evaluator<'a> {
    gate: &'a GateFile,
    cmp: &'a Comparison<'a>,
    cfg: &'a BootstrapConfig,
}

impl Evaluator<'_> {
    fn rule(&self, rule: &Rule) -> Assessed {
        let mut measured = Measured::default();
        let judgement = self.judge(rule, &mut measured);
        Assessed {
            measured,
            judgement,
        }
    }

    fn judge(&self, rule: &Rule, m: &mut Measured) -> Judgement {
        let cand = self.cmp.candidate;
        if !cand.context.validity.problems.is_empty() {
            return Decision::InvalidRun.into();
        }
        if !cand.context.complete {
            return Decision::IncompleteBundle.into();
        }
        // A bundle imported from a summary (k6) has no per-request values:
        // rules that resample them say so, before asking for a stream.
        let needs_samples = matches!(
            rule.metric,
            Metric::Latency(..)
                | Metric::DecodeRate(_)
                | Metric::OutputTokensPerS
                | Metric::InputTokensPerS
                | Metric::RequestsPerS
        );
        if needs_samples {
            for baseline in [false, true] {
                if let Some(tool) = self.summary_of(baseline) {
                    return Decision::TooFewSamples(TooFew {
                        counted: Counted::SuccessfulRequests,
                        baseline,
                        n: 0,
                        min: self.gate.policy.min_requests.max(1),
                        summary_of: Some(tool),
                    })
                    .into();
                }
            }
        }
        let needs_stream = matches!(
            rule.metric,
            Metric::Latency(LatencyKind::Ttft | LatencyKind::Itl | LatencyKind::Tpot, _)
                | Metric::DecodeRate(_)
        );
        if needs_stream && !cand.context.streaming {
            return skipped(SkipReason::NotStreamed).into();
        }
        if rule.limit.is_relative() && self.cmp.baseline_runs.is_empty() {
            return skipped(SkipReason::NoBaseline {
                reason: self.cmp.skip_reason.clone(),
            })
            .into();
        }
        match rule.metric {
            Metric::Latency(kind, stat) => self.distribution(rule, m, Some(kind), stat),
            Metric::DecodeRate(stat) => self.distribution(rule, m, None, stat),
            Metric::OutputTokensPerS => self.throughput(rule, m, ThroughputKind::OutputTokens),
            Metric::InputTokensPerS => self.throughput(rule, m, ThroughputKind::InputTokens),
            Metric::RequestsPerS => self.throughput(rule, m, ThroughputKind::Requests),
            Metric::ErrorRate => self.error_rate(rule, m, false),
            Metric::StreamErrorRate => self.error_rate(rule, m, true),
            Metric::CostPer1k => self
                .bundle_value(rule, m, |b| b.metrics.cost_per_1k, SkipReason::NoPricing)
                .into(),
            Metric::Goodput => self.goodput(rule, m).into(),
            Metric::QualityPassRate => self
                .bundle_value(
                    rule,
                    m,
                    |b| b.metrics.quality_pass_rate,
                    SkipReason::NoQualityChecks,
                )
                .into(),
            Metric::Sweep(v) => {
                super::sweep::assess(rule, m, v, cand, &self.cmp.baseline_runs).into()
            }
            Metric::Server(kind, stat) => self
                .bundle_value(
                    rule,
                    m,
                    |b| data::server_value(b, kind, stat),
                    SkipReason::NoServerMetric,
                )
                .into(),
        }
    }

    /// Too few samples for the policy minimum: the decision then, else `None`.
    fn too_few(&self, n: u64, counted: Counted, baseline: bool) -> Option<Decision> {
        let min = self.gate.policy.min_requests;
        (n < min).then_some(Decision::TooFewSamples(TooFew {
            counted,
            baseline,
            n,
            min,
            summary_of: None,
        }))
    }

    /// The tool a side's bundle was imported from, when it is a summary
    /// without per-request values (any pooled run, for the baseline). Only
    /// rules that resample per-request values ask: counts (error rates)
    /// are in a summary too.
    fn summary_of(&self, baseline: bool) -> Option<String> {
        let summary = |b: &Bundle| {
            b.context
                .imported
                .as_ref()
                .filter(|i| !i.per_request)
                .map(|i| i.tool.clone())
        };
        if baseline {
            self.cmp.baseline_runs.iter().find_map(|b| summary(b))
        } else {
            summary(self.cmp.candidate)
        }
    }

    fn values(&self, b: &Bundle, kind: Option<LatencyKind>) -> Vec<f64> {
        match kind {
            Some(k) => data::latency_values_ms(b, k),
            None => data::decode_rates(b),
        }
    }

    /// Latency quantiles and means, and the per-request decode rate.
    fn distribution(
        &self,
        rule: &Rule,
        m: &mut Measured,
        kind: Option<LatencyKind>,
        stat: Stat,
    ) -> Judgement {
        let cand = self.cmp.candidate;
        let metric = rule.metric;
        let mut c_vals = self.values(cand, kind);
        sort(&mut c_vals);
        let c_pairs = data::mean_pairs(cand, &c_vals, kind);
        let mut b_vals: Vec<Vec<f64>> = self
            .cmp
            .baseline_runs
            .iter()
            .map(|b| self.values(b, kind))
            .collect();
        b_vals.iter_mut().for_each(|v| sort(v));
        let b_pairs: Vec<Vec<(f64, f64)>> = self
            .cmp
            .baseline_runs
            .iter()
            .zip(&b_vals)
            .map(|(b, v)| data::mean_pairs(b, v, kind))
            .collect();
        let mut pooled: Vec<f64> = b_vals.iter().flatten().copied().collect();
        sort(&mut pooled);
        let point_of = |sorted: &[f64], pairs: &[(f64, f64)]| match stat {
            Stat::Percentile(p) => stats::harrell_davis(sorted, p / 100.0),
            Stat::Mean => ratio_of_sums(pairs),
        };
        m.candidate_value = point_of(&c_vals, &c_pairs);
        let b_pooled_pairs: Vec<(f64, f64)> = b_pairs.iter().flatten().copied().collect();
        if !pooled.is_empty() {
            m.baseline_value = point_of(&pooled, &b_pooled_pairs);
        }
        let counted = match kind {
            Some(LatencyKind::Ttfb) => Counted::TtfbValues,
            Some(LatencyKind::Itl) => Counted::RequestsWithGaps,
            Some(_) => Counted::SuccessfulRequests,
            None => Counted::RequestsWithDecodeRate,
        };
        let n = if kind == Some(LatencyKind::Itl) {
            c_pairs.len() as u64
        } else {
            c_vals.len() as u64
        };
        if let Some(d) = self.too_few(n, counted, false) {
            return d.into();
        }
        let caveats = if kind == Some(LatencyKind::Itl) && stat != Stat::Mean {
            vec![Caveat::ItlGapsPerRequest]
        } else {
            Vec::new()
        };
        let test = match stat {
            Stat::Percentile(_) => Test::QuantileBootstrap,
            Stat::Mean => Test::MeanBootstrap,
        };
        let degenerate = || {
            Decision::NoEstimate {
                reason: NoEstimate::DegenerateSamples,
            }
            .into()
        };
        match rule.limit {
            Limit::MaxIncrease(_) | Limit::MaxDecrease(_) => {
                let b_n = pooled.len() as u64;
                if let Some(d) = self.too_few(b_n, counted, true) {
                    return d.into();
                }
                self.noise_relative(rule, m, n, caveats)
            }
            Limit::Max(t) | Limit::Min(t) => {
                let (test, est) = match stat {
                    // The block bootstrap (within-run dependence: a stall
                    // that delays every in-flight request is one event).
                    Stat::Percentile(_) => (
                        Test::BlockQuantileBootstrap,
                        super::runs::bundle_quantile_stat(cand, metric, self.cfg)
                            .map(|s| (s.point, log_t_interval(&s, self.gate.policy.confidence))),
                    ),
                    Stat::Mean => (test, one_sample_ratio_of_sums(&c_pairs, self.cfg)),
                };
                let Some((point, iv)) = est else {
                    return degenerate();
                };
                m.candidate_value = Some(point);
                let facts = AbsoluteFacts {
                    test,
                    point,
                    iv,
                    limit: t.value(),
                    n,
                    caveats,
                };
                self.decide_absolute(m, metric, facts).into()
            }
            Limit::MaxRateIncrease(_) => {
                unreachable!("rate limits are only parsed for error rates")
            }
        }
    }

    /// Output/input tokens per second and requests per second.
    fn throughput(&self, rule: &Rule, m: &mut Measured, kind: ThroughputKind) -> Judgement {
        let cand = self.cmp.candidate;
        let c_pairs = data::throughput_pairs(cand, kind);
        // A shared window (ab) shows what the gate compares there: work per
        // second of request time (`runs::ThroughputPoint::RequestTime`).
        let value_of = |b: &Bundle| match self.cmp.design {
            Design::Sequential => data::measured_throughput(b, kind),
            Design::Paired => {
                let (num, secs) = data::throughput_pairs(b, kind)
                    .iter()
                    .fold((0.0, 0.0), |(n, t), (x, s)| (n + x, t + s));
                if secs > 0.0 { num / secs } else { 0.0 }
            }
        };
        let measured_c = value_of(cand);
        m.candidate_value = Some(measured_c);
        let runs = &self.cmp.baseline_runs;
        let measured_b = (!runs.is_empty())
            .then(|| runs.iter().map(|b| value_of(b)).sum::<f64>() / runs.len() as f64);
        m.baseline_value = measured_b;
        let n = c_pairs.len() as u64;
        if let Some(d) = self.too_few(n, Counted::Requests, false) {
            return d.into();
        }
        let no_time = || {
            Decision::NoEstimate {
                reason: NoEstimate::NoRequestTime,
            }
            .into()
        };
        match rule.limit {
            Limit::MaxDecrease(_) | Limit::MaxIncrease(_) => {
                let b_n: u64 = runs
                    .iter()
                    .map(|b| data::throughput_pairs(b, kind).len() as u64)
                    .sum();
                if let Some(d) = self.too_few(b_n, Counted::Requests, true) {
                    return d.into();
                }
                if measured_b.is_none_or(|v| v <= 0.0) {
                    return Decision::NoEstimate {
                        reason: NoEstimate::NoBaselineThroughput,
                    }
                    .into();
                }
                // Each run's point is its measured throughput; the block
                // bootstrap of its Σtokens/Σtime gives the run's relative
                // uncertainty (`gate::runs`).
                self.noise_relative(rule, m, n, Vec::new())
            }
            Limit::Min(t) | Limit::Max(t) => {
                let Some((sums, iv)) = one_sample_ratio_of_sums(&c_pairs, self.cfg) else {
                    return no_time();
                };
                // An absolute limit is on what the candidate delivered in
                // its window, whatever the design.
                let window_c = data::measured_throughput(cand, kind);
                m.candidate_value = Some(window_c);
                let facts = AbsoluteFacts {
                    test: Test::ThroughputBootstrap,
                    point: window_c,
                    iv: scale_interval(iv, sums, window_c),
                    limit: t.value(),
                    n,
                    caveats: Vec::new(),
                };
                self.decide_absolute(m, rule.metric, facts).into()
            }
            Limit::MaxRateIncrease(_) => {
                unreachable!("rate limits are only parsed for error rates")
            }
        }
    }

    /// A ratio rule (`max_increase`/`max_decrease` on a latency, decode
    /// rate or throughput) under the noise model: every candidate run
    /// against every baseline run (not pooled), `stats::compare_runs`.
    /// The between-run variance τ² comes from, in order: the shared window
    /// of a paired design (it cancels), the calibration's τ² for the
    /// metric, the runs themselves when some side has ≥ 2, else — noise
    /// unmeasured — a tail quantile (p90 and above) is inconclusive with
    /// its MDE unknown, and other statistics assume the policy's
    /// `unmeasured_run_cv`.
    fn noise_relative(
        &self,
        rule: &Rule,
        m: &mut Measured,
        n: u64,
        caveats: Vec<Caveat>,
    ) -> Judgement {
        let metric = rule.metric;
        let dir = direction(metric.higher_is_worse());
        let (limit, bound) = match rule.limit {
            Limit::MaxIncrease(x) => (1.0 + x.fraction(), Bound::Max),
            Limit::MaxDecrease(x) => (1.0 - x.fraction(), Bound::Min),
            _ => unreachable!("noise_relative is called for relative ratio limits"),
        };
        let level = self.gate.policy.confidence;
        // One shared window: the paired time-block bootstrap of both sides
        // together (`runs::paired_comparison`), which keeps the covariance
        // a common stall gives A and B. Metrics without start-timed values
        // (histogram quantiles) fall back to the separate-runs model, which
        // is only computed then.
        let paired = match (self.cmp.design, self.cmp.baseline_runs.as_slice()) {
            (Design::Paired, [a]) => {
                let cfg = BootstrapConfig { level, ..*self.cfg };
                super::runs::paired_comparison(a, self.cmp.candidate, metric, dir, &cfg, MDE_POWER)
            }
            _ => None,
        };
        let (c, source, floored_from) = match paired {
            Some(c) => (c, NoiseSource::SharedWindow, None),
            None => match self.separate_runs(metric, m, dir, (limit, bound)) {
                Ok(found) => found,
                Err(decided) => return (*decided).into(),
            },
        };
        let between_cv = match c.between {
            BetweenNoise::Known(b) => b.tau2.exp_m1().max(0.0).sqrt(),
            BetweenNoise::Unknown | BetweenNoise::SharedWindow => 0.0,
        };
        let within = c.components.within_candidate + c.components.within_baseline;
        m.estimate = Some(Estimate {
            kind: EstimateKind::Ratio,
            point: c.point,
            interval: Some(c.interval),
        });
        m.p_value = Some(c.p_worse);
        m.mde = c.mde.is_finite().then_some(c.mde);
        Judgement::Pending(Pending {
            test: Test::RunNoiseModel,
            p_raw: c.p_worse,
            point: c.point,
            iv: c.interval,
            limit,
            bound,
            n,
            caveats,
            mde: m.mde,
            noise: Some(RunNoise {
                source,
                between_cv,
                floored_from,
                candidate_runs: c.candidate_runs,
                baseline_runs: c.baseline_runs,
            }),
            settle_by_requests: c.components.between < within,
        })
    }

    /// The separate-runs model of `noise_relative`: every candidate run
    /// against every baseline run (`stats::compare_runs`), with the
    /// between-run variance from, in order, a shared window (it cancels),
    /// the calibration, the runs themselves, else assumed — or, for a tail
    /// quantile with nothing measured, the decision that it is unmeasured.
    /// Returns the comparison, where its noise came from, and the measured
    /// CV a floor replaced; `Err` is a decision already made (boxed: it is
    /// the rare path).
    fn separate_runs(
        &self,
        metric: Metric,
        m: &mut Measured,
        dir: Direction,
        (limit, bound): (f64, Bound),
    ) -> Result<(stats::NoiseComparison, NoiseSource, Option<f64>), Box<Decision>> {
        let policy = &self.gate.policy;
        let degenerate = || {
            Box::new(Decision::NoEstimate {
                reason: NoEstimate::DegenerateSamples,
            })
        };
        let all = |stats: Vec<Option<RunStat>>| stats.into_iter().collect::<Option<Vec<_>>>();
        // Sides of one shared window have equal window throughput by
        // construction; their request time tells them apart (ThroughputPoint).
        let point = match self.cmp.design {
            Design::Paired => super::runs::ThroughputPoint::RequestTime,
            Design::Sequential => super::runs::ThroughputPoint::Window,
        };
        let stats_of = |b: &Bundle| super::runs::run_stats_with(b, metric, self.cfg, point);
        let cand = all(stats_of(self.cmp.candidate));
        let base = all(self
            .cmp
            .baseline_runs
            .iter()
            .flat_map(|b| stats_of(b))
            .collect());
        let (Some(cand), Some(base)) = (cand, base) else {
            return Err(degenerate());
        };
        if cand.is_empty() || base.is_empty() {
            return Err(degenerate());
        }
        let level = policy.confidence;
        let name = metric.to_string();
        let calibrated = self
            .cmp
            .calibration
            .and_then(|c| c.metrics.get(&name))
            .map(|noise| BetweenRun {
                tau2: noise.tau2,
                df: noise.df,
                within: noise.within,
                source: BetweenSource::Calibration,
            })
            .filter(|b| b.df > 0.0 && b.tau2 >= 0.0 && b.within >= 0.0);
        let measured = cand.len() >= 2 || base.len() >= 2;
        // A measured τ² below the policy's floor is raised to it (see
        // `Policy::min_run_cv`); `floored_from` keeps what was measured.
        // CV ↔ τ²: a log-normal run effect with CV c has Var ln =
        // ln(1 + c²) (Johnson, Kotz & Balakrishnan 1994, ch. 14, eq. 14.8a).
        let floor_tau2 = (1.0 + policy.min_run_cv * policy.min_run_cv).ln();
        let mut floored_from = None;
        let mut floored = |b: BetweenRun| {
            if b.tau2 < floor_tau2 {
                floored_from = Some(b.tau2.exp_m1().max(0.0).sqrt());
                BetweenRun {
                    tau2: floor_tau2,
                    ..b
                }
            } else {
                b
            }
        };
        let (external, source) = if self.cmp.design == Design::Paired {
            // Both sides in one window: the run effect is common and cancels
            // in the ratio (Bulej et al. 2020). The paired bootstrap below
            // keeps the sides' covariance; where it has no start-timed values
            // (histogram quantiles) the sides' within-run errors are taken as
            // independent, which ignores a positive covariance and only
            // widens the interval.
            (Some(assumed_between(0.0)), NoiseSource::SharedWindow)
        } else if let Some(c) = calibrated {
            (Some(floored(c)), NoiseSource::Calibration)
        } else if measured {
            // The runs' own estimate (as `compare_runs` would make it),
            // floored; None (no valid estimate) leaves it to compare_runs.
            (
                stats::between_run_variance(&[&cand, &base]).map(&mut floored),
                NoiseSource::Runs,
            )
        } else if is_tail(metric) {
            // One run a side, nothing known about the spread between runs:
            // a tail quantile's run-to-run CV was 54–63 % in issue 12, so no
            // within-run interval can fail (or pass) it.
            let Some(within) = stats::compare_runs(&cand, &base, None, dir, level, MDE_POWER)
            else {
                return Err(degenerate());
            };
            m.estimate = Some(Estimate {
                kind: EstimateKind::Ratio,
                point: within.point,
                interval: None,
            });
            return Err(Box::new(Decision::NoiseUnmeasured(Unmeasured {
                point: within.point,
                within_run_interval: within.interval,
                limit,
                bound,
                level,
            })));
        } else {
            // A log-normal run effect with coefficient of variation c has
            // Var ln = ln(1 + c²) (Johnson, Kotz & Balakrishnan 1994,
            // *Continuous Univariate Distributions* 1, ch. 14, eq. 14.8a).
            let cv = policy.unmeasured_run_cv;
            (
                Some(assumed_between((1.0 + cv * cv).ln())),
                NoiseSource::Assumed,
            )
        };
        let c = stats::compare_runs(&cand, &base, external, dir, level, MDE_POWER)
            .ok_or_else(degenerate)?;
        Ok((c, source, floored_from))
    }

    fn error_rate(&self, rule: &Rule, m: &mut Measured, stream: bool) -> Judgement {
        let cand = self.cmp.candidate;
        let alpha = self.gate.policy.alpha;
        let level = self.gate.policy.confidence;
        let (k, n) = data::error_counts(cand, stream);
        let runs = &self.cmp.baseline_runs;
        let (bk, bn) = runs
            .iter()
            .map(|b| data::error_counts(b, stream))
            .fold((0, 0), |(a, b), (k, n)| (a + k, b + n));
        if n > 0 {
            m.candidate_value = Some(k as f64 / n as f64);
        }
        if bn > 0 {
            m.baseline_value = Some(bk as f64 / bn as f64);
        }
        let too_few = self.too_few(n, Counted::RequestsAttempted, false);
        if n == 0 {
            return Decision::TooFewSamples(TooFew {
                counted: Counted::RequestsAttempted,
                baseline: false,
                n,
                min: self.gate.policy.min_requests.max(1),
                summary_of: None,
            })
            .into();
        }
        let observed = k as f64 / n as f64;
        let cp = stats::clopper_pearson(k, n, level);
        match rule.limit {
            Limit::Max(t) => {
                let ceiling = t.value();
                // min_requests holds back a pass, never a decisive fail: an
                // exact (Clopper-Pearson) lower bound past the ceiling is
                // evidence at any n.
                if let Some(d) = too_few
                    && cp.lo <= ceiling
                {
                    return d.into();
                }
                m.estimate = Some(Estimate {
                    kind: EstimateKind::Value,
                    point: observed,
                    interval: Some(cp),
                });
                m.mde = Some(stats::mde_rate(ceiling, n, alpha, MDE_POWER));
                let (finding, requests_to_settle) = if observed <= ceiling {
                    (Finding::Within, None)
                } else if cp.lo > ceiling {
                    (Finding::Past, None)
                } else {
                    (
                        Finding::PointPast,
                        stats::requests_to_settle(n, &cp, observed, ceiling),
                    )
                };
                Decision::RateCeiling(Binomial {
                    observed,
                    k,
                    n,
                    interval: cp,
                    level,
                    limit: ceiling,
                    finding,
                    requests_to_settle,
                })
                .into()
            }
            Limit::MaxRateIncrease(x) => {
                if let Some(d) = too_few {
                    return d.into();
                }
                if let Some(d) = self.too_few(bn, Counted::RequestsAttempted, true) {
                    return d.into();
                }
                let base = bk as f64 / bn as f64;
                let cp_b = stats::clopper_pearson(bk, bn, level);
                let diff = observed - base;
                // Conservative interval of the difference from the two exact
                // intervals (each at `level`; the combination covers at least
                // level² ≥ 2·level − 1, Bonferroni's inequality).
                let iv = Interval {
                    lo: cp.lo - cp_b.hi,
                    hi: cp.hi - cp_b.lo,
                };
                let p = stats::fisher_exact_greater(k, n, bk, bn);
                m.estimate = Some(Estimate {
                    kind: EstimateKind::Difference,
                    point: diff,
                    interval: Some(iv),
                });
                m.p_value = Some(p);
                m.mde = Some(stats::mde_rate(base, n, alpha, MDE_POWER));
                Judgement::Pending(Pending {
                    test: Test::FisherExact,
                    p_raw: p,
                    point: diff,
                    iv,
                    limit: x.fraction(),
                    bound: Bound::Max,
                    n,
                    caveats: Vec::new(),
                    mde: None,
                    noise: None,
                    settle_by_requests: true,
                })
            }
            _ => unreachable!("error rates parse only `max` and `max_increase`"),
        }
    }

    /// Goodput is a binomial share of the requests: exact bounds as for error
    /// rates, mirrored (a floor instead of a ceiling).
    fn goodput(&self, rule: &Rule, m: &mut Measured) -> Decision {
        let cand = self.cmp.candidate;
        let Some(g) = cand.metrics.goodput else {
            return skipped(SkipReason::NoSlo);
        };
        m.candidate_value = Some(g);
        m.baseline_value = baseline_mean(&self.cmp.baseline_runs, |b| b.metrics.goodput);
        let n = data::rate_denominator(cand);
        if let Some(d) = self.too_few(n, Counted::RequestsAttempted, false) {
            return d;
        }
        let Limit::Min(Threshold::Rate(floor)) = rule.limit else {
            unreachable!("goodput parses only `min` with a rate")
        };
        let floor = floor.fraction();
        let k = ((g * n as f64).round() as u64).min(n);
        let level = self.gate.policy.confidence;
        let cp = stats::clopper_pearson(k, n, level);
        m.estimate = Some(Estimate {
            kind: EstimateKind::Value,
            point: g,
            interval: Some(cp),
        });
        m.mde = Some(stats::mde_rate(
            1.0 - floor,
            n,
            self.gate.policy.alpha,
            MDE_POWER,
        ));
        let (finding, requests_to_settle) = if g >= floor {
            (Finding::Within, None)
        } else if cp.hi < floor {
            (Finding::Past, None)
        } else {
            (
                Finding::PointPast,
                stats::requests_to_settle(n, &cp, g, floor),
            )
        };
        Decision::RateFloor(Binomial {
            observed: g,
            k,
            n,
            interval: cp,
            level,
            limit: floor,
            finding,
            requests_to_settle,
        })
    }

    /// A point comparison of a value the bundle computed (cost, quality):
    /// there are no per-request samples to resample, so no interval.
    fn bundle_value(
        &self,
        rule: &Rule,
        m: &mut Measured,
        get: impl Fn(&Bundle) -> Option<f64>,
        missing: SkipReason,
    ) -> Decision {
        let cand = self.cmp.candidate;
        let Some(v) = get(cand) else {
            return skipped(missing);
        };
        m.candidate_value = Some(v);
        m.baseline_value = baseline_mean(&self.cmp.baseline_runs, &get);
        let n = data::rate_denominator(cand);
        if let Some(d) = self.too_few(n, Counted::RequestsAttempted, false) {
            return d;
        }
        m.estimate = Some(Estimate {
            kind: EstimateKind::Value,
            point: v,
            interval: None,
        });
        let (limit, ok, bound) = match rule.limit {
            Limit::Max(t) => (t.value(), v <= t.value(), Bound::Max),
            Limit::Min(t) => (t.value(), v >= t.value(), Bound::Min),
            _ => unreachable!("bundle values parse only `max`/`min`"),
        };
        Decision::Point(PointValue {
            value: v,
            limit,
            bound,
            finding: if ok { Finding::Within } else { Finding::Past },
        })
    }

    /// Decide an absolute limit from a point and its interval.
    fn decide_absolute(&self, m: &mut Measured, metric: Metric, f: AbsoluteFacts) -> Decision {
        let level = self.gate.policy.confidence;
        let AbsoluteFacts {
            test,
            point,
            iv,
            limit,
            n,
            caveats,
        } = f;
        m.estimate = Some(Estimate {
            kind: EstimateKind::Value,
            point,
            interval: Some(iv),
        });
        m.mde = ratio_mde(&iv, point, level);
        let bound = Bound::from_higher_is_worse(metric.higher_is_worse());
        let (within, past_point, all_past) = match bound {
            Bound::Max => (iv.hi <= limit, point > limit, iv.lo > limit),
            Bound::Min => (iv.lo >= limit, point < limit, iv.hi < limit),
        };
        let (finding, requests_to_settle) = if within {
            (Finding::Within, None)
        } else if past_point && all_past {
            (Finding::Past, None)
        } else {
            (
                Finding::Straddles,
                stats::requests_to_settle(n, &iv, point, limit),
            )
        };
        Decision::Absolute(Absolute {
            test,
            point,
            interval: iv,
            limit,
            bound,
            level,
            finding,
            requests_to_settle,
            caveats,
        })
    }
}

/// The estimate an absolute limit is judged on.
struct AbsoluteFacts {
    test: Test,
    point: f64,
    iv: Interval,
    limit: f64,
    /// Values the estimate rests on (for the requests that would settle it).
    n: u64,
    caveats: Vec<Caveat>,
}

fn skipped(reason: SkipReason) -> Decision {
    Decision::Skipped { reason }
}

/// Decide a relative rule once its BH-adjusted p-value is known: fail iff
/// the evidence is decisive — for a ratio the whole interval past the
/// limit, for a rate difference (Fisher's exact test) the point past it —
/// and the adjusted p is below alpha; pass iff the whole interval is
/// within; else inconclusive.
fn decide_relative(p: Pending, p_adj: f64, policy: &super::file::Policy) -> Decision {
    let past = |x: f64| match p.bound {
        Bound::Max => x > p.limit,
        Bound::Min => x < p.limit,
    };
    let within = match p.bound {
        Bound::Max => p.iv.hi <= p.limit,
        Bound::Min => p.iv.lo >= p.limit,
    };
    // A ratio fails only when its whole interval is past the limit (and
    // the BH-adjusted p-value is significant); a rate difference's interval
    // is Bonferroni-conservative, so its point decides there, with Fisher's
    // exact p-value.
    let decisive = if p.test == Test::FisherExact {
        past(p.point)
    } else {
        match p.bound {
            Bound::Max => p.iv.lo > p.limit,
            Bound::Min => p.iv.hi < p.limit,
        }
    };
    let (finding, requests_to_settle) = if decisive && p_adj < policy.alpha {
        (Finding::Past, None)
    } else if within {
        (Finding::Within, None)
    } else {
        let settle = p
            .settle_by_requests
            .then(|| stats::requests_to_settle(p.n, &p.iv, p.point, p.limit))
            .flatten();
        if past(p.point) {
            (Finding::PointPast, settle)
        } else {
            (Finding::Straddles, settle)
        }
    };
    Decision::Relative(Relative {
        test: p.test,
        point: p.point,
        interval: p.iv,
        limit: p.limit,
        bound: p.bound,
        level: policy.confidence,
        p_adjusted: p_adj,
        alpha: policy.alpha,
        finding,
        requests_to_settle,
        caveats: p.caveats,
        mde: p.mde,
        noise: p.noise,
    })
}

/// A between-run variance that is not estimated but given (a shared window,
/// or the policy's assumed CV): a large `df` makes its own uncertainty
/// vanish from the Satterthwaite degrees of freedom.
fn assumed_between(tau2: f64) -> BetweenRun {
    BetweenRun {
        tau2,
        df: 1e6,
        within: 0.0,
        source: BetweenSource::Assumed,
    }
}

/// A tail quantile: p90 and above (or p10 and below, the slow tail of a
/// decode rate), whose run-to-run spread one run a side cannot show
/// (issue 12: p95 TTFT CV 54–63 % across runs, p50 2–18 %).
fn is_tail(metric: Metric) -> bool {
    matches!(
        metric,
        Metric::Latency(_, Stat::Percentile(p)) | Metric::DecodeRate(Stat::Percentile(p))
            if p >= 90.0 || p <= 10.0
    )
}

/// The interval of a positive statistic from its block-bootstrap log
/// variance: exp(ln T ± t_{ν,(1+level)/2}·√v), ν = the variance's degrees
/// of freedom (Satterthwaite 1946, as in `stats::runs`), on the log scale
/// because a latency quantile's error is multiplicative.
fn log_t_interval(s: &RunStat, level: f64) -> Interval {
    let t = stats::student_t_quantile(0.5 + level / 2.0, s.var_df);
    let half = t * s.log_var.sqrt();
    Interval {
        lo: s.point * (-half).exp(),
        hi: s.point * half.exp(),
    }
}

/// Bloom's (1995) minimum detectable relative effect at 80 % power from the
/// interval (see [`stats::mde_from_interval_at_power`]); `None` when undefined.
fn ratio_mde(iv: &Interval, point: f64, level: f64) -> Option<f64> {
    Some(stats::mde_from_interval_at_power(
        iv, point, level, MDE_POWER,
    ))
    .filter(|m| m.is_finite())
}

fn direction(higher_is_worse: bool) -> Direction {
    if higher_is_worse {
        Direction::HigherIsWorse
    } else {
        Direction::LowerIsWorse
    }
}

fn sort(v: &mut [f64]) {
    v.sort_by(f64::total_cmp);
}

fn ratio_of_sums(pairs: &[(f64, f64)]) -> Option<f64> {
    let num: f64 = pairs.iter().map(|p| p.0).sum();
    let den: f64 = pairs.iter().map(|p| p.1).sum();
    (den > 0.0).then(|| num / den)
}

/// One-sample bootstrap interval of Σnum/Σden: the two-sample ratio
/// bootstrap against a one-point baseline (1, 1), which every resample
/// reproduces exactly, so the ratio's distribution is the candidate's own.
fn one_sample_ratio_of_sums(
    pairs: &[(f64, f64)],
    cfg: &BootstrapConfig,
) -> Option<(f64, Interval)> {
    let unit: [(f64, f64); 1] = [(1.0, 1.0)];
    let est = stats::bootstrap_ratio_of_sums(pairs, &[&unit], Direction::HigherIsWorse, cfg)?;
    Some((est.point, est.interval))
}

/// Move an interval estimated around `from` onto `to`, keeping its relative width.
fn scale_interval(iv: Interval, from: f64, to: f64) -> Interval {
    if from > 0.0 && from.is_finite() {
        let f = to / from;
        Interval {
            lo: iv.lo * f,
            hi: iv.hi * f,
        }
    } else {
        iv
    }
}

fn baseline_mean(runs: &[&Bundle], get: impl Fn(&Bundle) -> Option<f64>) -> Option<f64> {
    let vals: Vec<f64> = runs.iter().filter_map(|b| get(b)).collect();
    (!vals.is_empty()).then(|| vals.iter().sum::<f64>() / vals.len() as f64)
}

/// The candidate's key with each value cut to
/// [`crate::wording::foreign::MAX_FOREIGN_CHARS`] (the cut is said), so a
/// 500 MB `--meta` value is not copied into every report.
fn bounded_key(key: &crate::bundle::BundleKey) -> crate::bundle::BundleKey {
    use crate::wording::foreign::{MAX_FOREIGN_CHARS, cut};
    let mut k = key.clone();
    for v in [
        &mut k.model_version,
        &mut k.serving_image,
        &mut k.hardware_profile,
        &mut k.tokenizer,
    ] {
        *v = cut(v, MAX_FOREIGN_CHARS);
    }
    k
}

/// A sentence that may quote foreign values (skip reasons, warnings),
/// bounded.
fn bounded_text(s: &str) -> String {
    crate::wording::foreign::cut(s, 4 * crate::wording::foreign::MAX_FOREIGN_CHARS)
}
