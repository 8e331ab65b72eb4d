//! Chapter 4: what the faster order of BPTT buys, and what skipping ∂L/∂x buys, measured separately.
//!
//! ```console
//! cargo run --release -q -p rnn --example ch04_backward_order -- data/moby-dick.txt
//! ```
//!
//! The min-char-rnn setting (an Elman cell with H = 100 fed one-hot characters, T = 25, B = 1, Adagrad
//! 0.1, gradients clipped to ±5) is trained three ways on the same text, from the same weights:
//!
//! 1. step by step: `bptt::unroll` and `bptt::bptt` (every step computes its weight gradients and ∂L/∂x_t);
//! 2. reordered: `forward_seq` and `backward_seq` with `want_dx = true` ((4.10), (4.11): the weight
//!    gradients as one matrix product each after the loop, the input half of (2.1) before it);
//! 3. reordered and without ∂L/∂x: the same with `want_dx = false`.
//!
//! The three are timed in alternation, for several rounds, and the medians compared. All three compute the
//! same numbers up to rounding, which the program checks on the first step (over many steps of training the
//! rounding differences grow, as they do between any two machines, so the runs are not compared there).

use std::time::Instant;

use ndarray::{Array3, ArrayViewD, ArrayViewMutD};
use rnn::bptt::{bptt, unroll};
use rnn::data::{TbpttBatches, Vocab};
use rnn::layers::{one_hot, Dense};
use rnn::loss::sequence_cross_entropy;
use rnn::optim::{clip_by_value, Adagrad, Optimizer};
use rnn::prelude::*;

/// The three schedules of the same computation.
#[derive(Clone, Copy)]
enum Order {
    StepByStep,
    Reordered,
    ReorderedNoDx,
}

impl Order {
    fn name(self) -> &'static str {
        match self {
            Order::StepByStep => "step by step (unroll + bptt)",
            Order::Reordered => "reordered, want_dx = true",
            Order::ReorderedNoDx => "reordered, want_dx = false",
        }
    }
}

/// The cell and the output layer as one set of parameters (one optimiser, one clip).
#[derive(Clone)]
struct Net {
    cell: Elman,
    out: Dense,
}

impl Parameters for Net {
    fn params(&self) -> Vec<(String, ArrayViewD<'_, f64>)> {
        let cell = self.cell.params().into_iter();
        cell.chain(self.out.params()).collect()
    }
    fn params_mut(&mut self) -> Vec<(String, ArrayViewMutD<'_, f64>)> {
        let cell = self.cell.params_mut().into_iter();
        cell.chain(self.out.params_mut()).collect()
    }
}

/// One trainer: its own copy of the network, optimiser, carried state and position in the text.
struct Trainer {
    order: Order,
    net: Net,
    opt: Adagrad,
    state: State,
    chunk: usize,
}

impl Trainer {
    /// The loss and gradient of the next chunk, computed in this trainer's order.
    fn gradient(&self, batches: &TbpttBatches) -> (f64, Net, State) {
        let (x_ids, y_ids) = batches.chunk(self.chunk % batches.num_chunks()); // (T, B)
        let (t, b) = x_ids.dim();
        let v = self.net.out.out_features();
        let flat: Vec<usize> = x_ids.iter().copied().collect();
        let xs: Array3<f64> = one_hot(&flat, v)
            .into_shape_with_order((t, b, v))
            .expect("(T·B, V) as (T, B, V)"); // (T, B, V)
        let net = &self.net;
        let run = match self.order {
            Order::StepByStep => unroll(&net.cell, xs.view(), &self.state),
            _ => net.cell.forward_seq(xs.view(), &self.state),
        };
        let logits = net.out.forward_seq(run.outputs.view()); // (T, B, V)
        let (loss, dlogits) = sequence_cross_entropy(logits.view(), y_ids.view(), None);
        let mut g = net.zeros_like();
        let dhs = net
            .out
            .backward_seq(run.outputs.view(), dlogits.view(), &mut g.out); // (T, B, H)
        match self.order {
            Order::StepByStep => {
                bptt(&net.cell, &run.caches, dhs.view(), None, &mut g.cell);
            }
            Order::Reordered | Order::ReorderedNoDx => {
                let want_dx = matches!(self.order, Order::Reordered);
                net.cell
                    .backward_seq(&run.caches, dhs.view(), None, &mut g.cell, want_dx);
            }
        }
        (loss, g, run.last)
    }

