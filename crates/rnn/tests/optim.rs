//! Optimisers and clipping against hand-computed values, state round trips, and error handling.
//!
//! The model is `Tiny`: one 2-element tensor `w` and one 1-element tensor `b`, starting at
//! w = (1, -2), b = (0.5). Unless a test says otherwise it receives the same three gradients:
//!
//! | step | g_w           | g_b  |
//! |------|---------------|------|
//! | 1    | (0.5, -1)     | 2    |
//! | 2    | (-0.25, 0.5)  | 1    |
//! | 3    | (1, 0)        | -3   |
//!
//! Expected values are written out by hand (decimal literals) or as plain scalar arithmetic on f64, never by
//! calling the library.

use ndarray::{array, Array1, ArrayD, ArrayViewD, ArrayViewMutD, IxDyn};
use rnn::optim::{
    clip_by_global_norm, clip_by_global_norm_all, clip_by_value, global_norm, Adagrad, Adam,
    Momentum, Optimizer, RmsProp, Sgd,
};
use rnn::params::Parameters;
use rnn::Error;

/// An optimiser chosen at run time.
type BoxedOpt = Box<dyn Optimizer>;

/// A constructor of a fresh optimiser.
type Factory = fn() -> BoxedOpt;

/// Optimiser state as `Optimizer::state` lists it.
type StateList = Vec<(String, ArrayD<f64>)>;

#[derive(Clone, Debug, PartialEq)]
struct Tiny {
    w: Array1<f64>,
    b: Array1<f64>,
}

impl Parameters for Tiny {
    fn params(&self) -> Vec<(String, ArrayViewD<'_, f64>)> {
        vec![
            ("w".into(), self.w.view().into_dyn()),
            ("b".into(), self.b.view().into_dyn()),
        ]
    }
    fn params_mut(&mut self) -> Vec<(String, ArrayViewMutD<'_, f64>)> {
        vec![
            ("w".into(), self.w.view_mut().into_dyn()),
            ("b".into(), self.b.view_mut().into_dyn()),
        ]
    }
}

fn tiny(w: [f64; 2], b: f64) -> Tiny {
    Tiny {
        w: array![w[0], w[1]],
        b: array![b],
    }
}

fn start() -> Tiny {
    tiny([1.0, -2.0], 0.5)
}

/// The gradients of the table above.
fn grads() -> [Tiny; 3] {
    [
        tiny([0.5, -1.0], 2.0),
        tiny([-0.25, 0.5], 1.0),
        tiny([1.0, 0.0], -3.0),
    ]
}

/// Asserts every element of `got` is within `tol` (absolute) of `want` = (w0, w1, b).
#[track_caller]
fn assert_close(got: &Tiny, want: [f64; 3], tol: f64, what: &str) {
    let got = [got.w[0], got.w[1], got.b[0]];
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol,
            "{what}: element {i}: got {g:.17}, expected {w:.17} (tolerance {tol:e}); all: {got:?} vs {want:?}"
        );
    }
}

const TOL: f64 = 1e-12;

// ------------------------------------------------------------------------------------------------- SGD

#[test]
fn sgd_matches_hand_computed_steps() {
    // θ ← θ − η g with η = 0.1:
    // step 1: w = (1 − 0.05, −2 + 0.1) = (0.95, −1.9),   b = 0.5 − 0.2 = 0.3
    // step 2: w = (0.95 + 0.025, −1.9 − 0.05) = (0.975, −1.95),   b = 0.3 − 0.1 = 0.2
    // step 3: w = (0.975 − 0.1, −1.95) = (0.875, −1.95),   b = 0.2 + 0.3 = 0.5
    let want = [[0.95, -1.9, 0.3], [0.975, -1.95, 0.2], [0.875, -1.95, 0.5]];
    let mut model = start();
    let mut opt = Sgd::new(0.1);
    for (k, g) in grads().iter().enumerate() {
        opt.step(&mut model, g);
        assert_close(&model, want[k], TOL, &format!("SGD step {}", k + 1));
    }
    assert_eq!(opt.lr(), 0.1);
}

#[test]
fn sgd_weight_decay_adds_lambda_theta_to_the_gradient() {
    // λ = 0.1: g_w = (0.5 + 0.1·1, −1 + 0.1·(−2)) = (0.6, −1.2), g_b = 2 + 0.1·0.5 = 2.05
    // η = 0.1: w = (1 − 0.06, −2 + 0.12) = (0.94, −1.88),  b = 0.5 − 0.205 = 0.295
    let mut model = start();
    Sgd::new(0.1)
        .weight_decay(0.1)
        .step(&mut model, &grads()[0]);
    assert_close(&model, [0.94, -1.88, 0.295], TOL, "SGD with weight decay");
}

