//! `Cell::forward_seq` and `Cell::backward_seq` (what the stack and the models call) against the
//! step-by-step `unroll` and `bptt` of chapter 4.
//!
//! Every cell overrides both with faster schedules: the input half of (2.1), (7.1) or of the GRU's gates
//! for all steps as one product before the loop; weight gradients summed over time as one matrix product
//! after it, (4.10)-(4.11), (7.19)-(7.21), (8.25)-(8.31b). The outputs and gradients must be those of
//! `unroll` and `bptt` up to rounding, for one-hot and dense inputs, batch 1 and larger, T = 0 and
//! T = 1, every LSTM and GRU variant, with and without a gradient arriving at the final state. Skipping ∂L/∂xs must not change
//! anything else. `Rnn::backward_with(.., false)` is compared with `Rnn::backward`.

use ndarray::{Array2, Array3, Ix2, Ix3};
use rnn::bptt::{bptt, unroll};
use rnn::cells::{AnyCell, CellKind, GruVariant, LstmOptions};
use rnn::init::{rng, uniform, Rng};
use rnn::prelude::*;
use rnn::stack::Rnn;

fn rand3(shape: (usize, usize, usize), rng: &mut Rng) -> Array3<f64> {
    uniform(&[shape.0, shape.1, shape.2], -1.0, 1.0, rng)
        .into_dimensionality::<Ix3>()
        .unwrap()
}

/// One-hot inputs `(T, B, D)`: what a character model without an embedding feeds its first layer.
fn one_hot(shape: (usize, usize, usize), rng: &mut Rng) -> Array3<f64> {
    let ids = uniform(&[shape.0, shape.1], 0.0, shape.2 as f64, rng);
    let mut xs = Array3::zeros(shape);
    for ((t, b), &id) in ids.into_dimensionality::<Ix2>().unwrap().indexed_iter() {
        xs[[t, b, id as usize]] = 1.0;
    }
    xs
}

/// Largest |a - b| over two lists of named tensors, with the name where it happens.
fn max_diff(a: &impl Parameters, b: &impl Parameters) -> (f64, String) {
    let mut worst = (0.0, String::new());
    for ((name, x), (_, y)) in a.params().into_iter().zip(b.params()) {
        assert_eq!(x.shape(), y.shape(), "{name}");
        let d = x
            .iter()
            .zip(y.iter())
            .fold(0.0f64, |m, (p, q)| m.max((p - q).abs()));
        if d >= worst.0 {
            worst = (d, name);
        }
    }
    worst
}

fn close(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    a.iter()
        .zip(b.iter())
        .fold(0.0f64, |m, (p, q)| m.max((p - q).abs()))
}

/// (T, B, D, H) for the overrides on plain cells: T = 0 and T = 1, batch 1 and larger, D ≥ 16 (where a
/// one-hot input takes the sparse kernels) and D < 16.
const SHAPES: [(usize, usize, usize, usize); 7] = [
    (0, 2, 20, 4),
    (1, 1, 20, 5),
    (1, 3, 4, 6),
    (6, 1, 30, 8),
    (5, 3, 4, 6),
    (9, 2, 40, 3),
    (4, 4, 17, 7),
];

/// Both sequence paths of `make(D, H)` against `unroll` and `bptt` over [`SHAPES`], dense and one-hot
/// inputs, with and without a gradient at the final state.
fn compare_everywhere<C: Cell>(name: &str, make: impl Fn(usize, usize, &mut Rng) -> C, seed: u64) {
    let mut r = rng(seed);
    for (t_len, batch, d, h) in SHAPES {
        let cell = make(d, h, &mut r);
        for xs in [
            rand3((t_len, batch, d), &mut r),
            one_hot((t_len, batch, d), &mut r),
        ] {
            compare_forward(&cell, &xs, name, &mut r);
            for with_d_last in [false, true] {
                compare(&cell, &xs, with_d_last, seed + 1);
            }
        }
    }
}