    /// One truncated-BPTT step on the next chunk: gradient, clip, update.
    fn step(&mut self, batches: &TbpttBatches) {
        let (_, mut g, last) = self.gradient(batches);
        clip_by_value(&mut g, 5.0);
        self.opt.step(&mut self.net, &g);
        self.state = last;
        self.chunk += 1;
    }
}

/// The largest difference between two sets of gradients, over every element.
fn max_diff(a: &Net, b: &Net) -> f64 {
    a.params()
        .iter()
        .zip(b.params())
        .flat_map(|((_, x), (_, y))| {
            x.iter()
                .zip(y.iter())
                .map(|(p, q)| (p - q).abs())
                .collect::<Vec<f64>>()
        })
        .fold(0.0, f64::max)
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "data/moby-dick.txt".into());
    let text = std::fs::read_to_string(&path)?;
    let vocab = Vocab::from_text(&text);
    let ids = vocab.encode(&text)?;
    let (hidden, t_len, batch) = (100, 25, 1);
    let batches = TbpttBatches::new(&ids, batch, t_len)?;
    let (steps_per_round, rounds) = (2000, 7);
    println!(
        "{path}: {} characters, vocabulary {}; Elman H = {hidden}, T = {t_len}, B = {batch}, Adagrad 0.1, clip ±5",
        ids.len(),
        vocab.len()
    );
    println!(
        "{rounds} rounds of {steps_per_round} steps ({} characters) per order, the orders alternating\n",
        steps_per_round * batches.chars_per_chunk()
    );

    let mut rng = rnn::init::rng(1);
    let net = Net {
        cell: Elman::new(vocab.len(), hidden, &mut rng),
        out: Dense::new(hidden, vocab.len(), &mut rng),
    };
    let orders = [Order::StepByStep, Order::Reordered, Order::ReorderedNoDx];
    let mut trainers: Vec<Trainer> = orders
        .iter()
        .map(|&order| Trainer {
            order,
            net: net.clone(),
            opt: Adagrad::new(0.1),
            state: net.cell.zero_state(batch),
            chunk: 0,
        })
        .collect();
    // The same sums in another order: the first step's loss and gradients agree up to rounding.
    let first: Vec<(f64, Net, State)> = trainers.iter().map(|tr| tr.gradient(&batches)).collect();
    println!(
        "first step, same weights: loss {:.12} step by step, {:.12} reordered",
        first[0].0, first[1].0
    );
    println!(
        "largest gradient difference: {:.1e} reordered vs step by step, {:.1e} without dx vs with\n",
        max_diff(&first[1].1, &first[0].1),
        max_diff(&first[2].1, &first[1].1)
    );
    println!(
        "{:<9}{:>18}{:>18}{:>18}",
        "", "step by step", "reordered", "reordered, no dx"
    );

    let mut speeds = vec![Vec::new(); orders.len()];
    for round in 1..=rounds {
        let mut line = format!("{:<9}", format!("round {round}:"));
        for (k, tr) in trainers.iter_mut().enumerate() {
            let start = Instant::now();
            for _ in 0..steps_per_round {
                tr.step(&batches);
            }
            let cps = (steps_per_round * batches.chars_per_chunk()) as f64
                / start.elapsed().as_secs_f64();
            speeds[k].push(cps);
            line.push_str(&format!("{:>18}", format!("{cps:.0} chars/s")));
        }
        println!("{line}");
    }
    println!();
    let base = median(&speeds[0]);
    for (k, order) in orders.iter().enumerate() {
        let m = median(&speeds[k]);
        println!(
            "  {:<30} median {m:>8.0} chars/s  {:.2}x step by step",
            order.name(),
            m / base
        );
    }
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        let load: Vec<&str> = load.split_whitespace().take(3).collect();
        println!(
            "(load average {}; other work on the machine lowers every number)",
            load.join(" ")
        );
    }
    Ok(())
}
