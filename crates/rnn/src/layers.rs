//! The non-recurrent layers around a recurrent cell: [`Dense`] (the output layer `y = W h + b`) and
//! [`Embedding`] (a learned vector per token id), plus the [`one_hot`] encoding an embedding replaces.
//!
//! Both match PyTorch (`nn.Linear`, `nn.Embedding`) in parameter names, shapes and default initialisation,
//! so their weights move both ways through checkpoints. Like the cells, each layer's forward and backward sit
//! together, and the gradient of a layer is another value of the same type (see [`Parameters`]): `backward`
//! *adds* into `grads`, so gradients of a layer applied at every time step sum over time.

use crate::linalg::{add_at_b, linear, linear_back};
use ndarray::{Array1, Array2, Array3, ArrayView2, ArrayView3, ArrayViewD, ArrayViewMutD, Axis};

use crate::init::{normal, uniform, Rng};
use crate::params::Parameters;

/// A fully connected (affine) layer, as `torch.nn.Linear`: `y = x Wᵀ + b` for a batch of rows x.
///
/// In the book's column-vector notation this is the output layer `y_t = W_hy h_t + b_y`, which turns a hidden
/// state into one logit per vocabulary symbol.
///
/// ```
/// use ndarray::Array2;
/// use rnn::layers::Dense;
///
/// let mut rng = rnn::init::rng(0);
/// let out = Dense::new(4, 3, &mut rng); // in_features 4, out_features 3
/// assert_eq!(out.weight.dim(), (3, 4)); // (out, in), as nn.Linear
/// let h = Array2::<f64>::ones((2, 4)); // (N, in)
/// let y = out.forward(h.view()); // (N, out)
/// assert_eq!(y.dim(), (2, 3));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Dense {
    /// W, `(out, in)`.
    pub weight: Array2<f64>,
    /// b, `(out)`.
    pub bias: Array1<f64>,
}

impl Dense {
    /// A layer with PyTorch's `nn.Linear` default initialisation: weight and bias from U(-1/√in, 1/√in).
    pub fn new(in_features: usize, out_features: usize, rng: &mut Rng) -> Self {
        let k = 1.0 / (in_features as f64).sqrt();
        Dense {
            weight: uniform(&[out_features, in_features], -k, k, rng)
                .into_dimensionality()
                .expect("2-D"),
            bias: uniform(&[out_features], -k, k, rng)
                .into_dimensionality()
                .expect("1-D"),
        }
    }

    /// Input size (`in_features`).
    pub fn in_features(&self) -> usize {
        self.weight.ncols()
    }

    /// Output size (`out_features`).
    pub fn out_features(&self) -> usize {
        self.weight.nrows()
    }

    fn check_input(&self, what: &str, x: &ArrayView2<'_, f64>) {
        assert_eq!(
            x.ncols(),
            self.in_features(),
            "Dense::{what}: input x has shape {:?}, expected (N, in) with in = {} (weight is {:?})",
            x.dim(),
            self.in_features(),
            self.weight.dim()
        );
    }

    // ANCHOR: dense_forward
    /// Forward pass for a batch of rows: `x (N, in)` → `y (N, out)`.
    ///
    /// # Panics
    /// If `x` does not have `in_features` columns.
    pub fn forward(&self, x: ArrayView2<'_, f64>) -> Array2<f64> {
        self.check_input("forward", &x);
        // (2.3) y = x Wᵀ + b                                              (N, out)
        linear(&x, &self.weight) + &self.bias
    }
    // ANCHOR_END: dense_forward

