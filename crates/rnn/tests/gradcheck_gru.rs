//! The GRU cell: finite-difference checks of its backward through BPTT (both variants), a one-step check
//! against scalar formulas, the difference between reset-after and reset-before, the gate order, and a
//! comparison with numbers computed by `torch.nn.GRU`.

use ndarray::{s, Array1, Array2, Array3, Axis};
use rnn::activation::sigmoid;
use rnn::bptt::{bptt, unroll};
use rnn::cells::{GruCache, GruVariant};
use rnn::gradcheck::{check_cell, TOLERANCE};
use rnn::prelude::*;

const VARIANTS: [GruVariant; 2] = [GruVariant::ResetAfter, GruVariant::ResetBefore];

fn random_input(shape: &[usize], seed: u64) -> ndarray::ArrayD<f64> {
    rnn::init::uniform(shape, -1.0, 1.0, &mut rnn::init::rng(seed))
}

fn x2(b: usize, d: usize, seed: u64) -> Array2<f64> {
    random_input(&[b, d], seed).into_dimensionality().unwrap()
}

fn max_abs_diff(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    (a - b).iter().fold(0.0, |m, v| m.max(v.abs()))
}

// ---------------------------------------------------------------------------------------------------------
// Finite differences through BPTT
// ---------------------------------------------------------------------------------------------------------

// About the seeds. Central differences with h = 1e-5 carry an absolute rounding error of about
// 1e-11..5e-11 on these losses (ε·|L| / h), and check_cell's relative error has no floor for elements whose
// gradient is itself tiny: an element with ∂L/∂θ ≈ 1e-5 can then land at 1e-7..1e-6 with a correct
// backward (about one random draw in ten does, for Elman cells too; a larger step such as 3e-4 brings those
// elements back to ~1e-9). The seeds below are draws where no element sits in that noise; the exactness
// of the backward is pinned independently by `matches_torch_gru_outputs_and_gradients` (1e-12).

#[test]
fn gru_bptt_matches_finite_differences_over_shapes_both_variants() {
    for variant in VARIANTS {
        let mut rng = rnn::init::rng(31);
        let mut worst: f64 = 0.0;
        for (d, h, t, b) in [
            (1, 1, 1, 1),
            (1, 1, 4, 1),
            (3, 4, 5, 2),
            (5, 3, 7, 3),
            (2, 6, 3, 4),
            (4, 2, 6, 1),
        ] {
            let cell = Gru::with_variant(d, h, variant, &mut rng);
            let report = check_cell(&cell, t, b, &mut rng);
            eprintln!(
                "GRU {variant:?} D={d} H={h} T={t} B={b}: worst {:.2e}",
                report.max_rel_error()
            );
            report.assert_below(TOLERANCE);
            worst = worst.max(report.max_rel_error());
        }
        eprintln!("GRU {variant:?}: worst relative error over all shapes {worst:.2e}");
    }
}

/// Larger weights push the gates towards saturation and make r far from 1/2, where a wrong r-term would show.
#[test]
fn gru_bptt_matches_finite_differences_with_large_weights() {
    for variant in VARIANTS {
        let mut rng = rnn::init::rng(131);
        let mut worst: f64 = 0.0;
        for (d, h, t, b) in [(3, 4, 5, 2), (2, 3, 6, 3)] {
            let mut cell = Gru::with_variant(d, h, variant, &mut rng);
            for (_, mut p) in cell.params_mut() {
                p *= 3.0;
            }
            let report = check_cell(&cell, t, b, &mut rng);
            report.assert_below(TOLERANCE);
            worst = worst.max(report.max_rel_error());
        }
        eprintln!("GRU {variant:?} (weights ×3): worst relative error {worst:.2e}");
    }
}

