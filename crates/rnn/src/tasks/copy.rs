//! The copy-memory task (Arjovsky, Shah & Bengio 2016, after Hochreiter & Schmidhuber 1997).
//!
//! Symbols: 0 is the blank, 1 ..= N are the data symbols (N = 8 in the paper), N + 1 is the delimiter. An
//! input sequence has `T + 2K` steps (K = 10 in the paper): K data symbols drawn uniformly, then `T - 1`
//! blanks, the delimiter, and K more blanks. The target is blank for the first `T + K` steps and then the
//! K data symbols, in order: after the delimiter the model must play back what it saw T + K steps before.
//!
//! **Baseline.** A model that has memorised nothing can still learn to output blank for `T + K` steps and
//! then guess the data symbols uniformly. Its cross-entropy is `K·ln N` nats over the whole sequence, so
//! `K·ln N / (T + 2K)` per step ([`CopyMemory::baseline`]); for N = 8, K = 10, T = 100 that is 0.173 nats.
//! Its accuracy on the recalled symbols is 1/N.

use ndarray::Array2;
use rand::Rng as _;

use crate::init::Rng;

/// A batch of the copy-memory task.
#[derive(Clone, Debug)]
pub struct CopyMemory {
    /// `(T + 2K, B)`: the input symbols.
    pub inputs: Array2<usize>,
    /// `(T + 2K, B)`: the target symbols (0 = blank, then the K data symbols).
    pub targets: Array2<usize>,
    /// N, the number of data symbols; ids run from 0 (blank) to N + 1 (delimiter).
    pub num_symbols: usize,
    /// K, the number of symbols to copy.
    pub copy_len: usize,
    /// T, the delay.
    pub delay: usize,
}

impl CopyMemory {
    /// The id of the blank.
    pub const BLANK: usize = 0;

    /// The id of the delimiter, N + 1.
    pub fn delimiter(&self) -> usize {
        self.num_symbols + 1
    }

    /// The vocabulary size N + 2 (blank, N data symbols, delimiter).
    pub fn vocab_size(&self) -> usize {
        self.num_symbols + 2
    }

    /// The per-step cross-entropy (nats) of the memoryless baseline: `K·ln N / (T + 2K)`.
    pub fn baseline(&self) -> f64 {
        let steps = self.delay + 2 * self.copy_len;
        self.copy_len as f64 * (self.num_symbols as f64).ln() / steps as f64
    }

    /// The steps at which the data symbols are recalled: `T + K .. T + 2K`.
    pub fn recall_steps(&self) -> std::ops::Range<usize> {
        self.delay + self.copy_len..self.delay + 2 * self.copy_len
    }
}

/// A batch of `batch` copy-memory sequences with N = `num_symbols`, K = `copy_len`, delay T = `delay`.
///
/// ```
/// let task = rnn::tasks::copy_memory(8, 10, 100, 2, &mut rnn::init::rng(0));
/// assert_eq!(task.inputs.dim(), (120, 2)); // (T + 2K, B)
/// assert!((task.baseline() - 10.0 * 8f64.ln() / 120.0).abs() < 1e-15);
/// ```
///
/// # Panics
/// If `num_symbols`, `copy_len` or `delay` is 0.
pub fn copy_memory(
    num_symbols: usize,
    copy_len: usize,
    delay: usize,
    batch: usize,
    rng: &mut Rng,
) -> CopyMemory {
    assert!(
        num_symbols > 0 && copy_len > 0 && delay > 0,
        "copy_memory needs N, K, T > 0, got N = {num_symbols}, K = {copy_len}, T = {delay}"
    );
    let steps = delay + 2 * copy_len;
    let mut inputs = Array2::zeros((steps, batch)); // (T + 2K, B)
    let mut targets = Array2::zeros((steps, batch)); // (T + 2K, B)
    for b in 0..batch {
        for k in 0..copy_len {
            let sym = rng.random_range(1..=num_symbols);
            inputs[[k, b]] = sym;
            targets[[delay + copy_len + k, b]] = sym;
        }
        inputs[[delay + copy_len - 1, b]] = num_symbols + 1;
    }
    CopyMemory {
        inputs,
        targets,
        num_symbols,
        copy_len,
        delay,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::rng;

    #[test]
    fn copy_memory_layout() {
        let task = copy_memory(8, 10, 20, 50, &mut rng(0));
        assert_eq!(task.inputs.dim(), (40, 50));
        for b in 0..50 {
            let x = task.inputs.column(b);
            let y = task.targets.column(b);
            assert!((0..10).all(|t| (1..=8).contains(&x[t])));
            assert!((10..40).all(|t| x[t] == if t == 29 { 9 } else { 0 }));
            assert!((0..30).all(|t| y[t] == 0));
            assert!((0..10).all(|k| y[30 + k] == x[k]));
        }
        assert_eq!(task.recall_steps(), 30..40);
        assert_eq!(task.delimiter(), 9);
        assert_eq!(task.vocab_size(), 10);
        let again = copy_memory(8, 10, 20, 50, &mut rng(0));
        assert_eq!(again.inputs, task.inputs);
    }

    #[test]
    fn baseline_is_the_loss_of_blank_then_uniform() {
        // the memoryless predictor: blank for sure before recall, uniform over the N data symbols after
        let task = copy_memory(8, 10, 30, 4, &mut rng(1));
        let (steps, batch) = task.targets.dim();
        let mut logits = Array2::from_elem((steps * batch, task.vocab_size()), f64::NEG_INFINITY);
        let mut targets = Vec::new();
        for t in 0..steps {
            for b in 0..batch {
                let row = t * batch + b;
                if task.recall_steps().contains(&t) {
                    (1..=8).for_each(|k| logits[[row, k]] = 0.0);
                } else {
                    logits[[row, 0]] = 0.0;
                }
                targets.push(task.targets[[t, b]]);
            }
        }
        let ce: f64 = (0..steps * batch)
            .map(|r| {
                let row = logits.row(r);
                let lse = row
                    .iter()
                    .filter(|v| v.is_finite())
                    .map(|v| v.exp())
                    .sum::<f64>()
                    .ln();
                lse - row[targets[r]]
            })
            .sum::<f64>()
            / (steps * batch) as f64;
        assert!(
            (ce - task.baseline()).abs() < 1e-12,
            "{ce} vs {}",
            task.baseline()
        );
    }
}
