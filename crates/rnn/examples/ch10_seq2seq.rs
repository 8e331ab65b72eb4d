//! Chapter 10: an encoder-decoder trained by teacher forcing, exposure bias measured, and greedy decoding
//! against beam search with and without length normalisation.
//!
//! ```console
//! cargo run --release -p rnn --example ch10_seq2seq            # the full run (long)
//! cargo run --release -p rnn --example ch10_seq2seq -- --quick # a small run (CI)
//! cargo run --release -p rnn --example ch10_seq2seq -- --scheduled-sampling  # exercise 2's answer (long)
//! ```
//!
//! Two tasks of `rnn::tasks::seq2seq`, each learnt by its own LSTM encoder-decoder without attention
//! (chapter 11 adds it), trained at the same time on two threads:
//! - **dates**: "tuesday 10 july 2007", "10/07/2007", ... → "2007-07-10", an output of fixed length 10;
//! - **reversal**: strings of 3 to 12 letters over a 16-letter alphabet, reversed: outputs of every
//!   length, where a length penalty can matter.
//!
//! Each model sees 20,000 training pairs whose sources are not among its 1,000 test sources. Every 500
//! steps the program scores the test set twice: with teacher forcing (the decoder reads the true previous
//! symbol, as in training, (10.3)) and free-running (it reads its own greedy output). The gap between the
//! two per-symbol accuracies is exposure bias: in training the decoder never sees its own mistakes.
//!
//! After the first 500 steps (half trained) and after training, it decodes the test set greedily and by beam search of widths 2, 3, 5 and 10, with
//! length penalties α = 0 (raw log P), 0.7 and 1.0 (10.9) and GNMT's (10.10) with α = 0.7, and reports
//! the exact-match accuracy, the mean log P of the outputs, how often the output has the reference's
//! length, and the *search errors*: outputs whose log P is below the reference's (the search missed a
//! more probable sequence), as against *model errors* (the model prefers a wrong output). Last, a worked
//! example: the 3 best hypotheses of a beam of 3 for one source, with their log P and scores, checked
//! against teacher forcing's log P of the same sequence (10.8).
//!
//! With `--scheduled-sampling` (the answer to exercise 2) it trains two reversal models on the same
//! batches instead: one by teacher forcing, as above, and one by scheduled sampling (Bengio et al., 2015),
//! each decoder input after `<sos>` replaced, with a probability ε rising from 0 to 0.25 over training, by
//! the model's own greedy choice at the step before. It prints the same curves and per-position tables for
//! both.

use std::time::Instant;

use rnn::cells::CellKind;
use rnn::models::seq2seq::tokens::{Seq2SeqBatch, Split, Vocab};
use rnn::models::seq2seq::{BeamConfig, Hypothesis, LengthPenalty, Seq2Seq, Seq2SeqConfig};
use rnn::optim::{clip_by_global_norm, Adam, Optimizer};
use rnn::params::Parameters;
use rnn::tasks::seq2seq::{dates, reversal};

/// The sizes of one run (full or quick).
#[derive(Clone, Copy)]
struct Sizes {
    train: usize,
    test: usize,
    hidden: usize,
    embed: usize,
    steps: usize,
    every: usize,
}

const FULL: Sizes = Sizes {
    train: 20_000,
    test: 1000,
    hidden: 64,
    embed: 32,
    steps: 3000,
    every: 500,
};
const QUICK: Sizes = Sizes {
    train: 1000,
    test: 60,
    hidden: 16,
    embed: 8,
    steps: 60,
    every: 30,
};
const BATCH: usize = 64;
const LR: f64 = 2e-3;
const CLIP: f64 = 5.0;

/// (source, target) string pairs.
type Pairs = Vec<(String, String)>;