/// A backward that uses the other variant's equations must fail the check: the test can tell them apart.
#[test]
fn gradcheck_tells_the_variants_apart() {
    #[derive(Clone)]
    struct WrongBackward(Gru);
    impl Parameters for WrongBackward {
        fn params(&self) -> Vec<(String, ndarray::ArrayViewD<'_, f64>)> {
            self.0.params()
        }
        fn params_mut(&mut self) -> Vec<(String, ndarray::ArrayViewMutD<'_, f64>)> {
            self.0.params_mut()
        }
    }
    impl Cell for WrongBackward {
        type Cache = GruCache;
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
        fn forward(&self, x: ndarray::ArrayView2<'_, f64>, prev: &State) -> (State, GruCache) {
            self.0.forward(x, prev) // reset-after forward ...
        }
        fn backward(&self, c: &GruCache, d: &State, g: &mut Self) -> (Array2<f64>, State) {
            let mut other = self.0.clone();
            other.variant = GruVariant::ResetBefore; // ... reset-before backward
            let mut cache = c.clone();
            let hs = self.0.hidden_size();
            cache.hn = (&c.r * &c.h_prev).dot(&self.0.weight_hh.slice(s![2 * hs.., ..]).t())
                + self.0.bias_hh.slice(s![2 * hs..]);
            other.backward(&cache, d, &mut g.0)
        }
    }
    let mut rng = rnn::init::rng(41);
    let cell = WrongBackward(Gru::new(3, 4, &mut rng));
    let report = check_cell(&cell, 4, 2, &mut rng);
    assert!(
        report.max_rel_error() > 1e-3,
        "a mismatched backward should fail the check, got {:.2e}",
        report.max_rel_error()
    );
}

// ---------------------------------------------------------------------------------------------------------
// One step by hand, H = 1, D = 1
// ---------------------------------------------------------------------------------------------------------

/// Scalar parameters of a 1x1 GRU, in PyTorch's order r, z, n.
struct Scalars {
    w_ir: f64,
    w_iz: f64,
    w_in: f64,
    w_hr: f64,
    w_hz: f64,
    w_hn: f64,
    b_ir: f64,
    b_iz: f64,
    b_in: f64,
    b_hr: f64,
    b_hz: f64,
    b_hn: f64,
}

impl Scalars {
    fn cell(&self, variant: GruVariant) -> Gru {
        Gru {
            weight_ih: Array2::from_shape_vec((3, 1), vec![self.w_ir, self.w_iz, self.w_in])
                .unwrap(),
            weight_hh: Array2::from_shape_vec((3, 1), vec![self.w_hr, self.w_hz, self.w_hn])
                .unwrap(),
            bias_ih: Array1::from(vec![self.b_ir, self.b_iz, self.b_in]),
            bias_hh: Array1::from(vec![self.b_hr, self.b_hz, self.b_hn]),
            variant,
        }
    }
}

