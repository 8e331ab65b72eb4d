//! The adding problem, in two forms.
//!
//! **Le, Jaitly & Hinton (2015)**, [`adding_problem`], the form most later papers use. Every step carries two
//! numbers: a value drawn from U[0, 1) and a marker that is 0 except at exactly two steps, one chosen
//! uniformly in the first half of the sequence and one in the second half. The target, given after the last
//! step, is the sum of the two marked values. The sum of two independent U[0, 1) values has mean 1 and
//! variance 2/12, so always answering 1.0 gives a mean squared error of 1/6 ≈ 0.167: the baseline a model
//! must beat.
//!
//! **Hochreiter & Schmidhuber (1997), Experiment 4**, [`adding_problem_hs97`], the original. The values are
//! drawn from U[-1, 1]. The marker channel holds 1.0 at the two marked steps, -1.0 at the first and the last
//! step (a "start" and "end" sign), and 0 elsewhere. The length of each sequence is an integer drawn
//! uniformly between T and T + T/10, so sequences in one batch differ in length. The first marked step is
//! drawn among the first ten steps, the second among the first T/2 - 1 steps not yet marked; if the first
//! step (whose marker is -1) is drawn, its value X₁ counts as zero. The target, given only at the end, is
//! 0.5 + (X₁ + X₂)/4, the sum scaled into [0, 1], and a sequence counts as solved when the absolute error
//! there is below 0.04 ([`HS97_TOLERANCE`]).
//!
//! Readings we had to make of the paper's text: (i) "the first ten pairs" are steps 0..10 (or fewer if the
//! sequence is shorter); (ii) "one of the first T/2 - 1 still unmarked pairs" is read as: the steps
//! 0..T/2 with the first marked one removed leave T/2 - 1 candidates, one drawn uniformly; (iii) when a
//! marked step is step 0, its marker stays -1 (the start sign wins) and its value counts as zero in the
//! target: the paper says so for X₁, and we do the same for X₂, which can also land on step 0; (iv) for
//! T < 20 the first mark can fall outside the first half, and the second is then drawn from steps
//! 0..T/2 - 1; (v) the lengths are drawn from the integers T ..= T + ⌊T/10⌋.

use ndarray::Array3;
use rand::Rng as _;

use crate::init::Rng;

/// The error criterion of Hochreiter & Schmidhuber (1997), Experiment 4: a sequence is processed correctly
/// if the absolute error at its end is below this.
pub const HS97_TOLERANCE: f64 = 0.04;

/// The adding problem in the form of Le, Jaitly & Hinton (2015): inputs `(T, B, 2)` where channel 0 holds
/// values from U[0, 1) and channel 1 marks exactly two steps (one in each half); the target `(B)` is the
/// sum of the two marked values. Always predicting 1.0 gives MSE ≈ 0.167.
///
/// # Panics
/// If `t_len < 2`.
pub fn adding_problem(t_len: usize, batch: usize, rng: &mut Rng) -> (Array3<f64>, Vec<f64>) {
    assert!(
        t_len >= 2,
        "the adding problem needs at least 2 time steps, got {t_len}"
    );
    let mut xs = Array3::zeros((t_len, batch, 2)); // (T, B, 2)
    let mut targets = Vec::with_capacity(batch);
    let half = t_len / 2;
    for b in 0..batch {
        for t in 0..t_len {
            xs[[t, b, 0]] = rng.random::<f64>();
        }
        let i = rng.random_range(0..half);
        let j = rng.random_range(half..t_len);
        xs[[i, b, 1]] = 1.0;
        xs[[j, b, 1]] = 1.0;
        targets.push(xs[[i, b, 0]] + xs[[j, b, 0]]);
    }
    (xs, targets)
}

/// A batch of Hochreiter & Schmidhuber's adding problem: sequences of different lengths, padded with zeros
/// at the end.
#[derive(Clone, Debug)]
pub struct AddingHs97 {
    /// `(T_max, B, 2)`: channel 0 the values, channel 1 the markers; zeros after each sequence's end.
    pub inputs: Array3<f64>,
    /// `(B)`: 0.5 + (X₁ + X₂)/4 for each sequence.
    pub targets: Vec<f64>,
    /// `(B)`: the number of real steps of each sequence, between T and T + T/10.
    pub lengths: Vec<usize>,
    /// `(B)`: the two marked steps of each sequence (first, second).
    pub marked: Vec<(usize, usize)>,
}

