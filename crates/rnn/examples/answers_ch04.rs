//! Worked answers to chapter 4's exercises: every number the answers quote is printed here.
//!
//! ```console
//! cargo run --release -q -p rnn --example answers_ch04
//! ```
//!
//! The book includes this file's `// ANCHOR: exK` regions into the answer to exercise K, and the lines of
//! its output (`book/src/outputs/answers_ch04.txt`) between the printed `// ANCHOR: exK` and
//! `// ANCHOR_END: exK` (mdBook finds anchors in any file; `cargo xtask book` checks them).
//! Exercises 1 and 2 are labs (their solutions are in `labs/solutions/`).
//!
//! Exercise 3 adds two broken cells to the gradient check of `ch04_gradcheck.rs`, exercise 5 repeats the
//! notebook's step-size experiment (and the same in `f32`), exercise 6 the truncation experiment of
//! `ch04_truncated_bptt.rs` with the loss on the last step only. Those examples stay as the chapter shows
//! them: their setups (seeds, sizes) are repeated here with the library's public API.

use ndarray::{s, Array2, Array3, ArrayView2, ArrayViewD, ArrayViewMutD, Axis, Ix3};
use rnn::bptt::{bptt, unroll};
use rnn::cells::ElmanCache;
use rnn::gradcheck::{check_cell, Report, TOLERANCE};
use rnn::prelude::*;

/// A relative error as the answers quote it: rounding noise (a correct gradient) is not printed digit by
/// digit, since its last digits depend on the machine.
fn rel(e: f64) -> String {
    if e < 1e-9 {
        "below 1e-9".to_string()
    } else {
        format!("{e:.2e}")
    }
}

// ANCHOR: ex3
/// Bug 3a: the tanh derivative taken at the pre-activation, 1 - a², instead of at the output, 1 - h².
/// The cache holds h = tanh(a), so a = atanh(h); everything else is (4.2)-(4.6) as in the library.
#[derive(Clone)]
struct DerivativeAtA(Elman);

impl DerivativeAtA {
    fn backward_step(
        &self,
        cache: &ElmanCache,
        d_next: &State,
        grads: &mut Self,
    ) -> (Array2<f64>, State) {
        let a = cache.h.mapv(f64::atanh); // (B, H)
        let da = &d_next.h * &a.mapv(|a| 1.0 - a * a); // wrong (4.1): should be 1 - h²
        let g = &mut grads.0;
        g.weight_ih += &da.t().dot(&cache.x); // (4.2)
        g.weight_hh += &da.t().dot(&cache.h_prev); // (4.3)
        g.bias_ih += &da.sum_axis(Axis(0)); // (4.4)
        g.bias_hh += &da.sum_axis(Axis(0)); // (4.4)
        let dx = da.dot(&self.0.weight_ih); // (4.5)
        let dh_prev = da.dot(&self.0.weight_hh); // (4.6)
        (dx, State::from_h(dh_prev))
    }
}

/// Bug 3b: the gradient of `bias_hh` is never accumulated (it stays zero); the rest is right.
#[derive(Clone)]
struct ForgetsBiasHh(Elman);

impl ForgetsBiasHh {
    fn backward_step(
        &self,
        cache: &ElmanCache,
        d_next: &State,
        grads: &mut Self,
    ) -> (Array2<f64>, State) {
        let kept = grads.0.bias_hh.clone();
        let out = self.0.backward(cache, d_next, &mut grads.0);
        grads.0.bias_hh = kept; // wrong (4.4): bias_hh gets nothing
        out
    }
}

