//! `rnn train`: truncated-BPTT training with evaluation, samples, plots, checkpoints, exact resume and a
//! divergence guard.
//!
//! A run directory holds `last.safetensors` (written at every evaluation), `best.safetensors` (lowest
//! validation loss), `metrics.jsonl` (one JSON line per evaluation), `loss.svg` (the loss curves) and
//! `samples.txt` (the sample printed at each evaluation).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rnn::data::{split_train_val, TbpttBatches, Vocab};
use rnn::models::char_lm::{CharLm, CharLmConfig};
use rnn::params::Parameters;
use serde::{Deserialize, Serialize};

use crate::ckpt;
use rnn::cells::{CellConfig, CellKind, GreffVariant, GruVariant, LstmOptions};
use rnn::optim::{self, Optimizer};

/// Flags of `rnn train`.
#[derive(clap::Args, Clone, Debug, Serialize, Deserialize)]
pub struct TrainArgs {
    /// Training text: a UTF-8 file, or @moby-dick, @dinosaurs, @first-names for a bundled corpus.
    #[arg(long, default_value = "@moby-dick")]
    pub data: String,
    /// Recurrent cell: rnn_tanh (Elman with tanh; `rnn` works too), rnn_relu, lstm or gru.
    #[arg(long, default_value = "gru")]
    pub model: String,
    /// Cell variant (chapter 8). For lstm, one of Greff et al.'s V (peepholes), NIG, NFG, NOG, NIAF, NOAF,
    /// NP (PyTorch's LSTM, the default), CIFG, FGR; for gru, reset-after (PyTorch's, the default) or
    /// reset-before (Cho et al.'s). The Elman cells have none.
    #[arg(long)]
    #[serde(default)]
    pub variant: Option<String>,
    /// Hidden units per layer.
    #[arg(long, default_value_t = 128)]
    pub hidden: usize,
    /// Stacked recurrent layers.
    #[arg(long, default_value_t = 1)]
    pub layers: usize,
    /// Embedding size; 0 feeds characters as one-hot vectors (as char-rnn).
    #[arg(long, default_value_t = 0)]
    pub embed: usize,
    /// Dropout after each recurrent layer, in [0, 1).
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.0)]
    pub dropout: f64,
    /// Truncated-BPTT length T (characters per chunk and stream).
    #[arg(long, default_value_t = 50)]
    pub seq_len: usize,
    /// Parallel streams B.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// Optimiser: sgd, momentum, adagrad, rmsprop or adam.
    #[arg(long, default_value = "adam")]
    pub optim: String,
    /// Learning rate [default: 0.002]; on --resume, a new value replaces the run's.
    #[arg(long, allow_negative_numbers = true)]
    pub lr: Option<f64>,
    /// Multiply the learning rate by this every --decay-every steps (1 = constant).
    #[arg(long, allow_negative_numbers = true, default_value_t = 1.0)]
    pub lr_decay: f64,
    /// Steps between learning-rate decays.
    #[arg(long, default_value_t = 1000)]
    pub decay_every: usize,
    /// Clip gradients to this global L2 norm (0 = no clipping).
    #[arg(long, allow_negative_numbers = true, default_value_t = 5.0)]
    pub clip: f64,
    /// Stop after this many steps (default: 2000, or --epochs passes over the data).
    #[arg(long)]
    pub max_steps: Option<usize>,
    /// Stop after this many passes over the training data.
    #[arg(long, conflicts_with = "max_steps")]
    pub epochs: Option<usize>,
    /// Fraction of the text held out for validation (the end of the text), in (0, 0.5].
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.1)]
    pub val_frac: f64,
    /// Steps between evaluations (validation loss, sample, checkpoint, plot).
    #[arg(long)]
    pub eval_every: Option<usize>,
    /// Random seed: the same seed and flags give bit-identical runs.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Run directory (default: runs/run-N, the first that does not exist).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the run in --out from its last.safetensors (settings come from the checkpoint; --max-steps,
    /// --epochs and --eval-every may be changed).
    #[arg(long)]
    pub resume: bool,
    /// Start afresh in an --out directory that already holds a run, replacing it.
    #[arg(long, conflicts_with = "resume")]
    pub force: bool,
    /// Characters in the sample printed at each evaluation.
    #[arg(long, default_value_t = 200)]
    pub sample_len: usize,
    /// Temperature of those samples.
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.8)]
    pub temperature: f64,
}