#[test]
fn set_lr_changes_the_next_step_only() {
    // Step 1 with η = 0.1 → (0.95, −1.9, 0.3); then η = 1: w = (0.95 + 0.25, −1.9 − 0.5), b = 0.3 − 1.
    let mut model = start();
    let mut opt = Sgd::new(0.1);
    opt.step(&mut model, &grads()[0]);
    opt.set_lr(1.0);
    assert_eq!(opt.lr(), 1.0);
    opt.step(&mut model, &grads()[1]);
    assert_close(&model, [1.2, -2.4, -0.7], TOL, "SGD after set_lr");
}

// -------------------------------------------------------------------------------------------- Momentum

#[test]
fn momentum_matches_hand_computed_steps() {
    // b ← 0.9 b + g;  θ ← θ − 0.1 b
    // step 1: buf = g = (0.5, −1 | 2)           → w = (0.95, −1.9),  b = 0.3
    // step 2: buf = (0.45 − 0.25, −0.9 + 0.5 | 1.8 + 1) = (0.2, −0.4 | 2.8)
    //                                           → w = (0.93, −1.86), b = 0.3 − 0.28 = 0.02
    // step 3: buf = (0.18 + 1, −0.36 + 0 | 2.52 − 3) = (1.18, −0.36 | −0.48)
    //                                           → w = (0.812, −1.824), b = 0.02 + 0.048 = 0.068
    let want = [
        [0.95, -1.9, 0.3],
        [0.93, -1.86, 0.02],
        [0.812, -1.824, 0.068],
    ];
    let mut model = start();
    let mut opt = Momentum::new(0.1).momentum(0.9);
    for (k, g) in grads().iter().enumerate() {
        opt.step(&mut model, g);
        assert_close(&model, want[k], TOL, &format!("momentum step {}", k + 1));
    }
}

#[test]
fn nesterov_momentum_matches_hand_computed_steps() {
    // buf ← 0.9 buf + g;  θ ← θ − 0.1 (g + 0.9 buf)
    // step 1: buf = (0.5, −1 | 2), g + 0.9 buf = (0.95, −1.9 | 3.8)
    //         → w = (0.905, −1.81), b = 0.5 − 0.38 = 0.12
    // step 2: buf = (0.2, −0.4 | 2.8), g + 0.9 buf = (−0.25 + 0.18, 0.5 − 0.36 | 1 + 2.52) = (−0.07, 0.14 | 3.52)
    //         → w = (0.912, −1.824), b = 0.12 − 0.352 = −0.232
    let want = [[0.905, -1.81, 0.12], [0.912, -1.824, -0.232]];
    let mut model = start();
    let mut opt = Momentum::new(0.1).momentum(0.9).nesterov(true);
    for (k, g) in grads()[..2].iter().enumerate() {
        opt.step(&mut model, g);
        assert_close(&model, want[k], TOL, &format!("Nesterov step {}", k + 1));
    }
}

// --------------------------------------------------------------------------------------------- Adagrad

#[test]
fn adagrad_matches_hand_computed_steps() {
    const EPS: f64 = 1e-10;
    // s ← s + g²;  θ ← θ − 0.1 g / (√s + 1e-10)
    // step 1: s = (0.25, 1 | 4): every element moves by 0.1 against its gradient's sign
    //         → w ≈ (0.9, −1.9), b ≈ 0.4
    // step 2: s = (0.3125, 1.25 | 5)
    //         → w0 = 0.9 + 0.025/√0.3125 ≈ 0.944721, w1 = −1.9 − 0.05/√1.25 ≈ −1.944721, b = 0.4 − 0.1/√5 ≈ 0.355279
    // step 3: s = (1.3125, 1.25 | 14)
    //         → w0 −= 0.1/√1.3125, w1 unchanged (g = 0), b += 0.3/√14
    let s1 = [
        1.0 - 0.1 * 0.5 / (0.5 + EPS),
        -2.0 + 0.1 * 1.0 / (1.0 + EPS),
        0.5 - 0.1 * 2.0 / (2.0 + EPS),
    ];
    let s2 = [
        s1[0] + 0.1 * 0.25 / (0.3125f64.sqrt() + EPS),
        s1[1] - 0.1 * 0.5 / (1.25f64.sqrt() + EPS),
        s1[2] - 0.1 * 1.0 / (5f64.sqrt() + EPS),
    ];
    let s3 = [
        s2[0] - 0.1 * 1.0 / (1.3125f64.sqrt() + EPS),
        s2[1],
        s2[2] + 0.1 * 3.0 / (14f64.sqrt() + EPS),
    ];
    // The hand-rounded decimals agree with the scalar expressions.
    assert_close(
        &tiny([s1[0], s1[1]], s1[2]),
        [0.9, -1.9, 0.4],
        1e-9,
        "check",
    );
    assert_close(
        &tiny([s2[0], s2[1]], s2[2]),
        [0.944721, -1.944721, 0.355279],
        1e-6,
        "check",
    );
    let mut model = start();
    let mut opt = Adagrad::new(0.1);
    for (k, (g, want)) in grads().iter().zip([s1, s2, s3]).enumerate() {
        opt.step(&mut model, g);
        assert_close(&model, want, TOL, &format!("Adagrad step {}", k + 1));
    }
}

