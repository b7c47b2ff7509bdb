//! Seeded choices without shared state: every random choice of a plan (a
//! request's prompt, class, cancellation, a synthetic prompt's text, an
//! open-loop arrival) is a hash of (seed, index), so any request can be
//! planned on its own and two runs of a workload make the same choices.

/// SplitMix64 (Steele, Lea & Flood 2014, "Fast splittable pseudorandom
/// number generators", OOPSLA; constants of Vigna's `splitmix64.c`): a tiny,
/// well-mixed hash of (seed, index).
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Uniform in [0, 1) from a hash: its top 53 bits as the mantissa of a
/// double (the usual conversion, e.g. Vigna's notes to `xoshiro256**`).
pub(crate) fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix64_matches_the_splitmix64_reference_stream() {
        // The first outputs of Vigna's splitmix64.c seeded with 0 (state
        // advanced by the golden gamma before mixing, as `mix64` does).
        assert_eq!(mix64(0), 0xE220_A839_7B1D_CDAF);
        assert_eq!(mix64(0x9E37_79B9_7F4A_7C15), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn unit_spans_zero_to_just_below_one() {
        assert_eq!(unit(0), 0.0);
        assert!(unit(u64::MAX) < 1.0);
        assert!(unit(u64::MAX) > 1.0 - 1e-15);
    }
}
