//! Worked answers to chapter 8's exercises: every number the answers quote is printed here.
//!
//! ```console
//! cargo run --release -q -p rnn --example answers_ch08
//! ```
//!
//! The book includes this file's `// ANCHOR: exK` regions into the answer to exercise K, and the lines of
//! its output (`book/src/outputs/answers_ch08.txt`) between the printed `// ANCHOR: exK` and
//! `// ANCHOR_END: exK` (mdBook finds anchors in any file; `cargo xtask book` checks them).
//! Exercises 1 and 2 are labs (their solutions are in `labs/solutions/`). Exercise 6 trains
//! character models for longer than the budget of the answers; it has no answer here yet.
//!
//! Exercise 3 counts the parameters of the cells of `ch08_variants.rs` for *Moby-Dick*'s vocabulary;
//! exercises 4 and 5 run single GRU steps; exercise 7 trains chapter 8's NOAF character model nine times
//! (minutes: the book's output is a long one, and `--quick` runs a small version of it, its probe).

use ndarray::{s, Array1, Array2};
use rnn::activation::sigmoid;
use rnn::cells::{AnyCell, CellConfig, CellKind, GreffVariant, GruVariant, LstmOptions};
use rnn::data::{split_train_val, TbpttBatches, Vocab};
use rnn::models::char_lm::{CharLm, CharLmConfig};
use rnn::optim::{clip_by_global_norm, Adam, Optimizer};
use rnn::prelude::*;

const HIDDEN: usize = 64;

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

// ANCHOR: ex7
/// Chapter 8's NOAF character model (H = 64, one layer, Adam lr 2e-3, B = 32, chunks of 50, 1,500 steps,
/// the loop of `ch08_variants.rs`) trained with the chapter's clipping at 5, with clipping at 1, and with a
/// forget bias of 1 added to `bias_ih`'s forget rows (clipping at 5); seeds 0 to 2.
fn noaf_run(
    clip: f64,
    forget_bias: f64,
    seed: u64,
    steps: usize,
    data: &(Vocab, Vec<usize>, Vec<usize>),
) -> f64 {
    let (vocab, train, val) = data;
    let cell = cell("NOAF");
    let config = CharLmConfig::new("rnn", vocab.clone(), 0, HIDDEN, 1, 0.0).with_cell(cell);
    let mut model = CharLm::new(config, &mut rnn::init::rng(seed)).expect("a valid configuration");
    for (name, mut p) in model.params_mut() {
        if name == "rnn.bias_ih_l0" {
            // the blocks are i, f, g, o: the forget gate's rows are H..2H
            p.slice_mut(s![HIDDEN..2 * HIDDEN])
                .mapv_inplace(|b| b + forget_bias);
        }
    }
    let batches = TbpttBatches::new(train, 32, 50).expect("the text is long enough");
    let mut opt = Adam::new(2e-3);
    let mut states = model.zero_states(32);
    for step in 0..steps {
        let k = step % batches.num_chunks();
        if k == 0 {
            states = model.zero_states(32);
        }
        let (inputs, targets) = batches.chunk(k);
        let (_loss, finals, cache) = model.forward(&inputs, &targets, Some(&states), None);
        let mut grads = model.zeros_like();
        model.backward(&cache, &mut grads);
        clip_by_global_norm(&mut grads, clip);
        opt.step(&mut model, &grads);
        states = finals;
    }
    model
        .evaluate(val, 32, 50)
        .expect("the held-out text is long enough")
        .nats
}

fn exercise_7(text: &str, quick: bool) {
    let text = if quick { &text[..40_000] } else { text };
    let vocab = Vocab::from_text(text);
    let ids = vocab
        .encode(text)
        .expect("the vocabulary comes from this text");
    let (train, val) = split_train_val(&ids, 0.1).expect("the text is long enough");
    let data = (vocab, train.to_vec(), val.to_vec());
    let steps = if quick { 30 } else { 1500 };
    let seeds: u64 = if quick { 1 } else { 3 };
    let settings = [
        ("clip 5 (the chapter's)", 5.0, 0.0),
        ("clip 1", 1.0, 0.0),
        ("clip 5, forget bias 1", 5.0, 1.0),
    ];
    println!(
        "NOAF, H = {HIDDEN}, {steps} steps; validation nats per character, seeds 0 to {}",
        seeds - 1
    );
    for (name, clip, bias) in settings {
        // the seeds side by side; each run has its own seeded numbers, so only the time depends on it
        let vals: Vec<f64> = std::thread::scope(|scope| {
            let runs: Vec<_> = (0..seeds)
                .map(|seed| {
                    let data = &data;
                    scope.spawn(move || noaf_run(clip, bias, seed, steps, data))
                })
                .collect();
            runs.into_iter().map(|r| r.join().unwrap()).collect()
        });
        let per_seed: Vec<String> = vals.iter().map(|v| format!("{v:.3}")).collect();
        println!("  {name:<24} {}", per_seed.join(" "));
    }
}
// ANCHOR_END: ex7

fn main() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/moby-dick.txt");
    let text =
        std::fs::read_to_string(path).expect("data/moby-dick.txt is bundled with the course");
    let vocab = Vocab::from_text(&text);
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
    mark("ex7", false);
    exercise_7(&text, std::env::args().any(|a| a == "--quick"));
    mark("ex7", true);
}
