//! Deep and bidirectional stacks (`rnn::stack`): finite-difference checks of the whole stack (parameters,
//! inputs, every initial state, with and without dropout), PyTorch parameter names and order, the
//! bidirectional layout, and dropout semantics.
//!
//! The checks are generic over the cell. LSTM and GRU cases are `#[ignore]`d until those cells land; run
//! them with `cargo test -p rnn --test gradcheck_stack -- --ignored`.

use ndarray::{s, Array2, Array3, Axis, Ix2, Ix3};
use rnn::bptt::{reverse_time, unroll};
use rnn::cells::{AnyCell, CellKind};
use rnn::gradcheck::{check_params, check_tensor, Report, TOLERANCE};
use rnn::init::{uniform, Rng};
use rnn::prelude::*;
use rnn::stack::{Rnn, RnnCache};

/// The dropout rng is re-seeded for every loss evaluation, so every evaluation sees the same masks.
const DROPOUT_SEED: u64 = 99;

fn rand3(shape: (usize, usize, usize), scale: f64, rng: &mut Rng) -> Array3<f64> {
    uniform(&[shape.0, shape.1, shape.2], -scale, scale, rng)
        .into_dimensionality::<Ix3>()
        .unwrap()
}

fn rand2(shape: (usize, usize), scale: f64, rng: &mut Rng) -> Array2<f64> {
    uniform(&[shape.0, shape.1], -scale, scale, rng)
        .into_dimensionality::<Ix2>()
        .unwrap()
}

/// A random state shaped like `like` (h, and c and the FGR gates if the cell has them).
fn rand_state(like: &State, scale: f64, rng: &mut Rng) -> State {
    State {
        h: rand2(like.h.dim(), scale, rng),
        c: like.c.as_ref().map(|c| rand2(c.dim(), scale, rng)),
        gates: like.gates.as_ref().map(|g| rand2(g.dim(), scale, rng)),
    }
}

/// Forward in training mode with a freshly seeded dropout rng (fixed masks).
fn run<C: Cell>(
    m: &Rnn<C>,
    xs: &Array3<f64>,
    init: &[State],
) -> (Array3<f64>, Vec<State>, RnnCache<C>) {
    let mut drng = rnn::init::rng(DROPOUT_SEED);
    m.forward(xs.view(), Some(init), Some(&mut drng))
}

/// Checks parameters, xs and every initial state (h, and c if any) of `model` against finite differences,
/// for the loss `Σ R ⊙ outputs + Σ_k S_k ⊙ h_n[k] (+ Σ_k U_k ⊙ c_n[k])` with fixed random R, S, U.
fn check_stack<C: Cell>(model: &Rnn<C>, t: usize, b: usize, rng: &mut Rng) -> Report {
    let (d, h, dirs) = (
        model.input_size(),
        model.hidden_size(),
        model.num_directions(),
    );
    let xs = rand3((t, b, d), 1.0, rng);
    let init: Vec<State> = model
        .zero_states(b)
        .iter()
        .map(|z| rand_state(z, 0.5, rng))
        .collect();
    let r = rand3((t, b, dirs * h), 1.0, rng);
    let s_final: Vec<State> = init.iter().map(|z| rand_state(z, 1.0, rng)).collect();

    let loss = |m: &Rnn<C>, xs: &Array3<f64>, init: &[State]| -> f64 {
        let (out, finals, _) = run(m, xs, init);
        let mut l = (&out * &r).sum();
        for (f, s) in finals.iter().zip(&s_final) {
            l += (&f.h * &s.h).sum();
            if let (Some(c), Some(sc)) = (&f.c, &s.c) {
                l += (c * sc).sum();
            }
        }
        l
    };

    // analytic gradients
    let (out, _, cache) = run(model, &xs, &init);
    assert_eq!(out.dim(), (t, b, dirs * h));
    if model.dropout > 0.0 && model.num_layers() > 1 {
        assert!(
            cache.layers[0].mask.is_some(),
            "training forward with p > 0 must draw a dropout mask"
        );
    }
    let mut grads = model.zeros_like();
    let (dxs, d_init) = model.backward(&cache, r.view(), Some(&s_final), &mut grads);
    assert_eq!(dxs.dim(), xs.dim());
    assert_eq!(d_init.len(), init.len());

    let mut report = check_params(model, &grads, |m| loss(m, &xs, &init));
    report.tensors.push(check_tensor(
        "xs",
        &xs.clone().into_dyn(),
        &dxs.into_dyn(),
        |x| loss(model, &x.clone().into_dimensionality().unwrap(), &init),
    ));
    for (k, dk) in d_init.into_iter().enumerate() {
        report.tensors.push(check_tensor(
            &format!("h0[{k}]"),
            &init[k].h.clone().into_dyn(),
            &dk.h.into_dyn(),
            |x| {
                let mut st = init.clone();
                st[k].h = x.clone().into_dimensionality().unwrap();
                loss(model, &xs, &st)
            },
        ));
        if let (Some(c0), Some(dc)) = (&init[k].c, dk.c) {
            report.tensors.push(check_tensor(
                &format!("c0[{k}]"),
                &c0.clone().into_dyn(),
                &dc.into_dyn(),
                |x| {
                    let mut st = init.clone();
                    st[k].c = Some(x.clone().into_dimensionality().unwrap());
                    loss(model, &xs, &st)
                },
            ));
        }
    }
    report
}