/// A task's pairs, split into training and test pairs with unseen test sources.
fn task(name: &str, sizes: Sizes) -> (Pairs, Pairs) {
    let make = |n: usize, rng: &mut rnn::init::Rng| match name {
        "dates" => dates(n, rng),
        _ => reversal(n, 3, 12, "abcdefghijklmnop", rng),
    };
    let mut rng = rnn::init::rng(100);
    let test = make(sizes.test, &mut rng);
    let held: std::collections::HashSet<&String> = test.iter().map(|p| &p.0).collect();
    let mut train = Vec::new();
    while train.len() < sizes.train {
        train.extend(
            make(sizes.train - train.len(), &mut rng)
                .into_iter()
                .filter(|p| !held.contains(&p.0)),
        );
    }
    (train, test)
}

/// One trained model and what was measured along the way.
struct Trained {
    /// The task's name, or with `--scheduled-sampling` how the model was trained.
    name: &'static str,
    model: Seq2Seq,
    /// The model after the first `every` steps, half trained.
    early: Seq2Seq,
    src: Vocab,
    tgt: Vocab,
    test: Vec<(Vec<usize>, Vec<usize>)>,
    max_len: usize,
    /// (step, teacher-forced symbol accuracy, free-running symbol accuracy, exact match)
    curve: Vec<(usize, f64, f64, f64)>,
    /// Per output position: (teacher-forced accuracy, free-running accuracy), after the first `every`
    /// steps and at the end.
    by_position: [Vec<(f64, f64)>; 2],
    /// With scheduled sampling: (decoder inputs replaced, inputs that could be), over all of training.
    sampled: Option<(usize, usize)>,
    seconds: f64,
}

/// Teacher-forced and free-running accuracies on the test pairs: overall per-symbol accuracies (over the
/// reference's symbols and its `<eos>`), exact match, and the per-position accuracies.
fn accuracies(
    model: &Seq2Seq,
    test: &[(Vec<usize>, Vec<usize>)],
    max_len: usize,
) -> (f64, f64, f64, Vec<(f64, f64)>) {
    let positions = test.iter().map(|p| p.1.len() + 1).max().unwrap_or(1);
    let mut tf = vec![(0usize, 0usize); positions];
    let mut free = vec![(0usize, 0usize); positions];
    let mut exact = 0;
    for chunk in test.chunks(BATCH) {
        let src: Vec<Vec<usize>> = chunk.iter().map(|p| p.0.clone()).collect();
        let tgt: Vec<Vec<usize>> = chunk.iter().map(|p| p.1.clone()).collect();
        let batch = Seq2SeqBatch::new(&src, &tgt);
        let (logits, _) = model.forward(&batch); // (T_tgt, B, V)
        for (b, pair) in chunk.iter().enumerate() {
            for (t, acc) in tf.iter_mut().enumerate().take(batch.tgt_lengths[b]) {
                let row = logits.slice(ndarray::s![t, b, ..]);
                let best = (0..row.len()).fold(0, |m, k| if row[k] > row[m] { k } else { m });
                acc.0 += usize::from(best == batch.tgt_out[[t, b]]);
                acc.1 += 1;
            }
            let out = model.greedy(&pair.0, max_len).hypothesis;
            let mut produced = out.tokens.clone();
            if out.ended {
                produced.push(rnn::models::seq2seq::tokens::EOS);
            }
            for (t, acc) in free.iter_mut().enumerate().take(batch.tgt_lengths[b]) {
                acc.0 += usize::from(produced.get(t) == Some(&batch.tgt_out[[t, b]]));
                acc.1 += 1;
            }
            exact += usize::from(out.ended && out.tokens == pair.1);
        }
    }
    let total = |v: &[(usize, usize)]| {
        v.iter().map(|x| x.0).sum::<usize>() as f64
            / v.iter().map(|x| x.1).sum::<usize>().max(1) as f64
    };
    let by_position = tf
        .iter()
        .zip(&free)
        .map(|(a, b)| {
            (
                a.0 as f64 / a.1.max(1) as f64,
                b.0 as f64 / b.1.max(1) as f64,
            )
        })
        .collect();
    (
        total(&tf),
        total(&free),
        exact as f64 / test.len() as f64,
        by_position,
    )
}

