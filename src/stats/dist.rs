//! Distribution functions the estimators share: the standard normal
//! quantile and Student's t distribution (CDF and quantile, at real degrees
//! of freedom as Welch–Satterthwaite produces them). Kept apart so that the
//! result types (`estimate`) and the rate tests (`rates`) can both use them
//! without depending on each other.

use statrs::function::erf::erfc_inv;

use super::beta::{beta_quantile, beta_tails};

/// Standard normal quantile Φ⁻¹(q) = −√2·erfc⁻¹(2q) (DLMF 7.17.2 with
/// Φ(x) = erfc(−x/√2)/2, DLMF 7.2.2), for q in (0, 1).
pub(crate) fn normal_quantile(q: f64) -> f64 {
    -std::f64::consts::SQRT_2 * erfc_inv(2.0 * q)
}

/// Beyond this many degrees of freedom t and the normal agree to ~1e-10
/// at the quantiles used here (the leading term of the difference is
/// (z³ + z)/(4ν), Abramowitz & Stegun 26.7.5), and the continued fraction
/// of the incomplete beta would need ~√ν terms.
const NORMAL_DF: f64 = 1e10;

/// P(T ≤ t) for Student's t with `df` degrees of freedom (any real df > 0;
/// `f64::INFINITY` gives the normal). NaN for df ≤ 0 or NaN input.
///
/// Abramowitz & Stegun (1964) 26.7.1 with 26.5.27 (DLMF 8.17.5): for t < 0,
/// P(T ≤ t) = ½·I_x(ν/2, ½) with x = ν/(ν + t²); equivalently the central
/// part P(|T| ≤ |t|) = I_y(½, ν/2) with y = t²/(ν + t²). Both x and y are
/// formed directly (not as 1 − the other), and the form whose argument is
/// the smaller is used, so neither tail loses precision to cancellation.
pub(crate) fn student_t_cdf(t: f64, df: f64) -> f64 {
    if t.is_nan() || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if df > NORMAL_DF {
        return 0.5 * statrs::function::erf::erfc(-t / std::f64::consts::SQRT_2);
    }
    if t.is_infinite() {
        return if t > 0.0 { 1.0 } else { 0.0 };
    }
    let t2 = t * t;
    // The lower tail below −|t|.
    let tail = if t2 < df {
        0.5 * beta_tails(0.5, df / 2.0, t2 / (df + t2)).upper
    } else {
        0.5 * beta_tails(df / 2.0, 0.5, df / (df + t2)).lower
    };
    if t > 0.0 { 1.0 - tail } else { tail }
}

/// The q-quantile of Student's t with `df` degrees of freedom (real df > 0;
/// `f64::INFINITY` gives the normal). NaN for q outside (0, 1) or df ≤ 0.
///
/// Inverts the relation of [`student_t_cdf`]: for a lower tail a = min(q,
/// 1 − q), x = I⁻¹_{2a}(ν/2, ½) gives |t| = √(ν(1 − x)/x); when that x is
/// above ½ the central form y = I⁻¹_{1−2a}(½, ν/2), |t| = √(ν·y/(1 − y)),
/// is used instead so that small |t| keep their precision.
pub(crate) fn student_t_quantile(q: f64, df: f64) -> f64 {
    if !(q > 0.0 && q < 1.0) || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if df > NORMAL_DF {
        return normal_quantile(q);
    }
    let a = q.min(1.0 - q);
    let x = beta_quantile(df / 2.0, 0.5, 2.0 * a);
    let abs_t = if x > 0.5 {
        let y = beta_quantile(0.5, df / 2.0, 1.0 - 2.0 * a);
        (df * y / (1.0 - y)).sqrt()
    } else {
        (df * (1.0 - x) / x).sqrt()
    };
    if q < 0.5 { -abs_t } else { abs_t }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(got: f64, want: f64, rel: f64) {
        assert!(
            (got - want).abs() <= rel * want.abs(),
            "got {got:e}, want {want:e}"
        );
    }

    #[test]
    fn student_t_cdf_matches_scipy() {
        // `scipy.stats.t.cdf(x, df)` (SciPy 1.17.1)
        let cases = [
            (1.0, -3.0, 0.10241638234956672),
            (2.5, 1.2, 0.8342805811670612),
            (4.0, 2.776_445_105_197_798_7, 0.9750000000000001),
            (30.0, -0.5, 0.3103615024425636),
            (1e4, 0.001, 0.5003989322404737),
            (1e6, 1.96, 0.9750019662073651),
            (7.3, -12.0, 2.277892614785275e-06),
        ];
        for (df, x, want) in cases {
            close(student_t_cdf(x, df), want, 1e-10);
        }
        close(
            student_t_cdf(1.96, f64::INFINITY),
            0.9750021048517795,
            1e-11,
        );
        assert!(student_t_cdf(1.0, 0.0).is_nan());
    }

    #[test]
    fn student_t_quantile_matches_scipy() {
        // `scipy.stats.t.ppf(q, df)` (SciPy 1.17.1)
        let cases = [
            (1.0, 0.975, 12.706204736174694),
            (2.0, 0.975, 4.302652729749462),
            (4.0, 0.975, 2.7764451051977934),
            (2.5, 0.8, 1.0101638747222512),
            (10.0, 0.025, -2.2281388519862753),
            (60.0, 0.975, 2.0002978220142604),
            (1e5, 0.8, 0.8416248279969009),
            (3.7, 0.999, 7.795183875029165),
        ];
        for (df, q, want) in cases {
            close(student_t_quantile(q, df), want, 1e-9);
        }
        // `scipy.stats.norm.ppf(0.975)`
        close(
            student_t_quantile(0.975, f64::INFINITY),
            1.959963984540054,
            1e-12,
        );
        assert!(student_t_quantile(1.0, 3.0).is_nan());
        assert!(student_t_quantile(0.5, -1.0).is_nan());
    }
}
