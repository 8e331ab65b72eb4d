//! Worked answers to chapter 12's exercises: every number the answers quote is printed here.
//!
//! ```console
//! cargo run --release -q -p rnn --example answers_ch12
//! ```
//!
//! The book includes this file's `// ANCHOR: exK` regions into the answer to exercise K, and the lines of
//! its output (`book/src/outputs/answers_ch12.txt`) between the printed `// ANCHOR: exK` and
//! `// ANCHOR_END: exK`.
//!
//! 1. the bytes of a character model's checkpoint, in f64 as saved here and in f32 and bf16;
//! 2. what a file without a config loses: a ReLU RNN and a reset-before GRU read with the defaults;
//! 3. PyTorch's float32 weights read as f64: how far the loss moves;
//! 4. a Keras converter that forgets the GRU's gate order;
//! 5. the gradients data-parallel training exchanges at every step;
//! 7. where each block of a Keras bias lands among PyTorch's.
//!
//! Exercise 6 uses the command line; its outputs are `answers_ch12_eval` and `answers_ch12_sample`.
//!
//! Differences at rounding level are printed as bounds: their last bits depend on the CPU.

use std::path::{Path, PathBuf};

use ndarray::{concatenate, Array3, ArrayD, Axis, Ix3};
use rnn::cells::{AnyCell, CellConfig, CellKind, GruVariant};
use rnn::checkpoint::{Checkpoint, RnnConfig};
use rnn::data::Vocab;
use rnn::interop;
use rnn::models::char_lm::{CharLm, CharLmConfig};
use rnn::optim::{Adam, Optimizer};
use rnn::prelude::*;
use rnn::stack::Rnn;

mod common;
use common::{bound, fixture, max_abs_diff, remove_scratch, scratch_dir};

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).expect("a saved file").len()
}

/// A random input (T = 7, B = 3, D) in [-1, 1].
fn input(d: usize, seed: u64) -> Array3<f64> {
    rnn::init::uniform(&[7, 3, d], -1.0, 1.0, &mut rnn::init::rng(seed))
        .into_dimensionality::<Ix3>()
        .unwrap()
}

