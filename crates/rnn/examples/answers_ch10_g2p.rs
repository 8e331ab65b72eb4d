//! Worked answers to the exercises on chapter 10's pronunciation model: chapter 10's exercises 4 (the
//! length penalty) and 5 (the beam's width), and chapter 11's exercise 5 (its alignments).
//!
//! ```console
//! cargo run --release -q -p rnn --example answers_ch10_g2p -- target/runs/g2p-attn/best.safetensors book/src/figures
//! cargo run --release -q -p rnn --example answers_ch10_g2p -- target/runs/g2p-quick/best.safetensors --quick
//! ```
//!
//! The checkpoint is one of `rnn seq2seq train` on `data/cmudict.tsv` (chapter 10's command makes
//! `target/runs/g2p-attn`). The program reads from the checkpoint's configuration which data the model was
//! trained on and how it was split, rebuilds the test part as `rnn seq2seq eval` does, and decodes it
//! with the library's beam search on two threads; its scores are those of `rnn seq2seq eval` for the same
//! settings. With `--quick` it scores only the first 200 test words (a check of the code, for CI); with a
//! folder after the checkpoint it saves the figures there. The book includes the lines of its output
//! between the printed `// ANCHOR: NAME` and `// ANCHOR_END: NAME`.

use std::path::Path;
use std::time::Instant;

use rnn::checkpoint::Checkpoint;
use rnn::models::seq2seq::tokens::Vocab;
use rnn::models::seq2seq::{BeamConfig, Hypothesis, LengthPenalty, Seq2Seq};
use rnn::plot::{Heatmap, LineChart};
use rnn::tasks::pairs::{group_by_source, parse_tsv, score, split_by_source, Parts, Scores};

/// The model, its vocabularies, and its data's test part grouped by source.
struct G2p {
    model: Seq2Seq,
    src: Vocab,
    tgt: Vocab,
    parts: Parts,
    /// (source ids, its references as ids, as symbols), the test part in `rnn seq2seq eval`'s order.
    test: Vec<TestWord>,
    /// The letters of each test source.
    letters: Vec<usize>,
    /// `rnn seq2seq eval`'s default limit on an output's length: twice the longest training target, plus 10.
    max_len: usize,
    /// The decodings made so far, by (width, penalty), with their seconds: exercises 4 and 5 share some.
    decoded: std::sync::Mutex<Vec<Decoded>>,
}

/// A test source's ids, its references as ids, and its references as symbols.
type TestWord = (Vec<usize>, Vec<Vec<usize>>, Vec<Vec<String>>);

/// One decoding of the test part: (width, penalty), the outputs, and the seconds it took.
type Decoded = ((usize, LengthPenalty), Vec<Hypothesis>, f64);

/// The value of the checkpoint's JSON configuration at `path`.
fn json_at<'a>(config: &'a serde_json::Value, path: &[&str]) -> &'a serde_json::Value {
    let value = path.iter().fold(config, |v, key| &v[key]);
    assert!(
        !value.is_null(),
        "the checkpoint's configuration has no {}",
        path.join(".")
    );
    value
}

/// Loads the model and rebuilds its test part from what the checkpoint says about its data.
fn load(checkpoint: &Path, limit: Option<usize>) -> rnn::Result<G2p> {
    let config = Checkpoint::load(checkpoint)?
        .config
        .expect("a checkpoint of rnn seq2seq train has a configuration");
    let (model, vocabs) = Seq2Seq::load(checkpoint)?;
    let (src, tgt) = vocabs.expect("a checkpoint of rnn seq2seq train has its vocabularies");
    let number = |path: &[&str]| json_at(&config, path).as_f64().expect("a number");
    let data = json_at(&config, &["train", "data"])
        .as_str()
        .expect("the data's path")
        .to_string();
    let text = std::fs::read_to_string(&data).map_err(|source| rnn::Error::Io {
        action: "read",
        path: data.clone().into(),
        source,
    })?;
    let parts = split_by_source(
        &parse_tsv(&text, &data)?,
        number(&["train", "val_frac"]),
        number(&["train", "test_frac"]),
        number(&["train", "split_seed"]) as u64,
    )?;
    let symbols = |t: &str| t.split_whitespace().map(String::from).collect::<Vec<_>>();
    let mut groups = group_by_source(&parts.test);
    groups.truncate(limit.unwrap_or(groups.len()));
    let letters = groups.iter().map(|(s, _)| s.chars().count()).collect();
    let test = groups
        .iter()
        .map(|(s, refs)| {
            (
                src.encode(s),
                refs.iter().map(|r| tgt.encode(r)).collect(),
                refs.iter().map(|r| symbols(r)).collect(),
            )
        })
        .collect();
    let max_len = 2 * number(&["progress", "max_target_len"]) as usize + 10;
    Ok(G2p {
        model,
        src,
        tgt,
        parts,
        test,
        letters,
        max_len,
        decoded: Default::default(),
    })
}

