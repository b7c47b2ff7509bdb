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

    #[inline(always)]
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
    /// (multiply-shift with rejection of the biased low products). The
    /// resampling loops use [`Batch`]; the change-point permutations and the
    /// tests use this plain form.
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

/// Draws of uniform integers in `0..range`, `K` from each 64-bit output:
/// Brackett-Rozinsky & Lemire (2024), "Batched ranged random integer
/// generation", *Software: Practice and Experience* 55(1). With x the
/// output and P = range^K, multiplying by `range` K times and keeping the
/// high words d₁ … d_K and the final low word L gives
/// x·P = (Σ dᵢ·range^(K−i))·2⁶⁴ + L, so the d's are the mixed-radix digits
/// of ⌊x·P / 2⁶⁴⌋. Rejecting L < 2⁶⁴ mod P (Lemire 2019, Algorithm 5, with
/// range P) makes that number uniform on 0..P, so its K digits are
/// independent and uniform on 0..range. One generator call then serves K
/// draws instead of two.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Batch<const K: usize> {
    range: u64,
    /// range^K, at most 2^64 − 1.
    product: u64,
}

impl<const K: usize> Batch<K> {
    /// None when `range` is 0 or range^K overflows 64 bits.
    pub(crate) fn new(range: u64) -> Option<Self> {
        if range == 0 || K == 0 {
            return None;
        }
        let product = range.checked_pow(u32::try_from(K).ok()?)?;
        Some(Self { range, product })
    }
}

/// Largest batch size K ≤ 4 with range^K ≤ 2^56 (1 for larger ranges), so
/// the rejection test is entered at most once in 256 outputs (probability
/// P / 2⁶⁴) and its branch stays predictable. n = 50,000 gives 3;
/// n = 10,000 gives 4.
pub(crate) fn batch_size(range: u64) -> usize {
    const LIMIT: u64 = 1 << 56;
    let mut k = 1;
    let mut product = range;
    while k < 4 {
        match product.checked_mul(range) {
            Some(p) if p <= LIMIT => {
                product = p;
                k += 1;
            }
            _ => break,
        }
    }
    k
}

impl Xoshiro256 {
    /// `K` independent uniform integers in `0..batch.range` (see [`Batch`]).
    #[inline(always)]
    pub(crate) fn below_batch<const K: usize>(&mut self, batch: &Batch<K>) -> [u64; K] {
        let (digits, low) = batch_digits(self.next_u64(), batch);
        if low < batch.product {
            return self.below_batch_retry(batch, digits, low);
        }
        digits
    }

    /// Lemire's exact test, taken rarely: keep the digits unless the low word
    /// is below 2⁶⁴ mod P, else redraw the whole batch.
    #[cold]
    #[inline(never)]
    fn below_batch_retry<const K: usize>(
        &mut self,
        batch: &Batch<K>,
        mut digits: [u64; K],
        mut low: u64,
    ) -> [u64; K] {
        let threshold = batch.product.wrapping_neg() % batch.product;
        while low < threshold {
            (digits, low) = batch_digits(self.next_u64(), batch);
        }
        digits
    }
}

#[inline(always)]
fn batch_digits<const K: usize>(mut x: u64, batch: &Batch<K>) -> ([u64; K], u64) {
    let mut digits = [0; K];
    for d in &mut digits {
        let m = u128::from(x) * u128::from(batch.range);
        *d = (m >> 64) as u64;
        x = m as u64;
    }
    (digits, x)
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
    fn batched_draws_are_uniform_and_independent() {
        // Range 7 in batches of 3: each digit roughly uniform, and the
        // 343 triples too (χ² with 342 degrees of freedom: mean 342, sd 26).
        let batch = Batch::<3>::new(7).expect("7^3 fits");
        let mut g = Xoshiro256::seed_from_u64(8);
        let mut digit_counts = [[0u32; 7]; 3];
        let mut triples = vec![0u32; 343];
        let draws = 343 * 200;
        for _ in 0..draws {
            let [a, b, c] = g.below_batch(&batch);
            for (counts, d) in digit_counts.iter_mut().zip([a, b, c]) {
                counts[d as usize] += 1;
            }
            triples[(a * 49 + b * 7 + c) as usize] += 1;
        }
        for counts in digit_counts {
            for c in counts {
                assert!((9_300..10_300).contains(&c), "count {c} far from 9800");
            }
        }
        let chi2: f64 = triples
            .iter()
            .map(|&o| (f64::from(o) - 200.0).powi(2) / 200.0)
            .sum();
        assert!((240.0..450.0).contains(&chi2), "chi2 {chi2}");
    }

    #[test]
    fn batch_rejection_keeps_draws_in_range() {
        // 3^40 is close to 2^63.4: about a third of the outputs are
        // rejected, so the retry path runs many times.
        let batch = Batch::<40>::new(3).expect("3^40 fits");
        let mut g = Xoshiro256::seed_from_u64(9);
        let mut counts = [0u32; 3];
        for _ in 0..1_000 {
            for d in g.below_batch(&batch) {
                counts[usize::try_from(d).expect("small")] += 1;
            }
        }
        for c in counts {
            assert!((12_800..13_900).contains(&c), "count {c} far from 13333");
        }
    }

    #[test]
    fn batch_size_keeps_the_product_below_2_to_56() {
        assert_eq!(batch_size(10_000), 4);
        assert_eq!(batch_size(50_000), 3);
        assert_eq!(batch_size(1 << 20), 2);
        assert_eq!(batch_size(1 << 40), 1);
        assert_eq!(batch_size(u64::MAX), 1);
        assert!(Batch::<2>::new(1 << 33).is_none());
        assert!(Batch::<1>::new(0).is_none());
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
