//! Worked answers to chapter 8's exercises: every number the answers quote is printed here.
//!
//! ```console
//! cargo run --release -q -p rnn --example answers_ch08             # the runs the answers quote (minutes)
//! cargo run --release -q -p rnn --example answers_ch08 -- --quick  # the same code, small (seconds)
//! ```
//!
//! The book includes this file's `// ANCHOR: exK` regions into the answer to exercise K, and the lines of
//! its output (`book/src/outputs/answers_ch08.txt`) between the printed `// ANCHOR: exK` and
//! `// ANCHOR_END: exK` (mdBook finds anchors in any file; `cargo xtask book` checks them).
//! Exercises 1 and 2 are labs (their solutions are in `labs/solutions/`).
//!
//! Exercises 6 and 7 train the character models of `ch08_variants.rs` (one-hot input, one layer of H = 64,
//! a dense decoder, 32 streams of chunks of 50 characters of *Moby-Dick* with carried state, Adam 2e-3,
//! clipping by global norm at 5, seeds 0, 1 and 2, the validation loss on the held-out tenth). That example
//! stays as the chapter shows it: its setup is repeated here with the library's public API, so the same
//! seed gives the same model and, for the first 1,500 steps, the chapter's numbers. `--quick` runs the
//! same code on the first 40,000 characters for 30 steps, one seed: it is the probe of the full run in
//! `book/outputs.txt`.

use std::sync::Mutex;
use std::time::Instant;

use ndarray::{s, Array1, Array2};
use rnn::activation::sigmoid;
use rnn::cells::{AnyCell, CellConfig, CellKind, GreffVariant, GruVariant, LstmOptions};
use rnn::data::{split_train_val, TbpttBatches, Vocab};
use rnn::models::char_lm::{CharLm, CharLmConfig};
use rnn::optim::{clip_by_global_norm, Adam, Optimizer};
use rnn::prelude::*;

const HIDDEN: usize = 64;
const BATCH: usize = 32;
const SEQ_LEN: usize = 50;
const LR: f64 = 2e-3;

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

/// The chapter's cells by name: Greff et al.'s nine LSTMs, both GRUs and the Elman cell.
fn cell(name: &str) -> CellConfig {
    if let Some(v) = GreffVariant::ALL.into_iter().find(|v| v.name() == name) {
        return CellConfig::lstm(LstmOptions::greff(v));
    }
    match name {
        "GRU-a" => CellConfig::new(CellKind::Gru),
        "GRU-b" => CellConfig {
            gru_variant: GruVariant::ResetBefore,
            ..CellConfig::new(CellKind::Gru)
        },
        "Elman" => CellConfig::new(CellKind::RnnTanh),
        _ => panic!("unknown cell {name}"),
    }
}