/// (layers, bidirectional, dropout, D, H, T, B): depth 1 to 3, both directions, with and without dropout.
const CASES: [(usize, bool, f64, usize, usize, usize, usize); 8] = [
    (1, false, 0.0, 3, 4, 5, 2),
    (1, true, 0.0, 2, 3, 4, 3),
    (2, false, 0.0, 3, 3, 4, 2),
    (2, true, 0.0, 2, 3, 5, 2),
    (2, true, 0.0, 1, 1, 1, 1),
    (2, false, 0.3, 4, 3, 4, 3),
    (2, true, 0.3, 3, 4, 3, 2),
    (3, true, 0.3, 2, 3, 3, 2),
];

/// Runs every case of [`CASES`] for cells made by `make_cell`, asserting every tensor below 1e-7.
fn check_all_cases<C: Cell>(
    label: &str,
    seed: u64,
    mut make_cell: impl FnMut(usize, usize, &mut Rng) -> C,
) {
    let mut rng = rnn::init::rng(seed);
    let mut worst: f64 = 0.0;
    for (layers, bidir, p, d, h, t, b) in CASES {
        let model = Rnn::new(d, h, layers, bidir, p, &mut make_cell, &mut rng).unwrap();
        let report = check_stack(&model, t, b, &mut rng);
        eprintln!(
            "{label} layers={layers} bidirectional={bidir} p={p} D={d} H={h} T={t} B={b}: worst {:.2e}",
            report.max_rel_error()
        );
        worst = worst.max(report.max_rel_error());
        report.assert_below(TOLERANCE);
    }
    eprintln!("{label}: worst relative error over all cases {worst:.2e}");
}

#[test]
fn elman_stack_matches_finite_differences() {
    check_all_cases("Elman", 21, Elman::new);
}

#[test]
fn any_cell_elman_stack_matches_finite_differences() {
    check_all_cases("AnyCell(Elman)", 22, |d, h, rng| {
        AnyCell::new(CellKind::RnnTanh, d, h, rng)
    });
}

#[test]

fn lstm_stack_matches_finite_differences() {
    check_all_cases("Lstm", 23, Lstm::new);
}

#[test]

fn gru_stack_matches_finite_differences() {
    check_all_cases("Gru", 24, Gru::new);
}

#[test]

fn any_cell_lstm_and_gru_stacks_match_finite_differences() {
    check_all_cases("AnyCell(Lstm)", 25, |d, h, rng| {
        AnyCell::new(CellKind::Lstm, d, h, rng)
    });
    check_all_cases("AnyCell(Gru)", 26, |d, h, rng| {
        AnyCell::new(CellKind::Gru, d, h, rng)
    });
}

/// A wrong backward must fail the stack check: here the reverse direction's gradient is dropped by
/// zeroing the second half of d_outputs before backward.
#[test]
fn stack_check_catches_a_missing_reverse_gradient() {
    let mut rng = rnn::init::rng(27);
    let model = Rnn::new(2, 3, 1, true, 0.0, Elman::new, &mut rng).unwrap();
    let xs = rand3((4, 2, 2), 1.0, &mut rng);
    let r = rand3((4, 2, 6), 1.0, &mut rng);
    let (_, _, cache) = model.forward(xs.view(), None, None);
    let mut broken = r.clone();
    broken.slice_mut(s![.., .., 3..]).fill(0.0);
    let mut grads = model.zeros_like();
    model.backward(&cache, broken.view(), None, &mut grads);
    let report = check_params(&model, &grads, |m| {
        (&m.forward(xs.view(), None, None).0 * &r).sum()
    });
    assert!(
        report.max_rel_error() > 1e-2,
        "a dropped reverse gradient should fail, got {report}"
    );
}