    // ANCHOR: dense_backward
    /// Backward pass: given the forward input `x (N, in)` and `dy = ∂L/∂y (N, out)`, adds `∂L/∂W` and `∂L/∂b`
    /// into `grads` and returns `∂L/∂x (N, in)`.
    ///
    /// # Panics
    /// If the shapes of `x`, `dy` and `grads` do not match the layer.
    pub fn backward(
        &self,
        x: ArrayView2<'_, f64>,
        dy: ArrayView2<'_, f64>,
        grads: &mut Dense,
    ) -> Array2<f64> {
        self.check_input("backward", &x);
        assert_eq!(
            dy.dim(),
            (x.nrows(), self.out_features()),
            "Dense::backward: dy has shape {:?}, expected (N, out) = {:?}",
            dy.dim(),
            (x.nrows(), self.out_features())
        );
        assert_eq!(
            grads.weight.dim(),
            self.weight.dim(),
            "Dense::backward: grads.weight has shape {:?}, expected the layer's {:?}",
            grads.weight.dim(),
            self.weight.dim()
        );
        // (6.5) ∂L/∂W += dyᵀ x  (sums over the N rows)                    (out, in)
        add_at_b(&mut grads.weight, &dy, &x);
        // (6.5) ∂L/∂b += Σ_rows dy                                         (out)
        grads.bias += &dy.sum_axis(Axis(0));
        // (6.5) ∂L/∂x = dy W                                              (N, in)
        linear_back(&dy, &self.weight)
    }
    // ANCHOR_END: dense_backward

    /// [`Dense::forward`] applied at every step of a time-major sequence: `xs (T, B, in)` → `(T, B, out)`.
    ///
    /// The same weights serve every time step; the `T·B` positions are simply more rows.
    ///
    /// ```
    /// use ndarray::Array3;
    /// let layer = rnn::layers::Dense::new(4, 6, &mut rnn::init::rng(0));
    /// let hs = Array3::<f64>::zeros((5, 2, 4)); // (T, B, H)
    /// let logits = layer.forward_seq(hs.view());
    /// assert_eq!(logits.dim(), (5, 2, 6)); // (T, B, V)
    /// // any sizes, one input feature included
    /// let one = rnn::layers::Dense::new(1, 3, &mut rnn::init::rng(0));
    /// let xs = Array3::<f64>::from_shape_fn((4, 2, 1), |(t, b, _)| (t + 10 * b) as f64);
    /// let ys = one.forward_seq(xs.view());
    /// assert_eq!(ys.dim(), (4, 2, 3));
    /// assert_eq!(ys[[3, 1, 2]], one.weight[[2, 0]] * 13.0 + one.bias[2]);
    /// ```
    pub fn forward_seq(&self, xs: ArrayView3<'_, f64>) -> Array3<f64> {
        let (t, b, _) = xs.dim();
        // the product can come back column-major (in_features = 1, say): reshape a row-major copy
        let y = self.forward(rows(xs).view()); // (T·B, out)
        let y = if y.is_standard_layout() {
            y
        } else {
            y.as_standard_layout().into_owned()
        };
        y.into_shape_with_order((t, b, self.out_features()))
            .expect("(T·B, out) reshapes to (T, B, out)")
    }

    /// [`Dense::backward`] for a whole sequence: `xs (T, B, in)`, `dys (T, B, out)`; accumulates the
    /// parameter gradients summed over all time steps and returns `∂L/∂xs (T, B, in)`.
    ///
    /// # Panics
    /// If `dys` is not `(T, B, out)` for the given `xs`.
    pub fn backward_seq(
        &self,
        xs: ArrayView3<'_, f64>,
        dys: ArrayView3<'_, f64>,
        grads: &mut Dense,
    ) -> Array3<f64> {
        let (t, b, _) = xs.dim();
        assert_eq!(
            dys.dim(),
            (t, b, self.out_features()),
            "Dense::backward_seq: dys has shape {:?}, expected (T, B, out) = {:?}",
            dys.dim(),
            (t, b, self.out_features())
        );
        let dx = self.backward(rows(xs).view(), rows(dys).view(), grads); // (T·B, in)
        dx.into_shape_with_order((t, b, self.in_features()))
            .expect("(T·B, in) reshapes to (T, B, in)")
    }
}

/// `(T, B, D)` → `(T·B, D)`, row `t·B + b` holding position (t, b).
fn rows(xs: ArrayView3<'_, f64>) -> Array2<f64> {
    let (t, b, d) = xs.dim();
    xs.as_standard_layout()
        .into_owned()
        .into_shape_with_order((t * b, d))
        .expect("a standard-layout array reshapes")
}