/// The adding problem as Hochreiter & Schmidhuber (1997, Experiment 4) define it (see the module
/// documentation for the definition and our readings of it), for a minimal length `t_min` = T.
///
/// # Panics
/// If `t_min < 4` (the second marker needs T/2 - 1 ≥ 1 free candidates).
pub fn adding_problem_hs97(t_min: usize, batch: usize, rng: &mut Rng) -> AddingHs97 {
    assert!(
        t_min >= 4,
        "the HS97 adding problem needs T >= 4 (T/2 - 1 candidates for the second marker), got {t_min}"
    );
    let lengths: Vec<usize> = (0..batch)
        .map(|_| rng.random_range(t_min..=t_min + t_min / 10))
        .collect();
    let t_max = lengths.iter().copied().max().unwrap_or(t_min);
    let mut inputs = Array3::zeros((t_max, batch, 2)); // (T_max, B, 2)
    let mut targets = Vec::with_capacity(batch);
    let mut marked = Vec::with_capacity(batch);
    for (b, &len) in lengths.iter().enumerate() {
        for t in 0..len {
            inputs[[t, b, 0]] = rng.random_range(-1.0..=1.0);
        }
        // the first mark: one of the first ten steps
        let i = rng.random_range(0..10.min(len));
        // the second: one of the steps 0..T/2 other than i (T/2 - 1 candidates)
        let mut j = rng.random_range(0..t_min / 2 - 1);
        if j >= i && i < t_min / 2 {
            j += 1;
        }
        inputs[[i, b, 1]] = 1.0;
        inputs[[j, b, 1]] = 1.0;
        // the start and end signs; the start sign wins over a mark at step 0
        inputs[[0, b, 1]] = -1.0;
        inputs[[len - 1, b, 1]] = -1.0;
        let x1 = if i == 0 { 0.0 } else { inputs[[i, b, 0]] };
        let x2 = if j == 0 { 0.0 } else { inputs[[j, b, 0]] };
        targets.push(0.5 + (x1 + x2) / 4.0);
        marked.push((i, j));
    }
    AddingHs97 {
        inputs,
        targets,
        lengths,
        marked,
    }
}

/// The fraction of sequences whose prediction is within [`HS97_TOLERANCE`] of the target.
pub fn hs97_fraction_correct(predictions: &[f64], targets: &[f64]) -> f64 {
    assert_eq!(
        predictions.len(),
        targets.len(),
        "one prediction per target"
    );
    let ok = predictions
        .iter()
        .zip(targets)
        .filter(|(p, y)| (*p - *y).abs() < HS97_TOLERANCE)
        .count();
    ok as f64 / targets.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::rng;

    #[test]
    fn adding_problem_targets_are_marked_sums() {
        let (xs, ys) = adding_problem(10, 3, &mut rng(0));
        for b in 0..3 {
            let marked: Vec<usize> = (0..10).filter(|&t| xs[[t, b, 1]] == 1.0).collect();
            assert_eq!(marked.len(), 2);
            assert!(marked[0] < 5 && marked[1] >= 5);
            assert!((ys[b] - xs[[marked[0], b, 0]] - xs[[marked[1], b, 0]]).abs() < 1e-15);
        }
    }

    #[test]
    fn adding_problem_baseline_is_one_sixth() {
        let (_, ys) = adding_problem(20, 20_000, &mut rng(1));
        let mse = ys.iter().map(|y| (y - 1.0).powi(2)).sum::<f64>() / ys.len() as f64;
        // standard error of the MSE estimate is about 0.0015 here
        assert!(
            (mse - 1.0 / 6.0).abs() < 0.006,
            "MSE of answering 1.0: {mse}"
        );
    }

    #[test]
    fn hs97_follows_the_definition() {
        let t = 40;
        let data = adding_problem_hs97(t, 500, &mut rng(2));
        assert_eq!(data.inputs.dim().1, 500);
        for b in 0..500 {
            let len = data.lengths[b];
            assert!((t..=t + t / 10).contains(&len));
            let (i, j) = data.marked[b];
            assert!(i < 10 && j < t / 2 && i != j);
            let m = |s: usize| data.inputs[[s, b, 1]];
            assert_eq!(m(0), -1.0);
            assert_eq!(m(len - 1), -1.0);
            let ones: Vec<usize> = (0..len).filter(|&s| m(s) == 1.0).collect();
            let want: Vec<usize> = [i.min(j), i.max(j)]
                .into_iter()
                .filter(|&s| s != 0)
                .collect();
            assert_eq!(ones, want);
            assert!((0..len).all(|s| (-1.0..=1.0).contains(&data.inputs[[s, b, 0]])));
            assert!(
                (len..data.inputs.dim().0).all(|s| data.inputs[[s, b, 0]] == 0.0 && m(s) == 0.0)
            );
            let x = |s: usize| if s == 0 { 0.0 } else { data.inputs[[s, b, 0]] };
            assert!((data.targets[b] - 0.5 - (x(i) + x(j)) / 4.0).abs() < 1e-15);
            assert!((0.0..=1.0).contains(&data.targets[b]));
        }
        let firsts: std::collections::BTreeSet<usize> = data.marked.iter().map(|m| m.0).collect();
        assert_eq!(
            firsts.len(),
            10,
            "every one of the first ten steps is drawn"
        );
        let again = adding_problem_hs97(t, 500, &mut rng(2));
        assert_eq!(again.inputs, data.inputs);
        assert_eq!(hs97_fraction_correct(&data.targets, &data.targets), 1.0);
        assert_eq!(hs97_fraction_correct(&[0.5, 0.5], &[0.53, 0.55]), 0.5);
    }
}
