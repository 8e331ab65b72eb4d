//! Worked answers to chapter 9's exercises: every number the answers quote is printed here.
//!
//! ```console
//! cargo run --release -q -p rnn --example answers_ch09
//! ```
//!
//! The book includes this file's `// ANCHOR: exK` regions into the answer to exercise K, and the lines of
//! its output (`book/src/outputs/answers_ch09.txt`) between the printed `// ANCHOR: exK` and
//! `// ANCHOR_END: exK`. Exercise 1 is a lab (its solution is `labs/solutions/lab12_masked_classifier.rs`).
//! Exercise 2 runs a stack both ways; exercise 3 trains two small character models on the bundled
//! *Moby-Dick* for a few hundred steps. Exercises 4-7 train for longer than this program's budget; they have
//! no answer here yet.

use ndarray::{s, Array2, Array3, Axis, Ix3};
use rnn::data::{split_train_val, TbpttBatches, Vocab};
use rnn::layers::{one_hot, Dense};
use rnn::loss::sequence_cross_entropy;
use rnn::optim::{clip_by_global_norm, Adam, Optimizer};
use rnn::prelude::*;
use rnn::stack::Rnn;

/// "below 1e-14" for a difference at rounding level, the number itself otherwise.
fn bound(d: f64) -> String {
    if d == 0.0 {
        "0 (bit for bit)".to_string()
    } else if d < 1e-14 {
        "below 1e-14".to_string()
    } else {
        format!("{d:.1e}")
    }
}

// ANCHOR: ex2
/// A 2-layer LSTM run layer by layer (`Rnn::forward`: all of layer 0's steps, then layer 1's) and step by
/// step (both layers at t = 0, then both at t = 1, ...), as `CharLm::step` generates.
fn exercise_2() -> rnn::Result<()> {
    let model = Rnn::new(3, 4, 2, false, 0.0, Lstm::new, &mut rnn::init::rng(9))?;
    let xs = rnn::init::uniform(&[6, 2, 3], -1.0, 1.0, &mut rnn::init::rng(10))
        .into_dimensionality::<Ix3>()
        .unwrap(); // (T, B, D)
    let (by_layer, _, _) = model.forward(xs.view(), None, None); // (T, B, H)

    let mut states = model.zero_states(2); // one per layer
    let mut by_step = Array3::zeros(by_layer.raw_dim());
    for t in 0..xs.dim().0 {
        let mut x = xs.index_axis(Axis(0), t).to_owned(); // (B, D)
        for (layer, state) in model.layers.iter().zip(states.iter_mut()) {
            let (next, _) = layer.forward.forward(x.view(), state);
            x = next.h.clone(); // the layer above reads this layer's state at the same t
            *state = next;
        }
        by_step.slice_mut(s![t, .., ..]).assign(&x);
    }
    let diff = (&by_layer - &by_step)
        .iter()
        .fold(0.0_f64, |m, d| m.max(d.abs()));
    println!(
        "2-layer LSTM, T = 6, B = 2: layer by layer and step by step differ by {}",
        bound(diff)
    );
    Ok(())
}
// ANCHOR_END: ex2

// ANCHOR: ex3
/// Next-character models on *Moby-Dick*, one unidirectional LSTM and one bidirectional, each with a linear
/// layer to the vocabulary, trained with the same loop, data and steps; the loss on held-out text.
struct NextChar {
    rnn: Rnn<Lstm>,
    out: Dense,
}

impl NextChar {
    fn new(v: usize, h: usize, bidirectional: bool) -> rnn::Result<Self> {
        let mut rng = rnn::init::rng(3);
        let rnn = Rnn::new(v, h, 1, bidirectional, 0.0, Lstm::new, &mut rng)?;
        let dirs = if bidirectional { 2 } else { 1 };
        Ok(NextChar {
            rnn,
            out: Dense::new(dirs * h, v, &mut rng),
        })
    }

    /// The mean loss of predicting `targets` from `inputs` (both (T, B)), and with `train`, one Adam step.
    fn step(
        &mut self,
        inputs: &Array2<usize>,
        targets: &Array2<usize>,
        opt: Option<&mut (Adam, Adam)>,
    ) -> f64 {
        let (t, b) = inputs.dim();
        let v = self.out.out_features();
        let ids: Vec<usize> = inputs.iter().copied().collect(); // row-major: t·B + b
        let xs = one_hot(&ids, v).into_shape_with_order((t, b, v)).unwrap(); // (T, B, V)
        let (hs, _, cache) = self.rnn.forward(xs.view(), None, None); // (T, B, dirs·H)
        let logits = self.out.forward_seq(hs.view()); // (T, B, V)
        let (loss, dlogits) = sequence_cross_entropy(logits.view(), targets.view(), None);
        if let Some((adam_rnn, adam_out)) = opt {
            let (mut g_rnn, mut g_out) = (self.rnn.zeros_like(), self.out.zeros_like());
            let dhs = self.out.backward_seq(hs.view(), dlogits.view(), &mut g_out);
            self.rnn
                .backward_with(&cache, dhs.view(), None, &mut g_rnn, false);
            clip_by_global_norm(&mut g_rnn, 5.0);
            clip_by_global_norm(&mut g_out, 5.0);
            adam_rnn.step(&mut self.rnn, &g_rnn);
            adam_out.step(&mut self.out, &g_out);
        }
        loss
    }
}

fn exercise_3() -> rnn::Result<()> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/moby-dick.txt");
    let text: String = std::fs::read_to_string(path)
        .expect("data/moby-dick.txt")
        .chars()
        .take(200_000)
        .collect();
    let vocab = Vocab::from_text(&text);
    let ids = vocab.encode(&text)?;
    let (train, val) = split_train_val(&ids, 0.1)?;
    let (train, val) = (
        TbpttBatches::new(train, 16, 32)?,
        TbpttBatches::new(val, 16, 32)?,
    );
    let (h, steps) = (48, 400);
    println!(
        "{} characters of Moby-Dick (V = {}), H = {h}, B = 16, T = 32, {steps} Adam steps (lr 5e-3):",
        ids.len(),
        vocab.len()
    );
    for bidirectional in [false, true] {
        let mut model = NextChar::new(vocab.len(), h, bidirectional)?;
        let mut opt = (Adam::new(5e-3), Adam::new(5e-3));
        let mut last = 0.0;
        for k in 0..steps {
            let (x, y) = train.chunk(k % train.num_chunks());
            last = model.step(&x, &y, Some(&mut opt));
        }
        let n = val.num_chunks();
        let held_out: f64 = (0..n)
            .map(|k| {
                let (x, y) = val.chunk(k);
                model.step(&x, &y, None)
            })
            .sum::<f64>()
            / n as f64;
        println!(
            "  {:<14} training loss at the last step {last:.3}, held-out loss {held_out:.3} nats/char",
            if bidirectional { "bidirectional" } else { "unidirectional" }
        );
    }
    println!(
        "  (a uniform guess: ln V = {:.3})",
        (vocab.len() as f64).ln()
    );
    Ok(())
}
// ANCHOR_END: ex3

fn main() -> rnn::Result<()> {
    let parts: [(&str, &dyn Fn() -> rnn::Result<()>); 2] =
        [("ex2", &exercise_2), ("ex3", &exercise_3)];
    for (anchor, run) in parts {
        println!("// ANCHOR: {anchor}");
        run()?;
        println!("// ANCHOR_END: {anchor}");
    }
    Ok(())
}
