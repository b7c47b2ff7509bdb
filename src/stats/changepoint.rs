//! Change points in a series of runs: E-divisive means (Matteson & James
//! 2014, "A Nonparametric Approach for Multiple Change Point Analysis of
//! Multivariate Data", JASA 109(505):334–345), the method behind MongoDB's
//! performance CI (Daly et al. 2020, "The Use of Change Point Detection to
//! Identify Software Performance Regressions in a Continuous Integration
//! System", ICPE) and Apache Otava.
//!
//! For a segment split at τ into X (m values) and Y (n values), the
//! divergence of their distributions is measured by the energy distance
//! (Matteson & James eq. 3, with exponent α ∈ (0, 2)):
//!
//! Ê(X, Y; α) = 2/(mn) Σᵢⱼ |Xᵢ − Yⱼ|^α − C(m,2)⁻¹ Σ_{i<k} |Xᵢ − X_k|^α
//!              − C(n,2)⁻¹ Σ_{j<k} |Yⱼ − Y_k|^α,
//!
//! scaled to Q̂ = mn/(m+n) · Ê (eq. 5). The best split of a segment maximises
//! Q̂. Change points are found one at a time (their §2.3, hierarchical
//! bisection): the segment whose best split has the largest Q̂ is split if a
//! permutation test says the split is significant — the observations are
//! permuted within each current segment, the largest Q̂ is recomputed, and
//! p = (#{Q̂* ≥ Q̂} + 1) / (R + 1) (their §3, after eq. 8). The split's right
//! end κ is fixed at the segment's end — the variant of MongoDB's and
//! Otava's detectors, a restriction of the paper's maximisation over κ —
//! which keeps each pass O(n²). The permutations stop as soon as the
//! p-value can no longer reach the significance level (the answer is then
//! the same as after all R).
//!
//! Pure function of the series and the seed: the same input and seed give
//! the same change points.

use super::rng::Xoshiro256;

/// Settings of [`e_divisive`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EDivisive {
    /// The distance exponent α ∈ (0, 2); 1 is the paper's default.
    pub alpha: f64,
    /// The largest permutation p-value that accepts a change point.
    pub significance: f64,
    /// Permutations per test (R); the smallest p-value is 1/(R + 1).
    pub permutations: u32,
    /// The fewest values on either side of a change point (at least 2, so
    /// each side has a within-distance).
    pub min_size: usize,
    /// At most this many change points.
    pub max_change_points: usize,
    pub seed: u64,
}

impl Default for EDivisive {
    fn default() -> Self {
        EDivisive {
            alpha: 1.0,
            significance: 0.01,
            permutations: 499,
            min_size: 3,
            max_change_points: 10,
            seed: 0x7e57_c4a9_e001,
        }
    }
}

/// One change point: the series shifts between `index - 1` and `index`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChangePoint {
    /// The first index of the new segment.
    pub index: usize,
    /// Q̂ of the split.
    pub statistic: f64,
    /// The permutation test's p-value.
    pub p_value: f64,
}

