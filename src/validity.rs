//! Validity of a run: did it measure what its workload configured? A pure
//! function of what the plan asked for ([`Expectations`]) and what the run
//! recorded ([`Facts`]), returning the bundle's `context.validity`. A run
//! with a problem is *invalid*: its numbers say nothing about the server,
//! whichever way they point, so a gate neither passes nor fails it.
//!
//! The rules, one per [`ProblemKind`]:
//! - `window_cut`: the run was interrupted or otherwise incomplete;
//! - `output_length`: with `ignore_eos` and a fixed `max_tokens`, successful
//!   requests' output token counts differ from `max_tokens`. Shorter: the
//!   server stopped early (a shorter answer is not a faster server). Longer:
//!   a count above `max_tokens` cannot come from the model, so the counting
//!   tokenizer is not the model's, and every metric computed from token
//!   counts is wrong by about as much (listed in `untrusted_metrics`);
//! - `rate_missed`: open loop, requests did not start at the scheduled rate;
//! - `client_limited`: the client itself limited the measurement
//!   (`context.client.saturated`, decided by the client probe).

use crate::bundle::{ProblemKind, TokenMetric, TokenSource, Validity, ValidityProblem};
use crate::metrics::{OutputLengths, ScheduleFacts};
use crate::workload::{LoadPlan, Plan, Pricing};

/// How far the mean of approximate token counts (the tokenizer over the
/// text, or one token per content event) may lie from `max_tokens`, either
/// way, before the lengths count as different. `usage` counts are the
/// server's own and must match exactly. The tolerance sits between the two
/// errors it has to tell apart: the model's own tokenizer re-counting the
/// model's text differs from the generated count only where the generated
/// sequence is not the text's canonical encoding, or where one event
/// carried two tokens (a character split over tokens) — a token or two in a
/// hundred; a tokenizer of another family is off by far more (`o200k_base`
/// counting a Llama model's text: 80.75 for 64, +26 %, issue 12).
pub const APPROX_LENGTH_TOLERANCE: f64 = 0.05;

/// Open loop: the achieved start rate over the window may fall this far
/// below the schedule's. The schedule is deterministic (constant, or
/// Poisson from the seed), so the achieved rate is compared with the rate
/// of the very schedule that was run, not with its long-run mean. Measured
/// on a shared 2-core host at load 6 with the simulator in the same
/// process: 100.0 % at 40 req/s (constant and Poisson) and 200 req/s
/// (Poisson), 99.6 % at 1000 req/s.
pub const RATE_TOLERANCE: f64 = 0.02;

/// Open loop: the p99 start lag (sent − scheduled) may reach this many
/// mean inter-arrival gaps (1 / rate)… A lag of k gaps bunches k arrivals
/// together; a Poisson process itself puts 4 or more arrivals into one mean
/// gap about 2 % of the time (P(N ≥ 4) for a Poisson(1) count is
/// 1 − e⁻¹(1 + 1 + 1/2 + 1/6) ≈ 0.019), so a p99 backlog under 4 arrivals
/// adds no burst the workload's own arrivals do not already have.
pub const LAG_GAPS: f64 = 4.0;

/// …or this much, whichever is larger: a busy shared host delays timer
/// wake-ups by several milliseconds without distorting a load of LLM
/// requests that take tens of milliseconds or more. Measured (same host):
/// p99 lag 5.6 ms at 40 req/s constant, 6.3 ms at 40 req/s Poisson,
/// 12.8 ms at 200 req/s Poisson; 83 ms at 1000 req/s, where the client and
/// the simulator fought over two cores (that run is rightly invalid).
pub const LAG_FLOOR_MS: f64 = 25.0;

/// What the workload asked for, as far as validity goes.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectations {
    /// Per prompt class (index = `samples.class`).
    pub classes: Vec<ClassLength>,
    /// Open loop: the target rate, requests per second.
    pub open_rate: Option<f64>,
    /// Name of the counting tokenizer (`o200k_base`, a file name).
    pub tokenizer: String,
    /// Whether cost is priced per token (then it is a token-based metric).
    pub per_token_pricing: bool,
    /// Measured requests planned (count mode).
    pub planned_requests: Option<u64>,
}

