#!/usr/bin/env python3
"""Regenerate the Keras parity fixtures in tests/fixtures/keras_*.safetensors.

For every configuration below this script builds a float64 Keras 3 stack (JAX backend) of SimpleRNN, LSTM
or GRU layers, plain or wrapped in Bidirectional(merge_mode="concat"), sets every weight from a seeded
NumPy generator, runs it on a random input from random (non-zero) initial states, and differentiates with
JAX the scalar loss

    loss = sum(r_out * output) + sum(r_hn * h_n) [+ sum(r_cn * c_n) for an LSTM]

with fixed random weights r_*. It writes two files per configuration:

  keras_<name>.weights.safetensors  the Keras weights, named layer{k}.{kernel,recurrent_kernel,bias}
                                    (layer{k}.forward.* / layer{k}.backward.* inside a Bidirectional),
                                    metadata {"config": <what the Keras layers are>}
  keras_<name>.data.safetensors     x, h0, [c0], output, h_n, [c_n], r_out, r_hn, [r_cn],
                                    grad_x, grad_h0, [grad_c0], grad.<weight name> for every weight,
                                    metadata {"config": {"keras_paths": ..., "versions": ...}}

The Rust test tests/keras_parity.rs converts the weights with rnn::interop and checks that the library
reproduces every tensor to 1e-10. Only this script needs Keras and JAX; the tests read the committed files.

Usage (from the repository root, in the virtual environment of tools/keras/README.md):
    python tools/keras/make_fixtures.py [--out tests/fixtures]
"""

import argparse
import json
import os
import zlib
from pathlib import Path

# Both must be set before Keras and JAX are imported: the JAX backend, with 64-bit floats.
os.environ["KERAS_BACKEND"] = "jax"
os.environ["JAX_ENABLE_X64"] = "1"

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras.src.backend.common import dtypes as keras_dtypes  # noqa: E402
from safetensors.numpy import save_file  # noqa: E402

# Keras' type promotion on the JAX backend maps every 64-bit result type to 32 bits (to follow JAX's default
# without x64), even with JAX_ENABLE_X64=1 and floatx float64: `keras.ops.tanh` of a float64 tensor returns
# float32, so LSTM and GRU layers would compute their tanh terms in single precision and SimpleRNN fails
# outright. The table of that mapping is emptied here; `check_float64` below proves, from the traced
# computation itself, that no float32 operation is left.
keras_dtypes.BIT64_TO_BIT32_DTYPE.clear()

SEED = 20261202

# name -> (Keras layer, its options, D, H, layers, bidirectional, T, B)
CONFIGS = {
    "lstm_l1": ("LSTM", {}, 4, 6, 1, False, 5, 3),
    "gru_l1": ("GRU", {"reset_after": True}, 4, 6, 1, False, 5, 3),
    "gru_before_l1": ("GRU", {"reset_after": False}, 4, 6, 1, False, 5, 3),
    "simple_l1": ("SimpleRNN", {}, 4, 6, 1, False, 5, 3),
    "lstm_l2_bi": ("LSTM", {}, 4, 5, 2, True, 5, 3),
}

# Standard deviation of the biases (Keras initialises them to zero, or one for the LSTM's forget gate:
# a bug that drops or misplaces a bias must show up).
BIAS_STD = 0.5


def keras_config(layer, options, d, h, layers, bidirectional):
    """What rnn::interop::keras_config writes for the same network (the Rust test compares the two)."""
    config = {"keras_layer": layer, "units": h, "input_size": d, "num_layers": layers,
              "bidirectional": bidirectional}
    if layer == "GRU":
        config["reset_after"] = options["reset_after"]
    if layer == "SimpleRNN":
        config["activation"] = "tanh"
    return config


# ANCHOR: build
def build(layer, options, d, h, layers, bidirectional, t_len, batch):
    """The functional model (x, initial states) -> (output, final states) and its weights by name.

    States, initial and final, are listed per layer and direction (forward first), each as [h] or, for an
    LSTM, [h, c]: the order in which Keras' Bidirectional takes and returns them.
    """
    dirs = 2 if bidirectional else 1
    per_cell = 2 if layer == "LSTM" else 1
    x_in = keras.Input((t_len, d), batch_size=batch)
    state_ins = [keras.Input((h,), batch_size=batch) for _ in range(layers * dirs * per_cell)]
    y, finals, weights = x_in, [], []
    for k in range(layers):
        rnn = getattr(keras.layers, layer)(h, return_sequences=True, return_state=True, **options)
        init = state_ins[k * dirs * per_cell:(k + 1) * dirs * per_cell]
        if bidirectional:
            wrapper = keras.layers.Bidirectional(rnn, merge_mode="concat")
            out = wrapper(y, initial_state=init)
            directions = [(wrapper.forward_layer, "forward."), (wrapper.backward_layer, "backward.")]
        else:
            out = rnn(y, initial_state=init)
            directions = [(rnn, "")]
        y, finals = out[0], finals + list(out[1:])
        for lay, tag in directions:
            for tensor in ("kernel", "recurrent_kernel", "bias"):
                weights.append((f"layer{k}.{tag}{tensor}", getattr(lay.cell, tensor)))
    return keras.Model([x_in] + state_ins, [y] + finals), weights
# ANCHOR_END: build