fn pytorch_names(layers: usize, bidirectional: bool) -> Vec<String> {
    let mut names = vec![];
    for k in 0..layers {
        let sfx: &[&str] = if bidirectional {
            &["", "_reverse"]
        } else {
            &[""]
        };
        for dir in sfx {
            for p in ["weight_ih", "weight_hh", "bias_ih", "bias_hh"] {
                names.push(format!("{p}_l{k}{dir}"));
            }
        }
    }
    names
}

fn names_and_shapes<M: Parameters>(m: &M) -> Vec<(String, Vec<usize>)> {
    m.params()
        .into_iter()
        .map(|(n, p)| (n, p.shape().to_vec()))
        .collect()
}

/// nn.RNN(5, 4, num_layers=2, bidirectional=True).state_dict(): names, order and shapes.
#[test]
fn parameter_names_match_pytorch_two_layer_bidirectional() {
    let mut rng = rnn::init::rng(30);
    let model = Rnn::new(5, 4, 2, true, 0.0, Elman::new, &mut rng).unwrap();
    let got = names_and_shapes(&model);
    let names: Vec<String> = got.iter().map(|(n, _)| n.clone()).collect();
    assert_eq!(names, pytorch_names(2, true));
    assert_eq!(
        names[..4],
        ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"].map(String::from)
    );
    assert_eq!(names[4], "weight_ih_l0_reverse");
    assert_eq!(names[8], "weight_ih_l1");
    assert_eq!(names[15], "bias_hh_l1_reverse");
    let shape = |n: &str| got.iter().find(|(m, _)| m == n).unwrap().1.clone();
    assert_eq!(shape("weight_ih_l0"), [4, 5]);
    assert_eq!(shape("weight_ih_l0_reverse"), [4, 5]);
    assert_eq!(shape("weight_ih_l1"), [4, 8]); // (H, 2H): layer 1 reads both directions
    assert_eq!(shape("weight_hh_l1_reverse"), [4, 4]);
    assert_eq!(shape("bias_ih_l1"), [4]);
    assert_eq!(
        model.num_params(),
        2 * (4 * 5 + 16 + 8) + 2 * (4 * 8 + 16 + 8)
    );

    // the same through AnyCell, and unidirectional
    let any = Rnn::new(
        5,
        4,
        2,
        true,
        0.0,
        |d, h, r| AnyCell::new(CellKind::RnnTanh, d, h, r),
        &mut rng,
    )
    .unwrap();
    assert_eq!(names_and_shapes(&any), got);
    let uni = Rnn::new(5, 4, 3, false, 0.0, Elman::new, &mut rng).unwrap();
    let uni_names: Vec<String> = uni.params().into_iter().map(|(n, _)| n).collect();
    assert_eq!(uni_names, pytorch_names(3, false));
}

#[test]

fn parameter_names_match_pytorch_for_lstm_and_gru() {
    let mut rng = rnn::init::rng(31);
    for (kind, gates) in [(CellKind::Lstm, 4), (CellKind::Gru, 3)] {
        let model = Rnn::new(
            5,
            4,
            2,
            true,
            0.0,
            |d, h, r| AnyCell::new(kind, d, h, r),
            &mut rng,
        )
        .unwrap();
        let got = names_and_shapes(&model);
        let names: Vec<String> = got.iter().map(|(n, _)| n.clone()).collect();
        assert_eq!(names, pytorch_names(2, true), "{kind}");
        assert_eq!(got[0].1, [gates * 4, 5], "{kind} weight_ih_l0");
        assert_eq!(got[8].1, [gates * 4, 8], "{kind} weight_ih_l1");
    }
}

/// Cells are created in PyTorch's order l0, l0_reverse, l1, l1_reverse from the one rng.
#[test]
fn cells_are_created_in_pytorch_order() {
    let model = Rnn::new(3, 2, 2, true, 0.0, Elman::new, &mut rnn::init::rng(32)).unwrap();
    let mut rng = rnn::init::rng(32);
    let want = [
        Elman::new(3, 2, &mut rng),
        Elman::new(3, 2, &mut rng),
        Elman::new(4, 2, &mut rng),
        Elman::new(4, 2, &mut rng),
    ];
    let got = [
        &model.layers[0].forward,
        model.layers[0].reverse.as_ref().unwrap(),
        &model.layers[1].forward,
        model.layers[1].reverse.as_ref().unwrap(),
    ];
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(*g, w);
    }
    assert_eq!((model.num_layers(), model.num_directions()), (2, 2));
    assert_eq!((model.input_size(), model.hidden_size()), (3, 2));
    let z = model.zero_states(5);
    assert_eq!(z.len(), 4);
    assert!(z
        .iter()
        .all(|s| s.h.dim() == (5, 2) && s.h.iter().all(|v| *v == 0.0)));
}