/// One prompt class's output-length expectation.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassLength {
    pub name: String,
    pub max_tokens: Option<u32>,
    pub ignore_eos: bool,
}

impl Expectations {
    pub fn of(plan: &Plan) -> Expectations {
        Expectations {
            classes: plan
                .classes
                .iter()
                .map(|c| ClassLength {
                    name: c.name.clone(),
                    max_tokens: c.sampling.max_tokens,
                    ignore_eos: c.sampling.ignore_eos,
                })
                .collect(),
            // A shard keeps every N-th arrival of the schedule: rate R/N.
            open_rate: match plan.load {
                LoadPlan::Open { rate, .. } => {
                    Some(rate / f64::from(plan.shard.map_or(1, |s| s.total())))
                }
                LoadPlan::Closed { .. } => None,
            },
            tokenizer: plan.tokenizer.name().to_owned(),
            per_token_pricing: matches!(plan.pricing, Some(Pricing::PerToken { .. })),
            planned_requests: plan.measured_requests(),
        }
    }
}

/// What the run recorded, as far as validity goes.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub complete: bool,
    pub incomplete_reason: Option<&'a str>,
    /// Measured requests attempted.
    pub measured: u64,
    /// `context.client.saturated` and its reasons.
    pub client_saturated: bool,
    pub client_warnings: &'a [String],
    pub lengths: &'a OutputLengths,
    pub schedule: &'a ScheduleFacts,
}

/// Apply every rule.
pub fn assess(exp: &Expectations, facts: &Facts<'_>) -> Validity {
    let mut v = Validity::default();
    window(facts, exp, &mut v);
    output_lengths(exp, facts.lengths, &mut v);
    if let Some(rate) = exp.open_rate {
        schedule(rate, facts.schedule, &mut v);
    }
    if facts.client_saturated {
        v.problems.push(ValidityProblem {
            kind: ProblemKind::ClientLimited,
            message: {
                // The probe's own warning already opens with the phrase;
                // say it once.
                const LIMITED: &str = "the client limited the measurement";
                let details: Vec<&str> = facts
                    .client_warnings
                    .iter()
                    .map(|w| {
                        w.strip_prefix(LIMITED)
                            .map_or(w.as_str(), |rest| rest.trim_start_matches(": "))
                    })
                    .filter(|w| !w.is_empty())
                    .collect();
                if details.is_empty() {
                    LIMITED.to_owned()
                } else {
                    format!("{LIMITED}: {}", details.join("; "))
                }
            },
            advice: "give the client its own CPU (a quieter runner, or the server on another machine), or lower the load; see `context.client`".to_owned(),
        });
    }
    v.untrusted_metrics.sort();
    v.untrusted_metrics.dedup();
    v
}

fn window(facts: &Facts<'_>, exp: &Expectations, v: &mut Validity) {
    if facts.complete {
        return;
    }
    let planned = exp
        .planned_requests
        .map(|n| format!(" of {n} planned"))
        .unwrap_or_default();
    v.problems.push(ValidityProblem {
        kind: ProblemKind::WindowCut,
        message: format!(
            "the measurement window was cut short ({}) after {} measured requests{planned}",
            facts.incomplete_reason.unwrap_or("no reason recorded"),
            facts.measured
        ),
        advice: "re-run to completion: a cut window measured another load than the workload's"
            .to_owned(),
    });
}

/// Requests, token sum, smallest and largest count, and how many were
/// below and above `max`.
struct LengthSummary {
    requests: u64,
    mean: f64,
    min: u32,
    max: u32,
    below: u64,
    above: u64,
}

fn summarize(counts: &std::collections::BTreeMap<u32, u64>, max_tokens: u32) -> LengthSummary {
    let requests: u64 = counts.values().sum();
    let sum: f64 = counts.iter().map(|(&t, &n)| f64::from(t) * n as f64).sum();
    LengthSummary {
        requests,
        mean: if requests > 0 {
            sum / requests as f64
        } else {
            0.0
        },
        min: counts.keys().next().copied().unwrap_or(0),
        max: counts.keys().next_back().copied().unwrap_or(0),
        below: counts.range(..max_tokens).map(|(_, n)| n).sum(),
        above: counts
            .range(max_tokens.saturating_add(1)..)
            .map(|(_, n)| n)
            .sum(),
    }
}

