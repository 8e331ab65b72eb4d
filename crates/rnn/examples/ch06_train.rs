//! Chapter 6: a character-level language model trained on real text, and what its neurons track.
//!
//! ```console
//! cargo run --release -p rnn --example ch06_train -- book/src/figures
//! ```
//!
//! Trains a one-layer Elman network (one-hot input, 128 tanh units) on the bundled *Moby-Dick* (chapters
//! 1 to 30) with truncated BPTT: 32 parallel streams, chunks of 50 characters, carried state, Adam and
//! clipping by global norm. The last 10% of the text is held out. The program prints the training and
//! validation loss every 100 steps, samples at temperatures 0.5, 1.0 and 1.5 from a fixed seed, then runs
//! the trained model over the held-out text and reports the hidden units most correlated with simple
//! features of the text (position in the line, inside a quotation, inside a word). With a folder argument
//! it writes `ch06-loss.svg` (the loss curves) and `ch06-neurons.svg` (a passage coloured by two units).
//! Given also a checkpoint of `rnn train`, it reports that model's units over the first 30,000 characters
//! of the book and writes `ch06-neurons-cli.svg`:
//!
//! ```console
//! cargo run --release -p rnn-cli -- train --force --out target/runs/ch06   # the default run: a GRU of 128 units
//! cargo run --release -p rnn --example ch06_train -- book/src/figures target/runs/ch06/best.safetensors
//! ```
//!
//! Every number in chapter 6 that concerns this model is quoted from this program's output, which the book
//! includes from `book/src/outputs/` (`book/outputs.txt` lists the commands). Only the `time` column
//! changes from run to run.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use rnn::data::{split_train_val, TbpttBatches, Vocab};
use rnn::models::char_lm::{CharLm, CharLmConfig};
use rnn::optim::{clip_by_global_norm, Adam, Optimizer};
use rnn::params::Parameters;
use rnn::plot::LineChart;
use rnn::viz::{activation_colour as colour, pearson, text_features as features};

const HIDDEN: usize = 128;
const BATCH: usize = 32;
const SEQ_LEN: usize = 50;
const STEPS: usize = 3500;
const LR: f64 = 2e-3;
const CLIP: f64 = 5.0;
const EVAL_EVERY: usize = 100;
const SEED: u64 = 6;