#[test]
fn adagrad_lr_decay_and_initial_accumulator() {
    // initial s = 1, lr_decay = 0.5: η_1 = 0.1, η_2 = 0.1 / 1.5.
    // step 1: s_w0 = 1 + 0.25 = 1.25 → w0 = 1 − 0.1 · 0.5/√1.25
    // step 2: s_w0 = 1.25 + 0.0625 = 1.3125 → w0 += (0.1/1.5) · 0.25/√1.3125
    let w0 = 1.0 - 0.1 * 0.5 / (1.25f64.sqrt() + 1e-10);
    let w0 = w0 + (0.1 / 1.5) * 0.25 / (1.3125f64.sqrt() + 1e-10);
    let mut model = start();
    let mut opt = Adagrad::new(0.1)
        .lr_decay(0.5)
        .initial_accumulator_value(1.0);
    opt.step(&mut model, &grads()[0]);
    opt.step(&mut model, &grads()[1]);
    assert!((model.w[0] - w0).abs() < TOL, "{} vs {w0}", model.w[0]);
}

// --------------------------------------------------------------------------------------------- RMSprop

#[test]
fn rmsprop_matches_hand_computed_steps() {
    const EPS: f64 = 1e-8;
    // v ← 0.99 v + 0.01 g²;  θ ← θ − 0.01 g / (√v + 1e-8)
    // step 1: v = (0.0025, 0.01 | 0.04), √v = (0.05, 0.1 | 0.2) = |g|/10: each element moves by 0.1
    //         → w ≈ (0.9, −1.9), b ≈ 0.4
    // step 2: v = (0.002475 + 0.000625, 0.0099 + 0.0025 | 0.0396 + 0.01) = (0.0031, 0.0124 | 0.0496)
    //         → w0 = 0.9 + 0.0025/√0.0031 ≈ 0.944901, w1 = −1.9 − 0.005/√0.0124 ≈ −1.944901,
    //           b = 0.4 − 0.01/√0.0496 ≈ 0.355099
    let s1 = [
        1.0 - 0.01 * 0.5 / (0.05 + EPS),
        -2.0 + 0.01 * 1.0 / (0.1 + EPS),
        0.5 - 0.01 * 2.0 / (0.2 + EPS),
    ];
    let s2 = [
        s1[0] + 0.01 * 0.25 / (0.0031f64.sqrt() + EPS),
        s1[1] - 0.01 * 0.5 / (0.0124f64.sqrt() + EPS),
        s1[2] - 0.01 * 1.0 / (0.0496f64.sqrt() + EPS),
    ];
    assert_close(
        &tiny([s1[0], s1[1]], s1[2]),
        [0.9, -1.9, 0.4],
        1e-6,
        "check",
    );
    assert_close(
        &tiny([s2[0], s2[1]], s2[2]),
        [0.944901, -1.944901, 0.355099],
        1e-6,
        "check",
    );
    let mut model = start();
    let mut opt = RmsProp::new(0.01);
    for (k, (g, want)) in grads().iter().zip([s1, s2]).enumerate() {
        opt.step(&mut model, g);
        assert_close(&model, want, TOL, &format!("RMSprop step {}", k + 1));
    }
}

#[test]
fn rmsprop_centered_with_momentum_matches_scalar_arithmetic() {
    // Element w0 only (g = 0.5, then −0.25), α = 0.99, μ = 0.5, η = 0.01, centered:
    // step 1: v = 0.0025, m = 0.005, d = √(0.0025 − 0.000025) + ε, buf = 0.5/d, w0 = 1 − 0.01 buf
    // step 2: v = 0.0031, m = 0.00495 − 0.0025 = 0.00245, d = √(0.0031 − 0.00245²) + ε,
    //         buf = 0.5 buf + (−0.25)/d, w0 −= 0.01 buf
    const EPS: f64 = 1e-8;
    let buf1 = 0.5 / ((0.0025f64 - 0.000025).sqrt() + EPS);
    let w0_1 = 1.0 - 0.01 * buf1;
    let buf2 = 0.5 * buf1 + (-0.25) / ((0.0031f64 - 0.00245 * 0.00245).sqrt() + EPS);
    let w0_2 = w0_1 - 0.01 * buf2;
    let mut model = start();
    let mut opt = RmsProp::new(0.01).momentum(0.5).centered(true);
    opt.step(&mut model, &grads()[0]);
    assert!(
        (model.w[0] - w0_1).abs() < 1e-10,
        "{} vs {w0_1}",
        model.w[0]
    );
    opt.step(&mut model, &grads()[1]);
    assert!(
        (model.w[0] - w0_2).abs() < 1e-10,
        "{} vs {w0_2}",
        model.w[0]
    );
    let names: Vec<String> = opt.state().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "step",
            "square_avg.w",
            "momentum_buffer.w",
            "grad_avg.w",
            "square_avg.b",
            "momentum_buffer.b",
            "grad_avg.b"
        ]
    );
}

