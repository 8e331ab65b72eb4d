//! Worked answers to chapter 5's exercises: every number the answers quote is printed here.
//!
//! ```console
//! cargo run --release -q -p rnn --example answers_ch05
//! ```
//!
//! The book includes this file's `// ANCHOR: exK` regions into the answer to exercise K, and the lines of
//! its output (`book/src/outputs/answers_ch05.txt`) between the printed `// ANCHOR: exK` and
//! `// ANCHOR_END: exK` (mdBook finds anchors in any file; `cargo xtask book` checks them).
//! Exercise 1 is a lab (its solution is in `labs/solutions/`).
//!
//! Exercises 3, 4 and 6 repeat the measurement of `ch05_gradient_norms.rs` (B = 8 sequences of T = 100
//! steps, D = 4, H = 64, data seed 2015, cell seed 1, the loss L = Σ u ⊙ h_T with ‖u‖ = 1) with other
//! cells. That example stays as the chapter shows it: its setup and its measuring loop are repeated here
//! with the library's public API.

use ndarray::{Array1, Array2, Array3, Ix2, Ix3};
use rnn::activation::Nonlinearity;
use rnn::bptt::unroll;
use rnn::cells::LstmOptions;
use rnn::init::{orthogonal, rng, uniform};
use rnn::optim::{clip_by_global_norm, clip_by_value, global_norm};
use rnn::prelude::*;

const T: usize = 100;
const B: usize = 8;
const D: usize = 4;
const H: usize = 64;

/// The chapter's data: inputs `(T, B, D)` uniform in [-1, 1] times `scale`, and u `(B, H)` of norm 1.
fn data(scale: f64) -> (Array3<f64>, Array2<f64>) {
    let mut data_rng = rng(2015);
    let xs = uniform(&[T, B, D], -1.0, 1.0, &mut data_rng)
        .into_dimensionality::<Ix3>()
        .unwrap()
        * scale;
    let mut u = as2(uniform(&[B, H], -1.0, 1.0, &mut data_rng));
    u /= frobenius(&u);
    (xs, u)
}

/// ‖∂L/∂h_k‖ for k = 0..=T, for L = Σ u ⊙ h_T (the loop of `ch05_gradient_norms.rs`).
fn state_grad_norms<C: Cell>(cell: &C, xs: &Array3<f64>, u: &Array2<f64>) -> Vec<f64> {
    let run = unroll(cell, xs.view(), &cell.zero_state(B));
    let mut grads = cell.zeros_like();
    let mut d = run.last.zeros_like();
    d.h.assign(u);
    let mut norms = vec![0.0; T + 1];
    for t in (0..T).rev() {
        norms[t + 1] = frobenius(&d.h);
        let (_dx, d_prev) = cell.backward(&run.caches[t], &d, &mut grads);
        d = d_prev;
    }
    norms[0] = frobenius(&d.h);
    norms
}

/// The per-step factor (‖∂L/∂h_0‖ / ‖∂L/∂h_T‖)^(1/T).
fn per_step(norms: &[f64]) -> f64 {
    (norms[0] / norms[T]).powf(1.0 / T as f64)
}

fn frobenius(a: &Array2<f64>) -> f64 {
    a.iter().map(|v| v * v).sum::<f64>().sqrt()
}