/// outputs[..., H..] is the reverse cell run over the time-reversed input, reversed back; outputs[..., ..H]
/// is the forward cell; h_n = [forward's last, reverse's last] (the reverse's last is its state at t = 0).
#[test]
fn bidirectional_output_layout_matches_pytorch() {
    let mut rng = rnn::init::rng(33);
    let (t, b, d, h) = (6, 3, 2, 4);
    let model = Rnn::new(d, h, 1, true, 0.0, Elman::new, &mut rng).unwrap();
    let xs = rand3((t, b, d), 1.0, &mut rng);
    let init: Vec<State> = model
        .zero_states(b)
        .iter()
        .map(|z| rand_state(z, 0.5, &mut rng))
        .collect();
    let (out, finals, _) = model.forward(xs.view(), Some(&init), None);
    assert_eq!(out.dim(), (t, b, 2 * h));

    let layer = &model.layers[0];
    let fwd = unroll(&layer.forward, xs.view(), &init[0]);
    let rev = unroll(
        layer.reverse.as_ref().unwrap(),
        reverse_time(xs.view()).view(),
        &init[1],
    );
    let rev_in_time_order = reverse_time(rev.outputs.view());
    assert_eq!(out.slice(s![.., .., ..h]), fwd.outputs);
    assert_eq!(out.slice(s![.., .., h..]), rev_in_time_order);
    assert_eq!(finals[0], fwd.last);
    assert_eq!(finals[1], rev.last);
    // the reverse direction's final state is its output at t = 0
    assert_eq!(finals[1].h, out.slice(s![0, .., h..]));
    assert_eq!(finals[0].h, out.slice(s![t - 1, .., ..h]));
    // and the reverse half really differs from a forward run of the reverse cell
    let wrong = unroll(layer.reverse.as_ref().unwrap(), xs.view(), &init[1]);
    assert_ne!(out.slice(s![.., .., h..]), wrong.outputs);
}

#[test]
fn dropout_only_in_training_between_layers_with_inverted_scaling() {
    let mut rng = rnn::init::rng(34);
    let (t, b, d, h, p) = (20, 10, 3, 20, 0.3);
    let model = Rnn::new(d, h, 2, false, p, Elman::new, &mut rng).unwrap();
    let xs = rand3((t, b, d), 1.0, &mut rng);

    // evaluation (no rng): exactly the two layers chained, no dropout
    let (eval_out, _, eval_cache) = model.forward(xs.view(), None, None);
    let l0 = unroll(
        &model.layers[0].forward,
        xs.view(),
        &model.layers[0].forward.zero_state(b),
    );
    let l1 = unroll(
        &model.layers[1].forward,
        l0.outputs.view(),
        &model.layers[1].forward.zero_state(b),
    );
    assert_eq!(eval_out, l1.outputs);
    assert!(eval_cache.layers.iter().all(|l| l.mask.is_none()));

    // training: layer 1 reads mask ⊙ layer 0's output; the last layer's output is not dropped
    let mut drng = rnn::init::rng(35);
    let (train_out, _, cache) = model.forward(xs.view(), None, Some(&mut drng));
    assert_ne!(train_out, eval_out);
    assert!(
        cache.layers[1].mask.is_none(),
        "no dropout after the last layer"
    );
    let mask = cache.layers[0].mask.as_ref().expect("a mask after layer 0");
    let dropped_in = &l0.outputs * mask;
    let l1_train = unroll(
        &model.layers[1].forward,
        dropped_in.view(),
        &model.layers[1].forward.zero_state(b),
    );
    assert_eq!(train_out, l1_train.outputs);

    // inverted dropout: entries are 0 or 1/(1-p), about a fraction 1-p kept, mean ≈ 1 (expected scale kept)
    let scale = 1.0 / (1.0 - p);
    assert!(mask.iter().all(|&m| m == 0.0 || (m - scale).abs() < 1e-15));
    let kept = mask.iter().filter(|&&m| m != 0.0).count() as f64 / mask.len() as f64;
    assert!(
        (kept - (1.0 - p)).abs() < 0.04,
        "kept fraction {kept}, expected about {}",
        1.0 - p
    );
    let mean = mask.mean().unwrap();
    assert!(
        (mean - 1.0).abs() < 0.06,
        "mask mean {mean}, expected about 1"
    );
    // per unit, the masked layer-0 output averages to the undropped one over many masks
    let mut acc = Array3::<f64>::zeros(l0.outputs.dim());
    let n = 400;
    for _ in 0..n {
        acc += &(rnn::stack::dropout_mask(l0.outputs.dim(), p, &mut drng) * &l0.outputs);
    }
    let avg_ratio = acc.sum_axis(Axis(0)).sum() / (n as f64 * l0.outputs.sum_axis(Axis(0)).sum());
    assert!(
        (avg_ratio - 1.0).abs() < 0.02,
        "E[mask ⊙ y] / y = {avg_ratio}, expected 1"
    );

    // same seed, same masks; p = 0 with an rng is the same as evaluation
    let (again, _, _) = model.forward(xs.view(), None, Some(&mut rnn::init::rng(35)));
    assert_eq!(again, train_out);
    let mut no_drop = model.clone();
    no_drop.dropout = 0.0;
    assert_eq!(
        no_drop
            .forward(xs.view(), None, Some(&mut rnn::init::rng(35)))
            .0,
        eval_out
    );

    // a single layer has nothing to drop (as in PyTorch, which only warns)
    let single = Rnn::new(d, h, 1, true, p, Elman::new, &mut rng).unwrap();
    let (a, _, c) = single.forward(xs.view(), None, Some(&mut rnn::init::rng(36)));
    assert_eq!(a, single.forward(xs.view(), None, None).0);
    assert!(c.layers[0].mask.is_none());
}

