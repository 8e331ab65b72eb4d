//! Chapter 5: how the gradient reaching h_k shrinks or grows with the distance T - k.
//!
//! ```console
//! cargo run --release -p rnn --example ch05_gradient_norms -- book/src/figures
//! ```
//!
//! Every network reads B = 8 random sequences of T = 100 steps (D = 4, H = 64). The loss reads only the
//! last hidden state, L = Σ u ⊙ h_T with a fixed random u of norm 1, so ∂L/∂h_T = u and every earlier
//! ∂L/∂h_k has travelled T - k steps back through the recurrence. The program prints ‖∂L/∂h_k‖ and, given
//! a folder, writes three figures there. Next to the tables of norms it prints what the per-step factors
//! are made of: the spectral radius ρ and the largest singular value σ_max of each W_hh, the split of every
//! Elman step into the stretch by W_hhᵀ and the shrink by diag(1 - h²), where in the run the exploding
//! gradient grows fastest, and which paths carry the LSTM's gradient.
//!
//! Figures:
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

/// The spectral radius ρ(W) = max |λ|, by Gelfand's formula ρ(W) = lim ‖Wⁿ‖^{1/n} with n = 2⁴⁰: W is
/// squared 40 times, each square rescaled to Frobenius norm 1 and the logarithms of the scales summed.
fn spectral_radius(w: &Array2<f64>) -> f64 {
    let scale = frobenius(w);
    let mut m = w / scale; // (H, H), W^(2^k) / its norm
    let mut log_norm = scale.ln(); // ln ‖W^(2^k)‖ without the last rescaling
    let mut n = 1.0_f64; // 2^k
    for _ in 0..40 {
        let sq = m.dot(&m);
        let s = frobenius(&sq);
        m = sq / s;
        log_norm = 2.0 * log_norm + s.ln();
        n *= 2.0;
    }
    (log_norm / n).exp()
}

/// The largest singular value σ_max(W) = √ρ(WᵀW).
fn sigma_max(w: &Array2<f64>) -> f64 {
    spectral_radius(&w.t().dot(w)).sqrt()
}

/// One step back through a tanh Elman cell, ∂L/∂h_{t-1} = W_hhᵀ (diag(1 - h_t²) ∂L/∂h_t) in the book's
/// column-vector notation, split into its two factors.
struct StepFactors {
    /// ‖diag(1 - h_t²) g‖ / ‖g‖ for g = ∂L/∂h_t: what the tanh derivative leaves of the gradient.
    shrink: f64,
    /// ‖W_hhᵀ v‖ / ‖v‖ for v = diag(1 - h_t²) g: how much the recurrent matrix stretches what is left.
    stretch: f64,
    /// The mean of 1 - h_t² over the batch and the units: how near zero the states are.
    mean_dtanh: f64,
}

/// [`StepFactors`] of every step of the tanh cell `cell`, from step T back to step 1 (the same loop as
/// `state_grad_norms`; the product shrink · stretch of a step is ‖∂L/∂h_{t-1}‖ / ‖∂L/∂h_t‖).
fn elman_step_factors(cell: &Elman, xs: &Array3<f64>, u: &Array2<f64>) -> Vec<StepFactors> {
    assert_eq!(
        cell.nonlinearity,
        Nonlinearity::Tanh,
        "the split uses tanh' = 1 - h²"
    );
    let run = unroll(cell, xs.view(), &cell.zero_state(B));
    let mut grads = cell.zeros_like();
    let mut g = u.clone(); // (B, H), ∂L/∂h_t
    let mut steps = Vec::with_capacity(T);
    for cache in run.caches.iter().rev() {
        let dtanh = cache.h.mapv(|h| 1.0 - h * h); // (B, H)
        let v = &g * &dtanh; // (B, H), ∂L/∂a_t
        let (_dx, d_prev) = cell.backward(cache, &State::from_h(g.clone()), &mut grads);
        steps.push(StepFactors {
            shrink: frobenius(&v) / frobenius(&g),
            stretch: frobenius(&d_prev.h) / frobenius(&v),
            mean_dtanh: dtanh.mean().unwrap(),
        });
        g = d_prev.h;
    }
    steps
}

/// The geometric mean of `values`.
fn geometric_mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v.ln(), n + 1));
    (sum / n as f64).exp()
}

/// Which way back an LSTM's gradient may go, for [`lstm_path_rates`].
#[derive(Clone, Copy, PartialEq)]
enum Path {
    /// The full backward step: ∂L/∂h_{t-1} and ∂L/∂c_{t-1}.
    Both,
    /// Only along the cell state: ∂L/∂h_{t-1} is set to zero after every step, so that
    /// ∂L/∂c_{t-1} = f_t ⊙ ∂L/∂c_t from step T - 1 on.
    CellOnly,
    /// Only through the gates and W_hh: ∂L/∂c_{t-1} is set to zero after every step.
    HiddenOnly,
}

