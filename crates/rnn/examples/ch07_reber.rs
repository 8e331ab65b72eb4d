//! Chapter 7: the embedded Reber grammar, Elman vs LSTM vs GRU, over ten seeds each.
//!
//! ```console
//! cargo run --release -p rnn --example ch07_reber             # the full run (long)
//! cargo run --release -p rnn --example ch07_reber -- --quick  # a small run (CI)
//! ```
//!
//! The task of Hochreiter and Schmidhuber's (1997) Experiment 1 (`rnn::tasks::reber`): read a string of
//! the embedded Reber grammar one symbol at a time and predict the next symbol. Most of it is local (the
//! inner Reber grammar), but the second-to-last symbol repeats the second one, T or P, seen a whole inner
//! string earlier. As in the paper the networks learn online, one string at a time, and a run counts as
//! solved when the network processes every string of a fixed test set correctly: at every position the
//! k most probable next symbols are exactly the k legal ones.
//!
//! Every cell (Elman tanh, LSTM, GRU, H = 8, PyTorch's initialisation, a linear head on every h_t and
//! softmax cross-entropy on the next symbol) is trained with Adam (lr 1e-2) and clipping by global norm
//! at 1, one fresh string per update, for seeds 0 to 29 and at most 100,000 strings. The 256 test strings
//! are scored every 500 strings. The program reports per cell how many seeds solved the task, the strings
//! they needed (mean, median, range), and, at the end of every run, the fraction of test strings processed correctly and the
//! fraction whose second-to-last symbol (the long-range one) is predicted right.

use std::sync::Mutex;
use std::time::Instant;

use ndarray::{ArrayViewD, ArrayViewMutD, Axis};
use rnn::cells::{AnyCell, CellKind};
use rnn::layers::Dense;
use rnn::loss::sequence_cross_entropy;
use rnn::optim::{clip_by_global_norm, Adam, Optimizer};
use rnn::prelude::*;
use rnn::tasks::reber::{
    all_steps_correct, embedded_reber, top_k_is_legal, ReberBatch, NUM_SYMBOLS,
};

const HIDDEN: usize = 8;
const LR: f64 = 1e-2;
const CLIP: f64 = 1.0;
const TEST_SIZE: usize = 256;
const EVAL_EVERY: usize = 500;

/// A recurrent cell with a linear head on every step: next-symbol scores from h_t.
#[derive(Clone)]
struct Net {
    cell: AnyCell,
    head: Dense, // (7, H)
}

impl Parameters for Net {
    fn params(&self) -> Vec<(String, ArrayViewD<'_, f64>)> {
        let mut ps = self.cell.params();
        ps.extend(self.head.params());
        ps
    }
    fn params_mut(&mut self) -> Vec<(String, ArrayViewMutD<'_, f64>)> {
        let mut ps = self.cell.params_mut();
        ps.extend(self.head.params_mut());
        ps
    }
}

impl Net {
    fn new(kind: CellKind, seed: u64) -> Net {
        let mut rng = rnn::init::rng(seed);
        let cell = AnyCell::new(kind, NUM_SYMBOLS, HIDDEN, &mut rng);
        let head = Dense::new(HIDDEN, NUM_SYMBOLS, &mut rng);
        Net { cell, head }
    }
}

// ANCHOR: reber_step
/// One online update on one string: predict every next symbol, softmax cross-entropy at every step.
fn train_step(net: &mut Net, opt: &mut Adam, string: Vec<usize>) {
    let batch = ReberBatch::from_strings(vec![string]); // B = 1, no padding
    let xs = batch.one_hot(); // (T, 1, 7)
    let run = net.cell.forward_seq(xs.view(), &net.cell.zero_state(1));
    let logits = net.head.forward_seq(run.outputs.view()); // (T, 1, 7)
    let (_loss, d_logits) = sequence_cross_entropy(logits.view(), batch.targets.view(), None);
    let mut grads = net.zeros_like();
    let d_outputs = net
        .head
        .backward_seq(run.outputs.view(), d_logits.view(), &mut grads.head); // (T, 1, H)
    net.cell
        .backward_seq(&run.caches, d_outputs.view(), None, &mut grads.cell, false);
    clip_by_global_norm(&mut grads, CLIP);
    opt.step(net, &grads);
}
// ANCHOR_END: reber_step

/// The fraction of test strings processed correctly, and the fraction whose second-to-last symbol is
/// predicted right (the prediction made after reading the inner string's E).
fn score(net: &Net, test: &ReberBatch) -> (f64, f64) {
    let xs = test.one_hot(); // (T_max, B, 7); the padding after a string's end never reaches its steps
    let run = net
        .cell
        .forward_seq(xs.view(), &net.cell.zero_state(TEST_SIZE));
    let scores = net.head.forward_seq(run.outputs.view());
    let (mut all, mut lag) = (0, 0);
    for b in 0..TEST_SIZE {
        all += usize::from(all_steps_correct(&scores, test, b));
        let t = test.lengths[b] - 2; // the step whose target is the second-to-last symbol
        let s: Vec<f64> = scores.index_axis(Axis(1), b).row(t).to_vec();
        let legal: [bool; NUM_SYMBOLS] = std::array::from_fn(|k| test.legal[[t, b, k]] > 0.5);
        lag += usize::from(top_k_is_legal(&s, &legal));
    }
    (all as f64 / TEST_SIZE as f64, lag as f64 / TEST_SIZE as f64)
}

struct Outcome {
    solved_at: Option<usize>,
    correct: f64,
    lag_correct: f64,
    seconds: f64,
}

