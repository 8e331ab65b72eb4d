//! Chapter 5: how the gradient reaching h_k shrinks or grows with the distance T - k.
//!
//! ```console
//! cargo run --release -p rnn --example ch05_gradient_norms -- book/src/figures
//! ```
//!
//! Every network reads B = 8 random sequences of T = 100 steps (D = 4, H = 64). The loss reads only the
//! last hidden state, L = Σ u ⊙ h_T with a fixed random u of norm 1, so ∂L/∂h_T = u and every earlier
//! ∂L/∂h_k has travelled T - k steps back through the recurrence. The program prints ‖∂L/∂h_k‖ and, given
//! a folder, writes three figures there:
//!
//! - `ch05-spectral-radius.svg`: an Elman (tanh) cell whose W_hh is an orthogonal matrix times ρ;
//! - `ch05-cells.svg`: Elman, LSTM and GRU at PyTorch's default initialisation;
//! - `ch05-init.svg`: Elman at default init, with orthogonal W_hh, and the IRNN (ReLU, W_hh = I).

use std::path::PathBuf;

use ndarray::{Array1, Array2, Array3, Ix2, Ix3};
use rnn::activation::Nonlinearity;
use rnn::bptt::unroll;
use rnn::cells::LstmOptions;
use rnn::init::{orthogonal, rng, uniform, Rng};
use rnn::plot::LineChart;
use rnn::prelude::*;

const T: usize = 100;
const B: usize = 8;
const D: usize = 4;
const H: usize = 64;

// ANCHOR: state_grad_norms
/// ‖∂L/∂h_k‖ for k = 0..=T (k = 0 is the initial state), for the loss L = Σ u ⊙ h_T.
///
/// This is the loop of `rnn::bptt::bptt`, kept here because we want to look at the gradient that
/// reaches every state on the way, not only the parameter gradients at the end.
fn state_grad_norms<C: Cell>(cell: &C, xs: &Array3<f64>, u: &Array2<f64>) -> Vec<f64> {
    let run = unroll(cell, xs.view(), &cell.zero_state(B));
    let mut grads = cell.zeros_like();
    // ∂L/∂state_T: u for h_T, zero for an LSTM's c_T
    let mut d = run.last.zeros_like();
    d.h.assign(u);
    let mut norms = vec![0.0; T + 1];
    for t in (0..T).rev() {
        // outputs[t] is h_{t+1} in the book's numbering
        norms[t + 1] = frobenius(&d.h);
        let (_dx, d_prev) = cell.backward(&run.caches[t], &d, &mut grads);
        d = d_prev; // no loss term at earlier steps: only dh_next flows
    }
    norms[0] = frobenius(&d.h);
    norms
}
// ANCHOR_END: state_grad_norms

fn frobenius(a: &Array2<f64>) -> f64 {
    a.iter().map(|v| v * v).sum::<f64>().sqrt()
}

fn as2(a: ndarray::ArrayD<f64>) -> Array2<f64> {
    a.into_dimensionality::<Ix2>().unwrap()
}

// ANCHOR: scaled_elman
/// An Elman cell (PyTorch's default init) whose recurrent matrix is replaced by an orthogonal matrix
/// scaled by `rho`: every singular value, and the spectral radius, of W_hh is then exactly `rho`.
fn elman_with_radius(rho: f64, rng: &mut Rng) -> Elman {
    let mut cell = Elman::new(D, H, rng);
    cell.weight_hh = orthogonal(H, H, rho, rng);
    cell
}

/// The IRNN of Le, Jaitly & Hinton (2015): ReLU units, W_hh = I, zero biases, small input weights.
fn irnn(rng: &mut Rng) -> Elman {
    let mut cell = Elman::with_nonlinearity(D, H, Nonlinearity::Relu, rng);
    cell.weight_hh = Array2::eye(H);
    cell.bias_ih = Array1::zeros(H);
    cell.bias_hh = Array1::zeros(H);
    cell.weight_ih = as2(rnn::init::normal(&[H, D], 0.001, rng));
    cell
}
// ANCHOR_END: scaled_elman

fn series(norms: &[f64]) -> Vec<(f64, f64)> {
    norms
        .iter()
        .enumerate()
        .map(|(k, &n)| (k as f64, n))
        .collect()
}

fn print_table(title: &str, rows: &[(String, Vec<f64>)]) {
    println!("{title}");
    print!("{:<22}", "k (distance T-k)");
    for k in [100, 90, 75, 50, 25, 0] {
        print!("{:>11}", format!("{k} ({})", T - k));
    }
    println!("{:>10}", "per step");
    for (name, norms) in rows {
        print!("{name:<22}");
        for k in [100, 90, 75, 50, 25, 0] {
            print!("{:>11.2e}", norms[k]);
        }
        // the geometric mean of ‖∂L/∂h_{k-1}‖ / ‖∂L/∂h_k‖ over the T steps
        println!("{:>10.3}", (norms[0] / norms[T]).powf(1.0 / T as f64));
    }
    println!();
}

