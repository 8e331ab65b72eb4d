//! The sequence classifier (`rnn::models::classifier`): finite-difference checks of every parameter for
//! every readout, input encoding and cell, with padded batches, 2 bidirectional layers and dropout; pads
//! that do not matter; a small training run that must separate a trivially separable task; and an LSTM
//! that must learn the embedded Reber grammar to Hochreiter & Schmidhuber's criterion.

use ndarray::{Array2, Array3};
use rand::Rng as _;
use rnn::cells::CellKind;
use rnn::gradcheck::{check_params, TOLERANCE};
use rnn::init::Rng;
use rnn::models::classifier::{
    accuracy, Classifier, ClassifierConfig, InputConfig, Readout, SeqInput, Targets,
};
use rnn::optim::{Adam, Optimizer};
use rnn::params::Parameters;

const KINDS: [CellKind; 3] = [CellKind::RnnTanh, CellKind::Lstm, CellKind::Gru];
const READOUTS: [Readout; 4] = [
    Readout::Last,
    Readout::Mean,
    Readout::Max,
    Readout::EveryStep,
];
const INPUTS: [InputConfig; 3] = [
    InputConfig::Features { dim: 2 },
    InputConfig::OneHot { vocab: 4 },
    InputConfig::Embedding { vocab: 4, dim: 3 },
];
const LENGTHS: [usize; 3] = [4, 2, 3];
const DROPOUT_SEED: u64 = 11;
/// Training steps (batches of 16 strings) for the embedded Reber grammar.
const REBER_STEPS: usize = 1500;

/// A batch `(T, B)` of ids or `(T, B, D)` of features; `garbage` fills the pads (after each length).
fn batch(
    input: InputConfig,
    t: usize,
    lengths: &[usize],
    garbage: u64,
    rng: &mut Rng,
) -> (Option<Array2<usize>>, Option<Array3<f64>>) {
    let b = lengths.len();
    let mut g = rnn::init::rng(garbage);
    match input {
        InputConfig::Features { dim } => {
            let mut xs = Array3::from_shape_simple_fn((t, b, dim), || rng.random_range(-1.0..1.0));
            for (j, &n) in lengths.iter().enumerate() {
                for s in n..t {
                    for k in 0..dim {
                        xs[[s, j, k]] = g.random_range(-5.0..5.0);
                    }
                }
            }
            (None, Some(xs))
        }
        InputConfig::OneHot { vocab } | InputConfig::Embedding { vocab, .. } => {
            let mut ids = Array2::from_shape_simple_fn((t, b), || rng.random_range(0..vocab));
            for (j, &n) in lengths.iter().enumerate() {
                for s in n..t {
                    ids[[s, j]] = g.random_range(0..vocab);
                }
            }
            (Some(ids), None)
        }
    }
}

fn seq<'a>(ids: &'a Option<Array2<usize>>, xs: &'a Option<Array3<f64>>) -> SeqInput<'a> {
    match (ids, xs) {
        (Some(i), _) => SeqInput::Tokens(i.view()),
        (_, Some(x)) => SeqInput::Features(x.view()),
        _ => unreachable!(),
    }
}

/// The model's loss on a batch in training mode with fixed dropout masks, and its gradients.
fn loss_and_grads(m: &Classifier, input: SeqInput<'_>, targets: Targets<'_>) -> (f64, Classifier) {
    let (logits, cache) = m.forward(
        input,
        Some(&LENGTHS),
        Some(&mut rnn::init::rng(DROPOUT_SEED)),
    );
    let (loss, d) = m.loss(logits.view(), targets, Some(&LENGTHS));
    let mut g = m.zeros_like();
    m.backward(&cache, d.view(), &mut g);
    (loss, g)
}

fn make(
    kind: CellKind,
    input: InputConfig,
    readout: Readout,
    k: usize,
    rng: &mut Rng,
) -> Classifier {
    let config = ClassifierConfig::new(kind, input, 3, readout, k)
        .layers(2)
        .bidirectional(true)
        .dropout(0.25);
    Classifier::new(&config, rng).unwrap()
}