/// Progress saved in checkpoints so `--resume` continues exactly.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Progress {
    step: usize,
    best_val: f64,
    initial_loss: Option<f64>,
    /// Position of the dropout RNG's stream (u128 as a decimal string).
    dropout_rng_word_pos: String,
    data_chars: usize,
    data_fingerprint: String,
}

const DEFAULT_STEPS: usize = 2000;
const DEFAULT_LR: f64 = 2e-3;

impl TrainArgs {
    /// The cell of `--model` and `--variant`.
    fn cell_config(&self) -> Result<CellConfig> {
        let kind: CellKind = self.model.parse().context("--model")?;
        let Some(variant) = &self.variant else {
            return Ok(CellConfig::new(kind));
        };
        match kind {
            CellKind::Lstm => {
                let v: GreffVariant = variant.parse().context("--variant")?;
                Ok(CellConfig::lstm(LstmOptions::greff(v)))
            }
            CellKind::Gru => {
                let gru_variant = match variant.to_ascii_lowercase().as_str() {
                    "reset-after" | "a" => GruVariant::ResetAfter,
                    "reset-before" | "b" => GruVariant::ResetBefore,
                    _ => bail!(
                        "--variant: unknown GRU variant `{variant}`: expected reset-after (PyTorch's) or \
                         reset-before (Cho et al.'s)"
                    ),
                };
                Ok(CellConfig {
                    gru_variant,
                    ..CellConfig::new(kind)
                })
            }
            _ => bail!(
                "--variant: the {kind} cell has no variants (they are for --model lstm and --model gru)"
            ),
        }
    }

    fn validate(&self) -> Result<()> {
        self.cell_config()?;
        make_optimizer(&self.optim, 1e-3)?;
        if self.hidden == 0 {
            bail!("--hidden must be at least 1");
        }
        if self.layers == 0 {
            bail!("--layers must be at least 1");
        }
        if !(0.0..1.0).contains(&self.dropout) {
            bail!(
                "--dropout is a probability of dropping a unit and must be in [0, 1), got {}",
                self.dropout
            );
        }
        if self.seq_len == 0 || self.batch == 0 {
            bail!("--seq-len and --batch must be at least 1");
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
        if !(self.val_frac > 0.0 && self.val_frac <= 0.5) {
            bail!("--val-frac must be in (0, 0.5], got {}", self.val_frac);
        }
        if self.max_steps == Some(0) || self.epochs == Some(0) || self.eval_every == Some(0) {
            bail!("--max-steps, --epochs and --eval-every must be at least 1");
        }
        if !(self.temperature > 0.0 && self.temperature.is_finite()) {
            bail!("--temperature must be > 0, got {}", self.temperature);
        }
        Ok(())
    }
}

/// The optimiser called `name` (PyTorch's defaults; momentum 0.9).
pub fn make_optimizer(name: &str, lr: f64) -> Result<Box<dyn Optimizer>> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "sgd" => Box::new(optim::Sgd::new(lr)),
        "momentum" => Box::new(optim::Momentum::new(lr)),
        "adagrad" => Box::new(optim::Adagrad::new(lr)),
        "rmsprop" => Box::new(optim::RmsProp::new(lr)),
        "adam" => Box::new(optim::Adam::new(lr)),
        _ => bail!("unknown --optim `{name}`: expected sgd, momentum, adagrad, rmsprop or adam"),
    })
}

/// The files of a run directory that mark it as holding a run.
pub const RUN_FILES: [&str; 4] = [
    "last.safetensors",
    "best.safetensors",
    "metrics.jsonl",
    "loss.svg",
];

fn default_out() -> PathBuf {
    first_free_run_dir("run")
}