// ANCHOR: scheduled
/// The largest probability of scheduled sampling, reached at the last step.
const SAMPLING_MAX: f64 = 0.25;

/// Scheduled sampling (Bengio et al., 2015): each decoder input after `<sos>` is replaced, with
/// probability `eps`, by the model's greedy choice at the step before. That choice depends on the inputs
/// before it, replaced ones included, so the steps are decided in order: before replacing inputs at step
/// t, a forward pass over the first t inputs gives the logits of step t - 1. Only the inputs change; the
/// targets `tgt_out` stay the reference. Returns how many inputs were replaced.
fn schedule_inputs(
    model: &Seq2Seq,
    batch: &mut Seq2SeqBatch,
    eps: f64,
    rng: &mut rnn::init::Rng,
) -> usize {
    use rand::Rng as _;
    let (steps, b) = batch.tgt_in.dim(); // (T_tgt, B)
    let mut replaced = 0;
    for t in 1..steps {
        let rows: Vec<usize> = (0..b)
            .filter(|&r| t < batch.tgt_lengths[r] && rng.random::<f64>() < eps)
            .collect();
        if rows.is_empty() {
            continue;
        }
        let prefix = Seq2SeqBatch {
            src: batch.src.clone(),
            src_lengths: batch.src_lengths.clone(),
            tgt_in: batch.tgt_in.slice(ndarray::s![..t, ..]).to_owned(), // (t, B)
            tgt_out: batch.tgt_out.slice(ndarray::s![..t, ..]).to_owned(), // (t, B)
            tgt_lengths: batch.tgt_lengths.iter().map(|&n| n.min(t)).collect(),
        };
        let (logits, _) = model.forward(&prefix); // (t, B, V)
        for r in rows {
            let row = logits.slice(ndarray::s![t - 1, r, ..]); // (V)
            batch.tgt_in[[t, r]] =
                (0..row.len()).fold(0, |m, k| if row[k] > row[m] { k } else { m });
            replaced += 1;
        }
    }
    replaced
}
// ANCHOR_END: scheduled

/// Scheduled sampling at ε = 1 is free-running decoding: on the first test batch, the inputs
/// [`schedule_inputs`] makes must be the greedy decoder's outputs, up to its `<eos>`. Returns
/// (rows that agree, rows).
fn check_full_sampling(t: &Trained) -> (usize, usize) {
    let chunk = &t.test[..t.test.len().min(BATCH)];
    let src: Vec<Vec<usize>> = chunk.iter().map(|p| p.0.clone()).collect();
    let tgt: Vec<Vec<usize>> = chunk.iter().map(|p| p.1.clone()).collect();
    let mut batch = Seq2SeqBatch::new(&src, &tgt);
    schedule_inputs(&t.model, &mut batch, 1.0, &mut rnn::init::rng(4));
    let agree = chunk
        .iter()
        .enumerate()
        .filter(|&(b, pair)| {
            let out = t.model.greedy(&pair.0, t.max_len).hypothesis;
            let mut produced = out.tokens;
            if out.ended {
                produced.push(rnn::models::seq2seq::tokens::EOS);
            }
            (1..batch.tgt_lengths[b])
                .take(produced.len())
                .all(|i| batch.tgt_in[[i, b]] == produced[i - 1])
        })
        .count();
    (agree, chunk.len())
}

