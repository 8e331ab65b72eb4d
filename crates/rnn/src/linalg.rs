//! The three matrix products every layer uses, each choosing the fastest kernel for its shape.
//!
//! With batches as rows, a layer with weight `W (out, in)` computes `y = x Wᵀ` forward and, backward,
//! `dx = dy W` and `dW += dyᵀ x`. For a batch of many rows these are matrix-matrix products
//! (`ndarray`'s `matrixmultiply` kernels); for a single row (sampling, or char-rnn's batch of one) they are
//! matrix-vector products and an outer product, which are much faster written as such than as a
//! matrix-matrix product of a 1-row matrix.
//!
//! Between the two, a product with a few rows (2 to 64: a batch of sequences, one time step) against a large
//! weight (2 MB or more, such as an LSTM's W_hh) reads the weight in cache-sized blocks where it lies, instead
//! of letting the matrix kernels copy all of it on every call; [`RepeatedWeight`] does the same for `x Wᵀ`
//! through a transposed copy made once per chunk.
//!
//! A mostly-zero input (a one-hot character, as in char-rnn) is detected too: then `x Wᵀ` only gathers
//! the columns of `W` that the non-zero entries pick, and `dW += dyᵀ x` only touches those columns,
//! which is what a one-hot input means (an embedding lookup), without the caller having to say so.
//!
//! ```
//! use ndarray::array;
//! let w = array![[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]; // (out, in) = (3, 2)
//! let x = array![[1.0, -1.0]]; // (B, in) = (1, 2)
//! assert_eq!(rnn::linalg::linear(&x, &w), array![[-1.0, -1.0, -1.0]]); // x Wᵀ
//! assert_eq!(rnn::linalg::linear(&x, &w), x.dot(&w.t()));
//! ```

use ndarray::{Array1, Array2, ArrayBase, Axis, Data, DataMut, Ix2};

/// `x Wᵀ`: `x (B, in)`, `W (out, in)` → `(B, out)`.
pub fn linear<A, W>(x: &ArrayBase<A, Ix2>, w: &ArrayBase<W, Ix2>) -> Array2<f64>
where
    A: Data<Elem = f64>,
    W: Data<Elem = f64>,
{
    assert_eq!(
        x.ncols(),
        w.ncols(),
        "linear: x is {:?} but W is {:?} (expected (B, in) and (out, in))",
        x.dim(),
        w.dim()
    );
    if let Some(nz) = sparse_rows(x) {
        // mostly zeros (one-hot): y_bi = Σ over the non-zero x_bj of x_bj W_ij, a gather of W's columns
        let mut y = Array2::zeros((x.nrows(), w.nrows()));
        for &(b, j, v) in &nz {
            y.row_mut(b).scaled_add(v, &w.column(j));
        }
        y
    } else if x.nrows() == 1 {
        // one row: y_j = W_j · x, a matrix-vector product over W's contiguous rows
        let x0 = x.row(0);
        match (w.as_slice(), x0.as_slice()) {
            (Some(ws), Some(xs)) => {
                let mut y = Array2::zeros((1, w.nrows()));
                rows_dot(ws, xs, y.as_slice_mut().expect("new array"));
                y
            }
            _ => w.dot(&x0).insert_axis(Axis(0)),
        }
    } else {
        x.dot(&w.t())
    }
}

/// `d W`: `d (B, out)`, `W (out, in)` → `(B, in)` (the gradient that flows back through `x Wᵀ`).
pub fn linear_back<A, W>(d: &ArrayBase<A, Ix2>, w: &ArrayBase<W, Ix2>) -> Array2<f64>
where
    A: Data<Elem = f64>,
    W: Data<Elem = f64>,
{
    assert_eq!(
        d.ncols(),
        w.nrows(),
        "linear_back: d is {:?} but W is {:?} (expected (B, out) and (out, in))",
        d.dim(),
        w.dim()
    );
    if d.nrows() == 1 {
        // one row: Σ_j d_j W_j, adding W's contiguous rows
        let mut y = Array1::zeros(w.ncols());
        match (w.as_slice(), y.as_slice_mut()) {
            (Some(ws), Some(ys)) => add_rows_weighted(&d.row(0).to_vec(), ws, ys),
            _ => {
                for (dj, row) in d.row(0).iter().zip(w.rows()) {
                    y.scaled_add(*dj, &row);
                }
            }
        }
        y.insert_axis(Axis(0))
    } else if let (true, Some(ws)) = (few_rows_large_weight(d.nrows(), w.len()), w.as_slice()) {
        let d_std = d.as_standard_layout();
        let mut y = Array2::zeros((d.nrows(), w.ncols()));
        few_rows_times_weight(
            d_std.as_slice().expect("standard layout"),
            ws,
            w.ncols(),
            y.as_slice_mut().expect("new array"),
        );
        y
    } else {
        d.dot(w)
    }
}