#[test]
fn every_readout_input_and_cell_matches_finite_differences() {
    let mut worst = 0.0f64;
    for kind in KINDS {
        for readout in READOUTS {
            for input in INPUTS {
                let mut rng = rnn::init::rng(5);
                let m = make(kind, input, readout, 3, &mut rng);
                let (ids, xs) = batch(input, 4, &LENGTHS, 1, &mut rng);
                let classes: Vec<usize> = (0..3).map(|_| rng.random_range(0..3)).collect();
                let steps = Array2::from_shape_simple_fn((4, 3), || rng.random_range(0..3));
                let targets = match readout {
                    Readout::EveryStep => Targets::StepClasses(steps.view()),
                    _ => Targets::Classes(&classes),
                };
                let (_, g) = loss_and_grads(&m, seq(&ids, &xs), targets);
                let report = check_params(&m, &g, |p| loss_and_grads(p, seq(&ids, &xs), targets).0);
                assert!(report.tensors.len() == m.params().len());
                println!("{kind} {readout:?} {input:?}: {:e}", report.max_rel_error());
                worst = worst.max(report.max_rel_error());
                report.assert_below(TOLERANCE);
            }
        }
        // regression: K = 1, mean squared error, on the adding problem's kind of input
        let mut rng = rnn::init::rng(6);
        let input = InputConfig::Features { dim: 2 };
        let m = make(kind, input, Readout::Last, 1, &mut rng);
        let (ids, xs) = batch(input, 4, &LENGTHS, 1, &mut rng);
        let ys = [0.3, -0.2, 1.1];
        let (_, g) = loss_and_grads(&m, seq(&ids, &xs), Targets::Values(&ys));
        let report = check_params(&m, &g, |p| {
            loss_and_grads(p, seq(&ids, &xs), Targets::Values(&ys)).0
        });
        println!("{kind} regression: {:e}", report.max_rel_error());
        worst = worst.max(report.max_rel_error());
        report.assert_below(TOLERANCE);
    }
    println!("worst relative error over all cases: {worst:e}");
}

#[test]
fn pad_values_change_nothing() {
    for kind in KINDS {
        for readout in READOUTS {
            for input in INPUTS {
                let mut rng = rnn::init::rng(8);
                let m = make(kind, input, readout, 3, &mut rng);
                let state = rng.clone();
                let (ids_a, xs_a) = batch(input, 5, &LENGTHS, 100, &mut rng.clone());
                let (ids_b, xs_b) = batch(input, 5, &LENGTHS, 200, &mut state.clone());
                assert!(ids_a != ids_b || xs_a != xs_b, "the pads differ");
                let steps = Array2::from_shape_fn((5, 3), |(t, b)| (t + b) % 3);
                let targets = match readout {
                    Readout::EveryStep => Targets::StepClasses(steps.view()),
                    _ => Targets::Classes(&[0, 1, 2]),
                };
                let (la, ga) = loss_and_grads(&m, seq(&ids_a, &xs_a), targets);
                let (lb, gb) = loss_and_grads(&m, seq(&ids_b, &xs_b), targets);
                assert_eq!(la, lb, "{kind} {readout:?} {input:?}: loss");
                for ((name, a), (_, b)) in ga.params().iter().zip(gb.params()) {
                    assert_eq!(a, &b, "{kind} {readout:?} {input:?}: gradient of {name}");
                }
            }
        }
    }
}

/// Class 1 if token 3 occurs among a sequence's real steps: separable by a max over steps.
fn contains_three(n: usize, rng: &mut Rng) -> (Array2<usize>, Vec<usize>, Vec<usize>) {
    let lengths: Vec<usize> = (0..n).map(|_| rng.random_range(2..=6)).collect();
    let mut ids = Array2::from_shape_simple_fn((6, n), || rng.random_range(0..3));
    let mut ys = Vec::with_capacity(n);
    for (b, &len) in lengths.iter().enumerate() {
        let y = rng.random_range(0..2);
        if y == 1 {
            ids[[rng.random_range(0..len), b]] = 3;
        }
        ys.push(y);
    }
    (ids, lengths, ys)
}

