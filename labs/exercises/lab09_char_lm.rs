// Lab 9 · Train a character-level language model (book chapter 6).
//
// Put the pieces together: characters → one-hot (V) → Elman cell (H) → dense layer → softmax
// cross-entropy against the next character. Train with truncated BPTT (carry the hidden state from one
// chunk to the next, but stop gradients at the chunk boundary), clip by global norm, update with Adagrad.
//
// The library gives you the cell, unrolling and BPTT (labs 1, 2, 4), and the data pipeline; the softmax
// cross-entropy (lab 3) and clipping (lab 6) are filled in below. You write one training step and the
// Adagrad update:
//
//     mem ← mem + g²,     p ← p - lr · g / √(mem + 1e-8)                             (Adagrad)
//
// The test trains for a fixed number of steps on a small generated corpus and checks that the mean loss
// over the last steps is below the bar (a uniform guess costs ln V ≈ 3.2 nats per character).
// Run `rustlings hint` if you are stuck.

// Silences the warnings about code that is unused until you replace the `todo!()`s.
#![allow(unused)]
use ndarray::{Array1, Array2, Array3, ArrayViewD, ArrayViewMutD, Axis};
use rnn::bptt::{bptt, unroll};
use rnn::cells::{Cell, Elman};
use rnn::data::{TbpttBatches, Vocab};
use rnn::params::Parameters;

const HIDDEN: usize = 64;
const SEQ_LEN: usize = 25;
const BATCH: usize = 16;
const LR: f64 = 0.1;
const MAX_NORM: f64 = 5.0;

/// Lab 3: mean softmax cross-entropy over the rows of z (N, V) and its gradient.
fn cross_entropy(z: &Array2<f64>, targets: &[usize]) -> (f64, Array2<f64>) {
    let n = z.nrows() as f64;
    let mut loss = 0.0;
    let mut dz = z.clone();
    for ((row, mut drow), &y) in z
        .axis_iter(Axis(0))
        .zip(dz.axis_iter_mut(Axis(0)))
        .zip(targets)
    {
        let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lse = m + row.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
        loss += lse - row[y];
        drow.mapv_inplace(|v| (v - lse).exp() / n);
        drow[y] -= 1.0 / n;
    }
    (loss / n, dz)
}

/// Lab 6: clips all tensors together to a global norm of at most max_norm; returns the norm before.
fn clip_by_global_norm(grads: &mut [ArrayViewMutD<'_, f64>], max_norm: f64) -> f64 {
    let total = grads
        .iter()
        .map(|g| g.iter().map(|v| v * v).sum::<f64>())
        .sum::<f64>()
        .sqrt();
    let coef = max_norm / (total + 1e-6);
    if coef < 1.0 {
        for g in grads.iter_mut() {
            g.mapv_inplace(|v| v * coef);
        }
    }
    total
}

/// One-hot encoding of token ids (T, B) into (T, B, V).
fn one_hot(ids: &Array2<usize>, v: usize) -> Array3<f64> {
    let (t, b) = ids.dim();
    Array3::from_shape_fn(
        (t, b, v),
        |(i, j, k)| if ids[[i, j]] == k { 1.0 } else { 0.0 },
    )
}

/// One Adagrad update of a parameter tensor p with gradient g and squared-gradient memory mem.
fn adagrad(
    mut p: ArrayViewMutD<'_, f64>,
    g: ArrayViewD<'_, f64>,
    mut mem: ArrayViewMutD<'_, f64>,
    lr: f64,
) {
    // TODO: element by element: mem += g²; p -= lr · g / √(mem + 1e-8).
    // Hint: `ndarray::Zip::from(&mut p).and(&g).and(&mut mem).for_each(|p, &g, m| { ... })`.
    todo!()
}

/// Trains on `text` for `steps` chunks; returns the loss (mean nats per character) of every step.
fn train(text: &str, steps: usize, seed: u64) -> Vec<f64> {
    let vocab = Vocab::from_text(text);
    let v = vocab.len();
    let ids = vocab
        .encode(text)
        .expect("every character is in the vocabulary");
    let batches = TbpttBatches::new(&ids, BATCH, SEQ_LEN).expect("the corpus is long enough");
    let mut rng = rnn::init::rng(seed);

    // The model: an Elman cell (V → H) and a dense output layer (H → V).
    let mut cell = Elman::new(v, HIDDEN, &mut rng);
    let mut w_hy = rnn::init::xavier_uniform(v, HIDDEN, &mut rng); // (V, H)
    let mut b_y = Array1::<f64>::zeros(v); // (V)
    // Adagrad memories, one per parameter tensor, same shapes.
    let mut mem_cell = cell.zeros_like();
    let mut mem_w_hy = Array2::<f64>::zeros(w_hy.raw_dim());
    let mut mem_b_y = Array1::<f64>::zeros(v);

    let mut state = cell.zero_state(BATCH);
    let mut losses = Vec::with_capacity(steps);
    for step in 0..steps {
        let k = step % batches.num_chunks();
        if k == 0 {
            state = cell.zero_state(BATCH); // a new pass over the text: start from zeros
        }
        let (inputs, targets) = batches.chunk(k); // (T, B) each; targets = inputs shifted by one
        let xs = one_hot(&inputs, v); // (T, B, V)
        let targets = targets.as_slice().expect("standard layout: row t*B + b"); // (T·B)
        // TODO forward: run = unroll(&cell, xs.view(), &state); flatten run.outputs to hs (T·B, H)
        //      (`.into_shape_with_order((SEQ_LEN * BATCH, HIDDEN))`); logits = hs·W_hyᵀ + b_y;
        //      (loss, dlogits) = cross_entropy(&logits, targets).
        // TODO backward: dW_hy = dlogitsᵀ·hs, db_y = column sums of dlogits, dhs = dlogits·W_hy reshaped to
        //      (T, B, H); g_cell = cell.zeros_like(); bptt(&cell, &run.caches, dhs.view(), None, &mut g_cell).
        // TODO clip g_cell's tensors (`g_cell.params_mut()`), dW_hy and db_y together with clip_by_global_norm.
        // TODO update: adagrad on every tensor of the cell (zip cell.params_mut(), g_cell.params() and
        //      mem_cell.params_mut()), on w_hy and on b_y.
        // TODO carry the state: state = run.last; then losses.push(loss).
        todo!()
    }
    losses
}

fn main() {
    let losses = train(&labcheck::lab09::corpus(), labcheck::lab09::STEPS, 0);
    for (i, l) in losses.iter().enumerate().step_by(50) {
        println!("step {i:4}: loss {l:.3}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_the_corpus() {
        labcheck::lab09::check_training(train);
    }
}
