//! `rnn seq2seq train`: teacher-forced training of an encoder-decoder on a task or a TSV, with evaluation
//! (validation loss, greedy exact match and token error rate), samples, plots, checkpoints, exact resume
//! and a divergence guard, like `rnn train`.
//!
//! A run directory holds `last.safetensors` (written at every evaluation), `best.safetensors` (the best
//! validation exact match so far, ties to the lower validation loss), `metrics.jsonl` (one JSON line per
//! evaluation), `loss.svg` and `samples.txt`.
//!
//! Each batch is cut into two fixed halves whose gradients are computed on two threads and combined,
//! weighted by their target tokens, into the gradient of the whole batch's loss (10.5). The halves do
//! not depend on the number of threads, so a run gives the same numbers on one core or two.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rand::seq::SliceRandom;
use rnn::cells::CellKind;
use rnn::models::seq2seq::tokens::{Seq2SeqBatch, Split, Vocab};
use rnn::models::seq2seq::{Seq2Seq, Seq2SeqConfig};
use rnn::optim::{self, Optimizer};
use rnn::params::Parameters;
use serde::{Deserialize, Serialize};

use super::data::{DataSpec, Splits};
use super::{ckpt, decode_greedy, SplitArg};

/// Flags of `rnn seq2seq train`.
#[derive(clap::Args, Clone, Debug, Serialize, Deserialize)]
pub struct TrainArgs {
    /// Pairs to learn: @reversal, @addition, @dates (generated), or a TSV file of source<TAB>target lines.
    #[arg(long, default_value = "@dates")]
    pub data: String,
    /// How sources are cut into symbols: chars, or words (separated by spaces).
    #[arg(long, value_enum, default_value_t = SplitArg::Chars)]
    pub src_split: SplitArg,
    /// How targets are cut into symbols: chars, or words (e.g. phonemes separated by spaces).
    #[arg(long, value_enum, default_value_t = SplitArg::Chars)]
    pub tgt_split: SplitArg,
    /// Training pairs generated for a task (ignored for a TSV).
    #[arg(long, default_value_t = 20_000)]
    pub train_size: usize,
    /// Pairs generated for each of the validation and test parts of a task (ignored for a TSV).
    #[arg(long, default_value_t = 1000)]
    pub held_out_size: usize,
    /// Fraction of a TSV's distinct sources held out for validation.
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.05)]
    pub val_frac: f64,
    /// Fraction of a TSV's distinct sources held out for testing.
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.05)]
    pub test_frac: f64,
    /// Seed of a task's pairs or of a TSV's split (separate from --seed, so models share a split).
    #[arg(long, default_value_t = 0)]
    pub split_seed: u64,
    /// Recurrent cell of the encoder and the decoder: rnn_tanh, rnn_relu, lstm or gru.
    #[arg(long, default_value = "lstm")]
    pub model: String,
    /// Hidden units per layer (encoder and decoder).
    #[arg(long, default_value_t = 128)]
    pub hidden: usize,
    /// Layers of the encoder, and of the decoder.
    #[arg(long, default_value_t = 1)]
    pub layers: usize,
    /// Embedding size of the source and target symbols.
    #[arg(long, default_value_t = 64)]
    pub embed: usize,
    /// A bidirectional encoder.
    #[arg(long)]
    pub bidirectional: bool,
    /// Bahdanau attention over the encoder's outputs.
    #[arg(long)]
    pub attention: bool,
    /// Attention size A (default: --hidden).
    #[arg(long, requires = "attention")]
    pub attn_size: Option<usize>,
    /// Pairs per batch.
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Adam's learning rate [default: 0.002]; on --resume, a new value replaces the run's.
    #[arg(long, allow_negative_numbers = true)]
    pub lr: Option<f64>,
    /// Multiply the learning rate by this every --decay-every steps (1 = constant), as `rnn train` does.
    #[arg(long, allow_negative_numbers = true, default_value_t = 1.0)]
    #[serde(default = "no_decay")]
    pub lr_decay: f64,
    /// Steps between learning-rate decays.
    #[arg(long, default_value_t = 1000)]
    #[serde(default = "default_decay_every")]
    pub decay_every: usize,
    /// Clip gradients to this global L2 norm (0 = no clipping).
    #[arg(long, allow_negative_numbers = true, default_value_t = 5.0)]
    pub clip: f64,
    /// Stop after this many steps (default: 3000, or --epochs passes over the training pairs).
    #[arg(long)]
    pub max_steps: Option<usize>,
    /// Stop after this many passes over the training pairs.
    #[arg(long, conflicts_with = "max_steps")]
    pub epochs: Option<usize>,
    /// Steps between evaluations (validation scores, samples, checkpoint, plot).
    #[arg(long)]
    pub eval_every: Option<usize>,
    /// Validation sources decoded (greedily) at each evaluation; the loss uses every validation pair.
    #[arg(long, default_value_t = 500)]
    pub eval_size: usize,
    /// Threads for the two halves of each batch (1 or 2; the numbers do not depend on it).
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Random seed of the initialisation and the batch order: the same seed and flags give identical runs.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Run directory (default: runs/seq2seq-N, the first that does not exist).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the run in --out from its last.safetensors (settings come from the checkpoint; --max-steps,
    /// --epochs, --eval-every, --lr and --threads may be changed).
    #[arg(long)]
    pub resume: bool,
    /// Start afresh in an --out directory that already holds a run, replacing it.
    #[arg(long, conflicts_with = "resume")]
    pub force: bool,
}

