//! Finite-difference checks of `rnn::layers`: Dense (weight, bias, input) and Embedding (weight, with
//! repeated ids), row-wise and time-major, alone and chained into a cross-entropy loss.

use ndarray::{array, Array2, Array3, ArrayD, Ix2, Ix3};
use rnn::gradcheck::{check_params, check_tensor, Report, TOLERANCE};
use rnn::init::{rng, uniform, Rng};
use rnn::layers::{one_hot, Dense, Embedding};
use rnn::loss::sequence_cross_entropy;
use rnn::prelude::*;

fn as2(a: ArrayD<f64>) -> Array2<f64> {
    a.into_dimensionality::<Ix2>().unwrap()
}

fn as3(a: ArrayD<f64>) -> Array3<f64> {
    a.into_dimensionality::<Ix3>().unwrap()
}

/// Checks Dense on a batch of rows with the loss Σ R ⊙ y (so ∂L/∂y = R).
fn check_dense(d_in: usize, d_out: usize, n: usize, rng: &mut Rng) -> Report {
    let layer = Dense::new(d_in, d_out, rng);
    let x = as2(uniform(&[n, d_in], -1.0, 1.0, rng));
    let r = as2(uniform(&[n, d_out], -1.0, 1.0, rng));
    let loss = |l: &Dense, x: &Array2<f64>| (l.forward(x.view()) * &r).sum();

    let mut grads = layer.zeros_like();
    let dx = layer.backward(x.view(), r.view(), &mut grads);
    let mut report = check_params(&layer, &grads, |l| loss(l, &x));
    report.tensors.push(check_tensor(
        "x",
        &x.clone().into_dyn(),
        &dx.into_dyn(),
        |xp| loss(&layer, &as2(xp.clone())),
    ));
    report
}

#[test]
fn dense_matches_finite_differences_over_shapes() {
    let mut rng = rng(31);
    let mut worst: f64 = 0.0;
    for (d_in, d_out, n) in [(1, 1, 1), (3, 4, 2), (5, 2, 6), (4, 7, 3)] {
        let report = check_dense(d_in, d_out, n, &mut rng);
        report.assert_below(TOLERANCE);
        assert_eq!(report.tensors.len(), 3); // weight, bias, x
        worst = worst.max(report.max_rel_error());
    }
    eprintln!("Dense: worst rel error {worst:.2e}");
}

#[test]
fn dense_seq_matches_finite_differences() {
    let mut rng = rng(32);
    for (t, b, d_in, d_out) in [(1, 1, 2, 3), (4, 2, 3, 5), (3, 3, 4, 2)] {
        let layer = Dense::new(d_in, d_out, &mut rng);
        let xs = as3(uniform(&[t, b, d_in], -1.0, 1.0, &mut rng));
        let r = as3(uniform(&[t, b, d_out], -1.0, 1.0, &mut rng));
        let loss = |l: &Dense, xs: &Array3<f64>| (l.forward_seq(xs.view()) * &r).sum();

        let y = layer.forward_seq(xs.view());
        assert_eq!(y.dim(), (t, b, d_out));
        // step by step agrees with the flattened version
        for s in 0..t {
            let ys = layer.forward(xs.index_axis(ndarray::Axis(0), s));
            assert!((&ys - &y.index_axis(ndarray::Axis(0), s))
                .iter()
                .all(|v| v.abs() < 1e-14));
        }

        let mut grads = layer.zeros_like();
        let dxs = layer.backward_seq(xs.view(), r.view(), &mut grads);
        let mut report = check_params(&layer, &grads, |l| loss(l, &xs));
        report.tensors.push(check_tensor(
            "xs",
            &xs.clone().into_dyn(),
            &dxs.into_dyn(),
            |xp| loss(&layer, &as3(xp.clone())),
        ));
        eprintln!(
            "Dense seq T={t} B={b} in={d_in} out={d_out}: worst {:.2e}",
            report.max_rel_error()
        );
        report.assert_below(TOLERANCE);
    }
}

#[test]
fn dense_backward_accumulates() {
    let mut rng = rng(33);
    let layer = Dense::new(3, 2, &mut rng);
    let x = as2(uniform(&[4, 3], -1.0, 1.0, &mut rng));
    let dy = as2(uniform(&[4, 2], -1.0, 1.0, &mut rng));
    let mut once = layer.zeros_like();
    layer.backward(x.view(), dy.view(), &mut once);
    let mut twice = layer.zeros_like();
    layer.backward(x.view(), dy.view(), &mut twice);
    layer.backward(x.view(), dy.view(), &mut twice);
    let mut expected = once.zeros_like();
    expected.add_scaled(2.0, &once);
    for ((_, a), (_, b)) in twice.params().into_iter().zip(expected.params()) {
        assert!((&a - &b).iter().all(|v| v.abs() < 1e-14));
    }
    assert!(once.weight.iter().any(|&v| v != 0.0));
}

