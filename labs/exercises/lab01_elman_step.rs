// Lab 1 · One step of an Elman RNN (book chapter 2, "The Elman RNN").
//
// An Elman cell reads one input x_t and the previous hidden state h_{t-1} and computes
//
//     h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)                        (2.1, 2.2)
//
// In code a whole batch is processed at once, one example per *row*:
//
//     x       (B, D)   B examples, D input features
//     h_prev  (B, H)   H hidden units
//     w_ih    (H, D)   PyTorch's `weight_ih_l0`
//     w_hh    (H, H)   PyTorch's `weight_hh_l0`
//     b_ih    (H)      `bias_ih_l0`  (ndarray broadcasts an (H) vector over the B rows)
//     b_hh    (H)      `bias_hh_l0`
//
// so the math "W_ih x" becomes `x.dot(&w_ih.t())`, of shape (B, H).
//
// The tests compare your answer with `rnn::cells::Elman` from the course library.
// Run `rustlings hint` if you are stuck.

// Silences the warnings about code that is unused until you replace the `todo!()`s: delete this line
// once they are gone (unused variables and imports then point at mistakes).
#![allow(unused)]

use ndarray::{Array1, Array2};

/// One Elman step for a batch: returns h_t, shape (B, H).
fn elman_step(
    x: &Array2<f64>,
    h_prev: &Array2<f64>,
    w_ih: &Array2<f64>,
    w_hh: &Array2<f64>,
    b_ih: &Array1<f64>,
    b_hh: &Array1<f64>,
) -> Array2<f64> {
    // TODO: compute the pre-activation a = x·W_ihᵀ + b_ih + h_prev·W_hhᵀ + b_hh, shape (B, H).
    // TODO: return tanh(a), element by element.
    todo!()
}

fn main() {
    // Try it by hand: one example (B = 1), D = 2 inputs, H = 1 hidden unit.
    let x = ndarray::array![[1.0, 2.0]];
    let h_prev = ndarray::array![[0.5]];
    let w_ih = ndarray::array![[0.1, -0.2]];
    let w_hh = ndarray::array![[0.3]];
    let b = ndarray::array![0.0];
    let h = elman_step(&x, &h_prev, &w_ih, &w_hh, &b, &b);
    // tanh(0.1·1 - 0.2·2 + 0.3·0.5) = tanh(-0.15) ≈ -0.1489
    println!("h = {h}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_library() {
        labcheck::lab01::check_elman_step(elman_step);
    }
}
