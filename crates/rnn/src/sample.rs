//! Choosing the next token from a model's scores: greedy, temperature, top-k.
//!
//! Temperature τ rescales the logits before the softmax, `p_i ∝ exp(z_i / τ)` (3.10): τ < 1 sharpens the
//! distribution (more conservative text), τ > 1 flattens it (more surprising text), τ → 0 is greedy.
//! Top-k keeps only the k highest-scoring tokens before sampling.
//!
//! ```
//! let logits = [2.0, 1.0, 0.1];
//! assert_eq!(rnn::sample::greedy(&logits), 0);
//! let p = rnn::sample::probabilities(&logits, 1.0, None);
//! assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
//! let mut rng = rnn::init::rng(0);
//! let i = rnn::sample::sample(&logits, 0.8, Some(2), &mut rng);
//! assert!(i < 2); // top-2 never picks the third token
//! ```

use rand::Rng as _;

use crate::init::Rng;

/// The index of the largest logit (the first one on ties).
pub fn greedy(logits: &[f64]) -> usize {
    assert!(!logits.is_empty(), "greedy: no logits");
    let mut best = 0;
    for (i, &z) in logits.iter().enumerate() {
        if z > logits[best] {
            best = i;
        }
    }
    best
}

// ANCHOR: probabilities
/// The sampling distribution: softmax(logits / temperature), restricted to the `top_k` largest logits if given.
///
/// Panics unless `temperature > 0` (use [`greedy`] for τ → 0) and `top_k`, if given, is at least 1.
pub fn probabilities(logits: &[f64], temperature: f64, top_k: Option<usize>) -> Vec<f64> {
    assert!(
        temperature > 0.0,
        "temperature must be > 0 (use greedy for 0), got {temperature}"
    );
    assert!(!logits.is_empty(), "probabilities: no logits");
    let keep = match top_k {
        Some(k) => {
            assert!(k >= 1, "top_k must be at least 1");
            let mut sorted: Vec<f64> = logits.to_vec();
            sorted.sort_by(|a, b| b.total_cmp(a));
            sorted[k.min(sorted.len()) - 1] // threshold: the k-th largest logit
        }
        None => f64::NEG_INFINITY,
    };
    let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    // (3.10) p_i ∝ exp((z_i - max z) / τ), zero outside the top k
    let mut p: Vec<f64> = logits
        .iter()
        .map(|&z| {
            if z >= keep {
                ((z - max) / temperature).exp()
            } else {
                0.0
            }
        })
        .collect();
    let sum: f64 = p.iter().sum();
    p.iter_mut().for_each(|v| *v /= sum);
    p
}
// ANCHOR_END: probabilities

// ANCHOR: draw
/// Draws an index from a probability vector (which must sum to 1 up to rounding).
pub fn draw(probs: &[f64], rng: &mut Rng) -> usize {
    let u: f64 = rng.random();
    let mut acc = 0.0;
    for (i, &p) in probs.iter().enumerate() {
        acc += p;
        if u < acc {
            return i;
        }
    }
    // rounding left u just above the total: return the last index with non-zero probability
    probs
        .iter()
        .rposition(|&p| p > 0.0)
        .unwrap_or(probs.len() - 1)
}
// ANCHOR_END: draw

/// Samples the next token: [`probabilities`] then [`draw`].
pub fn sample(logits: &[f64], temperature: f64, top_k: Option<usize>, rng: &mut Rng) -> usize {
    draw(&probabilities(logits, temperature, top_k), rng)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temperature_sharpens_and_flattens() {
        let z = [1.0, 0.0];
        let cold = probabilities(&z, 0.5, None)[0];
        let warm = probabilities(&z, 1.0, None)[0];
        let hot = probabilities(&z, 2.0, None)[0];
        assert!(cold > warm && warm > hot && hot > 0.5);
        assert!((warm - 1.0 / (1.0 + (-1.0f64).exp())).abs() < 1e-15);
    }

    #[test]
    fn huge_logits_do_not_overflow() {
        let p = probabilities(&[1000.0, 999.0, -1000.0], 0.7, None);
        assert!(p.iter().all(|v| v.is_finite()));
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn top_k_and_sampling_frequencies() {
        let z = [0.0, 1.0, 2.0, 3.0];
        let p = probabilities(&z, 1.0, Some(2));
        assert_eq!((p[0], p[1]), (0.0, 0.0));
        let mut rng = crate::init::rng(5);
        let mut counts = [0usize; 4];
        for _ in 0..20_000 {
            counts[sample(&z, 1.0, None, &mut rng)] += 1;
        }
        let full = probabilities(&z, 1.0, None);
        for i in 0..4 {
            let freq = counts[i] as f64 / 20_000.0;
            assert!(
                (freq - full[i]).abs() < 0.015,
                "token {i}: frequency {freq}, probability {}",
                full[i]
            );
        }
    }

    #[test]
    fn same_seed_same_samples() {
        let z = [0.3, 0.1, 0.9, 0.2];
        let a: Vec<usize> = {
            let mut r = crate::init::rng(9);
            (0..50).map(|_| sample(&z, 1.0, None, &mut r)).collect()
        };
        let b: Vec<usize> = {
            let mut r = crate::init::rng(9);
            (0..50).map(|_| sample(&z, 1.0, None, &mut r)).collect()
        };
        assert_eq!(a, b);
    }
}