impl G2p {
    /// The best hypothesis for every test source (greedy for width 1, as `rnn seq2seq eval`), on two
    /// threads, and the seconds it took (the first time these settings were decoded).
    fn decode(&self, width: usize, penalty: LengthPenalty) -> (Vec<Hypothesis>, f64) {
        let key = (width, penalty);
        if let Some((_, outs, seconds)) = self
            .decoded
            .lock()
            .expect("not poisoned")
            .iter()
            .find(|d| d.0 == key)
        {
            return (outs.clone(), *seconds);
        }
        let config = BeamConfig {
            width,
            max_len: self.max_len,
            length_penalty: penalty,
        };
        let started = Instant::now();
        let half = self.test.len().div_ceil(2).max(1);
        let outs: Vec<Hypothesis> = std::thread::scope(|s| {
            let jobs: Vec<_> = self
                .test
                .chunks(half)
                .map(|chunk| {
                    let config = &config;
                    s.spawn(move || {
                        chunk
                            .iter()
                            .map(|(src, _, _)| {
                                if width == 1 {
                                    self.model.greedy(src, config.max_len).hypothesis
                                } else {
                                    self.model.beam_search(src, config).swap_remove(0)
                                }
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            jobs.into_iter()
                .flat_map(|j| j.join().expect("decoding"))
                .collect()
        });
        let seconds = started.elapsed().as_secs_f64();
        self.decoded
            .lock()
            .expect("not poisoned")
            .push((key, outs.clone(), seconds));
        (outs, seconds)
    }

    /// Exact match and phoneme error rate, as `rnn seq2seq eval` scores them (the closest reference).
    fn scores(&self, outs: &[Hypothesis]) -> Scores {
        let outputs: Vec<Vec<String>> = outs
            .iter()
            .map(|h| {
                self.tgt
                    .decode(&h.tokens)
                    .split_whitespace()
                    .map(String::from)
                    .collect()
            })
            .collect();
        let refs: Vec<Vec<Vec<String>>> = self.test.iter().map(|t| t.2.clone()).collect();
        score(&outputs, &refs)
    }

    /// Whether output `i` is one of source i's references.
    fn right(&self, i: usize, h: &Hypothesis) -> bool {
        h.ended && self.test[i].1.contains(&h.tokens)
    }
}

// ANCHOR: ex4
/// Exercise 4: beam 5 with α = 0, 0.4, 0.7, 1 and 1.5 for |y|^α (10.9), and α = 0.7 and 1.5 for GNMT's
/// penalty (10.10); which words each setting decodes differently from α = 0 (raw log P), and how long
/// they are.
fn exercise_4(g: &G2p, figures: Option<&Path>) {
    println!("// ANCHOR: ex4");
    let n = g.test.len() as f64;
    let mean_letters = g.letters.iter().sum::<usize>() as f64 / n;
    println!(
        "beam 5 on {} test words (mean {mean_letters:.2} letters); 'changed' = the output differs from α = 0's",
        g.test.len()
    );
    println!(
        "{:<13} {:>7} {:>7} {:>8} {:>8} {:>8} {:>14} {:>14}",
        "penalty", "WER", "PER", "changed", "now ok", "now bad", "their letters", "longer/shorter"
    );
    let (base, _) = g.decode(5, LengthPenalty::Power(0.0));
    // GNMT's penalty at α = 0 is the raw log P too; two more of its α are enough to compare.
    let alphas: [&[f64]; 2] = [&[0.0, 0.4, 0.7, 1.0, 1.5], &[0.0, 0.7, 1.5]];
    let mut curves = [Vec::new(), Vec::new()];
    for (c, kind) in ["|y|^α", "GNMT"].iter().enumerate() {
        for &alpha in alphas[c] {
            let penalty = if c == 0 {
                LengthPenalty::Power(alpha)
            } else {
                LengthPenalty::Gnmt(alpha)
            };
            let outs = if alpha == 0.0 {
                base.clone()
            } else {
                g.decode(5, penalty).0
            };
            let s = g.scores(&outs);
            let changed: Vec<usize> = (0..outs.len())
                .filter(|&i| outs[i].tokens != base[i].tokens || outs[i].ended != base[i].ended)
                .collect();
            let gained = changed
                .iter()
                .filter(|&&i| g.right(i, &outs[i]) && !g.right(i, &base[i]))
                .count();
            let lost = changed
                .iter()
                .filter(|&&i| !g.right(i, &outs[i]) && g.right(i, &base[i]))
                .count();
            let letters = changed.iter().map(|&i| g.letters[i]).sum::<usize>() as f64
                / changed.len().max(1) as f64;
            let longer = changed
                .iter()
                .filter(|&&i| outs[i].len() > base[i].len())
                .count();
            let shorter = changed
                .iter()
                .filter(|&&i| outs[i].len() < base[i].len())
                .count();
            println!(
                "{:<13} {:>6.2}% {:>6.2}% {:>8} {:>8} {:>8} {:>14} {:>14}",
                format!("{kind} {alpha}"),
                100.0 * (1.0 - s.exact),
                100.0 * s.token_error,
                changed.len(),
                gained,
                lost,
                if changed.is_empty() {
                    "-".to_string()
                } else {
                    format!("{letters:.2}")
                },
                format!("{longer}/{shorter}")
            );
            curves[c].push((alpha, 100.0 * (1.0 - s.exact)));
            if c == 0 && alpha == 1.5 {
                for &i in changed.iter().take(4) {
                    let show = |h: &Hypothesis| g.tgt.decode(&h.tokens);
                    println!(
                        "    e.g. {:?}: {:?} at α = 0, {:?} at α = 1.5 (reference {:?})",
                        g.src.decode(&g.test[i].0),
                        show(&base[i]),
                        show(&outs[i]),
                        g.tgt.decode(&g.test[i].1[0])
                    );
                }
            }
        }
    }
    let chart = LineChart::new(
        "G2P test WER against the length penalty's α (beam 5)",
        "α",
        "word error rate (%)",
    )
    .series("log P / |y|^α", curves[0].clone())
    .series("GNMT: log P / ((5 + |y|) / 6)^α", curves[1].clone())
    .size(640, 380)
    .to_svg();
    if let Some(dir) = figures {
        chart
            .save(&dir.join("ch10-g2p-alpha.svg"))
            .expect("the figure is written");
    }
    println!("// ANCHOR_END: ex4");
}
// ANCHOR_END: ex4

// ANCHOR: ex5
/// Exercise 5: beam widths 1 (greedy), 2, 3, 5, 10 and 20 at α = 0.7. For each: WER, PER, decoding time, how
/// many outputs differ from the width before, and the wrong outputs the search is to blame for: less
/// probable than a reference (the chapter's *search errors*), or scoring below one (the beam missed what
/// its own objective prefers).
fn exercise_5(g: &G2p) {
    println!("// ANCHOR: ex5");
    let penalty = LengthPenalty::Power(0.7);
    // (10.8) the log P of every reference, by teacher forcing
    let refs: Vec<Vec<f64>> = g
        .test
        .iter()
        .map(|(s, ids, _)| {
            ids.iter()
                .map(|y| g.model.sequence_log_prob(s, y, true))
                .collect()
        })
        .collect();
    println!(
        "α = 0.7 on {} test words; 'new' = outputs that differ from the width before",
        g.test.len()
    );
    println!(
        "{:<7} {:>7} {:>7} {:>10} {:>6} {:>14} {:>13}",
        "width", "WER", "PER", "decoding", "new", "search errors", "score errors"
    );
    let mut previous: Option<Vec<Hypothesis>> = None;
    for width in [1usize, 2, 3, 5, 10, 20] {
        let (outs, seconds) = g.decode(width, penalty);
        let s = g.scores(&outs);
        let new = previous.as_ref().map_or(0, |p| {
            p.iter()
                .zip(&outs)
                .filter(|(a, b)| a.tokens != b.tokens || a.ended != b.ended)
                .count()
        });
        let (mut search, mut missed) = (0, 0);
        for (i, h) in outs.iter().enumerate() {
            if g.right(i, h) {
                continue;
            }
            let best_lp = refs[i].iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
            let best_score = refs[i]
                .iter()
                .zip(&g.test[i].1)
                .map(|(&lp, y)| penalty.score(lp, y.len() + 1))
                .fold(f64::NEG_INFINITY, f64::max);
            search += usize::from(h.log_prob < best_lp);
            missed += usize::from(h.score < best_score);
        }
        println!(
            "{:<7} {:>6.2}% {:>6.2}% {:>8.1} s {:>6} {:>14} {:>13}",
            if width == 1 {
                "greedy".to_string()
            } else {
                width.to_string()
            },
            100.0 * (1.0 - s.exact),
            100.0 * s.token_error,
            seconds,
            if previous.is_some() {
                new.to_string()
            } else {
                "-".to_string()
            },
            search,
            missed
        );
        previous = Some(outs);
    }
    println!("// ANCHOR_END: ex5");
}
// ANCHOR_END: ex5

// ANCHOR: ch11_ex5
/// Chapter 11, exercise 5: the attention of greedy decoding for four words spelt with silent or odd
/// letters, as heatmaps, and for each output phoneme the letters it reads most.
fn alignments(g: &G2p, figures: Option<&Path>) {
    println!("// ANCHOR: ch11_ex5");
    let part_of = |word: &str| {
        [
            ("training", &g.parts.train),
            ("validation", &g.parts.val),
            ("test", &g.parts.test),
        ]
        .into_iter()
        .find(|(_, pairs)| pairs.iter().any(|p| p.0 == word))
        .map_or("no", |(name, _)| name)
    };
    for word in ["knight", "ghost", "tough", "through"] {
        let src = g.src.encode(word);
        let out = g.model.greedy(&src, g.max_len);
        let weights = out.attention.expect("the model attends"); // (steps, letters)
        let mut rows: Vec<String> = out
            .hypothesis
            .tokens
            .iter()
            .map(|&id| g.tgt.symbol(id).unwrap_or("?").to_string())
            .collect();
        if out.hypothesis.ended {
            rows.push("<eos>".into());
        }
        let letters: Vec<String> = word.chars().map(String::from).collect();
        println!(
            "{word} ({} part): {}",
            part_of(word),
            g.tgt.decode(&out.hypothesis.tokens)
        );
        for (phoneme, row) in rows.iter().zip(weights.rows()) {
            let mut order: Vec<usize> = (0..row.len()).collect();
            order.sort_by(|&a, &b| row[b].total_cmp(&row[a]));
            let top: Vec<String> = order
                .iter()
                .take(3)
                .map(|&k| format!("{}{} {:.2}", letters[k], k + 1, row[k]))
                .collect();
            println!("  {phoneme:<6} reads {}", top.join(", "));
        }
        // cells of 40 pixels show their values; a short title fits above five letters
        let map = Heatmap::new(&format!("{word}: attention"), "letter", "phoneme", weights)
            .columns(letters)
            .rows(rows)
            .cell_size(40)
            .to_svg();
        if let Some(dir) = figures {
            map.save(&dir.join(format!("ch11-g2p-{word}.svg")))
                .expect("the figure is written");
        }
    }
    println!("// ANCHOR_END: ch11_ex5");
}
// ANCHOR_END: ch11_ex5

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let mut paths = args.iter().filter(|a| !a.starts_with("--"));
    let Some(checkpoint) = paths.next() else {
        eprintln!("usage: answers_ch10_g2p CHECKPOINT [FIGURES_DIR] [--quick]");
        std::process::exit(2);
    };
    let figures = paths.next().map(Path::new);
    let g = match load(Path::new(checkpoint), quick.then_some(200)) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("answers_ch10_g2p: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "{checkpoint}: {} parameters; test part of {} sources, {} scored here; outputs of at most {} symbols",
        rnn::params::Parameters::num_params(&g.model),
        group_by_source(&g.parts.test).len(),
        g.test.len(),
        g.max_len
    );
    exercise_4(&g, figures);
    exercise_5(&g);
    alignments(&g, figures);
}
