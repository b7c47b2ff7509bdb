//! Times the gate's statistics at the size the performance goal names: four
//! quantile rules on a 10,000-request candidate against a five-run baseline
//! (5 × 10,000) with 10,000 bootstrap resamples, plus one ratio-of-sums rule.
//! Run with `cargo bench --bench stats`; prints wall-clock times.

use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, LogNormal};
use tokengate::stats::{
    BootstrapConfig, Direction, bootstrap_quantile, bootstrap_quantile_ratio,
    bootstrap_ratio_of_sums, harrell_davis,
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
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}
