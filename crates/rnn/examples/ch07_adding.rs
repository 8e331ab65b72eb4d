//! Chapter 7: the adding problem, Elman vs LSTM vs GRU, and the carousel measured after training.
//!
//! ```console
//! cargo run --release -p rnn --example ch07_adding -- book/src/figures      # the full run (long)
//! cargo run --release -p rnn --example ch07_adding -- --quick               # a small run (CI)
//! cargo run --release -p rnn --example ch07_adding -- --greff book/src/figures  # chapter 8's variants
//! cargo run --release -p rnn --example ch07_adding -- --greff --quick
//! cargo run --release -p rnn --example ch07_adding -- --t1000               # T = 1000 only (long)
//! ```
//!
//! With `--greff` the cells are chapter 8's: the nine LSTMs of Greff et al. (2015) (`GreffVariant`: V with
//! peepholes, NIG, NFG, NOG, NIAF, NOAF, NP = PyTorch's LSTM, CIFG, FGR) and both GRUs (GRU-a, PyTorch's
//! reset-after form, and GRU-b, Cho et al.'s reset-before form), at T = 100 only; it writes
//! `ch08-greff-adding.svg` (sequences until solved, per cell and seed) instead of the chapter 7 figures and
//! skips the gradient-norm measurement.
//!
//! With `--t1000` the three cells of chapter 7 run at T = 1000 only, with the same budget and seeds; it
//! prints the table and nothing else (no gradient norms, no figures).
//!
//! The task is the Le, Jaitly and Hinton (2015) form of the adding problem (`rnn::data::adding_problem`):
//! T steps of two inputs, a random value in [0, 1) and a marker that is 1 at exactly two steps, one in each
//! half; the target, read after the last step, is the sum of the two marked values. Predicting the mean,
//! 1.0, gives MSE 1/6 ≈ 0.167, so a model is only doing something once it goes clearly below that.
//!
//! Every cell (Elman tanh, LSTM, GRU, each with H = 32 and PyTorch's initialisation, then a linear head on
//! h_T) is trained with Adam (lr 3e-3), batches of 32 fresh sequences and clipping by global norm at 1,
//! for every T of 50, 100, 200 and 400 and for seeds 0, 1, 2, until the MSE on 1,000 fixed test sequences
//! falls below 0.01 ("solved"), or for at most 5,000 steps (160,000 sequences). The test set is scored
//! every 100 steps. The table reports, per cell and T, how many seeds solved the task, the sequences each
//! needed, the final test MSE and the fraction of test sequences within 0.04 of the target (Hochreiter
//! and Schmidhuber's criterion), and the wall time. Runs go two at a time on two threads (or one on a
//! single core); each run has its own seeded random numbers, so the results do not depend on the
//! scheduling, only the times do.
//!
//! Then the gradient-norm measurement of chapter 5 is repeated on the T = 100 models of seed 0, before
//! and after training: ‖∂L/∂h_k‖ and, for the LSTM, ‖∂L/∂c_k‖ against the distance T - k, with
//! L = Σ u ⊙ h_T for u the head's weights scaled to norm 1 (the direction in which the adding loss reads
//! h_T), and the forget gates of the trained LSTM. With a folder argument it writes
//! `ch07-adding.svg` (test MSE against sequences seen at T = 100 and 400, seed 0) and
//! `ch07-carousel.svg` (the gradient norms).

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

use ndarray::{Array2, Array3, ArrayViewD, ArrayViewMutD, Axis};
use rnn::cells::{AnyCache, AnyCell, CellConfig, CellKind, GreffVariant, GruVariant, LstmOptions};
use rnn::layers::Dense;
use rnn::loss::mse;
use rnn::optim::{clip_by_global_norm, Adam, Optimizer};
use rnn::plot::{DotChart, LineChart};
use rnn::prelude::*;
use rnn::tasks::adding_problem;

const HIDDEN: usize = 32;
const BATCH: usize = 32;
const LR: f64 = 3e-3;
const CLIP: f64 = 1.0;
const EVAL_EVERY: usize = 100;
const TEST_SIZE: usize = 1000;
const SOLVED_MSE: f64 = 0.01;

/// What one run is: a cell (an index into the list of cells), a sequence length, a seed and a budget.
#[derive(Clone, Copy)]
struct Job {
    cell: usize,
    t_len: usize,
    seed: u64,
    max_steps: usize,
}

