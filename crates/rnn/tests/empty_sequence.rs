//! T = 0: `torch.nn.RNN/LSTM/GRU` raise on an empty sequence; this library treats it as zero steps of the
//! recurrence. `Rnn::forward` returns `(0, B, dirs·H)` outputs and final states equal to the initial states
//! (zeros for `None`), and `Rnn::backward` passes `d_last` straight through to ∂L/∂init, with an empty
//! ∂L/∂xs and no parameter gradient. These tests pin that behaviour for every cell, deep and
//! bidirectional, with and without dropout.

use ndarray::Array3;
use rnn::cells::{AnyCell, CellKind, GruVariant, LstmOptions};
use rnn::init::{rng, uniform, Rng};
use rnn::prelude::*;
use rnn::stack::Rnn;

fn rand_state(like: &State, rng: &mut Rng) -> State {
    let r = |a: &ndarray::Array2<f64>, rng: &mut Rng| {
        uniform(&[a.nrows(), a.ncols()], -1.0, 1.0, rng)
            .into_dimensionality()
            .unwrap()
    };
    State {
        h: r(&like.h, rng),
        c: like.c.as_ref().map(|c| r(c, rng)),
        gates: like.gates.as_ref().map(|g| r(g, rng)),
    }
}

type MakeCell = fn(usize, usize, &mut Rng) -> AnyCell;

fn cells() -> Vec<(&'static str, MakeCell)> {
    vec![
        ("rnn_tanh", |d, h, r| {
            AnyCell::new(CellKind::RnnTanh, d, h, r)
        }),
        ("rnn_relu", |d, h, r| {
            AnyCell::new(CellKind::RnnRelu, d, h, r)
        }),
        ("lstm", |d, h, r| AnyCell::new(CellKind::Lstm, d, h, r)),
        ("lstm peephole cifg", |d, h, r| {
            Lstm::with_options(
                d,
                h,
                LstmOptions {
                    peephole: true,
                    cifg: true,
                    forget_bias: 0.0,
                    ..Default::default()
                },
                r,
            )
            .into()
        }),
        ("lstm FGR", |d, h, r| {
            let fgr = rnn::cells::GreffVariant::Fgr;
            Lstm::with_options(d, h, LstmOptions::greff(fgr), r).into()
        }),
        ("gru", |d, h, r| AnyCell::new(CellKind::Gru, d, h, r)),
        ("gru reset-before", |d, h, r| {
            Gru::with_variant(d, h, GruVariant::ResetBefore, r).into()
        }),
    ]
}

#[test]
fn an_empty_sequence_is_zero_steps_forward_and_backward() {
    let (d, h, b) = (3, 4, 2);
    for (name, make) in cells() {
        for (layers, bi, dropout) in [
            (1, false, 0.0),
            (2, true, 0.0),
            (3, false, 0.5),
            (2, true, 0.3),
        ] {
            let case = format!("{name}, {layers} layers, bidirectional {bi}, dropout {dropout}");
            let mut r = rng(1);
            let model = Rnn::new(d, h, layers, bi, dropout, make, &mut r).unwrap();
            let dirs = if bi { 2 } else { 1 };
            let xs = Array3::<f64>::zeros((0, b, d)); // (T = 0, B, D)
            let init: Vec<State> = model
                .zero_states(b)
                .iter()
                .map(|s| rand_state(s, &mut r))
                .collect();
            for dropout_rng in [None, Some(rng(7))] {
                let mut dropout_rng = dropout_rng;
                let (out, finals, cache) =
                    model.forward(xs.view(), Some(&init), dropout_rng.as_mut());
                assert_eq!(out.dim(), (0, b, dirs * h), "{case}: outputs");
                assert_eq!(
                    finals, init,
                    "{case}: the final states are the initial states"
                );
                let (_, zero_finals, _) = model.forward(xs.view(), None, None);
                assert_eq!(
                    zero_finals,
                    model.zero_states(b),
                    "{case}: None means zeros"
                );

                let d_last: Vec<State> = init.iter().map(|s| rand_state(s, &mut r)).collect();
                let mut grads = model.zeros_like();
                let d_out = Array3::<f64>::zeros((0, b, dirs * h));
                let (dxs, d_init) = model.backward(&cache, d_out.view(), Some(&d_last), &mut grads);
                assert_eq!(dxs.dim(), (0, b, d), "{case}: ∂L/∂xs");
                assert_eq!(d_init, d_last, "{case}: ∂L/∂init is d_last");
                assert!(
                    grads
                        .params()
                        .iter()
                        .all(|(_, g)| g.iter().all(|v| *v == 0.0)),
                    "{case}: zero steps give no parameter gradient"
                );
                let (_, d_init) = model.backward(&cache, d_out.view(), None, &mut grads);
                assert_eq!(
                    d_init,
                    model.zero_states(b),
                    "{case}: no d_last, zero ∂L/∂init"
                );
            }
        }
    }
}
