//! Benchmark: one training step (forward, loss, BPTT, SGD update) of a character-level model.
//!
//! `cargo bench -p rnn --bench train_step` (add `--features threads` and `MATMUL_NUM_THREADS=2` for two
//! threads). For each cell and hidden size it prints characters per second and the GFLOP/s of the matrix
//! products the step performs, next to this machine's f64 matrix-multiply rate measured in the same run, and
//! the ratio of the two. Options: `-- --quick` (fewer repetitions), `-- --sizes 128,256`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use ndarray::{Array2, Array3, Axis};
use rnn::bptt::{bptt, unroll};
use rnn::prelude::*;

const VOCAB: usize = 65;
const BATCH: usize = 32;
const SEQ: usize = 64;

/// Times `f` repeatedly for at least `budget`, returning the best time of one call.
fn best_time(budget: Duration, min_reps: usize, mut f: impl FnMut()) -> Duration {
    f(); // warm-up
    let start = Instant::now();
    let mut best = Duration::MAX;
    let mut reps = 0;
    while reps < min_reps || start.elapsed() < budget {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed());
        reps += 1;
    }
    best
}

/// f64 matrix-multiply rate (GFLOP/s) of ndarray on an (m, k) x (k, n) product.
fn gemm_gflops(m: usize, k: usize, n: usize, budget: Duration) -> f64 {
    let mut rng = rnn::init::rng(1);
    let a: Array2<f64> = rnn::init::uniform(&[m, k], -1.0, 1.0, &mut rng)
        .into_dimensionality()
        .unwrap();
    let b: Array2<f64> = rnn::init::uniform(&[k, n], -1.0, 1.0, &mut rng)
        .into_dimensionality()
        .unwrap();
    let t = best_time(budget, 5, || {
        black_box(a.dot(&b));
    });
    2.0 * (m * k * n) as f64 / t.as_secs_f64() / 1e9
}

/// One step: one-hot input (T, B, V) -> cell -> dense (H -> V) -> softmax cross-entropy -> BPTT -> SGD.
/// Returns the loss so the work cannot be optimised away.
fn train_step<C: Cell>(
    cell: &mut C,
    w_hy: &mut Array2<f64>,
    xs: &Array3<f64>,
    targets: &[usize],
) -> f64 {
    let (t_len, batch, _) = xs.dim();
    let h = cell.hidden_size();
    let run = unroll(cell, xs.view(), &cell.zero_state(batch));
    let hs = run
        .outputs
        .view()
        .into_shape_with_order((t_len * batch, h))
        .unwrap(); // (T*B, H)
    let logits = hs.dot(&w_hy.t()); // (T*B, V)
                                    // softmax cross-entropy, mean over T*B
    let mut probs = logits;
    let mut loss = 0.0;
    for (mut row, &y) in probs.axis_iter_mut(Axis(0)).zip(targets) {
        let m = row.fold(f64::NEG_INFINITY, |a, &b| a.max(b));
        row.mapv_inplace(|v| (v - m).exp());
        let s = row.sum();
        row /= s;
        loss -= row[y].ln();
        row[y] -= 1.0;
    }
    let n = targets.len() as f64;
    let dlogits = probs / n; // (T*B, V)
    let dw_hy = dlogits.t().dot(&hs); // (V, H)
    let dhs = dlogits
        .dot(w_hy)
        .into_shape_with_order((t_len, batch, h))
        .unwrap(); // (T, B, H)
    let mut grads = cell.zeros_like();
    let _ = bptt(cell, &run.caches, dhs.view(), None, &mut grads);
    cell.add_scaled(-0.01, &grads);
    w_hy.scaled_add(-0.01, &dw_hy);
    loss / n
}

/// Matrix-product FLOPs one step performs per character.
///
/// The one-hot input makes `x W_ihᵀ` and `∂W_ih += ∂aᵀ x` column gathers and scatters (see
/// `rnn::linalg`), so they are not counted; the dense products are: forward `h W_hhᵀ` (2·G·H·H), backward
/// `∂W_hh` and `∂h_prev` (2 × 2·G·H·H) and `∂x = ∂a W_ih` (2·G·H·D), and the output layer's forward and
/// backward (2·H·V + 4·H·V).
fn flops_per_char(gates: usize, h: usize) -> f64 {
    let (d, v) = (VOCAB as f64, VOCAB as f64);
    let (g, h) = (gates as f64, h as f64);
    6.0 * g * h * h + 2.0 * g * h * d + 6.0 * h * v
}

fn bench_cell<C: Cell>(name: &str, mut cell: C, gates: usize, budget: Duration, peak: f64) {
    let h = cell.hidden_size();
    let mut rng = rnn::init::rng(2);
    let mut w_hy: Array2<f64> = rnn::init::uniform(&[VOCAB, h], -0.1, 0.1, &mut rng)
        .into_dimensionality()
        .unwrap();
    let ids: Vec<usize> = (0..SEQ * BATCH).map(|i| (i * 7 + i / 3) % VOCAB).collect();
    let mut xs = Array3::zeros((SEQ, BATCH, VOCAB));
    for (i, &c) in ids.iter().enumerate() {
        xs[[i / BATCH, i % BATCH, c]] = 1.0;
    }
    let targets: Vec<usize> = ids.iter().map(|&c| (c + 1) % VOCAB).collect();
    let t = best_time(budget, 3, || {
        black_box(train_step(&mut cell, &mut w_hy, &xs, &targets));
    });
    let chars = (SEQ * BATCH) as f64 / t.as_secs_f64();
    let gflops = chars * flops_per_char(gates, h) / 1e9;
    println!(
        "{name:<6} H={h:<4} {:>9.1} ms/step {chars:>10.0} chars/s {gflops:>7.2} GFLOP/s {:>6.1}% of gemm",
        t.as_secs_f64() * 1e3,
        100.0 * gflops / peak
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let sizes: Vec<usize> = match args.iter().position(|a| a == "--sizes") {
        Some(i) => args[i + 1]
            .split(',')
            .map(|s| s.parse().expect("--sizes 128,256"))
            .collect(),
        None => vec![128, 256, 512],
    };
    let budget = Duration::from_millis(if quick { 300 } else { 2000 });
    let threads = std::env::var("MATMUL_NUM_THREADS").unwrap_or_else(|_| "default".into());
    println!(
        "train-step benchmark: B={BATCH}, T={SEQ}, vocab {VOCAB} (one-hot input), f64; threads feature: {}, MATMUL_NUM_THREADS={threads}",
        cfg!(feature = "threads")
    );
    let peak = gemm_gflops(512, 512, 512, budget);
    println!("f64 gemm (ndarray/matrixmultiply) 512x512x512: {peak:.2} GFLOP/s (the reference for the ratios below)");
    let mut rng = rnn::init::rng(0);
    for &h in &sizes {
        bench_cell("rnn", Elman::new(VOCAB, h, &mut rng), 1, budget, peak);
        bench_cell("lstm", Lstm::new(VOCAB, h, &mut rng), 4, budget, peak);
        bench_cell("gru", Gru::new(VOCAB, h, &mut rng), 3, budget, peak);
    }
}