/// The first `runs/PREFIX-N` (N = 1, 2, ...) that does not exist.
pub fn first_free_run_dir(prefix: &str) -> PathBuf {
    (1..)
        .map(|i| PathBuf::from(format!("runs/{prefix}-{i}")))
        .find(|p| !p.exists())
        .expect("some run directory is free")
}

/// Makes `out` ready for a new run: refuses a file, and a directory that already holds a run (any of
/// [`RUN_FILES`]) unless `force`, in which case that run's files (and `samples.txt`) are removed.
pub fn prepare_fresh_run(out: &Path, force: bool) -> Result<()> {
    if out.is_file() {
        bail!("--out {} is a file, not a directory", out.display());
    }
    let existing: Vec<&str> = RUN_FILES
        .iter()
        .copied()
        .filter(|f| out.join(f).exists())
        .collect();
    if !existing.is_empty() {
        if !force {
            bail!(
                "--out {} already holds a run ({}): add --resume to continue it or --force to start over",
                out.display(),
                existing.join(", ")
            );
        }
        for f in existing {
            std::fs::remove_file(out.join(f))
                .with_context(|| format!("--force: cannot remove {}", out.join(f).display()))?;
        }
        let _ = std::fs::remove_file(out.join("samples.txt"));
    }
    Ok(())
}

/// Prints a line to stdout, above the progress bar (which is drawn on stderr, when that is a terminal):
/// the report goes to stdout even when only stderr is a terminal, so `rnn train ... > log` keeps it.
fn say(pb: &ProgressBar, line: &str) {
    pb.suspend(|| println!("{line}"));
}