fn exercise_3() {
    let (d, h, t_len, batch) = (3, 4, 6, 2); // as in ch04_gradcheck.rs
    let cell = Elman::new(d, h, &mut rnn::init::rng(4));
    let reports = [
        (
            "correct Elman backward",
            check_cell(&cell, t_len, batch, &mut rnn::init::rng(5)),
        ),
        (
            "broken: 1 - a² in (4.1)",
            check_cell(
                &DerivativeAtA(cell.clone()),
                t_len,
                batch,
                &mut rnn::init::rng(5),
            ),
        ),
        (
            "broken: bias_hh forgotten",
            check_cell(
                &ForgetsBiasHh(cell.clone()),
                t_len,
                batch,
                &mut rnn::init::rng(5),
            ),
        ),
    ];
    for (title, report) in &reports {
        show(title, report);
    }
    // How far a is from h: the two derivatives differ most where |a| is largest.
    let xs = rnn::init::uniform(&[t_len, batch, d], -1.0, 1.0, &mut rnn::init::rng(5))
        .into_dimensionality::<Ix3>()
        .unwrap();
    let run = unroll(&cell, xs.view(), &cell.zero_state(batch));
    let hmax = run.outputs.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    println!(
        "on these inputs (from a zero state): max |h| = {hmax:.3}, max |a| = {:.3};",
        hmax.atanh()
    );
    println!(
        "there 1 - h² = {:.3} but 1 - a² = {:.3}",
        1.0 - hmax * hmax,
        1.0 - hmax.atanh().powi(2)
    );
}
// ANCHOR_END: ex3

fn show(title: &str, report: &Report) {
    let verdict = if report.max_rel_error() <= TOLERANCE {
        "PASS"
    } else {
        "FAIL"
    };
    println!("{title}: {verdict}");
    for t in &report.tensors {
        println!("  {:<10} rel error {}", t.name, rel(t.rel_error));
    }
}

/// The rest of `Parameters` and `Cell` forwards to the inner Elman cell (as in `ch04_gradcheck.rs`).
macro_rules! wrap_elman {
    ($name:ident) => {
        impl Parameters for $name {
            fn params(&self) -> Vec<(String, ArrayViewD<'_, f64>)> {
                self.0.params()
            }
            fn params_mut(&mut self) -> Vec<(String, ArrayViewMutD<'_, f64>)> {
                self.0.params_mut()
            }
        }
        impl Cell for $name {
            type Cache = ElmanCache;
            fn input_size(&self) -> usize {
                self.0.input_size()
            }
            fn hidden_size(&self) -> usize {
                self.0.hidden_size()
            }
            fn kind(&self) -> &'static str {
                "rnn"
            }
            fn zero_state(&self, batch: usize) -> State {
                self.0.zero_state(batch)
            }
            fn forward(&self, x: ArrayView2<'_, f64>, prev: &State) -> (State, ElmanCache) {
                self.0.forward(x, prev)
            }
            fn backward(
                &self,
                cache: &ElmanCache,
                d_next: &State,
                grads: &mut Self,
            ) -> (Array2<f64>, State) {
                self.backward_step(cache, d_next, grads)
            }
        }
    };
}
wrap_elman!(DerivativeAtA);
wrap_elman!(ForgetsBiasHh);

// ANCHOR: ex4
/// Exercise 4: the two-step scalar network h1 = tanh(w x1 + u h0), h2 = tanh(w x2 + u h1), L = h2.
fn exercise_4() {
    let (w, u, x1, x2, h0) = (0.5_f64, -0.8_f64, 1.0_f64, -1.0_f64, 0.3_f64);
    let loss = |w: f64, u: f64, h0: f64| (w * x2 + u * (w * x1 + u * h0).tanh()).tanh();
    let a1 = w * x1 + u * h0; // (2.1), no biases
    let h1 = a1.tanh();
    let a2 = w * x2 + u * h1;
    let h2 = a2.tanh();
    println!("a1 = {a1:.6}, a2 = {a2:.6}");
    let (d2, d1) = (1.0 - h2 * h2, 1.0 - h1 * h1); // tanh' at each step, (4.1)
    println!("h1 = {h1:.6}, h2 = {h2:.6}, 1 - h2² = {d2:.6}, 1 - h1² = {d1:.6}");
    let dw = d2 * x2 + d2 * u * d1 * x1;
    let du = d2 * h1 + d2 * u * d1 * h0;
    let dh0 = d2 * u * d1 * u;
    let h = 1e-5;
    let fd = |f: &dyn Fn(f64) -> f64, v: f64| (f(v + h) - f(v - h)) / (2.0 * h); // (4.8)
    let rows = [
        ("dL/dw", dw, fd(&|v| loss(v, u, h0), w)),
        ("dL/du", du, fd(&|v| loss(w, v, h0), u)),
        ("dL/dh0", dh0, fd(&|v| loss(w, u, v), h0)),
    ];
    for (name, formula, numeric) in rows {
        println!(
            "{name:<7} formula {formula:+.8}, central difference {numeric:+.8}, agree to 1e-9: {}",
            (formula - numeric).abs() < 1e-9
        );
    }
    println!(
        "dL/dw = step 2 ({:+.6}) + step 1 ({:+.6})",
        d2 * x2,
        d2 * u * d1 * x1
    );
}
// ANCHOR_END: ex4

