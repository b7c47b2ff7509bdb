//! Point estimates of quantiles: Hyndman & Fan type 7 and the Harrell-Davis
//! estimator, plus the Harrell-Davis weight table the bootstrap reuses.


/// Hyndman & Fan (1996) definition 7 (R/NumPy default). `sorted` ascending. None if empty.
///
/// Hyndman & Fan (1996), "Sample quantiles in statistical packages", *The
/// American Statistician* 50(4), definition 7: with h = (n − 1)p (0-based),
/// Q(p) = x_⌊h⌋ + (h − ⌊h⌋)(x_⌊h⌋+1 − x_⌊h⌋). `p` outside [0, 1] (or NaN)
/// gives None.
pub fn quantile_type7(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() || !(0.0..=1.0).contains(&p) {
        return None;
    }
    let h = (sorted.len() - 1) as f64 * p;
    let lo = h.floor();
    // `h` is in [0, n − 1], so the casts are in range.
    let i = lo as usize;
    let frac = h - lo;
    let x_lo = sorted[i];
    match sorted.get(i + 1) {
        Some(&x_hi) if frac > 0.0 => Some(x_lo + frac * (x_hi - x_lo)),
        _ => Some(x_lo),
    }
}
