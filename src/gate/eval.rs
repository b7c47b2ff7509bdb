//! Evaluating a gate: every rule against the candidate bundle (and the pooled
//! baseline runs), Benjamini-Hochberg across the baseline comparisons, then
//! severity and waivers, then the overall verdict. Pure: the same inputs
//! (including `today` and the policy's seed) give the same [`GateReport`].
//!
//! Verdict rules (DESIGN.md §6):
//! - relative (`max_increase`/`max_decrease`): **fail** iff the ratio is past
//!   the limit and the BH-adjusted p-value of "worse" is below alpha; **pass**
//!   iff the whole interval is within the limit; else **inconclusive**;
//! - absolute latency/throughput limits: **pass** iff the interval is within;
//!   **fail** iff the point and the whole interval are past; else inconclusive;
//! - rate ceilings: **pass** iff observed ≤ ceiling; **fail** iff observed >
//!   ceiling and the Clopper-Pearson lower bound > ceiling; else inconclusive;
//! - fewer than `min_requests` requests: inconclusive, never pass.

use super::data::{self, ThroughputKind};
use super::file::{GateFile, LatencyKind, Limit, Metric, Rule, Severity, Stat, Threshold};
use super::report::{
    BaselineDesc, CandidateDesc, Estimate, EstimateKind, GateReport, KeyChange, Outcome,
    RuleResult, SideBySide, Verdict, WaiverNote, WaiverSummary, exit_code_for,
};
use super::waiver::{Date, Waiver};
use crate::bundle::Bundle;
use crate::stats::{self, BootstrapConfig, Direction, Interval};

/// Power used for minimum detectable effects of rates (the conventional 80 %,
/// Cohen 1988 §2.4).
const MDE_POWER: f64 = 0.8;

/// One candidate bundle and the baseline it is compared with. The caller
/// (baseline resolution) fills it; the gate only reads it.
pub struct Comparison<'a> {
    pub candidate: &'a Bundle,
    /// sha256 of the candidate bundle file.
    pub candidate_digest: String,
    /// Comparable baseline runs, pooled; empty when there is none.
    pub baseline_runs: Vec<&'a Bundle>,
    pub baseline_desc: BaselineDesc,
    /// Why there is no comparable baseline, when there is none.
    pub skip_reason: Option<String>,
    /// Key fields that differ and are allowed to (the change under test).
    pub change_under_test: Vec<KeyChange>,
    /// Comparability warnings (driver versions, runner host, …).
    pub warnings: Vec<String>,
}

/// A relative decision that waits for the BH-adjusted p-value.
struct Pending {
    p_raw: f64,
    /// Ratio (or rate difference) point and interval.
    point: f64,
    iv: Interval,
    /// The limit on the same scale as `point`.
    limit: f64,
    higher_is_worse: bool,
    n: u64,
    /// `true` for rate differences (percentage points), `false` for ratios.
    difference: bool,
}

struct Assessed {
    result: RuleResult,
    pending: Option<Pending>,
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
    let mut assessed: Vec<Assessed> = gate.rules.iter().map(|r| ev.rule(r)).collect();