// ------------------------------------------------------------------------------------------------ Adam

/// One Adam step on a scalar, written the textbook way (m̂, v̂), not the way the library arranges it.
fn adam_scalar(theta: f64, g: f64, m: &mut f64, v: &mut f64, t: i32, lr: f64) -> f64 {
    let (b1, b2, eps) = (0.9, 0.999, 1e-8);
    *m = b1 * *m + (1.0 - b1) * g;
    *v = b2 * *v + (1.0 - b2) * g * g;
    let m_hat = *m / (1.0 - f64::powi(b1, t));
    let v_hat = *v / (1.0 - f64::powi(b2, t));
    theta - lr * m_hat / (v_hat.sqrt() + eps)
}

#[test]
fn adam_matches_hand_computed_steps() {
    // η = 0.1.
    // step 1: m = 0.1 g, v = 0.001 g², m̂ = g, v̂ = g² → every element moves by η·g/(|g| + ε) ≈ 0.1:
    //         w ≈ (0.9, −1.9), b ≈ 0.4
    // step 2, element w0 (g = −0.25): m = 0.9·0.05 − 0.025 = 0.02, v = 0.999·0.00025 + 0.001·0.0625 = 0.00031225,
    //         m̂ = 0.02/0.19 ≈ 0.105263, v̂ = 0.00031225/0.001999 ≈ 0.156203, √v̂ ≈ 0.395225,
    //         w0 ≈ 0.9 − 0.1·0.105263/0.395225 ≈ 0.873366 (momentum still pushes w0 down)
    let mut model = start();
    let mut opt = Adam::new(0.1);
    let mut theta = [1.0, -2.0, 0.5];
    let (mut m, mut v) = ([0.0; 3], [0.0; 3]);
    for (k, g) in grads().iter().enumerate() {
        let gs = [g.w[0], g.w[1], g.b[0]];
        for i in 0..3 {
            theta[i] = adam_scalar(theta[i], gs[i], &mut m[i], &mut v[i], k as i32 + 1, 0.1);
        }
        opt.step(&mut model, g);
        assert_close(&model, theta, TOL, &format!("Adam step {}", k + 1));
        if k == 0 {
            assert_close(&model, [0.9, -1.9, 0.4], 1e-8, "Adam step 1 by hand");
        }
        if k == 1 {
            assert!((model.w[0] - 0.873366).abs() < 1e-6, "{}", model.w[0]);
        }
    }
}

#[test]
fn adam_weight_decay_is_added_to_the_gradient() {
    // λ = 0.5: g_w0 = 0.5 + 0.5·1 = 1, and the first step moves by η·g/(|g| + ε) ≈ η whatever g is:
    // use g = 0 instead, so that the whole gradient is λθ = 0.5: w0 = 1 − 0.1·0.5/(0.5 + 1e-8).
    let mut model = start();
    Adam::new(0.1)
        .weight_decay(0.5)
        .step(&mut model, &tiny([0.0, 0.0], 0.0));
    let want = [
        1.0 - 0.1 * 0.5 / (0.5 + 1e-8),
        -2.0 + 0.1 * 1.0 / (1.0 + 1e-8),
        0.5 - 0.1 * 0.25 / (0.25 + 1e-8),
    ];
    assert_close(&model, want, TOL, "Adam with weight decay");
}

/// f(θ) = Σ a_i (θ_i − c_i)², ∇f = 2 a (θ − c), with c = (3, −1 | −0.5) and a = (1, 10 | 0.1).
fn quadratic(model: &Tiny) -> (f64, Tiny) {
    let c = [3.0, -1.0, -0.5];
    let a = [1.0, 10.0, 0.1];
    let th = [model.w[0], model.w[1], model.b[0]];
    let loss = (0..3).map(|i| a[i] * (th[i] - c[i]).powi(2)).sum();
    let g: Vec<f64> = (0..3).map(|i| 2.0 * a[i] * (th[i] - c[i])).collect();
    (loss, tiny([g[0], g[1]], g[2]))
}

