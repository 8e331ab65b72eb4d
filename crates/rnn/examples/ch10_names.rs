//! Chapter 10: the one-to-many shape. A decoder conditioned on a fixed vector writes first names for a
//! label, the shape image captioning has with an image's features in place of the label.
//!
//! ```console
//! cargo run --release -p rnn --example ch10_names            # the full run (about 1.5 minutes)
//! cargo run --release -p rnn --example ch10_names -- --quick # a small run (CI)
//! ```
//!
//! The data is `data/gender-names.tsv`: 8,422 English first names, each labelled `f`, `m` or `both`
//! (`data/README.md`). The model is a [`Seq2Seq`] whose source is one token, the label: the encoder reads
//! it in one step and the bridge copies its final state to the decoder (10.2), so the decoder starts from
//! a fixed vector s_0 per label and writes the name's characters, then `<eos>` (10.3), (10.4). The names
//! (not the lines: a name has one line) are split 90/5/5 into training, validation and test names with a
//! fixed seed; one LSTM is trained by teacher forcing (10.5) with Adam, and the model of the best
//! validation loss is kept.
//!
//! It measures:
//! - (a) how much the label conditions the decoder: the test names' loss per character under their own
//!   label against under the other one (f ↔ m), and how often a test name is more probable under its own
//!   label (the decoder used as a classifier, P(label | name) ∝ P(name | label) with equal priors);
//! - (b) samples ([`Seq2Seq::sample`]): 20 names per label at temperatures 0.8 and 1.0, and over 1,000
//!   samples per label and temperature, where they come from: training names, held-out names (the
//!   validation and test parts, never trained on), names of the list with the same label or the other
//!   label, new names; and their mean length against the data's;
//! - (c) greedy decoding and a beam of 3 for each label.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::time::Instant;

use rand::seq::SliceRandom;
use rnn::cells::CellKind;
use rnn::models::seq2seq::tokens::{Seq2SeqBatch, Split, Vocab};
use rnn::models::seq2seq::{BeamConfig, Seq2Seq, Seq2SeqConfig};
use rnn::optim::{clip_by_global_norm, Adam, Optimizer};
use rnn::params::Parameters;

/// The data, compiled in.
const DATA: &str = include_str!("../../../data/gender-names.tsv");

/// The sizes of one run (full or quick).
#[derive(Clone, Copy)]
struct Sizes {
    hidden: usize,
    embed: usize,
    steps: usize,
    every: usize,
}

const FULL: Sizes = Sizes {
    hidden: 128,
    embed: 16,
    steps: 3000,
    every: 250,
};
const QUICK: Sizes = Sizes {
    hidden: 16,
    embed: 8,
    steps: 60,
    every: 30,
};
const BATCH: usize = 64;
const LR: f64 = 2e-3;
const CLIP: f64 = 5.0;
/// Samples per label and temperature for the statistics of (b).
const SAMPLES: usize = 1000;
/// The labels, in the order they are reported.
const LABELS: [&str; 3] = ["f", "m", "both"];

/// One name of the list: its characters' ids and its label's source id.
#[derive(Clone)]
struct Example {
    name: String,
    label: String,
    src: usize,
    tgt: Vec<usize>,
}

/// The other label of `f` and `m` (None for `both`).
fn other(label: &str) -> Option<&'static str> {
    match label {
        "f" => Some("m"),
        "m" => Some("f"),
        _ => None,
    }
}

/// log P(name | label) (10.8) of every example with its source replaced by `src_of(example)`, and the
/// number of predicted tokens (the characters and `<eos>`), by teacher forcing in batches.
fn log_probs(
    model: &Seq2Seq,
    examples: &[&Example],
    src_of: impl Fn(&Example) -> usize,
) -> Vec<(f64, usize)> {
    let mut out = Vec::with_capacity(examples.len());
    for chunk in examples.chunks(BATCH) {
        let src: Vec<Vec<usize>> = chunk.iter().map(|e| vec![src_of(e)]).collect();
        let tgt: Vec<Vec<usize>> = chunk.iter().map(|e| e.tgt.clone()).collect();
        let batch = Seq2SeqBatch::new(&src, &tgt);
        let (logits, _) = model.forward(&batch); // (T_tgt, B, V)
        let lp: Vec<_> = (0..logits.dim().0)
            .map(|t| rnn::loss::log_softmax(logits.index_axis(ndarray::Axis(0), t))) // (B, V) per step
            .collect();
        for b in 0..chunk.len() {
            let n = batch.tgt_lengths[b];
            // (10.8) log P(y | x) = Σ_t log p_t[y_t], over the characters and <eos>
            let sum = (0..n).map(|t| lp[t][[b, batch.tgt_out[[t, b]]]]).sum();
            out.push((sum, n));
        }
    }
    out
}

