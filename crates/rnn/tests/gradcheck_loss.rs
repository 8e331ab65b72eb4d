//! Finite-difference and hand-arithmetic checks of the losses in `rnn::loss`.

use ndarray::{array, s, Array2, Array3, ArrayD, Ix2, Ix3};
use rnn::gradcheck::{check_tensor, TOLERANCE};
use rnn::init::{rng, uniform, Rng};
use rnn::loss::{
    bits_per_char, log_softmax, mse, perplexity, sequence_cross_entropy, softmax,
    softmax_cross_entropy,
};

fn as2(a: &ArrayD<f64>) -> Array2<f64> {
    a.clone().into_dimensionality::<Ix2>().unwrap()
}

fn random_logits(n: usize, v: usize, rng: &mut Rng) -> Array2<f64> {
    as2(&uniform(&[n, v], -2.0, 2.0, rng))
}

fn random_targets(n: usize, v: usize, rng: &mut Rng) -> Vec<usize> {
    use rand::Rng as _;
    (0..n).map(|_| rng.random_range(0..v)).collect()
}

/// A 0/1 mask with at least one 1.
fn random_mask(n: usize, rng: &mut Rng) -> Vec<f64> {
    use rand::Rng as _;
    let mut m: Vec<f64> = (0..n)
        .map(|_| if rng.random_bool(0.6) { 1.0 } else { 0.0 })
        .collect();
    m[0] = 1.0;
    m
}

/// Gradient check of dlogits for one (logits, targets, mask); returns the relative error.
fn check_ce(logits: &Array2<f64>, targets: &[usize], mask: Option<&[f64]>) -> f64 {
    let (_, d) = softmax_cross_entropy(logits.view(), targets, mask);
    let r = check_tensor("logits", &logits.clone().into_dyn(), &d.into_dyn(), |z| {
        softmax_cross_entropy(as2(z).view(), targets, mask).0
    });
    assert!(
        r.rel_error < TOLERANCE,
        "shape {:?}, mask {mask:?}: {r}",
        logits.dim()
    );
    r.rel_error
}

#[test]
fn cross_entropy_gradient_matches_finite_differences_over_shapes() {
    let mut rng = rng(21);
    let mut worst: f64 = 0.0;
    for (n, v) in [(1, 1), (1, 2), (3, 4), (5, 7), (8, 3), (2, 10)] {
        let z = random_logits(n, v, &mut rng);
        let ys = random_targets(n, v, &mut rng);
        worst = worst.max(check_ce(&z, &ys, None));
    }
    eprintln!("softmax_cross_entropy, no mask: worst rel error {worst:.2e}");
}

#[test]
fn masked_cross_entropy_gradient_matches_finite_differences() {
    let mut rng = rng(22);
    let mut worst: f64 = 0.0;
    for (n, v) in [(1, 3), (4, 4), (6, 5), (9, 3)] {
        let z = random_logits(n, v, &mut rng);
        let ys = random_targets(n, v, &mut rng);
        let m = random_mask(n, &mut rng);
        worst = worst.max(check_ce(&z, &ys, Some(&m)));
        // non-binary weights give a weighted mean; the gradient must still be exact
        let w: Vec<f64> = (0..n).map(|i| 0.25 + i as f64 * 0.5).collect();
        worst = worst.max(check_ce(&z, &ys, Some(&w)));
    }
    eprintln!("softmax_cross_entropy, masked: worst rel error {worst:.2e}");
}

#[test]
fn sequence_cross_entropy_gradient_matches_finite_differences() {
    let mut rng = rng(23);
    for (t, b, v) in [(1, 1, 2), (4, 2, 3), (3, 3, 5)] {
        let z: Array3<f64> = uniform(&[t, b, v], -2.0, 2.0, &mut rng)
            .into_dimensionality()
            .unwrap();
        let ys = Array2::from_shape_vec((t, b), random_targets(t * b, v, &mut rng)).unwrap();
        let m = Array2::from_shape_vec((t, b), random_mask(t * b, &mut rng)).unwrap();
        for mask in [None, Some(m.view())] {
            let (_, d) = sequence_cross_entropy(z.view(), ys.view(), mask);
            assert_eq!(d.dim(), (t, b, v));
            let r = check_tensor("logits", &z.clone().into_dyn(), &d.into_dyn(), |x| {
                let x = x.clone().into_dimensionality::<Ix3>().unwrap();
                sequence_cross_entropy(x.view(), ys.view(), mask).0
            });
            eprintln!(
                "sequence_cross_entropy T={t} B={b} V={v} mask={}: {r}",
                mask.is_some()
            );
            assert!(r.rel_error < TOLERANCE, "{r}");
        }
    }
}