#[test]
fn adam_minimises_a_quadratic() {
    let mut model = start();
    let mut opt = Adam::new(0.05);
    let (first, _) = quadratic(&model);
    for _ in 0..2000 {
        let (_, g) = quadratic(&model);
        opt.step(&mut model, &g);
    }
    let (last, _) = quadratic(&model);
    eprintln!("Adam on a quadratic: loss {first} -> {last:e}, θ = {model:?}");
    assert!(first > 1.0);
    assert!(last < 1e-8, "loss only fell to {last}");
    assert_close(&model, [3.0, -1.0, -0.5], 1e-3, "Adam minimum");
}

#[test]
fn every_optimiser_descends_a_quadratic_through_a_trait_object() {
    let optimisers: Vec<(&str, Box<dyn Optimizer>)> = vec![
        ("sgd", Box::new(Sgd::new(0.04))),
        ("momentum", Box::new(Momentum::new(0.01))),
        ("nesterov", Box::new(Momentum::new(0.01).nesterov(true))),
        ("adagrad", Box::new(Adagrad::new(0.5))),
        ("rmsprop", Box::new(RmsProp::new(0.01))),
        (
            "rmsprop centered",
            Box::new(RmsProp::new(0.01).centered(true)),
        ),
        ("adam", Box::new(Adam::new(0.05))),
    ];
    for (name, mut opt) in optimisers {
        let mut model = start();
        let (first, _) = quadratic(&model);
        for _ in 0..500 {
            let (_, g) = quadratic(&model);
            opt.step(&mut model, &g);
        }
        let (last, _) = quadratic(&model);
        eprintln!("{name:>16}: loss {first:.3} -> {last:.3e}");
        assert!(
            last < 0.01 * first,
            "{name}: loss went from {first} to {last}"
        );
    }
}

#[test]
fn weight_decay_equals_adding_lambda_theta_to_the_gradient_for_every_optimiser() {
    // With decay λ and gradient g, each step must equal the undecayed step with gradient g + λθ.
    let lambda = 0.3;
    let pairs: Vec<(&str, BoxedOpt, BoxedOpt)> = vec![
        (
            "sgd",
            Box::new(Sgd::new(0.1).weight_decay(lambda)),
            Box::new(Sgd::new(0.1)),
        ),
        (
            "momentum",
            Box::new(Momentum::new(0.1).nesterov(true).weight_decay(lambda)),
            Box::new(Momentum::new(0.1).nesterov(true)),
        ),
        (
            "adagrad",
            Box::new(Adagrad::new(0.1).weight_decay(lambda)),
            Box::new(Adagrad::new(0.1)),
        ),
        (
            "rmsprop",
            Box::new(
                RmsProp::new(0.01)
                    .momentum(0.5)
                    .centered(true)
                    .weight_decay(lambda),
            ),
            Box::new(RmsProp::new(0.01).momentum(0.5).centered(true)),
        ),
        (
            "adam",
            Box::new(Adam::new(0.1).weight_decay(lambda)),
            Box::new(Adam::new(0.1)),
        ),
    ];
    for (name, mut decayed, mut plain) in pairs {
        let (mut a, mut b) = (start(), start());
        for g in grads() {
            decayed.step(&mut a, &g);
            let g_plus = tiny(
                [g.w[0] + lambda * b.w[0], g.w[1] + lambda * b.w[1]],
                g.b[0] + lambda * b.b[0],
            );
            plain.step(&mut b, &g_plus);
        }
        assert_eq!(bits(&a), bits(&b), "{name}");
        assert_ne!(bits(&a), bits(&start()), "{name} did not move");
    }
}

// ---------------------------------------------------------------------------------------------- State

/// Deterministic pseudo-random gradients, different at every step.
fn noisy_grads(k: usize) -> Tiny {
    let x = k as f64;
    tiny(
        [(1.3 * x).sin(), (0.7 * x + 1.0).cos() * 2.0],
        (x * x * 0.1).sin() - 0.3,
    )
}

fn factories() -> Vec<(&'static str, Factory)> {
    vec![
        ("sgd", || Box::new(Sgd::new(0.1).weight_decay(0.01))),
        ("momentum", || Box::new(Momentum::new(0.1))),
        ("nesterov", || Box::new(Momentum::new(0.1).nesterov(true))),
        ("adagrad", || Box::new(Adagrad::new(0.1).lr_decay(0.1))),
        ("rmsprop", || Box::new(RmsProp::new(0.01))),
        ("rmsprop+", || {
            Box::new(RmsProp::new(0.01).momentum(0.9).centered(true))
        }),
        ("adam", || Box::new(Adam::new(0.01).weight_decay(0.001))),
    ]
}

