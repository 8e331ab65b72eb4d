// Lab 2 · Unrolling an Elman RNN over a sequence (book chapter 2, "Unrolling").
//
// A sequence is time-major: xs has shape (T, B, D), T time steps of a (B, D) batch. The same cell, with
// the same weights, runs at every step, each time reading the state the previous step produced:
//
//     h_0 = h0,   h_{t+1} = elman_step(xs[t], h_t)                               (2.4)
//
// Return every hidden state, stacked into hs of shape (T, B, H), where hs[t] is the state *after* reading
// xs[t]. `elman_step` is lab 1's answer, already filled in.
//
// ndarray tips: `xs.index_axis(Axis(0), t)` is the (B, D) view of step t (call `.to_owned()` for an
// Array2), and `hs.index_axis_mut(Axis(0), t).assign(&h)` writes step t.
//
// The tests compare your answer with `rnn::bptt::unroll`.
// Run `rustlings hint` if you are stuck.

// Silences the warnings about code that is unused until you replace the `todo!()`s: delete this line
// once they are gone (unused variables and imports then point at mistakes).
#![allow(unused)]
use ndarray::{Array1, Array2, Array3, Axis};

/// Lab 1: one Elman step, h = tanh(x·W_ihᵀ + b_ih + h_prev·W_hhᵀ + b_hh), shape (B, H).
fn elman_step(
    x: &Array2<f64>,
    h_prev: &Array2<f64>,
    w_ih: &Array2<f64>,
    w_hh: &Array2<f64>,
    b_ih: &Array1<f64>,
    b_hh: &Array1<f64>,
) -> Array2<f64> {
    (x.dot(&w_ih.t()) + b_ih + h_prev.dot(&w_hh.t()) + b_hh).mapv(f64::tanh)
}

/// Runs the Elman cell over xs (T, B, D) from h0 (B, H); returns all hidden states (T, B, H).
fn unroll(
    xs: &Array3<f64>,
    h0: &Array2<f64>,
    w_ih: &Array2<f64>,
    w_hh: &Array2<f64>,
    b_ih: &Array1<f64>,
    b_hh: &Array1<f64>,
) -> Array3<f64> {
    let (t_len, batch, _) = xs.dim();
    let hidden = w_hh.nrows();
    let mut hs = Array3::zeros((t_len, batch, hidden));
    // TODO: start a running state h at h0.
    // TODO: for t in 0..T: h = elman_step(xs[t], h); store h in hs[t].
    todo!();
    hs
}

fn main() {
    // A sequence of T = 3 steps, one example, one input, one hidden unit: watch the state carry over.
    let xs = Array3::from_shape_vec((3, 1, 1), vec![1.0, 0.0, 0.0]).unwrap();
    let h0 = Array2::zeros((1, 1));
    let w = ndarray::array![[1.0]];
    let b = ndarray::array![0.0];
    let hs = unroll(&xs, &h0, &w, &w, &b, &b);
    // The input is 1 only at t = 0, yet the state stays non-zero afterwards: that is the recurrence.
    println!("hs = {}", hs.index_axis(Axis(2), 0));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_library() {
        labcheck::lab02::check_unroll(unroll);
    }
}