/// A weight used for many products `x Wᵀ` with the same few rows per call, such as W_hh in the time loop of
/// a chunk: for a large W and 2 to 64 rows, a row-major copy of Wᵀ is made once, and every product reads it
/// in place ([`linear_back`]'s blocked path) instead of letting the matrix kernels copy W on every call.
/// Otherwise it is [`linear`].
pub struct RepeatedWeight<'a> {
    w: &'a Array2<f64>,
    transposed: Option<Array2<f64>>,
}

impl<'a> RepeatedWeight<'a> {
    /// Prepares `w (out, in)` for products with `rows` rows.
    pub fn new(w: &'a Array2<f64>, rows: usize) -> Self {
        let transposed =
            few_rows_large_weight(rows, w.len()).then(|| w.t().as_standard_layout().into_owned());
        RepeatedWeight { w, transposed }
    }

    /// `x Wᵀ`: `x (B, in)` → `(B, out)`.
    pub fn times<A: Data<Elem = f64>>(&self, x: &ArrayBase<A, Ix2>) -> Array2<f64> {
        match &self.transposed {
            Some(wt) => linear_back(x, wt),
            None => linear(x, self.w),
        }
    }
}

/// Whether a product of `rows` rows with a weight of `weight_len` entries should use
/// [`few_rows_times_weight`] rather than the matrix-multiply kernels, which copy (pack) the whole weight into
/// their own layout on every call: when the weight is large (at least 2 MB) and the rows are few.
fn few_rows_large_weight(rows: usize, weight_len: usize) -> bool {
    (2..=64).contains(&rows) && weight_len >= 1 << 18
}

/// `y = d W` for a row-major `d (M, N)`, `W (N, K)` and `y (M, K)`, all given as slices, reading `W` in
/// place: blocks of 8 rows and [`COL_TILE`] columns of `W` (16 KB) stay in the first-level cache while every
/// row of `d` uses them. Each output is summed in a fixed order, so the result does not depend on the machine.
fn few_rows_times_weight(d: &[f64], w: &[f64], k: usize, y: &mut [f64]) {
    let n = w.len() / k;
    let m = d.len() / n;
    for c0 in (0..k).step_by(COL_TILE) {
        let c1 = (c0 + COL_TILE).min(k);
        let mut j = 0;
        while j + 8 <= n {
            let rows: [&[f64]; 8] = std::array::from_fn(|r| &w[(j + r) * k + c0..(j + r) * k + c1]);
            let coeffs = |b: usize| -> [f64; 8] { std::array::from_fn(|r| d[b * n + j + r]) };
            // two rows of y at a time share every load of W
            let mut b = 0;
            while b + 2 <= m {
                let (first, second) = y[b * k..(b + 2) * k].split_at_mut(k);
                axpy8x2(
                    (&coeffs(b), &coeffs(b + 1)),
                    &rows,
                    &mut first[c0..c1],
                    &mut second[c0..c1],
                );
                b += 2;
            }
            if b < m {
                axpy8(&coeffs(b), &rows, &mut y[b * k + c0..b * k + c1]);
            }
            j += 8;
        }
        for jj in j..n {
            let row = &w[jj * k + c0..jj * k + c1];
            for b in 0..m {
                let c = d[b * n + jj];
                for (yi, wi) in y[b * k + c0..b * k + c1].iter_mut().zip(row) {
                    *yi += c * wi;
                }
            }
        }
    }
}

/// Columns of `W` per tile in [`few_rows_times_weight`].
const COL_TILE: usize = 256;

/// [`axpy8`] for two outputs at once, `y` with coefficients `c.0` and `z` with `c.1` (the same sums).
#[inline(always)]
fn axpy8x2(c: (&[f64; 8], &[f64; 8]), rows: &[&[f64]; 8], y: &mut [f64], z: &mut [f64]) {
    let len = y.len();
    let z = &mut z[..len];
    let [w0, w1, w2, w3, w4, w5, w6, w7] = rows.map(|r| &r[..len]);
    let (c, e) = c;
    for i in 0..len {
        let lo = (c[0] * w0[i] + c[1] * w1[i]) + (c[2] * w2[i] + c[3] * w3[i]);
        let hi = (c[4] * w4[i] + c[5] * w5[i]) + (c[6] * w6[i] + c[7] * w7[i]);
        y[i] += lo + hi;
        let lo = (e[0] * w0[i] + e[1] * w1[i]) + (e[2] * w2[i] + e[3] * w3[i]);
        let hi = (e[4] * w4[i] + e[5] * w5[i]) + (e[6] * w6[i] + e[7] * w7[i]);
        z[i] += lo + hi;
    }
}