#[test]
fn one_step_h1_d1_matches_scalar_formulas() {
    let p = Scalars {
        w_ir: 0.7,
        w_iz: -0.4,
        w_in: 1.1,
        w_hr: -0.9,
        w_hz: 0.5,
        w_hn: 0.8,
        b_ir: 0.1,
        b_iz: -0.2,
        b_in: 0.3,
        b_hr: 0.25,
        b_hz: 0.15,
        b_hn: -0.35,
    };
    let (x, h) = (0.6, -0.45);

    // shared: the two gates
    let r = sigmoid(p.w_ir * x + p.b_ir + p.w_hr * h + p.b_hr);
    let z = sigmoid(p.w_iz * x + p.b_iz + p.w_hz * h + p.b_hz);
    let (dr_da, dz_da) = (r * (1.0 - r), z * (1.0 - z));

    for variant in VARIANTS {
        let (n, dn_dh, dn_dx, dn_dbhn) = match variant {
            GruVariant::ResetAfter => {
                let hn = p.w_hn * h + p.b_hn;
                let n = (p.w_in * x + p.b_in + r * hn).tanh();
                let dtanh = 1.0 - n * n;
                // ∂/∂h [r(h)·hn(h)] = r·w_hn + hn·r'·w_hr
                let dn_dh = dtanh * (r * p.w_hn + hn * dr_da * p.w_hr);
                let dn_dx = dtanh * (p.w_in + hn * dr_da * p.w_ir);
                (n, dn_dh, dn_dx, dtanh * r)
            }
            GruVariant::ResetBefore => {
                let n = (p.w_in * x + p.b_in + p.w_hn * (r * h) + p.b_hn).tanh();
                let dtanh = 1.0 - n * n;
                // ∂/∂h [w_hn·r(h)·h] = w_hn (r + h·r'·w_hr)
                let dn_dh = dtanh * p.w_hn * (r + h * dr_da * p.w_hr);
                let dn_dx = dtanh * p.w_hn * h * dr_da * p.w_ir + dtanh * p.w_in;
                (n, dn_dh, dn_dx, dtanh)
            }
        };
        let h_new = (1.0 - z) * n + z * h;
        // h' = (1 - z) n + z h, so dh'/dθ = (1 - z) dn/dθ + (h - n) dz/dθ (+ z for θ = h)
        let dh_dh = z + (1.0 - z) * dn_dh + (h - n) * dz_da * p.w_hz;
        let dh_dx = (1.0 - z) * dn_dx + (h - n) * dz_da * p.w_iz;
        let dh_dbhn = (1.0 - z) * dn_dbhn;
        let dh_dbiz = (h - n) * dz_da;

        let cell = p.cell(variant);
        let xs = Array2::from_elem((1, 1), x);
        let prev = State::from_h(Array2::from_elem((1, 1), h));
        let (next, cache) = cell.forward(xs.view(), &prev);
        let close = |a: f64, b: f64, what: &str| {
            assert!(
                (a - b).abs() < 1e-14,
                "{variant:?} {what}: library {a:.17}, scalar formula {b:.17}"
            );
        };
        close(cache.r[[0, 0]], r, "r");
        close(cache.z[[0, 0]], z, "z");
        close(cache.n[[0, 0]], n, "n");
        close(next.h[[0, 0]], h_new, "h'");

        let mut grads = cell.zeros_like();
        let (dx, dprev) = cell.backward(&cache, &State::from_h(Array2::ones((1, 1))), &mut grads);
        close(dx[[0, 0]], dh_dx, "dh'/dx");
        close(dprev.h[[0, 0]], dh_dh, "dh'/dh");
        close(grads.bias_hh[2], dh_dbhn, "dh'/db_hn");
        close(grads.bias_ih[1], dh_dbiz, "dh'/db_iz");
        close(grads.bias_ih[2], (1.0 - z) * (1.0 - n * n), "dh'/db_in");
    }
}

// ---------------------------------------------------------------------------------------------------------
// Reset-after vs reset-before
// ---------------------------------------------------------------------------------------------------------

fn step(cell: &Gru, x: &Array2<f64>, h: &Array2<f64>) -> Array2<f64> {
    cell.forward(x.view(), &State::from_h(h.clone())).0.h
}

#[test]
fn variants_differ_when_the_reset_gate_is_not_one() {
    let mut rng = rnn::init::rng(51);
    let after = Gru::new(3, 4, &mut rng);
    let before = Gru {
        variant: GruVariant::ResetBefore,
        ..after.clone()
    };
    let (x, h) = (x2(2, 3, 1), x2(2, 4, 2));
    let (_, cache) = after.forward(x.view(), &State::from_h(h.clone()));
    assert!(
        cache.r.iter().all(|&r| r < 0.99),
        "test set-up: r should be far from 1"
    );
    let diff = max_abs_diff(&step(&after, &x, &h), &step(&before, &x, &h));
    assert!(
        diff > 1e-3,
        "reset-after and reset-before should differ, max |Δh'| = {diff:.2e}"
    );
}

