// Lab 9 · Train a character-level language model (book chapter 6).
//
// Put the pieces together: characters → one-hot (V) → Elman cell (H) → dense layer → softmax
// cross-entropy against the next character. Train with truncated BPTT (carry the hidden state from one
// chunk to the next, but stop gradients at the chunk boundary), clip by global norm, update with Adagrad:
//
//     mem ← mem + g²,     p ← p - lr · g / √(mem + 1e-8)                             (Adagrad)
//
// The library gives you the cell, unrolling and BPTT (labs 1, 2, 4), the data pipeline and the model type
// `CharModel` (cell, W_hy, b_y); the softmax cross-entropy (lab 3) and clipping (lab 6) are filled in below.
// You write `train_step` (one chunk: forward, backward, clip, update) and the loop in `train`.
//
// The test does not take your word for anything: it calls your `train_step` itself and recomputes each
// result; it hands `train` a `step` that checks every call (the chunk, the state you carry, the parameters,
// the loss and the update, and how many steps you train); and it measures the model `train` returns on
// held-out sentences: after 500 steps its loss must be below the bar, 0.35 nats per character (a uniform
// guess costs ln 25 ≈ 3.2; the reference solution reaches 0.256).
// This is a solution: compare it with yours once your tests pass.

use ndarray::{Array2, Array3, ArrayViewD, ArrayViewMutD, Axis};
use rnn::bptt::{bptt, unroll};
use rnn::cells::{Cell, State};
use rnn::data::{TbpttBatches, Vocab};
use rnn::params::Parameters;

use labcheck::lab09::{BATCH, CharModel, HIDDEN, LR, MAX_NORM, SEQ_LEN, Step};

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
    // Adagrad: mem += g², p -= lr g / √(mem + 1e-8)
    ndarray::Zip::from(&mut p)
        .and(&g)
        .and(&mut mem)
        .for_each(|p, &g, m| {
            *m += g * g;
            *p -= lr * g / (*m + 1e-8).sqrt();
        });
}

/// One training step on one chunk: the forward from `state`, the backward, clipping, and the Adagrad update
/// of every parameter of `model` (memories in `mem`, same shapes). `inputs` and `targets` are (T, B)
/// character ids, targets = inputs shifted by one. Returns the chunk's mean loss (before the update) and the
/// cell's state after the chunk's last step.
fn train_step(
    model: &mut CharModel,
    mem: &mut CharModel,
    state: &State,
    inputs: &Array2<usize>,
    targets: &Array2<usize>,
) -> (f64, State) {
    let (t_len, b) = inputs.dim();
    let (v, h) = model.w_hy.dim();
    let xs = one_hot(inputs, v); // (T, B, V)
    let targets = targets.as_slice().expect("standard layout: row t*B + b"); // (T·B)
    // forward: the cell over the chunk, then the dense layer on every h_t
    let run = unroll(&model.cell, xs.view(), state);
    let hs = run
        .outputs
        .clone()
        .into_shape_with_order((t_len * b, h))
        .unwrap(); // (T·B, H)
    let logits = hs.dot(&model.w_hy.t()) + &model.b_y; // (T·B, V)
    let (loss, dlogits) = cross_entropy(&logits, targets);

    // backward: the dense layer, then BPTT through the cell
    let mut grads = model.zeros_like();
    grads.w_hy = dlogits.t().dot(&hs); // (V, H)
    grads.b_y = dlogits.sum_axis(Axis(0)); // (V)
    let dhs = dlogits
        .dot(&model.w_hy)
        .into_shape_with_order((t_len, b, h))
        .unwrap(); // (T, B, H)
    bptt(&model.cell, &run.caches, dhs.view(), None, &mut grads.cell);

    // clip every gradient together, then update every parameter
    {
        let mut all: Vec<ArrayViewMutD<'_, f64>> =
            grads.params_mut().into_iter().map(|(_, g)| g).collect();
        clip_by_global_norm(&mut all, MAX_NORM);
    }
    for (((_, p), (_, g)), (_, m)) in model
        .params_mut()
        .into_iter()
        .zip(grads.params())
        .zip(mem.params_mut())
    {
        adagrad(p, g, m, LR);
    }

    // truncated BPTT: the next chunk starts from this chunk's last state (no gradient flows back)
    (loss, run.last)
}

/// Trains on `text` for `steps` chunks, calling `step` once per chunk; returns the trained model and the
/// loss (mean nats per character) of every step.
fn train(text: &str, steps: usize, seed: u64, step: &mut Step<'_>) -> (CharModel, Vec<f64>) {
    let vocab = Vocab::from_text(text);
    let ids = vocab
        .encode(text)
        .expect("every character is in the vocabulary");
    let batches = TbpttBatches::new(&ids, BATCH, SEQ_LEN).expect("the corpus is long enough");
    let mut rng = rnn::init::rng(seed);
    // The model: an Elman cell (V → H) and a dense output layer (H → V); Adagrad's memories start at zero.
    let mut model = CharModel::new(vocab.len(), HIDDEN, &mut rng);
    let mut mem = model.zeros_like();

    let mut state = model.cell.zero_state(BATCH);
    let mut losses = Vec::with_capacity(steps);
    for i in 0..steps {
        let k = i % batches.num_chunks();
        if k == 0 {
            state = model.cell.zero_state(BATCH); // a new pass over the text: start from zeros
        }
        let (inputs, targets) = batches.chunk(k); // (T, B) each
        let (loss, last) = step(&mut model, &mut mem, &state, &inputs, &targets);
        state = last;
        losses.push(loss);
    }
    (model, losses)
}

fn main() {
    let text = labcheck::lab09::corpus();
    let (model, losses) = train(&text, labcheck::lab09::STEPS, 0, &mut train_step);
    for (i, l) in losses.iter().enumerate().step_by(50) {
        println!("step {i:4}: loss {l:.3}");
    }
    let vocab = Vocab::from_text(&text);
    let held = labcheck::lab09::evaluate(&model, &vocab, &labcheck::lab09::held_out());
    println!("held-out loss: {held:.3} nats/char");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_the_corpus() {
        labcheck::lab09::check_training(train, train_step);
    }
}