/// What one run measured.
struct Outcome {
    /// Sequences seen when the test MSE first fell below 0.01, if it did.
    solved_at: Option<usize>,
    /// Test MSE at the end of the run.
    final_mse: f64,
    /// Fraction of test sequences with |error| < 0.04 at the end.
    within_004: f64,
    /// (sequences seen, test MSE) every 100 steps.
    curve: Vec<(f64, f64)>,
    seconds: f64,
    /// The trained network (kept for the carousel measurement).
    net: Net,
}

// ANCHOR: net
/// The network of the adding problem: a recurrent cell read once, at the end, by a linear head.
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
// ANCHOR_END: net

impl Net {
    fn new(cell: &CellConfig, seed: u64) -> Net {
        let mut rng = rnn::init::rng(seed);
        let cell = AnyCell::from_config(cell, 2, HIDDEN, &mut rng);
        let head = Dense::new(HIDDEN, 1, &mut rng);
        Net { cell, head }
    }

    /// The predictions `(B, 1)` for inputs `(T, B, 2)`.
    fn predict(&self, xs: &Array3<f64>) -> Array2<f64> {
        let run = self
            .cell
            .forward_seq(xs.view(), &self.cell.zero_state(xs.dim().1));
        self.head.forward(run.last.h.view())
    }
}

// ANCHOR: adding_step
/// One training step on a batch `xs (T, B, 2)`, `ys (B, 1)`: many-to-one, so the loss reads h_T alone and
/// BPTT starts from a gradient on the last step only. Returns the batch's MSE.
fn train_step(net: &mut Net, opt: &mut Adam, xs: &Array3<f64>, ys: &Array2<f64>) -> f64 {
    let (t_len, batch, _) = xs.dim();
    // forward: the cell over all T steps, then the head on h_T                               (B, 1)
    let run = net.cell.forward_seq(xs.view(), &net.cell.zero_state(batch));
    let pred = net.head.forward(run.last.h.view());
    let (loss, d_pred) = mse(pred.view(), ys.view());
    // backward: the head gives ∂L/∂h_T; no loss reads h_1 .. h_{T-1}                        (B, H)
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
// ANCHOR_END: adding_step

/// The fixed test set of one T: 1,000 sequences from a seed of their own.
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
        let part = xs.slice(ndarray::s![.., start..start + 250, ..]).to_owned();
        let pred = net.predict(&part);
        for (i, p) in pred.column(0).iter().enumerate() {
            let err = p - ys[[start + i, 0]];
            sq += err * err;
            close += usize::from(err.abs() < 0.04);
        }
    }
    (sq / TEST_SIZE as f64, close as f64 / TEST_SIZE as f64)
}

fn run(job: Job, cell: &CellConfig) -> Outcome {
    let started = Instant::now();
    let mut net = Net::new(cell, job.seed);
    let mut opt = Adam::new(LR);
    let mut data_rng = rnn::init::rng(100 + job.seed);
    let (test_xs, test_ys) = test_set(job.t_len);
    let mut curve = vec![(0.0, score(&net, &test_xs, &test_ys).0)];
    let mut solved_at = None;
    for step in 1..=job.max_steps {
        let (xs, ys) = adding_problem(job.t_len, BATCH, &mut data_rng);
        let ys = Array2::from_shape_vec((BATCH, 1), ys).expect("one target per sequence");
        train_step(&mut net, &mut opt, &xs, &ys);
        if step % EVAL_EVERY == 0 {
            let (m, _) = score(&net, &test_xs, &test_ys);
            curve.push(((step * BATCH) as f64, m));
            if m < SOLVED_MSE {
                solved_at = Some(step * BATCH);
                break;
            }
        }
    }
    let (final_mse, within_004) = score(&net, &test_xs, &test_ys);
    Outcome {
        solved_at,
        final_mse,
        within_004,
        curve,
        seconds: started.elapsed().as_secs_f64(),
        net,
    }
}