#[test]
fn sequence_cross_entropy_is_the_flattened_loss() {
    let mut rng = rng(24);
    let (t, b, v) = (3, 2, 4);
    let z: Array3<f64> = uniform(&[t, b, v], -2.0, 2.0, &mut rng)
        .into_dimensionality()
        .unwrap();
    let ys = array![[0, 3], [1, 1], [2, 0]];
    let (loss, d) = sequence_cross_entropy(z.view(), ys.view(), None);
    // position (t, b) is row t·B + b
    let flat = z.clone().into_shape_with_order((t * b, v)).unwrap();
    let (loss2, d2) = softmax_cross_entropy(flat.view(), &[0, 3, 1, 1, 2, 0], None);
    assert_eq!(loss, loss2);
    assert_eq!(d, d2.into_shape_with_order((t, b, v)).unwrap());
    // a non-standard layout (a transposed view) gives the same answer
    let zt = z.clone().permuted_axes([1, 0, 2]); // (B, T, V) memory, (B, T, V) shape
    let back = zt.view().permuted_axes([1, 0, 2]); // (T, B, V) view, not contiguous
    let (loss3, d3) = sequence_cross_entropy(back, ys.view(), None);
    assert_eq!(loss, loss3);
    assert_eq!(d, d3);
}

#[test]
fn a_wrong_gradient_fails_the_check() {
    // Forgetting to divide by the number of positions: p - onehot instead of (p - onehot) / N.
    let mut rng = rng(25);
    let z = random_logits(4, 3, &mut rng);
    let ys = random_targets(4, 3, &mut rng);
    let wrong = (softmax(z.view()) - rnn::layers::one_hot(&ys, 3)).into_dyn();
    let r = check_tensor("logits", &z.clone().into_dyn(), &wrong, |x| {
        softmax_cross_entropy(as2(x).view(), &ys, None).0
    });
    assert!(r.rel_error > 1e-2, "the check should catch this: {r}");
}

#[test]
fn huge_logits_give_finite_exact_losses() {
    let z = array![[1000.0, 0.0]];
    let (l0, d0) = softmax_cross_entropy(z.view(), &[0], None);
    // ℓ = ln(1 + e^-1000) ≈ e^-1000, which is 0 in f64
    assert!((0.0..1e-300).contains(&l0), "{l0}");
    assert_eq!(d0, array![[0.0, 0.0]]);
    let (l1, d1) = softmax_cross_entropy(z.view(), &[1], None);
    // ℓ = ln(e^1000 + 1) - 0 = 1000 + ln(1 + e^-1000) = 1000
    assert_eq!(l1, 1000.0);
    assert_eq!(d1, array![[1.0, -1.0]]);

    let z = array![[-1000.0, 1000.0, 0.0], [-1000.0, -1000.0, -1000.0]];
    let (l, d) = softmax_cross_entropy(z.view(), &[0, 2], None);
    // row 0: ℓ = 1000 - (-1000) = 2000; row 1: uniform, ℓ = ln 3
    let want = (2000.0 + 3f64.ln()) / 2.0;
    assert!((l - want).abs() < 1e-12, "{l} vs {want}");
    assert!(d.iter().all(|v| v.is_finite()));
    for p in [softmax(z.view()), log_softmax(z.view())] {
        assert!(p.iter().all(|v| v.is_finite()), "{p}");
    }
    assert_eq!(log_softmax(z.view())[[0, 0]], -2000.0);
}

#[test]
fn small_losses_keep_full_precision() {
    // ℓ = ln(1 + e^-40) = e^-40 (1 - e^-40/2 + ...), far below the 1e-16 of 40 + ℓ - 40
    let (l, _) = softmax_cross_entropy(array![[40.0, 0.0]].view(), &[0], None);
    let want = (-40f64).exp();
    assert!((l - want).abs() <= 1e-12 * want, "{l:e} vs {want:e}");
}