    // Benjamini-Hochberg across every baseline comparison that produced a
    // p-value (Benjamini & Hochberg 1995), so a gate with many rules does not
    // fail by chance more often than alpha.
    let family: Vec<usize> = (0..assessed.len())
        .filter(|&i| assessed[i].pending.is_some())
        .collect();
    let raw: Vec<f64> = family
        .iter()
        .filter_map(|&i| assessed[i].pending.as_ref().map(|p| p.p_raw))
        .collect();
    let adjusted = stats::benjamini_hochberg(&raw);
    for (&i, &p_adj) in family.iter().zip(&adjusted) {
        let a = &mut assessed[i];
        if let Some(p) = a.pending.take() {
            decide_relative(&mut a.result, &p, p_adj, gate.policy.alpha, &gate.policy);
        }
    }

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
    let mut rules: Vec<RuleResult> = assessed.into_iter().map(|a| a.result).collect();
    for (r, rule) in rules.iter_mut().zip(&gate.rules) {
        r.outcome = match r.verdict {
            Verdict::Pass => Outcome::Pass,
            Verdict::Inconclusive => Outcome::Inconclusive,
            Verdict::Skipped => Outcome::Skipped,
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
    if cand.context.client.saturated {
        warnings.push(format!(
            "the load-generating client was saturated during the run; its numbers are suspect ({})",
            cand.context.client.warnings.join("; ")
        ));
    }

    let verdict = overall(&rules, &gate.rules);
    GateReport {
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        gate: gate.name.clone(),
        verdict,
        exit_code: exit_code_for(verdict, gate.policy.inconclusive),
        policy: gate.policy.clone(),
        candidate: CandidateDesc {
            key: cand.key.clone(),
            digest: cmp.candidate_digest.clone(),
            workload: cand.context.workload_name.clone(),
            workload_digest: cand.context.workload_digest.clone(),
            complete: cand.context.complete,
            incomplete_reason: cand.context.incomplete_reason.clone(),
            started_at: cand.context.started_at.clone(),
            ended_at: cand.context.ended_at.clone(),
            window_s: cand.context.window_s,
            requests_attempted: cand.metrics.requests.attempted,
        },
        baseline: cmp.baseline_desc.clone(),
        skip_reason: cmp.skip_reason.clone(),
        change_under_test: cmp.change_under_test.clone(),
        rules,
        warnings,
        waivers: summary,
        client_server: client_server(cand, cmp.baseline_runs.first().copied()),
    }
}

/// Client and server rows for the newest baseline run and the candidate.
fn client_server(cand: &Bundle, base: Option<&Bundle>) -> Vec<SideBySide> {
    if cand.server.is_none() && base.is_none_or(|b| b.server.is_none()) {
        return Vec::new();
    }
    type Client = fn(&crate::bundle::Metrics) -> Option<f64>;
    type Server = fn(&crate::bundle::ServerTelemetry) -> Option<f64>;
    let none: Client = |_| None;
    let rows: [(&str, &str, Client, Server); 9] = [
        (
            "TTFT p50",
            "ms",
            |m| m.ttft_ms.p50,
            |s| s.ttft_ms.as_ref()?.p50,
        ),
        (
            "TTFT p95",
            "ms",
            |m| m.ttft_ms.p95,
            |s| s.ttft_ms.as_ref()?.p95,
        ),
        (
            "ITL p50",
            "ms",
            |m| m.itl_ms.p50,
            |s| s.itl_ms.as_ref()?.p50,
        ),
        (
            "E2E p50",
            "ms",
            |m| m.e2e_ms.p50,
            |s| s.e2e_ms.as_ref()?.p50,
        ),
        ("queue time mean", "ms", none, |s| {
            s.queue_time_ms.as_ref()?.mean
        }),
        ("queue time p95", "ms", none, |s| {
            s.queue_time_ms.as_ref()?.p95
        }),
        ("peak running", "", none, |s| s.peak_running),
        ("peak waiting", "", none, |s| s.peak_waiting),
        ("peak KV cache", "%", none, |s| s.peak_kv_cache_usage),
    ];
    let pick = |b: &Bundle, client: Client, server: Server| {
        (client(&b.metrics), b.server.as_ref().and_then(server))
    };
    rows.iter()
        .map(|&(metric, unit, client, server)| {
            let (bc, bs) = base.map_or((None, None), |b| pick(b, client, server));
            let (cc, cs) = pick(cand, client, server);
            SideBySide {
                metric: metric.to_owned(),
                unit: unit.to_owned(),
                baseline_client: bc,
                baseline_server: bs,
                candidate_client: cc,
                candidate_server: cs,
            }
        })
        .filter(|r| r.baseline_server.is_some() || r.candidate_server.is_some())
        .collect()
}

/// Any failing `fail`-severity rule fails the gate; else any inconclusive
/// `fail`-severity rule makes it inconclusive (a `warn` rule never blocks);
/// else all-skipped is `skipped` (not a pass); else pass.
fn overall(results: &[RuleResult], rules: &[Rule]) -> Verdict {
    if results.iter().any(|r| r.outcome == Outcome::Fail) {
        return Verdict::Fail;
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
    fn blank(&self, rule: &Rule) -> RuleResult {
        RuleResult {
            name: rule.name.clone(),
            metric: rule.metric.to_string(),
            limit: rule.limit_text.clone(),
            severity: rule.severity,
            verdict: Verdict::Inconclusive,
            outcome: Outcome::Inconclusive,
            unit: rule.metric.unit().to_owned(),
            baseline_value: None,
            candidate_value: None,
            estimate: None,
            p_value: None,
            p_adjusted: None,
            mde: None,
            requests_to_settle: None,
            explanation: String::new(),
            waiver: None,
        }
    }

    fn rule(&self, rule: &Rule) -> Assessed {
        let mut r = self.blank(rule);
        let cand = self.cmp.candidate;
        if !cand.context.complete {
            r.verdict = Verdict::Inconclusive;
            r.explanation = "bundle is incomplete (interrupted run)".into();
            return Assessed {
                result: r,
                pending: None,
            };
        }
        let needs_stream = matches!(
            rule.metric,
            Metric::Latency(LatencyKind::Ttft | LatencyKind::Itl | LatencyKind::Tpot, _)
                | Metric::DecodeRate(_)
        );
        if needs_stream && !cand.context.streaming {
            r.verdict = Verdict::Skipped;
            r.explanation = format!(
                "skipped: the run was not streamed, and {} is only defined for streamed responses",
                rule.metric
            );
            return Assessed {
                result: r,
                pending: None,
            };
        }
        if rule.limit.is_relative() && self.cmp.baseline_runs.is_empty() {
            r.verdict = Verdict::Skipped;
            r.explanation = format!(
                "skipped: {}",
                self.cmp
                    .skip_reason
                    .as_deref()
                    .unwrap_or("no comparable baseline")
            );
            return Assessed {
                result: r,
                pending: None,
            };
        }
        let pending = match rule.metric {
            Metric::Latency(kind, stat) => self.distribution(rule, &mut r, Some(kind), stat),
            Metric::DecodeRate(stat) => self.distribution(rule, &mut r, None, stat),
            Metric::OutputTokensPerS => self.throughput(rule, &mut r, ThroughputKind::OutputTokens),
            Metric::InputTokensPerS => self.throughput(rule, &mut r, ThroughputKind::InputTokens),
            Metric::RequestsPerS => self.throughput(rule, &mut r, ThroughputKind::Requests),
            Metric::ErrorRate => self.error_rate(rule, &mut r, false),
            Metric::StreamErrorRate => self.error_rate(rule, &mut r, true),
            Metric::CostPer1k => {
                self.bundle_value(
                    rule,
                    &mut r,
                    |b| b.metrics.cost_per_1k,
                    "the workload has no pricing block",
                );
                None
            }
            Metric::Goodput => {
                self.goodput(rule, &mut r);
                None
            }
            Metric::QualityPassRate => {
                self.bundle_value(
                    rule,
                    &mut r,
                    |b| b.metrics.quality_pass_rate,
                    "the workload has no quality checks",
                );
                None
            }
            Metric::Sweep(v) => {
                super::sweep::assess(rule, &mut r, v, cand, &self.cmp.baseline_runs);
                None
            }
            Metric::Server(kind, stat) => {
                self.bundle_value(
                    rule,
                    &mut r,
                    |b| data::server_value(b, kind, stat),
                    "the endpoint exposed no such server metric (Prometheus /metrics)",
                );
                None
            }
        };
        Assessed { result: r, pending }
    }

    /// Inconclusive when `n` is below the policy minimum; returns true then.
    fn too_few(&self, r: &mut RuleResult, n: u64, what: &str) -> bool {
        let min = self.gate.policy.min_requests;
        if n >= min {
            return false;
        }
        r.verdict = Verdict::Inconclusive;
        r.requests_to_settle = Some(min);
        r.explanation = format!(
            "only {n} {what} (policy min_requests {min}): need {} more requests",
            min - n
        );
        true
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
        r: &mut RuleResult,
        kind: Option<LatencyKind>,
        stat: Stat,
    ) -> Option<Pending> {
        let cand = self.cmp.candidate;
        let metric = rule.metric;
        let higher_is_worse = metric.higher_is_worse();
        let dir = direction(higher_is_worse);
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
        r.candidate_value = point_of(&c_vals, &c_pairs);
        let b_pooled_pairs: Vec<(f64, f64)> = b_pairs.iter().flatten().copied().collect();
        if !pooled.is_empty() {
            r.baseline_value = point_of(&pooled, &b_pooled_pairs);
        }
        let what = match kind {
            Some(LatencyKind::Ttfb) => "TTFB values",
            Some(LatencyKind::Itl) => "requests with inter-token gaps",
            Some(_) => "successful requests",
            None => "requests with a decode rate",
        };
        let n = if kind == Some(LatencyKind::Itl) {
            c_pairs.len() as u64
        } else {
            c_vals.len() as u64
        };
        if self.too_few(r, n, what) {
            return None;
        }
        let itl_note = if kind == Some(LatencyKind::Itl) && stat != Stat::Mean {
            " (ITL gaps resampled with an effective sample size of one per request)"
        } else {
            ""
        };
        match rule.limit {
            Limit::MaxIncrease(_) | Limit::MaxDecrease(_) => {
                let b_n = pooled.len() as u64;
                if self.too_few(r, b_n, &format!("{what} in the baseline")) {
                    return None;
                }
                let est = match stat {
                    Stat::Percentile(p) => {
                        let runs: Vec<&[f64]> = b_vals.iter().map(Vec::as_slice).collect();
                        stats::bootstrap_quantile_ratio(&c_vals, &runs, p / 100.0, dir, self.cfg)
                    }
                    Stat::Mean => {
                        let runs: Vec<&[(f64, f64)]> = b_pairs.iter().map(Vec::as_slice).collect();
                        stats::bootstrap_ratio_of_sums(&c_pairs, &runs, dir, self.cfg)
                    }
                };
                let Some(est) = est else {
                    r.explanation =
                        format!("no estimate: the {metric} samples are empty or degenerate");
                    return None;
                };
                r.explanation = itl_note.to_owned();
                Some(self.pending_ratio(rule, r, est.point, est.interval, est.p_worse, n))
            }
            Limit::Max(t) | Limit::Min(t) => {
                let est = match stat {
                    Stat::Percentile(p) => stats::bootstrap_quantile(&c_vals, p / 100.0, self.cfg),
                    Stat::Mean => one_sample_ratio_of_sums(&c_pairs, self.cfg),
                };
                let Some((point, iv)) = est else {
                    r.explanation =
                        format!("no estimate: the {metric} samples are empty or degenerate");
                    return None;
                };
                r.candidate_value = Some(point);
                decide_absolute(
                    r,
                    self.gate.policy.confidence,
                    metric,
                    t.value(),
                    point,
                    iv,
                    n,
                    itl_note,
                );
                None
            }
            Limit::MaxRateIncrease(_) => {
                unreachable!("rate limits are only parsed for error rates")
            }
        }
    }

    /// Output/input tokens per second and requests per second.
    fn throughput(&self, rule: &Rule, r: &mut RuleResult, kind: ThroughputKind) -> Option<Pending> {
        let cand = self.cmp.candidate;
        let c_pairs = data::throughput_pairs(cand, kind);
        let measured_c = data::measured_throughput(cand, kind);
        r.candidate_value = Some(measured_c);
        let runs = &self.cmp.baseline_runs;
        let measured_b = (!runs.is_empty()).then(|| {
            runs.iter()
                .map(|b| data::measured_throughput(b, kind))
                .sum::<f64>()
                / runs.len() as f64
        });
        r.baseline_value = measured_b;
        let n = c_pairs.len() as u64;
        if self.too_few(r, n, "requests") {
            return None;
        }
        match rule.limit {
            Limit::MaxDecrease(_) | Limit::MaxIncrease(_) => {
                let b_pairs: Vec<Vec<(f64, f64)>> = runs
                    .iter()
                    .map(|b| data::throughput_pairs(b, kind))
                    .collect();
                let b_n: u64 = b_pairs.iter().map(|p| p.len() as u64).sum();
                if self.too_few(r, b_n, "requests in the baseline") {
                    return None;
                }
                let slices: Vec<&[(f64, f64)]> = b_pairs.iter().map(Vec::as_slice).collect();
                let Some(est) =
                    stats::bootstrap_ratio_of_sums(&c_pairs, &slices, direction(false), self.cfg)
                else {
                    r.explanation = "no estimate: the requests carry no time".into();
                    return None;
                };
                // The point is the measured throughput ratio; the bootstrap of
                // Σtokens/Σtime supplies its relative uncertainty (equal to the
                // throughput ratio at equal closed-loop concurrency by Little's
                // law), so the interval is scaled onto the measured ratio.
                let Some(mb) = measured_b.filter(|v| *v > 0.0) else {
                    r.explanation = "the baseline measured no throughput".into();
                    return None;
                };
                let point = measured_c / mb;
                let iv = scale_interval(est.interval, est.point, point);
                Some(self.pending_ratio(rule, r, point, iv, est.p_worse, n))
            }
            Limit::Min(t) | Limit::Max(t) => {
                let Some((sums, iv)) = one_sample_ratio_of_sums(&c_pairs, self.cfg) else {
                    r.explanation = "no estimate: the requests carry no time".into();
                    return None;
                };
                let iv = scale_interval(iv, sums, measured_c);
                decide_absolute(
                    r,
                    self.gate.policy.confidence,
                    rule.metric,
                    t.value(),
                    measured_c,
                    iv,
                    n,
                    "",
                );
                None
            }
            Limit::MaxRateIncrease(_) => {
                unreachable!("rate limits are only parsed for error rates")
            }
        }
    }

    fn pending_ratio(
        &self,
        rule: &Rule,
        r: &mut RuleResult,
        point: f64,
        iv: Interval,
        p_worse: f64,
        n: u64,
    ) -> Pending {
        let (limit, higher_is_worse) = match rule.limit {
            Limit::MaxIncrease(x) => (1.0 + x.fraction(), true),
            Limit::MaxDecrease(x) => (1.0 - x.fraction(), false),
            _ => unreachable!("pending_ratio is called for relative limits"),
        };
        r.estimate = Some(Estimate {
            kind: EstimateKind::Ratio,
            point,
            interval: Some(iv),
        });
        r.p_value = Some(p_worse);
        r.mde = ratio_mde(&iv, point, self.gate.policy.confidence);
        Pending {
            p_raw: p_worse,
            point,
            iv,
            limit,
            higher_is_worse,
            n,
            difference: false,
        }
    }

    fn error_rate(&self, rule: &Rule, r: &mut RuleResult, stream: bool) -> Option<Pending> {
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
            r.candidate_value = Some(k as f64 / n as f64);
        }
        if bn > 0 {
            r.baseline_value = Some(bk as f64 / bn as f64);
        }
        if self.too_few(r, n, "requests attempted") {
            return None;
        }
        let observed = k as f64 / n as f64;
        let cp = stats::clopper_pearson(k, n, level);
        match rule.limit {
            Limit::Max(t) => {
                let ceiling = t.value();
                r.estimate = Some(Estimate {
                    kind: EstimateKind::Value,
                    point: observed,
                    interval: Some(cp),
                });
                r.mde = Some(stats::mde_rate(ceiling, n, alpha, MDE_POWER));
                let shown = format!(
                    "{} = {} ({k} of {n}; {} CI {} to {}) against the {} ceiling",
                    rule.metric,
                    pct(observed),
                    pct(level),
                    pct(cp.lo),
                    pct(cp.hi),
                    pct(ceiling)
                );
                if observed <= ceiling {
                    r.verdict = Verdict::Pass;
                    r.explanation = format!("{shown}: at or below the ceiling.");
                } else if cp.lo > ceiling {
                    r.verdict = Verdict::Fail;
                    r.explanation = format!(
                        "{shown}: above the ceiling, and the exact (Clopper-Pearson) lower bound {} is above it too.",
                        pct(cp.lo)
                    );
                } else {
                    r.verdict = Verdict::Inconclusive;
                    r.requests_to_settle = stats::requests_to_settle(n, &cp, observed, ceiling);
                    r.explanation = format!(
                        "{shown}: above the ceiling, but the lower bound {} is not, so the excess may be chance{}.",
                        pct(cp.lo),
                        settle_text(r.requests_to_settle)
                    );
                }
                None
            }
            Limit::MaxRateIncrease(x) => {
                if self.too_few(r, bn, "requests attempted in the baseline") {
                    return None;
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
                r.estimate = Some(Estimate {
                    kind: EstimateKind::Difference,
                    point: diff,
                    interval: Some(iv),
                });
                r.p_value = Some(p);
                r.mde = Some(stats::mde_rate(base, n, alpha, MDE_POWER));
                Some(Pending {
                    p_raw: p,
                    point: diff,
                    iv,
                    limit: x.fraction(),
                    higher_is_worse: true,
                    n,
                    difference: true,
                })
            }
            _ => unreachable!("error rates parse only `max` and `max_increase`"),
        }
    }

    /// Goodput is a binomial share of the requests: exact bounds as for error
    /// rates, mirrored (a floor instead of a ceiling).
    fn goodput(&self, rule: &Rule, r: &mut RuleResult) {
        let cand = self.cmp.candidate;
        let Some(g) = cand.metrics.goodput else {
            r.verdict = Verdict::Skipped;
            r.explanation =
                "skipped: the workload has no SLO block, so the bundle has no goodput".into();
            return;
        };
        r.candidate_value = Some(g);
        r.baseline_value = baseline_mean(&self.cmp.baseline_runs, |b| b.metrics.goodput);
        let n = data::rate_denominator(cand);
        if self.too_few(r, n, "requests attempted") {
            return;
        }
        let Limit::Min(Threshold::Rate(floor)) = rule.limit else {
            unreachable!("goodput parses only `min` with a rate")
        };
        let floor = floor.fraction();
        let k = (g * n as f64).round() as u64;
        let level = self.gate.policy.confidence;
        let cp = stats::clopper_pearson(k.min(n), n, level);
        r.estimate = Some(Estimate {
            kind: EstimateKind::Value,
            point: g,
            interval: Some(cp),
        });
        r.mde = Some(stats::mde_rate(
            1.0 - floor,
            n,
            self.gate.policy.alpha,
            MDE_POWER,
        ));
        let shown = format!(
            "goodput = {} ({} CI {} to {}) against the {} floor",
            pct(g),
            pct(level),
            pct(cp.lo),
            pct(cp.hi),
            pct(floor)
        );
        if g >= floor {
            r.verdict = Verdict::Pass;
            r.explanation = format!("{shown}: at or above the floor.");
        } else if cp.hi < floor {
            r.verdict = Verdict::Fail;
            r.explanation = format!(
                "{shown}: below the floor, and the exact upper bound {} is below it too.",
                pct(cp.hi)
            );
        } else {
            r.verdict = Verdict::Inconclusive;
            r.requests_to_settle = stats::requests_to_settle(n, &cp, g, floor);
            r.explanation = format!(
                "{shown}: below the floor, but the upper bound {} is not{}.",
                pct(cp.hi),
                settle_text(r.requests_to_settle)
            );
        }
    }

    /// A point comparison of a value the bundle computed (cost, quality):
    /// there are no per-request samples to resample, so no interval.
    fn bundle_value(
        &self,
        rule: &Rule,
        r: &mut RuleResult,
        get: impl Fn(&Bundle) -> Option<f64>,
        missing: &str,
    ) {
        let cand = self.cmp.candidate;
        let Some(v) = get(cand) else {
            r.verdict = Verdict::Skipped;
            r.explanation = format!("skipped: {missing}");
            return;
        };
        r.candidate_value = Some(v);
        r.baseline_value = baseline_mean(&self.cmp.baseline_runs, &get);
        let n = data::rate_denominator(cand);
        if self.too_few(r, n, "requests attempted") {
            return;
        }
        r.estimate = Some(Estimate {
            kind: EstimateKind::Value,
            point: v,
            interval: None,
        });
        let (limit, ok, word) = match rule.limit {
            Limit::Max(t) => (t.value(), v <= t.value(), "at or below"),
            Limit::Min(t) => (t.value(), v >= t.value(), "at or above"),
            _ => unreachable!("bundle values parse only `max`/`min`"),
        };
        let shown = format!(
            "{} = {} against the limit {}",
            rule.metric,
            fmt_value(v, rule.metric),
            fmt_value(limit, rule.metric)
        );
        if ok {
            r.verdict = Verdict::Pass;
            r.explanation = format!(
                "{shown}: {word} the limit (point comparison; the bundle has no per-request values for this metric)."
            );
        } else {
            r.verdict = Verdict::Fail;
            r.explanation = format!(
                "{shown}: past the limit (point comparison; the bundle has no per-request values for this metric)."
            );
        }
    }
}

/// Decide a relative rule once its BH-adjusted p-value is known.
fn decide_relative(
    r: &mut RuleResult,
    p: &Pending,
    p_adj: f64,
    alpha: f64,
    policy: &super::file::Policy,
) {
    r.p_adjusted = Some(p_adj);
    let level = pct(policy.confidence);
    let past = |x: f64| {
        if p.higher_is_worse {
            x > p.limit
        } else {
            x < p.limit
        }
    };
    let within = if p.higher_is_worse {
        p.iv.hi <= p.limit
    } else {
        p.iv.lo >= p.limit
    };
    let (change, lo, hi, limit) = if p.difference {
        (pp(p.point), pp(p.iv.lo), pp(p.iv.hi), pp(p.limit))
    } else {
        (
            signed_pct(p.point - 1.0),
            signed_pct(p.iv.lo - 1.0),
            signed_pct(p.iv.hi - 1.0),
            signed_pct(p.limit - 1.0),
        )
    };
    let shown = format!(
        "{} changed {change} ({level} CI {lo} to {hi}) against the {limit} limit",
        r.metric
    );
    let note = std::mem::take(&mut r.explanation);
    if past(p.point) && p_adj < alpha {
        r.verdict = Verdict::Fail;
        r.explanation = format!(
            "{shown}: past the limit and significantly worse than baseline (adjusted p = {} < {alpha}){note}.",
            fmt_p(p_adj)
        );
    } else if within {
        r.verdict = Verdict::Pass;
        r.explanation = format!("{shown}: the whole interval is within the limit{note}.");
    } else {
        r.verdict = Verdict::Inconclusive;
        r.requests_to_settle = stats::requests_to_settle(p.n, &p.iv, p.point, p.limit);
        let why = if past(p.point) {
            format!(
                "past the limit, but not significantly worse than baseline (adjusted p = {} ≥ {alpha})",
                fmt_p(p_adj)
            )
        } else {
            "the interval straddles the limit".to_owned()
        };
        r.explanation = format!("{shown}: {why}{}{note}.", settle_text(r.requests_to_settle));
    }
}

/// Decide an absolute limit from a point and its interval.
#[expect(
    clippy::too_many_arguments,
    reason = "one call shape shared by every absolute rule"
)]
fn decide_absolute(
    r: &mut RuleResult,
    level: f64,
    metric: Metric,
    limit: f64,
    point: f64,
    iv: Interval,
    n: u64,
    note: &str,
) {
    let higher_is_worse = metric.higher_is_worse();
    r.estimate = Some(Estimate {
        kind: EstimateKind::Value,
        point,
        interval: Some(iv),
    });
    r.mde = ratio_mde(&iv, point, level);
    let (within, past_point, all_past) = if higher_is_worse {
        (iv.hi <= limit, point > limit, iv.lo > limit)
    } else {
        (iv.lo >= limit, point < limit, iv.hi < limit)
    };
    let shown = format!(
        "{metric} = {} ({} CI {} to {}) against the {} {}",
        fmt_value(point, metric),
        pct(level),
        fmt_value(iv.lo, metric),
        fmt_value(iv.hi, metric),
        if higher_is_worse {
            "maximum"
        } else {
            "minimum"
        },
        fmt_value(limit, metric)
    );
    if within {
        r.verdict = Verdict::Pass;
        r.explanation = format!("{shown}: the whole interval is within the limit{note}.");
    } else if past_point && all_past {
        r.verdict = Verdict::Fail;
        r.explanation = format!("{shown}: the whole interval is past the limit{note}.");
    } else {
        r.verdict = Verdict::Inconclusive;
        r.requests_to_settle = stats::requests_to_settle(n, &iv, point, limit);
        r.explanation = format!(
            "{shown}: the interval straddles the limit{}{note}.",
            settle_text(r.requests_to_settle)
        );
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

fn settle_text(n: Option<u64>) -> String {
    match n {
        Some(n) => format!("; about {n} requests per side would settle it"),
        None => String::new(),
    }
}

fn pct(fraction: f64) -> String {
    format!("{} %", trim_num(fraction * 100.0, 2))
}

fn signed_pct(fraction: f64) -> String {
    let v = fraction * 100.0;
    let s = trim_num(v.abs(), 1);
    if v < 0.0 && s != "0" {
        format!("−{s} %")
    } else {
        format!("+{s} %")
    }
}

fn pp(fraction: f64) -> String {
    let v = fraction * 100.0;
    let s = trim_num(v.abs(), 2);
    if v < 0.0 && s != "0" {
        format!("−{s} pp")
    } else {
        format!("+{s} pp")
    }
}

fn fmt_p(p: f64) -> String {
    if p < 0.0001 {
        "< 0.0001".into()
    } else {
        format!("{p:.4}")
    }
}

/// A value in its metric's unit, for explanations.
pub(crate) fn fmt_value(v: f64, metric: Metric) -> String {
    match metric.unit() {
        "%" => pct(v),
        "" => trim_num(v, 2),
        unit => format!("{} {unit}", trim_num(v, 1)),
    }
}

/// Fixed decimals with trailing zeros removed (`1.50` → `1.5`).
fn trim_num(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}