/// The loss per character (nats), `<eos>` counted as one: -Σ log P / Σ tokens.
fn per_char(lps: &[(f64, usize)]) -> f64 {
    -lps.iter().map(|x| x.0).sum::<f64>() / lps.iter().map(|x| x.1).sum::<usize>().max(1) as f64
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let sizes = if quick { QUICK } else { FULL };
    let started = Instant::now();

    // the list, and its split by name: 90% training, 5% validation, 5% test
    let lines: Vec<(&str, &str)> = DATA
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.split_once('\t').expect("name<TAB>label"))
        .collect();
    let label_of: HashMap<&str, &str> = lines.iter().copied().collect();
    assert_eq!(label_of.len(), lines.len(), "every name has one line");
    let mut order: Vec<usize> = (0..lines.len()).collect();
    order.shuffle(&mut rnn::init::rng(0));
    let n_val = lines.len() * 5 / 100;
    let (val_idx, rest) = order.split_at(n_val);
    let (test_idx, train_idx) = rest.split_at(n_val);

    let src_vocab = Vocab::build(LABELS, Split::Whitespace);
    let tgt_vocab = Vocab::build(train_idx.iter().map(|&i| lines[i].0), Split::Chars);
    let make = |idx: &[usize]| -> Vec<Example> {
        idx.iter()
            .map(|&i| {
                let (name, label) = lines[i];
                Example {
                    name: name.to_string(),
                    label: label.to_string(),
                    src: src_vocab.encode(label)[0],
                    tgt: tgt_vocab.encode(name),
                }
            })
            .collect()
    };
    let (train, val, test) = (make(train_idx), make(val_idx), make(test_idx));
    let train_names: HashSet<&str> = train.iter().map(|e| e.name.as_str()).collect();
    let id = |label: &str| src_vocab.encode(label)[0];
    let max_len = lines.iter().map(|l| l.0.len()).max().unwrap_or(1) + 10;

    let config = Seq2SeqConfig::new(
        CellKind::Lstm,
        src_vocab.len(),
        tgt_vocab.len(),
        sizes.embed,
        sizes.hidden,
    );
    let mut model = Seq2Seq::new(&config, &mut rnn::init::rng(1)).expect("a valid configuration");
    println!(
        "one-to-many: first names given a label. {} names ({} training, {} validation, {} test; split by name, seed 0); \
         {} characters + 4 specials",
        lines.len(),
        train.len(),
        val.len(),
        test.len(),
        tgt_vocab.len() - 4
    );
    for label in LABELS {
        let count = |set: &[Example]| set.iter().filter(|e| e.label == label).count();
        println!(
            "  label {label:<4}: {:>5} training, {:>3} validation, {:>3} test names",
            count(&train),
            count(&val),
            count(&test)
        );
    }
    println!(
        "LSTM encoder-decoder, the source one label token: H = {}, embeddings {}, {} parameters; Adam lr {LR}, \
         batch {BATCH}, clip {CLIP}, {} steps, the best validation loss kept",
        sizes.hidden,
        sizes.embed,
        model.num_params(),
        sizes.steps
    );

    // training by teacher forcing (10.5), evaluated on the validation names every `every` steps
    let train_refs: Vec<&Example> = train.iter().collect();
    let val_refs: Vec<&Example> = val.iter().collect();
    let mut opt = Adam::new(LR);
    let mut rows: Vec<usize> = (0..train.len()).collect();
    let mut rng = rnn::init::rng(2);
    let mut pos = rows.len();
    let (mut best, mut best_val, mut best_step) = (model.clone(), f64::INFINITY, 0);
    let mut running = (0.0, 0usize);
    println!(
        "\n{:>6} {:>22} {:>22}",
        "step", "train loss/char", "validation loss/char"
    );
    for step in 1..=sizes.steps {
        if pos + BATCH > rows.len() {
            rows.shuffle(&mut rng);
            pos = 0;
        }
        let chunk = &rows[pos..pos + BATCH];
        pos += BATCH;
        let src: Vec<Vec<usize>> = chunk.iter().map(|&i| vec![train[i].src]).collect();
        let tgt: Vec<Vec<usize>> = chunk.iter().map(|&i| train[i].tgt.clone()).collect();
        let batch = Seq2SeqBatch::new(&src, &tgt);
        let (loss, mut grads) = model.loss_and_grads(&batch);
        let tokens: usize = batch.tgt_lengths.iter().sum();
        running.0 += loss * tokens as f64;
        running.1 += tokens;
        clip_by_global_norm(&mut grads, CLIP);
        opt.step(&mut model, &grads);
        if step % sizes.every == 0 {
            let v = per_char(&log_probs(&model, &val_refs, |e| e.src));
            println!(
                "{step:>6} {:>22.4} {:>22.4}",
                running.0 / running.1 as f64,
                v
            );
            running = (0.0, 0);
            if v < best_val {
                (best, best_val, best_step) = (model.clone(), v, step);
            }
        }
    }
    let model = best;
    let train_seconds = started.elapsed().as_secs_f64();
    println!("kept the model of step {best_step} (validation loss {best_val:.4} nats/char)");

    // (a) the conditioning: test loss under the right label and under the wrong one
    println!(
        "\n(a) test loss per character (nats; <eos> counts as a character) under each label; \
         'own beats other' = the name is more probable under its own label"
    );
    println!(
        "{:<14} {:>6} {:>10} {:>10} {:>10} {:>12} {:>16}",
        "test names", "count", "under f", "under m", "under both", "other - own", "own beats other"
    );
    let train_lp = per_char(&log_probs(&model, &train_refs, |e| e.src));
    for label in LABELS {
        let names: Vec<&Example> = test.iter().filter(|e| e.label == label).collect();
        let under: Vec<Vec<(f64, usize)>> = LABELS
            .iter()
            .map(|l| log_probs(&model, &names, |_| id(l)))
            .collect();
        let own = LABELS.iter().position(|l| *l == label).expect("a label");
        let (gap, beats) = match other(label) {
            Some(o) => {
                let o = LABELS.iter().position(|l| *l == o).expect("a label");
                let wins = under[own]
                    .iter()
                    .zip(&under[o])
                    .filter(|(a, b)| a.0 > b.0)
                    .count();
                (
                    format!("{:.4}", per_char(&under[o]) - per_char(&under[own])),
                    format!("{:.1}%", 100.0 * wins as f64 / names.len().max(1) as f64),
                )
            }
            None => ("-".to_string(), "-".to_string()),
        };
        println!(
            "{:<14} {:>6} {:>10.4} {:>10.4} {:>10.4} {:>12} {:>16}",
            format!("labelled {label}"),
            names.len(),
            per_char(&under[0]),
            per_char(&under[1]),
            per_char(&under[2]),
            gap,
            beats
        );
    }
    println!(
        "(training names under their own label: {train_lp:.4} nats/char; validation: {best_val:.4})"
    );

    // (b) samples: a few to read, then where 1,000 of them come from
    let mut rng = rnn::init::rng(3);
    println!(
        "\n(b) 20 samples per label and temperature (seed 3; decoded as Vocab::decode does: a drawn <unk> is printed, <pad> and <sos> are dropped)"
    );
    for label in LABELS {
        for tau in [0.8, 1.0] {
            let names: Vec<String> = (0..20)
                .map(|_| {
                    let h = model
                        .sample(&[id(label)], tau, max_len, &mut rng)
                        .expect("a valid temperature");
                    match tgt_vocab.decode(&h.tokens) {
                        empty if empty.is_empty() => "(empty)".to_string(),
                        name => name,
                    }
                })
                .collect();
            println!("  {label:<4} τ = {tau:.1}: {}", names.join(" "));
        }
    }
    let mean_len = |label: &str| {
        let ls: Vec<usize> = lines
            .iter()
            .filter(|l| l.1 == label)
            .map(|l| l.0.len())
            .collect();
        ls.iter().sum::<usize>() as f64 / ls.len().max(1) as f64
    };
    println!(
        "\n{SAMPLES} samples per label and temperature (seed 4): where they come from (a sample is a training name, \
         a held-out name or new; and it is in the list with the same label, the other label, \
         labelled both, or not at all), and their mean length"
    );
    println!(
        "{:<5} {:>4} {:>9} {:>9} {:>7} {:>8} {:>8} {:>8} {:>9} {:>8} {:>9}",
        "label",
        "τ",
        "training",
        "held-out",
        "new",
        "same",
        "other",
        "both",
        "distinct",
        "length",
        "data's"
    );
    let mut rng = rnn::init::rng(4);
    for label in LABELS {
        for tau in [0.8, 1.0] {
            let (mut in_train, mut in_list, mut same, mut oth, mut both) = (0, 0, 0, 0, 0);
            let mut total_len = 0;
            let mut distinct = HashSet::new();
            for _ in 0..SAMPLES {
                let h = model
                    .sample(&[id(label)], tau, max_len, &mut rng)
                    .expect("a valid temperature");
                let name = tgt_vocab.decode(&h.tokens);
                total_len += h.tokens.len();
                in_train += usize::from(train_names.contains(name.as_str()));
                if let Some(&l) = label_of.get(name.as_str()) {
                    in_list += 1;
                    if l == label {
                        same += 1;
                    } else if label == "both" || other(label) == Some(l) {
                        oth += 1; // for `both`: a name labelled f or m
                    } else {
                        both += 1; // an f or m sample that is a name labelled both
                    }
                }
                distinct.insert(name);
            }
            let pct = |k: usize| format!("{:.1}%", 100.0 * k as f64 / SAMPLES as f64);
            println!(
                "{label:<5} {tau:>4.1} {:>9} {:>9} {:>7} {:>8} {:>8} {:>8} {:>9} {:>8.2} {:>9.2}",
                pct(in_train),
                pct(in_list - in_train),
                pct(SAMPLES - in_list),
                pct(same),
                pct(oth),
                if label == "both" {
                    "-".into()
                } else {
                    pct(both)
                },
                distinct.len(),
                total_len as f64 / SAMPLES as f64,
                mean_len(label)
            );
        }
    }
    let all_mean = lines.iter().map(|l| l.0.len()).sum::<usize>() as f64 / lines.len() as f64;
    println!(
        "(held-out = in the list but not a training name; same/other/both: in the list with that label, so \
         same + other + both + new = 100%; for label both, other = labelled f or m; distinct: different strings among the samples; lengths: tokens drawn before <eos>, \
         the data's mean over the names with that label, {all_mean:.2} over all)"
    );

    // (c) the single most probable name per label. Greedy decoding and beam search are deterministic
    // searches for argmax_y P(y | label): one label, one output, however many names the label fits.
    // That is right for translation, where one output is wanted; for a one-to-many task it gives
    // one name per label, and only sampling draws the variety of P(y | label).
    println!("\n(c) the most probable name per label: greedy decoding and a beam of 3 (score log P / |y|^0.7)");
    let mut report = String::new();
    for label in LABELS {
        let g = model.greedy(&[id(label)], max_len).hypothesis;
        write!(
            report,
            "  {label:<4} greedy: {:<12} log P {:>8.4}\n       beam 3:",
            format!("{:?}", tgt_vocab.decode(&g.tokens)),
            g.log_prob
        )
        .unwrap();
        for h in model
            .beam_search(&[id(label)], &BeamConfig::new(3, max_len))
            .iter()
            .take(3)
        {
            write!(
                report,
                " {:<12} log P {:>8.4} score {:>8.4} |",
                format!("{:?}", tgt_vocab.decode(&h.tokens)),
                h.log_prob,
                h.score
            )
            .unwrap();
        }
        report.push('\n');
    }
    print!("{report}");
    if !quick {
        println!("\ntraining took {train_seconds:.0} s");
    }
}