// ANCHOR: ex1
/// The 512 x 2 LSTM of `ch12_scale` (one-hot over 65 characters): the weights file as saved here, the
/// same numbers in 4 and 2 bytes, and a checkpoint that also holds Adam's state, as `rnn train` keeps.
fn exercise_1(dir: &Path) -> rnn::Result<()> {
    let chars: Vec<char> = (33..33 + 65).map(|i| char::from_u32(i).unwrap()).collect();
    let config = CharLmConfig::new("lstm", Vocab::from_chars(chars), 0, 512, 2, 0.0);
    let model = CharLm::new(config, &mut rnn::init::rng(0))?;
    let n = model.num_params();
    let weights = dir.join("weights.safetensors");
    model.save(&weights)?;
    let bytes = file_size(&weights);
    let header = bytes - 8 * n as u64;
    println!("512 x 2 LSTM, {n} parameters: CharLm::save writes {bytes} bytes");
    println!("  {} bytes of f64 data and {header} bytes of header", 8 * n);
    println!(
        "  the same tensors in f32: {} bytes; in bf16: {} bytes",
        4 * n as u64 + header,
        2 * n as u64 + header
    );
    // One Adam step (on zero gradients) creates its state: m and v for every parameter, and a counter.
    let (mut params, grads) = (model.clone(), model.zeros_like());
    let mut adam = Adam::new(2e-3);
    adam.step(&mut params, &grads);
    let state = adam.state();
    let mut tensors: Vec<(String, ndarray::ArrayViewD<'_, f64>)> = params.params();
    tensors.extend(state.iter().map(|(k, t)| (format!("optim.{k}"), t.view())));
    let resume = dir.join("resume.safetensors");
    rnn::checkpoint::save(&resume, &tensors, None)?;
    let extra: usize = state.iter().map(|(_, t)| t.len()).sum();
    println!(
        "  with Adam's state ({} tensors, {extra} numbers): {} bytes, {:.2} times the weights file",
        state.len(),
        file_size(&resume),
        file_size(&resume) as f64 / bytes as f64
    );
    Ok(())
}
// ANCHOR_END: ex1

// ANCHOR: ex2
/// A network saved without its config, rebuilt from what `RnnConfig::infer` reads in the shapes, and
/// compared with the network that wrote it.
fn exercise_2(dir: &Path) -> rnn::Result<()> {
    let cells = [
        ("ReLU RNN", CellConfig::new(CellKind::RnnRelu)),
        (
            "reset-before GRU",
            CellConfig {
                gru_variant: GruVariant::ResetBefore,
                ..CellConfig::new(CellKind::Gru)
            },
        ),
    ];
    for (name, cell) in cells {
        let truth = RnnConfig {
            cell,
            input_size: 3,
            hidden_size: 4,
            num_layers: 2,
            bidirectional: false,
            dropout: 0.0,
        };
        let model = Rnn::<AnyCell>::from_config(&truth, &mut rnn::init::rng(2))?;
        let path = dir.join("no-config.safetensors");
        // What safetensors.torch.save_file(model.state_dict(), path) writes: tensors, no config.
        rnn::checkpoint::save_params(&path, &model, None)?;
        let ckpt = Checkpoint::load(&path)?;
        let inferred = RnnConfig::infer(&ckpt, "")?;
        let guess = Rnn::<AnyCell>::from_checkpoint_with(&ckpt, &inferred)?;
        let x = input(3, 3);
        let (want, _, _) = model.forward(x.view(), None, None); // (T, B, H)
        let (got, _, _) = guess.forward(x.view(), None, None);
        println!("{name}: infer says {}", inferred.to_json());
        println!(
            "  max |output difference| from the true network over T = 7, B = 3: {}",
            bound(max_abs_diff(&want, &got))
        );
        let right = Rnn::<AnyCell>::from_checkpoint_with(&ckpt, &truth)?;
        let (fixed, _, _) = right.forward(x.view(), None, None);
        println!(
            "  with the corrected config: {}",
            bound(max_abs_diff(&want, &fixed))
        );
    }
    Ok(())
}
// ANCHOR_END: ex2

// ANCHOR: ex3
/// The PyTorch-made character model of `ch12_pytorch` with every weight rounded to f32, as
/// `save_file` of a float32 model stores it, and read back as f64.
fn exercise_3() -> rnn::Result<()> {
    let path = fixture("char_lm_torch_lstm.weights.safetensors");
    let exact = CharLm::load(&path)?;
    let mut rounded = exact.clone();
    let mut worst: f64 = 0.0;
    for (_, mut p) in rounded.params_mut() {
        p.mapv_inplace(|v| {
            let r = v as f32 as f64;
            worst = worst.max(((r - v) / v).abs());
            r
        });
    }
    let text = "the quick brown fox jumps over the lazy dog; then the dog sleeps.";
    let ids = exact.config.vocab.encode(text)?;
    let loss = |m: &CharLm| m.evaluate(&ids, 1, ids.len() - 1).map(|e| e.nats);
    let (a, b) = (loss(&exact)?, loss(&rounded)?);
    println!("largest relative change of a weight rounded to f32: {worst:.1e}");
    println!(
        "loss with the f64 weights {a:.10}, with the f32 weights {b:.10}: |difference| {:.1e}",
        (a - b).abs()
    );
    Ok(())
}
// ANCHOR_END: ex3

// ANCHOR: ex4
/// A Keras GRU layer's weights converted as if Keras kept PyTorch's gate order (only transposed), then
/// run as a PyTorch `nn.GRU` would run them.
fn exercise_4() -> rnn::Result<()> {
    let model = Rnn::new(3, 4, 1, false, 0.0, Gru::new, &mut rnn::init::rng(4))?;
    let keras = interop::model_to_keras(&model)?; // right: blocks in z, r, h order
                                                  // The mistake: read Keras' blocks as if they were r, z, n, by swapping them back before converting.
    let mut wrong = keras.clone();
    for t in wrong.tensors.values_mut() {
        let axis = Axis(t.ndim() - 1);
        let h = t.shape()[axis.0] / 3;
        let block = |b: usize| t.slice_axis(axis, (b * h..(b + 1) * h).into());
        let swapped: ArrayD<f64> = concatenate(axis, &[block(1), block(0), block(2)]).unwrap();
        *t = swapped;
    }
    let cell = CellConfig::new(CellKind::Gru);
    let right = Rnn::<AnyCell>::from_checkpoint(&interop::from_keras(&keras, cell)?)?;
    let confused = Rnn::<AnyCell>::from_checkpoint(&interop::from_keras(&wrong, cell)?)?;
    let x = input(3, 5);
    let (want, _, _) = model.forward(x.view(), None, None); // (T, B, H)
    let (got, _, _) = right.forward(x.view(), None, None);
    let (bad, _, _) = confused.forward(x.view(), None, None);
    let scale = want.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    println!(
        "GRU (D = 3, H = 4) to Keras and back, T = 7, B = 3; the largest |output| is {scale:.3}"
    );
    println!(
        "  with the gate order mapped: max |difference| {}",
        bound(max_abs_diff(&want, &got))
    );
    println!(
        "  with r and z confused:      max |difference| {:.3}",
        max_abs_diff(&want, &bad)
    );
    Ok(())
}
// ANCHOR_END: ex4

// ANCHOR: ex5
/// What each worker of data-parallel training sends and receives at every step: one gradient of every
/// parameter, summed over the workers (an all-reduce), for the three models of `ch12_scale`.
fn exercise_5() -> rnn::Result<()> {
    let chars: Vec<char> = (33..33 + 65).map(|i| char::from_u32(i).unwrap()).collect();
    let vocab = Vocab::from_chars(chars);
    let (workers, batch, seq) = (8, 32, 64);
    println!(
        "{workers} workers, each B = {batch}, T = {seq}: one step reads {} characters",
        workers * batch * seq
    );
    for (h, layers) in [(256, 1), (512, 2), (1024, 3)] {
        let config = CharLmConfig::new("lstm", vocab.clone(), 0, h, layers, 0.0);
        let n = CharLm::new(config, &mut rnn::init::rng(0))?.num_params();
        // A ring all-reduce sends and receives 2 (W - 1) / W of the gradient per worker.
        let sent = 2.0 * (workers - 1) as f64 / workers as f64 * (4 * n) as f64;
        println!(
            "  {h} x {layers}: gradient {:.1} MB in f32; each worker sends {:.1} MB per step",
            (4 * n) as f64 / 1e6,
            sent / 1e6
        );
    }
    Ok(())
}
// ANCHOR_END: ex5

// ANCHOR: ex7
/// Keras weights whose bias holds, in each block of H, that block's number (1, 2, 3, 4), converted with
/// `from_keras`: where each Keras block lands among PyTorch's.
fn exercise_7() -> rnn::Result<()> {
    let (d, h) = (2, 2);
    for (layer, cell, gates, names) in [
        ("LSTM", CellKind::Lstm, 4, "i f c o"),
        ("GRU(reset_after=False)", CellKind::Gru, 3, "z r h"),
    ] {
        let mut keras = Checkpoint {
            tensors: Default::default(),
            config: None,
            path: PathBuf::from("made-up Keras weights"),
        };
        let kernel = |rows: usize| ArrayD::zeros(vec![rows, gates * h]);
        keras.tensors.insert("layer0.kernel".into(), kernel(d));
        keras
            .tensors
            .insert("layer0.recurrent_kernel".into(), kernel(h));
        let block = ndarray::Array1::from_shape_fn(gates * h, |j| (j / h + 1) as f64);
        // GRU(reset_after=False) and LSTM: one bias of G·H numbers.
        keras.tensors.insert("layer0.bias".into(), block.into_dyn());
        let mut config = CellConfig::new(cell);
        if cell == CellKind::Gru {
            config.gru_variant = GruVariant::ResetBefore;
        }
        let torch = interop::from_keras(&keras, config)?;
        let show = |name: &str| {
            let t = torch.get(name).unwrap();
            t.iter()
                .map(|v| format!("{v}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        println!("Keras {layer}, bias blocks {names} numbered 1 to {gates}:");
        println!("  bias_ih_l0 = {}", show("bias_ih_l0"));
        println!("  bias_hh_l0 = {}", show("bias_hh_l0"));
    }
    Ok(())
}
// ANCHOR_END: ex7

fn main() -> rnn::Result<()> {
    let dir = scratch_dir("answers-ch12")?;
    let parts: [(&str, &dyn Fn() -> rnn::Result<()>); 6] = [
        ("ex1", &|| exercise_1(&dir)),
        ("ex2", &|| exercise_2(&dir)),
        ("ex3", &exercise_3),
        ("ex4", &exercise_4),
        ("ex5", &exercise_5),
        ("ex7", &exercise_7),
    ];
    for (anchor, run) in parts {
        println!("// ANCHOR: {anchor}");
        run()?;
        println!("// ANCHOR_END: {anchor}");
    }
    remove_scratch(&dir)?;
    Ok(())
}
