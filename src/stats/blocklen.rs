//! Automatic block length for the block bootstraps: Politis & White (2004),
//! "Automatic block-length selection for the dependent bootstrap",
//! *Econometric Reviews* 23(1), 53–70, with the correction of Patton,
//! Politis & White (2009), *Econometric Reviews* 28(4), 372–375.
//!
//! The block length that minimises the mean squared error of the block
//! bootstrap's estimate of the long-run variance of a series is
//! b_opt = (2G² / D)^{1/3} · n^{1/3} (PW 2004, eq. 6 and Theorem 3.1), with
//! G = Σ_k |k|·R(k) and D_SB = 2g(0)² for the stationary bootstrap,
//! D_CB = (4/3)·g(0)² for the circular block bootstrap (the constants as
//! corrected by PPW 2009), g(0) = Σ_k R(k) the spectral density at zero
//! (times 2π) and R the autocovariance. G and g(0) are estimated with the
//! flat-top lag window of Politis & Romano (1995), "Bias-corrected
//! nonparametric spectral estimation", *J. Time Series Anal.* 16(1):
//! λ(t) = 1 for |t| ≤ ½, 2(1 − |t|) for ½ < |t| ≤ 1, 0 beyond, at bandwidth
//! M = 2m̂, where m̂ comes from the empirical rule of Politis (2003),
//! "Adaptive bandwidth choice", *J. Nonparametric Statistics* 15(4–5):
//! the first lag after which K_N consecutive sample autocorrelations are
//! all inside ±c·√(log₁₀ n / n).
//!
//! # Tuning, and the reference we check against
//! c = 2, K_N = max(5, ⌊log₁₀ n⌋), m̂ ≥ 1, M ≤ m_max = ⌈√n⌉ + K_N and the
//! cap b ≤ ⌈min(3√n, n/3)⌉ are the settings of the `arch` Python package
//! (`arch.bootstrap.optimal_block_length`, version 8.0.0), whose tuning
//! follows Andrew Patton's MATLAB program for PPW (2009). As there, the K_N
//! autocorrelations that must be insignificant are those at lags
//! m̂, …, m̂ + K_N − 1, and when no such run exists M = m_max. One
//! deliberate difference: the autocorrelation is the textbook
//! ρ̂(k) = R̂(k)/R̂(0) (PW 2004 §3.2), where arch divides R̂(k) by the
//! norms of two segments shifted by one more lag; the two give the same m̂
//! except when an autocorrelation lies within a hair of the band's edge,
//! and then the block lengths differ (the unit tests use series where they
//! agree, and check the result to 1e-12 against arch's numbers).
//!
//! The raw estimates can be below 1 (a white-noise series has G ≈ 0); the
//! bootstraps use max(b, 1), i.e. the ordinary bootstrap.

/// The estimated optimal block lengths of one series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlockLength {
    /// Expected block length for the stationary bootstrap (Politis &
    /// Romano 1994), b̂_SB, capped at `cap`; may be below 1.
    pub stationary: f64,
    /// Block length for the circular block bootstrap (Politis & Romano
    /// 1992), b̂_CB, capped at `cap`; real-valued (round it up to use it).
    pub circular: f64,
    /// The flat-top window's bandwidth M = 2m̂ (≤ m_max).
    pub bandwidth: usize,
    /// The paper's bound ⌈min(3√n, n/3)⌉ that both estimates are capped at.
    pub cap: f64,
}

/// c in the band ±c·√(log₁₀ n / n) (PW 2004 §3.2, "c = 2").
const BAND_C: f64 = 2.0;