fn bits(model: &Tiny) -> Vec<u64> {
    model
        .w
        .iter()
        .chain(&model.b)
        .map(|v| v.to_bits())
        .collect()
}

#[test]
fn state_round_trip_continues_bit_identically() {
    for (name, make) in factories() {
        // Five uninterrupted steps.
        let mut straight = start();
        let mut opt = make();
        for k in 0..5 {
            opt.step(&mut straight, &noisy_grads(k));
        }
        // Three steps, save, a fresh optimiser loads the state, two more steps.
        let mut resumed = start();
        let mut first = make();
        for k in 0..3 {
            first.step(&mut resumed, &noisy_grads(k));
        }
        let resumed_after_three = resumed.clone();
        let state = first.state();
        let step = state
            .iter()
            .find(|(n, _)| n == "step")
            .expect("a step entry");
        assert_eq!(step.1.shape(), &[] as &[usize], "{name}");
        assert_eq!(step.1[IxDyn(&[])], 3.0, "{name}");
        let mut second = make();
        second.load_state(state.clone()).unwrap();
        assert_eq!(second.state(), state, "{name}: state differs after loading");
        for k in 3..5 {
            second.step(&mut resumed, &noisy_grads(k));
        }
        assert_eq!(
            bits(&resumed),
            bits(&straight),
            "{name}: resumed run differs"
        );
        // The order of the entries does not matter (a checkpoint returns them sorted by name).
        let mut shuffled_run = resumed_after_three.clone();
        let mut third = make();
        third
            .load_state(state.iter().rev().cloned().collect())
            .unwrap();
        for k in 3..5 {
            third.step(&mut shuffled_run, &noisy_grads(k));
        }
        assert_eq!(
            bits(&shuffled_run),
            bits(&straight),
            "{name}: reordered state differs"
        );
        assert_eq!(second.state(), opt.state(), "{name}: final states differ");
        // And the check against the model passes too.
        make().load_state_for(&resumed, state).unwrap();
    }
}

#[test]
fn a_fresh_optimiser_state_is_just_the_step_counter() {
    for (name, make) in factories() {
        let state = make().state();
        assert_eq!(state.len(), 1, "{name}");
        assert_eq!(state[0].0, "step");
        assert_eq!(state[0].1[IxDyn(&[])], 0.0);
        make().load_state(state).unwrap();
    }
}

#[test]
fn adam_state_names_follow_pytorch() {
    let mut model = start();
    let mut opt = Adam::new(0.1);
    opt.step(&mut model, &grads()[0]);
    let state = opt.state();
    let names: Vec<&str> = state.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "step",
            "exp_avg.w",
            "exp_avg_sq.w",
            "exp_avg.b",
            "exp_avg_sq.b"
        ]
    );
    // m = 0.1 g, v = 0.001 g² after one step.
    assert!((state[1].1[[0]] - 0.05).abs() < 1e-15);
    assert!((state[2].1[[1]] - 0.001).abs() < 1e-15);
    assert_eq!(state[3].1.shape(), &[1]);
}

fn adam_state_after_one_step() -> Vec<(String, ArrayD<f64>)> {
    let mut model = start();
    let mut opt = Adam::new(0.1);
    opt.step(&mut model, &grads()[0]);
    opt.state()
}

#[track_caller]
fn assert_state_error(result: rnn::Result<()>, needle: &str) {
    match result {
        Err(e @ Error::OptimizerState(_)) => {
            let msg = e.to_string();
            assert!(msg.contains(needle), "message {msg:?} lacks {needle:?}");
        }
        other => panic!("expected Error::OptimizerState mentioning {needle:?}, got {other:?}"),
    }
}

