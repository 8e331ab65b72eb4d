//! Worked answers to chapter 1's exercises: every number the answers quote is printed here.
//!
//! ```console
//! cargo run --release -q -p rnn --example answers_ch01
//! ```
//!
//! The book includes this file's `// ANCHOR: exK` regions into the answer to exercise K, and the lines of
//! its output (`book/src/outputs/answers_ch01.txt`) between the printed `// ANCHOR: exK` and
//! `// ANCHOR_END: exK` (mdBook finds anchors in any file; `cargo xtask book` checks them).
//! Exercise 4 is a translation of symbols and has no code.

use ndarray::{Array1, Array2, Array3, Axis};
use rnn::bptt::{bptt, unroll};
use rnn::init::{uniform, Rng};
use rnn::prelude::*;

/// A `(rows, cols)` matrix of uniform numbers in [-1, 1).
fn random2(rows: usize, cols: usize, rng: &mut Rng) -> Array2<f64> {
    uniform(&[rows, cols], -1.0, 1.0, rng)
        .into_dimensionality()
        .expect("2-D")
}

/// A `(T, B, D)` array of uniform numbers in [-1, 1).
fn random3(dim: (usize, usize, usize), rng: &mut Rng) -> Array3<f64> {
    uniform(&[dim.0, dim.1, dim.2], -1.0, 1.0, rng)
        .into_dimensionality()
        .expect("3-D")
}

/// The largest absolute difference between two arrays of the same shape, as text: "below 1e-12" when it
/// is rounding error only (its exact value depends on the CPU's floating-point kernels).
fn max_diff<D: ndarray::Dimension>(
    a: &ndarray::Array<f64, D>,
    b: &ndarray::Array<f64, D>,
) -> String {
    let d = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max);
    if d < 1e-12 {
        "below 1e-12".into()
    } else {
        format!("{d:.3e}")
    }
}

// ANCHOR: ex1
/// Exercise 1: the shapes of a character model, and its parameter count.
fn exercise_1(rng: &mut Rng) {
    let (t, b, d, h) = (50, 16, 65, 128);
    let cell = Elman::new(d, h, rng);
    let xs = Array3::<f64>::zeros((t, b, d)); // (T, B, D)
    let run = unroll(&cell, xs.view(), &cell.zero_state(b));
    println!("xs:                 {:?}", xs.dim());
    println!(
        "h after one step:   {:?}",
        run.outputs.index_axis(Axis(0), 0).dim()
    );
    println!("outputs:            {:?}", run.outputs.dim());
    for (name, p) in cell.params() {
        println!(
            "{:<19} {:?}, {} numbers",
            format!("{name}:"),
            p.shape(),
            p.len()
        );
    }
    println!(
        "total: {} = H*D + H*H + 2*H = {} + {} + {}",
        cell.num_params(),
        h * d,
        h * h,
        2 * h
    );
}
// ANCHOR_END: ex1

// ANCHOR: ex2
/// Exercise 2: moving v from one bias to the other changes no output, and the two
/// biases always receive the same gradient.
fn exercise_2(rng: &mut Rng) {
    let (t, b, d, h) = (6, 2, 3, 4);
    let cell = Elman::new(d, h, rng);
    let xs = random3((t, b, d), rng); // (T, B, D)
    let v: Array1<f64> = Array1::from(vec![0.5, -2.0, 3.0, 0.25]);
    let mut moved = cell.clone();
    moved.bias_ih = &cell.bias_ih + &v;
    moved.bias_hh = &cell.bias_hh - &v;
    let before = unroll(&cell, xs.view(), &cell.zero_state(b));
    let after = unroll(&moved, xs.view(), &moved.zero_state(b));
    println!(
        "largest change of any h_t: {}",
        max_diff(&before.outputs, &after.outputs)
    );
    // A loss that reads every h_t: L = sum of c * h_t with fixed random weights c.
    let c = random3((t, b, h), rng); // dL/dh_t, (T, B, H)
    let mut g = cell.zeros_like();
    bptt(&cell, &before.caches, c.view(), None, &mut g);
    println!("dL/dbias_ih = {:.6}", g.bias_ih);
    println!("dL/dbias_hh = {:.6}", g.bias_hh);
    println!("largest difference: {}", max_diff(&g.bias_ih, &g.bias_hh));
}
// ANCHOR_END: ex2