fn main() {
    let out_dir = std::env::args().nth(1).map(PathBuf::from);
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/moby-dick.txt");
    let text =
        std::fs::read_to_string(path).expect("data/moby-dick.txt is bundled with the course");

    // ---- data: vocabulary, held-out tail, parallel streams
    let vocab = Vocab::from_text(&text);
    let ids = vocab
        .encode(&text)
        .expect("the vocabulary comes from this text");
    let (train_ids, val_ids) = split_train_val(&ids, 0.1).expect("the text is long enough");
    let batches = TbpttBatches::new(train_ids, BATCH, SEQ_LEN).expect("the text is long enough");

    // ---- model: one-hot (V) -> Elman (H) -> dense (V)
    let config = CharLmConfig::new("rnn", vocab.clone(), 0, HIDDEN, 1, 0.0);
    let mut model = CharLm::new(config, &mut rnn::init::rng(SEED)).expect("a valid configuration");
    let mut opt = Adam::new(LR);
    println!(
        "Moby-Dick: {} characters ({} train, {} validation), vocabulary V = {}",
        ids.len(),
        train_ids.len(),
        val_ids.len(),
        vocab.len()
    );
    println!("  the whole text: {}", text_stats(&text));
    println!(
        "  character frequencies of the training part, scored on the validation part: {:.3} nats/char",
        unigram_nats(train_ids, val_ids, vocab.len())
    );
    println!(
        "model: one-hot -> Elman tanh H = {HIDDEN} -> dense, {} parameters\nB = {BATCH} streams, chunks of T = {SEQ_LEN} steps, {} chunks per pass",
        model.num_params(),
        batches.num_chunks()
    );
    println!(
        "untrained: validation {:.3} nats/char (ln V = {:.3})\n",
        model.evaluate(val_ids, BATCH, SEQ_LEN).unwrap().nats,
        (vocab.len() as f64).ln()
    );
    println!(
        "{:>6} {:>12} {:>12} {:>12}   time",
        "step", "train", "validation", "val bits"
    );

    let started = Instant::now();
    let mut states = model.zero_states(BATCH);
    let (mut train_curve, mut val_curve) = (Vec::new(), Vec::new());
    let (mut sum, mut count) = (0.0, 0);
    for step in 0..STEPS {
        let k = step % batches.num_chunks();
        if k == 0 {
            states = model.zero_states(BATCH); // a new pass: every stream starts again
        }
        // ANCHOR: train_step
        // chunk k of every stream: inputs and next-character targets, (T, B) each
        let (inputs, targets) = batches.chunk(k);
        // forward from the states the previous chunk ended in
        let (loss, finals, cache) = model.forward(&inputs, &targets, Some(&states), None);
        // backward through this chunk only: gradients stop at its first step
        let mut grads = model.zeros_like();
        model.backward(&cache, &mut grads);
        clip_by_global_norm(&mut grads, CLIP);
        opt.step(&mut model, &grads);
        // the values carry over to the next chunk of the same streams
        states = finals;
        // ANCHOR_END: train_step
        sum += loss;
        count += 1;
        if (step + 1) % EVAL_EVERY == 0 {
            let val = model.evaluate(val_ids, BATCH, SEQ_LEN).unwrap();
            let train = sum / count as f64;
            println!(
                "{:>6} {train:>12.3} {:>12.3} {:>12.3}   {:.0} s",
                step + 1,
                val.nats,
                val.bits,
                started.elapsed().as_secs_f64()
            );
            train_curve.push(((step + 1) as f64, train));
            val_curve.push(((step + 1) as f64, val.nats));
            (sum, count) = (0.0, 0);
        }
    }
    let val = model.evaluate(val_ids, BATCH, SEQ_LEN).unwrap();
    println!(
        "\nafter {STEPS} steps ({} characters read):\nvalidation {:.3} nats/char, {:.3} bits/char, perplexity {:.2}",
        STEPS * batches.chars_per_chunk(),
        val.nats,
        val.bits,
        val.perplexity
    );

    // ---- samples from a fixed seed
    for temperature in [0.5, 1.0, 1.5] {
        let s = model
            .sample("The whale", 300, temperature, None, 1)
            .expect("the prime is in the vocabulary");
        println!("\n--- temperature {temperature} ---\n{}", wrap(&s, 100));
    }

    // ---- what the hidden units track, over the held-out text
    let held_out = vocab.decode(val_ids);
    println!("\nunits most correlated with features of the held-out text (Pearson r):");
    let (acts, best) = unit_report(&model, &held_out);

    let Some(dir) = out_dir else { return };
    std::fs::create_dir_all(&dir).expect("cannot create the figure folder");
    let loss = dir.join("ch06-loss.svg");
    LineChart::new(
        "Elman char model on Moby-Dick",
        "training step",
        "nats per character",
    )
    .series("train (mean of the last 100 steps)", train_curve)
    .series("validation (held-out 10%)", val_curve)
    .to_svg()
    .save(&loss)
    .expect("cannot write the loss figure");
    println!("\nwrote {}", loss.display());
    // a passage with a quotation, coloured by the best unit for quotes and for words
    let figure = dir.join("ch06-neurons.svg");
    draw_passage(&held_out, "It had previously come", &acts, &best, &figure);

    // ---- optionally, the same report for a checkpoint trained with `rnn train`
    let Some(checkpoint) = std::env::args().nth(2) else {
        return;
    };
    let cli_model = CharLm::load(std::path::Path::new(&checkpoint)).expect("a CharLm checkpoint");
    let opening: String = text.chars().take(30_000).collect();
    println!(
        "\n{checkpoint}: {} {}x{}, units most correlated with features of the first 30000 characters:",
        cli_model.config.cell, cli_model.config.hidden_size, cli_model.config.num_layers
    );
    let (acts, best) = unit_report(&cli_model, &opening);
    let figure = dir.join("ch06-neurons-cli.svg");
    draw_passage(&opening, "\"My boy,\"", &acts, &best, &figure);
}