/// Runs `cell` forward, then compares `backward_seq` (with and without ∂L/∂xs) with `bptt`.
fn compare<C: Cell>(cell: &C, xs: &Array3<f64>, with_d_last: bool, seed: u64) {
    let mut r = rng(seed);
    let (t_len, batch, _) = xs.dim();
    let h = cell.hidden_size();
    let init = {
        let z = cell.zero_state(batch);
        State {
            h: rand3((1, batch, h), &mut r)
                .into_shape_with_order((batch, h))
                .unwrap(),
            c: z.c.map(|_| {
                rand3((1, batch, h), &mut r)
                    .into_shape_with_order((batch, h))
                    .unwrap()
            }),
            // an FGR LSTM's previous gates (B, 3H)
            gates: z.gates.map(|g| {
                rand3((1, batch, g.ncols()), &mut r)
                    .into_shape_with_order(g.raw_dim())
                    .unwrap()
            }),
        }
    };
    let run = unroll(cell, xs.view(), &init);
    let d_out = rand3((t_len, batch, h), &mut r);
    let d_last = with_d_last.then(|| {
        let mut d = run.last.zeros_like();
        d.h = rand3((1, batch, h), &mut r)
            .into_shape_with_order((batch, h))
            .unwrap();
        if let Some(c) = &mut d.c {
            *c = rand3((1, batch, h), &mut r)
                .into_shape_with_order((batch, h))
                .unwrap();
        }
        if let Some(g) = &mut d.gates {
            *g = rand3((1, batch, g.ncols()), &mut r)
                .into_shape_with_order(g.raw_dim())
                .unwrap();
        }
        d
    });

    let mut g_ref = cell.zeros_like();
    let (dxs_ref, dinit_ref) = bptt(cell, &run.caches, d_out.view(), d_last.as_ref(), &mut g_ref);

    let what = format!(
        "{} T={t_len} B={batch} D={} d_last={with_d_last}",
        cell.kind(),
        xs.dim().2
    );
    let mut g = cell.zeros_like();
    let (dxs, dinit) = cell.backward_seq(&run.caches, d_out.view(), d_last.as_ref(), &mut g, true);
    let dxs = dxs.expect("∂L/∂xs was asked for");
    let (d, name) = max_diff(&g, &g_ref);
    assert!(d < 1e-12, "{what}: {name} differs from bptt by {d:e}");
    let dx_diff = dxs
        .iter()
        .zip(dxs_ref.iter())
        .fold(0.0f64, |m, (p, q)| m.max((p - q).abs()));
    assert!(
        dx_diff < 1e-12,
        "{what}: ∂L/∂xs differs from bptt by {dx_diff:e}"
    );
    assert!(close(&dinit.h, &dinit_ref.h) < 1e-12, "{what}: ∂L/∂h0");
    if let (Some(c), Some(c_ref)) = (&dinit.c, &dinit_ref.c) {
        assert!(close(c, c_ref) < 1e-12, "{what}: ∂L/∂c0");
    }
    assert_eq!(dinit.gates.is_some(), dinit_ref.gates.is_some(), "{what}");
    if let (Some(g), Some(g_ref)) = (&dinit.gates, &dinit_ref.gates) {
        assert!(close(g, g_ref) < 1e-12, "{what}: ∂L/∂gates0");
    }

    // without ∂L/∂xs: None, and exactly the same parameter and initial-state gradients
    let mut g2 = cell.zeros_like();
    let (none, dinit2) =
        cell.backward_seq(&run.caches, d_out.view(), d_last.as_ref(), &mut g2, false);
    assert!(none.is_none(), "{what}: ∂L/∂xs returned though not wanted");
    assert_eq!(
        max_diff(&g2, &g).0,
        0.0,
        "{what}: skipping ∂L/∂xs changed a gradient"
    );
    assert_eq!(dinit2, dinit, "{what}: skipping ∂L/∂xs changed ∂L/∂init");
}