// ANCHOR: ex3
/// Exercise 3: a Keras `SimpleRNN` (kernel (D, H), recurrent_kernel (H, H), bias (H))
/// as an `rnn::cells::Elman`.
fn exercise_3(rng: &mut Rng) {
    let (d, h) = (3, 8);
    let kernel = random2(d, h, rng); // (3, 8)
    let recurrent_kernel = random2(h, h, rng); // (8, 8)
    let bias = Array1::from(random2(1, h, rng).row(0).to_vec()); // (8)
    let cell = Elman {
        weight_ih: kernel.t().to_owned(),           // (8, 3)
        weight_hh: recurrent_kernel.t().to_owned(), // (8, 8)
        bias_ih: bias.clone(),                      // (8)
        bias_hh: Array1::zeros(h),                  // (8): only the sum matters
        nonlinearity: rnn::activation::Nonlinearity::Tanh,
    };
    // Keras's own step, rows times weights: h = tanh(x @ kernel + h @ recurrent_kernel + bias).
    let (t, b) = (5, 2);
    let xs = random3((t, b, d), rng); // (T, B, D)
    let mut keras_h = Array2::<f64>::zeros((b, h));
    for step in xs.axis_iter(Axis(0)) {
        keras_h = (step.dot(&kernel) + keras_h.dot(&recurrent_kernel) + &bias).mapv(f64::tanh);
    }
    let ours = unroll(&cell, xs.view(), &cell.zero_state(b)).last.h;
    println!(
        "weight_ih {:?}, weight_hh {:?}, bias_ih ({}), bias_hh ({})",
        cell.weight_ih.dim(),
        cell.weight_hh.dim(),
        cell.bias_ih.len(),
        cell.bias_hh.len()
    );
    println!(
        "h_T, Keras's formula vs the library: largest difference {}",
        max_diff(&keras_h, &ours)
    );
}
// ANCHOR_END: ex3

// ANCHOR: ex5
/// Exercise 5: batch-first data made time-major.
fn exercise_5(rng: &mut Rng) {
    let (b, t, d) = (16, 50, 65);
    let batch_first = random3((b, t, d), rng); // (B, T, D)
    let view = batch_first.view().permuted_axes([1, 0, 2]); // (T, B, D), no copy
    println!(
        "permuted:   shape {:?}, strides {:?}, standard layout: {}",
        view.dim(),
        view.strides(),
        view.is_standard_layout()
    );
    let step = view.index_axis(Axis(0), 0); // one step: (B, D)
    println!(
        "  one step (B, D) has strides {:?}: contiguous: {}",
        step.strides(),
        step.is_standard_layout()
    );
    let xs = view.as_standard_layout(); // one copy, in time-major order
    let step = xs.index_axis(Axis(0), 0);
    println!(
        "copied:     shape {:?}, strides {:?}, standard layout: {}",
        xs.dim(),
        xs.strides(),
        xs.is_standard_layout()
    );
    println!(
        "  one step (B, D) has strides {:?}: contiguous: {}",
        step.strides(),
        step.is_standard_layout()
    );
    println!("same numbers: {}", xs.view() == view);
}
// ANCHOR_END: ex5

/// An exercise's name (its anchor) and the function that prints its answer.
type Exercise = (&'static str, fn(&mut Rng));

fn main() {
    let mut rng = rnn::init::rng(1);
    let exercises: [Exercise; 4] = [
        ("ex1", exercise_1),
        ("ex2", exercise_2),
        ("ex3", exercise_3),
        ("ex5", exercise_5),
    ];
    for (name, run) in exercises {
        // The book quotes the lines between these markers (mdBook's anchors).
        println!("// ANCHOR: {name}");
        run(&mut rng);
        println!("// ANCHOR_END: {name}");
    }
}
