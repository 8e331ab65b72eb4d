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
use rnn::params::Parameters;
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

fn exercise_3(quick: bool) -> rnn::Result<()> {
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
    let (h, steps) = if quick { (8, 20) } else { (48, 400) };
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

// ANCHOR: ex4
/// Where the dropout mask goes: on the recurrent layer's output, as in `ch09_sweeps dropout` (between the
/// layer and the output layer), or on h_{t-1} inside the recurrence, a new mask at every step.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Place {
    Nowhere,
    Output,
    Recurrent,
}

/// Chapter 6's Elman character model written out step by step, so that a mask can go inside the recurrence.
#[derive(Clone)]
struct ElmanLm {
    cell: Elman,
    out: Dense,
}

impl ElmanLm {
    /// The mean loss of one chunk (inputs, targets (T, B)) from the state `h` (B, H), its gradients when
    /// `train` holds the dropout's place, rate and random numbers, and the state after the chunk.
    fn chunk(
        &self,
        inputs: &Array2<usize>,
        targets: &Array2<usize>,
        h: &Array2<f64>,
        train: Option<(Place, f64, &mut rnn::init::Rng)>,
    ) -> (f64, Option<(Elman, Dense)>, Array2<f64>) {
        let (t_len, b) = inputs.dim();
        let v = self.out.out_features();
        let hidden = self.cell.hidden_size();
        let (place, p, mut rng) = match train {
            Some((place, p, rng)) => (place, p, Some(rng)),
            None => (Place::Nowhere, 0.0, None),
        };
        // (9.4) a fresh inverted-dropout mask, entries 0 or 1/(1-p)            (B, H)
        let mut mask = |on: bool| -> Option<Array2<f64>> {
            let rng = rng.as_deref_mut()?;
            on.then(|| rnn::stack::dropout_mask((1, b, hidden), p, rng).index_axis_move(Axis(0), 0))
        };
        let mut state = State::from_h(h.clone());
        let mut saved = Vec::with_capacity(t_len);
        let mut loss = 0.0;
        for t in 0..t_len {
            let ids: Vec<usize> = inputs.row(t).to_vec();
            let x = one_hot(&ids, v); // (B, V)
                                      // inside the recurrence: the step reads m ⊙ h_{t-1}
            let m_rec = mask(place == Place::Recurrent);
            let prev = match &m_rec {
                Some(m) => State::from_h(&state.h * m),
                None => state.clone(),
            };
            let (next, cache) = self.cell.forward(x.view(), &prev);
            // on the output: the output layer reads m ⊙ h_t
            let m_out = mask(place == Place::Output);
            let y_in = match &m_out {
                Some(m) => &next.h * m,
                None => next.h.clone(),
            }; // (B, H)
            let logits = self.out.forward(y_in.view()); // (B, V)
            let targets_t: Vec<usize> = targets.row(t).to_vec();
            let (l, dlogits) = rnn::loss::softmax_cross_entropy(logits.view(), &targets_t, None);
            loss += l / t_len as f64;
            saved.push((cache, y_in, dlogits, m_rec, m_out));
            state = next;
        }
        if rng.is_none() {
            return (loss, None, state.h);
        }
        let (mut g_cell, mut g_out) = (self.cell.zeros_like(), self.out.zeros_like());
        let mut d_next = Array2::<f64>::zeros((b, hidden));
        for (cache, y_in, dlogits, m_rec, m_out) in saved.iter().rev() {
            let dy = dlogits / t_len as f64; // the loss is the mean over the T steps
            let d_in = self.out.backward(y_in.view(), dy.view(), &mut g_out); // (B, H)
            let dh = match m_out {
                Some(m) => &d_in * m,
                None => d_in,
            } + &d_next;
            let (_, d_prev) = self.cell.backward(cache, &State::from_h(dh), &mut g_cell);
            // the mask sat between h_{t-1} and the step: its gradient passes through it too
            d_next = match m_rec {
                Some(m) => &d_prev.h * m,
                None => d_prev.h,
            };
        }
        (loss, Some((g_cell, g_out)), state.h)
    }

    /// The mean loss over `ids`, in evaluation mode (no dropout), B = 32 streams of chunks of 50.
    fn evaluate(&self, ids: &[usize]) -> f64 {
        let batches = TbpttBatches::new(ids, 32, 50).expect("the text is long enough");
        let mut h = Array2::zeros((32, self.cell.hidden_size()));
        let mut total = 0.0;
        for k in 0..batches.num_chunks() {
            let (x, y) = batches.chunk(k);
            let (l, _, next) = self.chunk(&x, &y, &h, None);
            total += l;
            h = next;
        }
        total / batches.num_chunks() as f64
    }
}