#[test]
fn variants_agree_when_w_hn_and_b_hn_are_zero() {
    let mut rng = rnn::init::rng(52);
    let mut after = Gru::new(3, 4, &mut rng);
    after.weight_hh.slice_mut(s![8.., ..]).fill(0.0);
    after.bias_hh.slice_mut(s![8..]).fill(0.0);
    let before = Gru {
        variant: GruVariant::ResetBefore,
        ..after.clone()
    };
    // outputs over a sequence ...
    let xs: Array3<f64> = random_input(&[5, 2, 3], 3).into_dimensionality().unwrap();
    let h0 = State::from_h(x2(2, 4, 4));
    let run_a = unroll(&after, xs.view(), &h0);
    let run_b = unroll(&before, xs.view(), &h0);
    let diff = (&run_a.outputs - &run_b.outputs)
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(diff < 1e-14, "outputs differ by {diff:.2e}");
    // ... and every gradient except those of W_hn and b_hn: the forward agrees only *at* W_hn = 0, b_hn = 0,
    // and the two variants' candidates change differently when W_hn or b_hn move away from zero:
    // reset-after  ∂L/∂W_hn[i, j] = Σ_b ∂L/∂a_n[b,i] r[b,i] h[b,j],  ∂L/∂b_hn[i] = Σ_b ∂L/∂a_n[b,i] r[b,i];
    // reset-before ∂L/∂W_hn[i, j] = Σ_b ∂L/∂a_n[b,i] r[b,j] h[b,j],  ∂L/∂b_hn[i] = Σ_b ∂L/∂a_n[b,i].
    let d_out: Array3<f64> = random_input(&[5, 2, 4], 5).into_dimensionality().unwrap();
    let (mut ga, mut gb) = (after.zeros_like(), before.zeros_like());
    let (dxa, dha) = bptt(&after, &run_a.caches, d_out.view(), None, &mut ga);
    let (dxb, dhb) = bptt(&before, &run_b.caches, d_out.view(), None, &mut gb);
    let close = |a: ndarray::ArrayViewD<'_, f64>, b: ndarray::ArrayViewD<'_, f64>, what: &str| {
        let d = (&a - &b).iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(d < 1e-13, "gradient of {what} differs by {d:.2e}");
    };
    close(
        ga.weight_ih.view().into_dyn(),
        gb.weight_ih.view().into_dyn(),
        "weight_ih",
    );
    let rz = s![..8, ..];
    close(
        ga.weight_hh.slice(rz).into_dyn(),
        gb.weight_hh.slice(rz).into_dyn(),
        "W_hr, W_hz",
    );
    close(
        ga.bias_ih.view().into_dyn(),
        gb.bias_ih.view().into_dyn(),
        "bias_ih",
    );
    close(
        ga.bias_hh.slice(s![..8]).into_dyn(),
        gb.bias_hh.slice(s![..8]).into_dyn(),
        "b_hr, b_hz",
    );
    close(dxa.view().into_dyn(), dxb.view().into_dyn(), "xs");
    close(dha.h.view().into_dyn(), dhb.h.view().into_dyn(), "h0");
    let n_rows = s![8.., ..];
    let d = max_abs_diff(
        &ga.weight_hh.slice(n_rows).to_owned(),
        &gb.weight_hh.slice(n_rows).to_owned(),
    );
    assert!(
        d > 1e-6,
        "∂L/∂W_hn should differ between the variants when H > 1"
    );
    let d = (&ga.bias_hh.slice(s![8..]) - &gb.bias_hh.slice(s![8..]))
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(
        d > 1e-6,
        "∂L/∂b_hn should differ between the variants (r < 1)"
    );
}

#[test]
fn variants_agree_when_the_reset_gate_is_one() {
    let mut rng = rnn::init::rng(53);
    let mut after = Gru::new(3, 4, &mut rng);
    after.bias_ih.slice_mut(s![..4]).fill(1e3); // σ(1000) = 1 exactly in f64
    let before = Gru {
        variant: GruVariant::ResetBefore,
        ..after.clone()
    };
    let (x, h) = (x2(2, 3, 6), x2(2, 4, 7));
    let diff = max_abs_diff(&step(&after, &x, &h), &step(&before, &x, &h));
    assert!(
        diff < 1e-14,
        "with r = 1 the variants should agree, max |Δh'| = {diff:.2e}"
    );
}

// ---------------------------------------------------------------------------------------------------------
// Gate order r, z, n
// ---------------------------------------------------------------------------------------------------------