/// `y += Σ_r c_r · rows_r` over eight rows as long as `y`, added as a balanced tree.
#[inline(always)]
fn axpy8(c: &[f64; 8], rows: &[&[f64]; 8], y: &mut [f64]) {
    let len = y.len();
    let [w0, w1, w2, w3, w4, w5, w6, w7] = rows.map(|r| &r[..len]);
    for i in 0..len {
        let lo = (c[0] * w0[i] + c[1] * w1[i]) + (c[2] * w2[i] + c[3] * w3[i]);
        let hi = (c[4] * w4[i] + c[5] * w5[i]) + (c[6] * w6[i] + c[7] * w7[i]);
        y[i] += lo + hi;
    }
}

/// `acc += aᵀ b` in place: `a (B, out)`, `b (B, in)`, `acc (out, in)` (the weight gradient `dW += dyᵀ x`).
pub fn add_at_b<S, A, B>(acc: &mut ArrayBase<S, Ix2>, a: &ArrayBase<A, Ix2>, b: &ArrayBase<B, Ix2>)
where
    S: DataMut<Elem = f64>,
    A: Data<Elem = f64>,
    B: Data<Elem = f64>,
{
    assert_eq!(
        (acc.nrows(), acc.ncols(), a.nrows()),
        (a.ncols(), b.ncols(), b.nrows()),
        "add_at_b: acc {:?}, a {:?}, b {:?} (expected (out, in), (B, out), (B, in))",
        acc.dim(),
        a.dim(),
        b.dim()
    );
    if let Some(nz) = sparse_rows(b) {
        // b mostly zeros (one-hot): only the columns j of acc where some b_bj ≠ 0 change, by a_b · b_bj
        for &(b, j, v) in &nz {
            acc.column_mut(j).scaled_add(v, &a.row(b));
        }
    } else if a.nrows() == 1 {
        // one row: an outer product, row j of acc gets a_j · b
        let b0 = b.row(0);
        match (b0.as_slice(), acc.as_slice_mut()) {
            (Some(bs), Some(accs)) => {
                for (&aj, row) in a.row(0).iter().zip(accs.chunks_exact_mut(bs.len())) {
                    for (r, &bk) in row.iter_mut().zip(bs) {
                        *r += aj * bk;
                    }
                }
            }
            _ => {
                for (aj, mut row) in a.row(0).iter().zip(acc.rows_mut()) {
                    row.scaled_add(*aj, &b0);
                }
            }
        }
    } else {
        ndarray::linalg::general_mat_mul(1.0, &a.t(), b, 1.0, acc);
    }
}

/// `y += Σ_j d_j W_j` for a row-major `W` given as a slice of `d.len()` rows of `y.len()` columns, four
/// rows at a time so that `y` is loaded and stored once per four rows.
fn add_rows_weighted(d: &[f64], w: &[f64], y: &mut [f64]) {
    let n = y.len();
    let mut rows = w.chunks_exact(n);
    let mut ds = d.chunks_exact(4);
    for dj in &mut ds {
        let (w0, w1, w2, w3) = (
            rows.next().unwrap(),
            rows.next().unwrap(),
            rows.next().unwrap(),
            rows.next().unwrap(),
        );
        for ((((yk, a), b), c), e) in y.iter_mut().zip(w0).zip(w1).zip(w2).zip(w3) {
            *yk += dj[0] * a + dj[1] * b + dj[2] * c + dj[3] * e;
        }
    }
    for (&dj, row) in ds.remainder().iter().zip(rows) {
        for (yk, &wk) in y.iter_mut().zip(row) {
            *yk += dj * wk;
        }
    }
}

/// `y_j = W_j · x` for a row-major `W` given as a slice of `y.len()` rows of `x.len()` columns.
///
/// Each dot product runs in eight independent lanes (which the compiler turns into vector instructions)
/// summed in a fixed order at the end, so the result does not depend on the machine; four rows share each
/// load of `x`.
fn rows_dot(w: &[f64], x: &[f64], y: &mut [f64]) {
    let n = x.len();
    let split = n - n % LANES;
    for (row, yj) in w.chunks_exact(n).zip(y) {
        let mut acc = [0.0; LANES];
        for (c, xc) in lanes(row).zip(lanes(x)) {
            for l in 0..LANES {
                acc[l] += c[l] * xc[l];
            }
        }
        *yj = sum_lanes(&acc) + dot_tail(&row[split..], &x[split..]);
    }
}

/// Width of the lane accumulators in [`rows_dot`].
const LANES: usize = 8;

/// `v` as whole chunks of [`LANES`] (the tail is left out).
fn lanes(v: &[f64]) -> impl Iterator<Item = &[f64; LANES]> {
    v.chunks_exact(LANES)
        .map(|c| c.try_into().expect("chunks_exact gives LANES"))
}