/// Characters, lines (a line of the corpus is a paragraph or a chapter heading) with their median (the
/// upper one of the two middle lengths for an even count) and largest length, quote marks and opening parentheses of `text`.
fn text_stats(text: &str) -> String {
    let mut lengths: Vec<usize> = text
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.chars().count())
        .collect();
    lengths.sort_unstable();
    format!(
        "{} characters; {} non-empty lines, median length {}, longest {}; {} quote marks, {} opening parentheses",
        text.chars().count(),
        lengths.len(),
        lengths[lengths.len() / 2],
        lengths[lengths.len() - 1],
        text.matches('"').count(),
        text.matches('(').count()
    )
}

/// The mean cross-entropy, in nats, of `score` under the character frequencies of `fit` (a model that
/// knows how often each character occurs, and nothing else).
fn unigram_nats(fit: &[usize], score: &[usize], vocab_size: usize) -> f64 {
    let mut counts = vec![0usize; vocab_size];
    for &c in fit {
        counts[c] += 1;
    }
    let total = fit.len() as f64;
    let nats: f64 = score
        .iter()
        .map(|&c| -(counts[c].max(1) as f64 / total).ln())
        .sum();
    nats / score.len() as f64
}

/// `text` with every line longer than `width` characters broken at spaces (a sample is printed on one
/// line otherwise); each break replaces one space, so no other character is lost.
fn wrap(text: &str, width: usize) -> String {
    let mut out = Vec::new();
    for line in text.split('\n') {
        let mut current: Option<String> = None;
        for word in line.split(' ') {
            match current.as_mut() {
                None => current = Some(word.to_string()),
                Some(c) if c.chars().count() + 1 + word.chars().count() <= width => {
                    c.push(' ');
                    c.push_str(word);
                }
                Some(c) => {
                    out.push(std::mem::take(c));
                    c.push_str(word);
                }
            }
        }
        out.push(current.unwrap_or_default());
    }
    out.join("\n")
}