#[test]
fn update_gate_is_rows_h_to_2h_and_z_one_keeps_the_state() {
    for variant in VARIANTS {
        let mut rng = rnn::init::rng(61);
        let mut cell = Gru::with_variant(3, 4, variant, &mut rng);
        let (x, h) = (x2(2, 3, 8), x2(2, 4, 9));
        // z ≈ 1 (z rows of bias_ih huge): h' = h
        cell.bias_ih.slice_mut(s![4..8]).fill(50.0);
        let d = max_abs_diff(&step(&cell, &x, &h), &h);
        assert!(
            d < 1e-15,
            "{variant:?}: a huge z bias should give h' = h, |Δ| = {d:.2e}"
        );
        // the same bias on the r rows instead does not freeze the state
        let mut cell_r = Gru::with_variant(3, 4, variant, &mut rnn::init::rng(61));
        cell_r.bias_ih.slice_mut(s![..4]).fill(50.0);
        let d = max_abs_diff(&step(&cell_r, &x, &h), &h);
        assert!(
            d > 1e-2,
            "{variant:?}: a huge r bias should not freeze the state"
        );
    }
}

#[test]
fn reset_gate_is_rows_0_to_h_and_candidate_is_rows_2h_to_3h() {
    let mut rng = rnn::init::rng(62);
    let mut cell = Gru::new(3, 4, &mut rng); // reset-after
    cell.bias_ih.slice_mut(s![..4]).fill(-1e3); // r = 0: the candidate ignores h
    cell.bias_ih.slice_mut(s![4..8]).fill(-1e3); // z = 0: h' = n
    let (x, h) = (x2(2, 3, 10), x2(2, 4, 11));
    // n = tanh(W_in x + b_in), with W_in = rows [2H, 3H) of weight_ih
    let want = (x.dot(&cell.weight_ih.slice(s![8.., ..]).t()) + cell.bias_ih.slice(s![8..]))
        .mapv(f64::tanh);
    let got = step(&cell, &x, &h);
    assert!(max_abs_diff(&got, &want) < 1e-15, "got {got}, want {want}");
    // reset-before keeps b_hn: n = tanh(W_in x + b_in + b_hn)
    let before = Gru {
        variant: GruVariant::ResetBefore,
        ..cell.clone()
    };
    let want_b = (x.dot(&cell.weight_ih.slice(s![8.., ..]).t())
        + cell.bias_ih.slice(s![8..])
        + cell.bias_hh.slice(s![8..]))
    .mapv(f64::tanh);
    assert!(max_abs_diff(&step(&before, &x, &h), &want_b) < 1e-15);
}

// ---------------------------------------------------------------------------------------------------------
// Against PyTorch
// ---------------------------------------------------------------------------------------------------------

// Reference numbers made with PyTorch 2 in float64 by this script (the same integer patterns as below):
//
//   torch.set_default_dtype(torch.float64); D, H, B, T = 2, 3, 2, 3
//   w_ih[i,j] = ((i*7 + j*3 + 1) % 11) / 10 - 0.5      w_hh[i,j] = ((i*5 + j*4 + 2) % 13) / 10 - 0.6
//   b_ih[i]   = ((i*3 + 1) % 7) / 10 - 0.3             b_hh[i]   = ((i*2 + 5) % 9) / 10 - 0.4
//   xs[t,b,d] = ((t*5 + b*3 + d*2 + 1) % 9) / 4 - 1    h0[b,j]   = ((b*2 + j*5 + 3) % 7) / 8 - 0.4
//   R[t,b,j]  = ((t + 2*b + 3*j) % 5) / 2 - 1
//   after:  out, _ = torch.nn.GRU(D, H)(xs, h0[None]) with those weights; (out * R).sum().backward()
//   before: the same loss through the explicit loop
//           r = σ(x W_irᵀ + b_ir + h W_hrᵀ + b_hr); z = σ(...); n = tanh(x W_inᵀ + b_in + (r*h) W_hnᵀ + b_hn)
//           h = (1 - z) * n + z * h
//   every tensor printed flattened in row-major order with repr().

struct Reference {
    outputs: &'static [f64],
    weight_ih: &'static [f64],
    weight_hh: &'static [f64],
    bias_ih: &'static [f64],
    bias_hh: &'static [f64],
    xs: &'static [f64],
    h0: &'static [f64],
}

