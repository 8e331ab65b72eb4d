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
// This is a solution: compare it with yours once your tests pass.

use ndarray::{Array2, Axis};

/// Row-wise softmax of z (N, V).
fn softmax(z: &Array2<f64>) -> Array2<f64> {
    let mut p = z.clone();
    for mut row in p.axis_iter_mut(Axis(0)) {
        // (3.1) subtract the row's max first: exp never sees a positive number
        let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        row.mapv_inplace(|v| (v - m).exp());
        let sum = row.sum();
        row.mapv_inplace(|v| v / sum);
    }
    p
}

/// Mean softmax cross-entropy of logits z (N, V) against targets (N), and its gradient dL/dz (N, V).
fn cross_entropy(z: &Array2<f64>, targets: &[usize]) -> (f64, Array2<f64>) {
    let n = z.nrows() as f64;
    let mut loss = 0.0;
    for (row, &y) in z.axis_iter(Axis(0)).zip(targets) {
        // (3.3) -ln p_y = log-sum-exp(z) - z_y, with log-sum-exp computed stably
        let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lse = m + row.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
        loss += lse - row[y];
    }
    // (3.5) ∂L/∂z = (p - onehot(y)) / N
    let mut dz = softmax(z);
    for (i, &y) in targets.iter().enumerate() {
        dz[[i, y]] -= 1.0;
    }
    (loss / n, dz / n)
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