#[test]
fn load_state_rejects_bad_states_and_changes_nothing() {
    let good = adam_state_after_one_step();
    let edit = |f: &dyn Fn(&mut StateList)| {
        let mut s = good.clone();
        f(&mut s);
        s
    };
    let cases: Vec<(&str, StateList, &str)> = vec![
        (
            "no step",
            edit(&|s| s.retain(|(n, _)| n != "step")),
            "`step` is missing",
        ),
        (
            "missing buffer",
            edit(&|s| s.retain(|(n, _)| n != "exp_avg_sq.b")),
            "`exp_avg_sq.b` is missing",
        ),
        (
            "unknown kind",
            edit(&|s| s.push(("momentum_buffer.w".into(), ArrayD::zeros(IxDyn(&[2]))))),
            "unexpected entry `momentum_buffer.w`",
        ),
        (
            "not per-parameter",
            edit(&|s| s.push(("lr".into(), ArrayD::zeros(IxDyn(&[]))))),
            "unexpected entry `lr`",
        ),
        (
            "shapes disagree",
            edit(&|s| s[2].1 = ArrayD::zeros(IxDyn(&[3]))),
            "`exp_avg_sq.w` has shape [3] but `exp_avg.w` has shape [2]",
        ),
        (
            "fractional step",
            edit(&|s| s[0].1 = ArrayD::from_elem(IxDyn(&[]), 2.5)),
            "whole number",
        ),
        (
            "step with two numbers",
            edit(&|s| s[0].1 = ArrayD::zeros(IxDyn(&[2]))),
            "must hold one number",
        ),
        (
            "duplicate",
            edit(&|s| {
                let d = s[1].clone();
                s.push(d)
            }),
            "`exp_avg.w` appears twice",
        ),
    ];
    for (what, state, needle) in cases {
        let mut opt = Adam::new(0.1);
        assert_state_error(opt.load_state(state), needle);
        assert_eq!(
            opt.state().len(),
            1,
            "{what}: a failed load changed the state"
        );
    }
    // A state of another optimiser.
    assert_state_error(
        Momentum::new(0.1).load_state(good.clone()),
        "unexpected entry `exp_avg.w`",
    );
    // A 1-element step counter is accepted too.
    let one = edit(&|s| s[0].1 = ArrayD::from_elem(IxDyn(&[1]), 7.0));
    let mut opt = Adam::new(0.1);
    opt.load_state(one).unwrap();
    assert_eq!(opt.state()[0].1[IxDyn(&[])], 7.0);
}

#[test]
fn load_state_into_an_optimiser_serving_other_parameters_fails() {
    // The optimiser has stepped on `Tiny`; a state for a model with a 3-element `w` does not fit.
    let mut model = start();
    let mut opt = Adam::new(0.1);
    opt.step(&mut model, &grads()[0]);
    let before = opt.state();
    let mut other = adam_state_after_one_step();
    other[1].1 = ArrayD::zeros(IxDyn(&[3]));
    other[2].1 = ArrayD::zeros(IxDyn(&[3]));
    assert_state_error(opt.load_state(other), "already serves");
    assert_eq!(opt.state(), before);
}

#[test]
fn load_state_for_checks_the_state_against_the_model() {
    let good = adam_state_after_one_step();
    let model = start();
    // Parameter renamed: `w` → `v` in the model's eyes.
    let renamed: Vec<_> = good
        .iter()
        .map(|(n, t)| (n.replace(".w", ".v"), t.clone()))
        .collect();
    assert_state_error(
        Adam::new(0.1).load_state_for(&model, renamed),
        "parameter `v` the model does not have",
    );
    // The model's `w` has 3 elements.
    let bigger = Tiny {
        w: array![1.0, 2.0, 3.0],
        b: array![0.0],
    };
    assert_state_error(
        Adam::new(0.1).load_state_for(&bigger, good.clone()),
        "`exp_avg.w` has shape [2] but the model's `w` has shape [3]",
    );
    // The state covers only `w`.
    let only_w: Vec<_> = good
        .iter()
        .filter(|(n, _)| !n.ends_with(".b"))
        .cloned()
        .collect();
    assert_state_error(
        Adam::new(0.1).load_state_for(&model, only_w),
        "no `exp_avg.b`",
    );
    Adam::new(0.1).load_state_for(&model, good).unwrap();
}

#[test]
#[should_panic(expected = "parameter `w` has shape [2] but its gradient has shape [3]")]
fn step_panics_on_gradient_of_the_wrong_shape() {
    let mut model = start();
    let g = Tiny {
        w: array![1.0, 2.0, 3.0],
        b: array![0.0],
    };
    Adam::new(0.1).step(&mut model, &g);
}

#[test]
#[should_panic(expected = "use one optimiser per model")]
fn one_optimiser_cannot_serve_two_models() {
    let mut opt = Momentum::new(0.1);
    let mut a = start();
    opt.step(&mut a, &grads()[0]);
    let mut b = Tiny {
        w: array![1.0, 2.0, 3.0],
        b: array![0.0],
    };
    let gb = b.clone();
    opt.step(&mut b, &gb);
}

// ------------------------------------------------------------------------------------------- Clipping

#[test]
fn clip_by_value_clamps_each_element() {
    let mut g = tiny([-7.0, 0.5], 5.25);
    clip_by_value(&mut g, 5.0);
    assert_eq!(g, tiny([-5.0, 0.5], 5.0));
    let mut g = tiny([f64::NAN, -0.0], 1e300);
    clip_by_value(&mut g, 1.0);
    assert!(g.w[0].is_nan());
    assert_eq!((g.w[1], g.b[0]), (0.0, 1.0));
}

