//! A bundle as the noise model sees it: one or more runs (a `--repeat N`
//! bundle holds N, `samples.run` says which request belongs to which), each
//! with its requests in **start order** (the samples are stored in
//! completion order), and per run and metric the within-run statistic of
//! the block bootstrap ([`crate::stats::RunStat`]). The gate compares these
//! across runs (`stats::compare_runs`); `tokengate calibrate` measures the
//! spread between them.
//!
//! Which series a metric's statistic is computed from is `super::data`'s
//! choice (successful first attempts; ITL as per-request means or the
//! histogram). Two metrics have no per-request values in start order: a
//! TTFB or ITL *quantile* comes from a histogram, whose values carry no
//! time, so its block bootstrap degenerates to the i.i.d. one (the order is
//! the histogram's) — the between-run stage still carries run-to-run noise.

use super::data::{self, ThroughputKind};
use super::file::{LatencyKind, Metric, Stat};
use crate::bundle::Bundle;
use crate::stats::{self, BootstrapConfig, RunStat};

/// Indices of each run's samples, in start order; one group for a bundle of
/// one run. A sample whose run index has no entry in `repeats` joins the
/// group of its index anyway (a hand-made bundle is not refused here).
pub fn run_indices(b: &Bundle) -> Vec<Vec<usize>> {
    let s = &b.samples;
    let runs = if s.run.len() == s.len() {
        s.run.iter().map(|&r| usize::from(r) + 1).max().unwrap_or(1)
    } else {
        1
    };
    let mut groups = vec![Vec::new(); runs.max(1)];
    for i in 0..s.len() {
        let r = if s.run.len() == s.len() {
            usize::from(s.run[i])
        } else {
            0
        };
        groups[r].push(i);
    }
    for g in &mut groups {
        g.sort_by_key(|&i| (s.start_us.get(i).copied().unwrap_or(u64::MAX), i));
    }
    groups.retain(|g| !g.is_empty());
    groups
}

/// Number of runs in a bundle.
pub fn run_count(b: &Bundle) -> usize {
    run_indices(b).len().max(1)
}

/// The measured throughput of run `k` of a bundle: its `repeats` entry, or
/// the bundle's own metrics for a bundle of one run.
pub fn run_throughput(b: &Bundle, k: usize, kind: ThroughputKind) -> f64 {
    match b.repeats.get(k) {
        Some(r) if b.repeats.len() > 1 => match kind {
            ThroughputKind::OutputTokens => r.output_tokens_per_s,
            ThroughputKind::InputTokens => r.input_tokens_per_s,
            ThroughputKind::Requests => r.requests_per_s,
        },
        _ => data::measured_throughput(b, kind),
    }
}

/// A seed per (policy seed, bundle, run), so that the bootstrap errors of
/// different runs are independent (`stats::run_stat_quantile` asks for it).
fn run_seed(seed: u64, b: &Bundle, k: usize) -> u64 {
    let salt = crate::bundle::hex_sha256(
        format!("{}|{}|{k}", b.context.started_at, b.context.workload_digest).as_bytes(),
    );
    let salt = u64::from_str_radix(salt.get(..16).unwrap_or("0"), 16).unwrap_or(0);
    crate::workload::mix64(seed ^ salt)
}

/// What a throughput statistic's point is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThroughputPoint {
    /// The run's measured throughput over its window (separate runs).
    Window,
    /// Work per second of request time, Σwork / ΣE2E: by Little's law
    /// (Little 1961, L = λW) a closed loop of N streams that each see a
    /// mean E2E time W completes λ = N / W requests per second, so at equal
    /// concurrency the ratio of two sides' Σwork/ΣE2E is the ratio of the
    /// throughputs each would reach alone. Used when both sides share one
    /// window (`tokengate ab`): their window throughputs are equal by
    /// construction (the same requests, the same window) and cannot show
    /// a slower side.
    RequestTime,
}

/// The within-run statistic of `metric` for every run of `b` (None for a
/// run whose values give no estimate, e.g. too few). Metrics without a
/// per-request distribution (rates, cost, goodput, server and sweep values)
/// give an empty list.
pub fn run_stats(b: &Bundle, metric: Metric, cfg: &BootstrapConfig) -> Vec<Option<RunStat>> {
    run_stats_with(b, metric, cfg, ThroughputPoint::Window)
}