fn as2(a: ndarray::ArrayD<f64>) -> Array2<f64> {
    a.into_dimensionality::<Ix2>().unwrap()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

// ANCHOR: ex2
/// The largest singular value σ_max(A) = √ρ(AᵀA), by power iteration on AᵀA (symmetric, so the iteration
/// converges to its largest eigenvalue).
fn sigma_max(a: &Array2<f64>) -> f64 {
    let ata = a.t().dot(a);
    let mut v = Array1::<f64>::ones(a.ncols());
    let mut lambda = 0.0;
    for _ in 0..2000 {
        let w = ata.dot(&v);
        lambda = w.dot(&w).sqrt() / v.dot(&v).sqrt();
        v = &w / w.dot(&w).sqrt();
    }
    lambda.sqrt()
}

/// Exercise 2: ‖diag(d) W‖ against max |d_i| σ_max(W) for a default-initialised W_hh and the tanh
/// derivatives 1 - h² of one step of the chapter's data.
fn exercise_2() {
    let cell = Elman::new(D, H, &mut rng(1));
    let (xs, _) = data(1.0);
    let run = unroll(&cell, xs.view(), &cell.zero_state(B));
    let h = run.caches[T - 1].h.row(0).to_owned(); // h_T of the first sequence
    let d = h.mapv(|v| 1.0 - v * v); // tanh' = 1 - h², in (0, 1]
    let dmax = d.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    let dw = Array2::from_diag(&d).dot(&cell.weight_hh);
    println!(
        "sigma_max(W_hh) = {:.3}, max |d_i| = {dmax:.3}: bound {:.3}; sigma_max(diag(d) W_hh) = {:.3}",
        sigma_max(&cell.weight_hh),
        dmax * sigma_max(&cell.weight_hh),
        sigma_max(&dw)
    );
    // With every d_i equal the bound is an equality: diag(d) W = d W.
    let half = Array2::<f64>::eye(H) * 0.5;
    println!(
        "with every d_i = 0.5: sigma_max(diag(d) W_hh) = {:.3} = 0.5 sigma_max(W_hh)",
        sigma_max(&half.dot(&cell.weight_hh))
    );
}
// ANCHOR_END: ex2

// ANCHOR: ex3
/// An Elman cell whose W_hh is an orthogonal matrix scaled by `rho` (as in `ch05_gradient_norms.rs`).
fn elman_with_radius(rho: f64) -> Elman {
    let mut r = rng(1);
    let mut cell = Elman::new(D, H, &mut r);
    cell.weight_hh = orthogonal(H, H, rho, &mut r);
    cell
}

/// Exercise 3: ρ from 1.0 to 1.6, inputs as in the chapter and five times larger.
fn exercise_3() {
    println!(
        "{:<6}{:>28}{:>28}",
        "", "inputs U(-1, 1)", "inputs 5 x U(-1, 1)"
    );
    println!(
        "{:<6}{:>12}{:>9}{:>7}{:>12}{:>9}{:>7}",
        "rho", "||dL/dh_0||", "factor", "1-h^2", "||dL/dh_0||", "factor", "1-h^2"
    );
    for i in 0..=6 {
        let rho = 1.0 + 0.1 * i as f64;
        let cell = elman_with_radius(rho);
        print!("{rho:<6.1}");
        for scale in [1.0, 5.0] {
            let (xs, u) = data(scale);
            let norms = state_grad_norms(&cell, &xs, &u);
            let run = unroll(&cell, xs.view(), &cell.zero_state(B));
            let dtanh = run.outputs.mapv(|h| 1.0 - h * h).mean().unwrap();
            print!("{:>12.2e}{:>9.3}{:>7.3}", norms[0], per_step(&norms), dtanh);
        }
        println!();
    }
    println!(
        "(factor: per step over the 100 steps; 1-h^2: its mean over every step, sequence and unit)"
    );
}
// ANCHOR_END: ex3

// ANCHOR: ex4
/// The per-step factor of an LSTM's ‖∂L/∂c_k‖ with ∂L/∂h_{k} set to zero after every step (only the cell
/// state carries the gradient), over steps T - 1 to 0 (as `lstm_path_rate` of `ch05_gradient_norms.rs`).
fn cell_only_rate(cell: &Lstm, xs: &Array3<f64>, u: &Array2<f64>) -> f64 {
    let run = unroll(cell, xs.view(), &cell.zero_state(B));
    let mut grads = cell.zeros_like();
    let mut d = run.last.zeros_like();
    d.h.assign(u);
    let mut c_start = 0.0;
    for t in (0..T).rev() {
        let (_dx, mut d_prev) = cell.backward(&run.caches[t], &d, &mut grads);
        d_prev.h.fill(0.0);
        if t == T - 1 {
            c_start = frobenius(d_prev.c.as_ref().unwrap());
        }
        d = d_prev;
    }
    (frobenius(d.c.as_ref().unwrap()) / c_start).powf(1.0 / (T - 1) as f64)
}

/// Exercise 4: the LSTM with forget-gate bias 0 (PyTorch's default), 1, 2 and 3.
fn exercise_4() {
    let (xs, u) = data(1.0);
    println!(
        "{:<12}{:>9}{:>9}{:>11}{:>11}{:>11}{:>12}",
        "forget bias", "sigma(b)", "mean f", "most open", "cell only", "per step", "||dL/dh_0||"
    );
    for b in [0.0, 1.0, 2.0, 3.0] {
        let opts = LstmOptions {
            forget_bias: b,
            ..LstmOptions::default()
        };
        let cell = Lstm::with_options(D, H, opts, &mut rng(1));
        let run = unroll(&cell, xs.view(), &cell.zero_state(B));
        let mean_f = run.caches.iter().map(|c| c.f.sum()).sum::<f64>() / (T * B * H) as f64;
        // the (sequence, unit) whose forget gate stays most open: largest geometric mean of f over time
        let most_open = (0..B)
            .flat_map(|s| (0..H).map(move |i| (s, i)))
            .map(|(s, i)| {
                let logs: f64 = run.caches.iter().map(|c| c.f[[s, i]].ln()).sum();
                (logs / T as f64).exp()
            })
            .fold(0.0, f64::max);
        let norms = state_grad_norms(&cell, &xs, &u);
        println!(
            "{b:<12}{:>9.3}{mean_f:>9.3}{most_open:>11.3}{:>11.3}{:>11.3}{:>12.2e}",
            sigmoid(b),
            cell_only_rate(&cell, &xs, &u),
            per_step(&norms),
            norms[0]
        );
    }
}
// ANCHOR_END: ex4

// ANCHOR: ex5
/// Exercise 5: a gradient with every entry equal to c = 1, for the parameters of an Elman cell with
/// D = 2, H = 64.
fn exercise_5() {
    let c = 1.0;
    let mut g = Elman::new(2, 64, &mut rng(0)).zeros_like();
    for (_, mut p) in g.params_mut() {
        p.fill(c);
    }
    let n = g.num_params();
    println!(
        "N = {n} entries, each {c}: norm {:.3} = c sqrt(N) = {:.3}",
        global_norm(&g),
        c * (n as f64).sqrt()
    );
    let mut by_value = g.clone();
    clip_by_value(&mut by_value, c);
    let unchanged = by_value
        .params()
        .iter()
        .zip(g.params())
        .all(|((_, a), (_, b))| a == b);
    println!(
        "clip_by_value({c}): unchanged {unchanged}, norm still {:.3}",
        global_norm(&by_value)
    );
    let mut by_norm = g.clone();
    let before = clip_by_global_norm(&mut by_norm, c);
    println!(
        "clip_by_global_norm({c}): norm {before:.3} -> {:.6}, every entry now {:.6} = 1 / sqrt(N)",
        global_norm(&by_norm),
        by_norm.weight_hh[[0, 0]]
    );
}
// ANCHOR_END: ex5

// ANCHOR: ex6
/// The IRNN of the chapter (ReLU, zero biases, input weights N(0, 0.001²)) with W_hh = `gain` · I.
fn irnn(gain: f64) -> Elman {
    let mut r = rng(1);
    let mut cell = Elman::with_nonlinearity(D, H, Nonlinearity::Relu, &mut r);
    cell.weight_hh = Array2::eye(H) * gain;
    cell.bias_ih = Array1::zeros(H);
    cell.bias_hh = Array1::zeros(H);
    cell.weight_ih = as2(rnn::init::normal(&[H, D], 0.001, &mut r));
    cell
}

/// Exercise 6: W_hh = 0.9 I, I and 1.05 I: the gradient norm, and the size of the states going forward.
fn exercise_6() {
    let (xs, u) = data(1.0);
    println!(
        "{:<10}{:>12}{:>9}{:>11}{:>11}{:>11}{:>11}{:>8}",
        "W_hh", "||dL/dh_0||", "factor", "||h_1||", "||h_25||", "||h_50||", "||h_100||", "active"
    );
    for gain in [0.9, 1.0, 1.05] {
        let cell = irnn(gain);
        let norms = state_grad_norms(&cell, &xs, &u);
        let run = unroll(&cell, xs.view(), &cell.zero_state(B));
        let size = |t: usize| frobenius(&run.caches[t - 1].h);
        let active = run.outputs.iter().filter(|&&h| h > 0.0).count() as f64 / (T * B * H) as f64;
        // W_hh is diagonal, so unit i's gradient travels back along unit i alone and is multiplied by
        // gain at every step where the unit is active, by 0 where it is not: it reaches h_0 only if the
        // unit stays active for all T steps.
        let always: Vec<(usize, usize)> = (0..B)
            .flat_map(|s| (0..H).map(move |i| (s, i)))
            .filter(|&(s, i)| run.caches.iter().all(|c| c.h[[s, i]] > 0.0))
            .collect();
        let u_on = always
            .iter()
            .map(|&(s, i)| u[[s, i]].powi(2))
            .sum::<f64>()
            .abs()
            .sqrt();
        println!(
            "{:<10}{:>12.2e}{:>9.3}{:>11.2e}{:>11.2e}{:>11.2e}{:>11.2e}{:>8.3}",
            format!("{gain} I"),
            norms[0],
            per_step(&norms),
            size(1),
            size(25),
            size(50),
            size(100),
            active
        );
        println!(
            "{:<10}always active: {} of {} (sequence, unit) pairs; gain^100 x ||u on them|| = {:.2e}",
            "",
            always.len(),
            B * H,
            gain.powi(T as i32) * u_on
        );
    }
    println!(
        "0.9^100 = {:.2e}, 1.05^100 = {:.2e}; active: the fraction of (step, sequence, unit) with h > 0",
        0.9f64.powi(100),
        1.05f64.powi(100)
    );
}
// ANCHOR_END: ex6

fn main() {
    let exercises: [(&str, fn()); 5] = [
        ("ex2", exercise_2),
        ("ex3", exercise_3),
        ("ex4", exercise_4),
        ("ex5", exercise_5),
        ("ex6", exercise_6),
    ];
    for (name, run) in exercises {
        // The book quotes the lines between these markers (mdBook's anchors).
        println!("// ANCHOR: {name}");
        run();
        println!("// ANCHOR_END: {name}");
    }
}
