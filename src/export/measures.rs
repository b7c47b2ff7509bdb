//! The summary measures every export format writes: one table, so the
//! Bencher, github-action-benchmark, CSV and OpenMetrics files of a bundle
//! always agree on names, units and values.

use crate::bundle::{Bundle, LatencyStats};

/// Which direction is an improvement (what a benchmark dashboard needs to
/// draw an alert the right way round).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Smaller,
    Bigger,
}

impl Better {
    pub fn as_str(self) -> &'static str {
        match self {
            Better::Smaller => "smaller",
            Better::Bigger => "bigger",
        }
    }
}

/// The unit of a measure's value as the bundle stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Milliseconds,
    TokensPerSecond,
    RequestsPerSecond,
    /// A share in [0, 1].
    Ratio,
    /// The pricing block's currency per 1,000 successful responses.
    CostPer1k,
}

impl Unit {
    /// The unit as dashboards show it.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Milliseconds => "ms",
            Unit::TokensPerSecond => "tokens/s",
            Unit::RequestsPerSecond => "requests/s",
            Unit::Ratio => "ratio",
            Unit::CostPer1k => "cost per 1k responses",
        }
    }
}

/// One summary value of a bundle: `ttft_p95` = 58.3 ms, smaller is better.
#[derive(Debug, Clone, PartialEq)]
pub struct Measure {
    /// `family_stat`, lower-case ASCII and `_` (`ttft_p95`, `error_rate`).
    pub id: String,
    /// The metric family (`ttft`, `output_tokens_per_s`, …).
    pub family: &'static str,
    /// The statistic of a latency family (`p50`, `mean`); `None` otherwise.
    pub stat: Option<&'static str>,
    pub unit: Unit,
    pub better: Better,
    pub value: f64,
}

/// The latency families, in report order, with the quantiles they carry.
pub const LATENCY_FAMILIES: [&str; 5] = ["ttft", "ttfb", "itl", "tpot", "e2e"];
/// The statistics of a latency family, and the quantile each one is.
pub const LATENCY_STATS: [(&str, Option<f64>); 5] = [
    ("p50", Some(0.5)),
    ("p90", Some(0.9)),
    ("p95", Some(0.95)),
    ("p99", Some(0.99)),
    ("mean", None),
];

pub fn latency_stats<'a>(bundle: &'a Bundle, family: &str) -> Option<&'a LatencyStats> {
    let m = &bundle.metrics;
    Some(match family {
        "ttft" => &m.ttft_ms,
        "ttfb" => &m.ttfb_ms,
        "itl" => &m.itl_ms,
        "tpot" => &m.tpot_ms,
        "e2e" => &m.e2e_ms,
        _ => return None,
    })
}

pub fn stat_value(s: &LatencyStats, stat: &str) -> Option<f64> {
    match stat {
        "p50" => s.p50,
        "p90" => s.p90,
        "p95" => s.p95,
        "p99" => s.p99,
        "mean" => s.mean,
        _ => None,
    }
}

/// Every measure the bundle has a finite value for. Statistics the run did
/// not produce (no successful request, no pricing block, no SLOs) are left
/// out rather than written as 0, which a dashboard would read as "instant"
/// or "free".
pub fn summary(bundle: &Bundle) -> Vec<Measure> {
    let m = &bundle.metrics;
    let mut out = Vec::new();
    for family in LATENCY_FAMILIES {
        let Some(s) = latency_stats(bundle, family) else {
            continue;
        };
        for (stat, _) in LATENCY_STATS {
            if let Some(v) = stat_value(s, stat) {
                out.push(Measure {
                    id: format!("{family}_{stat}"),
                    family,
                    stat: Some(stat),
                    unit: Unit::Milliseconds,
                    better: Better::Smaller,
                    value: v,
                });
            }
        }
    }
    let mut plain = |family: &'static str, unit, better, value: Option<f64>| {
        if let Some(value) = value {
            out.push(Measure {
                id: family.to_owned(),
                family,
                stat: None,
                unit,
                better,
                value,
            });
        }
    };
    // A run without a successful request has no throughput: 0 would be a
    // value, and a dashboard would chart it.
    let any_ok = m.requests.succeeded > 0;
    let tput = |v: f64| any_ok.then_some(v);
    plain(
        "output_tokens_per_s",
        Unit::TokensPerSecond,
        Better::Bigger,
        tput(m.output_tokens_per_s),
    );
    plain(
        "input_tokens_per_s",
        Unit::TokensPerSecond,
        Better::Bigger,
        tput(m.input_tokens_per_s),
    );
    plain(
        "requests_per_s",
        Unit::RequestsPerSecond,
        Better::Bigger,
        tput(m.requests_per_s),
    );
    let judged = m.requests.attempted > m.requests.cancelled;
    plain(
        "error_rate",
        Unit::Ratio,
        Better::Smaller,
        judged.then_some(m.error_rate),
    );
    plain(
        "stream_error_rate",
        Unit::Ratio,
        Better::Smaller,
        judged.then_some(m.stream_error_rate),
    );
    plain(
        "cost_per_1k",
        Unit::CostPer1k,
        Better::Smaller,
        m.cost_per_1k,
    );
    plain("goodput", Unit::Ratio, Better::Bigger, m.goodput);
    plain(
        "quality_pass_rate",
        Unit::Ratio,
        Better::Bigger,
        m.quality_pass_rate,
    );
    out.retain(|x| x.value.is_finite());
    out
}