/// [`run_stats`] with the throughput point chosen.
pub fn run_stats_with(
    b: &Bundle,
    metric: Metric,
    cfg: &BootstrapConfig,
    point: ThroughputPoint,
) -> Vec<Option<RunStat>> {
    if !has_distribution(metric) {
        return Vec::new();
    }
    run_indices(b)
        .iter()
        .enumerate()
        .map(|(k, idx)| {
            let cfg = BootstrapConfig {
                seed: run_seed(cfg.seed, b, k),
                ..*cfg
            };
            run_stat(b, k, idx, metric, &cfg, point)
        })
        .collect()
}

/// The within-run statistic of a latency or decode-rate *quantile* over
/// the whole bundle, every run's requests in start order one run after the
/// other (an absolute limit judges the bundle as a whole). The runs' seams
/// are a few positions among hundreds, so the block bootstrap's dependence
/// estimate is barely touched by them. None for other metrics.
pub fn bundle_quantile_stat(b: &Bundle, metric: Metric, cfg: &BootstrapConfig) -> Option<RunStat> {
    if !matches!(
        metric,
        Metric::Latency(_, Stat::Percentile(_)) | Metric::DecodeRate(Stat::Percentile(_))
    ) {
        return None;
    }
    let idx: Vec<usize> = run_indices(b).into_iter().flatten().collect();
    run_stat(b, 0, &idx, metric, cfg, ThroughputPoint::Window)
}

/// The values of one sample index (0 or 1 of them, or a pair per value).
type Pick<'a, T> = dyn Fn(&Bundle, &[usize]) -> Vec<T> + 'a;

/// The paired comparison of one interleaved A/B window (`tokengate ab`):
/// B (`cand`) against A (`base`) by the stationary bootstrap over time
/// blocks of both sides together (`stats::paired_quantile`,
/// `stats::paired_ratio_of_sums`), so a stall that hits A and B requests
/// alike moves both statistics in one resample and cancels in the ratio.
/// Each request enters with its start time; the values are the same
/// series the separate-runs model uses (`super::data`), request by
/// request. Throughput is work per second of request time
/// ([`ThroughputPoint::RequestTime`]). None for metrics without start-timed
/// per-request values (TTFB and ITL quantiles come from histograms), for a
/// bundle of several runs, or when a side gives no estimate: the caller
/// falls back to the separate-sides model.
pub fn paired_comparison(
    base: &Bundle,
    cand: &Bundle,
    metric: Metric,
    dir: stats::Direction,
    cfg: &BootstrapConfig,
    power: f64,
) -> Option<stats::NoiseComparison> {
    if run_count(base) != 1 || run_count(cand) != 1 {
        return None;
    }
    // Each selector maps one sample index to its value(s) through the same
    // `data` function the separate-runs model calls on a run's indices, so
    // both models filter requests alike (successful first attempts, …).
    fn timed<T>(b: &Bundle, pick: impl Fn(&[usize]) -> Vec<T>) -> Vec<(f64, T)> {
        (0..b.samples.len())
            .flat_map(|i| {
                let start = b.samples.start_us.get(i).map_or(f64::NAN, |&us| us as f64);
                pick(&[i]).into_iter().map(move |v| (start, v))
            })
            .collect()
    }
    let quantile = |pick: &Pick<'_, f64>, p: f64| {
        let a = timed(base, |i| pick(base, i));
        let b = timed(cand, |i| pick(cand, i));
        stats::paired_quantile(&a, &b, p, dir, cfg, power)
    };
    let ratio = |pick: &Pick<'_, (f64, f64)>| {
        let flat = |b: &Bundle| -> Vec<(f64, f64, f64)> {
            timed(b, |i| pick(b, i))
                .into_iter()
                .map(|(t, (num, den))| (t, num, den))
                .collect()
        };
        stats::paired_ratio_of_sums(&flat(base), &flat(cand), dir, cfg, power)
    };
    match metric {
        Metric::Latency(LatencyKind::Ttfb | LatencyKind::Itl, Stat::Percentile(_)) => None,
        Metric::Latency(kind, Stat::Percentile(p)) => quantile(
            &|b: &Bundle, i: &[usize]| data::latency_values_in(b, kind, i),
            p / 100.0,
        ),
        Metric::Latency(kind, Stat::Mean) => {
            ratio(&|b: &Bundle, i: &[usize]| data::mean_pairs_in(b, Some(kind), i))
        }
        Metric::DecodeRate(Stat::Percentile(p)) => quantile(
            &|b: &Bundle, i: &[usize]| data::decode_rates_in(b, i),
            p / 100.0,
        ),
        Metric::DecodeRate(Stat::Mean) => {
            ratio(&|b: &Bundle, i: &[usize]| data::mean_pairs_in(b, None, i))
        }
        Metric::OutputTokensPerS | Metric::InputTokensPerS | Metric::RequestsPerS => {
            let kind = match metric {
                Metric::OutputTokensPerS => ThroughputKind::OutputTokens,
                Metric::InputTokensPerS => ThroughputKind::InputTokens,
                _ => ThroughputKind::Requests,
            };
            ratio(&|b: &Bundle, i: &[usize]| data::throughput_pairs_in(b, kind, i))
        }
        _ => None,
    }
}

