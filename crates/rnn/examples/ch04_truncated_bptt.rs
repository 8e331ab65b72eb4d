//! Chapter 4: what truncated BPTT keeps and what it loses.
//!
//! ```console
//! cargo run --release -p rnn --example ch04_truncated_bptt
//! ```
//!
//! One Elman cell reads one sequence of T = 48 steps; the loss is `Σ_t r_t · h_t` with fixed random r_t,
//! so every step has a loss term. The full BPTT gradient of `weight_hh` is compared with the gradient
//! truncated BPTT computes when the sequence is cut into chunks of K steps: the forward pass carries the
//! state across chunk boundaries, the backward pass stops there.

use ndarray::{s, Array3, Ix3};
use rnn::bptt::{bptt, unroll};
use rnn::prelude::*;

fn main() {
    let (d, h, t_len, batch) = (3, 16, 48, 1);
    let mut rng = rnn::init::rng(7);
    let cell = Elman::new(d, h, &mut rng);
    let xs: Array3<f64> = rnn::init::uniform(&[t_len, batch, d], -1.0, 1.0, &mut rng)
        .into_dimensionality::<Ix3>()
        .unwrap();
    // ∂L/∂h_t = r_t for the loss L = Σ_t r_t · h_t                                    (T, B, H)
    let r: Array3<f64> = rnn::init::uniform(&[t_len, batch, h], -1.0, 1.0, &mut rng)
        .into_dimensionality::<Ix3>()
        .unwrap();

    // Full BPTT over all T steps.
    let run = unroll(&cell, xs.view(), &cell.zero_state(batch));
    let full_loss = (&run.outputs * &r).sum();
    let mut full = cell.zeros_like();
    bptt(&cell, &run.caches, r.view(), None, &mut full);

    println!("Elman D = {d}, H = {h}, one sequence of T = {t_len} steps, loss = Σ_t r_t · h_t");
    println!(
        "full BPTT: loss {full_loss:.6}, ‖∂L/∂W_hh‖ = {:.4}\n",
        norm(&full.weight_hh)
    );
    println!(
        "{:>8} {:>14} {:>22} {:>10}",
        "chunk K", "loss", "‖g_K - g_full‖/‖g_full‖", "cosine"
    );
    for k in [48, 24, 12, 6, 3, 1] {
        // ANCHOR: truncated
        let mut grads = cell.zeros_like();
        let mut state = cell.zero_state(batch); // carried from chunk to chunk
        let mut loss = 0.0;
        for start in (0..t_len).step_by(k) {
            let end = (start + k).min(t_len);
            let chunk = xs.slice(s![start..end, .., ..]);
            // forward from the previous chunk's last state: the values are exact...
            let run = unroll(&cell, chunk, &state);
            loss += (&run.outputs * &r.slice(s![start..end, .., ..])).sum();
            // ...but the backward stops at the chunk's start: no d_last, and the returned
            // gradient for the chunk's initial state is dropped (the state is "detached")
            let d_outputs = r.slice(s![start..end, .., ..]);
            let (_dxs, _d_init_dropped) = bptt(&cell, &run.caches, d_outputs, None, &mut grads);
            state = run.last;
        }
        // ANCHOR_END: truncated
        let diff = &grads.weight_hh - &full.weight_hh;
        let cosine = (&grads.weight_hh * &full.weight_hh).sum()
            / (norm(&grads.weight_hh) * norm(&full.weight_hh));
        println!(
            "{k:>8} {loss:>14.6} {:>22.3e} {cosine:>10.4}",
            norm(&diff) / norm(&full.weight_hh)
        );
    }
}

fn norm(a: &ndarray::Array2<f64>) -> f64 {
    a.iter().map(|v| v * v).sum::<f64>().sqrt()
}
