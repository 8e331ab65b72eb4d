//! Worked answers to chapter 7's exercises: every number the answers quote is printed here.
//!
//! ```console
//! cargo run --release -q -p rnn --example answers_ch07             # the runs the answers quote (minutes)
//! cargo run --release -q -p rnn --example answers_ch07 -- --quick  # the same code, small (seconds)
//! ```
//!
//! The book includes this file's `// ANCHOR: exK` regions into the answer to exercise K, and the lines of
//! its output (`book/src/outputs/answers_ch07.txt`) between the printed `// ANCHOR: exK` and
//! `// ANCHOR_END: exK` (mdBook finds anchors in any file; `cargo xtask book` checks them).
//! Exercises 1 and 2 are labs (their solutions are in `labs/solutions/`).
//!
//! Exercises 4 to 6 train the LSTM of `ch07_adding.rs` on the adding problem (H = 32, PyTorch's
//! initialisation, a linear head on h_T, Adam 3e-3, batches of 32 fresh sequences, clipping by global norm
//! at 1, solved = test MSE < 0.01 on 1,000 fixed test sequences scored every 100 steps, at most 5,000 steps,
//! the same seeds for the weights, the data and the test sets), and exercise 7 the LSTM of `ch07_reber.rs`
//! (online, Adam 1e-2, clipping at 1, 256 test strings scored every 500 strings, at most 100,000 strings,
//! seeds 0 to 29) with fewer units. Those examples stay as the chapter shows them: their setup is repeated
//! here with the library's public API, so the same seed gives the same network and the same data.
//! `--quick` runs the same code on short sequences with small budgets: it is the probe of the full run in
//! `book/outputs.txt`.

use std::sync::Mutex;
use std::time::Instant;

use ndarray::{s, Array2, Array3, ArrayViewD, ArrayViewMutD, Axis};
use rnn::cells::{AnyCache, AnyCell, CellConfig, CellKind, LstmOptions};
use rnn::layers::Dense;
use rnn::loss::{mse, sequence_cross_entropy};
use rnn::optim::{clip_by_global_norm, Adam, Optimizer};
use rnn::prelude::*;
use rnn::tasks::adding_problem;
use rnn::tasks::reber::{all_steps_correct, embedded_reber, ReberBatch, NUM_SYMBOLS};
use rnn::viz::pearson;

/// Runs `f` on every job on up to two threads (as the chapter's programs do); results in job order. Every
/// job has its own seeded random numbers, so the results do not depend on the scheduling, only the times.
fn par_map<J: Sync, R: Send>(jobs: &[J], f: impl Fn(&J) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(2));
    let next = Mutex::new(0usize);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..jobs.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = {
                    let mut n = next.lock().unwrap();
                    *n += 1;
                    *n - 1
                };
                let Some(job) = jobs.get(i) else { break };
                let out = f(job);
                results.lock().unwrap()[i] = Some(out);
            });
        }
    });
    results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|o| o.expect("every job ran"))
        .collect()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

// ---------------------------------------------------------------------------------------------------------
// The adding problem, as in ch07_adding.rs

const HIDDEN: usize = 32;
const BATCH: usize = 32;
const LR: f64 = 3e-3;
const CLIP: f64 = 1.0;
const EVAL_EVERY: usize = 100;
const TEST_SIZE: usize = 1000;
const SOLVED_MSE: f64 = 0.01;

