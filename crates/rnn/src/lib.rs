//! # `rnn`: recurrent neural networks from scratch
//!
//! The library behind the course *Recurrent Neural Networks from Scratch, in Rust*. Every equation of the
//! book is a function here, every backward pass is written by hand and checked against finite differences,
//! and every cell matches PyTorch's `nn.RNN`, `nn.LSTM` and `nn.GRU` numerically.
//!
//! Conventions used everywhere:
//! - `f64` throughout (finite-difference checks need it);
//! - sequences are time-major: `(T, B, D)` = (time steps, batch, features);
//! - batches are rows: a step computes `h = x·W_ihᵀ + b_ih + h_prev·W_hhᵀ + b_hh`;
//! - parameters carry PyTorch's names, shapes and gate orders (`weight_ih_l0`, LSTM gates `i, f, g, o`,
//!   GRU gates `r, z, n`), so weights move both ways through [`checkpoint`];
//! - Keras' `SimpleRNN`, `LSTM` and `GRU` weights (kernel, recurrent kernel, bias) convert to and from
//!   those names through [`interop`].
//!
//! ```
//! use rnn::prelude::*;
//!
//! let mut rng = rnn::init::rng(0);
//! let cell = Lstm::new(3, 5, &mut rng); // input size 3, hidden size 5
//! let xs = rnn::init::uniform(&[7, 2, 3], -1.0, 1.0, &mut rng).into_dimensionality().unwrap(); // (T, B, D)
//! let run = rnn::bptt::unroll(&cell, xs.view(), &cell.zero_state(2));
//! assert_eq!(run.outputs.dim(), (7, 2, 5)); // (T, B, H)
//! ```

#![warn(missing_docs)]

pub mod activation;
pub mod bptt;
pub mod cells;
pub mod checkpoint;
pub mod data;
pub mod error;
pub mod files;
pub mod gradcheck;
pub mod init;
pub mod interop;
pub mod layers;
pub mod linalg;
pub mod loss;
pub mod models;
pub mod optim;
pub mod params;
pub mod plot;
pub mod sample;
pub mod stack;
pub mod stack_mask;
pub mod tasks;
pub mod tensors;
pub mod viz;

pub use error::{Error, Result};

/// The names most programs need, in one `use rnn::prelude::*;`.
pub mod prelude {
    pub use crate::cells::{Cell, Elman, Gru, Lstm, State};
    pub use crate::params::Parameters;
}
