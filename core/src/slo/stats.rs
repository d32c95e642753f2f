//! Quantiles and the seeded bootstrap.
//!
//! The generator is SplitMix64 (Steele, Lea & Flood 2014; the seeder of xoshiro): eight
//! lines, statistically sound for resampling, and with a fixed seed the same data always
//! gives the same interval. A crate (rand_pcg, rand_chacha) would add dependencies for no
//! property this needs: nothing here is cryptographic.

/// Seed of every bootstrap: the same windows give the same confidence interval.
pub const BOOTSTRAP_SEED: u64 = 0x1D6A_5105_EED5_2026;
/// Bootstrap resamples per interval.
pub const BOOTSTRAP_RESAMPLES: usize = 1000;

/// SplitMix64.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (multiply-shift; the bias is below 2^-50 for any n we use).
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
}

/// The `p`-quantile of ascending `sorted` values with linear interpolation between order
/// statistics (Hyndman & Fan type 7, numpy's default): `h = (n − 1)·p`,
/// `Q = x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋])`. `None` for no values.
pub fn quantile(sorted: &[f64], p: f64) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let h = (n - 1) as f64 * p.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(n - 1);
    Some(sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo]))
}

/// The type-7 quantiles `ps` of one resample given as multiplicities `counts` of the
/// ascending `sorted` values (so a resample needs no sort).
fn quantiles_of_counts(sorted: &[f64], counts: &[u32], ps: &[f64], out: &mut [f64]) {
    let n = sorted.len();
    // The order statistics needed, ascending, with where each result goes.
    let mut want: Vec<(usize, usize, f64)> = ps
        .iter()
        .enumerate()
        .map(|(i, &p)| {
            let h = (n - 1) as f64 * p.clamp(0.0, 1.0);
            (h.floor() as usize, i, h - h.floor())
        })
        .collect();
    want.sort_by_key(|w| w.0);
    let value_at = |k: usize, start: &mut (usize, usize)| -> f64 {
        // start = (index into sorted, number of resample elements before it)
        while start.1 + counts[start.0] as usize <= k {
            start.1 += counts[start.0] as usize;
            start.0 += 1;
        }
        sorted[start.0]
    };
    let mut cursor = (0usize, 0usize);
    for &(k, i, frac) in &want {
        let a = value_at(k, &mut cursor);
        let b = if frac > 0.0 && k + 1 < n {
            let mut c2 = cursor;
            value_at(k + 1, &mut c2)
        } else {
            a
        };
        out[i] = a + frac * (b - a);
    }
}

/// Percentile-bootstrap intervals: `resamples` resamples (with replacement, same size) of
/// `sorted`, drawn by SplitMix64 from `seed`; for each requested quantile `ps[j]` the
/// statistic `f(j, Q_resample(ps[j]))` is collected and its 2.5th and 97.5th percentiles
/// (type 7) returned. `None` for no values.
pub fn bootstrap_quantiles(
    sorted: &[f64],
    ps: &[f64],
    resamples: usize,
    seed: u64,
    f: impl Fn(usize, f64) -> f64,
) -> Option<Vec<(f64, f64)>> {
    let n = sorted.len();
    if n == 0 || resamples == 0 {
        return None;
    }
    let mut rng = SplitMix64::new(seed);
    let mut counts = vec![0u32; n];
    let mut stats: Vec<Vec<f64>> = vec![Vec::with_capacity(resamples); ps.len()];
    let mut out = vec![0.0; ps.len()];
    for _ in 0..resamples {
        counts.iter_mut().for_each(|c| *c = 0);
        for _ in 0..n {
            counts[rng.below(n)] += 1;
        }
        quantiles_of_counts(sorted, &counts, ps, &mut out);
        for (j, s) in stats.iter_mut().enumerate() {
            s.push(f(j, out[j]));
        }
    }
    Some(
        stats
            .into_iter()
            .map(|mut s| {
                s.sort_by(f64::total_cmp);
                (
                    quantile(&s, 0.025).unwrap_or(f64::NAN),
                    quantile(&s, 0.975).unwrap_or(f64::NAN),
                )
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn type7_by_hand() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(quantile(&x, 0.0), Some(1.0));
        assert_eq!(quantile(&x, 1.0), Some(5.0));
        assert_eq!(quantile(&x, 0.5), Some(3.0));
        // h = 4 * 0.1 = 0.4 -> 1 + 0.4 * 1
        assert!((quantile(&x, 0.1).unwrap_or(0.0) - 1.4).abs() < 1e-12);
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile(&[7.0], 0.99), Some(7.0));
    }

    #[test]
    fn splitmix_reference() {
        // First outputs for seed 0 (the published reference sequence of SplitMix64).
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn bootstrap_is_deterministic_and_brackets() {
        let mut x: Vec<f64> = (0..500).map(|i| 0.99 + f64::from(i) * 1e-5).collect();
        x.sort_by(f64::total_cmp);
        let a = bootstrap_quantiles(&x, &[0.01, 0.5], 200, BOOTSTRAP_SEED, |_, v| v);
        let b = bootstrap_quantiles(&x, &[0.01, 0.5], 200, BOOTSTRAP_SEED, |_, v| v);
        assert_eq!(a, b);
        let a = a.unwrap_or_default();
        let med = quantile(&x, 0.5).unwrap_or(0.0);
        assert!(a[1].0 <= med && med <= a[1].1, "{a:?} {med}");
        assert!(a[0].0 <= a[0].1);
    }

    #[test]
    fn constant_data_gives_a_point_interval() {
        let x = vec![0.999; 100];
        let ci = bootstrap_quantiles(&x, &[0.01], 100, 1, |_, v| v).unwrap_or_default();
        assert_eq!(ci, vec![(0.999, 0.999)]);
    }

    proptest! {
        /// The counting shortcut equals sorting the resample and taking the quantile.
        #[test]
        fn counts_equal_sorting(xs in proptest::collection::vec(0.0f64..1.0, 1..60),
                                idx in proptest::collection::vec(0usize..1000, 1..60),
                                p in 0.0f64..1.0) {
            let mut xs = xs;
            xs.sort_by(f64::total_cmp);
            let n = xs.len();
            let mut counts = vec![0u32; n];
            let mut resample: Vec<f64> = Vec::new();
            for k in 0..n {
                let i = idx[k % idx.len()] % n;
                counts[i] += 1;
                resample.push(xs[i]);
            }
            resample.sort_by(f64::total_cmp);
            let mut out = [0.0];
            quantiles_of_counts(&xs, &counts, &[p], &mut out);
            let want = quantile(&resample, p).unwrap_or(f64::NAN);
            prop_assert!((out[0] - want).abs() < 1e-12, "{} vs {}", out[0], want);
        }
    }
}
