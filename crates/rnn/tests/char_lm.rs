//! The character-level language model (`rnn::models::char_lm`): finite-difference check of the whole model's
//! gradients (embedding or one-hot, deep stack, dropout, carried state), and that training lowers the loss.
//!
//! Central differences with h = 1e-5 on every entry of every tensor ([`rnn::gradcheck::check_params`]),
//! held to the library's bar 1e-7 (norm-wise relative error per tensor; the report also prints the
//! element-wise error, which for entries below about 1e-4 is dominated by the rounding of the loss).

use ndarray::Array2;
use rand::Rng as _;
use rnn::data::{TbpttBatches, Vocab};
use rnn::gradcheck::{check_params, TOLERANCE};
use rnn::models::char_lm::{CharLm, CharLmConfig};
use rnn::prelude::*;

const DROPOUT_SEED: u64 = 11;

/// Random ids `(T, B)` below `v`.
fn ids(t: usize, b: usize, v: usize, rng: &mut rnn::init::Rng) -> Array2<usize> {
    Array2::from_shape_simple_fn((t, b), || rng.random_range(0..v))
}

/// Checks every parameter of a model built from `config` on a random chunk with random carried states.
fn check(cell: &str, embed: usize, hidden: usize, layers: usize, dropout: f64, t: usize, b: usize) {
    let mut rng = rnn::init::rng(7 + (hidden * 31 + layers * 7 + t) as u64);
    let config = CharLmConfig::new(
        cell,
        Vocab::from_text("abcdefg \n"),
        embed,
        hidden,
        layers,
        dropout,
    );
    let model = CharLm::new(config, &mut rng).unwrap();
    let v = model.vocab_size();
    let (x, y) = (ids(t, b, v, &mut rng), ids(t, b, v, &mut rng));
    // carried state from a "previous chunk": random, not zero, so its paths are exercised
    let init: Vec<State> = model
        .zero_states(b)
        .iter()
        .map(|s| State {
            h: s.h.mapv(|_| rng.random_range(-0.5..0.5)),
            c: s.c
                .as_ref()
                .map(|c| c.mapv(|_| rng.random_range(-0.5..0.5))),
            gates: s.gates.clone(),
        })
        .collect();
    let loss_of = |m: &CharLm| {
        let mut drng = rnn::init::rng(DROPOUT_SEED);
        let train = dropout > 0.0;
        m.forward(&x, &y, Some(&init), train.then_some(&mut drng)).0
    };
    let mut drng = rnn::init::rng(DROPOUT_SEED);
    let (_, _, cache) = model.forward(&x, &y, Some(&init), (dropout > 0.0).then_some(&mut drng));
    let mut grads = model.zeros_like();
    model.backward(&cache, &mut grads);
    let report = check_params(&model, &grads, loss_of);
    println!("{cell} embed={embed} H={hidden} L={layers} p={dropout} T={t} B={b}:\n{report}");
    report.assert_below(TOLERANCE);
}

#[test]
fn gradients_elman_one_hot() {
    check("rnn", 0, 4, 1, 0.0, 5, 2);
}

#[test]
fn gradients_elman_embedding_deep_dropout() {
    check("rnn", 3, 5, 2, 0.3, 4, 2);
}

#[test]
fn gradients_elman_relu_embedding() {
    check("rnn_relu", 3, 5, 1, 0.0, 3, 2);
}

#[test]
fn gradients_lstm() {
    check("lstm", 3, 4, 2, 0.2, 4, 2);
}

#[test]
fn gradients_gru() {
    check("gru", 0, 4, 2, 0.2, 4, 2);
}