#[test]
fn training_separates_a_separable_task() {
    let mut rng = rnn::init::rng(2026);
    let config = ClassifierConfig::new(
        CellKind::Gru,
        InputConfig::Embedding { vocab: 4, dim: 4 },
        8,
        Readout::Max,
        2,
    );
    let mut model = Classifier::new(&config, &mut rng).unwrap();
    let (test_ids, test_len, test_ys) = contains_three(200, &mut rng);
    let before = accuracy(
        &model.predict(SeqInput::Tokens(test_ids.view()), Some(&test_len)),
        &test_ys,
        None,
    );
    let mut opt = Adam::new(0.03);
    for _ in 0..300 {
        let (ids, lengths, ys) = contains_three(32, &mut rng);
        let (logits, cache) = model.forward(SeqInput::Tokens(ids.view()), Some(&lengths), None);
        let (_, d) = model.loss(logits.view(), Targets::Classes(&ys), Some(&lengths));
        let mut g = model.zeros_like();
        model.backward(&cache, d.view(), &mut g);
        opt.step(&mut model, &g);
    }
    let after = accuracy(
        &model.predict(SeqInput::Tokens(test_ids.view()), Some(&test_len)),
        &test_ys,
        None,
    );
    println!("test accuracy before {before}, after {after}");
    assert_eq!(
        after, 1.0,
        "accuracy after training: {after} (before: {before})"
    );
}

/// The fraction of real steps at which the k most likely next symbols are exactly the k legal ones
/// (Hochreiter & Schmidhuber's criterion, per step), and the fraction of whole strings that meet it.
fn reber_scores(model: &Classifier, batch: &rnn::tasks::ReberBatch) -> (f64, f64) {
    use rnn::tasks::reber::{all_steps_correct, top_k_is_legal, NUM_SYMBOLS};
    let x = batch.one_hot();
    let (t, b, _) = x.dim();
    let (logits, _) = model.forward(SeqInput::Features(x.view()), Some(&batch.lengths), None);
    let scores = logits.into_shape_with_order((t, b, NUM_SYMBOLS)).unwrap(); // (T, B, 7)
    let (mut ok, mut n) = (0, 0);
    for j in 0..b {
        for s in 0..batch.lengths[j] {
            let row: Vec<f64> = (0..NUM_SYMBOLS).map(|k| scores[[s, j, k]]).collect();
            let mut legal = [false; NUM_SYMBOLS];
            (0..NUM_SYMBOLS).for_each(|k| legal[k] = batch.legal[[s, j, k]] == 1.0);
            ok += usize::from(top_k_is_legal(&row, &legal));
            n += 1;
        }
    }
    let strings = (0..b)
        .filter(|&j| all_steps_correct(&scores, batch, j))
        .count();
    (ok as f64 / n as f64, strings as f64 / b as f64)
}

#[test]
fn reber_batches_train_the_every_step_readout() {
    let mut rng = rnn::init::rng(1997);
    let config = ClassifierConfig::new(
        CellKind::Lstm,
        InputConfig::Features { dim: 7 },
        12,
        Readout::EveryStep,
        7,
    );
    let mut model = Classifier::new(&config, &mut rng).unwrap();
    let test = rnn::tasks::ReberBatch::generate(200, &mut rng);
    let before = reber_scores(&model, &test);
    let mut opt = Adam::new(0.02);
    for _ in 0..REBER_STEPS {
        let batch = rnn::tasks::ReberBatch::generate(16, &mut rng);
        let x = batch.one_hot();
        let (logits, cache) =
            model.forward(SeqInput::Features(x.view()), Some(&batch.lengths), None);
        let targets = Targets::StepClasses(batch.targets.view());
        let (_, d) = model.loss(logits.view(), targets, Some(&batch.lengths));
        let mut g = model.zeros_like();
        model.backward(&cache, d.view(), &mut g);
        opt.step(&mut model, &g);
    }
    let after = reber_scores(&model, &test);
    println!(
        "steps meeting the criterion: {:.3} -> {:.3}; whole strings: {:.3} -> {:.3}",
        before.0, after.0, before.1, after.1
    );
    // Hochreiter & Schmidhuber's criterion on 200 fresh strings: every step of every string right
    assert_eq!(after, (1.0, 1.0), "before training: {before:?}");
}