fn main() {
    let out: Option<PathBuf> = std::env::args().nth(1).map(PathBuf::from);
    let mut data_rng = rng(2015);
    let xs: Array3<f64> = uniform(&[T, B, D], -1.0, 1.0, &mut data_rng)
        .into_dimensionality::<Ix3>()
        .unwrap();
    let mut u = as2(uniform(&[B, H], -1.0, 1.0, &mut data_rng));
    u /= frobenius(&u); // ‖∂L/∂h_T‖ = 1

    println!("T = {T}, B = {B}, D = {D}, H = {H}; L = Σ u ⊙ h_T with ‖u‖ = 1; ‖∂L/∂h_k‖ (Frobenius over the batch)\n");

    // 1. Elman, W_hh = ρ · orthogonal
    let mut rows = vec![];
    for rho in [0.5, 0.9, 1.0, 1.1, 1.5] {
        let cell = elman_with_radius(rho, &mut rng(1));
        rows.push((
            format!("Elman rho = {rho}"),
            state_grad_norms(&cell, &xs, &u),
        ));
    }
    print_table("Elman (tanh), W_hh = rho x orthogonal", &rows);
    let chart = rows.iter().fold(
        LineChart::new(
            "Elman (tanh), W_hh = ρ · orthogonal",
            "step k",
            "‖∂L/∂h_k‖ (loss at T = 100)",
        ),
        |c, (name, n)| c.series(name.trim_start_matches("Elman "), series(n)),
    );
    save(chart.log_y(true), &out, "ch05-spectral-radius.svg");

    // 2. The three cells at PyTorch's default init
    let elman = Elman::new(D, H, &mut rng(1));
    let lstm = Lstm::new(D, H, &mut rng(1));
    let lstm_fb = Lstm::with_options(
        D,
        H,
        LstmOptions {
            forget_bias: 1.0,
            ..LstmOptions::default()
        },
        &mut rng(1),
    );
    let gru = Gru::new(D, H, &mut rng(1));
    let rows = vec![
        ("Elman".to_string(), state_grad_norms(&elman, &xs, &u)),
        ("LSTM".to_string(), state_grad_norms(&lstm, &xs, &u)),
        (
            "LSTM forget bias 1".to_string(),
            state_grad_norms(&lstm_fb, &xs, &u),
        ),
        ("GRU".to_string(), state_grad_norms(&gru, &xs, &u)),
    ];
    print_table("default initialisation U(-1/sqrt(H), 1/sqrt(H))", &rows);
    let chart = rows.iter().fold(
        LineChart::new(
            "Elman, LSTM and GRU at default initialisation",
            "step k",
            "‖∂L/∂h_k‖ (loss at T = 100)",
        ),
        |c, (name, n)| c.series(name, series(n)),
    );
    save(chart.log_y(true), &out, "ch05-cells.svg");

    // 3. Initialisation of the Elman cell
    let default = Elman::new(D, H, &mut rng(1));
    let ortho = elman_with_radius(1.0, &mut rng(1));
    let relu_default = Elman::with_nonlinearity(D, H, Nonlinearity::Relu, &mut rng(1));
    let irnn = irnn(&mut rng(1));
    let rows = vec![
        (
            "tanh, default".to_string(),
            state_grad_norms(&default, &xs, &u),
        ),
        (
            "tanh, orthogonal".to_string(),
            state_grad_norms(&ortho, &xs, &u),
        ),
        (
            "ReLU, default".to_string(),
            state_grad_norms(&relu_default, &xs, &u),
        ),
        (
            "IRNN (ReLU, W_hh = I)".to_string(),
            state_grad_norms(&irnn, &xs, &u),
        ),
    ];
    print_table("Elman initialisations", &rows);
    let chart = rows.iter().fold(
        LineChart::new(
            "Elman: initialisation of W_hh",
            "step k",
            "‖∂L/∂h_k‖ (loss at T = 100)",
        ),
        |c, (name, n)| c.series(name, series(n)),
    );
    save(chart.log_y(true), &out, "ch05-init.svg");
}

fn save(chart: LineChart, out: &Option<PathBuf>, name: &str) {
    if let Some(dir) = out {
        let path = dir.join(name);
        std::fs::create_dir_all(dir).expect("create the figures folder");
        chart.to_svg().save(&path).expect("write the figure");
        println!("wrote {}", path.display());
    }
}
