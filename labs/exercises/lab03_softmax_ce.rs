// Lab 3 · Softmax cross-entropy, forward and backward, numerically stable (book chapter 3).
//
// A language model outputs a row of V scores (logits) z per position; softmax turns them into
// probabilities and the loss is the negative log-probability of the correct next token y:
//
//     p_i = exp(z_i) / Σ_j exp(z_j)                                           (3.1)
//     ℓ   = -ln p_y = ln Σ_j exp(z_j) - z_y                                     (3.3)
//     L   = (1/N) Σ_n ℓ_n            (mean over the N rows)                     (3.4)
//     ∂L/∂z_n = (p_n - onehot(y_n)) / N                                         (3.5)
//
// Careful: exp(1000) is infinity in f64. The tests use logits like 1000 and -1000. Softmax does not change
// when you subtract the same number m from every logit of a row, so use m = the row's max.
//
// The tests compare your answer with the stable formulas and with finite differences of your own loss.
// Run `rustlings hint` if you are stuck.

// Silences the warnings about code that is unused until you replace the `todo!()`s: delete this line
// once they are gone (unused variables and imports then point at mistakes).
#![allow(unused)]
use ndarray::{Array2, Axis};

/// Row-wise softmax of z (N, V).
fn softmax(z: &Array2<f64>) -> Array2<f64> {
    // TODO: for each row: m = max of the row; e = exp(z - m); p = e / sum(e).
    // Hint: `z.axis_iter(Axis(0))` walks the rows; `p.axis_iter_mut(Axis(0))` walks them mutably.
    todo!()
}

/// Mean softmax cross-entropy of logits z (N, V) against targets (N), and its gradient dL/dz (N, V).
fn cross_entropy(z: &Array2<f64>, targets: &[usize]) -> (f64, Array2<f64>) {
    // TODO: the loss: the mean over rows of log-sum-exp(z_row) - z_row[y]. Do NOT compute ln(softmax(z)[y]):
    //       the probability of a target with logit -1000 rounds to 0, and ln 0 = -∞.
    // TODO: the gradient: softmax(z), minus 1 at each row's target, divided by N.
    todo!()
}

fn main() {
    // The worked example of chapter 3: uniform logits over 4 classes cost ln 4 ≈ 1.386 nats.
    let z = ndarray::array![[0.0, 0.0, 0.0, 0.0]];
    let (loss, dz) = cross_entropy(&z, &[2]);
    println!("loss = {loss:.4} (ln 4 = {:.4}), dL/dz = {dz}", 4f64.ln());
    println!(
        "softmax of huge logits: {}",
        softmax(&ndarray::array![[1000.0, 999.0]])
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test that runs the checks in order, so the first failure reported is always the same one: a
    // later part (which often calls an earlier one) is checked only once the earlier parts are right.
    #[test]
    fn softmax_then_cross_entropy_then_its_gradient() {
        labcheck::lab03::check_softmax(softmax);
        labcheck::lab03::check_cross_entropy(cross_entropy);
        labcheck::lab03::check_gradient_numerically(cross_entropy);
    }
}
