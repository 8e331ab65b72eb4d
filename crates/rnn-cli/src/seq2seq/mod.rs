//! `rnn seq2seq train|translate|eval`: encoder-decoder models (chapters 10 and 11) on generated tasks or
//! on any TSV of source/target pairs.
//!
//! ```text
//! rnn seq2seq train --data @dates --attention --out runs/dates
//! rnn seq2seq translate --checkpoint runs/dates/best.safetensors "tuesday 10 july 2007"
//! rnn seq2seq eval --checkpoint runs/dates/best.safetensors --beam 5
//! rnn seq2seq train --data cmudict.tsv --tgt-split words --bidirectional --attention --out runs/g2p
//! ```

mod ckpt;
pub mod data;
mod train;

use std::io::BufRead as _;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use rnn::models::seq2seq::tokens::{Split, Vocab};
use rnn::models::seq2seq::{BeamConfig, Hypothesis, LengthPenalty, Seq2Seq};
use serde::{Deserialize, Serialize};

use data::{Part, Scores};

/// `rnn seq2seq ...`.
#[derive(clap::Args)]
pub struct Seq2SeqArgs {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Train an encoder-decoder on a generated task (@reversal, @addition, @dates) or a TSV of pairs.
    Train(train::TrainArgs),
    /// Decode sources (arguments, or one per line on stdin) with a trained model.
    Translate(TranslateArgs),
    /// Score a trained model on a part of its data, or on another TSV: exact match and token errors.
    Eval(EvalArgs),
}

/// How strings are cut into symbols.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
pub enum SplitArg {
    /// Every character is a symbol.
    Chars,
    /// Symbols are separated by whitespace.
    Words,
}

impl std::fmt::Display for SplitArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SplitArg::Chars => "chars",
            SplitArg::Words => "words",
        })
    }
}

/// Decoding flags shared by `translate` and `eval`.
#[derive(clap::Args, Clone, Copy)]
struct DecodeArgs {
    /// Beam width k (1 = greedy decoding).
    #[arg(long, default_value_t = 1)]
    beam: usize,
    /// Length normalisation exponent α of the beam's score log P / |y|^α (10.9); 0 ranks by log P.
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.7)]
    alpha: f64,
    /// Use GNMT's length penalty ((5 + |y|) / 6)^α (10.10) instead of |y|^α.
    #[arg(long)]
    gnmt: bool,
    /// The most symbols an output may have (default: twice the longest training target, plus 10).
    #[arg(long)]
    max_len: Option<usize>,
    /// Threads to decode on (1 or 2).
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

impl DecodeArgs {
    fn validate(&self) -> Result<()> {
        if self.beam == 0 {
            bail!("--beam must be at least 1 (1 is greedy decoding)");
        }
        if !(self.alpha >= 0.0 && self.alpha.is_finite()) {
            bail!("--alpha must be a number ≥ 0, got {}", self.alpha);
        }
        if self.max_len == Some(0) {
            bail!("--max-len must be at least 1");
        }
        if !(1..=2).contains(&self.threads) {
            bail!("--threads must be 1 or 2, got {}", self.threads);
        }
        Ok(())
    }

    fn beam_config(&self, max_len: usize) -> BeamConfig {
        BeamConfig {
            width: self.beam,
            max_len,
            length_penalty: if self.gnmt {
                LengthPenalty::Gnmt(self.alpha)
            } else {
                LengthPenalty::Power(self.alpha)
            },
        }
    }

    fn describe(&self) -> String {
        if self.beam == 1 {
            "greedy".into()
        } else {
            format!(
                "beam {}, {} α = {}",
                self.beam,
                if self.gnmt { "GNMT penalty" } else { "|y|^α," },
                self.alpha
            )
        }
    }
}

#[derive(clap::Args)]
struct TranslateArgs {
    /// Checkpoint of `rnn seq2seq train` (a run's best.safetensors or last.safetensors).
    #[arg(long)]
    checkpoint: PathBuf,
    /// Sources to decode; with none, one per line is read from stdin.
    inputs: Vec<String>,
    /// Print the n best hypotheses of the beam, with their log-probabilities and scores.
    #[arg(long, default_value_t = 1)]
    nbest: usize,
    #[command(flatten)]
    decode: DecodeArgs,
}