/// The per-step factor of the gradient of an LSTM with only `path` open: of ‖∂L/∂c_k‖ over steps T - 1
/// to 0 for [`Path::CellOnly`] (∂L/∂c_T is zero), of ‖∂L/∂h_k‖ over T to 0 otherwise.
fn lstm_path_rate(cell: &Lstm, xs: &Array3<f64>, u: &Array2<f64>, path: Path) -> f64 {
    let run = unroll(cell, xs.view(), &cell.zero_state(B));
    let mut grads = cell.zeros_like();
    let mut d = run.last.zeros_like();
    d.h.assign(u);
    let mut c_start = 0.0;
    for t in (0..T).rev() {
        let (_dx, mut d_prev) = cell.backward(&run.caches[t], &d, &mut grads);
        match path {
            Path::Both => {}
            Path::CellOnly => d_prev.h.fill(0.0),
            Path::HiddenOnly => d_prev.c.as_mut().unwrap().fill(0.0),
        }
        if t == T - 1 {
            c_start = frobenius(d_prev.c.as_ref().unwrap());
        }
        d = d_prev;
    }
    match path {
        Path::CellOnly => (frobenius(d.c.as_ref().unwrap()) / c_start).powf(1.0 / (T - 1) as f64),
        _ => (frobenius(&d.h) / frobenius(u)).powf(1.0 / T as f64),
    }
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
    println!();

    // 1b. What each per-step factor is made of
    let mut cells: Vec<(String, Elman)> = [0.5, 0.9, 1.0, 1.1, 1.5]
        .iter()
        .map(|&rho| {
            (
                format!("Elman rho = {rho}"),
                elman_with_radius(rho, &mut rng(1)),
            )
        })
        .collect();
    cells.push(("Elman, default init".into(), Elman::new(D, H, &mut rng(1))));
    println!("one step back: dL/dh_(k-1) = W_hh^T (diag(1 - h_k^2) dL/dh_k); geometric means over the {T} steps");
    println!(
        "{:<22}{:>11}{:>11}{:>11}{:>11}{:>10}",
        "", "rho(W_hh)", "sigma_max", "shrink", "stretch", "per step"
    );
    for (name, cell) in &cells {
        let steps = elman_step_factors(cell, &xs, &u);
        let shrink = geometric_mean(steps.iter().map(|s| s.shrink));
        let stretch = geometric_mean(steps.iter().map(|s| s.stretch));
        println!(
            "{name:<22}{:>11.3}{:>11.3}{:>11.3}{:>11.3}{:>10.3}",
            spectral_radius(&cell.weight_hh),
            sigma_max(&cell.weight_hh),
            shrink,
            stretch,
            shrink * stretch
        );
    }
    println!("(shrink: ||diag(1 - h_k^2) g|| / ||g|| for g = dL/dh_k; stretch: ||W_hh^T v|| / ||v|| for what is left, v)\n");

    // 1c. Where the exploding gradient grows
    let mut steps = elman_step_factors(&cells[4].1, &xs, &u);
    steps.sort_by(|a, b| a.mean_dtanh.total_cmp(&b.mean_dtanh));
    println!("Elman rho = 1.5: the {T} steps in four groups by how near zero the states are (mean of 1 - h_k^2)");
    println!(
        "{:<22}{:>17}{:>11}{:>11}",
        "", "mean 1 - h_k^2", "per step", "largest"
    );
    for (q, group) in steps.chunks(T / 4).enumerate() {
        println!(
            "{:<22}{:>17}{:>11.3}{:>11.3}",
            format!("group {} of 4", q + 1),
            format!(
                "{:.3} to {:.3}",
                group[0].mean_dtanh,
                group[group.len() - 1].mean_dtanh
            ),
            geometric_mean(group.iter().map(|s| s.shrink * s.stretch)),
            group
                .iter()
                .map(|s| s.shrink * s.stretch)
                .fold(0.0, f64::max)
        );
    }
    println!();

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
    println!();

    // 2b. The paths of the LSTM's gradient, and the mean gates
    println!("LSTM: per-step factor with one path of the gradient cut; f_t over the {T} steps and {B} sequences");
    println!(
        "{:<22}{:>8}{:>12}{:>12}{:>12}{:>10}",
        "", "mean f", "most open", "cell only", "h only", "both"
    );
    for (name, cell) in [("LSTM", &lstm), ("LSTM forget bias 1", &lstm_fb)] {
        let run = unroll(cell, xs.view(), &cell.zero_state(B));
        let mean_f = run.caches.iter().map(|c| c.f.sum()).sum::<f64>() / (T * B * H) as f64;
        // the (sequence, unit) whose forget gate stays most open: largest geometric mean of f over time
        let most_open = (0..B)
            .flat_map(|b| (0..H).map(move |i| (b, i)))
            .map(|(b, i)| geometric_mean(run.caches.iter().map(|c| c.f[[b, i]])))
            .fold(0.0, f64::max);
        println!(
            "{name:<22}{mean_f:>8.3}{most_open:>12.3}{:>12.3}{:>12.3}{:>10.3}",
            lstm_path_rate(cell, &xs, &u, Path::CellOnly),
            lstm_path_rate(cell, &xs, &u, Path::HiddenOnly),
            lstm_path_rate(cell, &xs, &u, Path::Both),
        );
    }
    let run = unroll(&gru, xs.view(), &gru.zero_state(B));
    let mean_z = run.caches.iter().map(|c| c.z.sum()).sum::<f64>() / (T * B * H) as f64;
    println!("GRU: mean update gate z = {mean_z:.3}\n");

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