#[test]
fn no_final_state_gradient_is_the_same_as_zero() {
    let mut rng = rnn::init::rng(37);
    let model = Rnn::new(2, 3, 2, true, 0.0, Elman::new, &mut rng).unwrap();
    let xs = rand3((4, 2, 2), 1.0, &mut rng);
    let r = rand3((4, 2, 6), 1.0, &mut rng);
    let (_, _, cache) = model.forward(xs.view(), None, None);
    let (mut g1, mut g2) = (model.zeros_like(), model.zeros_like());
    let (dx1, di1) = model.backward(&cache, r.view(), None, &mut g1);
    let (dx2, di2) = model.backward(&cache, r.view(), Some(&model.zero_states(2)), &mut g2);
    assert_eq!((dx1, di1), (dx2, di2));
    assert_eq!(names_and_shapes(&g1), names_and_shapes(&g2));
    assert!(g1
        .params()
        .iter()
        .zip(g2.params())
        .all(|((_, a), (_, b))| *a == b));
}

#[test]
fn invalid_configurations_are_errors() {
    let mut rng = rnn::init::rng(38);
    for (layers, p, hidden) in [
        (0, 0.0, 3),
        (1, 1.0, 3),
        (2, -0.1, 3),
        (2, f64::NAN, 3),
        (1, 0.0, 0),
    ] {
        let r = Rnn::new(2, hidden, layers, false, p, Elman::new, &mut rng);
        match r {
            Err(rnn::Error::Config(msg)) => {
                eprintln!("layers={layers} p={p} hidden={hidden}: {msg}")
            }
            other => panic!(
                "layers={layers} p={p} hidden={hidden}: expected Error::Config, got {other:?}"
            ),
        }
    }
    assert!(Rnn::new(2, 3, 2, false, 0.0, Elman::new, &mut rng).is_ok());
    assert!(Rnn::new(2, 3, 2, false, 0.999, Elman::new, &mut rng).is_ok());
}

#[test]
#[should_panic(expected = "expected (T, B, D) with D = 3")]
fn wrong_input_width_panics_with_shapes() {
    let model = Rnn::new(3, 2, 1, false, 0.0, Elman::new, &mut rnn::init::rng(39)).unwrap();
    model.forward(Array3::zeros((4, 2, 5)).view(), None, None);
}

#[test]
#[should_panic(expected = "grads must be the same variant")]
fn any_cell_backward_with_mismatched_grads_panics() {
    let mut rng = rnn::init::rng(40);
    let cell = AnyCell::new(CellKind::RnnTanh, 2, 3, &mut rng);
    let mut wrong_grads = AnyCell::new(CellKind::Lstm, 2, 3, &mut rng).zeros_like();
    let (_, cache) = cell.forward(Array2::zeros((1, 2)).view(), &cell.zero_state(1));
    cell.backward(&cache, &cell.zero_state(1), &mut wrong_grads);
}
