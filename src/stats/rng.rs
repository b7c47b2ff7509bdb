//! The bootstrap's random numbers: a written-out Xoshiro256** generator seeded
//! through SplitMix64, so the stream is fixed by this file alone (not by a
//! dependency's version or the platform's word size).

use std::convert::Infallible;

/// Golden-ratio increment of SplitMix64 (Steele, Lea & Flood 2014, "Fast
/// splittable pseudorandom number generators", OOPSLA; constants as in
/// Vigna's reference `splitmix64.c`).
const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// The SplitMix64 output function (Stafford's "Mix13" variant, as used in
/// Vigna's `splitmix64.c`). A bijection on `u64`, so distinct inputs give
/// distinct outputs.
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// SplitMix64: used only to expand a 64-bit seed into Xoshiro's 256-bit state,
/// as Blackman & Vigna recommend.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN_GAMMA);
        mix64(self.0)
    }
}

/// Xoshiro256** 1.0 (Blackman & Vigna 2021, "Scrambled linear pseudorandom
/// number generators", ACM TOMS 47(4), Fig. 1 and §10). Passes BigCrush; its
/// 2^256 − 1 period is far beyond any bootstrap here.
#[derive(Debug, Clone)]
pub(crate) struct Xoshiro256 {
    s: [u64; 4],
}

impl Xoshiro256 {
    /// Seeds the state from SplitMix64; the all-zero state is impossible
    /// because SplitMix64's outputs over four consecutive steps are never all 0.
    pub(crate) fn seed_from_u64(seed: u64) -> Self {
        let mut sm = SplitMix64(seed);
        Self {
            s: [sm.next(), sm.next(), sm.next(), sm.next()],
        }
    }

    /// An independent stream for bootstrap resample `index` under `seed`.
    /// Each resample has its own stream so the result does not depend on how
    /// resamples are split across threads. The two inputs are hashed (not
    /// added) so that streams for neighbouring indices do not share a
    /// shifted SplitMix64 sequence.
    pub(crate) fn for_stream(seed: u64, index: u64) -> Self {
        Self::seed_from_u64(mix64(seed ^ mix64(index.wrapping_add(GOLDEN_GAMMA))))
    }

    #[inline]
    pub(crate) fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform integer in `0..range` without modulo bias: Lemire (2019), "Fast
    /// random integer generation in an interval", ACM TOMS 45(1), Algorithm 5
    /// (multiply-shift with rejection of the biased low products).
    #[inline]
    pub(crate) fn below(&mut self, range: u64) -> u64 {
        debug_assert!(range > 0, "below(0) has no valid output");
        let mut m = u128::from(self.next_u64()) * u128::from(range);
        let mut low = m as u64;
        if low < range {
            let threshold = range.wrapping_neg() % range;
            while low < threshold {
                m = u128::from(self.next_u64()) * u128::from(range);
                low = m as u64;
            }
        }
        (m >> 64) as u64
    }
}

impl Xoshiro256 {
    /// Two uniform integers in `0..range` from one 64-bit output (its high
    /// and low halves), each by Lemire's (2019) 32-bit multiply-shift with
    /// rejection; a rejected half is redrawn from a fresh output. Halves the
    /// generator calls of the resampling loops.
    #[inline]
    pub(crate) fn below_pair(&mut self, range: u32) -> (u32, u32) {
        debug_assert!(range > 0, "below_pair(0) has no valid output");
        let word = self.next_u64();
        let first = self.bounded_half((word >> 32) as u32, range);
        let second = self.bounded_half(word as u32, range);
        (first, second)
    }

    #[inline]
    fn bounded_half(&mut self, mut x: u32, range: u32) -> u32 {
        let mut m = u64::from(x) * u64::from(range);
        let mut low = m as u32;
        if low < range {
            let threshold = range.wrapping_neg() % range;
            while low < threshold {
                x = (self.next_u64() >> 32) as u32;
                m = u64::from(x) * u64::from(range);
                low = m as u32;
            }
        }
        (m >> 32) as u32
    }
}

/// Lets `rand_distr` samplers (the binomial draws of the windowed bootstrap)
/// run on this generator.
impl rand::TryRng for Xoshiro256 {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        // The high bits of Xoshiro256** are its best bits.
        Ok((self.next_u64() >> 32) as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(self.next_u64())
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xoshiro_matches_reference_stream() {
        // State set directly to {1, 2, 3, 4}. Expected values from a Python
        // transcription of Vigna's reference `xoshiro256starstar.c`
        // (64-bit masked arithmetic, result = rotl(s[1] * 5, 7) * 9).
        let mut g = Xoshiro256 { s: [1, 2, 3, 4] };
        let got: Vec<u64> = (0..4).map(|_| g.next_u64()).collect();
        assert_eq!(
            got,
            vec![11520, 0, 1_509_978_240, 1_215_971_899_390_074_240]
        );
    }

    #[test]
    fn below_stays_in_range_and_is_roughly_uniform() {
        let mut g = Xoshiro256::seed_from_u64(7);
        let mut counts = [0u32; 7];
        for _ in 0..70_000 {
            let v = g.below(7);
            counts[usize::try_from(v).expect("v < 7")] += 1;
        }
        for c in counts {
            assert!((9_400..10_600).contains(&c), "count {c} far from 10000");
        }
    }

    #[test]
    fn below_pair_stays_in_range_and_is_roughly_uniform() {
        let mut g = Xoshiro256::seed_from_u64(8);
        let mut counts = [0u32; 5];
        for _ in 0..25_000 {
            let (a, b) = g.below_pair(5);
            counts[a as usize] += 1;
            counts[b as usize] += 1;
        }
        for c in counts {
            assert!((9_400..10_600).contains(&c), "count {c} far from 10000");
        }
    }

    #[test]
    fn streams_differ_and_repeat() {
        let a: Vec<u64> = {
            let mut g = Xoshiro256::for_stream(1, 0);
            (0..3).map(|_| g.next_u64()).collect()
        };
        let a2: Vec<u64> = {
            let mut g = Xoshiro256::for_stream(1, 0);
            (0..3).map(|_| g.next_u64()).collect()
        };
        let b: Vec<u64> = {
            let mut g = Xoshiro256::for_stream(1, 1);
            (0..3).map(|_| g.next_u64()).collect()
        };
        assert_eq!(a, a2);
        assert_ne!(a, b);
    }
}
