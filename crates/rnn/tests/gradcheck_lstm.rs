//! The LSTM cell and its variants: finite-difference checks of the hand-written backward through BPTT,
//! forward values checked by hand, against an independent loop implementation and against PyTorch, and
//! the gate order. Run with `--nocapture` to see the worst relative error of every variant, and with
//! `LSTM_REPORT=1` set as well to see every tensor's error and where it is worst.

use ndarray::{array, Array1, Array2, Array3};
use rnn::cells::{LstmCache, LstmOptions};
use rnn::gradcheck::{check_cell, TOLERANCE};
use rnn::prelude::*;

/// (D, H, T, B) shapes every variant is checked over.
const SHAPES: [(usize, usize, usize, usize); 5] = [
    (1, 1, 1, 1),
    (3, 4, 1, 2),
    (3, 4, 5, 2),
    (2, 3, 6, 3),
    (4, 2, 3, 1),
];

/// Gradient-checks `options` over every shape, prints the worst error, and fails above the tolerance.
fn gradcheck_variant(name: &str, options: LstmOptions, seed: u64) {
    let mut rng = rnn::init::rng(seed);
    let mut worst = 0.0f64;
    for (d, h, t, b) in SHAPES {
        let cell = Lstm::with_options(d, h, options, &mut rng);
        let report = check_cell(&cell, t, b, &mut rng);
        // every parameter, plus xs, h0 and c0 (and the initial gates g0 with FGR), was checked
        let states = 3 + usize::from(options.full_gate_recurrence);
        assert_eq!(
            report.tensors.len(),
            cell.params().len() + states,
            "{report}"
        );
        eprintln!(
            "LSTM {name:<16} D={d} H={h} T={t} B={b}: worst {:.2e}",
            report.max_rel_error()
        );
        if std::env::var("LSTM_REPORT").is_ok() {
            eprintln!("{report}");
        }
        report.assert_below(TOLERANCE);
        worst = worst.max(report.max_rel_error());
    }
    eprintln!("LSTM {name:<16} worst relative error over all shapes: {worst:.2e}");
}

#[test]
fn gradcheck_default() {
    gradcheck_variant("default", LstmOptions::default(), 21);
}

#[test]
fn gradcheck_forget_bias_1() {
    let options = LstmOptions {
        forget_bias: 1.0,
        ..Default::default()
    };
    gradcheck_variant("forget_bias=1", options, 22);
}

#[test]
fn gradcheck_peephole() {
    let options = LstmOptions {
        peephole: true,
        ..Default::default()
    };
    gradcheck_variant("peephole", options, 23);
}

#[test]
fn gradcheck_cifg() {
    let options = LstmOptions {
        cifg: true,
        ..Default::default()
    };
    gradcheck_variant("cifg", options, 24);
}

#[test]
fn gradcheck_peephole_cifg() {
    let options = LstmOptions {
        peephole: true,
        cifg: true,
        forget_bias: 0.5,
        ..Default::default()
    };
    gradcheck_variant("peephole+cifg", options, 25);
}

/// Every variant of Greff et al. (2015), one step (T = 1) and sequences (T ≥ 4, B ≥ 2), through BPTT with
/// a loss on every h_t and on the final state.
#[test]
fn gradcheck_greff_variants() {
    for (k, v) in rnn::cells::GreffVariant::ALL.into_iter().enumerate() {
        gradcheck_variant(v.name(), LstmOptions::greff(v), 40 + k as u64);
    }
}