/// The change points of `series` (sorted by index). Fewer than
/// 2 × `min_size` finite values, or a non-finite value anywhere: none (a run
/// without the measure is left out by the caller, not imputed).
pub fn e_divisive(series: &[f64], cfg: &EDivisive) -> Vec<ChangePoint> {
    let min_size = cfg.min_size.max(2);
    if series.len() < 2 * min_size || series.iter().any(|v| !v.is_finite()) {
        return Vec::new();
    }
    let alpha = cfg.alpha.clamp(1e-3, 1.999);
    // Segment boundaries: [bounds[i], bounds[i+1]).
    let mut bounds = vec![0, series.len()];
    let mut found = Vec::new();
    let mut test_index = 0u64;
    while found.len() < cfg.max_change_points {
        let Some((seg, tau, q)) = best_of_segments(series, &bounds, alpha, min_size) else {
            break;
        };
        // Permutation test over the current segmentation.
        let mut at_least = 0u32;
        let mut work = series.to_vec();
        for r in 0..cfg.permutations {
            let mut rng = Xoshiro256::for_stream(cfg.seed ^ test_index, u64::from(r));
            for w in bounds.windows(2) {
                shuffle(&mut work[w[0]..w[1]], &mut rng);
            }
            let q_perm =
                best_of_segments(&work, &bounds, alpha, min_size).map_or(0.0, |(_, _, q)| q);
            if q_perm >= q {
                at_least += 1;
                // p ≥ (at_least + 1)/(R + 1) whatever the rest give.
                if f64::from(at_least + 1) / f64::from(cfg.permutations + 1) > cfg.significance {
                    break;
                }
            }
            work.copy_from_slice(series);
        }
        test_index += 1;
        let p_value = f64::from(at_least + 1) / f64::from(cfg.permutations + 1);
        if p_value > cfg.significance {
            break;
        }
        found.push(ChangePoint {
            index: tau,
            statistic: q,
            p_value,
        });
        bounds.insert(seg + 1, tau);
    }
    found.sort_by_key(|c| c.index);
    found
}

/// Fisher–Yates shuffle.
fn shuffle(v: &mut [f64], rng: &mut Xoshiro256) {
    for i in (1..v.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        v.swap(i, j);
    }
}

/// The segment (its position in `bounds`), split and Q̂ of the best split
/// over all segments; `None` when no segment can be split.
fn best_of_segments(
    z: &[f64],
    bounds: &[usize],
    alpha: f64,
    min_size: usize,
) -> Option<(usize, usize, f64)> {
    bounds
        .windows(2)
        .enumerate()
        .filter_map(|(i, w)| {
            best_split(&z[w[0]..w[1]], alpha, min_size).map(|(t, q)| (i, w[0] + t, q))
        })
        .max_by(|a, b| a.2.total_cmp(&b.2))
}