#[test]
fn dense_init_is_pytorch_linear_default() {
    let layer = Dense::new(16, 8, &mut rng(34));
    let k = 1.0 / 4.0; // 1/√16
    assert_eq!(layer.weight.dim(), (8, 16));
    assert_eq!(layer.bias.dim(), 8);
    assert_eq!((layer.in_features(), layer.out_features()), (16, 8));
    assert!(layer
        .weight
        .iter()
        .chain(layer.bias.iter())
        .all(|v| v.abs() <= k));
    assert!(layer.weight.iter().any(|v| v.abs() > k / 2.0));
    assert_eq!(
        layer,
        Dense::new(16, 8, &mut rng(34)),
        "same seed, same layer"
    );
    let names: Vec<String> = layer.params().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["weight", "bias"]);
    assert_eq!(layer.num_params(), 16 * 8 + 8);
}

#[test]
fn dense_forward_is_x_wt_plus_b() {
    let layer = Dense {
        weight: array![[1.0, 2.0], [0.0, -1.0], [3.0, 0.5]], // (out 3, in 2)
        bias: array![0.5, 0.0, -1.0],
    };
    let y = layer.forward(array![[1.0, 1.0], [2.0, 0.0]].view());
    assert_eq!(y, array![[3.5, -1.0, 2.5], [2.5, 0.0, 5.0]]);
}

#[test]
#[should_panic(expected = "Dense::forward: input x has shape (2, 3), expected (N, in) with in = 4")]
fn dense_wrong_input_size_panics() {
    let layer = Dense::new(4, 2, &mut rng(35));
    layer.forward(Array2::zeros((2, 3)).view());
}

#[test]
#[should_panic(expected = "Dense::backward: dy has shape (2, 3), expected (N, out) = (2, 2)")]
fn dense_wrong_dy_panics() {
    let layer = Dense::new(4, 2, &mut rng(36));
    let mut g = layer.zeros_like();
    layer.backward(
        Array2::zeros((2, 4)).view(),
        Array2::zeros((2, 3)).view(),
        &mut g,
    );
}

/// Checks Embedding with the loss Σ R ⊙ forward(ids); ids may repeat and some rows may be unused.
fn check_embedding(v: usize, d: usize, ids: &[usize], rng: &mut Rng) -> Report {
    let emb = Embedding::new(v, d, rng);
    let r = as2(uniform(&[ids.len(), d], -1.0, 1.0, rng));
    let mut grads = emb.zeros_like();
    emb.backward(ids, r.view(), &mut grads);
    // the ids are discrete and have no gradient; the table is the parameter
    check_params(&emb, &grads, |e| (e.forward(ids) * &r).sum())
}

#[test]
fn embedding_matches_finite_differences_with_repeated_ids() {
    let mut rng = rng(37);
    let mut worst: f64 = 0.0;
    for (v, d, ids) in [
        (1, 1, vec![0]),
        (4, 3, vec![2, 0, 2, 2, 1]), // id 2 three times, id 3 never
        (6, 2, vec![5, 5, 5, 5]),    // one id only
        (5, 4, vec![0, 1, 2, 3, 4, 0]),
    ] {
        let report = check_embedding(v, d, &ids, &mut rng);
        report.assert_below(TOLERANCE);
        worst = worst.max(report.max_rel_error());
    }
    eprintln!("Embedding: worst rel error {worst:.2e}");
}

#[test]
fn embedding_backward_is_one_hot_transpose_times_dy() {
    let mut rng = rng(38);
    let emb = Embedding::new(4, 3, &mut rng);
    let ids = [2, 0, 2, 2, 1];
    let dy = as2(uniform(&[5, 3], -1.0, 1.0, &mut rng));
    let mut grads = emb.zeros_like();
    emb.backward(&ids, dy.view(), &mut grads);
    let oh = one_hot(&ids, 4); // (N, V)
    let want = oh.t().dot(&dy); // (V, D)
    assert!((&grads.weight - &want).iter().all(|v| v.abs() < 1e-15));
    // row 2 is the sum of three rows of dy; row 3 (unused) is exactly zero
    let row2 = &dy.row(0) + &dy.row(2) + dy.row(3);
    assert!((&grads.weight.row(2) - &row2)
        .iter()
        .all(|v| v.abs() < 1e-15));
    assert!(grads.weight.row(3).iter().all(|&v| v == 0.0));
    // forward is one_hot · E
    assert_eq!(emb.forward(&ids), oh.dot(&emb.weight));
}