#[test]
fn global_norm_spans_all_tensors() {
    // √(1 + 4 + 4) = 3
    assert_eq!(global_norm(&tiny([1.0, 2.0], 2.0)), 3.0);
    assert_eq!(global_norm(&tiny([0.0, 0.0], 0.0)), 0.0);
}

#[test]
fn clip_by_global_norm_all_uses_one_norm_over_every_model() {
    // Two models, (3, 0 | 0) and (0, 0 | 4): one norm 5 over both, both scaled by the same 2/(5 + 1e-6).
    let (mut a, mut b) = (tiny([3.0, 0.0], 0.0), tiny([0.0, 0.0], 4.0));
    let norm = clip_by_global_norm_all(&mut [&mut a, &mut b], 2.0);
    assert_eq!(norm, 5.0);
    let c = 2.0 / (5.0 + 1e-6);
    assert_close(&a, [3.0 * c, 0.0, 0.0], 1e-15, "first model");
    assert_close(&b, [0.0, 0.0, 4.0 * c], 1e-15, "second model");
    // Clipping each by its own norm would give 2 and 2 (the direction changes); here the ratio stays 3 : 4.
    assert!((a.w[0] / b.b[0] - 0.75).abs() < 1e-15);
    // Below the bar nothing moves; a non-finite norm leaves the gradients alone.
    let (mut a, mut b) = (tiny([0.3, 0.0], 0.0), tiny([0.0, 0.0], 0.4));
    assert_eq!(clip_by_global_norm_all(&mut [&mut a, &mut b], 1.0), 0.5);
    assert_close(&a, [0.3, 0.0, 0.0], 0.0, "unclipped");
    let (mut a, mut b) = (tiny([f64::INFINITY, 0.0], 0.0), tiny([0.0, 0.0], 1.0));
    assert!(clip_by_global_norm_all(&mut [&mut a, &mut b], 1.0).is_infinite());
    assert_close(&b, [0.0, 0.0, 1.0], 0.0, "non-finite norm");
}

#[test]
fn clip_by_global_norm_scales_down_to_max_norm() {
    // ‖(3, 4, 0)‖ = 5, max_norm 1: c = 1/(5 + 1e-6), g = (0.6, 0.8, 0) up to the 1e-6 epsilon.
    let mut g = tiny([3.0, 4.0], 0.0);
    let norm = clip_by_global_norm(&mut g, 1.0);
    assert_eq!(norm, 5.0);
    assert!(
        (g.w[0] - 0.6).abs() < 1e-6 && (g.w[1] - 0.8).abs() < 1e-6,
        "{g:?}"
    );
    let c = 1.0 / (5.0 + 1e-6);
    assert_close(&g, [3.0 * c, 4.0 * c, 0.0], 1e-15, "clip by norm");
    assert!(global_norm(&g) < 1.0);
    // Spread over two tensors: ‖(0, 3 | 4)‖ = 5, max_norm 2.5 → (0, 1.5 | 2) up to the epsilon.
    let mut g = tiny([0.0, 3.0], 4.0);
    assert_eq!(clip_by_global_norm(&mut g, 2.5), 5.0);
    assert_close(&g, [0.0, 1.5, 2.0], 1e-6, "two tensors");
}

#[test]
fn clip_by_global_norm_leaves_small_gradients_alone() {
    let mut g = tiny([3.0, 4.0], 0.0);
    assert_eq!(clip_by_global_norm(&mut g, 10.0), 5.0);
    assert_eq!(g, tiny([3.0, 4.0], 0.0));
    let mut z = tiny([0.0, 0.0], 0.0);
    assert_eq!(clip_by_global_norm(&mut z, 1.0), 0.0);
    assert_eq!(z, tiny([0.0, 0.0], 0.0));
    // Exactly at max_norm the epsilon makes c slightly below 1, as in PyTorch.
    let mut g = tiny([3.0, 4.0], 0.0);
    clip_by_global_norm(&mut g, 5.0);
    assert!(g.w[0] < 3.0 && (g.w[0] - 3.0).abs() < 1e-6);
}

#[test]
fn clip_by_global_norm_reports_non_finite_norms_without_touching_gradients() {
    let mut g = tiny([f64::INFINITY, 1.0], 2.0);
    assert_eq!(clip_by_global_norm(&mut g, 1.0), f64::INFINITY);
    assert_eq!(g, tiny([f64::INFINITY, 1.0], 2.0));
    let mut g = tiny([f64::NAN, 1.0], 2.0);
    assert!(clip_by_global_norm(&mut g, 1.0).is_nan());
    assert_eq!((g.w[1], g.b[0]), (1.0, 2.0));
}
