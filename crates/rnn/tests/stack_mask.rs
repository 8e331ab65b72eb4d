//! Masked recurrence over padded batches (`Rnn::forward_masked`, `Rnn::backward_masked`): equal to the
//! unmasked paths at full length, equal to running each sequence alone at its own length (PyTorch's packed
//! sequences), and checked against finite differences with padding.

use ndarray::{s, Array3, Ix3};
use rnn::cells::{AnyCell, CellKind};
use rnn::gradcheck::{check_params, check_tensor, Report, TOLERANCE};
use rnn::init::{uniform, Rng};
use rnn::prelude::*;
use rnn::stack::Rnn;
use rnn::stack_mask::mask_array;

const KINDS: [CellKind; 3] = [CellKind::RnnTanh, CellKind::Lstm, CellKind::Gru];

fn rand3(shape: (usize, usize, usize), scale: f64, rng: &mut Rng) -> Array3<f64> {
    uniform(&[shape.0, shape.1, shape.2], -scale, scale, rng)
        .into_dimensionality::<Ix3>()
        .unwrap()
}

fn model(
    kind: CellKind,
    d: usize,
    h: usize,
    layers: usize,
    bidi: bool,
    rng: &mut Rng,
) -> Rnn<AnyCell> {
    Rnn::new(
        d,
        h,
        layers,
        bidi,
        0.3,
        |d, h, r| AnyCell::new(kind, d, h, r),
        rng,
    )
    .unwrap()
}

/// A random state shaped like `like` (h, and c if any), built without naming `State`'s fields all at once.
fn rand_state(like: &State, scale: f64, rng: &mut Rng) -> State {
    let mut s = like.clone();
    s.h.mapv_inplace(|_| rand::Rng::random_range(rng, -scale..scale));
    if let Some(c) = &mut s.c {
        c.mapv_inplace(|_| rand::Rng::random_range(rng, -scale..scale));
    }
    s
}

