//! Worked answers to chapter 6's exercises: every number the answers quote is printed here.
//!
//! ```console
//! cargo run --release -q -p rnn --example answers_ch06             # the runs the answers quote (minutes)
//! cargo run --release -q -p rnn --example answers_ch06 -- --quick  # the same code, small (seconds)
//! ```
//!
//! The book includes this file's `// ANCHOR: exK` regions into the answer to exercise K, and the lines of
//! its output (`book/src/outputs/answers_ch06.txt`) between the printed `// ANCHOR: exK` and
//! `// ANCHOR_END: exK` (mdBook finds anchors in any file; `cargo xtask book` checks them).
//! Exercise 1 is a lab (its solution is in `labs/solutions/`).
//!
//! Exercises 3 to 6 train the model of `ch06_train.rs` (one-hot input, Elman H = 128, B = 32, T = 50,
//! Adam 2e-3, clipping at 5, seed 6, the last 10 % of *Moby-Dick* held out), but for 500 steps instead of
//! 3,500, so that all the runs fit in a few minutes. That example stays as the chapter shows it: its setup
//! is repeated here with the library's public API. `--quick` runs the same code with H = 32 and 30 steps:
//! it is the probe of the full run in `book/outputs.txt`.

use std::time::Instant;

use rnn::data::{split_train_val, TbpttBatches, Vocab};
use rnn::models::char_lm::{CharLm, CharLmConfig};
use rnn::optim::{clip_by_global_norm, Adam, Optimizer};
use rnn::params::Parameters;
use rnn::viz::{pearson, text_features};

const BATCH: usize = 32;
const SEQ_LEN: usize = 50;
const LR: f64 = 2e-3;
const CLIP: f64 = 5.0;
const SEED: u64 = 6;

/// The sizes of a run: the full one the answers quote, or the quick probe.
#[derive(Clone, Copy)]
struct Size {
    hidden: usize,
    steps: usize,
}

/// The bundled text, its vocabulary and the training and held-out ids.
struct Data {
    vocab: Vocab,
    train: Vec<usize>,
    val: Vec<usize>,
}

fn load() -> Data {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/moby-dick.txt");
    let text =
        std::fs::read_to_string(path).expect("data/moby-dick.txt is bundled with the course");
    let vocab = Vocab::from_text(&text);
    let ids = vocab
        .encode(&text)
        .expect("the vocabulary comes from this text");
    let (train, val) = split_train_val(&ids, 0.1).expect("the text is long enough");
    Data {
        vocab: vocab.clone(),
        train: train.to_vec(),
        val: val.to_vec(),
    }
}

/// What one training run returns: the model, the wall-clock seconds and the validation loss at the
/// halfway point and at the end (with carried state, as `ch06_train.rs` evaluates).
struct Run {
    model: CharLm,
    halfway: (f64, f64),
    end: (f64, f64),
}

