#!/usr/bin/env python3
"""Check that a checkpoint written by the Rust library loads into PyTorch and computes the same thing.

    python tools/parity/check_export.py WEIGHTS DATA

WEIGHTS is a safetensors file written by `rnn::checkpoint` (float64 tensors with PyTorch names such as
`weight_ih_l0_reverse`, and a "config" metadata entry in the format of `rnn::checkpoint`: JSON with
cell "rnn_tanh" | "rnn_relu" | "lstm" | "gru", input_size, hidden_size, num_layers and bidirectional
(defaults 1 and false); the older spellings "cell": "rnn" and "kind" + "nonlinearity" are read too, and
the library's variants that PyTorch lacks (gru_variant "reset_before", peephole, cifg) are refused).

DATA is a safetensors file with the input `x` (T, B, D), optionally the initial state `h0` (and `c0` for an
LSTM; zeros when absent), and the reference results `output`, `h_n` (and `c_n`) to compare against (any of
the three that are present are compared; at least one must be). It can be one of the fixtures in
tests/fixtures/ (then WEIGHTS must hold the fixture's weights) or a file written by the Rust library next to
its checkpoint.

The script builds the matching nn.RNN / nn.LSTM / nn.GRU, loads WEIGHTS with load_state_dict(strict=True)
(every name and shape must match, nothing missing, nothing extra), runs it on DATA, prints the max absolute
difference per tensor and overall, and exits with status 1 if the overall difference exceeds 1e-10.
"""

import argparse
import json
import sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file

TOLERANCE = 1e-10


def read_config(path):
    with safe_open(path, framework="pt") as f:
        meta = f.metadata() or {}
    if "config" not in meta:
        sys.exit(f"{path}: no 'config' entry in the safetensors metadata (found: {sorted(meta)})")
    return json.loads(meta["config"])


def build(config):
    common = dict(
        input_size=int(config["input_size"]),
        hidden_size=int(config["hidden_size"]),
        num_layers=int(config.get("num_layers", 1)),
        bidirectional=bool(config.get("bidirectional", False)),
    )
    # "cell" (rnn::cells::CellKind names) is the format's key; "kind" + "nonlinearity" is the old spelling.
    for key, default in (("gru_variant", "reset_after"), ("peephole", False), ("cifg", False)):
        if config.get(key, default) not in (default, None):
            sys.exit(f"config has {key} = {config[key]!r}: PyTorch has no such cell")
    kind = str(config.get("cell", config.get("kind", ""))).lower()
    nonlinearity = config.get("nonlinearity") or "tanh"
    if kind in ("rnn_tanh", "rnn_relu", "elman"):
        kind, nonlinearity = "rnn", ("relu" if kind == "rnn_relu" else "tanh")
    if kind == "rnn":
        return torch.nn.RNN(nonlinearity=nonlinearity, **common)
    if kind == "lstm":
        return torch.nn.LSTM(**common)
    if kind == "gru":
        return torch.nn.GRU(**common)
    sys.exit(f"unknown cell {kind!r} in config (expected rnn_tanh, rnn_relu, lstm or gru)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("weights", help="safetensors checkpoint written by the Rust library")
    parser.add_argument("data", help="safetensors file with x, [h0, c0] and reference output, h_n, [c_n]")
    args = parser.parse_args()

    torch.set_default_dtype(torch.float64)
    config = read_config(args.weights)
    print(f"config: {json.dumps(config, sort_keys=True)}")

    state = load_file(args.weights)
    not_f64 = [k for k, v in state.items() if v.dtype != torch.float64]
    if not_f64:
        sys.exit(f"{args.weights}: tensors that are not float64: {not_f64}")

    model = build(config)
    try:
        model.load_state_dict(state, strict=True)  # fails on any missing, extra or mis-shaped tensor
    except RuntimeError as e:
        sys.exit(f"{args.weights} does not load into {type(model).__name__}: {e}")
    model.eval()
    print(f"loaded {len(state)} tensors with load_state_dict(strict=True): {', '.join(state)}")

    data = load_file(args.data)
    x = data["x"]
    is_lstm = isinstance(model, torch.nn.LSTM)
    h0 = data.get("h0")
    c0 = data.get("c0")
    if is_lstm and (h0 is None) != (c0 is None):
        sys.exit(f"{args.data}: an LSTM needs both h0 and c0, or neither")
    try:
        with torch.no_grad():
            if is_lstm:
                output, (h_n, c_n) = model(x, None if h0 is None else (h0, c0))
            else:
                output, h_n = model(x, h0)
                c_n = None
    except RuntimeError as e:
        sys.exit(f"{args.data} does not fit the model: {e}")

    ours = {"output": output, "h_n": h_n, "c_n": c_n}
    worst = 0.0
    compared = 0
    for name, value in ours.items():
        if name not in data or value is None:
            continue
        ref = data[name]
        if ref.shape != value.shape:
            sys.exit(f"{name}: reference shape {tuple(ref.shape)} but PyTorch computed {tuple(value.shape)}")
        diff = (value - ref).abs().max().item()
        print(f"{name:8s} shape {tuple(value.shape)}  max abs diff {diff:.3e}")
        worst = max(worst, diff)
        compared += 1
    if compared == 0:
        sys.exit(f"{args.data}: none of output, h_n, c_n present: nothing to compare")

    print(f"max abs difference: {worst:.3e} (tolerance {TOLERANCE:.0e})")
    if not worst <= TOLERANCE:  # also fails on NaN
        print("FAIL")
        sys.exit(1)
    print("OK")


if __name__ == "__main__":
    main()