fn max_abs_diff(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

// ANCHOR: ex3
/// Every cell's parameters for input size D and hidden size H, by formula and as the library counts them,
/// and the character model's total with the output layer's V(H + 1).
fn exercise_3(vocab: &Vocab) {
    let (d, h) = (vocab.len(), HIDDEN);
    let lstm = |gates: usize, peepholes: usize| gates * h * (d + h) + 2 * gates * h + peepholes * h;
    let cells: [(&str, &str, usize); 12] = [
        ("V", "4H(D+H) + 8H + 3H", lstm(4, 3)),
        ("NIG", "3H(D+H) + 6H + 2H", lstm(3, 2)),
        ("NFG", "3H(D+H) + 6H + 2H", lstm(3, 2)),
        ("NOG", "3H(D+H) + 6H + 2H", lstm(3, 2)),
        ("NIAF", "4H(D+H) + 8H + 3H", lstm(4, 3)),
        ("NOAF", "4H(D+H) + 8H + 3H", lstm(4, 3)),
        ("NP", "4H(D+H) + 8H", lstm(4, 0)),
        ("CIFG", "3H(D+H) + 6H + 2H", lstm(3, 2)),
        ("FGR", "4H(D+H) + 8H + 3H + 9H^2", lstm(4, 3) + 9 * h * h),
        ("GRU-a", "3H(D+H) + 6H", lstm(3, 0)),
        ("GRU-b", "3H(D+H) + 6H", lstm(3, 0)),
        ("Elman", "H(D+H) + 2H", lstm(1, 0)),
    ];
    println!(
        "D = V = {d}, H = {h}; the output layer has V(H + 1) = {}",
        d * (h + 1)
    );
    println!(
        "{:<6} {:<26} {:>8} {:>13} {:>13} {:>10}",
        "cell", "formula", "formula", "library cell", "+ V(H + 1)", "CharLm"
    );
    for (name, formula, count) in cells {
        let mut rng = rnn::init::rng(0);
        let lib = AnyCell::from_config(&cell(name), d, h, &mut rng).num_params();
        let config = CharLmConfig::new("rnn", vocab.clone(), 0, h, 1, 0.0).with_cell(cell(name));
        let model = CharLm::new(config, &mut rnn::init::rng(0)).expect("a valid configuration");
        println!(
            "{name:<6} {formula:<26} {count:>8} {lib:>13} {:>13} {:>10}",
            count + d * (h + 1),
            model.num_params()
        );
    }
}
// ANCHOR_END: ex3

/// One step of a GRU written out, with (8.9), (8.11a) and Ng's form of (8.12),
/// h = Γu ⊙ n + (1 - Γu) ⊙ h_prev, where Γu = σ(a_z) is the *written* fraction.
fn ng_gru_step(gru: &Gru, x: &Array2<f64>, h_prev: &Array2<f64>) -> (Array2<f64>, Array2<f64>) {
    let h = h_prev.ncols();
    let gi = x.dot(&gru.weight_ih.t()) + &gru.bias_ih; // (B, 3H)
    let gh = h_prev.dot(&gru.weight_hh.t()) + &gru.bias_hh; // (B, 3H)
    let block = |a: &Array2<f64>, k: usize| a.slice(s![.., k * h..(k + 1) * h]).to_owned();
    let r = (block(&gi, 0) + block(&gh, 0)).mapv(sigmoid);
    let gamma_u = (block(&gi, 1) + block(&gh, 1)).mapv(sigmoid);
    let n = (block(&gi, 2) + &r * &block(&gh, 2)).mapv(f64::tanh);
    let h_new = &gamma_u * &n + &gamma_u.mapv(|g| 1.0 - g) * h_prev;
    (h_new, gamma_u)
}

// ANCHOR: ex4
/// PyTorch's GRU against Ng's form with the z rows of both weights and both biases negated, over a
/// sequence of 20 steps.
fn exercise_4() {
    let (d, h, b, t_len) = (3, 5, 4, 20);
    let mut rng = rnn::init::rng(8);
    let pytorch = Gru::new(d, h, &mut rng);
    let mut ng = pytorch.clone();
    ng.weight_ih
        .slice_mut(s![h..2 * h, ..])
        .mapv_inplace(|w| -w);
    ng.weight_hh
        .slice_mut(s![h..2 * h, ..])
        .mapv_inplace(|w| -w);
    ng.bias_ih.slice_mut(s![h..2 * h]).mapv_inplace(|w| -w);
    ng.bias_hh.slice_mut(s![h..2 * h]).mapv_inplace(|w| -w);
    let xs = rnn::init::uniform(&[t_len, b, d], -1.0, 1.0, &mut rng);
    let (mut state, mut h_ng) = (pytorch.zero_state(b), Array2::zeros((b, h)));
    let (mut worst_h, mut worst_gate) = (0.0_f64, 0.0_f64);
    for t in 0..t_len {
        let x = xs_step(&xs, t);
        let (next, cache) = pytorch.forward(x.view(), &state);
        let (h_next, gamma_u) = ng_gru_step(&ng, &x, &h_ng);
        worst_h = worst_h.max(max_abs_diff(&next.h, &h_next));
        worst_gate = worst_gate.max(max_abs_diff(&gamma_u, &cache.z.mapv(|z| 1.0 - z)));
        state = next;
        h_ng = h_next;
    }
    println!(
        "D = {d}, H = {h}, B = {b}, {t_len} steps from h_0 = 0; PyTorch's GRU and Ng's form with the z rows negated:"
    );
    println!("  max |h_t (PyTorch) - h_t (Ng)| over every step: {worst_h:.1e}");
    println!("  max |Γu - (1 - z_t)| over every step:           {worst_gate:.1e}");
    // the same comparison without negating the z rows: Ng's form then writes where PyTorch's keeps
    let (h_plain, _) = ng_gru_step(&pytorch, &xs_step(&xs, 0), &Array2::zeros((b, h)));
    let (first, _) = pytorch.forward(xs_step(&xs, 0).view(), &pytorch.zero_state(b));
    let (h_plain2, _) = ng_gru_step(&pytorch, &xs_step(&xs, 1), &h_plain);
    let (second, _) = pytorch.forward(xs_step(&xs, 1).view(), &first);
    println!(
        "  without negating: max |h_t (PyTorch) - h_t (Ng)| = {:.1e} after one step, {:.1e} after two",
        max_abs_diff(&first.h, &h_plain),
        max_abs_diff(&second.h, &h_plain2)
    );
}

fn xs_step(xs: &ndarray::ArrayD<f64>, t: usize) -> Array2<f64> {
    xs.index_axis(ndarray::Axis(0), t)
        .into_dimensionality::<ndarray::Ix2>()
        .unwrap()
        .to_owned()
}
// ANCHOR_END: ex4

// ANCHOR: ex5
/// The two GRUs with the same weights: random weights from h_prev = 0 (with b_hn as drawn, then zero), and
/// a hand-made cell where the reset gate keeps unit 0 and closes unit 1.
fn exercise_5() {
    let (d, h, b) = (3, 4, 2);
    let mut rng = rnn::init::rng(11);
    let after = Gru::new(d, h, &mut rng);
    let before = Gru {
        variant: GruVariant::ResetBefore,
        ..after.clone()
    };
    let x = xs_step(&rnn::init::uniform(&[1, b, d], -1.0, 1.0, &mut rng), 0);
    let h_prev = xs_step(&rnn::init::uniform(&[1, b, h], -1.0, 1.0, &mut rng), 0);
    let step = |cell: &Gru, h0: &Array2<f64>| {
        let state = State {
            h: h0.clone(),
            c: None,
            gates: None,
        };
        cell.forward(x.view(), &state).0.h
    };
    let zero = Array2::zeros((b, h));
    println!("random weights (D = {d}, H = {h}), max |h_t (8.11a) - h_t (8.11b)|:");
    println!(
        "  h_prev = 0, b_hn as drawn:       {:.1e}",
        max_abs_diff(&step(&after, &zero), &step(&before, &zero))
    );
    let (mut after0, mut before0) = (after.clone(), before.clone());
    after0.bias_hh.slice_mut(s![2 * h..]).fill(0.0);
    before0.bias_hh.slice_mut(s![2 * h..]).fill(0.0);
    println!(
        "  h_prev = 0, b_hn = 0:            {:.1e}",
        max_abs_diff(&step(&after0, &zero), &step(&before0, &zero))
    );
    println!(
        "  h_prev random, b_hn = 0:         {:.1e}",
        max_abs_diff(&step(&after0, &h_prev), &step(&before0, &h_prev))
    );

    // H = 2, D = 1, x = 0: r ≈ (1, 0), z ≈ 0 (so h_t ≈ n_t), W_hn swaps the two units and doubles them
    let mut w_hh = Array2::zeros((6, 2));
    w_hh[[4, 1]] = 2.0;
    w_hh[[5, 0]] = 2.0;
    let hand = Gru {
        weight_ih: Array2::zeros((6, 1)),
        weight_hh: w_hh,
        bias_ih: Array1::from(vec![10.0, -10.0, -10.0, -10.0, 0.0, 0.0]),
        bias_hh: Array1::zeros(6),
        variant: GruVariant::ResetAfter,
    };
    let hand_b = Gru {
        variant: GruVariant::ResetBefore,
        ..hand.clone()
    };
    let state = State {
        h: ndarray::array![[1.0, 1.0]],
        c: None,
        gates: None,
    };
    let x = Array2::zeros((1, 1));
    let (ha, cache) = hand.forward(x.view(), &state);
    let (hb, _) = hand_b.forward(x.view(), &state);
    println!(
        "hand-made: r = ({:.5}, {:.5}), z = ({:.5}, {:.5}), W_hn = [[0, 2], [2, 0]], b_hn = 0, h_prev = (1, 1)",
        cache.r[[0, 0]],
        cache.r[[0, 1]],
        cache.z[[0, 0]],
        cache.z[[0, 1]]
    );
    println!(
        "  (8.11a) reset after the product:  h_t = ({:.4}, {:.4})",
        ha.h[[0, 0]],
        ha.h[[0, 1]]
    );
    println!(
        "  (8.11b) reset before the product: h_t = ({:.4}, {:.4})",
        hb.h[[0, 0]],
        hb.h[[0, 1]]
    );
    println!("  max difference {:.4}", max_abs_diff(&ha.h, &hb.h));
}
// ANCHOR_END: ex5

// ---------------------------------------------------------------------------------------------------------
// Character models, as in ch08_variants.rs

struct Data {
    vocab: Vocab,
    train: Vec<usize>,
    val: Vec<usize>,
}

/// One character-model run: a cell, a seed, a clipping threshold, a forget-gate bias added to an LSTM's
/// forget rows of `bias_ih`, and the steps after which the validation loss is measured (the last ends
/// the run).
#[derive(Clone)]
struct Job {
    name: &'static str,
    seed: u64,
    clip: f64,
    forget_bias: f64,
    evals: Vec<usize>,
}

/// The validation loss after each of `job.evals`, and the seconds the run took.
fn train(job: &Job, data: &Data) -> (Vec<f64>, f64) {
    let started = Instant::now();
    let config =
        CharLmConfig::new("rnn", data.vocab.clone(), 0, HIDDEN, 1, 0.0).with_cell(cell(job.name));
    let mut model =
        CharLm::new(config, &mut rnn::init::rng(job.seed)).expect("a valid configuration");
    if job.forget_bias != 0.0 {
        // Lstm::with_options adds `forget_bias` to the forget rows of bias_ih after drawing the same
        // numbers; the character model builds its cell without the option, so it is added here, to
        // rows [H, 2H) (the f block of a cell with all four gates, i f g o)
        let AnyCell::Lstm(lstm) = &mut model.rnn.layers[0].forward else {
            panic!("a forget bias needs an LSTM")
        };
        assert_eq!(lstm.bias_ih.len(), 4 * HIDDEN, "four gates, i f g o");
        lstm.bias_ih
            .slice_mut(s![HIDDEN..2 * HIDDEN])
            .mapv_inplace(|b| b + job.forget_bias);
    }
    let batches = TbpttBatches::new(&data.train, BATCH, SEQ_LEN).expect("the text is long enough");
    let mut opt = Adam::new(LR);
    let mut states = model.zero_states(BATCH);
    let mut vals = Vec::new();
    let steps = *job.evals.last().expect("at least one evaluation");
    for step in 0..steps {
        let k = step % batches.num_chunks();
        if k == 0 {
            states = model.zero_states(BATCH);
        }
        let (inputs, targets) = batches.chunk(k);
        let (_loss, finals, cache) = model.forward(&inputs, &targets, Some(&states), None);
        let mut grads = model.zeros_like();
        model.backward(&cache, &mut grads);
        clip_by_global_norm(&mut grads, job.clip);
        opt.step(&mut model, &grads);
        states = finals;
        if job.evals.contains(&(step + 1)) {
            vals.push(
                model
                    .evaluate(&data.val, BATCH, SEQ_LEN)
                    .expect("the held-out text is long enough")
                    .nats,
            );
        }
    }
    eprintln!(
        "  [{} seed {} clip {} b_f {}: {:?}, {:.0} s]",
        job.name,
        job.seed,
        job.clip,
        job.forget_bias,
        vals,
        started.elapsed().as_secs_f64()
    );
    (vals, started.elapsed().as_secs_f64())
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn fmt_all(v: &[f64]) -> String {
    v.iter()
        .map(|x| format!("{x:.3}"))
        .collect::<Vec<_>>()
        .join(" ")
}

// ANCHOR: ex6
/// V, NP, NFG, NOAF and GRU-a for `long` steps, scored after the chapter's `short` steps too.
fn exercise_6(data: &Data, seeds: u64, short: usize, long: usize) {
    let names = ["V", "NP", "NFG", "NOAF", "GRU-a"];
    let jobs: Vec<Job> = names
        .iter()
        .flat_map(|&name| {
            (0..seeds).map(move |seed| Job {
                name,
                seed,
                clip: 5.0,
                forget_bias: 0.0,
                evals: vec![short, long],
            })
        })
        .collect();
    let results = par_map(&jobs, |j| train(j, data));
    let per_cell = |name: &str, k: usize| -> Vec<f64> {
        jobs.iter()
            .zip(&results)
            .filter(|(j, _)| j.name == name)
            .map(|(_, r)| r.0[k])
            .collect()
    };
    let np = [mean(&per_cell("NP", 0)), mean(&per_cell("NP", 1))];
    println!(
        "{:<6} {:>22} {:>7} {:>8} {:>22} {:>7} {:>8} {:>13}",
        "cell",
        format!("after {short} steps"),
        "mean",
        "- NP",
        format!("after {long} steps"),
        "mean",
        "- NP",
        "time per run"
    );
    for name in names {
        let (a, b) = (per_cell(name, 0), per_cell(name, 1));
        let time = mean(
            &jobs
                .iter()
                .zip(&results)
                .filter(|(j, _)| j.name == name)
                .map(|(_, r)| r.1)
                .collect::<Vec<_>>(),
        );
        println!(
            "{:<6} {:>22} {:>7.3} {:>+8.3} {:>22} {:>7.3} {:>+8.3} {:>11.0} s",
            name,
            fmt_all(&a),
            mean(&a),
            mean(&a) - np[0],
            fmt_all(&b),
            mean(&b),
            mean(&b) - np[1],
            time
        );
    }
}
// ANCHOR_END: ex6

// ANCHOR: ex7
/// NOAF for the chapter's `steps`, with clipping at 1 instead of 5, or with a forget-gate bias of 1.
fn exercise_7(data: &Data, seeds: u64, steps: usize) {
    // the chapter's setting (clip 5, b_f = 0) is exercise 6's NOAF row after 1,500 steps
    let settings: [(&str, f64, f64); 2] =
        [("clip 1, b_f = 0", 1.0, 0.0), ("clip 5, b_f = 1", 5.0, 1.0)];
    let jobs: Vec<Job> = settings
        .iter()
        .flat_map(|&(_, clip, forget_bias)| {
            (0..seeds).map(move |seed| Job {
                name: "NOAF",
                seed,
                clip,
                forget_bias,
                evals: vec![steps],
            })
        })
        .collect();
    let results = par_map(&jobs, |j| train(j, data));
    println!("NOAF (h_t = o_t ⊙ c_t), {steps} steps, validation nats per character per seed");
    println!(
        "{:<34} {:>22} {:>7} {:>13}",
        "setting", "per seed", "mean", "time per run"
    );
    for (i, (label, _, _)) in settings.iter().enumerate() {
        let runs = &results[i * seeds as usize..(i + 1) * seeds as usize];
        let vals: Vec<f64> = runs.iter().map(|r| r.0[0]).collect();
        let time = mean(&runs.iter().map(|r| r.1).collect::<Vec<_>>());
        println!(
            "{label:<34} {:>22} {:>7.3} {:>11.0} s",
            fmt_all(&vals),
            mean(&vals),
            time
        );
    }
}
// ANCHOR_END: ex7

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (seeds, short, long) = if quick { (1, 10, 30) } else { (3, 1500, 5000) };
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/moby-dick.txt");
    let text =
        std::fs::read_to_string(path).expect("data/moby-dick.txt is bundled with the course");
    let text = if quick { &text[..40_000] } else { &text[..] };
    let vocab = Vocab::from_text(text);
    let ids = vocab
        .encode(text)
        .expect("the vocabulary comes from this text");
    let (train_ids, val) = split_train_val(&ids, 0.1).expect("the text is long enough");
    let data = Data {
        vocab: vocab.clone(),
        train: train_ids.to_vec(),
        val: val.to_vec(),
    };
    println!(
        "{} run: Moby-Dick, {} characters, V = {}; character models with H = {HIDDEN}, seeds 0 to {}, \
         {short} and {long} steps",
        if quick { "quick" } else { "full" },
        ids.len(),
        vocab.len(),
        seeds - 1
    );
    let mark = |name: &str, end: bool| {
        // The book quotes the lines between these markers (mdBook's anchors).
        println!("// ANCHOR{}: {name}", if end { "_END" } else { "" });
    };
    mark("ex3", false);
    exercise_3(&vocab);
    mark("ex3", true);
    mark("ex4", false);
    exercise_4();
    mark("ex4", true);
    mark("ex5", false);
    exercise_5();
    mark("ex5", true);
    mark("ex6", false);
    exercise_6(&data, seeds, short, long);
    mark("ex6", true);
    mark("ex7", false);
    exercise_7(&data, seeds, short);
    mark("ex7", true);
}