#[test]
fn uniform_logits_give_ln_v() {
    for v in [1usize, 2, 3, 10, 65, 1000] {
        for c in [0.0, 7.5, -300.0, 1e4] {
            let z = Array2::from_elem((3, v), c);
            let (l, d) = softmax_cross_entropy(z.view(), &[0, v - 1, v / 2], None);
            let want = (v as f64).ln();
            assert!(
                (l - want).abs() < 1e-12,
                "V={v} c={c}: {l} vs ln V = {want}"
            );
            assert!((perplexity(l) - v as f64).abs() < 1e-9 * v as f64);
            // ∂L/∂z = (1/V - onehot) / 3 and every row sums to zero
            assert!((d[[0, 0]] - (1.0 / v as f64 - 1.0) / 3.0).abs() < 1e-15);
            for row in d.rows() {
                assert!(row.sum().abs() < 1e-13, "{}", row.sum());
            }
        }
    }
}

#[test]
fn masked_rows_have_zero_gradient_and_do_not_count() {
    let mut rng = rng(26);
    let z = random_logits(5, 4, &mut rng);
    let ys = [1, 3, 0, 2, 2];
    let mask = [1.0, 0.0, 1.0, 0.0, 1.0];
    let (l, d) = softmax_cross_entropy(z.view(), &ys, Some(&mask));
    for i in [1, 3] {
        assert!(d.row(i).iter().all(|&g| g == 0.0), "row {i}: {}", d.row(i));
    }
    for i in [0, 2, 4] {
        assert!(d.row(i).iter().any(|&g| g != 0.0));
    }
    // PyTorch ignore_index semantics: the loss is the mean over the kept rows only
    let kept = z.select(ndarray::Axis(0), &[0, 2, 4]);
    let (l_kept, d_kept) = softmax_cross_entropy(kept.view(), &[1, 0, 2], None);
    assert!((l - l_kept).abs() < 1e-15, "{l} vs {l_kept}");
    assert!((d.row(2).to_owned() - d_kept.row(1))
        .iter()
        .all(|v| v.abs() < 1e-15));
    // an all-ones mask is no mask
    let (l_ones, d_ones) = softmax_cross_entropy(z.view(), &ys, Some(&[1.0; 5]));
    let (l_none, d_none) = softmax_cross_entropy(z.view(), &ys, None);
    assert_eq!((l_ones, d_ones), (l_none, d_none));
}

/// The chapter-3 worked example: input "hell", targets "ello", vocabulary h, e, l, o.
#[test]
fn hello_by_hand() {
    let vocab = ['h', 'e', 'l', 'o'];
    let id = |c: char| vocab.iter().position(|&v| v == c).unwrap();
    let targets: Vec<usize> = "ello".chars().map(id).collect();
    assert_eq!(targets, [1, 2, 2, 3]);
    // one row of logits per input character h, e, l, l (as an output layer might produce them)
    let logits = array![
        [0.5, 2.0, -1.0, 0.1], // after 'h': 'e' is favoured (right)
        [-0.3, 0.2, 1.5, 0.0], // after 'e': 'l' is favoured (right)
        [0.4, -1.2, 0.8, 1.1], // after 'l': 'o' is favoured (wrong, the answer is 'l')
        [0.0, 0.3, -0.5, 2.5], // after 'l': 'o' is favoured (right)
    ];
    let (loss, d) = softmax_cross_entropy(logits.view(), &targets, None);

    // The same by scalar arithmetic.
    let mut total = 0.0;
    for t in 0..4 {
        let row = [
            logits[[t, 0]],
            logits[[t, 1]],
            logits[[t, 2]],
            logits[[t, 3]],
        ];
        let s: f64 = row[0].exp() + row[1].exp() + row[2].exp() + row[3].exp();
        let p_target = row[targets[t]].exp() / s;
        total += -p_target.ln();
        for v in 0..4 {
            let p = row[v].exp() / s;
            let onehot = if v == targets[t] { 1.0 } else { 0.0 };
            let want = (p - onehot) / 4.0;
            assert!(
                (d[[t, v]] - want).abs() < 1e-15,
                "d[{t},{v}] = {} vs {want}",
                d[[t, v]]
            );
        }
    }
    let want = total / 4.0;
    assert!((loss - want).abs() < 1e-14, "{loss} vs {want}");
    // Worked numbers for the book: p(e|h) = e^2 / (e^0.5 + e^2 + e^-1 + e^0.1)
    let p_e_given_h = 2f64.exp() / (0.5f64.exp() + 2f64.exp() + (-1f64).exp() + 0.1f64.exp());
    assert!((p_e_given_h - 0.7030).abs() < 1e-4, "{p_e_given_h}");
    // the model is better than uniform guessing (ln 4 ≈ 1.386 nats, 2 bits)
    assert!(loss < 4f64.ln());
    assert!(bits_per_char(loss) < 2.0);
}