/// Trains chapter 6's model (Adam lr 2e-3, clip 5 on the global norm, B = 32, chunks of 50, seed 0) with
/// dropout `p` at `place`; returns the final training and validation losses in evaluation mode.
fn train_elman(
    place: Place,
    p: f64,
    hidden: usize,
    steps: usize,
    data: &(Vocab, Vec<usize>, Vec<usize>),
) -> (f64, f64) {
    let (vocab, train, val) = data;
    let mut rng = rnn::init::rng(0);
    let mut model = ElmanLm {
        cell: Elman::new(vocab.len(), hidden, &mut rng),
        out: Dense::new(hidden, vocab.len(), &mut rng),
    };
    let batches = TbpttBatches::new(train, 32, 50).expect("the text is long enough");
    let (mut adam_cell, mut adam_out) = (Adam::new(2e-3), Adam::new(2e-3));
    let mut h = Array2::zeros((32, hidden));
    for step in 0..steps {
        let k = step % batches.num_chunks();
        if k == 0 {
            h = Array2::zeros((32, hidden));
        }
        let (x, y) = batches.chunk(k);
        let (_, grads, next) = model.chunk(&x, &y, &h, Some((place, p, &mut rng)));
        let (mut g_cell, mut g_out) = grads.expect("training returns gradients");
        // one global norm over both parts, as chapter 6 clips
        let sq = |g: &dyn Parameters| {
            g.params()
                .iter()
                .map(|(_, t)| t.iter().map(|v| v * v).sum::<f64>())
                .sum::<f64>()
        };
        let norm = (sq(&g_cell) + sq(&g_out)).sqrt();
        if norm > 5.0 {
            for (_, mut t) in g_cell.params_mut().into_iter().chain(g_out.params_mut()) {
                t.mapv_inplace(|v| v * 5.0 / norm);
            }
        }
        adam_cell.step(&mut model.cell, &g_cell);
        adam_out.step(&mut model.out, &g_out);
        h = next;
    }
    (model.evaluate(train), model.evaluate(val))
}

fn exercise_4(quick: bool) -> rnn::Result<()> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/moby-dick.txt");
    let text = std::fs::read_to_string(path).expect("data/moby-dick.txt");
    let vocab = Vocab::from_text(&text);
    let ids = vocab.encode(&text)?;
    let (train, val) = split_train_val(&ids, 0.1)?;
    let data = (vocab, train.to_vec(), val.to_vec());
    // The step-by-step backward, masks included, against central differences (the masks are redrawn
    // from the same seed for every evaluation, so the loss is one fixed function of the weights).
    let mut rng = rnn::init::rng(5);
    let small = ElmanLm {
        cell: Elman::new(data.0.len(), 5, &mut rng),
        out: Dense::new(5, data.0.len(), &mut rng),
    };
    let (x, y) = TbpttBatches::new(&data.1, 3, 6)?.chunk(0);
    let h0 = rnn::init::uniform(&[3, 5], -0.5, 0.5, &mut rng)
        .into_dimensionality()
        .unwrap();
    for place in [Place::Output, Place::Recurrent] {
        let run = |m: &ElmanLm| m.chunk(&x, &y, &h0, Some((place, 0.3, &mut rnn::init::rng(6))));
        let (g_cell, g_out) = run(&small).1.unwrap();
        let loss_cell = |c: &Elman| {
            run(&ElmanLm {
                cell: c.clone(),
                out: small.out.clone(),
            })
            .0
        };
        let loss_out = |o: &Dense| {
            run(&ElmanLm {
                cell: small.cell.clone(),
                out: o.clone(),
            })
            .0
        };
        let worst = rnn::gradcheck::check_params(&small.cell, &g_cell, loss_cell)
            .max_rel_error()
            .max(rnn::gradcheck::check_params(&small.out, &g_out, loss_out).max_rel_error());
        assert!(
            worst < rnn::gradcheck::TOLERANCE,
            "{place:?}: relative error {worst:e}"
        );
        println!(
            "gradient check of the masked backward ({place:?}, p = 0.3): relative error below 1e-7"
        );
    }
    let (hidden, steps) = if quick { (16, 20) } else { (128, 3500) };
    let runs = [
        (Place::Nowhere, 0.0),
        (Place::Output, 0.1),
        (Place::Recurrent, 0.1),
        (Place::Output, 0.3),
        (Place::Recurrent, 0.3),
    ];
    println!(
        "chapter 6's Elman model, H = {hidden}, on Moby-Dick; {steps} steps, seed 0; losses in evaluation mode"
    );
    // two runs at a time, each with its own seeded random numbers: only the times depend on the scheduling
    let results: Vec<(f64, f64)> = std::thread::scope(|scope| {
        let mut out = Vec::new();
        for pair in runs.chunks(2) {
            let handles: Vec<_> = pair
                .iter()
                .map(|&(place, p)| {
                    let data = &data;
                    scope.spawn(move || train_elman(place, p, hidden, steps, data))
                })
                .collect();
            out.extend(handles.into_iter().map(|h| h.join().unwrap()));
        }
        out
    });
    println!(
        "{:<30} {:>8} {:>11} {:>7}",
        "dropout", "train", "validation", "gap"
    );
    for (&(place, p), (tr, va)) in runs.iter().zip(&results) {
        let name = match place {
            Place::Nowhere => "none".to_string(),
            Place::Output => format!("p = {p} on the output"),
            Place::Recurrent => format!("p = {p} on h(t-1), every step"),
        };
        println!("{name:<30} {tr:>8.3} {va:>11.3} {:>7.3}", va - tr);
    }
    Ok(())
}
// ANCHOR_END: ex4

fn main() -> rnn::Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let ex3 = || exercise_3(quick);
    let ex4 = || exercise_4(quick);
    let parts: [(&str, &dyn Fn() -> rnn::Result<()>); 3] =
        [("ex2", &exercise_2), ("ex3", &ex3), ("ex4", &ex4)];
    for (anchor, run) in parts {
        println!("// ANCHOR: {anchor}");
        run()?;
        println!("// ANCHOR_END: {anchor}");
    }
    Ok(())
}