fn run(kind: CellKind, seed: u64, max_strings: usize, test: &ReberBatch) -> Outcome {
    let started = Instant::now();
    let mut net = Net::new(kind, seed);
    let mut opt = Adam::new(LR);
    let mut rng = rnn::init::rng(100 + seed);
    let mut solved_at = None;
    for n in 1..=max_strings {
        train_step(&mut net, &mut opt, embedded_reber(&mut rng));
        if n % EVAL_EVERY == 0 && score(&net, test).0 == 1.0 {
            solved_at = Some(n);
            break;
        }
    }
    let (correct, lag_correct) = score(&net, test);
    Outcome {
        solved_at,
        correct,
        lag_correct,
        seconds: started.elapsed().as_secs_f64(),
    }
}

fn cell_name(kind: CellKind) -> &'static str {
    match kind {
        CellKind::RnnTanh => "Elman",
        CellKind::RnnRelu => "Elman ReLU",
        CellKind::Lstm => "LSTM",
        CellKind::Gru => "GRU",
    }
}

fn load_line() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| {
            let l: Vec<&str> = l.split_whitespace().take(3).collect();
            format!("load average {}", l.join(" "))
        })
        .unwrap_or_else(|_| "load average unknown".into())
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (seeds, max_strings) = if quick { (2, 2_000) } else { (30, 100_000) };
    let kinds = [CellKind::RnnTanh, CellKind::Lstm, CellKind::Gru];
    let test = ReberBatch::generate(TEST_SIZE, &mut rnn::init::rng(2_024));
    let mean_len = test.lengths.iter().sum::<usize>() as f64 / TEST_SIZE as f64 + 1.0;
    println!(
        "embedded Reber grammar: {TEST_SIZE} test strings, {mean_len:.1} symbols on average, the longest {}",
        test.lengths.iter().max().expect("a test set") + 1
    );
    println!(
        "H = {HIDDEN}, online (one string per update), Adam lr {LR}, clip {CLIP}; solved = every test string \
         correct, scored every {EVAL_EVERY} strings; at most {max_strings} strings; seeds 0 to {}",
        seeds - 1
    );
    // the load varies from run to run: only the full run, whose times the book quotes, prints it
    if !quick {
        println!("{} at the start", load_line());
    }
    println!();

    let jobs: Vec<(CellKind, u64)> = kinds
        .iter()
        .flat_map(|&k| (0..seeds).map(move |s| (k, s)))
        .collect();
    let started = Instant::now();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(2));
    let next = Mutex::new(0usize);
    let results: Mutex<Vec<Option<Outcome>>> = Mutex::new((0..jobs.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = {
                    let mut n = next.lock().unwrap();
                    *n += 1;
                    *n - 1
                };
                let Some(&(kind, seed)) = jobs.get(i) else {
                    break;
                };
                let out = run(kind, seed, max_strings, &test);
                results.lock().unwrap()[i] = Some(out);
            });
        }
    });
    let outcomes: Vec<Outcome> = results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|o| o.expect("every job ran"))
        .collect();

    println!(
        "{:<6} {:>7} {:>14} {:>14} {:>18} {:>20} {:>13}",
        "cell",
        "solved",
        "mean strings",
        "median",
        "fewest to most",
        "test strings right",
        "time per run"
    );
    for kind in kinds {
        let runs: Vec<&Outcome> = jobs
            .iter()
            .zip(&outcomes)
            .filter(|((k, _), _)| *k == kind)
            .map(|(_, o)| o)
            .collect();
        let mut solved: Vec<usize> = runs.iter().filter_map(|o| o.solved_at).collect();
        solved.sort_unstable();
        let (mean, median, range) = if solved.is_empty() {
            ("-".to_string(), "-".to_string(), "-".to_string())
        } else {
            let n = solved.len();
            let median = if n % 2 == 1 {
                solved[n / 2] as f64
            } else {
                (solved[n / 2 - 1] + solved[n / 2]) as f64 / 2.0
            };
            (
                format!("{:.0}", solved.iter().sum::<usize>() as f64 / n as f64),
                format!("{median:.0}"),
                format!("{} to {}", solved[0], solved[n - 1]),
            )
        };
        let right = runs.iter().map(|o| o.correct).sum::<f64>() / runs.len() as f64;
        let time = runs.iter().map(|o| o.seconds).sum::<f64>() / runs.len() as f64;
        println!(
            "{:<6} {:>7} {:>14} {:>14} {:>18} {:>19.1}% {:>11.1} s",
            cell_name(kind),
            format!("{}/{}", solved.len(), runs.len()),
            mean,
            median,
            range,
            100.0 * right,
            time
        );
    }
    println!("\nper seed, in order: strings needed ('-' = not solved), and at the end of the run the test strings");
    println!("processed correctly / the second-to-last symbol right, in %");
    for kind in kinds {
        let cells: Vec<String> = jobs
            .iter()
            .zip(&outcomes)
            .filter(|((k, _), _)| *k == kind)
            .map(|(_, o)| {
                let n = o.solved_at.map_or("-".into(), |n| n.to_string());
                format!(
                    "{n:>6} {:>3.0}/{:<3.0}",
                    100.0 * o.correct,
                    100.0 * o.lag_correct
                )
            })
            .collect();
        for (row, chunk) in cells.chunks(6).enumerate() {
            let name = if row == 0 { cell_name(kind) } else { "" };
            println!("{name:<6} {}", chunk.join("  "));
        }
    }
    println!(
        "\n(mean strings: over the solved seeds; '-' = not solved within the budget; {} runs took {:.0} s in all, {}; \
         times are wall-clock with two runs in parallel and vary with the machine)",
        jobs.len(),
        started.elapsed().as_secs_f64(),
        if quick { "load not shown".to_string() } else { load_line() }
    );
}