def stack_states(states, per_cell):
    """Per-cell state lists [h, (c,) h, (c,) ...] -> h (L*dirs, B, H) and c (LSTM) or None."""
    h = jnp.stack(states[0::per_cell])
    c = jnp.stack(states[1::per_cell]) if per_cell == 2 else None
    return h, c


def check_float64(name, jaxpr):
    """Refuses a traced computation (forward and backward) with any value that is not 64-bit."""
    text = str(jaxpr)
    for narrow in ("f32", "f16", "bf16"):
        assert narrow not in text, f"{name}: Keras computed something in {narrow}, the fixture would be wrong"
    assert "f64" in text, name


def make_one(name, spec, out_dir, rng):
    layer, options, d, h, layers, bidirectional, t_len, batch = spec
    dirs = 2 if bidirectional else 1
    per_cell = 2 if layer == "LSTM" else 1
    keras.backend.clear_session()  # layer names (and so the paths recorded below) start afresh
    model, weights = build(layer, options, d, h, layers, bidirectional, t_len, batch)

    # Every weight from the NumPy generator, in build order: kernels U(-1/sqrt(H), 1/sqrt(H)) (PyTorch's
    # default range), biases N(0, BIAS_STD^2).
    bound = 1.0 / np.sqrt(h)
    for wname, var in weights:
        shape = tuple(var.shape)
        if wname.endswith("bias"):
            value = BIAS_STD * rng.standard_normal(shape)
        else:
            value = rng.uniform(-bound, bound, shape)
        var.assign(value)

    x = rng.standard_normal((batch, t_len, d))  # (B, T, D): Keras is batch-major
    n_cells = layers * dirs
    h0 = 0.5 * rng.standard_normal((n_cells, batch, h))  # (L*dirs, B, H), PyTorch's h_0 order
    c0 = 0.5 * rng.standard_normal((n_cells, batch, h)) if per_cell == 2 else None
    init = []
    for i in range(n_cells):
        init += [h0[i]] + ([c0[i]] if c0 is not None else [])
    r_out = rng.standard_normal((batch, t_len, dirs * h))
    r_hn = rng.standard_normal((n_cells, batch, h))
    r_cn = rng.standard_normal((n_cells, batch, h)) if per_cell == 2 else None

    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]

    def run(trainable, x, init):
        outs, _ = model.stateless_call(trainable, non_trainable, [x] + list(init))
        h_n, c_n = stack_states(outs[1:], per_cell)
        return outs[0], h_n, c_n

    def loss(trainable, x, init):
        output, h_n, c_n = run(trainable, x, init)
        total = jnp.sum(r_out * output) + jnp.sum(r_hn * h_n)
        if c_n is not None:
            total = total + jnp.sum(r_cn * c_n)
        return total

    check_float64(name, jax.make_jaxpr(jax.value_and_grad(loss, argnums=(0, 1, 2)))(trainable, x, init))
    output, h_n, c_n = run(trainable, x, init)
    value, (g_weights, g_x, g_init) = jax.value_and_grad(loss, argnums=(0, 1, 2))(trainable, x, init)
    g_h0, g_c0 = stack_states(g_init, per_cell)

    data = {"x": x, "h0": h0, "output": output, "h_n": h_n, "r_out": r_out, "r_hn": r_hn,
            "grad_x": g_x, "grad_h0": g_h0}
    if per_cell == 2:
        data.update({"c0": c0, "c_n": c_n, "r_cn": r_cn, "grad_c0": g_c0})
    index = {id(v): i for i, v in enumerate(model.trainable_variables)}
    for wname, var in weights:
        data[f"grad.{wname}"] = g_weights[index[id(var)]]
    data = {k: np.ascontiguousarray(np.asarray(v)) for k, v in data.items()}
    tensors = {wname: np.ascontiguousarray(np.asarray(var.numpy())) for wname, var in weights}
    for k, v in list(data.items()) + list(tensors.items()):
        assert v.dtype == np.float64, (k, v.dtype)

    # One metadata entry per file (a multi-entry map is written in arbitrary order).
    weights_meta = {"config": json.dumps(keras_config(layer, options, d, h, layers, bidirectional),
                                         sort_keys=True)}
    data_meta = {"config": json.dumps({
        "keras_paths": {wname: var.path for wname, var in weights},
        "versions": {"keras": keras.__version__, "jax": jax.__version__, "numpy": np.__version__},
    }, sort_keys=True)}
    weights_path = out_dir / f"keras_{name}.weights.safetensors"
    data_path = out_dir / f"keras_{name}.data.safetensors"
    save_file(tensors, str(weights_path), metadata=weights_meta)
    save_file(data, str(data_path), metadata=data_meta)
    print(f"keras_{name:14s} {layer}{options or ''} D={d} H={h} L={layers} dirs={dirs} T={t_len} B={batch}  "
          f"loss={float(value):+.6f}  {weights_path.stat().st_size + data_path.stat().st_size} bytes")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = Path(__file__).resolve().parents[2]
    parser.add_argument("--out", type=Path, default=root / "tests" / "fixtures")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    keras.config.set_floatx("float64")
    assert jnp.zeros(1).dtype == jnp.float64, "JAX_ENABLE_X64 did not take effect"
    for name, spec in CONFIGS.items():
        # One seed per configuration, derived from its name: adding, removing or editing a configuration
        # leaves the other configurations' files unchanged.
        rng = np.random.default_rng(SEED + zlib.crc32(name.encode()))
        make_one(name, spec, args.out, rng)


if __name__ == "__main__":
    main()