/// The split τ (index into `seg`) maximising Q̂, and Q̂; O(n²).
fn best_split(seg: &[f64], alpha: f64, min_size: usize) -> Option<(usize, f64)> {
    let n = seg.len();
    if n < 2 * min_size {
        return None;
    }
    let d = |i: usize, j: usize| (seg[i] - seg[j]).abs().powf(alpha);
    // Start with X = seg[..min_size], Y = the rest.
    let t0 = min_size;
    let mut within_left = 0.0;
    for i in 0..t0 {
        for k in i + 1..t0 {
            within_left += d(i, k);
        }
    }
    let mut within_right = 0.0;
    for j in t0..n {
        for k in j + 1..n {
            within_right += d(j, k);
        }
    }
    let mut between = 0.0;
    for i in 0..t0 {
        for j in t0..n {
            between += d(i, j);
        }
    }
    let mut best: Option<(usize, f64)> = None;
    let mut tau = t0;
    loop {
        let (m, r) = (tau as f64, (n - tau) as f64);
        let e = 2.0 * between / (m * r)
            - within_left / (m * (m - 1.0) / 2.0)
            - within_right / (r * (r - 1.0) / 2.0);
        let q = m * r / (m + r) * e;
        if best.is_none_or(|(_, b)| q > b) {
            best = Some((tau, q));
        }
        if tau + 1 > n - min_size {
            break;
        }
        // Move seg[tau] from Y to X.
        let to_left: f64 = (0..tau).map(|i| d(i, tau)).sum();
        let to_right: f64 = (tau + 1..n).map(|j| d(tau, j)).sum();
        within_left += to_left;
        within_right -= to_right;
        between += to_right - to_left;
        tau += 1;
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seeded noise of relative size `cv` around `level`.
    fn noisy(level: f64, cv: f64, n: usize, seed: u64) -> Vec<f64> {
        (0..n)
            .map(|i| {
                let mut rng = Xoshiro256::for_stream(seed, i as u64);
                // Uniform on ±√3·cv: standard deviation cv.
                let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                level * (1.0 + cv * 3f64.sqrt() * (2.0 * u - 1.0))
            })
            .collect()
    }

    #[test]
    fn one_planted_step_is_found_where_it_is() {
        let mut z = noisy(100.0, 0.03, 12, 1);
        z.extend(noisy(115.0, 0.03, 10, 2));
        let cps = e_divisive(&z, &EDivisive::default());
        assert_eq!(cps.len(), 1, "{cps:?}");
        assert_eq!(cps[0].index, 12);
        assert!(cps[0].p_value <= 0.01);
    }

    #[test]
    fn noise_alone_has_no_change_point() {
        for seed in 0..20 {
            let z = noisy(100.0, 0.05, 30, 100 + seed);
            let cps = e_divisive(&z, &EDivisive::default());
            assert!(cps.is_empty(), "seed {seed}: {cps:?}");
        }
    }

    #[test]
    fn two_steps_are_both_found() {
        let mut z = noisy(50.0, 0.02, 10, 3);
        z.extend(noisy(60.0, 0.02, 10, 4));
        z.extend(noisy(45.0, 0.02, 10, 5));
        let cps = e_divisive(&z, &EDivisive::default());
        let at: Vec<usize> = cps.iter().map(|c| c.index).collect();
        assert_eq!(at, [10, 20]);
    }

    #[test]
    fn a_statistic_of_a_known_split_matches_the_formula() {
        // X = [0, 0, 0], Y = [1, 1, 1], α = 1: between sum 9, within 0, so
        // Ê = 2·9/9 = 2 and Q̂ = 9/6 · 2 = 3.
        let (tau, q) = best_split(&[0.0, 0.0, 0.0, 1.0, 1.0, 1.0], 1.0, 2).expect("split");
        assert_eq!(tau, 3);
        assert!((q - 3.0).abs() < 1e-12, "{q}");
    }

    /// Q̂ by eq. 3 and 5 written out, for every split, against the
    /// incremental sums of `best_split` on random data.
    #[test]
    fn the_incremental_statistic_equals_the_formula_at_every_split() {
        let z = noisy(10.0, 0.3, 17, 11);
        let alpha = 1.3;
        let q_at = |tau: usize| {
            let (x, y) = z.split_at(tau);
            let (m, n) = (x.len() as f64, y.len() as f64);
            let d = |a: f64, b: f64| (a - b).abs().powf(alpha);
            let between: f64 = x
                .iter()
                .flat_map(|&a| y.iter().map(move |&b| d(a, b)))
                .sum();
            let within = |v: &[f64]| {
                let mut s = 0.0;
                for i in 0..v.len() {
                    for k in i + 1..v.len() {
                        s += d(v[i], v[k]);
                    }
                }
                s
            };
            let e = 2.0 * between / (m * n)
                - within(x) / (m * (m - 1.0) / 2.0)
                - within(y) / (n * (n - 1.0) / 2.0);
            m * n / (m + n) * e
        };
        let (best_tau, best_q) = (3..=14)
            .map(|t| (t, q_at(t)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .expect("splits");
        let (tau, q) = best_split(&z, alpha, 3).expect("split");
        assert_eq!(tau, best_tau);
        assert!(
            (q - best_q).abs() < 1e-9 * best_q.abs().max(1.0),
            "{q} vs {best_q}"
        );
    }

    #[test]
    fn short_or_broken_series_have_none() {
        assert!(e_divisive(&[1.0, 2.0, 3.0], &EDivisive::default()).is_empty());
        let mut z = noisy(1.0, 0.01, 10, 9);
        z[3] = f64::NAN;
        assert!(e_divisive(&z, &EDivisive::default()).is_empty());
    }

    #[test]
    fn the_same_seed_gives_the_same_answer() {
        let mut z = noisy(10.0, 0.05, 15, 7);
        z.extend(noisy(12.0, 0.05, 15, 8));
        let cfg = EDivisive::default();
        assert_eq!(e_divisive(&z, &cfg), e_divisive(&z, &cfg));
    }
}