// ANCHOR: ex5
/// Exercise 5: the notebook's central difference for W_hh[1, 2] against the step h, in f64, and the same
/// loss computed in f32 (the weights and data rounded to f32).
fn exercise_5() {
    let (d, hidden, t_len, batch) = (3, 4, 6, 2); // the notebook's cell and data (seed 4)
    let mut rng = rnn::init::rng(4);
    let cell = Elman::new(d, hidden, &mut rng);
    let as3 = |a: ndarray::ArrayD<f64>| a.into_dimensionality::<Ix3>().unwrap();
    let xs = as3(rnn::init::uniform(&[t_len, batch, d], -1.0, 1.0, &mut rng));
    let r = as3(rnn::init::uniform(
        &[t_len, batch, hidden],
        -1.0,
        1.0,
        &mut rng,
    ));
    let run = unroll(&cell, xs.view(), &cell.zero_state(batch));
    let mut grads = cell.zeros_like();
    bptt(&cell, &run.caches, r.view(), None, &mut grads);
    let (i, j) = (1, 2);
    let analytic = grads.weight_hh[[i, j]];
    let loss64 = |c: &Elman| (&unroll(c, xs.view(), &c.zero_state(batch)).outputs * &r).sum();
    println!(
        "analytic dL/dW_hh[1, 2] = {analytic:+.6}; relative error of (4.8), as a power of ten:"
    );
    println!("{:>7} {:>10} {:>10}", "h", "f64", "f32");
    let (mut best64, mut best32) = ((f64::MAX, 0), (f64::MAX, 0));
    for e in 1..=12 {
        let h = 10f64.powi(-e);
        let (mut up, mut down) = (cell.clone(), cell.clone());
        up.weight_hh[[i, j]] += h;
        down.weight_hh[[i, j]] -= h;
        let n64 = (loss64(&up) - loss64(&down)) / (2.0 * h);
        let h32 = h as f32;
        let n32 = (loss_f32(&cell, &xs, &r, (i, j), h32) - loss_f32(&cell, &xs, &r, (i, j), -h32))
            / (2.0 * h32);
        let e64 = (analytic - n64).abs() / (analytic.abs() + n64.abs());
        let e32 = (analytic - n32 as f64).abs() / (analytic.abs() + (n32 as f64).abs());
        println!(
            "{:>7} {:>10} {:>10}",
            format!("1e-{e}"),
            pow10(e64),
            pow10(e32)
        );
        best64 = if e64 < best64.0 { (e64, e) } else { best64 };
        best32 = if e32 < best32.0 { (e32, e) } else { best32 };
    }
    println!(
        "bottom: f64 at h = 1e-{} (eps = {:.1e}: eps^(1/3) = {:.1e}, eps^(2/3) = {:.1e})",
        best64.1,
        f64::EPSILON,
        f64::EPSILON.cbrt(),
        f64::EPSILON.cbrt().powi(2)
    );
    println!(
        "        f32 at h = 1e-{} (eps = {:.1e}: eps^(1/3) = {:.1e}, eps^(2/3) = {:.1e})",
        best32.1,
        f32::EPSILON,
        f32::EPSILON.cbrt(),
        f32::EPSILON.cbrt().powi(2)
    );
}

/// 10^k with k the error's base-10 logarithm rounded: its order of magnitude, which does not depend on
/// the rounding of one machine ("1" when the difference is as large as the gradient).
fn pow10(e: f64) -> String {
    if e == 0.0 {
        "0".to_string()
    } else {
        format!("1e{}", e.log10().round() as i32)
    }
}

