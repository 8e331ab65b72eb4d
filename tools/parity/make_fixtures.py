#!/usr/bin/env python3
"""Regenerate the PyTorch parity fixtures in tests/fixtures/.

For every configuration below this script builds a float64 `nn.RNN` / `nn.LSTM` / `nn.GRU` from a fixed
seed, runs it on random inputs and a random (non-zero) initial state, and back-propagates the scalar loss

    loss = sum(r_out * output) + sum(r_hn * h_n) [+ sum(r_cn * c_n) for an LSTM]

with fixed random weights r_*. It writes two files per configuration:

  <name>.weights.safetensors  model.state_dict() (float64, PyTorch names), metadata {"config": <json>}
  <name>.data.safetensors     x, h0, [c0], output, h_n, [c_n], r_out, r_hn, [r_cn],
                              grad_x, grad_h0, [grad_c0], grad.<param name> for every parameter

The Rust test tests/parity.rs loads both and checks the library reproduces every tensor to 1e-10.
Only this script needs torch; the tests read the committed files.

Usage (from the repository root):  python tools/parity/make_fixtures.py [--out tests/fixtures]
"""

import argparse
import json
import zlib
from pathlib import Path

import torch
from safetensors.torch import save_file

SEED = 20240611

# name -> (kind, nonlinearity, D, H, layers, bidirectional, T, B)
CONFIGS = {
    "rnn_tanh_l1": ("rnn", "tanh", 3, 4, 1, False, 5, 2),
    "rnn_relu_l2": ("rnn", "relu", 2, 3, 2, False, 4, 3),
    "lstm_l1": ("lstm", None, 3, 4, 1, False, 5, 3),
    "lstm_l2": ("lstm", None, 4, 3, 2, False, 6, 2),
    "lstm_l2_bi": ("lstm", None, 3, 4, 2, True, 4, 2),
    "gru_l1": ("gru", None, 2, 5, 1, False, 5, 2),
    "gru_l2": ("gru", None, 3, 3, 2, False, 6, 4),
    "gru_l2_bi": ("gru", None, 4, 3, 2, True, 5, 3),
}

# Standard deviation of the Gaussian noise added to every bias after PyTorch's default init, so that
# b_ih and b_hh are clearly different and not tiny (a bug that swaps or drops one must show up).
BIAS_PERTURBATION = 0.5


# ANCHOR: build
def build(kind, nonlinearity, d, h, layers, bidirectional):
    common = dict(input_size=d, hidden_size=h, num_layers=layers, bidirectional=bidirectional)
    if kind == "rnn":
        return torch.nn.RNN(nonlinearity=nonlinearity, **common)
    if kind == "lstm":
        return torch.nn.LSTM(**common)
    if kind == "gru":
        return torch.nn.GRU(**common)
    raise ValueError(kind)
# ANCHOR_END: build


def contiguous(tensors):
    return {k: v.detach().contiguous().clone() for k, v in tensors.items()}


def make_one(name, spec, out_dir, gen):
    kind, nonlinearity, d, h, layers, bidirectional, t_len, batch = spec
    dirs = 2 if bidirectional else 1
    model = build(kind, nonlinearity, d, h, layers, bidirectional)  # PyTorch default init, from the seed
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if pname.startswith("bias"):
                p.add_(BIAS_PERTURBATION * torch.randn(p.shape, generator=gen))

    # The library's config format (rnn::checkpoint): `cell` is PyTorch's mode in lower case.
    config = {
        "cell": f"rnn_{nonlinearity}" if kind == "rnn" else kind,
        "input_size": d,
        "hidden_size": h,
        "num_layers": layers,
        "bidirectional": bidirectional,
    }

    x = torch.randn(t_len, batch, d, generator=gen).requires_grad_()
    h0 = (0.5 * torch.randn(layers * dirs, batch, h, generator=gen)).requires_grad_()
    c0 = (0.5 * torch.randn(layers * dirs, batch, h, generator=gen)).requires_grad_() if kind == "lstm" else None

    if kind == "lstm":
        output, (h_n, c_n) = model(x, (h0, c0))
    else:
        output, h_n = model(x, h0)
        c_n = None

    r_out = torch.randn(output.shape, generator=gen)
    r_hn = torch.randn(h_n.shape, generator=gen)
    loss = (r_out * output).sum() + (r_hn * h_n).sum()
    if c_n is not None:
        r_cn = torch.randn(c_n.shape, generator=gen)
        loss = loss + (r_cn * c_n).sum()
    model.zero_grad()
    loss.backward()

    data = {"x": x, "h0": h0, "output": output, "h_n": h_n, "r_out": r_out, "r_hn": r_hn,
            "grad_x": x.grad, "grad_h0": h0.grad}
    if kind == "lstm":
        data.update({"c0": c0, "c_n": c_n, "r_cn": r_cn, "grad_c0": c0.grad})
    for pname, p in model.named_parameters():
        data[f"grad.{pname}"] = p.grad
    for k, v in data.items():
        assert v.dtype == torch.float64, (k, v.dtype)

    # One metadata entry only: safetensors writes a multi-entry metadata map in arbitrary order, and a single
    # entry keeps regenerated files byte-identical.
    meta = {"config": json.dumps(config, sort_keys=True)}
    weights_path = out_dir / f"{name}.weights.safetensors"
    data_path = out_dir / f"{name}.data.safetensors"
    save_file(contiguous(model.state_dict()), str(weights_path), metadata=meta)
    save_file(contiguous(data), str(data_path), metadata=meta)
    print(f"{name:12s} D={d} H={h} L={layers} dirs={dirs} T={t_len} B={batch}  loss={loss.item():+.6f}  "
          f"{weights_path.stat().st_size + data_path.stat().st_size} bytes")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = Path(__file__).resolve().parents[2]
    parser.add_argument("--out", type=Path, default=root / "tests" / "fixtures")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    torch.set_default_dtype(torch.float64)
    torch.use_deterministic_algorithms(True)
    for name, spec in CONFIGS.items():
        # One seed per configuration, derived from its name: adding, removing or editing a configuration
        # leaves the other configurations' files unchanged.
        seed = SEED + zlib.crc32(name.encode())
        torch.manual_seed(seed)  # PyTorch's default init
        gen = torch.Generator().manual_seed(seed + 1)  # biases, inputs, states, loss weights
        make_one(name, spec, args.out, gen)


if __name__ == "__main__":
    main()
