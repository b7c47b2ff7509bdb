//! Times the gate's statistics at the size the performance goal names: four
//! quantile rules on a 10,000-request candidate against a five-run baseline
//! (5 × 10,000) with 10,000 bootstrap resamples, plus one ratio-of-sums rule;
//! then the noise model: the within-run block bootstrap per run at n = 200
//! and n = 10,000 with 2,000 resamples, the paired bootstrap, and a gate of
//! four rules (p50/p95/p99 TTFT, output tok/s) on 1 + 5 runs of 10,000.
//! Run with `cargo bench --bench stats`; prints wall-clock and process CPU
//! times.

use std::time::Instant;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, LogNormal};
use tokengate::runinfo::process_cpu;
use tokengate::stats::{
    BootstrapConfig, Direction, RunStat, bootstrap_quantile, bootstrap_quantile_ratio,
    bootstrap_ratio_of_sums, compare_runs, harrell_davis, paired_quantile, paired_ratio_of_sums,
    run_stat_quantile, run_stat_ratio,
};

fn lognormal(n: usize, median: f64, sigma: f64, seed: u64) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let dist = LogNormal::new(median.ln(), sigma).expect("valid log-normal parameters");
    (0..n).map(|_| dist.sample(&mut rng)).collect()
}

fn main() {
    let n = 10_000;
    let candidate = lognormal(n, 250.0, 0.4, 1);
    let runs: Vec<Vec<f64>> = (0..5).map(|i| lognormal(n, 250.0, 0.4, 10 + i)).collect();
    let baseline: Vec<&[f64]> = runs.iter().map(Vec::as_slice).collect();
    let cfg = BootstrapConfig {
        resamples: 10_000,
        level: 0.95,
        seed: 1,
    };

    let mut sorted = candidate.clone();
    sorted.sort_by(f64::total_cmp);
    let start = Instant::now();
    let hd = harrell_davis(&sorted, 0.95).expect("non-empty");
    println!(
        "harrell_davis n=10000 p=0.95: {:.2} ms ({hd:.3})",
        ms(start)
    );

    let start = Instant::now();
    for p in [0.5, 0.9, 0.95, 0.99] {
        let t = Instant::now();
        let est =
            bootstrap_quantile_ratio(&candidate, &baseline, p, Direction::HigherIsWorse, &cfg)
                .expect("valid samples");
        println!(
            "  p{:<4} ratio {:.4} [{:.4}, {:.4}] p_worse {:.4}: {:.1} ms",
            p * 100.0,
            est.point,
            est.interval.lo,
            est.interval.hi,
            est.p_worse,
            ms(t)
        );
    }
    println!(
        "4 quantile-ratio rules, candidate 10,000 vs baseline 5 x 10,000, 10,000 resamples: {:.1} ms",
        ms(start)
    );

    let start = Instant::now();
    let (point, iv) = bootstrap_quantile(&candidate, 0.95, &cfg).expect("valid sample");
    println!(
        "bootstrap_quantile p95 n=10,000, 10,000 resamples: {point:.2} [{:.2}, {:.2}] {:.1} ms",
        iv.lo,
        iv.hi,
        ms(start)
    );

    let pairs = |xs: &[f64]| -> Vec<(f64, f64)> { xs.iter().map(|t| (256.0, *t)).collect() };
    let cand_pairs = pairs(&candidate);
    let run_pairs: Vec<Vec<(f64, f64)>> = runs.iter().map(|r| pairs(r)).collect();
    let base_pairs: Vec<&[(f64, f64)]> = run_pairs.iter().map(Vec::as_slice).collect();
    let start = Instant::now();
    let est = bootstrap_ratio_of_sums(&cand_pairs, &base_pairs, Direction::LowerIsWorse, &cfg)
        .expect("valid samples");
    println!(
        "ratio of sums, 10,000 vs 5 x 10,000, 10,000 resamples: {:.4} [{:.4}, {:.4}] {:.1} ms",
        est.point,
        est.interval.lo,
        est.interval.hi,
        ms(start)
    );

    noise_model();
}

/// Latencies in start order with host stalls: about one request in a
/// hundred starts a stall that adds 150 ms to it and the next 15 (the
/// requests in flight at concurrency 16), so the block lengths are those of
/// a noisy runner rather than of independent values.
fn stalled(n: usize, seed: u64) -> Vec<f64> {
    let mut x = lognormal(n, 50.0, 0.25, seed);
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    let mut i = 0;
    while i < n {
        if rng.random_range(0..100) == 0 {
            for v in &mut x[i..(i + 16).min(n)] {
                *v += 150.0;
            }
            i += 16;
        } else {
            i += 1;
        }
    }
    x
}