/// For each feature present in a text: its name, the unit most correlated with it, and the correlation.
type BestUnits = Vec<(&'static str, (usize, f64))>;

/// Runs `model` over `text`, prints the four units of the top layer most correlated with each feature,
/// and returns every unit's activations `[unit][character]` and the best unit of each feature present.
fn unit_report(model: &CharLm, text: &str) -> (Vec<Vec<f64>>, BestUnits) {
    let chars: Vec<char> = text.chars().collect();
    let trace = model.trace(text).expect("the text is in the vocabulary"); // one state per character
    let acts: Vec<Vec<f64>> = (0..model.config.hidden_size)
        .map(|u| {
            trace
                .iter()
                .map(|layers| layers.last().unwrap().h[[0, u]])
                .collect()
        })
        .collect();
    println!("  ({})", text_stats(text));
    let mut best = Vec::new();
    for (name, feature) in features(&chars) {
        let mut corr: Vec<(usize, f64)> = (0..acts.len())
            .filter_map(|u| pearson(&acts[u], &feature).map(|r| (u, r)))
            .collect();
        if corr.is_empty() {
            println!("  {name:<18} not present in this text");
            continue;
        }
        corr.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
        let top: Vec<String> = corr[..4]
            .iter()
            .map(|(u, r)| format!("unit {u:>3} ({r:+.2})"))
            .collect();
        println!("  {name:<18} {}", top.join("  "));
        best.push((name, corr[0]));
    }
    (acts, best)
}

/// Writes 560 characters of `text` from the first occurrence of `from`, coloured by the best unit for
/// quotes and the best unit for words.
fn draw_passage(
    text: &str,
    from: &str,
    acts: &[Vec<f64>],
    best: &BestUnits,
    path: &std::path::Path,
) {
    let chars: Vec<char> = text.chars().collect();
    let start = text.find(from).unwrap_or(0);
    let offset = text[..start].chars().count();
    let n = 560.min(chars.len() - offset);
    let panels: Vec<(String, Vec<f64>)> = best
        .iter()
        .filter(|(name, _)| *name == "inside quotes" || *name == "inside a word")
        .map(|(name, (u, r))| {
            (
                format!("unit {u} (r = {r:+.2} with {name})"),
                acts[*u][offset..offset + n].to_vec(),
            )
        })
        .collect();
    std::fs::write(path, text_heatmap(&chars[offset..offset + n], &panels))
        .expect("cannot write the neuron figure");
    println!(
        "wrote {} (characters {offset}..{})",
        path.display(),
        offset + n
    );
}

/// An SVG of `text`, wrapped at 80 columns, once per panel: each character on a background coloured by
/// that panel's activation after reading it. A line break is drawn as `↵`.
fn text_heatmap(text: &[char], panels: &[(String, Vec<f64>)]) -> String {
    const COLS: usize = 80;
    const CW: f64 = 8.4; // character cell width
    const LH: f64 = 18.0; // line height
                          // (row, column) of every character
    let mut cells = Vec::with_capacity(text.len());
    let (mut row, mut col) = (0usize, 0usize);
    for &c in text {
        if col == COLS {
            (row, col) = (row + 1, 0);
        }
        cells.push((row, col));
        if c == '\n' {
            (row, col) = (row + 1, 0);
        } else {
            col += 1;
        }
    }
    let rows = row + 1;
    let panel_h = 26.0 + rows as f64 * LH + 14.0;
    let width = 16.0 + COLS as f64 * CW + 16.0;
    let height = panels.len() as f64 * panel_h + 30.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" \
         viewBox=\"0 0 {width:.0} {height:.0}\" font-family=\"monospace\" font-size=\"13\">\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>"
    );
    for (p, (title, acts)) in panels.iter().enumerate() {
        let top = p as f64 * panel_h;
        let _ = write!(
            svg,
            "<text x=\"16\" y=\"{:.1}\" font-family=\"sans-serif\" font-size=\"14\">{}</text>",
            top + 18.0,
            escape(title)
        );
        for (i, (&c, &(r, k))) in text.iter().zip(&cells).enumerate() {
            let (x, y) = (16.0 + k as f64 * CW, top + 26.0 + r as f64 * LH);
            let _ = write!(
                svg,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{CW}\" height=\"{LH}\" fill=\"{}\"/>",
                colour(acts[i])
            );
            let shown = if c == '\n' { '↵' } else { c };
            if shown != ' ' {
                let _ = write!(
                    svg,
                    "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                    x + CW / 2.0,
                    y + 13.0,
                    escape(&shown.to_string())
                );
            }
        }
    }
    // the colour scale
    let y = panels.len() as f64 * panel_h + 4.0;
    let _ = write!(
        svg,
        "<g font-family=\"sans-serif\" font-size=\"12\"><text x=\"16\" y=\"{:.1}\">activation:</text>",
        y + 13.0
    );
    for (j, v) in [-1.0, -0.5, 0.0, 0.5, 1.0].iter().enumerate() {
        let x = 100.0 + j as f64 * 52.0;
        let _ = write!(
            svg,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"48\" height=\"18\" fill=\"{}\" stroke=\"#999\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{v:+.1}</text>",
            colour(*v),
            x + 24.0,
            y + 13.0
        );
    }
    svg.push_str("</g></svg>\n");
    svg
}

/// Escapes the characters XML reserves.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