#[test]
fn embedding_seq_matches_finite_differences() {
    let mut rng = rng(39);
    let emb = Embedding::new(5, 3, &mut rng);
    let ids = array![[0, 4, 1], [4, 4, 2], [1, 0, 0], [3, 1, 4]]; // (T 4, B 3)
    let r = as3(uniform(&[4, 3, 3], -1.0, 1.0, &mut rng));
    let xs = emb.forward_seq(ids.view());
    assert_eq!(xs.dim(), (4, 3, 3));
    assert_eq!(xs.slice(ndarray::s![2, 1, ..]), emb.weight.row(0));
    let mut grads = emb.zeros_like();
    emb.backward_seq(ids.view(), r.view(), &mut grads);
    let report = check_params(&emb, &grads, |e| (e.forward_seq(ids.view()) * &r).sum());
    eprintln!("Embedding seq: worst {:.2e}", report.max_rel_error());
    report.assert_below(TOLERANCE);
}

#[test]
fn embedding_init_is_standard_normal() {
    let emb = Embedding::new(200, 50, &mut rng(40));
    assert_eq!((emb.num_embeddings(), emb.embedding_dim()), (200, 50));
    let n = emb.weight.len() as f64;
    let mean = emb.weight.sum() / n;
    let var = emb.weight.mapv(|v| (v - mean) * (v - mean)).sum() / n;
    assert!(mean.abs() < 0.05, "mean {mean}");
    assert!((var.sqrt() - 1.0).abs() < 0.05, "std {}", var.sqrt());
    let names: Vec<String> = emb.params().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["weight"]);
}

#[test]
#[should_panic(expected = "token id 5 is out of range for a vocabulary of 5")]
fn embedding_id_out_of_range_panics() {
    let emb = Embedding::new(5, 2, &mut rng(41));
    emb.forward(&[0, 5]);
}

#[test]
#[should_panic(expected = "Embedding::backward: token id 9 is out of range for a vocabulary of 5")]
fn embedding_backward_id_out_of_range_panics() {
    let emb = Embedding::new(5, 2, &mut rng(42));
    let mut g = emb.zeros_like();
    emb.backward(&[9], Array2::zeros((1, 2)).view(), &mut g);
}

#[test]
#[should_panic(expected = "one_hot: id 3 (at position 1) is out of range for a vocabulary of 3")]
fn one_hot_out_of_range_panics() {
    one_hot(&[0, 3], 3);
}

/// The whole input-to-loss path of a (non-recurrent) bigram model: ids → Embedding → Dense → cross-entropy,
/// with a padding mask. Every parameter's gradient is checked through the chain.
#[test]
fn embedding_dense_cross_entropy_chain() {
    let mut rng = rng(43);
    let (v, d) = (6, 4);
    let emb = Embedding::new(v, d, &mut rng);
    let out = Dense::new(d, v, &mut rng);
    let ids = array![[0, 3], [3, 5], [1, 1]]; // (T, B)
    let targets = array![[3, 5], [1, 1], [2, 0]]; // (T, B)
    let mask = array![[1.0, 1.0], [1.0, 1.0], [1.0, 0.0]]; // the last step of sequence 1 is padding

    let loss = |e: &Embedding, o: &Dense| {
        let logits = o.forward_seq(e.forward_seq(ids.view()).view());
        sequence_cross_entropy(logits.view(), targets.view(), Some(mask.view())).0
    };

    // forward
    let xs = emb.forward_seq(ids.view()); // (T, B, D)
    let logits = out.forward_seq(xs.view()); // (T, B, V)
    let (_, dlogits) = sequence_cross_entropy(logits.view(), targets.view(), Some(mask.view()));
    // backward
    let mut g_out = out.zeros_like();
    let dxs = out.backward_seq(xs.view(), dlogits.view(), &mut g_out); // (T, B, D)
    let mut g_emb = emb.zeros_like();
    emb.backward_seq(ids.view(), dxs.view(), &mut g_emb);

    let mut report = Report::default();
    report.extend("out.", check_params(&out, &g_out, |o| loss(&emb, o)));
    report.extend("emb.", check_params(&emb, &g_emb, |e| loss(e, &out)));
    eprintln!("Embedding → Dense → cross-entropy:\n{report}");
    report.assert_below(TOLERANCE);
}