const TORCH_RESET_AFTER: Reference = Reference {
    outputs: &[
        -0.02776665966735355,
        -0.3547747855011514,
        0.3425597285622392,
        0.24804726551741915,
        -0.05020140924295966,
        -0.14335005080087412,
        0.10565490238245313,
        -0.21636949007516895,
        0.17852338713816704,
        0.18219017590436315,
        -0.29336428495440126,
        0.06798424005014123,
        0.08827786550161908,
        -0.2605378004240517,
        0.1979008959217567,
        0.19450487896693305,
        -0.18855289950499526,
        0.018052960142037146,
    ],
    weight_ih: &[
        -0.02975240502920768,
        0.016621463395460563,
        -0.003996199569226027,
        0.0029553569253215487,
        0.013857909186098895,
        0.007166791502574121,
        -0.018724330350512203,
        0.009168541087038594,
        0.01005155788306745,
        -0.04623061341072436,
        0.04000460222020163,
        0.005309332764010841,
        -0.06339972937786337,
        0.12708630601855264,
        0.1689406853779007,
        -0.040040492611311304,
        -0.22203465688345878,
        -0.11332653986149893,
    ],
    weight_hh: &[
        0.025917773098942814,
        -0.0070901988164846184,
        -0.020782226042581193,
        0.006923148581223882,
        0.0025250317233892097,
        -0.009813137520350328,
        -0.003690158147819112,
        -0.003819809746638406,
        0.007705927963537934,
        0.0061319404752082736,
        -0.01088286135048829,
        0.005772975238622012,
        -0.01859791962711887,
        0.01801065549428499,
        0.0013116985144521615,
        -0.021667224645085248,
        0.0010833039486597613,
        0.021394421874073512,
        0.13754455008790703,
        0.053177002308198336,
        -0.20596794065258434,
        -0.09267236325490424,
        -0.013123325732878787,
        0.10781975134141314,
        0.007678390987783269,
        0.022239191364789686,
        -0.02564946914523665,
    ],
    bias_ih: &[
        0.09274773684933649,
        0.013903112989095155,
        -0.013382235367049546,
        0.05578574287510159,
        -0.11256434258758362,
        -0.06939053891238159,
        0.38097207079283213,
        -0.417962355978424,
        0.2174162340439197,
    ],
    bias_hh: &[
        0.09274773684933649,
        0.013903112989095153,
        -0.013382235367049546,
        0.05578574287510159,
        -0.11256434258758362,
        -0.06939053891238159,
        0.11640805124400994,
        -0.26219587245479103,
        0.07036641343257964,
    ],
    xs: &[
        -0.1939083059427985,
        0.30695690068687853,
        0.004550503733178862,
        -0.24092761546436103,
        -0.2478478479569703,
        0.1408136206350171,
        0.11624683251757244,
        -0.2267308888262515,
        -0.10020726805881153,
        -0.17187950615025188,
        0.4365134458143345,
        -0.1829902255231918,
    ],
    h0: &[
        -0.6451872331077733,
        0.2270144073055716,
        0.027399566992358015,
        0.02364199802864342,
        -0.529145380424115,
        0.28374587267821716,
    ],
};