pub fn run(cli: TrainArgs) -> Result<()> {
    cli.validate()?;
    // ---- the run directory: new, forced, or resumed
    let out = match (&cli.out, cli.resume) {
        (Some(o), _) => o.clone(),
        (None, true) => bail!("--resume needs --out DIR, the run directory to continue"),
        (None, false) => default_out(),
    };
    let last_path = out.join("last.safetensors");
    let best_path = out.join("best.safetensors");
    let mut resumed = None;
    let args =
        if cli.resume {
            if !last_path.exists() {
                bail!(
                    "--resume: there is no checkpoint to continue from ({} does not exist)",
                    last_path.display()
                );
            }
            let (model, state) = ckpt::load(&last_path)?;
            let mut args: TrainArgs = serde_json::from_value(state.config["train"].clone())
                .map_err(|e| rnn::Error::CorruptCheckpoint {
                    path: last_path.clone(),
                    reason: format!("its training settings are unreadable ({e})"),
                })?;
            // the stopping rule and evaluation period may change on resume
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
            args.out = Some(out.clone());
            resumed = Some((model, state));
            args
        } else {
            prepare_fresh_run(&out, cli.force)?;
            let mut a = cli.clone();
            a.out = Some(out.clone());
            a
        };

    // ---- data
    let text = crate::text::load(&args.data)?;
    let fingerprint = format!("{:016x}", crate::text::fingerprint(&text));
    let vocab = match &resumed {
        Some((m, _)) => m.config.vocab.clone(),
        None => Vocab::from_text(&text),
    };
    let ids = vocab
        .encode(&text)
        .with_context(|| format!("--data {}", args.data))?;
    let (train_ids, val_ids) = split_train_val(&ids, args.val_frac)
        .with_context(|| format!("--data {} ({} characters)", args.data, ids.len()))?;
    let batches = TbpttBatches::new(train_ids, args.batch, args.seq_len).with_context(|| {
        format!(
            "--data {}: the training part ({} characters) is too short for --batch {} × --seq-len {}; use a smaller --batch or --seq-len",
            args.data,
            train_ids.len(),
            args.batch,
            args.seq_len
        )
    })?;
    let n_chunks = batches.num_chunks();
    let total_steps = match (args.max_steps, args.epochs) {
        (Some(s), _) => s,
        (None, Some(e)) => e * n_chunks,
        (None, None) => DEFAULT_STEPS,
    };
    let eval_every = args
        .eval_every
        .unwrap_or_else(|| (total_steps / 10).clamp(1, 500));

    // ---- model, optimiser, RNG, progress
    let base_lr = args.lr.unwrap_or(DEFAULT_LR);
    let mut opt = make_optimizer(&args.optim, base_lr)?;
    let mut dropout_rng = rnn::init::rng(args.seed ^ 0xD0D0_5EED);
    let (mut model, mut states, mut progress) = match resumed {
        Some((model, state)) => {
            let p: Progress =
                serde_json::from_value(state.config["progress"].clone()).map_err(|e| {
                    rnn::Error::CorruptCheckpoint {
                        path: last_path.clone(),
                        reason: format!("its progress record is unreadable ({e})"),
                    }
                })?;
            if p.data_fingerprint != fingerprint || p.data_chars != ids.len() {
                bail!(
                    "--resume: the data {} is not the text this run was trained on (its contents changed)",
                    args.data
                );
            }
            opt.load_state_for(&model, state.optim)
                .with_context(|| format!("{}: optimiser state", last_path.display()))?;
            let pos: u128 =
                p.dropout_rng_word_pos
                    .parse()
                    .map_err(|_| rnn::Error::CorruptCheckpoint {
                        path: last_path.clone(),
                        reason: "its RNG position is not a number".into(),
                    })?;
            dropout_rng.set_word_pos(pos);
            let states = if state.states.len() == model.config.num_layers {
                state.states
            } else {
                model.zero_states(args.batch)
            };
            (model, states, p)
        }
        None => {
            // canonical cell name ("LSTM" -> "lstm") in the stored configuration
            let cell: CellKind = args.model.parse().context("--model")?;
            let mut config = CharLmConfig::new(
                &cell.to_string(),
                vocab.clone(),
                args.embed,
                args.hidden,
                args.layers,
                args.dropout,
            );
            if args.variant.is_some() {
                config = config.with_cell(args.cell_config()?);
            }
            let model = CharLm::new(config, &mut rnn::init::rng(args.seed))
                .context("invalid model settings")?;
            let states = model.zero_states(args.batch);
            let p = Progress {
                step: 0,
                best_val: f64::INFINITY,
                initial_loss: None,
                dropout_rng_word_pos: "0".into(),
                data_chars: ids.len(),
                data_fingerprint: fingerprint.clone(),
            };
            (model, states, p)
        }
    };
    if progress.step >= total_steps {
        bail!(
            "--resume: the run is already at step {} of {total_steps}; give a larger --max-steps or --epochs",
            progress.step
        );
    }
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;

    println!(
        "{} {}x{} ({} parameters) on {} ({} chars: {} train, {} validation; vocabulary {}), {} steps of {}x{} chars, run dir {}",
        model.config.cell,
        model.config.hidden_size,
        model.config.num_layers,
        model.num_params(),
        args.data,
        ids.len(),
        train_ids.len(),
        val_ids.len(),
        vocab.len(),
        total_steps,
        args.batch,
        args.seq_len,
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
    let mut history = read_metrics(&metrics_path);
    let mut train_sum = 0.0;
    let mut train_count = 0usize;
    let started = Instant::now();
    let mut chars_done = 0usize;
    let val_eval_ids = &val_ids[..val_ids.len().min(200_000)];

    while progress.step < total_steps {
        let k = progress.step % n_chunks;
        if k == 0 {
            // a new pass over the data: streams start again from the beginning
            states = model.zero_states(args.batch);
        }
        let lr = base_lr
            * args
                .lr_decay
                .powi((progress.step / args.decay_every) as i32);
        opt.set_lr(lr);
        let (x, y) = batches.chunk(k);
        let (loss, finals, cache) = model.forward(&x, &y, Some(&states), Some(&mut dropout_rng));
        let mut grads = model.zeros_like();
        model.backward(&cache, &mut grads);
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
                "training diverged at step {}: loss {loss:.4} (initial {initial:.4}, limit 3x), gradient norm {norm:.3e}; {kept}. Try a smaller --lr (now {lr}) or a tighter --clip",
                progress.step + 1
            );
        }
        opt.step(&mut model, &grads);
        states = finals;
        progress.step += 1;
        train_sum += loss;
        train_count += 1;
        chars_done += batches.chars_per_chunk();
        let cps = chars_done as f64 / started.elapsed().as_secs_f64().max(1e-9);
        pb.set_position(progress.step as u64);
        pb.set_message(format!(
            "loss {loss:.3} | val {} | {:.1}k chars/s",
            if progress.best_val.is_finite() {
                format!(
                    "{:.3}",
                    history.last().map(|m| m.val_loss).unwrap_or(f64::NAN)
                )
            } else {
                "-".into()
            },
            cps / 1e3
        ));

        if progress.step % eval_every == 0 || progress.step == total_steps {
            let val = model.evaluate(val_eval_ids, 32, args.seq_len)?;
            let train_loss = train_sum / train_count as f64;
            train_sum = 0.0;
            train_count = 0;
            let sample = model.sample(
                "",
                args.sample_len,
                args.temperature,
                None,
                args.seed.wrapping_add(progress.step as u64),
            )?;
            let m = Metric {
                step: progress.step,
                train_loss,
                val_loss: val.nats,
                val_bits: val.bits,
                lr,
                chars_per_sec: cps,
                elapsed_sec: started.elapsed().as_secs_f64(),
            };
            say(
                &pb,
                &format!(
                    "step {:>6}  train {:.4}  val {:.4} nats/char ({:.3} bits/char)  {:.0} chars/s\n--- sample ---\n{}\n--------------",
                    m.step,
                    m.train_loss,
                    m.val_loss,
                    m.val_bits,
                    cps,
                    sample.trim_end()
                ),
            );
            append_line(&metrics_path, &serde_json::to_string(&m)?)?;
            append_line(
                &out.join("samples.txt"),
                &format!(
                    "=== step {} (val {:.4}) ===\n{}\n",
                    m.step, m.val_loss, sample
                ),
            )?;
            history.push(m);
            plot(&history, &out.join("loss.svg"))?;
            let is_best = val.nats < progress.best_val;
            if is_best {
                progress.best_val = val.nats;
            }
            progress.dropout_rng_word_pos = dropout_rng.get_word_pos().to_string();
            let config = serde_json::json!({
                "train": &args,
                "progress": &progress,
            });
            ckpt::save(&last_path, &model, opt.state(), &states, config.clone())?;
            if is_best {
                ckpt::save(&best_path, &model, opt.state(), &states, config)?;
            }
        }
    }
    pb.finish_and_clear();
    println!(
        "done: {} steps in {:.1} s, best validation loss {:.4} nats/char ({:.4} bits/char); checkpoints in {}",
        progress.step,
        started.elapsed().as_secs_f64(),
        progress.best_val,
        progress.best_val / std::f64::consts::LN_2,
        out.display()
    );
    println!(
        "next: rnn sample --checkpoint {} --prime \"...\"   (or rnn viz / rnn eval with the same checkpoint)",
        best_path.display()
    );
    Ok(())
}

/// One line of metrics.jsonl.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Metric {
    step: usize,
    train_loss: f64,
    val_loss: f64,
    val_bits: f64,
    lr: f64,
    chars_per_sec: f64,
    elapsed_sec: f64,
}

fn read_metrics(path: &Path) -> Vec<Metric> {
    read_jsonl(path)
}

/// The lines of a JSON-lines file that parse as `T` (none if the file does not exist).
pub fn read_jsonl<T: serde::de::DeserializeOwned>(path: &Path) -> Vec<T> {
    std::fs::read_to_string(path)
        .map(|s| {
            s.lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Appends one line to a file (created if missing).
pub fn append_line(path: &Path, line: &str) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    writeln!(f, "{line}").with_context(|| format!("cannot write {}", path.display()))
}

fn plot(history: &[Metric], path: &Path) -> Result<()> {
    let train = history
        .iter()
        .map(|m| (m.step as f64, m.train_loss))
        .collect();
    let val = history
        .iter()
        .map(|m| (m.step as f64, m.val_loss))
        .collect();
    rnn::plot::LineChart::new("character-level language model", "step", "nats/char")
        .series("train (mean since last evaluation)", train)
        .series("validation", val)
        .to_svg()
        .save(path)?;
    Ok(())
}