/// Progress saved in checkpoints so `--resume` continues exactly.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Progress {
    pub step: usize,
    /// Passes over the training pairs completed, and the position in the current pass's order.
    pub epoch: usize,
    pub pos: usize,
    pub best_exact: f64,
    pub best_val_loss: f64,
    pub initial_loss: Option<f64>,
    pub data_fingerprint: String,
    /// The longest training target, in symbols: decoding stops at twice that plus 10.
    pub max_target_len: usize,
}

impl Progress {
    /// The decoding budget: the most symbols an output may have.
    pub fn max_len(&self) -> usize {
        2 * self.max_target_len + 10
    }
}

const DEFAULT_STEPS: usize = 3000;

/// Checkpoints written before `--lr-decay` existed trained at a constant rate.
fn no_decay() -> f64 {
    1.0
}

fn default_decay_every() -> usize {
    1000
}
const DEFAULT_LR: f64 = 2e-3;

impl TrainArgs {
    /// How the data is made and split.
    pub fn data_spec(&self) -> DataSpec {
        DataSpec {
            data: self.data.clone(),
            train_size: self.train_size,
            held_out_size: self.held_out_size,
            val_frac: self.val_frac,
            test_frac: self.test_frac,
            split_seed: self.split_seed,
        }
    }

    fn validate(&self) -> Result<()> {
        self.model.parse::<CellKind>().context("--model")?;
        self.data_spec().validate()?;
        if self.hidden == 0 || self.layers == 0 || self.embed == 0 || self.attn_size == Some(0) {
            bail!("--hidden, --layers, --embed and --attn-size must be at least 1");
        }
        if self.batch == 0 || self.eval_size == 0 {
            bail!("--batch and --eval-size must be at least 1");
        }
        if !(1..=2).contains(&self.threads) {
            bail!(
                "--threads must be 1 or 2 (a batch is cut in two halves), got {}",
                self.threads
            );
        }
        if let Some(lr) = self.lr {
            if !(lr > 0.0 && lr.is_finite()) {
                bail!("--lr must be a positive number, got {lr}");
            }
        }
        if !(self.lr_decay > 0.0 && self.lr_decay <= 1.0) {
            bail!("--lr-decay must be in (0, 1], got {}", self.lr_decay);
        }
        if self.decay_every == 0 {
            bail!("--decay-every must be at least 1");
        }
        if !(self.clip >= 0.0 && self.clip.is_finite()) {
            bail!(
                "--clip must be ≥ 0 (0 turns clipping off), got {}",
                self.clip
            );
        }
        if self.max_steps == Some(0) || self.epochs == Some(0) || self.eval_every == Some(0) {
            bail!("--max-steps, --epochs and --eval-every must be at least 1");
        }
        Ok(())
    }
}