/// Compares `forward_seq` with `unroll` from a non-zero initial state: outputs, final state, and the
/// caches (through the same step-by-step `bptt`).
fn compare_forward<C: Cell>(cell: &C, xs: &Array3<f64>, name: &str, r: &mut Rng) {
    let (t_len, batch, _) = xs.dim();
    let h = cell.hidden_size();
    let init = cell.zero_state(batch);
    let init = State {
        h: init.h.mapv(|_| 0.3),
        c: init.c.map(|c| c.mapv(|_| -0.2)),
        gates: init.gates.map(|g| g.mapv(|_| 0.4)),
    };
    let want = unroll(cell, xs.view(), &init);
    let got = cell.forward_seq(xs.view(), &init);
    let what = format!("{name} T={t_len} B={batch} D={}", xs.dim().2);
    assert_eq!(got.outputs.dim(), want.outputs.dim(), "{what}");
    let d_out = got
        .outputs
        .iter()
        .zip(want.outputs.iter())
        .fold(0.0f64, |m, (p, q)| m.max((p - q).abs()));
    assert!(d_out < 1e-13, "{what}: outputs differ by {d_out:e}");
    assert!(close(&got.last.h, &want.last.h) < 1e-13, "{what}: h_T");
    match (&got.last.c, &want.last.c) {
        (Some(c), Some(c_ref)) => assert!(close(c, c_ref) < 1e-13, "{what}: c_T"),
        (None, None) => {}
        _ => panic!("{what}: only one final state has a cell state c"),
    }
    match (&got.last.gates, &want.last.gates) {
        (Some(g), Some(g_ref)) => assert!(close(g, g_ref) < 1e-13, "{what}: gates_T"),
        (None, None) => {}
        _ => panic!("{what}: only one final state has gates"),
    }
    assert_eq!(got.caches.len(), t_len, "{what}: one cache per step");
    // the caches drive the same backward
    let d = rand3((t_len, batch, h), r);
    let (mut g1, mut g2) = (cell.zeros_like(), cell.zeros_like());
    let (dx1, _) = bptt(cell, &got.caches, d.view(), None, &mut g1);
    let (dx2, _) = bptt(cell, &want.caches, d.view(), None, &mut g2);
    let (diff, tensor) = max_diff(&g1, &g2);
    assert!(
        diff < 1e-12,
        "{what}: {tensor} from the two caches differs by {diff:e}"
    );
    assert!(
        dx1.iter()
            .zip(dx2.iter())
            .all(|(p, q)| (p - q).abs() < 1e-12),
        "{what}: ∂L/∂xs from the two caches"
    );
}

#[test]
fn backward_seq_matches_bptt_for_every_cell() {
    let mut r = rng(7);
    for kind in [
        CellKind::RnnTanh,
        CellKind::RnnRelu,
        CellKind::Lstm,
        CellKind::Gru,
    ] {
        for (t_len, batch, d, h) in [(1, 1, 20, 5), (6, 1, 30, 8), (5, 3, 4, 6), (9, 2, 40, 3)] {
            let cell = AnyCell::new(kind, d, h, &mut r);
            let dense = rand3((t_len, batch, d), &mut r);
            let hot = one_hot((t_len, batch, d), &mut r);
            for with_d_last in [false, true] {
                compare(&cell, &dense, with_d_last, 11);
                compare(&cell, &hot, with_d_last, 12);
            }
        }
    }
}

#[test]
fn forward_seq_matches_unroll_for_every_cell() {
    let mut r = rng(9);
    for kind in [
        CellKind::RnnTanh,
        CellKind::RnnRelu,
        CellKind::Lstm,
        CellKind::Gru,
    ] {
        for (t_len, batch, d, h) in [(0, 2, 20, 4), (1, 1, 20, 5), (7, 1, 30, 8), (5, 3, 4, 6)] {
            let cell = AnyCell::new(kind, d, h, &mut r);
            for xs in [
                rand3((t_len, batch, d), &mut r),
                one_hot((t_len, batch, d), &mut r),
            ] {
                compare_forward(&cell, &xs, &format!("{kind:?}"), &mut r);
            }
        }
    }
}

#[test]
fn elman_backward_steps_gives_the_step_by_step_sums() {
    // the override itself, on a plain Elman cell (relu too), not only through AnyCell
    let mut r = rng(3);
    for nonlinearity in [
        rnn::activation::Nonlinearity::Tanh,
        rnn::activation::Nonlinearity::Relu,
    ] {
        let cell = Elman::with_nonlinearity(7, 5, nonlinearity, &mut r);
        let xs = rand3((8, 2, 7), &mut r);
        let run = unroll(&cell, xs.view(), &cell.zero_state(2));
        let d_out = rand3((8, 2, 5), &mut r);
        let mut g_ref = cell.zeros_like();
        let (dxs_ref, d0_ref) = bptt(&cell, &run.caches, d_out.view(), None, &mut g_ref);
        let mut g = cell.zeros_like();
        let (dxs, d0) = cell.backward_seq(&run.caches, d_out.view(), None, &mut g, true);
        let (d, name) = max_diff(&g, &g_ref);
        assert!(d < 1e-12, "{nonlinearity:?}: {name} differs by {d:e}");
        let dxs = dxs.unwrap();
        assert!(dxs
            .iter()
            .zip(dxs_ref.iter())
            .all(|(p, q)| (p - q).abs() < 1e-12));
        assert!(close(&d0.h, &d0_ref.h) < 1e-12);
    }
}