/// `ch06_train.rs`'s loop for `steps` steps of chunks of `seq_len`, with cell `kind`; `carry = false`
/// starts every chunk from zero states.
fn train(data: &Data, kind: &str, hidden: usize, seq_len: usize, steps: usize, carry: bool) -> Run {
    let batches = TbpttBatches::new(&data.train, BATCH, seq_len).expect("the text is long enough");
    let config = CharLmConfig::new(kind, data.vocab.clone(), 0, hidden, 1, 0.0);
    let mut model = CharLm::new(config, &mut rnn::init::rng(SEED)).expect("a valid configuration");
    let mut opt = Adam::new(LR);
    let mut states = model.zero_states(BATCH);
    let started = Instant::now();
    let mut halfway = (0.0, 0.0);
    for step in 0..steps {
        let k = step % batches.num_chunks();
        if k == 0 || !carry {
            states = model.zero_states(BATCH);
        }
        let (inputs, targets) = batches.chunk(k);
        let (_, finals, cache) = model.forward(&inputs, &targets, Some(&states), None);
        let mut grads = model.zeros_like();
        model.backward(&cache, &mut grads);
        clip_by_global_norm(&mut grads, CLIP);
        opt.step(&mut model, &grads);
        states = finals;
        if step + 1 == steps / 2 {
            let secs = started.elapsed().as_secs_f64();
            halfway = (secs, validation(&model, data, seq_len));
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let end = (secs, validation(&model, data, seq_len));
    Run {
        model,
        halfway,
        end,
    }
}

/// The held-out loss with carried state (`CharLm::evaluate`), in chunks of `seq_len`.
fn validation(model: &CharLm, data: &Data, seq_len: usize) -> f64 {
    model.evaluate(&data.val, BATCH, seq_len).unwrap().nats
}

/// The held-out loss when every chunk of 50 starts from zero states.
fn validation_reset(model: &CharLm, data: &Data) -> f64 {
    let batches =
        TbpttBatches::new(&data.val, BATCH, SEQ_LEN).expect("the held-out part is long enough");
    let total: f64 = (0..batches.num_chunks())
        .map(|k| {
            let (x, y) = batches.chunk(k);
            model.forward(&x, &y, None, None).0
        })
        .sum();
    total / batches.num_chunks() as f64
}

/// Every unit's activation `[unit][character]` over `text` (top layer).
fn activations(model: &CharLm, text: &str) -> Vec<Vec<f64>> {
    let trace = model.trace(text).expect("the text is in the vocabulary");
    (0..model.config.hidden_size)
        .map(|u| trace.iter().map(|l| l.last().unwrap().h[[0, u]]).collect())
        .collect()
}

/// The unit most correlated (largest |r|) with `feature`, and r; `None` if the feature is constant.
fn best_unit(acts: &[Vec<f64>], feature: &[f64]) -> Option<(usize, f64)> {
    (0..acts.len())
        .filter_map(|u| pearson(&acts[u], feature).map(|r| (u, r)))
        .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
}

// ANCHOR: ex2
/// Exercise 2: N = 1,001 characters (ids 0..=1000), B = 4 streams, chunks of T = 25.
fn exercise_2() {
    let ids: Vec<usize> = (0..1001).collect();
    let batches = TbpttBatches::new(&ids, 4, 25).expect("enough characters");
    println!(
        "L = floor((1001 - 1) / 4) = {}; {} chunks per pass, {} characters per chunk",
        (1001 - 1) / 4,
        batches.num_chunks(),
        batches.chars_per_chunk()
    );
    let mut read = vec![false; ids.len()];
    let mut first_last = [(usize::MAX, 0, usize::MAX, 0); 4]; // per stream: inputs and targets
    for k in 0..batches.num_chunks() {
        let (x, y) = batches.chunk(k); // (T, B)
        for ((t, b), &i) in x.indexed_iter() {
            read[i] = true;
            let e = &mut first_last[b];
            e.0 = e.0.min(i);
            e.1 = e.1.max(i);
            e.2 = e.2.min(y[[t, b]]);
            e.3 = e.3.max(y[[t, b]]);
        }
    }
    for (b, (i0, i1, t0, t1)) in first_last.iter().enumerate() {
        println!("stream {b}: inputs {i0}..={i1}, targets {t0}..={t1}");
    }
    let never: Vec<usize> = (0..ids.len()).filter(|&i| !read[i]).collect();
    println!("never read as an input: {never:?}");
}
// ANCHOR_END: ex2

// ANCHOR: ex3
/// Exercise 3: training with and without carried state, each evaluated both ways.
fn exercise_3(data: &Data, size: Size) -> Run {
    println!("{:<32}{:>16}{:>16}", "", "val, carried", "val, reset");
    let mut carried = None;
    for carry in [true, false] {
        let run = train(data, "rnn", size.hidden, SEQ_LEN, size.steps, carry);
        println!(
            "{:<32}{:>16.3}{:>16.3}",
            if carry {
                "trained with carried state"
            } else {
                "trained from zeros every chunk"
            },
            run.end.1,
            validation_reset(&run.model, data)
        );
        if carry {
            carried = Some(run);
        }
    }
    carried.expect("the first run carries")
}
// ANCHOR_END: ex3

// ANCHOR: ex4
/// Exercise 4: chunks of T = 10 and T = 100 (and the chapter's 50: the run of exercise 3, `base`) for
/// the same number of characters.
fn exercise_4(data: &Data, size: Size, base: &Run) {
    let chars = size.steps * BATCH * SEQ_LEN;
    println!(
        "each run reads {chars} characters; validation loss (carried state, chunks of its own T)"
    );
    println!(
        "{:<8}{:>7}{:>13}{:>9}{:>13}{:>9}",
        "T", "steps", "half: val", "time", "end: val", "time"
    );
    for seq_len in [10, SEQ_LEN, 100] {
        let steps = chars / (BATCH * seq_len);
        let trained;
        let run = if seq_len == SEQ_LEN {
            base // the same configuration, seed and steps: the same run
        } else {
            trained = train(data, "rnn", size.hidden, seq_len, steps, true);
            &trained
        };
        println!(
            "{seq_len:<8}{steps:>7}{:>13.3}{:>7.1} s{:>13.3}{:>7.1} s",
            run.halfway.1, run.halfway.0, run.end.1, run.end.0
        );
    }
}
// ANCHOR_END: ex4

// ANCHOR: ex5
/// Exercise 5: the same run with an Elman, a GRU and an LSTM cell, and the best unit for each feature of
/// the held-out text. The Elman run is that of exercise 3 (`base`).
fn exercise_5(data: &Data, size: Size, base: &Run) {
    let held_out = data.vocab.decode(&data.val);
    let chars: Vec<char> = held_out.chars().collect();
    let features = text_features(&chars);
    for kind in ["rnn", "gru", "lstm"] {
        let trained;
        let run = if kind == "rnn" {
            base
        } else {
            trained = train(data, kind, size.hidden, SEQ_LEN, size.steps, true);
            &trained
        };
        println!(
            "{kind:<5} {} parameters: validation {:.3} after {} steps, {:.1} ms per step",
            run.model.num_params(),
            run.end.1,
            size.steps,
            1000.0 * run.end.0 / size.steps as f64
        );
        let acts = activations(&run.model, &held_out);
        for (name, feature) in &features {
            match best_unit(&acts, feature) {
                Some((u, r)) => println!("      {name:<20} best unit {u:>3}, r = {r:+.2}"),
                None => println!("      {name:<20} not present in the held-out text"),
            }
        }
    }
}
// ANCHOR_END: ex5

// ANCHOR: ex6
/// Two features of our own, one value per character, computed like those of `rnn::viz::text_features`.
fn own_features(text: &[char]) -> Vec<(&'static str, Vec<f64>)> {
    let (mut after_stop, mut since_comma) = (vec![], vec![]);
    let (mut pending, mut in_first_word, mut count) = (false, false, 0usize);
    for &c in text {
        // "first word after a full stop": the letters of the word that follows a '.'
        if pending && c.is_alphabetic() {
            (pending, in_first_word) = (false, true);
        } else if in_first_word && !c.is_alphabetic() {
            in_first_word = false;
        }
        after_stop.push(f64::from(u8::from(in_first_word)));
        if c == '.' {
            pending = true;
        }
        // characters since the last comma (0 on the comma itself)
        count = if c == ',' { 0 } else { count + 1 };
        since_comma.push(count as f64);
    }
    vec![
        ("first word after '.'", after_stop),
        ("chars since ','", since_comma),
    ]
}

/// Exercise 6: the units of the carried-state model of exercise 3 that track our features best.
fn exercise_6(data: &Data, model: &CharLm) {
    let held_out = data.vocab.decode(&data.val);
    let chars: Vec<char> = held_out.chars().collect();
    let acts = activations(model, &held_out);
    for (name, feature) in own_features(&chars) {
        let mean = feature.iter().sum::<f64>() / feature.len() as f64;
        let mut corr: Vec<(usize, f64)> = (0..acts.len())
            .filter_map(|u| pearson(&acts[u], &feature).map(|r| (u, r)))
            .collect();
        corr.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
        let top: Vec<String> = corr[..3]
            .iter()
            .map(|(u, r)| format!("unit {u:>3} ({r:+.2})"))
            .collect();
        println!("{name:<22} mean {mean:>6.2}: {}", top.join("  "));
    }
}
// ANCHOR_END: ex6

// ANCHOR: ex7
/// Exercise 7: perplexity, probability and bits.
fn exercise_7() {
    let ppl = 5.85_f64;
    println!(
        "perplexity {ppl}: loss ln {ppl} = {:.3} nats, geometric-mean probability e^-L = 1 / {ppl} = {:.3}",
        ppl.ln(),
        1.0 / ppl
    );
    let ln2 = std::f64::consts::LN_2;
    println!(
        "1.580 nats per character = 1.580 / ln 2 = {:.4} bits (ln 2 = {ln2:.4}), perplexity {:.2}",
        1.580 / ln2,
        1.580_f64.exp()
    );
    println!(
        "a loss that rounds to 1.580 lies in [1.5795, 1.5805): {:.4} to {:.4} bits",
        1.5795 / ln2,
        1.5805 / ln2
    );
}
// ANCHOR_END: ex7

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let size = if quick {
        Size {
            hidden: 32,
            steps: 30,
        }
    } else {
        Size {
            hidden: 128,
            steps: 500,
        }
    };
    let data = load();
    println!(
        "{} run: one-hot -> cell H = {} -> dense, B = {BATCH}, Adam {LR}, clip {CLIP}, seed {SEED}, {} steps of T = {SEQ_LEN}",
        if quick { "quick" } else { "full" },
        size.hidden,
        size.steps
    );
    let mark = |name: &str, end: bool| {
        // The book quotes the lines between these markers (mdBook's anchors).
        println!("// ANCHOR{}: {name}", if end { "_END" } else { "" });
    };
    mark("ex2", false);
    exercise_2();
    mark("ex2", true);
    mark("ex3", false);
    let base = exercise_3(&data, size);
    mark("ex3", true);
    mark("ex4", false);
    exercise_4(&data, size, &base);
    mark("ex4", true);
    mark("ex5", false);
    exercise_5(&data, size, &base);
    mark("ex5", true);
    mark("ex6", false);
    exercise_6(&data, &base.model);
    mark("ex6", true);
    mark("ex7", false);
    exercise_7();
    mark("ex7", true);
}