/// The loss Σ r ⊙ h_t of the cell with W_hh[i, j] moved by `dw`, computed entirely in f32.
fn loss_f32(cell: &Elman, xs: &Array3<f64>, r: &Array3<f64>, ij: (usize, usize), dw: f32) -> f32 {
    let f = |a: &Array2<f64>| a.mapv(|v| v as f32);
    let (w_ih, mut w_hh) = (f(&cell.weight_ih), f(&cell.weight_hh));
    w_hh[ij] += dw;
    let b = cell.bias_ih.mapv(|v| v as f32) + cell.bias_hh.mapv(|v| v as f32);
    let (t_len, batch, _) = xs.dim();
    let mut h = Array2::<f32>::zeros((batch, cell.hidden_size()));
    let mut loss = 0.0_f32;
    for t in 0..t_len {
        let x = xs.index_axis(Axis(0), t).mapv(|v| v as f32); // (B, D)
        h = (x.dot(&w_ih.t()) + h.dot(&w_hh.t()) + &b).mapv(f32::tanh); // (2.1), (2.2)
        loss += (&h * &r.index_axis(Axis(0), t).mapv(|v| v as f32)).sum();
    }
    loss
}
// ANCHOR_END: ex5

// ANCHOR: ex6
/// Exercise 6: the truncation experiment of `ch04_truncated_bptt.rs` (same cell, inputs and r, seed 7),
/// with the loss on the last step only, L = r_T · h_T.
fn exercise_6() {
    let (d, h, t_len, batch) = (3, 16, 48, 1);
    let mut rng = rnn::init::rng(7);
    let cell = Elman::new(d, h, &mut rng);
    let as3 = |a: ndarray::ArrayD<f64>| a.into_dimensionality::<Ix3>().unwrap();
    let xs = as3(rnn::init::uniform(&[t_len, batch, d], -1.0, 1.0, &mut rng));
    let mut r = as3(rnn::init::uniform(&[t_len, batch, h], -1.0, 1.0, &mut rng));
    r.slice_mut(s![..t_len - 1, .., ..]).fill(0.0); // no loss before the last step
    let norm = |a: ArrayView2<f64>| a.iter().map(|v| v * v).sum::<f64>().sqrt();

    let run = unroll(&cell, xs.view(), &cell.zero_state(batch));
    let mut full = cell.zeros_like();
    let (full_dxs, _) = bptt(&cell, &run.caches, r.view(), None, &mut full);
    println!(
        "loss on step 48 only; full BPTT: ‖dL/dW_hh‖ = {:.4}",
        norm(full.weight_hh.view())
    );
    println!(
        "‖dL/dx_t‖ of full BPTT: t = 1: {:.2e}, t = 24: {:.2e}, t = 40: {:.2e}, t = 48: {:.2e}",
        norm(full_dxs.index_axis(Axis(0), 0)),
        norm(full_dxs.index_axis(Axis(0), 23)),
        norm(full_dxs.index_axis(Axis(0), 39)),
        norm(full_dxs.index_axis(Axis(0), 47))
    );
    println!(
        "{:>8} {:>22} {:>10} {:>16} {:>16}",
        "chunk K", "‖g_K - g_full‖/‖g_full‖", "cosine", "steps reached", "‖dL/dx_1‖"
    );
    for k in [48, 24, 12, 6, 3, 1, 40, 47] {
        let mut grads = cell.zeros_like();
        let mut state = cell.zero_state(batch);
        let mut dxs = Array3::<f64>::zeros((t_len, batch, d));
        for start in (0..t_len).step_by(k) {
            let end = (start + k).min(t_len);
            let chunk = unroll(&cell, xs.slice(s![start..end, .., ..]), &state);
            let (dx, _dropped) = bptt(
                &cell,
                &chunk.caches,
                r.slice(s![start..end, .., ..]),
                None,
                &mut grads,
            );
            dxs.slice_mut(s![start..end, .., ..]).assign(&dx);
            state = chunk.last;
        }
        let reached = (0..t_len)
            .filter(|&t| norm(dxs.index_axis(Axis(0), t)) > 0.0)
            .count();
        let diff = &grads.weight_hh - &full.weight_hh;
        let cosine = (&grads.weight_hh * &full.weight_hh).sum()
            / (norm(grads.weight_hh.view()) * norm(full.weight_hh.view()));
        println!(
            "{k:>8} {:>22.3e} {cosine:>10.4} {reached:>16} {:>16.2e}",
            norm(diff.view()) / norm(full.weight_hh.view()),
            norm(dxs.index_axis(Axis(0), 0))
        );
    }
}
// ANCHOR_END: ex6