#[test]
fn stack_backward_without_dx_keeps_every_other_gradient() {
    let mut r = rng(5);
    for kind in [
        CellKind::RnnTanh,
        CellKind::RnnRelu,
        CellKind::Lstm,
        CellKind::Gru,
    ] {
        for bidirectional in [false, true] {
            let net = Rnn::new(
                6,
                4,
                3,
                bidirectional,
                0.0,
                |d, h, rng| AnyCell::new(kind, d, h, rng),
                &mut r,
            )
            .unwrap();
            let xs = one_hot((5, 2, 6), &mut r);
            let (out, _, cache) = net.forward(xs.view(), None, None);
            let d_out = rand3(out.dim(), &mut r);
            let mut g1 = net.zeros_like();
            let (_dxs, d_init1) = net.backward(&cache, d_out.view(), None, &mut g1);
            let mut g2 = net.zeros_like();
            let (none, d_init2) = net.backward_with(&cache, d_out.view(), None, &mut g2, false);
            assert!(none.is_none());
            assert_eq!(
                max_diff(&g1, &g2).0,
                0.0,
                "{kind:?} bidirectional={bidirectional}"
            );
            assert_eq!(d_init1, d_init2, "{kind:?} bidirectional={bidirectional}");
        }
    }
}

#[test]
fn lstm_sequence_paths_match_unroll_and_bptt_for_every_variant() {
    // the overrides themselves, on plain Lstm values, for every combination of the options
    let variants = [
        ("default", LstmOptions::default()),
        (
            "peephole",
            LstmOptions {
                peephole: true,
                ..Default::default()
            },
        ),
        (
            "cifg",
            LstmOptions {
                cifg: true,
                ..Default::default()
            },
        ),
        (
            "peephole+cifg",
            LstmOptions {
                peephole: true,
                cifg: true,
                ..Default::default()
            },
        ),
        (
            "forget_bias=1",
            LstmOptions {
                forget_bias: 1.0,
                ..Default::default()
            },
        ),
        (
            "peephole+cifg+forget_bias=1",
            LstmOptions {
                peephole: true,
                cifg: true,
                forget_bias: 1.0,
                ..Default::default()
            },
        ),
    ];
    for (k, (name, options)) in variants.into_iter().enumerate() {
        compare_everywhere(
            &format!("lstm {name}"),
            |d, h, r| Lstm::with_options(d, h, options, r),
            40 + k as u64,
        );
    }
    // Greff et al.'s variants, and each with a forget bias
    for (k, v) in rnn::cells::GreffVariant::ALL.into_iter().enumerate() {
        for forget_bias in [0.0, 1.0] {
            let options = LstmOptions {
                forget_bias,
                ..LstmOptions::greff(v)
            };
            compare_everywhere(
                &format!("lstm {} forget_bias={forget_bias}", v.name()),
                |d, h, r| Lstm::with_options(d, h, options, r),
                60 + k as u64,
            );
        }
    }
}

#[test]
fn gru_sequence_paths_match_unroll_and_bptt_for_both_variants() {
    // the overrides themselves, on plain Gru values: reset-after (PyTorch) and reset-before (Cho et al.)
    for (k, variant) in [GruVariant::ResetAfter, GruVariant::ResetBefore]
        .into_iter()
        .enumerate()
    {
        compare_everywhere(
            &format!("gru {variant:?}"),
            |d, h, r| Gru::with_variant(d, h, variant, r),
            60 + k as u64,
        );
    }
}

#[test]
fn large_recurrent_weights_take_the_blocked_products_and_agree() {
    // W_hh of at least 2^18 entries with 2..=64 rows per step: the forward reads a transposed copy in place
    // and the backward's ∂L/∂h_{t-1} = ∂L/∂a W_hh skips the matrix kernels (rnn::linalg). Same sums.
    let mut r = rng(21);
    let lstm = Lstm::new(16, 256, &mut r); // W_hh (1024, 256)
    let elman = Elman::new(16, 512, &mut r); // W_hh (512, 512)
    for (batch, with_d_last) in [(4, false), (3, true)] {
        let xs = rand3((3, batch, 16), &mut r);
        compare(&lstm, &xs, with_d_last, 22);
        compare(&elman, &xs, with_d_last, 23);
        compare_forward(&lstm, &xs, "lstm 256", &mut r);
        compare_forward(&elman, &xs, "elman 512", &mut r);
    }
}