/// Greff's variants with a forget bias (it moves the forget gate's bias, so the gates saturate
/// differently), and combinations of the new options.
#[test]
fn gradcheck_greff_combinations() {
    use rnn::cells::GreffVariant;
    for (k, v) in GreffVariant::ALL.into_iter().enumerate() {
        let options = LstmOptions {
            forget_bias: 1.0,
            ..LstmOptions::greff(v)
        };
        gradcheck_variant(&format!("{}+fb=1", v.name()), options, 60 + k as u64);
    }
    let combos = [
        (
            "NIAF+NOAF",
            LstmOptions {
                no_input_activation: true,
                no_output_activation: true,
                ..Default::default()
            },
        ),
        (
            "NIG+NOG",
            LstmOptions {
                no_input_gate: true,
                no_output_gate: true,
                forget_bias: 0.5,
                ..Default::default()
            },
        ),
        (
            "NFG, no peep",
            LstmOptions {
                no_forget_gate: true,
                ..Default::default()
            },
        ),
        (
            "CIFG+NOG+NOAF",
            LstmOptions {
                cifg: true,
                no_output_gate: true,
                no_output_activation: true,
                peephole: true,
                ..Default::default()
            },
        ),
        (
            "FGR, no peep",
            LstmOptions {
                full_gate_recurrence: true,
                ..Default::default()
            },
        ),
        (
            "FGR+NIAF+NOAF",
            LstmOptions {
                full_gate_recurrence: true,
                no_input_activation: true,
                no_output_activation: true,
                peephole: true,
                forget_bias: 1.0,
                ..Default::default()
            },
        ),
    ];
    for (k, (name, options)) in combos.into_iter().enumerate() {
        gradcheck_variant(name, options, 80 + k as u64);
    }
}

/// An LSTM whose backward drops the constant error carousel (returns a zero dc_{t-1}).
#[derive(Clone)]
struct DropsCarousel(Lstm);

impl Parameters for DropsCarousel {
    fn params(&self) -> Vec<(String, ndarray::ArrayViewD<'_, f64>)> {
        self.0.params()
    }
    fn params_mut(&mut self) -> Vec<(String, ndarray::ArrayViewMutD<'_, f64>)> {
        self.0.params_mut()
    }
}

impl Cell for DropsCarousel {
    type Cache = LstmCache;
    fn input_size(&self) -> usize {
        self.0.input_size()
    }
    fn hidden_size(&self) -> usize {
        self.0.hidden_size()
    }
    fn kind(&self) -> &'static str {
        "broken"
    }
    fn zero_state(&self, batch: usize) -> State {
        self.0.zero_state(batch)
    }
    fn forward(&self, x: ndarray::ArrayView2<'_, f64>, prev: &State) -> (State, LstmCache) {
        self.0.forward(x, prev)
    }
    fn backward(&self, cache: &LstmCache, d: &State, g: &mut Self) -> (Array2<f64>, State) {
        let (dx, mut dprev) = self.0.backward(cache, d, &mut g.0);
        dprev.c.as_mut().unwrap().fill(0.0);
        (dx, dprev)
    }
}

#[test]
fn gradcheck_catches_a_backward_that_drops_the_carousel() {
    let mut rng = rnn::init::rng(26);
    let cell = DropsCarousel(Lstm::new(3, 4, &mut rng));
    let report = check_cell(&cell, 5, 2, &mut rng);
    assert!(
        report.max_rel_error() > 1e-2,
        "a backward without dc_prev should fail the check, got {:.2e}",
        report.max_rel_error()
    );
}

fn sigma(a: f64) -> f64 {
    1.0 / (1.0 + (-a).exp())
}

/// One step of the LSTM written with scalar loops, straight from the equations: an implementation that
/// shares nothing with the library's (no matrix products, no slicing, no broadcasting).
fn reference_step(
    cell: &Lstm,
    x: &Array2<f64>,
    h_prev: &Array2<f64>,
    c_prev: &Array2<f64>,
) -> (Array2<f64>, Array2<f64>) {
    let (batch, d) = x.dim();
    let h = h_prev.ncols();
    let cifg = cell.options.cifg;
    // pre-activation of unit u of gate block k
    let pre = |b: usize, k: usize, u: usize| {
        let r = k * h + u;
        let mut a = cell.bias_ih[r] + cell.bias_hh[r];
        for j in 0..d {
            a += cell.weight_ih[[r, j]] * x[[b, j]];
        }
        for j in 0..h {
            a += cell.weight_hh[[r, j]] * h_prev[[b, j]];
        }
        a
    };
    let peep = |w: &Option<Array1<f64>>, u: usize| w.as_ref().map_or(0.0, |w| w[u]);
    let (mut h_next, mut c_next) = (Array2::zeros((batch, h)), Array2::zeros((batch, h)));
    for b in 0..batch {
        for u in 0..h {
            let cp = c_prev[[b, u]];
            let (kf, kg, ko) = if cifg { (0, 1, 2) } else { (1, 2, 3) };
            let f = sigma(pre(b, kf, u) + peep(&cell.weight_cf, u) * cp);
            let i = if cifg {
                1.0 - f
            } else {
                sigma(pre(b, 0, u) + peep(&cell.weight_ci, u) * cp)
            };
            let g = pre(b, kg, u).tanh();
            let c = f * cp + i * g;
            let o = sigma(pre(b, ko, u) + peep(&cell.weight_co, u) * c);
            c_next[[b, u]] = c;
            h_next[[b, u]] = o * c.tanh();
        }
    }
    (h_next, c_next)
}

