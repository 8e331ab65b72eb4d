//! # `labcheck`: the checks behind the RNN labs
//!
//! Every lab's tests call one function here, e.g. [`lab01::check_elman_step`], passing the learner's
//! function. The check runs it on several random shapes, compares the answer with the `rnn` library (or, for
//! pieces the library does not have yet, an independent formula in a private module) and with finite
//! differences, and on failure panics with a message a learner can act on:
//!
//! ```text
//! lab 4 · bptt: `dW_hh` (shape [3, 3]) is wrong.
//!   At [1, 2]: expected 0.1234567890, got 0.0234567890 (7 of 9 elements differ).
//!   Likely mistake: forgetting dh_next ...
//! ```
//!
//! The "likely mistake" comes from comparing the answer with the answers that the classic mistakes give
//! (see [`report::Mistake`]), built from the library or from plain formulas in a private module (the
//! answer key, which no lab can import). `tests/mistakes.rs` keeps a deliberately broken version of each
//! classic mistake and proves that these checks catch it, with its name in the message.
//!
//! Learners never need to read this crate: the lab file, its hint (`rustlings hint`) and the failure messages
//! are enough.

pub mod lab01;
pub mod lab02;
pub mod lab03;
pub mod lab04;
pub mod lab05;
pub mod lab06;
pub mod lab07;
pub mod lab08;
pub mod lab09;
pub mod lab10;
pub mod lab11;
pub mod lab12;
pub mod lab13;
pub mod lab14;
mod reference;
pub mod report;

use ndarray::{Array1, Array2, Array3, Ix1, Ix2, Ix3};

/// Gradients of a recurrent cell's four parameter tensors (PyTorch names and shapes).
///
/// For an Elman cell the rows are H; for an LSTM 4H (gates i, f, g, o); for a GRU 3H (gates r, z, n).
#[derive(Clone, Debug, PartialEq)]
pub struct Grads {
    /// ∂L/∂weight_ih, `(G*H, D)`.
    pub w_ih: Array2<f64>,
    /// ∂L/∂weight_hh, `(G*H, H)`.
    pub w_hh: Array2<f64>,
    /// ∂L/∂bias_ih, `(G*H)`.
    pub b_ih: Array1<f64>,
    /// ∂L/∂bias_hh, `(G*H)`.
    pub b_hh: Array1<f64>,
}

impl Grads {
    /// All-zero gradients for a cell with `rows` = G*H rows, input size `d` and hidden size `h`.
    pub fn zeros(rows: usize, d: usize, h: usize) -> Self {
        Grads {
            w_ih: Array2::zeros((rows, d)),
            w_hh: Array2::zeros((rows, h)),
            b_ih: Array1::zeros(rows),
            b_hh: Array1::zeros(rows),
        }
    }
}

/// Random test data: a `(rows, cols)` matrix from U(-scale, scale).
pub fn rand2(rows: usize, cols: usize, scale: f64, rng: &mut rnn::init::Rng) -> Array2<f64> {
    rnn::init::uniform(&[rows, cols], -scale, scale, rng)
        .into_dimensionality::<Ix2>()
        .unwrap()
}

/// Random test data: a vector from U(-scale, scale).
pub fn rand1(len: usize, scale: f64, rng: &mut rnn::init::Rng) -> Array1<f64> {
    rnn::init::uniform(&[len], -scale, scale, rng)
        .into_dimensionality::<Ix1>()
        .unwrap()
}

/// Random test data: a `(T, B, D)` tensor from U(-scale, scale).
pub fn rand3(t: usize, b: usize, d: usize, scale: f64, rng: &mut rnn::init::Rng) -> Array3<f64> {
    rnn::init::uniform(&[t, b, d], -scale, scale, rng)
        .into_dimensionality::<Ix3>()
        .unwrap()
}