#[derive(clap::Args)]
struct EvalArgs {
    /// Checkpoint of `rnn seq2seq train`.
    #[arg(long)]
    checkpoint: PathBuf,
    /// Data to score (default: the data the model was trained on): a generated task or a TSV.
    #[arg(long)]
    data: Option<String>,
    /// Which part: test, val, train, or all (every pair; needed for a TSV the model was not trained on).
    #[arg(long, value_enum, default_value_t = Part::Test)]
    part: Part,
    /// Score only the first N sources of the part.
    #[arg(long)]
    limit: Option<usize>,
    /// Print every source whose output is wrong, with the output and the references.
    #[arg(long)]
    show_errors: bool,
    #[command(flatten)]
    decode: DecodeArgs,
}

/// Runs `rnn seq2seq ...`.
pub fn run(a: Seq2SeqArgs) -> Result<()> {
    match a.command {
        Command::Train(t) => train::run(t),
        Command::Translate(t) => translate(t),
        Command::Eval(e) => eval(e),
    }
}

/// `f` applied to the two halves of `items` (on two threads if `threads` ≥ 2), results in order.
fn in_halves<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&[T]) -> R + Sync,
) -> Vec<R> {
    if items.is_empty() {
        return Vec::new();
    }
    let halves: Vec<&[T]> = items.chunks(items.len().div_ceil(2)).collect();
    if threads < 2 || halves.len() < 2 {
        return halves.into_iter().map(&f).collect();
    }
    std::thread::scope(|s| {
        let f = &f;
        let handles: Vec<_> = halves.into_iter().map(|h| s.spawn(move || f(h))).collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a decoding thread panicked"))
            .collect()
    })
}

/// Decodes every source: the best hypothesis of a beam of `config.width` (greedy when it is 1).
fn decode_all(
    model: &Seq2Seq,
    srcs: &[Vec<usize>],
    config: &BeamConfig,
    threads: usize,
) -> Vec<Hypothesis> {
    in_halves(srcs, threads, |part| {
        part.iter()
            .map(|src| {
                if config.width == 1 {
                    model.greedy(src, config.max_len).hypothesis
                } else {
                    model.beam_search(src, config).swap_remove(0)
                }
            })
            .collect::<Vec<_>>()
    })
    .into_iter()
    .flatten()
    .collect()
}

/// Greedy outputs (ids) for each group's source.
fn decode_greedy(
    model: &Seq2Seq,
    src_vocab: &Vocab,
    groups: &[(String, Vec<String>)],
    max_len: usize,
    threads: usize,
) -> Vec<Vec<usize>> {
    let srcs: Vec<Vec<usize>> = groups.iter().map(|(s, _)| src_vocab.encode(s)).collect();
    decode_all(model, &srcs, &BeamConfig::new(1, max_len), threads)
        .into_iter()
        .map(|h| h.tokens)
        .collect()
}

/// The symbols of a target string under the vocabulary's split.
fn symbols(text: &str, split: Split) -> Vec<String> {
    match split {
        Split::Chars => text.chars().map(String::from).collect(),
        Split::Whitespace => text.split_whitespace().map(String::from).collect(),
    }
}

/// Exact match and token error rate of decoded ids against each group's references.
fn score_outputs(
    decoded: &[Vec<usize>],
    groups: &[(String, Vec<String>)],
    tgt_vocab: &Vocab,
) -> Scores {
    let split = tgt_vocab.split();
    let outputs: Vec<Vec<String>> = decoded
        .iter()
        .map(|ids| symbols(&tgt_vocab.decode(ids), split))
        .collect();
    let refs: Vec<Vec<Vec<String>>> = groups
        .iter()
        .map(|(_, rs)| rs.iter().map(|r| symbols(r, split)).collect())
        .collect();
    data::score(&outputs, &refs)
}