// ANCHOR: ex7
/// Exercise 7: multiply-adds per character of one Elman step backward (B = 1, one-hot x_t of size D).
fn exercise_7() {
    for (h, d) in [(100, 65), (100, 78), (256, 65)] {
        let da = h; // (4.1): one product per unit
        let dw_ih = h; // (4.2) with one-hot x_t: one column of the accumulator gets da
        let dw_hh = h * h; // (4.3): the outer product da h_{t-1}ᵀ
        let db = 2 * h; // (4.4): two bias accumulators
        let dx = h * d; // (4.5): da W_ih
        let dh_prev = h * h; // (4.6): da W_hh
        let with_dx = da + dw_ih + dw_hh + db + dx + dh_prev;
        let without = with_dx - dx;
        println!(
            "H = {h:>3}, D = {d}: with dx {with_dx:>6}, without {without:>6}: (4.5) is {:.1} % of the backward; \
             a time proportional to the count would speed up {:.2}x",
            100.0 * dx as f64 / with_dx as f64,
            with_dx as f64 / without as f64
        );
    }
    // The whole training step of ch04_backward_order (H = 100, V = 78): add the forward (W_hh h_{t-1}, the
    // one-hot lookup of W_ih), the decoder forward and backward (W_hy h, dW_hy, W_hyᵀ dz: 3 V H).
    let (h, v) = (100, 78);
    let backward = h + h + h * h + 2 * h + h * v + h * h;
    let forward = h * h + h;
    let decoder = 3 * v * h;
    let total = backward + forward + decoder;
    println!(
        "H = 100, V = 78, whole step per character: backward {backward} + forward {forward} + decoder {decoder} = {total}; \
         (4.5) is {:.1} %, a proportional speed-up of {:.2}x",
        100.0 * (h * v) as f64 / total as f64,
        total as f64 / (total - h * v) as f64
    );
    // the measured ratios are those of the committed output the chapter shows (run from the repository root)
    let path = "book/src/outputs/ch04_backward_order.txt";
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let ratio = |label: &str| -> f64 {
        let line = text
            .lines()
            .find(|l| l.contains(label) && l.contains("median"))
            .unwrap_or_else(|| panic!("{path} has no median line for {label:?}"));
        let word = line
            .split_whitespace()
            .find(|w| w.ends_with('x') && w[..w.len() - 1].parse::<f64>().is_ok())
            .unwrap_or_else(|| panic!("no ratio in {line:?}"));
        word[..word.len() - 1].parse().unwrap()
    };
    let (with_dx, no_dx) = (ratio("want_dx = true"), ratio("want_dx = false"));
    println!(
        "measured (ch04_backward_order): reordered {with_dx:.2}x, and without dx {no_dx:.2}x, step by step's speed; \
         no dx over reordered with dx = {no_dx:.2} / {with_dx:.2} = {:.2}x",
        no_dx / with_dx
    );
}
// ANCHOR_END: ex7

fn main() {
    let exercises: [(&str, fn()); 5] = [
        ("ex3", exercise_3),
        ("ex4", exercise_4),
        ("ex5", exercise_5),
        ("ex6", exercise_6),
        ("ex7", exercise_7),
    ];
    for (name, run) in exercises {
        // The book quotes the lines between these markers (mdBook's anchors).
        println!("// ANCHOR: {name}");
        run();
        println!("// ANCHOR_END: {name}");
    }
}