/// Runs every job on up to two threads; results in job order.
fn run_all(jobs: &[Job], cells: &[(String, CellConfig)]) -> Vec<Outcome> {
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
                let Some(&job) = jobs.get(i) else { break };
                let out = run(job, &cells[job.cell].1);
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

/// ‖∂L/∂h_k‖ (and ‖∂L/∂c_k‖ for the LSTM), indexed by k = 0..=T, for L = Σ u ⊙ h_T over a batch of inputs, plus
/// the forget gates f_t of every step if the cell has them.
fn carousel(net: &Net, xs: &Array3<f64>) -> (Vec<f64>, Option<Vec<f64>>, Vec<Array2<f64>>) {
    let (t_len, batch, _) = xs.dim();
    let run = net.cell.forward_seq(xs.view(), &net.cell.zero_state(batch));
    let w = net.head.weight.row(0);
    let u = &w / (w.dot(&w).sqrt() * (batch as f64).sqrt()); // ‖u‖ = 1 over the whole batch
    let mut d = run.last.zeros_like();
    d.h.rows_mut().into_iter().for_each(|mut r| r.assign(&u));
    let mut grads = net.cell.zeros_like();
    let norm = |a: &Array2<f64>| a.iter().map(|v| v * v).sum::<f64>().sqrt();
    let (mut hs, mut cs, mut fs) = (vec![0.0; t_len + 1], vec![0.0; t_len + 1], Vec::new());
    for t in (0..t_len).rev() {
        hs[t + 1] = norm(&d.h);
        cs[t + 1] = d.c.as_ref().map_or(0.0, norm);
        if let AnyCache::Lstm(c) = &run.caches[t] {
            fs.push(c.f.clone());
        }
        let (_dx, d_prev) = net.cell.backward(&run.caches[t], &d, &mut grads);
        d = d_prev;
    }
    hs[0] = norm(&d.h);
    cs[0] = d.c.as_ref().map_or(0.0, norm);
    fs.reverse();
    (hs, d.c.is_some().then_some(cs), fs)
}

fn load_line() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| {
            let l: Vec<&str> = l.split_whitespace().take(3).collect();
            format!("load average {}", l.join(" "))
        })
        .unwrap_or_else(|_| "load average unknown".into())
}