impl Parameters for Dense {
    fn params(&self) -> Vec<(String, ArrayViewD<'_, f64>)> {
        vec![
            ("weight".into(), self.weight.view().into_dyn()),
            ("bias".into(), self.bias.view().into_dyn()),
        ]
    }

    fn params_mut(&mut self) -> Vec<(String, ArrayViewMutD<'_, f64>)> {
        vec![
            ("weight".into(), self.weight.view_mut().into_dyn()),
            ("bias".into(), self.bias.view_mut().into_dyn()),
        ]
    }
}

/// A lookup table of learned vectors, one per token id, as `torch.nn.Embedding`: `weight (V, D)`.
///
/// Looking up row `id` is the same as multiplying the one-hot vector of `id` by the table
/// (`one_hot(ids, V).dot(&weight)`, see [`one_hot`]), without building the mostly-zero matrix. The backward
/// pass is the matching scatter: each row of `dy` is added into the row of `∂L/∂weight` it came from.
///
/// ```
/// use rnn::layers::{one_hot, Embedding};
///
/// let emb = Embedding::new(5, 3, &mut rnn::init::rng(0)); // V = 5 tokens, D = 3
/// let ids = [4, 0, 4];
/// let x = emb.forward(&ids); // (N, D)
/// assert_eq!(x.dim(), (3, 3));
/// assert_eq!(x.row(0), emb.weight.row(4));
/// assert_eq!(x, one_hot(&ids, 5).dot(&emb.weight)); // the same thing, done the slow way
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Embedding {
    /// E, `(V, D)`: row v is the vector of token v.
    pub weight: Array2<f64>,
}

impl Embedding {
    /// A table of `num_embeddings` vectors of size `embedding_dim`, initialised from N(0, 1) like PyTorch.
    pub fn new(num_embeddings: usize, embedding_dim: usize, rng: &mut Rng) -> Self {
        Embedding {
            weight: normal(&[num_embeddings, embedding_dim], 1.0, rng)
                .into_dimensionality()
                .expect("2-D"),
        }
    }

    /// Vocabulary size V (`num_embeddings`).
    pub fn num_embeddings(&self) -> usize {
        self.weight.nrows()
    }

    /// Vector size D (`embedding_dim`).
    pub fn embedding_dim(&self) -> usize {
        self.weight.ncols()
    }

    fn check_ids(&self, what: &str, ids: &[usize]) {
        let v = self.num_embeddings();
        if let Some(&bad) = ids.iter().find(|&&id| id >= v) {
            panic!(
                "Embedding::{what}: token id {bad} is out of range for a vocabulary of {v} \
                 (weight is {:?}, so ids must be < {v})",
                self.weight.dim()
            );
        }
    }

    // ANCHOR: embedding_forward
    /// Looks up one row per id: `ids (N)` → `x (N, D)`.
    ///
    /// # Panics
    /// If an id is `≥ V`.
    pub fn forward(&self, ids: &[usize]) -> Array2<f64> {
        self.check_ids("forward", ids);
        // (6.1) x_n = E[id_n] = onehot(id_n)ᵀ E                           (N, D)
        self.weight.select(Axis(0), ids)
    }
    // ANCHOR_END: embedding_forward

