//! Lab 9: a character-level language model that must learn a small corpus within a fixed step budget.

use rand::Rng as _;

use crate::report::fail;

const LAB: &str = "lab 9 · char-LM training";

/// Training steps (one truncated-BPTT chunk each) the learner's loop gets.
pub const STEPS: usize = 300;

/// The bar: mean cross-entropy (nats per character) over the last [`WINDOW`] steps must be below this.
/// A uniform guess over the corpus's characters costs ln V ≈ 3.2 nats; the character frequencies alone
/// ≈ 2.8; the reference solution reaches about 0.4.
pub const BAR: f64 = 1.0;

/// Steps averaged for the bar.
pub const WINDOW: usize = 25;

/// The lab's corpus: about 6 KB of simple English generated from a small grammar (seeded, so it is the same
/// every run; no licence questions). A character model has to learn the words, then which words follow which.
pub fn corpus() -> String {
    let subjects = [
        "the cat",
        "a dog",
        "the old man",
        "my sister",
        "the bird",
        "a child",
        "the teacher",
    ];
    let verbs = ["sees", "likes", "finds", "follows", "watches", "paints"];
    let objects = [
        "the ball",
        "a red apple",
        "the river",
        "the small house",
        "a green hat",
        "the moon",
    ];
    let endings = [".", " today.", " again.", " at night."];
    let mut rng = rnn::init::rng(2024);
    let mut text = String::new();
    while text.len() < 6000 {
        let s = subjects[rng.random_range(0..subjects.len())];
        let v = verbs[rng.random_range(0..verbs.len())];
        let o = objects[rng.random_range(0..objects.len())];
        let e = endings[rng.random_range(0..endings.len())];
        text.push_str(&format!("{s} {v} {o}{e}\n"));
    }
    text
}

/// Runs the learner's `train(text, steps, seed) -> losses` on [`corpus`] and checks that the loss starts
/// near ln V and ends below [`BAR`].
#[track_caller]
pub fn check_training(train: impl Fn(&str, usize, u64) -> Vec<f64>) {
    let text = corpus();
    let v = rnn::data::Vocab::from_text(&text).len() as f64;
    let start = std::time::Instant::now();
    let losses = crate::report::run(LAB, || train(&text, STEPS, 0));
    let secs = start.elapsed().as_secs_f64();
    if losses.len() != STEPS {
        fail(
            LAB,
            format!(
                "train returned {} losses; expected one per step ({STEPS}).",
                losses.len()
            ),
        );
    }
    if let Some(i) = losses.iter().position(|l| !l.is_finite()) {
        fail(
            LAB,
            format!(
                "the loss became {} at step {i} (losses before: {:?}).\n  Likely mistake: exploding gradients or \
                 an overflowing softmax. Clip the gradients by global norm before the update, and compute the \
                 softmax stably (lab 3).",
                losses[i],
                &losses[i.saturating_sub(5)..i]
            ),
        );
    }
    let first = losses[0];
    if (first - v.ln()).abs() > 0.7 {
        fail(
            LAB,
            format!(
                "the first loss is {first:.3}, but an untrained model predicts nearly uniformly over V = {v} \
                 characters, so it should be close to ln V = {:.3}.\n  Hint: the loss is the *mean* over the T·B \
                 positions of -ln p(next char); check the averaging and the targets (inputs shifted by one).",
                v.ln()
            ),
        );
    }
    let tail = losses[STEPS - WINDOW..].iter().sum::<f64>() / WINDOW as f64;
    println!(
        "lab 9: loss {first:.3} → {tail:.3} nats/char (mean of the last {WINDOW} steps) in {STEPS} steps, {secs:.1} s"
    );
    if tail >= BAR {
        let trend = if tail > first - 0.3 {
            "The loss barely moved: check the sign of the update (p -= lr·g / √(mem + 1e-8)), that you update \
             every parameter (W_hy, b_y and the cell's four tensors), and that the gradients you pass to BPTT are \
             dL/dh = dlogits·W_hy for every step."
        } else {
            "The loss goes down but not far enough: carry the hidden state from one chunk to the next (truncated \
             BPTT), use Adagrad with lr ≈ 0.1, and clip by global norm at ≈ 5."
        };
        fail(
            LAB,
            format!(
                "after {STEPS} steps the mean loss over the last {WINDOW} steps is {tail:.3} nats/char; the bar is \
                 {BAR} (the reference solution reaches about 0.4).\n  {trend}"
            ),
        );
    }
}