/// The cells of a run: chapter 7's three, or (`--greff`) chapter 8's LSTM variants and both GRUs.
fn cells(greff: bool) -> Vec<(String, CellConfig)> {
    if !greff {
        return [
            ("Elman", CellKind::RnnTanh),
            ("LSTM", CellKind::Lstm),
            ("GRU", CellKind::Gru),
        ]
        .into_iter()
        .map(|(n, k)| (n.to_string(), CellConfig::new(k)))
        .collect();
    }
    let mut out: Vec<(String, CellConfig)> = GreffVariant::ALL
        .into_iter()
        .map(|v| {
            (
                v.name().to_string(),
                CellConfig::lstm(LstmOptions::greff(v)),
            )
        })
        .collect();
    out.push(("GRU-a".into(), CellConfig::new(CellKind::Gru)));
    let before = CellConfig {
        gru_variant: GruVariant::ResetBefore,
        ..CellConfig::new(CellKind::Gru)
    };
    out.push(("GRU-b".into(), before));
    out
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let greff = args.iter().any(|a| a == "--greff");
    let t1000 = args.iter().any(|a| a == "--t1000");
    if let Some(bad) = args
        .iter()
        .find(|a| a.starts_with("--") && !["--quick", "--greff", "--t1000"].contains(&a.as_str()))
    {
        eprintln!("error: unknown flag {bad} (expected --quick, --greff or --t1000)");
        std::process::exit(2);
    }
    if greff && t1000 {
        eprintln!("error: --greff and --t1000 are separate experiments: give one of them");
        std::process::exit(2);
    }
    let out_dir = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map(PathBuf::from);
    let (lengths, seeds, max_steps): (&[usize], &[u64], usize) = match (greff, t1000, quick) {
        (false, false, false) => (&[50, 100, 200, 400], &[0, 1, 2], 5000),
        (false, false, true) => (&[10, 20], &[0], 300),
        (true, _, false) => (&[100], &[0, 1, 2], 5000),
        (true, _, true) => (&[10], &[0], 200),
        (false, true, false) => (&[1000], &[0, 1, 2], 5000),
        (false, true, true) => (&[30], &[0], 200),
    };
    let cells = cells(greff);
    println!(
        "adding problem (Le et al. 2015 form): predicting 1.0 gives test MSE {:.3}",
        score_constant()
    );
    println!(
        "H = {HIDDEN}, batch {BATCH}, Adam lr {LR}, clip {CLIP}; solved = test MSE < {SOLVED_MSE} on {TEST_SIZE} sequences, \
         scored every {EVAL_EVERY} steps; at most {max_steps} steps ({} sequences)",
        max_steps * BATCH
    );
    if greff {
        println!(
            "cells: Greff et al.'s LSTM variants (V has peepholes; NP is PyTorch's LSTM), GRU-a = PyTorch's GRU \
             (reset after the product), GRU-b = Cho et al.'s (reset before)"
        );
    }
    // the load varies from run to run: only the full run, whose times the book quotes, prints it
    if !quick {
        println!("{} at the start", load_line());
    }
    println!();

    let mut jobs = Vec::new();
    for &t_len in lengths {
        for cell in 0..cells.len() {
            for &seed in seeds {
                jobs.push(Job {
                    cell,
                    t_len,
                    seed,
                    max_steps,
                });
            }
        }
    }
    let started = Instant::now();
    let outcomes = run_all(&jobs, &cells);
    let runs_of = |cell: usize, t_len: usize| -> Vec<&Outcome> {
        jobs.iter()
            .zip(&outcomes)
            .filter(|(j, _)| j.cell == cell && j.t_len == t_len)
            .map(|(_, o)| o)
            .collect()
    };

    println!(
        "{:<6} {:>4} {:>7} {:>28} {:>24} {:>18} {:>14}",
        "cell",
        "T",
        "solved",
        "sequences until solved",
        "final test MSE",
        "|error| < 0.04",
        "time per run"
    );
    for &t_len in lengths {
        for (c, (name, _)) in cells.iter().enumerate() {
            let runs = runs_of(c, t_len);
            let solved = runs.iter().filter(|o| o.solved_at.is_some()).count();
            let seqs: Vec<String> = runs
                .iter()
                .map(|o| o.solved_at.map_or("-".into(), |s| s.to_string()))
                .collect();
            let mses: Vec<String> = runs.iter().map(|o| format!("{:.4}", o.final_mse)).collect();
            let close: Vec<String> = runs
                .iter()
                .map(|o| format!("{:.0}%", 100.0 * o.within_004))
                .collect();
            let mean_time = runs.iter().map(|o| o.seconds).sum::<f64>() / runs.len() as f64;
            println!(
                "{:<6} {:>4} {:>7} {:>28} {:>24} {:>18} {:>12.0} s",
                name,
                t_len,
                format!("{solved}/{}", runs.len()),
                seqs.join(" "),
                mses.join(" "),
                close.join(" "),
                mean_time
            );
        }
    }
    println!(
        "\n(one column entry per seed {seeds:?}; '-' = not solved within the budget; {} runs took {:.0} s in all, \
         {}; times are wall-clock with two runs in parallel and vary with the machine)",
        jobs.len(),
        started.elapsed().as_secs_f64(),
        if quick { "load not shown".to_string() } else { load_line() }
    );

    if t1000 {
        return;
    }
    if greff {
        let Some(dir) = out_dir else { return };
        std::fs::create_dir_all(&dir).expect("cannot create the figure folder");
        let t_len = lengths[0];
        let mut chart = DotChart::new(
            &format!("Adding problem, T = {t_len}: sequences until solved (solved seeds only)"),
            "thousands of sequences",
        );
        for (c, (name, _)) in cells.iter().enumerate() {
            let runs = runs_of(c, t_len);
            let solved: Vec<f64> = runs
                .iter()
                .filter_map(|o| o.solved_at.map(|s| s as f64 / 1000.0))
                .collect();
            chart = chart.category(&format!("{name} ({}/{})", solved.len(), runs.len()), solved);
        }
        let path = dir.join("ch08-greff-adding.svg");
        chart
            .size(900, 420)
            .to_svg()
            .save(&path)
            .expect("cannot write the figure");
        println!("\nwrote {}", path.display());
        return;
    }

    // ---- the carousel, measured on the models of the second length, seed 0
    let t_mid = lengths[1];
    let (xs, _) = adding_problem(t_mid, 8, &mut rnn::init::rng(7));
    println!(
        "\ngradient norms through the T = {t_mid} models of seed 0, on 8 test sequences: L = Σ u ⊙ h_T, ‖u‖ = 1"
    );
    let marks = [0, t_mid / 10, t_mid / 4, t_mid / 2, 3 * t_mid / 4, t_mid];
    print!("{:<28}", "k (distance T-k)");
    for &dist in &marks {
        print!(" {:>10}", format!("{} ({dist})", t_mid - dist));
    }
    println!("   per step");
    let mut lines = Vec::new();
    for (c, (name, config)) in cells.iter().enumerate() {
        let trained = jobs
            .iter()
            .zip(&outcomes)
            .find(|(j, _)| j.cell == c && j.t_len == t_mid && j.seed == 0)
            .map(|(_, o)| &o.net)
            .expect("the seed-0 run of every cell");
        for (label, net) in [("untrained", &Net::new(config, 0)), ("trained", trained)] {
            let (hs, cs, fs) = carousel(net, &xs);
            let mut rows = vec![(format!("{name} {label}, dL/dh_k"), hs)];
            if let Some(cs) = cs {
                rows.push((format!("{name} {label}, dL/dc_k"), cs));
            }
            for (row, norms) in rows {
                print!("{row:<28}");
                for &dist in &marks {
                    print!(" {:>10.2e}", norms[t_mid - dist]);
                }
                // c_T gets no gradient (the loss reads h_T only): c's factor starts at k = T-1
                let top = if norms[t_mid] > 0.0 { t_mid } else { t_mid - 1 };
                let per_step = (norms[0] / norms[top]).powf(1.0 / top as f64);
                println!("   {per_step:>8.3}");
                if label == "trained" || config.kind == CellKind::Lstm {
                    lines.push((row, norms));
                }
            }
            if !fs.is_empty() {
                forget_report(label, &fs);
            }
        }
    }
    let Some(dir) = out_dir else { return };
    std::fs::create_dir_all(&dir).expect("cannot create the figure folder");
    let mut chart = LineChart::new(
        "Adding problem: test MSE (seed 0)",
        "sequences seen",
        "test MSE",
    )
    .log_y(true);
    for &t_len in [lengths[1], lengths[lengths.len() - 1]].iter() {
        for (c, (name, _)) in cells.iter().enumerate() {
            let o = runs_of(c, t_len)[0];
            chart = chart.series(&format!("{name} T = {t_len}"), o.curve.clone());
        }
    }
    let path = dir.join("ch07-adding.svg");
    chart.to_svg().save(&path).expect("cannot write the figure");
    println!("\nwrote {}", path.display());
    let mut chart = LineChart::new(
        &format!("Gradient norm through time, T = {t_mid}"),
        "distance T - k",
        "norm of the gradient",
    )
    .log_y(true);
    for (name, norms) in lines {
        let pts = (0..=t_mid)
            .filter(|&d| norms[t_mid - d] > 0.0)
            .map(|d| (d as f64, norms[t_mid - d]))
            .collect();
        chart = chart.series(&name, pts);
    }
    let path = dir.join("ch07-carousel.svg");
    chart.to_svg().save(&path).expect("cannot write the figure");
    println!("wrote {}", path.display());
}

/// The forget gates of an LSTM over a batch: the mean, and how many units stay open on average.
fn forget_report(label: &str, fs: &[Array2<f64>]) {
    let h = fs[0].ncols();
    let mut unit_mean = vec![0.0; h];
    let n = (fs.len() * fs[0].nrows()) as f64;
    for f in fs {
        for (j, col) in f.columns().into_iter().enumerate() {
            unit_mean[j] += col.sum() / n;
        }
    }
    let mean = unit_mean.iter().sum::<f64>() / h as f64;
    let open = |bar: f64| unit_mean.iter().filter(|&&m| m > bar).count();
    let max = unit_mean.iter().cloned().fold(0.0, f64::max);
    println!(
        "    LSTM {label}: forget gate mean {mean:.3}; units with mean f > 0.9: {} of {h}, > 0.99: {}; most open unit {max:.4}",
        open(0.9),
        open(0.99)
    );
}

/// The test MSE of always predicting 1.0, on the first test set.
fn score_constant() -> f64 {
    let (_, ys) = test_set(100);
    ys.iter().map(|y| (y - 1.0) * (y - 1.0)).sum::<f64>() / TEST_SIZE as f64
}