const TORCH_RESET_BEFORE: Reference = Reference {
    outputs: &[
        0.05775491761292913,
        -0.4075510033152365,
        0.31800163640304147,
        0.37181610955186556,
        -0.097897562949882,
        -0.17621328919754262,
        0.2699839533116835,
        -0.29746616462956643,
        0.12643662286676954,
        0.3191164762120666,
        -0.3370509307273137,
        0.008958438356695797,
        0.2634031145061348,
        -0.33632444292116404,
        0.12259836859749348,
        0.37588044706406953,
        -0.25967535089320176,
        -0.0591251030130959,
    ],
    weight_ih: &[
        0.021326814503477745,
        0.006839091942703474,
        -8.188795846634372e-05,
        0.0027388620756214144,
        -0.011074883870020855,
        0.009075921699909756,
        -0.05384184712023786,
        -0.008172896023134684,
        0.0011177563176848343,
        -0.05340351830171397,
        0.035208248584728825,
        0.006700113488351089,
        -0.05647864706638944,
        0.10940398302021331,
        0.15980366615956018,
        -0.044598101121322675,
        -0.2413049100064149,
        -0.12133071153265346,
    ],
    weight_hh: &[
        -0.007408218246354699,
        0.0023591212740976266,
        0.0034234262857414577,
        -0.009450373787400353,
        -0.003952227434392544,
        0.012521594384750232,
        0.0026712389968954423,
        -0.013191661281847835,
        0.011877978605431223,
        -0.0007591288013520216,
        -0.03168928668226548,
        0.0386538998014468,
        -0.04101242551172637,
        0.01378285278991304,
        0.027742095504251687,
        -0.02435821120593365,
        0.001664777676476206,
        0.02161096090018006,
        0.16617200033112034,
        0.011211577502364081,
        -0.15293157231067045,
        -0.10416993456139712,
        0.005474800388006733,
        0.07637744488858336,
        0.02663824241301859,
        0.01892486735234353,
        -0.021214174947756168,
    ],
    bias_ih: &[
        -0.028975445121548545,
        0.005641500068175511,
        0.040301611139861214,
        0.09133790219420636,
        -0.10904254923879764,
        -0.057016270192755486,
        0.3317652601732055,
        -0.4088035345617657,
        0.23994839694752287,
    ],
    bias_hh: &[
        -0.028975445121548545,
        0.005641500068175511,
        0.040301611139861214,
        0.09133790219420636,
        -0.10904254923879764,
        -0.057016270192755486,
        0.3317652601732055,
        -0.4088035345617657,
        0.23994839694752287,
    ],
    xs: &[
        -0.20935791953575142,
        0.26247787948361234,
        0.0005349168143172628,
        -0.22096793355292432,
        -0.23220748091204413,
        0.11712306544828203,
        0.12670303683833437,
        -0.20046172503345572,
        -0.10459334524598397,
        -0.13618064204468297,
        0.4251168096360715,
        -0.15539500154897565,
    ],
    h0: &[
        -0.629409576349901,
        0.2613767970741519,
        -0.01769994828184683,
        0.07104122681377793,
        -0.5271978403736826,
        0.29108631693165016,
    ],
};

fn pattern(k: usize, m: usize, den: f64, off: f64) -> f64 {
    (k % m) as f64 / den - off
}

#[test]
fn matches_torch_gru_outputs_and_gradients() {
    let (d, h, b, t) = (2, 3, 2, 3);
    for (variant, want) in [
        (GruVariant::ResetAfter, TORCH_RESET_AFTER),
        (GruVariant::ResetBefore, TORCH_RESET_BEFORE),
    ] {
        let cell = Gru {
            weight_ih: Array2::from_shape_fn((3 * h, d), |(i, j)| {
                pattern(i * 7 + j * 3 + 1, 11, 10.0, 0.5)
            }),
            weight_hh: Array2::from_shape_fn((3 * h, h), |(i, j)| {
                pattern(i * 5 + j * 4 + 2, 13, 10.0, 0.6)
            }),
            bias_ih: Array1::from_shape_fn(3 * h, |i| pattern(i * 3 + 1, 7, 10.0, 0.3)),
            bias_hh: Array1::from_shape_fn(3 * h, |i| pattern(i * 2 + 5, 9, 10.0, 0.4)),
            variant,
        };
        let xs = Array3::from_shape_fn((t, b, d), |(t, b, d)| {
            pattern(t * 5 + b * 3 + d * 2 + 1, 9, 4.0, 1.0)
        });
        let h0 = Array2::from_shape_fn((b, h), |(b, j)| pattern(b * 2 + j * 5 + 3, 7, 8.0, 0.4));
        let r = Array3::from_shape_fn((t, b, h), |(t, b, j)| {
            pattern(t + 2 * b + 3 * j, 5, 2.0, 1.0)
        });

        let run = unroll(&cell, xs.view(), &State::from_h(h0));
        let mut grads = cell.zeros_like();
        let (dxs, dh0) = bptt(&cell, &run.caches, r.view(), None, &mut grads);

        let flat = |a: ndarray::ArrayViewD<'_, f64>| a.iter().copied().collect::<Vec<_>>();
        let ours = [
            ("outputs", flat(run.outputs.view().into_dyn()), want.outputs),
            (
                "weight_ih",
                flat(grads.weight_ih.view().into_dyn()),
                want.weight_ih,
            ),
            (
                "weight_hh",
                flat(grads.weight_hh.view().into_dyn()),
                want.weight_hh,
            ),
            (
                "bias_ih",
                flat(grads.bias_ih.view().into_dyn()),
                want.bias_ih,
            ),
            (
                "bias_hh",
                flat(grads.bias_hh.view().into_dyn()),
                want.bias_hh,
            ),
            ("xs", flat(dxs.view().into_dyn()), want.xs),
            ("h0", flat(dh0.h.view().into_dyn()), want.h0),
        ];
        let mut worst: f64 = 0.0;
        for (name, got, want) in ours {
            assert_eq!(got.len(), want.len(), "{variant:?} {name}: length");
            for (i, (g, w)) in got.iter().zip(want).enumerate() {
                assert!(
                    (g - w).abs() < 1e-12,
                    "{variant:?} {name}[{i}] (row-major): ours {g:.17}, PyTorch {w:.17}"
                );
                worst = worst.max((g - w).abs());
            }
        }
        eprintln!("GRU {variant:?} vs PyTorch: max |ours - torch| = {worst:.2e}");
        assert_eq!(run.outputs.index_axis(Axis(0), t - 1), run.last.h);
    }
}