fn max_abs_diff(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    assert_eq!(a.dim(), b.dim());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

#[test]
fn one_step_by_hand_h1_d1() {
    let mut cell = Lstm::new(1, 1, &mut rnn::init::rng(0));
    // rows: i, f, g, o
    cell.weight_ih = array![[0.5], [-0.3], [0.8], [0.2]];
    cell.weight_hh = array![[0.1], [0.4], [-0.6], [0.7]];
    cell.bias_ih = array![0.05, -0.1, 0.2, 0.0];
    cell.bias_hh = array![0.0, 0.3, -0.1, 0.15];
    let (x, h_prev, c_prev) = (0.9, -0.4, 0.6);

    let i = sigma(0.5 * x + 0.1 * h_prev + 0.05);
    let f = sigma(-0.3 * x + 0.4 * h_prev - 0.1 + 0.3);
    let g = (0.8 * x - 0.6 * h_prev + 0.2 - 0.1).tanh();
    let o = sigma(0.2 * x + 0.7 * h_prev + 0.15);
    let c = f * c_prev + i * g;
    let h = o * c.tanh();

    let prev = State {
        h: array![[h_prev]],
        c: Some(array![[c_prev]]),
        gates: None,
    };
    let (next, cache) = cell.forward(array![[x]].view(), &prev);
    eprintln!("one step by hand: i={i:.6} f={f:.6} g={g:.6} o={o:.6} c={c:.6} h={h:.6}");
    for (what, got, want) in [
        ("i", cache.i[[0, 0]], i),
        ("f", cache.f[[0, 0]], f),
        ("g", cache.g[[0, 0]], g),
        ("o", cache.o[[0, 0]], o),
        ("c", next.c.as_ref().unwrap()[[0, 0]], c),
        ("h", next.h[[0, 0]], h),
    ] {
        assert!(
            (got - want).abs() < 1e-14,
            "{what}: cell gives {got}, by hand {want}"
        );
    }
}

#[test]
fn forward_matches_a_loop_implementation_for_every_variant() {
    let mut rng = rnn::init::rng(30);
    for (peephole, cifg) in [(false, false), (true, false), (false, true), (true, true)] {
        let options = LstmOptions {
            peephole,
            cifg,
            forget_bias: 1.0,
            ..Default::default()
        };
        let (d, h, b) = (3, 4, 2);
        let cell = Lstm::with_options(d, h, options, &mut rng);
        let as2 = |a: ndarray::ArrayD<f64>| a.into_dimensionality().unwrap();
        let x: Array2<f64> = as2(rnn::init::uniform(&[b, d], -1.0, 1.0, &mut rng));
        let h0: Array2<f64> = as2(rnn::init::uniform(&[b, h], -1.0, 1.0, &mut rng));
        let c0: Array2<f64> = as2(rnn::init::uniform(&[b, h], -2.0, 2.0, &mut rng));
        let prev = State {
            h: h0.clone(),
            c: Some(c0.clone()),
            gates: None,
        };
        let (next, _) = cell.forward(x.view(), &prev);
        let (h_ref, c_ref) = reference_step(&cell, &x, &h0, &c0);
        let err = max_abs_diff(&next.h, &h_ref).max(max_abs_diff(next.c.as_ref().unwrap(), &c_ref));
        assert!(
            err < 1e-13,
            "peephole={peephole} cifg={cifg}: differs from the loop version by {err:.2e}"
        );
    }
}

/// Fills a tensor, in row-major order, with 0.5 sin(0.37 j + phase), as the Python script below does.
fn fill(shape: &[usize], phase: f64) -> ndarray::ArrayD<f64> {
    let n: usize = shape.iter().product();
    let v = (0..n)
        .map(|j| 0.5 * (0.37 * j as f64 + phase).sin())
        .collect();
    ndarray::ArrayD::from_shape_vec(shape, v).unwrap()
}

/// Two steps of `torch.nn.LSTM(3, 2)` in float64. The expected numbers came from PyTorch 2.x:
///
/// ```text
/// m = torch.nn.LSTM(3, 2)   # weights filled with fill(), phases 0.1, 0.2, 0.3, 0.4
/// xs = fill((2, 2, 3), 0.5); h0 = fill((1, 2, 2), 0.6); c0 = fill((1, 2, 2), 0.7)
/// out, (hn, cn) = m(xs, (h0, c0))
/// ```
#[test]
fn matches_pytorch_lstm() {
    let (d, h, b, t) = (3, 2, 2, 2);
    let mut cell = Lstm::new(d, h, &mut rnn::init::rng(0));
    let as1 = |a: ndarray::ArrayD<f64>| a.into_dimensionality().unwrap();
    let as2 = |a: ndarray::ArrayD<f64>| a.into_dimensionality().unwrap();
    cell.weight_ih = as2(fill(&[4 * h, d], 0.1));
    cell.weight_hh = as2(fill(&[4 * h, h], 0.2));
    cell.bias_ih = as1(fill(&[4 * h], 0.3));
    cell.bias_hh = as1(fill(&[4 * h], 0.4));
    let xs: Array3<f64> = fill(&[t, b, d], 0.5).into_dimensionality().unwrap();
    let init = State {
        h: as2(fill(&[b, h], 0.6)),
        c: Some(as2(fill(&[b, h], 0.7))),
        gates: None,
    };
    let run = rnn::bptt::unroll(&cell, xs.view(), &init);
    let torch_out = [
        0.30333562451697654,
        0.342473479240135,
        0.32765044032068286,
        0.3005847733754261,
        0.36997560564617643,
        0.3424766332331909,
        0.317474592715368,
        0.2406561944237896,
    ];
    let torch_cn = [
        0.8113191319384061,
        0.8069106645277557,
        0.9057161307713748,
        0.7857924083185979,
    ];
    for (got, want) in run.outputs.iter().zip(torch_out) {
        assert!((got - want).abs() < 1e-12, "output {got} vs PyTorch {want}");
    }
    for (got, want) in run.last.c.as_ref().unwrap().iter().zip(torch_cn) {
        assert!((got - want).abs() < 1e-12, "c_n {got} vs PyTorch {want}");
    }
}

/// A cell with all weights and biases zero: every gate pre-activation is exactly its bias.
fn zero_cell(h: usize, options: LstmOptions) -> Lstm {
    let mut cell = Lstm::with_options(2, h, options, &mut rnn::init::rng(1));
    for (_, mut p) in cell.params_mut() {
        p.fill(0.0);
    }
    cell
}

/// Sets gate block `k` of `bias_ih` to `v` (all its H units).
fn set_gate_bias(cell: &mut Lstm, k: usize, v: f64) {
    let h = cell.hidden_size();
    cell.bias_ih
        .slice_mut(ndarray::s![k * h..(k + 1) * h])
        .fill(v);
}

/// Runs one step from (h = 0, c = c_prev) on x = 0.
fn step(cell: &Lstm, c_prev: &Array2<f64>) -> (Array2<f64>, Array2<f64>) {
    let prev = State {
        h: Array2::zeros(c_prev.raw_dim()),
        c: Some(c_prev.clone()),
        gates: None,
    };
    let x = Array2::zeros((c_prev.nrows(), cell.input_size()));
    let (next, _) = cell.forward(x.view(), &prev);
    (next.h, next.c.unwrap())
}

#[test]
fn gate_order_is_i_f_g_o() {
    let (big, h) = (40.0, 3);
    let c_prev = array![[0.3, -0.7, 0.5], [1.2, 0.1, -0.4]];
    let ones = Array2::<f64>::ones(c_prev.raw_dim());

    // Only block 1 (f) saturated open: with all weights zero g = tanh(0) = 0, so c' = f ⊙ c_prev ≈ c_prev.
    // (Were f any other block, f would be σ(0) = 1/2 and c' = c_prev / 2.)
    let mut cell = zero_cell(h, LstmOptions::default());
    set_gate_bias(&mut cell, 1, big);
    let (_, c) = step(&cell, &c_prev);
    assert!(
        max_abs_diff(&c, &c_prev) < 1e-12,
        "f is not block 1: c' = {c}"
    );

    // Block 0 (i) and block 2 (g) open, block 1 (f) shut: c' = i ⊙ g ≈ 1, whatever c_prev was.
    let mut cell = zero_cell(h, LstmOptions::default());
    set_gate_bias(&mut cell, 0, big);
    set_gate_bias(&mut cell, 1, -big);
    set_gate_bias(&mut cell, 2, big);
    let (hh, c) = step(&cell, &c_prev);
    assert!(
        max_abs_diff(&c, &ones) < 1e-12,
        "i, g are not blocks 0, 2: c' = {c}"
    );
    // o (block 3) is σ(0) = 1/2 here ...
    assert!(
        max_abs_diff(&hh, &(&ones * 0.5 * 1f64.tanh())) < 1e-12,
        "h' = {hh}"
    );
    // ... and block 3 shut closes the output: h' ≈ 0 while c' is unchanged.
    set_gate_bias(&mut cell, 3, -big);
    let (hh, c) = step(&cell, &c_prev);
    assert!(max_abs_diff(&c, &ones) < 1e-12);
    assert!(
        hh.iter().all(|v| v.abs() < 1e-12),
        "o is not block 3: h' = {hh}"
    );

    // Only block 2 (g) saturated: c' = σ(0) c_prev + σ(0) tanh(big) = (c_prev + 1) / 2.
    let mut cell = zero_cell(h, LstmOptions::default());
    set_gate_bias(&mut cell, 2, big);
    let (_, c) = step(&cell, &c_prev);
    assert!(
        max_abs_diff(&c, &((&c_prev + 1.0) * 0.5)) < 1e-12,
        "g is not block 2: c' = {c}"
    );
}

#[test]
fn cifg_gate_order_is_f_g_o_and_i_is_one_minus_f() {
    let (big, h) = (40.0, 2);
    let cifg = LstmOptions {
        cifg: true,
        ..Default::default()
    };
    let c_prev = array![[0.3, -0.7]];
    let mut cell = zero_cell(h, cifg);
    assert_eq!(cell.weight_ih.dim(), (3 * h, 2));
    // f (block 0) open: i = 1 - f ≈ 0, so the cell only remembers, even with g (block 1) open.
    set_gate_bias(&mut cell, 0, big);
    set_gate_bias(&mut cell, 1, big);
    let (_, c) = step(&cell, &c_prev);
    assert!(max_abs_diff(&c, &c_prev) < 1e-12, "c' = {c}");
    // f shut: i = 1, the cell is overwritten with g = 1; o (block 2) shut closes the output.
    set_gate_bias(&mut cell, 0, -big);
    set_gate_bias(&mut cell, 2, -big);
    let (hh, c) = step(&cell, &c_prev);
    assert!(max_abs_diff(&c, &array![[1.0, 1.0]]) < 1e-12, "c' = {c}");
    assert!(hh.iter().all(|v| v.abs() < 1e-12), "h' = {hh}");
    // all biases 0: f = 1/2, i = 1 - f = 1/2 exactly as the cache records
    let cell = zero_cell(h, cifg);
    let prev = State {
        h: Array2::zeros((1, h)),
        c: Some(c_prev.clone()),
        gates: None,
    };
    let (_, cache) = cell.forward(Array2::zeros((1, 2)).view(), &prev);
    assert_eq!(cache.i, cache.f.mapv(|f| 1.0 - f));
}

#[test]
fn constant_error_carousel_passes_dc_through_an_open_forget_gate() {
    // f ≈ 1 and no gradient on h: ∂L/∂c_{t-1} = ∂L/∂c_t ⊙ f_t ≈ ∂L/∂c_t, with no decay.
    let mut cell = zero_cell(3, LstmOptions::default());
    set_gate_bias(&mut cell, 1, 40.0);
    let c_prev = array![[0.3, -0.7, 0.5]];
    let prev = State {
        h: Array2::zeros((1, 3)),
        c: Some(c_prev),
        gates: None,
    };
    let (_, cache) = cell.forward(Array2::zeros((1, 2)).view(), &prev);
    let dc = array![[1.0, -2.0, 0.5]];
    let d_next = State {
        h: Array2::zeros((1, 3)),
        c: Some(dc.clone()),
        gates: None,
    };
    let mut grads = cell.zeros_like();
    let (_, d_prev) = cell.backward(&cache, &d_next, &mut grads);
    assert!(max_abs_diff(d_prev.c.as_ref().unwrap(), &dc) < 1e-12);
}

#[test]
fn forget_bias_is_added_to_the_forget_rows_of_bias_ih_only() {
    for cifg in [false, true] {
        let (d, h) = (3, 4);
        let base = LstmOptions {
            cifg,
            ..Default::default()
        };
        let plain = Lstm::with_options(d, h, base, &mut rnn::init::rng(5));
        let biased = Lstm::with_options(
            d,
            h,
            LstmOptions {
                forget_bias: 1.0,
                ..base
            },
            &mut rnn::init::rng(5),
        );
        let f_block = if cifg { 0 } else { 1 };
        for (r, (a, b)) in plain.bias_ih.iter().zip(&biased.bias_ih).enumerate() {
            let want = if r / h == f_block { 1.0 } else { 0.0 };
            assert!(
                (b - a - want).abs() < 1e-15,
                "cifg={cifg} row {r}: {a} -> {b}"
            );
        }
        assert_eq!(plain.weight_ih, biased.weight_ih);
        assert_eq!(plain.bias_hh, biased.bias_hh);
    }
}

#[test]
fn default_init_is_pytorch_draw_order_and_range() {
    let (d, h) = (3, 4);
    let cell = Lstm::new(d, h, &mut rnn::init::rng(9));
    let mut rng = rnn::init::rng(9);
    let want = [
        rnn::init::pytorch_default(&[4 * h, d], h, &mut rng),
        rnn::init::pytorch_default(&[4 * h, h], h, &mut rng),
        rnn::init::pytorch_default(&[4 * h], h, &mut rng),
        rnn::init::pytorch_default(&[4 * h], h, &mut rng),
    ];
    for ((name, got), want) in cell.params().into_iter().zip(&want) {
        assert_eq!(got, want.view(), "{name}");
        assert!(
            got.iter().all(|v| v.abs() <= 0.5),
            "{name} outside U(-1/√H, 1/√H)"
        );
    }
}

#[test]
fn parameter_names_and_shapes_per_variant() {
    let (d, h) = (3, 5);
    let cases = [
        (
            false,
            false,
            vec!["weight_ih", "weight_hh", "bias_ih", "bias_hh"],
            4,
        ),
        (
            true,
            false,
            vec![
                "weight_ih",
                "weight_hh",
                "bias_ih",
                "bias_hh",
                "weight_ci",
                "weight_cf",
                "weight_co",
            ],
            4,
        ),
        (
            false,
            true,
            vec!["weight_ih", "weight_hh", "bias_ih", "bias_hh"],
            3,
        ),
        (
            true,
            true,
            vec![
                "weight_ih",
                "weight_hh",
                "bias_ih",
                "bias_hh",
                "weight_cf",
                "weight_co",
            ],
            3,
        ),
    ];
    for (peephole, cifg, names, g) in cases {
        let options = LstmOptions {
            peephole,
            cifg,
            forget_bias: 0.0,
            ..Default::default()
        };
        let mut cell = Lstm::with_options(d, h, options, &mut rnn::init::rng(2));
        assert_eq!(options.num_gates(), g);
        let got: Vec<String> = cell.params().into_iter().map(|(n, _)| n).collect();
        assert_eq!(got, names, "peephole={peephole} cifg={cifg}");
        let mut_names: Vec<String> = cell.params_mut().into_iter().map(|(n, _)| n).collect();
        assert_eq!(mut_names, names);
        let peep = if peephole { names.len() - 4 } else { 0 };
        assert_eq!(cell.num_params(), g * h * (d + h + 2) + peep * h);
        assert_eq!(
            (cell.input_size(), cell.hidden_size(), cell.kind()),
            (d, h, "lstm")
        );
        let z = cell.zero_state(2);
        assert_eq!(z.h, Array2::<f64>::zeros((2, h)));
        assert_eq!(z.c, Some(Array2::<f64>::zeros((2, h))));
    }
}

#[test]
#[should_panic(expected = "no cell state c")]
fn forward_without_a_cell_state_panics_with_a_message() {
    let cell = Lstm::new(2, 3, &mut rnn::init::rng(0));
    let prev = State::from_h(Array2::zeros((1, 3)));
    let _ = cell.forward(Array2::zeros((1, 2)).view(), &prev);
}

/// Each Greff variant's tensors: the gate blocks that exist (in the order i, f, g, o), the peepholes
/// of those gates, `weight_gg` for FGR and its gates in the zero state; contradictory options and
/// unknown names are refused.
#[test]
fn greff_variants_have_their_tensors_and_contradictions_are_refused() {
    use rnn::cells::GreffVariant as G;
    let (d, h) = (3, 2);
    let expect: [(G, usize, &[&str]); 9] = [
        (G::Vanilla, 4, &["weight_ci", "weight_cf", "weight_co"]),
        (G::Nig, 3, &["weight_cf", "weight_co"]),
        (G::Nfg, 3, &["weight_ci", "weight_co"]),
        (G::Nog, 3, &["weight_ci", "weight_cf"]),
        (G::Niaf, 4, &["weight_ci", "weight_cf", "weight_co"]),
        (G::Noaf, 4, &["weight_ci", "weight_cf", "weight_co"]),
        (G::Np, 4, &[]),
        (G::Cifg, 3, &["weight_cf", "weight_co"]),
        (
            G::Fgr,
            4,
            &["weight_ci", "weight_cf", "weight_co", "weight_gg"],
        ),
    ];
    for (v, gates, extra) in expect {
        let cell = Lstm::with_options(d, h, LstmOptions::greff(v), &mut rnn::init::rng(1));
        assert_eq!(cell.weight_ih.dim(), (gates * h, d), "{v:?}");
        assert_eq!(cell.weight_hh.dim(), (gates * h, h), "{v:?}");
        let names: Vec<String> = cell.params().into_iter().map(|(n, _)| n).collect();
        let mut want = vec!["weight_ih", "weight_hh", "bias_ih", "bias_hh"];
        want.extend(extra);
        assert_eq!(names, want, "{v:?}");
        let zero = cell.zero_state(5);
        assert_eq!(
            zero.gates.map(|g| g.dim()),
            (v == G::Fgr).then_some((5, 3 * h)),
            "{v:?}"
        );
        assert_eq!(v.name().to_lowercase().parse::<G>().unwrap(), v);
    }
    if let Some(w) =
        &Lstm::with_options(d, h, LstmOptions::greff(G::Fgr), &mut rnn::init::rng(1)).weight_gg
    {
        assert_eq!(w.dim(), (3 * h, 3 * h));
    }
    let err = "XYZ".parse::<G>().unwrap_err().to_string();
    assert!(err.contains("XYZ") && err.contains("NOAF"), "{err}");
    for bad in [
        LstmOptions {
            cifg: true,
            no_forget_gate: true,
            ..Default::default()
        },
        LstmOptions {
            cifg: true,
            no_input_gate: true,
            ..Default::default()
        },
        LstmOptions {
            full_gate_recurrence: true,
            no_output_gate: true,
            ..Default::default()
        },
        LstmOptions {
            full_gate_recurrence: true,
            cifg: true,
            ..Default::default()
        },
    ] {
        assert!(bad.validate().is_err(), "{bad:?}");
        let cfg = rnn::cells::CellConfig::lstm(bad);
        assert!(cfg.validate().is_err(), "{bad:?}");
    }
}