/// Trains the model of task `name` (`dates` or `reversal`) by teacher forcing, or with `sampling`, by
/// scheduled sampling (its probability rising linearly from 0 at the first step to [`SAMPLING_MAX`] at
/// the last). `label` names the run in the output.
fn train(name: &'static str, label: &'static str, sizes: Sizes, sampling: bool) -> Trained {
    let started = Instant::now();
    let (train_pairs, test_pairs) = task(name, sizes);
    let src = Vocab::build(train_pairs.iter().map(|p| &p.0), Split::Chars);
    let tgt = Vocab::build(train_pairs.iter().map(|p| &p.1), Split::Chars);
    let encode = |pairs: &[(String, String)]| -> Vec<(Vec<usize>, Vec<usize>)> {
        pairs
            .iter()
            .map(|(s, t)| (src.encode(s), tgt.encode(t)))
            .collect()
    };
    let (train_ids, test) = (encode(&train_pairs), encode(&test_pairs));
    let max_len = 2 * train_ids.iter().map(|p| p.1.len()).max().unwrap_or(1) + 10;
    let config = Seq2SeqConfig::new(
        CellKind::Lstm,
        src.len(),
        tgt.len(),
        sizes.embed,
        sizes.hidden,
    );
    let mut model = Seq2Seq::new(&config, &mut rnn::init::rng(1)).expect("a valid configuration");
    let mut opt = Adam::new(LR);
    let mut order: Vec<usize> = (0..train_ids.len()).collect();
    let mut rng = rnn::init::rng(2);
    let mut pos = order.len();
    let mut curve = Vec::new();
    let mut by_position = [Vec::new(), Vec::new()];
    let mut early = None;
    // its own seed, so that both runs draw the same batches
    let mut sampling_rng = rnn::init::rng(3);
    let mut sampled = (0, 0);
    for step in 1..=sizes.steps {
        if pos + BATCH > order.len() {
            use rand::seq::SliceRandom;
            order.shuffle(&mut rng);
            pos = 0;
        }
        let rows = &order[pos..pos + BATCH];
        pos += BATCH;
        let src_b: Vec<Vec<usize>> = rows.iter().map(|&i| train_ids[i].0.clone()).collect();
        let tgt_b: Vec<Vec<usize>> = rows.iter().map(|&i| train_ids[i].1.clone()).collect();
        let mut batch = Seq2SeqBatch::new(&src_b, &tgt_b);
        if sampling {
            let eps = SAMPLING_MAX * (step - 1) as f64 / (sizes.steps - 1).max(1) as f64;
            sampled.0 += schedule_inputs(&model, &mut batch, eps, &mut sampling_rng);
            sampled.1 += batch.tgt_lengths.iter().map(|&n| n - 1).sum::<usize>();
        }
        let (_, mut grads) = model.loss_and_grads(&batch);
        clip_by_global_norm(&mut grads, CLIP);
        opt.step(&mut model, &grads);
        if step % sizes.every == 0 {
            let (tf, free, exact, pos_acc) = accuracies(&model, &test, max_len);
            curve.push((step, tf, free, exact));
            if early.is_none() {
                early = Some(model.clone());
                by_position[0] = pos_acc.clone();
            }
            by_position[1] = pos_acc;
        }
    }
    Trained {
        name: label,
        early: early.expect("at least one evaluation"),
        model,
        src,
        tgt,
        test,
        max_len,
        curve,
        by_position,
        sampled: sampling.then_some(sampled),
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// The decoding table of one model: for every (width, penalty), exact match and search statistics.
fn decoding_table(t: &Trained, model: &Seq2Seq, when: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    writeln!(out,
        "\n{} {when}: decoding the {} test sources (exact = output equals the reference; search errors = outputs \
         less probable than the reference, model errors = wrong outputs more probable than it)",
        t.name,
        t.test.len()
    )
    .unwrap();
    writeln!(
        out,
        "{:<8} {:<14} {:>8} {:>12} {:>14} {:>14} {:>13}",
        "width", "penalty", "exact", "mean log P", "right length", "search errors", "model errors"
    )
    .unwrap();
    let refs: Vec<f64> = t
        .test
        .iter()
        .map(|(s, y)| model.sequence_log_prob(s, y, true))
        .collect();
    let penalties = [
        ("α = 0", LengthPenalty::Power(0.0)),
        ("α = 0.7", LengthPenalty::Power(0.7)),
        ("α = 1", LengthPenalty::Power(1.0)),
        ("GNMT α = 0.7", LengthPenalty::Gnmt(0.7)),
    ];
    for width in [1usize, 2, 3, 5, 10] {
        let rows: &[(&str, LengthPenalty)] = if width == 1 {
            &penalties[..1]
        } else {
            &penalties
        };
        for &(label, length_penalty) in rows {
            let config = BeamConfig {
                width,
                max_len: t.max_len,
                length_penalty,
            };
            let outs: Vec<Hypothesis> = t
                .test
                .iter()
                .map(|(s, _)| {
                    if width == 1 {
                        model.greedy(s, t.max_len).hypothesis
                    } else {
                        model.beam_search(s, &config).swap_remove(0)
                    }
                })
                .collect();
            let n = t.test.len() as f64;
            let right = |h: &Hypothesis, y: &Vec<usize>| h.ended && h.tokens == *y;
            let exact = outs
                .iter()
                .zip(&t.test)
                .filter(|(h, (_, y))| right(h, y))
                .count() as f64
                / n;
            let mean_lp = outs.iter().map(|h| h.log_prob).sum::<f64>() / n;
            let same_len = outs
                .iter()
                .zip(&t.test)
                .filter(|(h, (_, y))| h.ended && h.tokens.len() == y.len())
                .count() as f64
                / n;
            let (mut search, mut model_err) = (0, 0);
            for ((h, (_, y)), &lp_ref) in outs.iter().zip(&t.test).zip(&refs) {
                if right(h, y) {
                    continue;
                }
                if h.log_prob < lp_ref {
                    search += 1;
                } else {
                    model_err += 1;
                }
            }
            writeln!(
                out,
                "{:<8} {:<14} {:>7.1}% {:>12.4} {:>13.1}% {:>14} {:>13}",
                if width == 1 {
                    "greedy".to_string()
                } else {
                    width.to_string()
                },
                if width == 1 { "-" } else { label },
                100.0 * exact,
                mean_lp,
                100.0 * same_len,
                search,
                model_err
            )
            .unwrap();
        }
    }
    out
}

/// A worked example: the n-best list of a beam of 3 for the first test source the greedy output gets wrong
/// (or the first source, if it gets none wrong).
fn worked_example(t: &Trained, model: &Seq2Seq, when: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let pick = t
        .test
        .iter()
        .position(|(s, y)| model.greedy(s, t.max_len).hypothesis.tokens != *y)
        .unwrap_or(0);
    let (s, y) = &t.test[pick];
    let config = BeamConfig::new(3, t.max_len);
    writeln!(
        out,
        "\n{} {when}: beam of 3 (score = log P / |y|^0.7, |y| counting <eos>) for the source {:?} (reference {:?}, log P {:.4})",
        t.name,
        t.src.decode(s),
        t.tgt.decode(y),
        model.sequence_log_prob(s, y, true)
    )
    .unwrap();
    let greedy = model.greedy(s, t.max_len).hypothesis;
    writeln!(
        out,
        "  greedy: {:?}  log P {:.4}",
        t.tgt.decode(&greedy.tokens),
        greedy.log_prob
    )
    .unwrap();
    for (i, h) in model.beam_search(s, &config).iter().take(3).enumerate() {
        let recomputed = model.sequence_log_prob(s, &h.tokens, h.ended);
        writeln!(
            out,
            "  {}. {:?}  |y| = {}  log P {:.4}  score {:.4}  (teacher forcing's log P of it: {:.4})",
            i + 1,
            t.tgt.decode(&h.tokens),
            h.len(),
            h.log_prob,
            h.score,
            recomputed
        )
        .unwrap();
    }
    out
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let sampling = std::env::args().any(|a| a == "--scheduled-sampling");
    let sizes = if quick { QUICK } else { FULL };
    println!(
        "LSTM encoder-decoders without attention, H = {}, embeddings {}, Adam lr {LR}, batch {BATCH}, clip {CLIP}; \
         {} training pairs and {} unseen test sources per task; {} steps",
        sizes.hidden, sizes.embed, sizes.train, sizes.test, sizes.steps
    );
    let started = Instant::now();
    // two models on two threads: the two tasks, or reversal trained two ways on the same batches
    let (first, second) = if sampling {
        ("reversal, teacher forcing", "reversal, scheduled sampling")
    } else {
        ("dates", "reversal")
    };
    let (run_a, run_b) = std::thread::scope(|s| {
        let task_a = if sampling { "reversal" } else { "dates" };
        let a = s.spawn(move || train(task_a, first, sizes, false));
        let b = s.spawn(move || train("reversal", second, sizes, sampling));
        (a.join().expect(first), b.join().expect(second))
    });
    for t in [&run_a, &run_b] {
        println!(
            "\n{}: {} parameters; test accuracy per symbol with teacher forcing vs free-running (greedy), and exact match",
            t.name,
            t.model.num_params()
        );
        if let Some((replaced, of)) = t.sampled {
            println!(
                "  ε rising from 0 to {SAMPLING_MAX}: {replaced} of {of} decoder inputs after <sos> were the model's own ({:.1}%)",
                100.0 * replaced as f64 / of.max(1) as f64
            );
        }
        println!(
            "{:>6} {:>16} {:>14} {:>8}",
            "step", "teacher-forced", "free-running", "exact"
        );
        for &(step, tf, free, exact) in &t.curve {
            println!(
                "{step:>6} {:>15.1}% {:>13.1}% {:>7.1}%",
                100.0 * tf,
                100.0 * free,
                100.0 * exact
            );
        }
    }
    for t in [&run_a, &run_b] {
        let (first, last) = (t.curve[0].0, t.curve[t.curve.len() - 1].0);
        println!(
            "\n{}: test accuracy by output position (the last position of each output is its <eos>; \
             a position counts the outputs that have it)",
            t.name
        );
        println!(
            "{:>9} {:>22} {:>22}",
            "",
            format!("after {first} steps"),
            format!("after {last} steps")
        );
        println!(
            "{:>9} {:>10} {:>11} {:>10} {:>11}",
            "position", "teacher", "free", "teacher", "free"
        );
        for (i, ((tf0, fr0), (tf1, fr1))) in
            t.by_position[0].iter().zip(&t.by_position[1]).enumerate()
        {
            println!(
                "{:>9} {:>9.1}% {:>10.1}% {:>9.1}% {:>10.1}%",
                i + 1,
                100.0 * tf0,
                100.0 * fr0,
                100.0 * tf1,
                100.0 * fr1
            );
        }
    }
    if sampling {
        let (checked, rows) = check_full_sampling(&run_b);
        println!(
            "\ncheck: with ε = 1 the decoder inputs after <sos> are the greedy decoder's own outputs \
             (up to its <eos>): {checked} of {rows} test rows"
        );
        if !quick {
            println!(
                "\ntraining took {:.0} s (teacher forcing) and {:.0} s (scheduled sampling) on two threads",
                run_a.seconds, run_b.seconds
            );
        }
        return;
    }
    let (dates_run, reversal_run) = (run_a, run_b);
    // both tables at once, on two threads, printed in order
    let reports: Vec<String> = std::thread::scope(|s| {
        let jobs: Vec<_> = [&dates_run, &reversal_run]
            .into_iter()
            .map(|t| {
                s.spawn(move || {
                    let early = format!("after {} steps", t.curve[0].0);
                    let end = format!("after {} steps", t.curve[t.curve.len() - 1].0);
                    decoding_table(t, &t.early, &early)
                        + &worked_example(t, &t.early, &early)
                        + &decoding_table(t, &t.model, &end)
                        + &worked_example(t, &t.model, &end)
                })
            })
            .collect();
        jobs.into_iter()
            .map(|j| j.join().expect("decoding"))
            .collect()
    });
    for r in reports {
        print!("{r}");
    }
    if !quick {
        println!(
            "\ntraining took {:.0} s (dates) and {:.0} s (reversal) on two threads; {:.0} s in all",
            dates_run.seconds,
            reversal_run.seconds,
            started.elapsed().as_secs_f64()
        );
    }
}