/// The chapter's network: an LSTM read once, at the end, by a linear head.
#[derive(Clone)]
struct Net {
    cell: AnyCell,
    head: Dense, // (1, H): the prediction from h_T
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

// ANCHOR: ex4_net
impl Net {
    /// The chapter's `Net::new` for the LSTM, with the forget-gate bias as a parameter: `forget_bias` 0 is
    /// PyTorch's initialisation and the chapter's network (the same random numbers are drawn either way;
    /// the bias is added to the forget gate's block of `bias_ih` afterwards).
    fn new(forget_bias: f64, seed: u64) -> Net {
        let mut rng = rnn::init::rng(seed);
        let options = LstmOptions {
            forget_bias,
            ..Default::default()
        };
        let cell = AnyCell::Lstm(Lstm::with_options(2, HIDDEN, options, &mut rng));
        let head = Dense::new(HIDDEN, 1, &mut rng);
        Net { cell, head }
    }
}
// ANCHOR_END: ex4_net

impl Net {
    /// The predictions `(B, 1)` for inputs `(T, B, 2)`.
    fn predict(&self, xs: &Array3<f64>) -> Array2<f64> {
        let run = self
            .cell
            .forward_seq(xs.view(), &self.cell.zero_state(xs.dim().1));
        self.head.forward(run.last.h.view())
    }
}

/// One training step of `ch07_adding.rs`: many-to-one, BPTT from a gradient on the last step only.
fn train_step(net: &mut Net, opt: &mut Adam, xs: &Array3<f64>, ys: &Array2<f64>) -> f64 {
    let (t_len, batch, _) = xs.dim();
    let run = net.cell.forward_seq(xs.view(), &net.cell.zero_state(batch));
    let pred = net.head.forward(run.last.h.view());
    let (loss, d_pred) = mse(pred.view(), ys.view());
    let mut grads = net.zeros_like();
    let d_h_last = net
        .head
        .backward(run.last.h.view(), d_pred.view(), &mut grads.head);
    let mut d_outputs = Array3::zeros((t_len, batch, HIDDEN)); // (T, B, H), zero but at t = T
    d_outputs
        .index_axis_mut(Axis(0), t_len - 1)
        .assign(&d_h_last);
    net.cell
        .backward_seq(&run.caches, d_outputs.view(), None, &mut grads.cell, false);
    clip_by_global_norm(&mut grads, CLIP);
    opt.step(net, &grads);
    loss
}

/// The chapter's fixed test set of one T: 1,000 sequences from a seed of their own.
fn test_set(t_len: usize) -> (Array3<f64>, Array2<f64>) {
    let (xs, ys) = adding_problem(t_len, TEST_SIZE, &mut rnn::init::rng(1_000 + t_len as u64));
    (
        xs,
        Array2::from_shape_vec((TEST_SIZE, 1), ys).expect("one target per sequence"),
    )
}

/// Test MSE and the fraction within 0.04, in batches of 250 sequences.
fn score(net: &Net, xs: &Array3<f64>, ys: &Array2<f64>) -> (f64, f64) {
    let (mut sq, mut close) = (0.0, 0);
    for start in (0..TEST_SIZE).step_by(250) {
        let part = xs.slice(s![.., start..start + 250, ..]).to_owned();
        let pred = net.predict(&part);
        for (i, p) in pred.column(0).iter().enumerate() {
            let err = p - ys[[start + i, 0]];
            sq += err * err;
            close += usize::from(err.abs() < 0.04);
        }
    }
    (sq / TEST_SIZE as f64, close as f64 / TEST_SIZE as f64)
}

/// One training run on the adding problem.
#[derive(Clone, Copy)]
struct Job {
    forget_bias: f64,
    t_len: usize,
    seed: u64,
    max_steps: usize,
}

struct Outcome {
    job: Job,
    /// Sequences seen when the test MSE first fell below 0.01, if it did.
    solved_at: Option<usize>,
    /// Training steps taken.
    steps: usize,
    final_mse: f64,
    within_004: f64,
    seconds: f64,
    net: Net,
}

/// `ch07_adding.rs`'s `run`: train until solved or out of budget.
fn train_adding(job: &Job) -> Outcome {
    let started = Instant::now();
    let mut net = Net::new(job.forget_bias, job.seed);
    let mut opt = Adam::new(LR);
    let mut data_rng = rnn::init::rng(100 + job.seed);
    let (test_xs, test_ys) = test_set(job.t_len);
    let (mut solved_at, mut steps) = (None, 0);
    for step in 1..=job.max_steps {
        let (xs, ys) = adding_problem(job.t_len, BATCH, &mut data_rng);
        let ys = Array2::from_shape_vec((BATCH, 1), ys).expect("one target per sequence");
        train_step(&mut net, &mut opt, &xs, &ys);
        steps = step;
        if step % EVAL_EVERY == 0 && score(&net, &test_xs, &test_ys).0 < SOLVED_MSE {
            solved_at = Some(step * BATCH);
            break;
        }
    }
    let (final_mse, within_004) = score(&net, &test_xs, &test_ys);
    // progress on stderr (the output the book quotes is stdout)
    eprintln!(
        "  [b_f = {}, T = {}, seed {}: {steps} steps, test MSE {final_mse:.4}, {:.0} s]",
        job.forget_bias,
        job.t_len,
        job.seed,
        started.elapsed().as_secs_f64()
    );
    Outcome {
        job: *job,
        solved_at,
        steps,
        final_mse,
        within_004,
        seconds: started.elapsed().as_secs_f64(),
        net,
    }
}

/// One table row per (forget bias, T), one column entry per seed, as in the chapter's table.
fn adding_table(outcomes: &[Outcome]) {
    println!(
        "{:>6} {:>5} {:>7} {:>24} {:>22} {:>14} {:>13}",
        "b_f",
        "T",
        "solved",
        "sequences until solved",
        "final test MSE",
        "|err| < 0.04",
        "time per run"
    );
    let mut keys: Vec<(f64, usize)> = Vec::new();
    for o in outcomes {
        let key = (o.job.forget_bias, o.job.t_len);
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    for (bias, t_len) in keys {
        let runs: Vec<&Outcome> = outcomes
            .iter()
            .filter(|o| o.job.forget_bias == bias && o.job.t_len == t_len)
            .collect();
        let solved = runs.iter().filter(|o| o.solved_at.is_some()).count();
        let seqs: Vec<String> = runs
            .iter()
            .map(|o| o.solved_at.map_or("-".into(), |n| n.to_string()))
            .collect();
        let mses: Vec<String> = runs.iter().map(|o| format!("{:.4}", o.final_mse)).collect();
        let close: Vec<String> = runs
            .iter()
            .map(|o| format!("{:.0}%", 100.0 * o.within_004))
            .collect();
        let time = runs.iter().map(|o| o.seconds).sum::<f64>() / runs.len() as f64;
        println!(
            "{:>6.1} {:>5} {:>7} {:>24} {:>22} {:>14} {:>11.0} s",
            bias,
            t_len,
            format!("{solved}/{}", runs.len()),
            seqs.join(" "),
            mses.join(" "),
            close.join(" "),
            time
        );
    }
}

// ---------------------------------------------------------------------------------------------------------
// The exercises

// ANCHOR: ex3
/// The cell path (7.25) with every forget gate at f: the factor f^n after n steps; and the bias that gives
/// f = 0.99 when the rest of a_f is zero, σ⁻¹(0.99) = ln(0.99 / 0.01).
fn exercise_3() {
    for f in [0.9, 0.99] {
        println!(
            "f = {f}: f^100 = {:.3e}   (a gradient keeps half of itself after ln 2 / -ln f = {:.1} steps)",
            f64::powi(f, 100),
            std::f64::consts::LN_2 / -f64::ln(f)
        );
    }
    let b = (0.99_f64 / 0.01).ln();
    println!(
        "f = 0.99 needs a_f = ln(0.99/0.01) = ln 99 = {b:.3}; check: σ({b:.3}) = {:.4}",
        sigmoid(b)
    );
    for b in [0.0, 1.0, 3.0, b] {
        println!(
            "b_f = {b:.3}: f = σ(b_f) = {:.4}, f^100 = {:.3e}",
            sigmoid(b),
            sigmoid(b).powi(100)
        );
    }
}
// ANCHOR_END: ex3

// ANCHOR: ex4
/// The chapter's T = 200 and T = 400 rows again, with the forget-gate bias at 1, the same seeds and budget.
fn exercise_4(lengths: &[usize], max_steps: usize) -> Vec<Outcome> {
    let jobs: Vec<Job> = lengths
        .iter()
        .flat_map(|&t_len| {
            (0..3).map(move |seed| Job {
                forget_bias: 1.0,
                t_len,
                seed,
                max_steps,
            })
        })
        .collect();
    // b_f = 0 must be the chapter's network exactly (ch07_adding.rs builds it with AnyCell::from_config)
    let chapter = {
        let mut rng = rnn::init::rng(0);
        AnyCell::from_config(&CellConfig::new(CellKind::Lstm), 2, HIDDEN, &mut rng)
    };
    let ours = Net::new(0.0, 0).cell;
    let diff = chapter
        .params()
        .iter()
        .zip(ours.params())
        .map(|((_, a), (_, b))| (a - &b).iter().fold(0.0_f64, |m, v| m.max(v.abs())))
        .fold(0.0_f64, f64::max);
    println!("b_f = 0 gives the chapter's LSTM: largest parameter difference {diff:.1e} (seed 0)");
    println!(
        "LSTM H = {HIDDEN}, forget-gate bias b_f = 1, seeds 0 1 2, at most {max_steps} steps ({} sequences)",
        max_steps * BATCH
    );
    let outcomes = par_map(&jobs, train_adding);
    adding_table(&outcomes);
    outcomes
}
// ANCHOR_END: ex4

// ANCHOR: ex5
/// Where the memory is: the forget gates of a trained network over 100 test sequences, unit by unit, then
/// the open units' c_t along one test sequence next to its inputs, and how well c_t tracks the marked
/// values over all 1,000 test sequences.
fn exercise_5(o: &Outcome) {
    let t_len = o.job.t_len;
    let (xs, ys) = test_set(t_len);
    let run = o
        .net
        .cell
        .forward_seq(xs.view(), &o.net.cell.zero_state(TEST_SIZE));
    // c_t and f_t of every step, (T, B, H) each, from the caches
    let (mut cs, mut fs) = (
        Array3::<f64>::zeros((t_len, TEST_SIZE, HIDDEN)),
        Array3::<f64>::zeros((t_len, TEST_SIZE, HIDDEN)),
    );
    for (t, cache) in run.caches.iter().enumerate() {
        let AnyCache::Lstm(c) = cache else {
            unreachable!("an LSTM")
        };
        cs.index_axis_mut(Axis(0), t).assign(&c.c);
        fs.index_axis_mut(Axis(0), t).assign(&c.f);
    }
    // each unit's mean forget gate over all steps of the first 100 test sequences
    let mean_f: Vec<f64> = (0..HIDDEN)
        .map(|j| fs.slice(s![.., 0..100, j]).mean().expect("steps"))
        .collect();
    let mut order: Vec<usize> = (0..HIDDEN).collect();
    order.sort_by(|&a, &b| mean_f[b].total_cmp(&mean_f[a]));
    println!(
        "the b_f = {:.0}, T = {t_len}, seed {} network (solved after {} sequences): mean forget gate per unit, \
         over 100 test sequences",
        o.job.forget_bias,
        o.job.seed,
        o.solved_at.map_or("-".into(), |n| n.to_string())
    );
    let all = mean_f.iter().sum::<f64>() / HIDDEN as f64;
    let above = |bar: f64| mean_f.iter().filter(|&&m| m > bar).count();
    println!(
        "  all {HIDDEN} units: {all:.3}; above 0.9: {}; above 0.99: {}",
        above(0.9),
        above(0.99)
    );
    let top: Vec<String> = order[..6]
        .iter()
        .map(|&j| format!("unit {j} {:.4}", mean_f[j]))
        .collect();
    println!("  most open: {}", top.join(", "));
    // the open units: mean f above 0.9 (at least the two most open, at most three)
    let open: Vec<usize> = order
        .iter()
        .copied()
        .take_while(|&j| mean_f[j] > 0.9)
        .take(3)
        .collect();
    let open = if open.len() < 2 {
        order[..2].to_vec()
    } else {
        open
    };

    // one test sequence: its two marked steps, and rows around them
    let b = 0;
    let marks: Vec<usize> = (0..t_len).filter(|&t| xs[[t, b, 1]] > 0.5).collect();
    let pred = o.net.predict(&xs.slice(s![.., 0..1, ..]).to_owned())[[0, 0]];
    println!(
        "\ntest sequence 0: marked steps {} (values {:.3} and {:.3}), target {:.3}, prediction {pred:.3}",
        marks
            .iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(" and "),
        xs[[marks[0], b, 0]],
        xs[[marks[1], b, 0]],
        ys[[b, 0]]
    );
    let mut rows: Vec<usize> = (0..t_len).step_by(t_len / 10).collect();
    for &m in &marks {
        rows.extend([m.saturating_sub(1), m, m + 1]);
    }
    rows.push(t_len - 1);
    rows.retain(|&t| t < t_len);
    rows.sort_unstable();
    rows.dedup();
    print!("{:>5} {:>7} {:>6}", "t", "value", "marker");
    for &j in &open {
        print!(" {:>12} {:>9}", format!("c_t unit {j}"), "f_t");
    }
    println!();
    for t in rows {
        print!("{:>5} {:>7.3} {:>6.0}", t, xs[[t, b, 0]], xs[[t, b, 1]]);
        for &j in &open {
            print!(" {:>12.3} {:>9.4}", cs[[t, b, j]], fs[[t, b, j]]);
        }
        println!();
    }

    // over all test sequences: does c hold the first value in the middle, and the sum at the end?
    let first: Vec<f64> = (0..TEST_SIZE)
        .map(|b| {
            let t = (0..t_len).find(|&t| xs[[t, b, 1]] > 0.5).expect("a marker");
            xs[[t, b, 0]]
        })
        .collect();
    let sums: Vec<f64> = ys.column(0).to_vec();
    let mid = t_len / 2 - 1; // the last step of the first half: the first marker is behind, the second ahead
    println!(
        "\nover the {TEST_SIZE} test sequences, correlation r of c_t with what it should hold:"
    );
    for &j in &open {
        let c_mid: Vec<f64> = cs.slice(s![mid, .., j]).to_vec();
        let c_end: Vec<f64> = cs.slice(s![t_len - 1, .., j]).to_vec();
        let c_end_all_units = pearson(&c_end, &sums).unwrap_or(f64::NAN);
        println!(
            "  unit {j}: r(c at t = {mid}, first marked value) = {:+.3}; r(c at t = {}, target sum) = {:+.3}",
            pearson(&c_mid, &first).unwrap_or(f64::NAN),
            t_len - 1,
            c_end_all_units
        );
    }
    let best_other = order
        .iter()
        .filter(|j| !open.contains(j))
        .map(|&j| {
            let c_end: Vec<f64> = cs.slice(s![t_len - 1, .., j]).to_vec();
            pearson(&c_end, &sums).unwrap_or(0.0).abs()
        })
        .fold(0.0, f64::max);
    println!(
        "  the other units: the largest |r(c at t = {}, target sum)| is {best_other:.3}",
        t_len - 1
    );
}
// ANCHOR_END: ex5

// ANCHOR: ex6
/// T = 1000: the chapter's LSTM (b_f = 0, seed 0) for as many steps as this program can afford, timed, so
/// that the cost of the full budget can be extrapolated from a measurement on this machine.
fn exercise_6(t_len: usize, steps: usize, budget: usize) {
    let job = Job {
        forget_bias: 0.0,
        t_len,
        seed: 0,
        max_steps: steps,
    };
    let o = train_adding(&job);
    let per_step = o.seconds / o.steps as f64;
    println!(
        "LSTM b_f = 0, T = {t_len}, seed 0: {} steps ({} sequences) in {:.0} s, {per_step:.3} s per step \
         (test scoring included)",
        o.steps,
        o.steps * BATCH,
        o.seconds
    );
    println!(
        "  test MSE after them {:.4} (predicting 1.0 gives 0.166), {:.0}% within 0.04; solved: {}",
        o.final_mse,
        100.0 * o.within_004,
        o.solved_at
            .map_or("no".into(), |n| format!("after {n} sequences"))
    );
    println!(
        "  at this speed, {budget} steps ({} sequences, four times the chapter's budget) take {:.0} min",
        budget * BATCH,
        per_step * budget as f64 / 60.0
    );
}
// ANCHOR_END: ex6

// ---------------------------------------------------------------------------------------------------------
// The embedded Reber grammar, as in ch07_reber.rs

const REBER_LR: f64 = 1e-2;
const REBER_TEST: usize = 256;
const REBER_EVAL_EVERY: usize = 500;

/// An LSTM with a linear head on every step.
#[derive(Clone)]
struct ReberNet {
    cell: AnyCell,
    head: Dense, // (7, H)
}

impl Parameters for ReberNet {
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

/// `ch07_reber.rs`'s online update on one string.
fn reber_step(net: &mut ReberNet, opt: &mut Adam, string: Vec<usize>) {
    let batch = ReberBatch::from_strings(vec![string]);
    let xs = batch.one_hot(); // (T, 1, 7)
    let run = net.cell.forward_seq(xs.view(), &net.cell.zero_state(1));
    let logits = net.head.forward_seq(run.outputs.view()); // (T, 1, 7)
    let (_loss, d_logits) = sequence_cross_entropy(logits.view(), batch.targets.view(), None);
    let mut grads = net.zeros_like();
    let d_outputs = net
        .head
        .backward_seq(run.outputs.view(), d_logits.view(), &mut grads.head);
    net.cell
        .backward_seq(&run.caches, d_outputs.view(), None, &mut grads.cell, false);
    clip_by_global_norm(&mut grads, CLIP);
    opt.step(net, &grads);
}

/// The fraction of test strings processed correctly.
fn reber_score(net: &ReberNet, test: &ReberBatch) -> f64 {
    let xs = test.one_hot();
    let run = net
        .cell
        .forward_seq(xs.view(), &net.cell.zero_state(REBER_TEST));
    let scores = net.head.forward_seq(run.outputs.view());
    let right = (0..REBER_TEST)
        .filter(|&b| all_steps_correct(&scores, test, b))
        .count();
    right as f64 / REBER_TEST as f64
}

/// One online run: (strings until solved, fraction of test strings right at the end, seconds).
fn reber_run(
    hidden: usize,
    seed: u64,
    max_strings: usize,
    test: &ReberBatch,
) -> (Option<usize>, f64, f64) {
    let started = Instant::now();
    let mut rng = rnn::init::rng(seed);
    let cell = AnyCell::new(CellKind::Lstm, NUM_SYMBOLS, hidden, &mut rng);
    let head = Dense::new(hidden, NUM_SYMBOLS, &mut rng);
    let mut net = ReberNet { cell, head };
    let mut opt = Adam::new(REBER_LR);
    let mut data = rnn::init::rng(100 + seed);
    let mut solved_at = None;
    for n in 1..=max_strings {
        reber_step(&mut net, &mut opt, embedded_reber(&mut data));
        if n % REBER_EVAL_EVERY == 0 && reber_score(&net, test) == 1.0 {
            solved_at = Some(n);
            break;
        }
    }
    (
        solved_at,
        reber_score(&net, test),
        started.elapsed().as_secs_f64(),
    )
}

// ANCHOR: ex7
/// The chapter's Reber experiment for the LSTM with H = 8 (the chapter's), 4, 2 and 1 units.
fn exercise_7(sizes: &[usize], seeds: u64, max_strings: usize) {
    let test = ReberBatch::generate(REBER_TEST, &mut rnn::init::rng(2_024));
    println!(
        "LSTM, embedded Reber grammar, online, seeds 0 to {}, at most {max_strings} strings",
        seeds - 1
    );
    println!(
        "{:>3} {:>7} {:>7} {:>12} {:>8} {:>16} {:>19} {:>13}",
        "H",
        "params",
        "solved",
        "mean strings",
        "median",
        "fewest to most",
        "test strings right",
        "time per run"
    );
    let jobs: Vec<(usize, u64)> = sizes
        .iter()
        .flat_map(|&h| (0..seeds).map(move |s| (h, s)))
        .collect();
    let results = par_map(&jobs, |&(h, seed)| reber_run(h, seed, max_strings, &test));
    for &h in sizes {
        let runs: Vec<&(Option<usize>, f64, f64)> = jobs
            .iter()
            .zip(&results)
            .filter(|((hh, _), _)| *hh == h)
            .map(|(_, r)| r)
            .collect();
        let mut solved: Vec<usize> = runs.iter().filter_map(|r| r.0).collect();
        solved.sort_unstable();
        let n = solved.len();
        let (mean, median, range) = if n == 0 {
            ("-".to_string(), "-".to_string(), "-".to_string())
        } else {
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
        // LSTM (4H·7 + 4H·H + 8H) and head (7·H + 7)
        let params = 4 * h * NUM_SYMBOLS + 4 * h * h + 8 * h + NUM_SYMBOLS * h + NUM_SYMBOLS;
        let right = runs.iter().map(|r| r.1).sum::<f64>() / runs.len() as f64;
        let time = runs.iter().map(|r| r.2).sum::<f64>() / runs.len() as f64;
        println!(
            "{:>3} {:>7} {:>7} {:>12} {:>8} {:>16} {:>18.1}% {:>11.1} s",
            h,
            params,
            format!("{n}/{}", runs.len()),
            mean,
            median,
            range,
            100.0 * right,
            time
        );
        let per_seed: Vec<String> = runs
            .iter()
            .map(|r| r.0.map_or("-".into(), |n| n.to_string()))
            .collect();
        println!("    per seed: {}", per_seed.join(" "));
    }
}
// ANCHOR_END: ex7

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    // the sizes of the full run (the answers quote it) and of the quick probe (the same code, small)
    let (lengths, max_steps, t_long, long_steps, sizes, seeds, max_strings): (
        &[usize],
        usize,
        usize,
        usize,
        &[usize],
        u64,
        usize,
    ) = if quick {
        (&[10, 20], 300, 30, 20, &[8, 2], 2, 2_000)
    } else {
        (&[200, 400], 5_000, 1000, 300, &[8, 4, 2, 1], 30, 100_000)
    };
    println!(
        "{} run: adding problem at T = {lengths:?} ({max_steps} steps at most) and T = {t_long} \
         ({long_steps} steps); Reber with H = {sizes:?}, {seeds} seeds, at most {max_strings} strings",
        if quick { "quick" } else { "full" }
    );
    let mark = |name: &str, end: bool| {
        // The book quotes the lines between these markers (mdBook's anchors).
        println!("// ANCHOR{}: {name}", if end { "_END" } else { "" });
    };
    mark("ex3", false);
    exercise_3();
    mark("ex3", true);
    mark("ex4", false);
    let outcomes = exercise_4(lengths, max_steps);
    mark("ex4", true);
    mark("ex5", false);
    // the first seed that solved the shorter length (seed 0 if none did)
    let trained = outcomes
        .iter()
        .filter(|o| o.job.t_len == lengths[0])
        .find(|o| o.solved_at.is_some())
        .unwrap_or(&outcomes[0]);
    exercise_5(trained);
    mark("ex5", true);
    mark("ex6", false);
    exercise_6(t_long, long_steps, 4 * 5_000);
    mark("ex6", true);
    mark("ex7", false);
    exercise_7(sizes, seeds, max_strings);
    mark("ex7", true);
}