/// The lanes of a dot product, added pairwise in a fixed order.
fn sum_lanes(a: &[f64; LANES]) -> f64 {
    ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]))
}

/// A short dot product (the tail after the lanes).
fn dot_tail(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(p, q)| p * q).sum()
}

/// The non-zero entries `(row, column, value)` of `x`, row by row, if at most one entry in eight is
/// non-zero (a one-hot input); `None` for a dense `x`, which the matrix kernels handle better.
fn sparse_rows<A: Data<Elem = f64>>(x: &ArrayBase<A, Ix2>) -> Option<Vec<(usize, usize, f64)>> {
    let (rows, cols) = x.dim();
    let budget = rows * cols / 8;
    if cols < 16 {
        return None;
    }
    // a view in another memory order is copied into row-major order first
    let standard = x.as_standard_layout();
    let flat = standard.as_slice().expect("standard layout is contiguous");
    // count first, in blocks (a dense x stops within a block of budget + 1 non-zeros), then collect
    let mut count = 0;
    for block in flat.chunks(64) {
        count += block.iter().filter(|&&v| v != 0.0).count();
        if count > budget {
            return None;
        }
    }
    let mut nz = Vec::with_capacity(count);
    for (i, &v) in flat.iter().enumerate() {
        if v != 0.0 {
            nz.push((i / cols, i % cols, v));
        }
    }
    Some(nz)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::{rng, uniform};
    use ndarray::ShapeBuilder;

    fn rand2(r: usize, c: usize, seed: u64) -> Array2<f64> {
        uniform(&[r, c], -1.0, 1.0, &mut rng(seed))
            .into_dimensionality()
            .unwrap()
    }

    #[test]
    fn fast_paths_agree_with_plain_products() {
        for b in [1, 2, 5] {
            let (x, w, d) = (rand2(b, 7, 1), rand2(4, 7, 2), rand2(b, 4, 3));
            let close = |p: &Array2<f64>, q: &Array2<f64>| {
                p.iter().zip(q).all(|(u, v)| (u - v).abs() < 1e-13)
            };
            assert!(close(&linear(&x, &w), &x.dot(&w.t())), "linear, B = {b}");
            assert!(
                close(&linear_back(&d, &w), &d.dot(&w)),
                "linear_back, B = {b}"
            );
            let mut acc = rand2(4, 7, 4);
            let want = &acc + &d.t().dot(&x);
            add_at_b(&mut acc, &d, &x);
            assert!(close(&acc, &want), "add_at_b, B = {b}");
            // views, including a transposed (non-contiguous) weight
            let wt = rand2(7, 4, 5);
            assert!(
                close(&linear(&x.view(), &wt.t()), &x.dot(&wt)),
                "linear with a transposed view, B = {b}"
            );
            // one-hot rows take the sparse path; one row may be all zeros
            let mut onehot = Array2::zeros((b, 40));
            for r in 1..b {
                onehot[[r, (7 * r) % 40]] = if r % 2 == 0 { 1.0 } else { -0.5 };
            }
            let (w40, d40) = (rand2(4, 40, 6), rand2(b, 4, 7));
            assert!(sparse_rows(&onehot).is_some());
            // the same entries from a column-major copy
            let mut fortran = Array2::zeros((b, 40).f());
            fortran.assign(&onehot);
            assert_eq!(sparse_rows(&fortran), sparse_rows(&onehot));
            assert!(
                close(&linear(&onehot, &w40), &onehot.dot(&w40.t())),
                "sparse linear, B = {b}"
            );
            let mut acc = rand2(4, 40, 8);
            let want = &acc + &d40.t().dot(&onehot);
            add_at_b(&mut acc, &d40, &onehot);
            assert!(close(&acc, &want), "sparse add_at_b, B = {b}");
        }
        assert!(sparse_rows(&rand2(2, 40, 9)).is_none());
        // few rows against a large weight: the blocked path, with a ragged last block and tile
        let (d, w) = (rand2(5, 1030, 10), rand2(1030, 300, 11));
        assert!(few_rows_large_weight(5, w.len()));
        let want = d.dot(&w);
        let got = linear_back(&d, &w);
        assert!(got.iter().zip(&want).all(|(u, v)| (u - v).abs() < 1e-11));
        let (x, w) = (rand2(7, 300, 12), rand2(1030, 300, 13));
        let prepared = RepeatedWeight::new(&w, 7);
        assert!(prepared.transposed.is_some());
        let want = x.dot(&w.t());
        assert!(prepared
            .times(&x)
            .iter()
            .zip(&want)
            .all(|(u, v)| (u - v).abs() < 1e-11));
        assert!(RepeatedWeight::new(&w, 1).transposed.is_none());
    }
}