/// A few hundred plain SGD steps on a repetitive text take the loss far below its starting value (ln V).
#[test]
fn training_lowers_the_loss() {
    let text = "abcabcabdabcabcabd".repeat(20);
    let vocab = Vocab::from_text(&text);
    let ids = vocab.encode(&text).unwrap();
    let config = CharLmConfig::new("rnn", vocab, 0, 16, 1, 0.0);
    let mut model = CharLm::new(config, &mut rnn::init::rng(0)).unwrap();
    let before = model.evaluate(&ids, 4, 9).unwrap().nats;
    let batches = TbpttBatches::new(&ids, 4, 9).unwrap();
    let mut states = model.zero_states(4);
    for step in 0..300 {
        let (x, y) = batches.chunk(step % batches.num_chunks());
        if step % batches.num_chunks() == 0 {
            states = model.zero_states(4);
        }
        let (_, finals, cache) = model.forward(&x, &y, Some(&states), None);
        let mut g = model.zeros_like();
        model.backward(&cache, &mut g);
        model.add_scaled(-0.5, &g);
        states = finals;
    }
    let after = model.evaluate(&ids, 4, 9).unwrap();
    assert!(
        after.nats < 0.5 * before,
        "loss went from {before} to {} nats/char",
        after.nats
    );
    assert!((after.bits - after.nats / std::f64::consts::LN_2).abs() < 1e-12);
    assert!((after.perplexity - after.nats.exp()).abs() < 1e-12);
}

#[test]
#[should_panic(expected = "CharLm::forward: the chunk is (T, B) = (0, 2)")]
fn an_empty_chunk_is_refused_with_its_shape_not_a_nan_loss() {
    // A mean over zero predictions would be 0/0: the loss would be NaN and training would go on with it.
    let config = CharLmConfig::new("rnn_tanh", Vocab::from_text("abcde"), 0, 4, 1, 0.0);
    let model = CharLm::new(config, &mut rnn::init::rng(0)).unwrap();
    let empty = Array2::<usize>::zeros((0, 2));
    let _ = model.forward(&empty, &empty, None, None);
}

#[test]
fn variants_train_save_and_load_as_themselves() {
    use rnn::cells::{CellConfig, CellKind, GreffVariant, GruVariant, LstmOptions};
    let dir = std::env::temp_dir().join(format!("rnn-charlm-variants-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let vocab = Vocab::from_text("abcdefg \n");
    let cells = [
        CellConfig::lstm(LstmOptions::greff(GreffVariant::Fgr)),
        CellConfig::lstm(LstmOptions::greff(GreffVariant::Noaf)),
        CellConfig {
            gru_variant: GruVariant::ResetBefore,
            ..CellConfig::new(CellKind::Gru)
        },
    ];
    for (k, cell) in cells.into_iter().enumerate() {
        let config = CharLmConfig::new("rnn", vocab.clone(), 0, 5, 2, 0.0).with_cell(cell);
        let model = CharLm::new(config, &mut rnn::init::rng(3)).unwrap();
        assert_eq!(
            model.rnn.config().unwrap().cell,
            cell,
            "the stack is the variant"
        );
        let path = dir.join(format!("m{k}.safetensors"));
        model.save(&path).unwrap();
        let back = CharLm::load(&path).unwrap();
        assert_eq!(back.config, model.config);
        assert_eq!(back.rnn.config().unwrap().cell, cell);
        let ids = vocab.encode("abc defg\nabc").unwrap();
        assert_eq!(
            back.evaluate(&ids, 1, 4).unwrap(),
            model.evaluate(&ids, 1, 4).unwrap(),
            "the loaded model computes what the saved one did"
        );
    }
    // a plain config writes no variant key, so older readers and files agree
    let plain = CharLmConfig::new("lstm", vocab, 0, 5, 1, 0.0);
    let json = serde_json::to_value(&plain).unwrap();
    assert!(json.get("variant").is_none(), "{json}");
    let mut bad = json.clone();
    bad["variant"] = serde_json::json!({"gru_variant": "sideways"});
    let bad: CharLmConfig = serde_json::from_value(bad).unwrap();
    assert!(bad.validate().is_err(), "a bad variant is refused");
    std::fs::remove_dir_all(&dir).ok();
}