    // ANCHOR: embedding_backward
    /// Backward pass: adds row n of `dy (N, D)` into row `ids[n]` of `grads.weight`. An id that occurs
    /// several times receives the sum of its rows' gradients; ids that do not occur get nothing.
    ///
    /// # Panics
    /// If `dy` is not `(N, D)` for `N = ids.len()`, or an id is `≥ V`.
    pub fn backward(&self, ids: &[usize], dy: ArrayView2<'_, f64>, grads: &mut Embedding) {
        self.check_ids("backward", ids);
        assert_eq!(
            dy.dim(),
            (ids.len(), self.embedding_dim()),
            "Embedding::backward: dy has shape {:?}, expected (N, D) = {:?}",
            dy.dim(),
            (ids.len(), self.embedding_dim())
        );
        assert_eq!(
            grads.weight.dim(),
            self.weight.dim(),
            "Embedding::backward: grads.weight has shape {:?}, expected the layer's {:?}",
            grads.weight.dim(),
            self.weight.dim()
        );
        // (6.7) ∂L/∂E[v] += Σ_{n : id_n = v} ∂L/∂x_n   (scatter-add)       (V, D)
        for (&id, row) in ids.iter().zip(dy.rows()) {
            let mut g = grads.weight.row_mut(id);
            g += &row;
        }
    }
    // ANCHOR_END: embedding_backward

    /// [`Embedding::forward`] for a time-major batch of ids: `ids (T, B)` → `xs (T, B, D)`.
    ///
    /// ```
    /// use ndarray::array;
    /// let emb = rnn::layers::Embedding::new(10, 4, &mut rnn::init::rng(0));
    /// let ids = array![[1, 2], [3, 1], [0, 0]]; // (T, B) = (3, 2)
    /// let xs = emb.forward_seq(ids.view());
    /// assert_eq!(xs.dim(), (3, 2, 4)); // (T, B, D)
    /// assert_eq!(xs.slice(ndarray::s![1, 1, ..]), emb.weight.row(1));
    /// ```
    pub fn forward_seq(&self, ids: ArrayView2<'_, usize>) -> Array3<f64> {
        let (t, b) = ids.dim();
        let flat: Vec<usize> = ids.iter().copied().collect(); // (T·B), row-major
        self.forward(&flat)
            .into_shape_with_order((t, b, self.embedding_dim()))
            .expect("(T·B, D) reshapes to (T, B, D)")
    }

    /// [`Embedding::backward`] for a time-major batch: `ids (T, B)`, `dxs = ∂L/∂xs (T, B, D)`.
    ///
    /// # Panics
    /// If `dxs` is not `(T, B, D)`, or an id is `≥ V`.
    pub fn backward_seq(
        &self,
        ids: ArrayView2<'_, usize>,
        dxs: ArrayView3<'_, f64>,
        grads: &mut Embedding,
    ) {
        let (t, b) = ids.dim();
        assert_eq!(
            dxs.dim(),
            (t, b, self.embedding_dim()),
            "Embedding::backward_seq: dxs has shape {:?}, expected (T, B, D) = {:?}",
            dxs.dim(),
            (t, b, self.embedding_dim())
        );
        let flat: Vec<usize> = ids.iter().copied().collect(); // (T·B), row-major
        self.backward(&flat, rows(dxs).view(), grads);
    }
}

impl Parameters for Embedding {
    fn params(&self) -> Vec<(String, ArrayViewD<'_, f64>)> {
        vec![("weight".into(), self.weight.view().into_dyn())]
    }

    fn params_mut(&mut self) -> Vec<(String, ArrayViewMutD<'_, f64>)> {
        vec![("weight".into(), self.weight.view_mut().into_dyn())]
    }
}

/// One-hot encoding: `ids (N)` → `(N, vocab)`, row n all zeros except a 1 in column `ids[n]`.
///
/// The classic input to a character-level RNN (Karpathy's min-char-rnn feeds one-hot vectors straight into
/// `W_xh`); an [`Embedding`] computes the same product without the zeros.
///
/// ```
/// let x = rnn::layers::one_hot(&[2, 0], 3);
/// assert_eq!(x, ndarray::array![[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]);
/// ```
///
/// # Panics
/// If an id is `≥ vocab`.
pub fn one_hot(ids: &[usize], vocab: usize) -> Array2<f64> {
    let mut x = Array2::zeros((ids.len(), vocab)); // (N, V)
    for (n, &id) in ids.iter().enumerate() {
        assert!(
            id < vocab,
            "one_hot: id {id} (at position {n}) is out of range for a vocabulary of {vocab} \
             (ids must be < {vocab})"
        );
        x[[n, id]] = 1.0;
    }
    x
}