fn translate(a: TranslateArgs) -> Result<()> {
    a.decode.validate()?;
    if a.nbest == 0 || a.nbest > a.decode.beam {
        bail!(
            "--nbest must be between 1 and the beam width ({}), got {}",
            a.decode.beam,
            a.nbest
        );
    }
    let loaded = ckpt::load(&a.checkpoint)?;
    let max_len = a.decode.max_len.unwrap_or(loaded.progress.max_len());
    let config = a.decode.beam_config(max_len);
    let inputs: Vec<String> = if a.inputs.is_empty() {
        let mut lines = Vec::new();
        for line in std::io::stdin().lock().lines() {
            let line = line.map_err(|e| anyhow::anyhow!("cannot read stdin: {e}"))?;
            if !line.trim().is_empty() {
                lines.push(line);
            }
        }
        lines
    } else {
        a.inputs.clone()
    };
    if inputs.is_empty() {
        bail!("nothing to translate: give sources as arguments or one per line on stdin");
    }
    for input in &inputs {
        let src = loaded.src_vocab.encode(input);
        if src.is_empty() {
            bail!("the source {input:?} has no symbols");
        }
        let unknown = src
            .iter()
            .filter(|&&id| id == rnn::models::seq2seq::tokens::UNK)
            .count();
        if unknown > 0 {
            eprintln!(
                "warning: {unknown} symbol(s) of {input:?} are not in the model's source vocabulary and are read as <unk>"
            );
        }
        let hyps = if a.decode.beam == 1 {
            vec![loaded.model.greedy(&src, max_len).hypothesis]
        } else {
            loaded.model.beam_search(&src, &config)
        };
        if a.nbest == 1 {
            println!("{}", loaded.tgt_vocab.decode(&hyps[0].tokens));
        } else {
            println!("{input}");
            for (i, h) in hyps.iter().take(a.nbest).enumerate() {
                println!(
                    "  {}. {}  (log P {:.4}, score {:.4}{})",
                    i + 1,
                    loaded.tgt_vocab.decode(&h.tokens),
                    h.log_prob,
                    h.score,
                    if h.ended { "" } else { ", cut at --max-len" }
                );
            }
        }
    }
    Ok(())
}

fn eval(a: EvalArgs) -> Result<()> {
    a.decode.validate()?;
    if a.limit == Some(0) {
        bail!("--limit must be at least 1");
    }
    let loaded = ckpt::load(&a.checkpoint)?;
    let mut spec = loaded.args.data_spec();
    if let Some(d) = &a.data {
        spec.data = d.clone();
    }
    let not_trained_on = || {
        anyhow::anyhow!(
            "--data {} is not the data this model was trained on, so it has no {} part of this model's split; \
             use --part all to score every pair",
            spec.data,
            a.part
        )
    };
    let pairs = if let Some(task) = spec.data.strip_prefix('@') {
        let splits = spec.load().with_context(|| format!("--data @{task}"))?;
        if splits.fingerprint != loaded.progress.data_fingerprint && a.part != Part::All {
            return Err(not_trained_on());
        }
        splits.part(a.part)
    } else {
        let text = crate::text::read_text(std::path::Path::new(&spec.data))?;
        let same =
            format!("{:016x}", crate::text::fingerprint(&text)) == loaded.progress.data_fingerprint;
        match (a.part, same) {
            // every pair of a TSV: no split needed (it may be a separate test file of any size)
            (Part::All, _) => data::parse_tsv(&text, &spec.data)?,
            (_, false) => return Err(not_trained_on()),
            (part, true) => spec.load()?.part(part),
        }
    };
    let mut groups = data::group_by_source(&pairs);
    if let Some(n) = a.limit {
        groups.truncate(n);
    }
    if groups.is_empty() {
        bail!("the {} part of {} is empty", a.part, spec.data);
    }
    let max_len = a.decode.max_len.unwrap_or(loaded.progress.max_len());
    let config = a.decode.beam_config(max_len);
    let started = Instant::now();
    let srcs: Vec<Vec<usize>> = groups
        .iter()
        .map(|(s, _)| loaded.src_vocab.encode(s))
        .collect();
    let hyps = decode_all(&loaded.model, &srcs, &config, a.decode.threads);
    let decoded: Vec<Vec<usize>> = hyps.into_iter().map(|h| h.tokens).collect();
    let scores = score_outputs(&decoded, &groups, &loaded.tgt_vocab);
    let pairs: Vec<(Vec<usize>, Vec<usize>)> = groups
        .iter()
        .flat_map(|(s, rs)| {
            rs.iter()
                .map(|r| (loaded.src_vocab.encode(s), loaded.tgt_vocab.encode(r)))
        })
        .collect();
    let loss = train::dataset_loss(&loaded.model, &pairs, a.decode.threads);
    if a.show_errors {
        for ((src, refs), out) in groups.iter().zip(&decoded) {
            let got = loaded.tgt_vocab.decode(out);
            if !refs.contains(&got) {
                println!("{src}\t{got}\texpected {}", refs.join(" | "));
            }
        }
    }
    println!(
        "{} {} part: {} sources ({} pairs); exact match {:.2} % (sequence error rate {:.2} %), \
         token error rate {:.2} %, loss {:.4} nats/symbol; {} decoding in {:.1} s",
        spec.data,
        a.part,
        scores.n,
        pairs.len(),
        100.0 * scores.exact,
        100.0 * (1.0 - scores.exact),
        100.0 * scores.token_error,
        loss,
        a.decode.describe(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