/// Politis–White block lengths of `x` (in time order). None when there are
/// fewer than 3 values, a value is not finite, or the series is constant.
///
/// O(n·m_max) = O(n^{3/2}) time: about 1.2 million multiply-adds at
/// n = 10,000.
pub fn optimal_block_length(x: &[f64]) -> Option<BlockLength> {
    let n = x.len();
    if n < 3 || !x.iter().all(|v| v.is_finite()) {
        return None;
    }
    let nf = n as f64;
    let mean = x.iter().sum::<f64>() / nf;
    let eps: Vec<f64> = x.iter().map(|v| v - mean).collect();
    let k_n = 5usize.max(nf.log10().floor() as usize);
    let m_max = (nf.sqrt().ceil() as usize + k_n).min(n - 1);
    let cap = (3.0 * nf.sqrt()).min(nf / 3.0).ceil();
    // R̂(k) = n⁻¹ Σ_{i=1}^{n−k} ε_i ε_{i+k} (PW 2004 §3.2), k = 0..=m_max.
    let acv: Vec<f64> = (0..=m_max)
        .map(|k| {
            eps[..n - k]
                .iter()
                .zip(&eps[k..])
                .map(|(a, b)| a * b)
                .sum::<f64>()
                / nf
        })
        .collect();
    if acv[0] <= 0.0 {
        return None;
    }
    let band = BAND_C * (nf.log10() / nf).sqrt();
    let insignificant: Vec<bool> = acv.iter().map(|r| (r / acv[0]).abs() < band).collect();
    // First m ≥ 1 with lags m .. m + K_N − 1 all insignificant, looking only
    // at windows that end before m_max (as arch does).
    let m_hat =
        (1..m_max.saturating_sub(k_n) + 1).find(|&m| insignificant[m..m + k_n].iter().all(|&b| b));
    let bandwidth = m_hat.map_or(m_max, |m| (2 * m).min(m_max));
    let (mut g_hat, mut long_run) = (0.0, acv[0]);
    let mf = bandwidth as f64;
    for (k, r) in acv.iter().enumerate().take(bandwidth + 1).skip(1) {
        let t = k as f64 / mf;
        let lambda = if t <= 0.5 { 1.0 } else { 2.0 * (1.0 - t) };
        // Both ±k terms of the symmetric sums.
        g_hat += 2.0 * lambda * k as f64 * r;
        long_run += 2.0 * lambda * r;
    }
    let d_sb = 2.0 * long_run * long_run;
    let d_cb = 4.0 / 3.0 * long_run * long_run;
    let b = |d: f64| {
        let v = (2.0 * g_hat * g_hat / d).cbrt() * nf.cbrt();
        if v.is_finite() { v.min(cap) } else { cap }
    };
    Some(BlockLength {
        stationary: b(d_sb),
        circular: b(d_cb),
        bandwidth,
        cap,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::rng::mix64;

    /// Standard normals from SplitMix64 by Box–Muller, so that the Python
    /// script that produced the reference numbers can rebuild the series
    /// exactly: state += 0x9E3779B97F4A7C15, z = mix64(state),
    /// u₁ = ((z₁ >> 11) + ½)·2⁻⁵³, u₂ = (z₂ >> 11)·2⁻⁵³,
    /// x = √(−2 ln u₁)·cos(2π u₂).
    fn normals(n: usize, seed: u64) -> Vec<f64> {
        let mut state = seed;
        let mut next = || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            mix64(state)
        };
        (0..n)
            .map(|_| {
                let u1 = ((next() >> 11) as f64 + 0.5) * 2f64.powi(-53);
                let u2 = (next() >> 11) as f64 * 2f64.powi(-53);
                (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
            })
            .collect()
    }

    fn ar1(phi: f64, n: usize, seed: u64) -> Vec<f64> {
        let mut prev = 0.0;
        normals(n, seed)
            .into_iter()
            .map(|e| {
                prev = phi * prev + e;
                prev
            })
            .collect()
    }

    /// 200 log-normal latencies around 50 ms with three stalls that add
    /// 300 ms to 16 consecutive requests each.
    fn stalls() -> Vec<f64> {
        let mut x: Vec<f64> = normals(200, 4)
            .into_iter()
            .map(|z| 50.0 * (0.2 * z).exp())
            .collect();
        for start in [20, 75, 140] {
            for v in &mut x[start..start + 16] {
                *v += 300.0;
            }
        }
        x
    }

    /// Reference: `arch.bootstrap.optimal_block_length(np.array(x))`,
    /// columns `stationary` and `circular`, with arch 8.0.0 (NumPy 2.4.6,
    /// Python 3.11) on the same series rebuilt in Python from the recipe of
    /// [`normals`].
    #[test]
    fn block_lengths_match_arch() {
        let stall = stalls();
        let indicator: Vec<f64> = stall
            .iter()
            .map(|&v| if v <= 100.0 { 1.0 } else { 0.0 })
            .collect();
        let cases: [(&str, Vec<f64>, f64, f64); 6] = [
            (
                "white noise, n = 500",
                normals(500, 1),
                1.3988630497156118,
                1.6012984563910504,
            ),
            (
                "AR(1) 0.5, n = 500",
                ar1(0.5, 500, 2),
                8.702377548241012,
                9.961735523547832,
            ),
            (
                "AR(1) 0.9, n = 1000",
                ar1(0.9, 1000, 3),
                25.41263364573775,
                29.090203675066,
            ),
            (
                "stall clusters",
                stall,
                10.826387431605074,
                12.393119888358715,
            ),
            (
                "stall indicator 1{x <= 100}",
                indicator,
                10.84003496961289,
                12.40874241949205,
            ),
            (
                "AR(1) 0.3, n = 60",
                ar1(0.3, 60, 5),
                0.9641446714357373,
                1.1036701372743911,
            ),
        ];
        for (name, x, sb, cb) in cases {
            let b = optimal_block_length(&x).expect("valid series");
            let close = |got: f64, want: f64| (got - want).abs() <= 1e-12 * want;
            assert!(close(b.stationary, sb), "{name}: {b:?}, want SB {sb}");
            assert!(close(b.circular, cb), "{name}: {b:?}, want CB {cb}");
        }
    }

    #[test]
    fn stronger_dependence_gives_longer_blocks_up_to_the_cap() {
        let b = |phi: f64| {
            optimal_block_length(&ar1(phi, 400, 9))
                .expect("valid")
                .stationary
        };
        assert!(
            b(0.0) < b(0.5) && b(0.5) < b(0.9),
            "{} {} {}",
            b(0.0),
            b(0.5),
            b(0.9)
        );
        // Differenced white noise has a long-run variance near 0, so G²/D
        // explodes and the estimate stops at the cap ⌈min(3√n, n/3)⌉ = 60
        // (arch 8.0.0 gives 60 for both on this series too).
        let e = normals(401, 6);
        let diff: Vec<f64> = e.windows(2).map(|w| w[1] - w[0]).collect();
        let b = optimal_block_length(&diff).expect("valid");
        assert_eq!(b.cap, 60.0);
        assert_eq!((b.stationary, b.circular), (60.0, 60.0));
    }

    #[test]
    fn degenerate_series_give_none() {
        assert!(optimal_block_length(&[1.0, 2.0]).is_none());
        assert!(optimal_block_length(&[3.0; 50]).is_none());
        assert!(optimal_block_length(&[1.0, f64::NAN, 2.0, 3.0]).is_none());
    }
}
