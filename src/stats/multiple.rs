//! Multiple-testing control across the rules of one gate.

/// Benjamini & Hochberg (1995) step-up: adjusted p-values (same order as
/// input), monotone, capped at 1.
///
/// Benjamini & Hochberg (1995), "Controlling the false discovery rate",
/// *JRSS B* 57(1), §3; adjusted values as in Wright (1992), *Biometrics*
/// 48(4): with p₍₁₎ ≤ … ≤ p₍ₘ₎, p̃₍ᵢ₎ = min_{j ≥ i} min(1, m·p₍ⱼ₎ / j). Rejecting
/// every rule with p̃ ≤ q controls the false discovery rate at q. Matches
/// `scipy.stats.false_discovery_control(p, method="bh")`. A NaN p-value is
/// treated as 1 (no evidence).
pub fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let clean = |v: f64| if v.is_nan() { 1.0 } else { v.clamp(0.0, 1.0) };
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| clean(p[a]).total_cmp(&clean(p[b])));
    let mut adjusted = vec![1.0; m];
    let mut running_min = 1.0_f64;
    for (rank0, &idx) in order.iter().enumerate().rev() {
        let scaled = clean(p[idx]) * m as f64 / (rank0 + 1) as f64;
        running_min = running_min.min(scaled);
        adjusted[idx] = running_min;
    }
    adjusted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bh_matches_scipy_false_discovery_control() {
        // `scipy.stats.false_discovery_control([0.01, 0.04, 0.03, 0.2, 0.005, 0.5, 0.049], method='bh')`
        // (SciPy 1.17.1)
        let p = [0.01, 0.04, 0.03, 0.2, 0.005, 0.5, 0.049];
        let want = [
            0.035,
            0.0686,
            0.0686,
            0.23333333333333336,
            0.035,
            0.5,
            0.0686,
        ];
        let got = benjamini_hochberg(&p);
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-15, "got {got:?}");
        }
    }

    #[test]
    fn bh_caps_at_one_and_handles_edges() {
        assert!(benjamini_hochberg(&[]).is_empty());
        assert_eq!(benjamini_hochberg(&[0.7]), vec![0.7]);
        assert_eq!(
            benjamini_hochberg(&[0.9, 0.95, f64::NAN]),
            vec![1.0, 1.0, 1.0]
        );
    }
}
