#!/usr/bin/python3
"""The layers of bench/conv_bench.c in PyTorch (oneDNN where it applies), one
thread, forward + backward with the same activations, best process CPU time
of REPEATS runs in ms, so the two tables compare directly.
Run: /usr/bin/python3 bench/conv_bench_torch.py [batch [repeats]]"""
import sys
import time

import torch

torch.set_num_threads(1)
B = int(sys.argv[1]) if len(sys.argv) > 1 else 128
REPEATS = int(sys.argv[2]) if len(sys.argv) > 2 else 21
# name, kind, H=W, C, F, K, S, relu, needs dx
LAYERS = [
    ("enc conv:32:3:2   28x28x1 ", "conv", 28, 1, 32, 3, 2, True, False),
    ("enc conv:64:3:2   14x14x32", "conv", 14, 32, 64, 3, 2, True, True),
    ("dec deconv:64:3:2  7x7x64 ", "deconv", 7, 64, 64, 3, 2, True, True),
    ("dec deconv:32:3:2 14x14x64", "deconv", 14, 64, 32, 3, 2, True, True),
    ("dec deconv:1:3:1  28x28x32", "deconv", 28, 32, 1, 3, 1, False, True),
]


def best(f):
    ts = []
    for r in range(REPEATS + 2):
        t0 = time.process_time()
        f()
        ts.append(time.process_time() - t0)
    return min(ts[2:])


total_f = total_b = 0.0
print(f"batch {B}, best of {REPEATS}, one thread, process CPU time; ms per call")
print(f"{'layer':27s} {'fwd':>8s} {'bwd':>8s} {'total':>8s}")
for name, kind, H, C, F, K, S, relu, need_dx in LAYERS:
    p = (K - 1) // 2
    if kind == "conv":
        m = torch.nn.Conv2d(C, F, K, stride=S, padding=p)
    else:
        m = torch.nn.ConvTranspose2d(C, F, K, stride=S, padding=p, output_padding=S - 1)
    x = torch.randn(B, C, H, H, requires_grad=need_dx)

    def fwd():
        y = m(x)
        return torch.relu(y) if relu else y

    with torch.no_grad():
        tf = best(fwd)
    g = torch.randn_like(fwd())

    def fwd_bwd():
        m.zero_grad(set_to_none=True)
        fwd().backward(g)

    tfb = best(fwd_bwd)
    total_f += tf
    total_b += tfb - tf
    print(f"{name:27s} {1e3 * tf:8.3f} {1e3 * (tfb - tf):8.3f} {1e3 * tfb:8.3f}")
print(f"{'all conv layers':27s} {1e3 * total_f:8.3f} {1e3 * total_b:8.3f} "
      f"{1e3 * (total_f + total_b):8.3f}")