fn output_lengths(exp: &Expectations, lengths: &OutputLengths, v: &mut Validity) {
    for (&(class, source), counts) in &lengths.counts {
        let Some(c) = exp.classes.get(usize::from(class)) else {
            continue;
        };
        let (true, Some(max_tokens)) = (c.ignore_eos, c.max_tokens) else {
            continue;
        };
        let s = summarize(counts, max_tokens);
        if s.requests == 0 {
            continue;
        }
        let class_text = if exp.classes.len() > 1 {
            format!("class `{}`: ", c.name)
        } else {
            String::new()
        };
        let counted = match source {
            TokenSource::Usage => "as the server reported (usage)".to_owned(),
            TokenSource::Tokenizer => format!(
                "counted with the {} tokenizer (the server reported no usage)",
                exp.tokenizer
            ),
            TokenSource::Events => "counted as content events (no usage, no tokenizer)".to_owned(),
        };
        let (short, long) = match source {
            TokenSource::Usage => (s.below > 0, s.above > 0),
            TokenSource::Tokenizer | TokenSource::Events => {
                let m = f64::from(max_tokens);
                (
                    s.mean < m * (1.0 - APPROX_LENGTH_TOLERANCE),
                    s.mean > m * (1.0 + APPROX_LENGTH_TOLERANCE),
                )
            }
        };
        let found = format!(
            "{} requests, mean {:.2} tokens (min {}, max {}; {} below, {} above max_tokens {max_tokens}) {counted}",
            s.requests, s.mean, s.min, s.max, s.below, s.above
        );
        v.checked.push(format!(
            "{class_text}output length with ignore_eos: {found}"
        ));
        if short {
            v.problems.push(ValidityProblem {
                kind: ProblemKind::OutputLength,
                message: format!(
                    "{class_text}outputs short: asked for {max_tokens} tokens with ignore_eos, got {found}; the server stopped early, and a shorter answer is not a faster server"
                ),
                advice: "use a server that honours `ignore_eos` (vLLM and SGLang do), check that the prompt plus max_tokens fits the model's context, or set `ignore_eos: false` and gate on per-token metrics only".to_owned(),
            });
        }
        if long {
            let (message, advice) = match source {
                TokenSource::Tokenizer => (
                    format!(
                        "{class_text}outputs longer than max_tokens: asked for {max_tokens} tokens with ignore_eos, got {found}; the model cannot generate more than max_tokens, so the {} tokenizer is not the model's, and every token-based metric is off by about {:+.0} %",
                        exp.tokenizer,
                        (s.mean / f64::from(max_tokens) - 1.0) * 100.0
                    ),
                    "count with the model's own tokenizer (`tokenizer: {file: path/to/tokenizer.json}` in the workload), or use a server that reports usage (`stream_options.include_usage`)".to_owned(),
                ),
                TokenSource::Usage => (
                    format!(
                        "{class_text}the server reported more tokens than max_tokens: asked for {max_tokens} with ignore_eos, got {found}; its usage counts cannot be trusted"
                    ),
                    "check that the server honours `max_tokens`, and count with the model's own tokenizer (`tokenizer: {file: …}`)".to_owned(),
                ),
                TokenSource::Events => (
                    format!(
                        "{class_text}outputs longer than max_tokens: asked for {max_tokens} tokens with ignore_eos, got {found}; the server ignores max_tokens or splits tokens over several events"
                    ),
                    "count with the model's own tokenizer (`tokenizer: {file: path/to/tokenizer.json}`), or use a server that reports usage".to_owned(),
                ),
            };
            v.problems.push(ValidityProblem {
                kind: ProblemKind::OutputLength,
                message,
                advice,
            });
            v.untrusted_metrics.extend([
                TokenMetric::OutputTokensPerS,
                TokenMetric::Tpot,
                TokenMetric::Itl,
                TokenMetric::DecodeTokensPerS,
            ]);
            // Without usage, prompt tokens are the plan's own count with the
            // same tokenizer.
            if source != TokenSource::Usage {
                v.untrusted_metrics.push(TokenMetric::InputTokensPerS);
            }
            if exp.per_token_pricing {
                v.untrusted_metrics.push(TokenMetric::CostPer1k);
            }
        }
    }
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn schedule(rate: f64, s: &ScheduleFacts, v: &mut Validity) {
    let (Some(first), Some(last)) = (s.first, s.last) else {
        return;
    };
    if s.requests < 2 || last.0 <= first.0 {
        v.checked.push(format!(
            "open loop: {} measured first attempts, too few to compare with the schedule",
            s.requests
        ));
        return;
    }
    // The achieved start rate between the first and the last scheduled
    // request against the rate of the schedule itself.
    let scheduled_s = (last.0 - first.0).as_secs_f64();
    let started_s = last.1.saturating_sub(first.1).as_secs_f64();
    let achieved = if started_s > 0.0 {
        scheduled_s / started_s
    } else {
        f64::INFINITY
    };
    let target = (s.requests - 1) as f64 / scheduled_s;
    let lag_limit_ms = (LAG_GAPS * 1e3 / rate).max(LAG_FLOOR_MS);
    let lag_p99 = ms(s.lag_p99);
    let found = format!(
        "{} requests started at {:.1} % of the scheduled rate ({:.3} of {:.3} req/s; target {rate} req/s), start lag median {:.1} ms, p99 {lag_p99:.1} ms, max {:.1} ms",
        s.requests,
        achieved.min(9.99) * 100.0,
        target * achieved.min(9.99),
        target,
        ms(s.lag_p50),
        ms(s.lag_max)
    );
    v.checked.push(format!("open loop: {found}"));
    let slow = achieved < 1.0 - RATE_TOLERANCE;
    let late = lag_p99 > lag_limit_ms;
    if slow || late {
        let why = match (slow, late) {
            (true, true) => format!(
                "the start rate fell more than {:.0} % below the schedule and the p99 start lag passed {lag_limit_ms:.1} ms",
                RATE_TOLERANCE * 100.0
            ),
            (true, false) => format!(
                "the start rate fell more than {:.0} % below the schedule",
                RATE_TOLERANCE * 100.0
            ),
            _ => format!(
                "the p99 start lag passed {lag_limit_ms:.1} ms (the larger of {LAG_GAPS} mean inter-arrival gaps and {LAG_FLOOR_MS} ms)"
            ),
        };
        v.problems.push(ValidityProblem {
            kind: ProblemKind::RateMissed,
            message: format!("the open-loop schedule was not kept: {why}: {found}"),
            advice: "raise `load.max_in_flight` if the server held that many requests, give the client more CPU, or lower `load.rate`".to_owned(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::time::Duration;

    fn exp(max_tokens: u32) -> Expectations {
        Expectations {
            classes: vec![ClassLength {
                name: "fixed".into(),
                max_tokens: Some(max_tokens),
                ignore_eos: true,
            }],
            open_rate: None,
            tokenizer: "o200k_base".into(),
            per_token_pricing: false,
            planned_requests: Some(200),
        }
    }

    fn lengths(source: TokenSource, counts: &[(u32, u64)]) -> OutputLengths {
        let mut l = OutputLengths::default();
        l.counts.insert(
            (0, source),
            counts.iter().copied().collect::<BTreeMap<_, _>>(),
        );
        l
    }

    fn facts<'a>(lengths: &'a OutputLengths, schedule: &'a ScheduleFacts) -> Facts<'a> {
        Facts {
            complete: true,
            incomplete_reason: None,
            measured: 200,
            client_saturated: false,
            client_warnings: &[],
            lengths,
            schedule,
        }
    }

    fn kinds(v: &Validity) -> Vec<ProblemKind> {
        v.problems.iter().map(|p| p.kind).collect()
    }

    #[test]
    fn exact_usage_lengths_are_valid() {
        let l = lengths(TokenSource::Usage, &[(64, 200)]);
        let s = ScheduleFacts::default();
        let v = assess(&exp(64), &facts(&l, &s));
        assert!(v.is_valid(), "{v:?}");
        assert!(v.untrusted_metrics.is_empty());
        assert!(
            v.checked[0].contains("200 requests, mean 64.00"),
            "{:?}",
            v.checked
        );
    }

    #[test]
    fn one_short_usage_count_is_outputs_short() {
        let l = lengths(TokenSource::Usage, &[(12, 1), (64, 199)]);
        let s = ScheduleFacts::default();
        let v = assess(&exp(64), &facts(&l, &s));
        assert_eq!(kinds(&v), [ProblemKind::OutputLength]);
        assert!(v.problems[0].message.contains("outputs short"), "{v:?}");
        assert!(v.problems[0].message.contains("1 below"), "{v:?}");
        assert!(v.untrusted_metrics.is_empty());
    }

    /// The llama-cpp-python case: o200k_base counting a Llama
    /// model's text, 80.75 tokens on average for max_tokens 64.
    #[test]
    fn a_tokenizer_count_above_max_tokens_names_the_tokenizer_and_distrusts_token_metrics() {
        let l = lengths(TokenSource::Tokenizer, &[(80, 50), (81, 150)]);
        let s = ScheduleFacts::default();
        let mut e = exp(64);
        e.per_token_pricing = true;
        let v = assess(&e, &facts(&l, &s));
        assert_eq!(kinds(&v), [ProblemKind::OutputLength]);
        let p = &v.problems[0];
        assert!(p.message.contains("mean 80.75"), "{}", p.message);
        assert!(
            p.message
                .contains("o200k_base tokenizer is not the model's"),
            "{}",
            p.message
        );
        assert!(p.message.contains("+26 %"), "{}", p.message);
        assert!(p.advice.contains("tokenizer: {file:"), "{}", p.advice);
        assert!(p.advice.contains("usage"), "{}", p.advice);
        assert_eq!(
            v.untrusted_metrics,
            [
                TokenMetric::OutputTokensPerS,
                TokenMetric::InputTokensPerS,
                TokenMetric::Tpot,
                TokenMetric::Itl,
                TokenMetric::DecodeTokensPerS,
                TokenMetric::CostPer1k,
            ]
        );
    }

    #[test]
    fn approximate_counts_within_five_percent_are_valid() {
        // Mean 62.5 (−2.3 %) and 66.5 (+3.9 %) of 64.
        for counts in [&[(61, 1), (64, 1)][..], &[(65, 1), (68, 1)][..]] {
            let l = lengths(TokenSource::Tokenizer, counts);
            let s = ScheduleFacts::default();
            let v = assess(&exp(64), &facts(&l, &s));
            assert!(v.is_valid(), "{counts:?}: {v:?}");
        }
        // Mean 60.5 is 5.5 % short.
        let l = lengths(TokenSource::Events, &[(57, 1), (64, 1)]);
        let s = ScheduleFacts::default();
        let v = assess(&exp(64), &facts(&l, &s));
        assert_eq!(kinds(&v), [ProblemKind::OutputLength]);
        assert!(v.problems[0].message.contains("content events"), "{v:?}");
    }

    #[test]
    fn lengths_are_not_checked_without_ignore_eos_or_a_fixed_max_tokens() {
        let l = lengths(TokenSource::Usage, &[(3, 100)]);
        let s = ScheduleFacts::default();
        let mut e = exp(64);
        e.classes[0].ignore_eos = false;
        assert!(assess(&e, &facts(&l, &s)).is_valid());
        e.classes[0].ignore_eos = true;
        e.classes[0].max_tokens = None;
        let v = assess(&e, &facts(&l, &s));
        assert!(v.is_valid());
        assert!(v.checked.is_empty());
    }

    #[test]
    fn a_cut_window_and_a_limited_client_are_problems_with_advice() {
        let l = OutputLengths::default();
        let s = ScheduleFacts::default();
        let warnings = ["tick lag p99 38 ms".to_owned()];
        let f = Facts {
            complete: false,
            incomplete_reason: Some("interrupted by SIGINT"),
            measured: 57,
            client_saturated: true,
            client_warnings: &warnings,
            ..facts(&l, &s)
        };
        let v = assess(&exp(64), &f);
        assert_eq!(
            kinds(&v),
            [ProblemKind::WindowCut, ProblemKind::ClientLimited]
        );
        assert!(
            v.problems[0]
                .message
                .contains("(interrupted by SIGINT) after 57 measured requests of 200 planned"),
            "{}",
            v.problems[0].message
        );
        assert!(v.problems[1].message.contains("tick lag p99 38 ms"));
        assert!(v.problems.iter().all(|p| !p.advice.is_empty()));
    }

    #[test]
    fn the_probe_s_own_wording_is_not_repeated() {
        let l = OutputLengths::default();
        let s = ScheduleFacts::default();
        let warnings = ["the client limited the measurement: its runtime woke late".to_owned()];
        let f = Facts {
            client_saturated: true,
            client_warnings: &warnings,
            ..facts(&l, &s)
        };
        let v = assess(&exp(64), &f);
        assert_eq!(
            v.problems[0].message,
            "the client limited the measurement: its runtime woke late"
        );
    }

    fn open(rate: f64) -> Expectations {
        Expectations {
            open_rate: Some(rate),
            ..exp(64)
        }
    }

    /// 400 requests scheduled 25 ms apart (40 req/s) over 9.975 s.
    fn schedule_of(last_sent_ms: u64, lag_p99_ms: u64) -> ScheduleFacts {
        ScheduleFacts {
            requests: 400,
            first: Some((Duration::from_millis(0), Duration::from_millis(1))),
            last: Some((
                Duration::from_millis(9975),
                Duration::from_millis(last_sent_ms),
            )),
            lag_p50: Duration::from_micros(300),
            lag_p99: Duration::from_millis(lag_p99_ms),
            lag_max: Duration::from_millis(lag_p99_ms + 5),
        }
    }

    #[test]
    fn an_open_loop_on_schedule_is_valid() {
        let l = OutputLengths::default();
        let s = schedule_of(9977, 3);
        let v = assess(&open(40.0), &facts(&l, &s));
        assert!(v.is_valid(), "{v:?}");
        assert!(
            v.checked[0].contains("100.0 % of the scheduled rate"),
            "{:?}",
            v.checked
        );
    }

    #[test]
    fn an_open_loop_that_fell_behind_missed_its_rate() {
        let l = OutputLengths::default();
        // The last request started 400 ms late: 96 % of the rate.
        let s = schedule_of(10_375, 3);
        let v = assess(&open(40.0), &facts(&l, &s));
        assert_eq!(kinds(&v), [ProblemKind::RateMissed]);
        assert!(
            v.problems[0].message.contains("fell more than 2 %"),
            "{v:?}"
        );
        // On rate, but a p99 start lag of 120 ms is more than four 25 ms gaps.
        let s = schedule_of(9977, 120);
        let v = assess(&open(40.0), &facts(&l, &s));
        assert_eq!(kinds(&v), [ProblemKind::RateMissed]);
        assert!(
            v.problems[0]
                .message
                .contains("p99 start lag passed 100.0 ms"),
            "{v:?}"
        );
        assert!(assess(&open(40.0), &facts(&l, &schedule_of(9977, 90))).is_valid());
        // At 400 req/s (four gaps: 10 ms) the 25 ms floor applies.
        let v = assess(&open(400.0), &facts(&l, &schedule_of(9977, 24)));
        assert!(v.is_valid(), "{v:?}");
        let v = assess(&open(400.0), &facts(&l, &schedule_of(9977, 30)));
        assert_eq!(kinds(&v), [ProblemKind::RateMissed]);
    }

    #[test]
    fn the_schedule_is_not_checked_in_a_closed_loop() {
        let l = OutputLengths::default();
        let s = schedule_of(20_000, 500);
        assert!(assess(&exp(64), &facts(&l, &s)).is_valid());
    }
}