#[test]
fn softmax_is_shift_invariant_and_matches_definition() {
    let mut rng = rng(27);
    let z = random_logits(3, 5, &mut rng);
    let p = softmax(z.view());
    let p_shift = softmax((&z + 123.0).view());
    for (a, b) in p.iter().zip(p_shift.iter()) {
        assert!((a - b).abs() < 1e-14);
    }
    for (i, row) in z.rows().into_iter().enumerate() {
        let s: f64 = row.iter().map(|v| v.exp()).sum();
        for (j, v) in row.iter().enumerate() {
            assert!((p[[i, j]] - v.exp() / s).abs() < 1e-15);
        }
    }
}

#[test]
fn mse_gradient_matches_finite_differences() {
    let mut rng = rng(28);
    let mut worst: f64 = 0.0;
    for shape in [vec![1], vec![5], vec![3, 4], vec![2, 3, 2]] {
        let p = uniform(&shape, -2.0, 2.0, &mut rng);
        let t = uniform(&shape, -2.0, 2.0, &mut rng);
        let (l, g) = mse(p.view(), t.view());
        let by_hand = p
            .iter()
            .zip(t.iter())
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>()
            / p.len() as f64;
        assert!((l - by_hand).abs() < 1e-15);
        let r = check_tensor("pred", &p, &g, |x| mse(x.view(), t.view()).0);
        assert!(r.rel_error < TOLERANCE, "shape {shape:?}: {r}");
        worst = worst.max(r.rel_error);
    }
    eprintln!("mse: worst rel error {worst:.2e}");
    // typed (non-dynamic) arrays work too and keep their dimensionality
    let (l, g) = mse(array![[1.0, 2.0]].view(), array![[1.0, 0.0]].view());
    assert_eq!((l, g), (2.0, array![[0.0, 2.0]]));
}

#[test]
fn perplexity_and_bits() {
    assert_eq!(perplexity(0.0), 1.0);
    assert!((perplexity(2f64.ln()) - 2.0).abs() < 1e-15);
    assert!((bits_per_char(8f64.ln()) - 3.0).abs() < 1e-15);
}

#[test]
#[should_panic(expected = "target class 4 is out of range")]
fn target_out_of_range_panics() {
    softmax_cross_entropy(Array2::zeros((2, 4)).view(), &[0, 4], None);
}

#[test]
#[should_panic(expected = "so N = 3 targets were expected, got 2")]
fn wrong_number_of_targets_panics() {
    softmax_cross_entropy(Array2::zeros((3, 4)).view(), &[0, 1], None);
}

#[test]
#[should_panic(expected = "mask has 2 entries")]
fn wrong_mask_length_panics() {
    softmax_cross_entropy(Array2::zeros((3, 4)).view(), &[0, 1, 2], Some(&[1.0, 1.0]));
}

#[test]
#[should_panic(expected = "targets must be (T, B) = (2, 3), got (3, 2)")]
fn sequence_targets_shape_mismatch_panics() {
    let z = Array3::<f64>::zeros((2, 3, 4));
    sequence_cross_entropy(z.view(), Array2::<usize>::zeros((3, 2)).view(), None);
}

#[test]
#[should_panic(expected = "mse: prediction has shape [2, 3] but target has shape [3, 2]")]
fn mse_shape_mismatch_panics() {
    let p = Array2::<f64>::zeros((2, 3));
    let t = Array2::<f64>::zeros((3, 2));
    mse(p.view(), t.view());
}

#[test]
fn slices_work_as_inputs() {
    // views with strides (a column slice) are accepted and give the same result as a copy
    let z = array![[1.0, 9.0, 2.0], [0.5, 9.0, -1.0]];
    let view = z.slice(s![.., ..;2]); // columns 0 and 2
    let (l, d) = softmax_cross_entropy(view, &[1, 0], None);
    let (l2, d2) = softmax_cross_entropy(view.to_owned().view(), &[1, 0], None);
    assert_eq!((l, d), (l2, d2));
}