fn max_diff(a: &Array3<f64>, b: &Array3<f64>) -> f64 {
    assert_eq!(a.dim(), b.dim());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

fn state_diff(a: &State, b: &State) -> f64 {
    let mut d = (&a.h - &b.h).iter().map(|v| v.abs()).fold(0.0, f64::max);
    if let (Some(x), Some(y)) = (&a.c, &b.c) {
        d = d.max((x - y).iter().map(|v| v.abs()).fold(0.0, f64::max));
    }
    d
}

#[test]
fn full_lengths_equal_the_unmasked_paths() {
    for kind in KINDS {
        let mut rng = rnn::init::rng(1);
        let m = model(kind, 3, 4, 2, true, &mut rng);
        let xs = rand3((5, 2, 3), 1.0, &mut rng);
        let init: Vec<State> = m
            .zero_states(2)
            .iter()
            .map(|z| rand_state(z, 0.5, &mut rng))
            .collect();
        let dy = rand3((5, 2, 8), 1.0, &mut rng);
        let d_last: Vec<State> = init.iter().map(|z| rand_state(z, 1.0, &mut rng)).collect();
        let (o1, f1, c1) = m.forward(xs.view(), Some(&init), Some(&mut rnn::init::rng(7)));
        let mut g1 = m.zeros_like();
        let (dx1, di1) = m.backward(&c1, dy.view(), Some(&d_last), &mut g1);
        for lengths in [None, Some(&[5usize, 5][..])] {
            let (o2, f2, c2) = m.forward_masked(
                xs.view(),
                lengths,
                Some(&init),
                Some(&mut rnn::init::rng(7)),
            );
            let mut g2 = m.zeros_like();
            let (dx2, di2) = m.backward_masked(&c2, lengths, dy.view(), Some(&d_last), &mut g2);
            let mut worst = max_diff(&o1, &o2).max(max_diff(&dx1, &dx2));
            for (a, b) in f1.iter().zip(&f2).chain(di1.iter().zip(&di2)) {
                worst = worst.max(state_diff(a, b));
            }
            for ((_, a), (_, b)) in g1.params().iter().zip(g2.params()) {
                worst = worst.max((a - &b).iter().map(|v| v.abs()).fold(0.0, f64::max));
            }
            assert!(
                worst < 1e-12,
                "{kind}: masked vs unmasked differ by {worst:e}"
            );
        }
    }
}

#[test]
fn padded_batch_equals_each_sequence_alone() {
    let lengths = [5usize, 3, 1, 4];
    for kind in KINDS {
        let mut rng = rnn::init::rng(2);
        let m = model(kind, 3, 4, 2, true, &mut rng);
        let xs = rand3((5, 4, 3), 1.0, &mut rng);
        let (out, finals, _) = m.forward_masked(xs.view(), Some(&lengths), None, None);
        for (b, &len) in lengths.iter().enumerate() {
            let alone = xs.slice(s![..len, b..b + 1, ..]);
            let (o, f, _) = m.forward(alone, None, None);
            let d = max_diff(&out.slice(s![..len, b..b + 1, ..]).to_owned(), &o);
            assert!(d < 1e-12, "{kind}, row {b}: outputs differ by {d:e}");
            for (k, (fb, fa)) in finals.iter().zip(&f).enumerate() {
                let mut row = fb.clone();
                row.h = fb.h.slice(s![b..b + 1, ..]).to_owned();
                if let (Some(c), Some(cb)) = (&mut row.c, &fb.c) {
                    *c = cb.slice(s![b..b + 1, ..]).to_owned();
                }
                let d = state_diff(&row, fa);
                assert!(
                    d < 1e-12,
                    "{kind}, row {b}, final state {k}: differ by {d:e}"
                );
            }
        }
    }
}

#[test]
fn masked_stack_matches_finite_differences() {
    let lengths = [4usize, 2, 3];
    for kind in KINDS {
        let mut rng = rnn::init::rng(3);
        let m = model(kind, 2, 3, 2, true, &mut rng);
        let (t, b) = (4, 3);
        let xs = rand3((t, b, 2), 1.0, &mut rng);
        let init: Vec<State> = m
            .zero_states(b)
            .iter()
            .map(|z| rand_state(z, 0.5, &mut rng))
            .collect();
        let r = rand3((t, b, 6), 1.0, &mut rng)
            * &mask_array(Some(&lengths), t, b).insert_axis(ndarray::Axis(2));
        let sf: Vec<State> = init.iter().map(|z| rand_state(z, 1.0, &mut rng)).collect();
        let loss = |m: &Rnn<AnyCell>, xs: &Array3<f64>, init: &[State]| {
            let (out, finals, _) = m.forward_masked(
                xs.view(),
                Some(&lengths),
                Some(init),
                Some(&mut rnn::init::rng(5)),
            );
            let mut l = (&out * &r).sum();
            for (f, s) in finals.iter().zip(&sf) {
                l += (&f.h * &s.h).sum();
                if let (Some(c), Some(sc)) = (&f.c, &s.c) {
                    l += (c * sc).sum();
                }
            }
            l
        };
        let (_, _, cache) = m.forward_masked(
            xs.view(),
            Some(&lengths),
            Some(&init),
            Some(&mut rnn::init::rng(5)),
        );
        let mut g = m.zeros_like();
        let (dx, d_init) = m.backward_masked(&cache, Some(&lengths), r.view(), Some(&sf), &mut g);
        let mut report: Report = check_params(&m, &g, |p| loss(p, &xs, &init));
        report.tensors.push(check_tensor(
            "xs",
            &xs.clone().into_dyn(),
            &dx.clone().into_dyn(),
            |x| loss(&m, &x.clone().into_dimensionality().unwrap(), &init),
        ));
        for (k, d) in d_init.iter().enumerate() {
            report.tensors.push(check_tensor(
                &format!("h0[{k}]"),
                &init[k].h.clone().into_dyn(),
                &d.h.clone().into_dyn(),
                |h| {
                    let mut i2 = init.clone();
                    i2[k].h = h.clone().into_dimensionality().unwrap();
                    loss(&m, &xs, &i2)
                },
            ));
        }
        println!("{kind}: worst relative error {:e}", report.max_rel_error());
        report.assert_below(TOLERANCE);
        // the pads get no gradient
        for (bb, &len) in lengths.iter().enumerate() {
            assert!(dx.slice(s![len.., bb, ..]).iter().all(|&v| v == 0.0));
        }
    }
}