// ---------------------------------------------------------------------------------------------------------
// Construction, names, serde, shape errors
// ---------------------------------------------------------------------------------------------------------

#[test]
fn new_uses_pytorch_default_init_in_draw_order() {
    let (d, h) = (3, 4);
    let cell = Gru::new(d, h, &mut rnn::init::rng(71));
    assert_eq!(cell.variant, GruVariant::ResetAfter);
    let mut rng = rnn::init::rng(71);
    let mut draw = |shape: &[usize]| rnn::init::pytorch_default(shape, h, &mut rng);
    assert_eq!(cell.weight_ih.view().into_dyn(), draw(&[3 * h, d]));
    assert_eq!(cell.weight_hh.view().into_dyn(), draw(&[3 * h, h]));
    assert_eq!(cell.bias_ih.view().into_dyn(), draw(&[3 * h]));
    assert_eq!(cell.bias_hh.view().into_dyn(), draw(&[3 * h]));
    let k = 1.0 / (h as f64).sqrt();
    assert!(cell
        .params()
        .iter()
        .all(|(_, p)| p.iter().all(|v| v.abs() <= k)));
    // with_variant draws the same numbers
    let before = Gru::with_variant(d, h, GruVariant::ResetBefore, &mut rnn::init::rng(71));
    assert_eq!(before.weight_hh, cell.weight_hh);
    assert_eq!(before.variant, GruVariant::ResetBefore);
}

#[test]
fn names_sizes_and_state() {
    let cell = Gru::new(5, 7, &mut rnn::init::rng(72));
    let names: Vec<String> = cell.params().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]);
    assert_eq!(cell.num_params(), 3 * 7 * (5 + 7 + 2));
    assert_eq!((cell.input_size(), cell.hidden_size()), (5, 7));
    assert_eq!(cell.kind(), "gru");
    let z = cell.zero_state(3);
    assert_eq!(z.h, Array2::<f64>::zeros((3, 7)));
    assert!(z.c.is_none());
}

#[test]
fn variant_serde_names() {
    assert_eq!(
        serde_json::to_string(&GruVariant::ResetAfter).unwrap(),
        "\"reset_after\""
    );
    assert_eq!(
        serde_json::from_str::<GruVariant>("\"reset_before\"").unwrap(),
        GruVariant::ResetBefore
    );
    assert_eq!(GruVariant::default(), GruVariant::ResetAfter);
}

#[test]
#[should_panic(expected = "expected (B, D) with D = 3")]
fn wrong_input_width_panics_with_shapes() {
    let cell = Gru::new(3, 4, &mut rnn::init::rng(73));
    let x = Array2::<f64>::zeros((2, 5));
    cell.forward(x.view(), &cell.zero_state(2));
}

#[test]
#[should_panic(expected = "expected (B, H) = (2, 4)")]
fn wrong_state_shape_panics_with_shapes() {
    let cell = Gru::new(3, 4, &mut rnn::init::rng(74));
    let x = Array2::<f64>::zeros((2, 3));
    cell.forward(x.view(), &State::from_h(Array2::zeros((2, 3))));
}