/// A seeded Fisher-Yates shuffle (Knuth, TAOCP vol. 2, §3.4.2, Algorithm P).
fn shuffle(values: &mut [f64], seed: u64) {
    use rand::rngs::Xoshiro256PlusPlus;
    use rand::{RngExt, SeedableRng};
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    for i in (1..values.len()).rev() {
        let j = rng.random_range(0..=i);
        values.swap(i, j);
    }
}

fn has_distribution(metric: Metric) -> bool {
    matches!(
        metric,
        Metric::Latency(..)
            | Metric::DecodeRate(_)
            | Metric::OutputTokensPerS
            | Metric::InputTokensPerS
            | Metric::RequestsPerS
    )
}

fn run_stat(
    b: &Bundle,
    k: usize,
    idx: &[usize],
    metric: Metric,
    cfg: &BootstrapConfig,
    point: ThroughputPoint,
) -> Option<RunStat> {
    match metric {
        Metric::Latency(kind @ (LatencyKind::Ttfb | LatencyKind::Itl), Stat::Percentile(p)) => {
            // Histogram values: no start order (module docs). Only the
            // bundle's whole histogram exists, so every run of a repeated
            // bundle shares it. The histogram hands them over sorted, which
            // the block-length rule would read as the strongest possible
            // dependence; a seeded shuffle makes their order carry none, so
            // the block bootstrap is the i.i.d. one it should be here.
            let mut values = data::latency_values_ms(b, kind);
            shuffle(&mut values, cfg.seed);
            stats::run_stat_quantile(&values, p / 100.0, cfg)
        }
        Metric::Latency(kind, Stat::Percentile(p)) => {
            let values = data::latency_values_in(b, kind, idx);
            stats::run_stat_quantile(&values, p / 100.0, cfg)
        }
        Metric::Latency(kind, Stat::Mean) => {
            let pairs = data::mean_pairs_in(b, Some(kind), idx);
            stats::run_stat_ratio(&pairs, cfg)
        }
        Metric::DecodeRate(Stat::Percentile(p)) => {
            stats::run_stat_quantile(&data::decode_rates_in(b, idx), p / 100.0, cfg)
        }
        Metric::DecodeRate(Stat::Mean) => {
            let pairs = data::mean_pairs_in(b, None, idx);
            stats::run_stat_ratio(&pairs, cfg)
        }
        Metric::OutputTokensPerS | Metric::InputTokensPerS | Metric::RequestsPerS => {
            let kind = match metric {
                Metric::OutputTokensPerS => ThroughputKind::OutputTokens,
                Metric::InputTokensPerS => ThroughputKind::InputTokens,
                _ => ThroughputKind::Requests,
            };
            // The bootstrap of Σnum/Σtime gives the run's relative
            // uncertainty; the point is the run's measured throughput (equal
            // in ratio at equal closed-loop load by Little's law, Little 1961)
            // or, for a shared window, Σnum/Σtime itself (ThroughputPoint).
            let pairs = data::throughput_pairs_in(b, kind, idx);
            let mut stat = stats::run_stat_ratio(&pairs, cfg)?;
            if point == ThroughputPoint::RequestTime {
                return Some(stat);
            }
            let measured = run_throughput(b, k, kind);
            (measured > 0.0 && measured.is_finite()).then(|| {
                stat.point = measured;
                stat
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::RepeatRun;

    use crate::test_support::committed_quickstart_run as committed_baseline;

    fn cfg() -> BootstrapConfig {
        BootstrapConfig {
            resamples: 200,
            level: 0.95,
            seed: 1,
        }
    }

    #[test]
    fn a_bundle_of_one_run_is_one_group_in_start_order() {
        let b = committed_baseline();
        let groups = run_indices(&b);
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].len(), b.samples.len());
        let starts: Vec<u64> = groups[0].iter().map(|&i| b.samples.start_us[i]).collect();
        assert!(starts.windows(2).all(|w| w[0] <= w[1]), "start order");
        let ttft: Metric = "ttft.p50".parse().expect("metric");
        let stats = run_stats(&b, ttft, &cfg());
        assert_eq!(stats.len(), 1);
        let s = stats[0].expect("an estimate");
        assert!((s.point / b.metrics.ttft_ms.p50.expect("p50") - 1.0).abs() < 0.05);
        let tok: Metric = "output_tokens_per_s".parse().expect("metric");
        assert_eq!(
            run_stats(&b, tok, &cfg())[0].expect("throughput").point,
            b.metrics.output_tokens_per_s,
            "throughput's point is the run's measured throughput"
        );
        assert!(run_stats(&b, Metric::ErrorRate, &cfg()).is_empty());
    }

    /// A candidate whose every TTFT is the baseline's × 1.3, in the same
    /// window: the paired comparison finds 1.3, and its interval is far
    /// narrower than the separate-sides model's, because request i of B
    /// moves with request i of A (here: exactly).
    #[test]
    fn the_paired_comparison_of_one_window_keeps_the_shared_noise_out() {
        let base = committed_baseline();
        let mut cand = base.clone();
        for t in cand.samples.ttft_us.iter_mut().flatten() {
            *t = (f64::from(*t) * 1.3).round() as u32;
        }
        let metric: Metric = "ttft.p50".parse().expect("metric");
        let dir = stats::Direction::HigherIsWorse;
        let c = paired_comparison(&base, &cand, metric, dir, &cfg(), 0.8).expect("paired");
        assert!((c.point - 1.3).abs() < 0.01, "{}", c.point);
        assert!(
            c.interval.lo <= 1.3 && 1.3 <= c.interval.hi,
            "{:?}",
            c.interval
        );
        let separate = |b: &Bundle| run_stats(b, metric, &cfg())[0].expect("estimate");
        let sep = stats::compare_runs(&[separate(&cand)], &[separate(&base)], None, dir, 0.95, 0.8)
            .expect("separate");
        assert!(
            c.interval.hi - c.interval.lo < (sep.interval.hi - sep.interval.lo) / 3.0,
            "paired {:?} vs separate {:?}",
            c.interval,
            sep.interval
        );
        // Histogram-valued quantiles have no start times: no paired path.
        let itl: Metric = "itl.p95".parse().expect("metric");
        assert!(paired_comparison(&base, &cand, itl, dir, &cfg(), 0.8).is_none());
    }

    #[test]
    fn a_repeated_bundle_splits_by_run_and_takes_each_runs_throughput() {
        let mut b = committed_baseline();
        let n = b.samples.len();
        b.samples.run = (0..n).map(|i| (i % 2) as u16).collect();
        b.repeats = vec![
            RepeatRun {
                output_tokens_per_s: 1000.0,
                ..RepeatRun::default()
            },
            RepeatRun {
                output_tokens_per_s: 1100.0,
                ..RepeatRun::default()
            },
        ];
        let groups = run_indices(&b);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].len() + groups[1].len(), n);
        assert!(groups[1].iter().all(|&i| i % 2 == 1));
        let tok: Metric = "output_tokens_per_s".parse().expect("metric");
        let stats = run_stats(&b, tok, &cfg());
        let points: Vec<f64> = stats.iter().map(|s| s.expect("estimate").point).collect();
        assert_eq!(points, [1000.0, 1100.0]);
        let p50: Metric = "ttft.p50".parse().expect("metric");
        let s = run_stats(&b, p50, &cfg());
        assert_ne!(s[0].map(|x| x.n), None);
        assert_eq!(
            s[0].map(|x| x.n).unwrap_or(0) + s[1].map(|x| x.n).unwrap_or(0),
            n
        );
    }
}