fn default_out() -> PathBuf {
    crate::train::first_free_run_dir("seq2seq")
}

/// One line of metrics.jsonl.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Metric {
    step: usize,
    epoch: usize,
    train_loss: f64,
    val_loss: f64,
    val_exact: f64,
    val_token_error: f64,
    lr: f64,
    pairs_per_sec: f64,
    elapsed_sec: f64,
}

/// Runs `rnn seq2seq train`.
pub fn run(cli: TrainArgs) -> Result<()> {
    cli.validate()?;
    let out = match (&cli.out, cli.resume) {
        (Some(o), _) => o.clone(),
        (None, true) => bail!("--resume needs --out DIR, the run directory to continue"),
        (None, false) => default_out(),
    };
    let last_path = out.join("last.safetensors");
    let best_path = out.join("best.safetensors");
    let mut resumed = None;
    let args = if cli.resume {
        if !last_path.exists() {
            bail!(
                "--resume: there is no checkpoint to continue from ({} does not exist)",
                last_path.display()
            );
        }
        let loaded = ckpt::load(&last_path)?;
        let mut args = loaded.args.clone();
        if cli.max_steps.is_some() || cli.epochs.is_some() {
            args.max_steps = cli.max_steps;
            args.epochs = cli.epochs;
        }
        if cli.eval_every.is_some() {
            args.eval_every = cli.eval_every;
        }
        if cli.lr.is_some() {
            args.lr = cli.lr;
        }
        args.threads = cli.threads;
        args.out = Some(out.clone());
        resumed = Some(loaded);
        args
    } else {
        crate::train::prepare_fresh_run(&out, cli.force)?;
        let mut a = cli.clone();
        a.out = Some(out.clone());
        a
    };

    // ---- data and vocabularies
    let splits: Splits = args.data_spec().load()?;
    let (src_vocab, tgt_vocab) = match &resumed {
        Some(l) => (l.src_vocab.clone(), l.tgt_vocab.clone()),
        None => (
            Vocab::build(splits.train.iter().map(|p| &p.0), args.src_split.into()),
            Vocab::build(splits.train.iter().map(|p| &p.1), args.tgt_split.into()),
        ),
    };
    let encode = |pairs: &[(String, String)]| -> Vec<(Vec<usize>, Vec<usize>)> {
        pairs
            .iter()
            .map(|(s, t)| (src_vocab.encode(s), tgt_vocab.encode(t)))
            .collect()
    };
    let train = encode(&splits.train);
    let val = encode(&splits.val);
    if let Some(i) = train.iter().position(|(s, _)| s.is_empty()) {
        bail!(
            "--data {}: the source {:?} has no symbols under --src-split {}",
            args.data,
            splits.train[i].0,
            args.src_split
        );
    }
    let max_target_len = train.iter().map(|(_, t)| t.len()).max().unwrap_or(1);
    let batches_per_epoch = train.len().div_ceil(args.batch);
    let total_steps = match (args.max_steps, args.epochs) {
        (Some(s), _) => s,
        (None, Some(e)) => e * batches_per_epoch,
        (None, None) => DEFAULT_STEPS,
    };
    let eval_every = args
        .eval_every
        .unwrap_or_else(|| (total_steps / 10).clamp(1, 500));

    // ---- model, optimiser, progress
    let base_lr = args.lr.unwrap_or(DEFAULT_LR);
    let mut opt: Box<dyn Optimizer> = Box::new(optim::Adam::new(base_lr));
    let (mut model, mut progress) = match resumed {
        Some(l) => {
            if l.progress.data_fingerprint != splits.fingerprint {
                bail!(
                    "--resume: the data {} is not what this run was trained on (its contents changed)",
                    args.data
                );
            }
            opt.load_state_for(&l.model, l.optim)
                .with_context(|| format!("{}: optimiser state", last_path.display()))?;
            (l.model, l.progress)
        }
        None => {
            let kind: CellKind = args.model.parse().context("--model")?;
            let attn = args
                .attention
                .then(|| args.attn_size.unwrap_or(args.hidden));
            let config = Seq2SeqConfig::new(
                kind,
                src_vocab.len(),
                tgt_vocab.len(),
                args.embed,
                args.hidden,
            )
            .layers(args.layers)
            .bidirectional(args.bidirectional)
            .attention(attn);
            let model = Seq2Seq::new(&config, &mut rnn::init::rng(args.seed))
                .context("invalid model settings")?;
            let p = Progress {
                step: 0,
                epoch: 0,
                pos: 0,
                best_exact: -1.0,
                best_val_loss: f64::INFINITY,
                initial_loss: None,
                data_fingerprint: splits.fingerprint.clone(),
                max_target_len,
            };
            (model, p)
        }
    };
    if progress.step >= total_steps {
        bail!(
            "--resume: the run is already at step {} of {total_steps}; give a larger --max-steps or --epochs",
            progress.step
        );
    }
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let config = model.config();
    println!(
        "{} seq2seq, H = {} x {} layer(s){}{} ({} parameters) on {}: {} train / {} validation / {} test pairs; \
         vocabularies {} source, {} target symbols; {} steps of {} pairs, Adam lr {}{}, run dir {}",
        config.cell.kind,
        config.hidden_size,
        config.num_layers,
        if config.bidirectional { ", bidirectional encoder" } else { "" },
        match config.attention {
            Some(a) => format!(", attention A = {a}"),
            None => String::new(),
        },
        model.num_params(),
        args.data,
        splits.train.len(),
        splits.val.len(),
        splits.test.len(),
        src_vocab.len(),
        tgt_vocab.len(),
        total_steps,
        args.batch,
        base_lr,
        if args.lr_decay < 1.0 {
            format!(" x {} every {} steps", args.lr_decay, args.decay_every)
        } else {
            String::new()
        },
        out.display()
    );
    if progress.step > 0 {
        println!("resuming at step {}", progress.step);
    }

    let pb = ProgressBar::with_draw_target(
        Some(total_steps as u64),
        ProgressDrawTarget::stderr_with_hz(4),
    );
    pb.set_style(
        ProgressStyle::with_template(
            "{bar:30.cyan/blue} step {pos}/{len} {msg} [{elapsed_precise} < ETA {eta_precise}]",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    pb.set_position(progress.step as u64);

    let metrics_path = out.join("metrics.jsonl");
    let mut history: Vec<Metric> = crate::train::read_jsonl(&metrics_path);
    let (mut train_sum, mut train_count) = (0.0, 0usize);
    let started = Instant::now();
    let mut pairs_done = 0usize;
    let val_groups = super::data::group_by_source(&splits.val);
    let mut order = epoch_order(train.len(), args.seed, progress.epoch);

    while progress.step < total_steps {
        if progress.pos >= order.len() {
            progress.epoch += 1;
            progress.pos = 0;
            order = epoch_order(train.len(), args.seed, progress.epoch);
        }
        let end = (progress.pos + args.batch).min(order.len());
        let rows: Vec<&(Vec<usize>, Vec<usize>)> = order[progress.pos..end]
            .iter()
            .map(|&i| &train[i])
            .collect();
        let lr = base_lr
            * args
                .lr_decay
                .powi((progress.step / args.decay_every) as i32);
        opt.set_lr(lr);
        let (loss, mut grads) = batch_grads(&model, &rows, args.threads);
        let norm = if args.clip > 0.0 {
            optim::clip_by_global_norm(&mut grads, args.clip)
        } else {
            optim::global_norm(&grads)
        };
        let initial = *progress.initial_loss.get_or_insert(loss);
        if !loss.is_finite() || !norm.is_finite() || loss > 3.0 * initial {
            pb.abandon();
            let kept = if last_path.exists() {
                format!(
                    "the last good checkpoint is kept in {}",
                    last_path.display()
                )
            } else {
                "no checkpoint had been saved yet".to_string()
            };
            bail!(
                "training diverged at step {}: loss {loss:.4} (initial {initial:.4}, limit 3x), gradient norm {norm:.3e}; {kept}. Try a smaller --lr (now {base_lr}) or a tighter --clip",
                progress.step + 1
            );
        }
        opt.step(&mut model, &grads);
        progress.step += 1;
        progress.pos = end;
        train_sum += loss;
        train_count += 1;
        pairs_done += rows.len();
        let pps = pairs_done as f64 / started.elapsed().as_secs_f64().max(1e-9);
        pb.set_position(progress.step as u64);
        pb.set_message(format!(
            "loss {loss:.3} | val exact {} | {pps:.0} pairs/s",
            history
                .last()
                .map(|m| format!("{:.1} %", 100.0 * m.val_exact))
                .unwrap_or_else(|| "-".into())
        ));

        if progress.step % eval_every == 0 || progress.step == total_steps {
            let val_loss = dataset_loss(&model, &val, args.threads);
            let shown = &val_groups[..val_groups.len().min(args.eval_size)];
            let decoded =
                decode_greedy(&model, &src_vocab, shown, progress.max_len(), args.threads);
            let scores = super::score_outputs(&decoded, shown, &tgt_vocab);
            let train_loss = train_sum / train_count as f64;
            (train_sum, train_count) = (0.0, 0);
            let m = Metric {
                step: progress.step,
                epoch: progress.epoch,
                train_loss,
                val_loss,
                val_exact: scores.exact,
                val_token_error: scores.token_error,
                lr,
                pairs_per_sec: pps,
                elapsed_sec: started.elapsed().as_secs_f64(),
            };
            let mut report = format!(
                "step {:>6}  epoch {}  train {:.4}  val {:.4} nats/symbol  exact {:.2} %  token errors {:.2} % ({} sources)  {:.0} pairs/s",
                m.step,
                m.epoch,
                m.train_loss,
                m.val_loss,
                100.0 * m.val_exact,
                100.0 * m.val_token_error,
                scores.n,
                pps
            );
            for ((src, refs), out) in shown.iter().zip(&decoded).take(4) {
                let got = tgt_vocab.decode(out);
                let mark = if refs.contains(&got) {
                    "✓".to_string()
                } else {
                    format!("✗ (expected {})", refs[0])
                };
                report.push_str(&format!("\n    {src}  →  {got}  {mark}"));
            }
            pb.suspend(|| println!("{report}"));
            crate::train::append_line(&metrics_path, &serde_json::to_string(&m)?)?;
            crate::train::append_line(&out.join("samples.txt"), &report)?;
            history.push(m);
            plot(&history, &out.join("loss.svg"))?;
            let is_best =
                (scores.exact, -val_loss) > (progress.best_exact, -progress.best_val_loss);
            if is_best {
                progress.best_exact = scores.exact;
                progress.best_val_loss = val_loss;
            }
            let saved = ckpt::Saved {
                model: &model,
                src_vocab: &src_vocab,
                tgt_vocab: &tgt_vocab,
                optim: opt.state(),
                args: &args,
                progress: &progress,
            };
            saved.save(&last_path)?;
            if is_best {
                saved.save(&best_path)?;
            }
        }
    }
    pb.finish_and_clear();
    println!(
        "done: {} steps in {:.1} s; best validation exact match {:.2} % (loss {:.4}); checkpoints in {}",
        progress.step,
        started.elapsed().as_secs_f64(),
        100.0 * progress.best_exact,
        progress.best_val_loss,
        out.display()
    );
    println!(
        "next: rnn seq2seq eval --checkpoint {} --beam 5   (or rnn seq2seq translate --checkpoint ... TEXT)",
        best_path.display()
    );
    Ok(())
}

/// The order of the training pairs in pass `epoch` (a permutation seeded by the run's seed and the pass).
fn epoch_order(n: usize, seed: u64, epoch: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mix = (epoch as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    order.shuffle(&mut rnn::init::rng(seed ^ mix));
    order
}

/// The loss (10.5) of a batch and its gradient, from its two halves computed on `threads` threads and
/// combined with weights n_half / n (their shares of the batch's target tokens).
fn batch_grads(
    model: &Seq2Seq,
    rows: &[&(Vec<usize>, Vec<usize>)],
    threads: usize,
) -> (f64, Seq2Seq) {
    let halves: Vec<Seq2SeqBatch> = rows
        .chunks(rows.len().div_ceil(2))
        .map(|part| {
            let src: Vec<Vec<usize>> = part.iter().map(|r| r.0.clone()).collect();
            let tgt: Vec<Vec<usize>> = part.iter().map(|r| r.1.clone()).collect();
            Seq2SeqBatch::new(&src, &tgt)
        })
        .collect();
    let results: Vec<(f64, Seq2Seq)> = if threads >= 2 && halves.len() == 2 {
        std::thread::scope(|s| {
            let handles: Vec<_> = halves
                .iter()
                .map(|b| s.spawn(move || model.loss_and_grads(b)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a gradient thread panicked"))
                .collect()
        })
    } else {
        halves.iter().map(|b| model.loss_and_grads(b)).collect()
    };
    let tokens: Vec<f64> = halves
        .iter()
        .map(|b| b.num_target_tokens() as f64)
        .collect();
    let total: f64 = tokens.iter().sum();
    let mut grads = model.zeros_like();
    let mut loss = 0.0;
    for ((l, g), n) in results.iter().zip(&tokens) {
        // (10.5): the batch's loss is the token-weighted mean of its halves' losses, and so its gradient
        grads.add_scaled(n / total, g);
        loss += l * n / total;
    }
    (loss, grads)
}

/// The teacher-forced loss (10.5) over every pair, in nats per target symbol (`<eos>` included).
pub fn dataset_loss(model: &Seq2Seq, pairs: &[(Vec<usize>, Vec<usize>)], threads: usize) -> f64 {
    let chunks: Vec<&[(Vec<usize>, Vec<usize>)]> = pairs.chunks(64).collect();
    let score = |part: &[&[(Vec<usize>, Vec<usize>)]]| -> (f64, f64) {
        part.iter().fold((0.0, 0.0), |(sum, n), chunk| {
            let src: Vec<Vec<usize>> = chunk.iter().map(|r| r.0.clone()).collect();
            let tgt: Vec<Vec<usize>> = chunk.iter().map(|r| r.1.clone()).collect();
            let batch = Seq2SeqBatch::new(&src, &tgt);
            let (logits, _) = model.forward(&batch);
            let (loss, _) = model.loss(&batch, logits.view());
            let tokens = batch.num_target_tokens() as f64;
            (sum + loss * tokens, n + tokens)
        })
    };
    let (sum, n) = super::in_halves(&chunks, threads, score)
        .into_iter()
        .fold((0.0, 0.0), |(a, b), (c, d)| (a + c, b + d));
    sum / n.max(1.0)
}

fn plot(history: &[Metric], path: &Path) -> Result<()> {
    let series = |f: fn(&Metric) -> f64| history.iter().map(|m| (m.step as f64, f(m))).collect();
    rnn::plot::LineChart::new("sequence to sequence", "step", "nats per target symbol")
        .series(
            "train (mean since last evaluation)",
            series(|m| m.train_loss),
        )
        .series("validation", series(|m| m.val_loss))
        .to_svg()
        .save(path)?;
    Ok(())
}

impl From<SplitArg> for Split {
    fn from(s: SplitArg) -> Split {
        match s {
            SplitArg::Chars => Split::Chars,
            SplitArg::Words => Split::Whitespace,
        }
    }
}