fn noise_model() {
    let cfg = BootstrapConfig {
        resamples: 2_000,
        level: 0.95,
        seed: 1,
    };
    for n in [200, 10_000] {
        let x = stalled(n, 3);
        let pairs: Vec<(f64, f64)> = x.iter().map(|t| (64.0, (t + 640.0) / 1e3)).collect();
        for p in [0.5, 0.95] {
            let reps = if n == 200 { 20 } else { 3 };
            let start = Instant::now();
            let mut s = None;
            for _ in 0..reps {
                s = run_stat_quantile(&x, p, &cfg);
            }
            let s = s.expect("valid run");
            println!(
                "run_stat_quantile p{} n={n}, 2,000 resamples: b {:.1}, sd(log) {:.4}, df {:.1}: {:.2} ms",
                p * 100.0,
                s.block_len,
                s.log_var.sqrt(),
                s.var_df,
                ms(start) / f64::from(reps)
            );
        }
        let reps = if n == 200 { 20 } else { 3 };
        let start = Instant::now();
        let mut s = None;
        for _ in 0..reps {
            s = run_stat_ratio(&pairs, &cfg);
        }
        let s = s.expect("valid run");
        println!(
            "run_stat_ratio n={n}, 2,000 resamples: b {:.1}, sd(log) {:.4}: {:.2} ms",
            s.block_len,
            s.log_var.sqrt(),
            ms(start) / f64::from(reps)
        );
    }

    // Interleaved A/B, 10,000 requests a side.
    let a: Vec<(f64, f64)> = stalled(10_000, 5)
        .into_iter()
        .enumerate()
        .map(|(i, v)| (2.0 * i as f64, v))
        .collect();
    let b: Vec<(f64, f64)> = stalled(10_000, 6)
        .into_iter()
        .enumerate()
        .map(|(i, v)| (2.0 * i as f64 + 1.0, v))
        .collect();
    let start = Instant::now();
    let c = paired_quantile(&a, &b, 0.95, Direction::HigherIsWorse, &cfg, 0.8).expect("valid");
    println!(
        "paired_quantile p95, 10,000 + 10,000, 2,000 resamples: {:.4} [{:.4}, {:.4}] {:.1} ms",
        c.point,
        c.interval.lo,
        c.interval.hi,
        ms(start)
    );
    let tput = |v: &[(f64, f64)]| -> Vec<(f64, f64, f64)> {
        v.iter()
            .map(|&(t, x)| (t, 64.0, (x + 640.0) / 1e3))
            .collect()
    };
    let start = Instant::now();
    let c = paired_ratio_of_sums(&tput(&a), &tput(&b), Direction::LowerIsWorse, &cfg, 0.8)
        .expect("valid");
    println!(
        "paired_ratio_of_sums, 10,000 + 10,000, 2,000 resamples: {:.4} [{:.4}, {:.4}] {:.1} ms",
        c.point,
        c.interval.lo,
        c.interval.hi,
        ms(start)
    );

    // A gate of four rules on 1 candidate + 5 baseline runs of 10,000.
    let runs: Vec<Vec<f64>> = (0..6).map(|i| stalled(10_000, 20 + i)).collect();
    let wall = Instant::now();
    let cpu = process_cpu();
    for rule in ["p50", "p95", "p99", "tok/s"] {
        let t = Instant::now();
        let stats: Vec<RunStat> = runs
            .iter()
            .enumerate()
            .map(|(i, x)| {
                let c = BootstrapConfig {
                    seed: i as u64,
                    ..cfg
                };
                match rule {
                    "p50" => run_stat_quantile(x, 0.5, &c),
                    "p95" => run_stat_quantile(x, 0.95, &c),
                    "p99" => run_stat_quantile(x, 0.99, &c),
                    _ => {
                        let pairs: Vec<(f64, f64)> =
                            x.iter().map(|t| (64.0, (t + 640.0) / 1e3)).collect();
                        run_stat_ratio(&pairs, &c)
                    }
                }
                .expect("valid run")
            })
            .collect();
        let dir = if rule == "tok/s" {
            Direction::LowerIsWorse
        } else {
            Direction::HigherIsWorse
        };
        let c = compare_runs(&stats[..1], &stats[1..], None, dir, 0.95, 0.8).expect("valid");
        println!(
            "  {rule}: ratio {:.4} [{:.4}, {:.4}] df {:.1}: {:.1} ms",
            c.point,
            c.interval.lo,
            c.interval.hi,
            c.df,
            ms(t)
        );
    }
    let (user, system) = process_cpu();
    let cpu_s = (user + system).saturating_sub(cpu.0 + cpu.1).as_secs_f64();
    println!(
        "noise-model gate, 4 rules x (1 + 5) runs of 10,000, 2,000 resamples: {:.1} ms wall, {cpu_s:.2} s CPU",
        ms(wall)
    );
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}
