#!/usr/bin/python3
"""Expected outputs of vaekit's batchnorm and res layers, computed by PyTorch.

Writes kinds_golden.h next to this file. Each case is one layer (vaekit's
text) on a batch of B records, flat (H = 0: C features) or H×W×C images,
channels-last and flattened as vaekit lays them out. The inputs are
formulas both sides compute, rounded to float32:
  x_t[i] = sin(0.37·i + 0.5·t)    the input of training step t (t = 0..N-1)
  P[j]   = 0.3 + 0.5·cos(0.23·j)   the layer's parameter block in vaekit's layout:
           batchnorm γ (C), β (C); res: its body's conv K×K W (K·K·C, F) rows
           (ky,kx,c), b (F), then conv 1×1 W (F, C), b (C)
  dy[i]  = cos(0.19·i)            the gradient of the output
and the state starts at vaekit's (and PyTorch's) running mean 0, variance 1.
Each case gives, in float64 rounded to float32: training mode at step 0
(y, dx, dP), the running statistics after N training steps (mean, then
variance), and evaluation mode on x_0 with those statistics (y, dx, dP).
Run: /usr/bin/python3 tests/golden/kinds_golden.py   (torch 1.13)
"""
import math
import os

import torch
import torch.nn.functional as F

# name, vaekit text, B, H, W, C, N (training steps)
CASES = [
    ("bn_dense_c5", "batchnorm/identity", 7, 0, 0, 5, 3),
    ("bn_dense_c1_tanh", "batchnorm:0.3:0.01/tanh", 4, 0, 0, 1, 4),
    ("bn_dense_c64", "batchnorm/identity", 3, 0, 0, 64, 2),
    ("bn_conv_3x5x7", "batchnorm/identity", 2, 3, 5, 7, 3),
    ("bn_conv_5x3x1_sigmoid", "batchnorm/sigmoid", 3, 5, 3, 1, 2),
    ("bn_conv_2x3x64", "batchnorm:0.2:0.001/identity", 2, 2, 3, 64, 5),
    ("res_3_3_5x3x4", "res:3:3/identity", 2, 5, 3, 4, 1),
    ("res_2_5_6x5x1_tanh", "res:2:5/tanh", 2, 6, 5, 1, 1),
    ("res_8_4_4x5x6", "res:8:4/identity", 2, 4, 5, 6, 1),
    ("res_32_3_4x4x16", "res:32:3/identity", 3, 4, 4, 16, 1),
]


def f32(v):
    return float(torch.tensor(v, dtype=torch.float32))


def vec(n, f):
    return torch.tensor([f32(f(i)) for i in range(n)], dtype=torch.float64)


def act(y, text):
    a = text.split("/")[1]
    return {"identity": y, "tanh": torch.tanh(y), "sigmoid": torch.sigmoid(y),
            "relu": torch.relu(y)}[a]


def to_torch(x, B, H, W, C):  # vaekit's flat channels-last -> NCHW or (B, C)
    return x.reshape(B, C) if H == 0 else x.reshape(B, H, W, C).permute(0, 3, 1, 2)


def from_torch(y, H):
    return (y if H == 0 else y.permute(0, 2, 3, 1)).reshape(-1)


def same_conv(x, w, b, K):
    lo = (K - 1) // 2  # vaekit pads (K-1)/2 before, the rest after
    return F.conv2d(F.pad(x, (lo, K - 1 - lo, lo, K - 1 - lo)), w, b)


class Layer:
    def __init__(self, text, H, W, C):
        kind, *args = text.split("/")[0].split(":")
        self.text, self.kind, self.H, self.C = text, kind, H, C
        if kind == "batchnorm":
            self.M = float(args[0]) if args else 0.1
            self.E = float(args[1]) if len(args) > 1 else 1e-5
            self.n_p = 2 * C
            bn = torch.nn.BatchNorm1d if H == 0 else torch.nn.BatchNorm2d
            self.bn = bn(C, eps=f32(self.E), momentum=f32(self.M)).double()
        else:
            self.F, self.K = int(args[0]), int(args[1])
            self.n_p = self.K * self.K * C * self.F + self.F + self.F * C + C
        self.P = vec(self.n_p, lambda j: 0.3 + 0.5 * math.cos(0.23 * j)).requires_grad_(True)

    def __call__(self, x, train):
        C, P = self.C, self.P
        if self.kind == "batchnorm":
            self.bn.train(train)
            self.bn.weight = torch.nn.Parameter(P[:C].detach().clone())
            self.bn.bias = torch.nn.Parameter(P[C:].detach().clone())
            y = self.bn(x)
            return act(y, self.text), [self.bn.weight, self.bn.bias]
        K, Fc = self.K, self.F
        n1 = K * K * C * Fc
        w1 = P[:n1].reshape(K, K, C, Fc).permute(3, 2, 0, 1)
        b1 = P[n1:n1 + Fc]
        w2 = P[n1 + Fc:n1 + Fc + Fc * C].reshape(1, 1, Fc, C).permute(3, 2, 0, 1)
        b2 = P[n1 + Fc + Fc * C:]
        h = same_conv(torch.relu(x), w1, b1, K)
        y = x + F.conv2d(torch.relu(h), w2, b2)
        return act(y, self.text), [P]

    def state(self):
        if self.kind != "batchnorm":
            return []
        return self.bn.running_mean.tolist() + self.bn.running_var.tolist()


def run(text, B, H, W, C, N):
    n_in = B * (C if H == 0 else H * W * C)
    L = Layer(text, H, W, C)
    out = {}

    def step(t, train):
        x = to_torch(vec(n_in, lambda i: math.sin(0.37 * i + 0.5 * t)), B, H, W, C)
        x.requires_grad_(True)
        y, params = L(x, train)
        dy = to_torch(vec(n_in, lambda i: math.cos(0.19 * i)), B, H, W, C)
        y.backward(dy)
        g = torch.cat([p.grad.reshape(-1) for p in params])
        return from_torch(y.detach(), H), from_torch(x.grad, H), g

    for t in range(N):
        y, dx, g = step(t, True)
        if t == 0:
            out["y_train"], out["dx_train"], out["g_train"] = y, dx, g
        L.P.grad = None
    out["state"] = torch.tensor(L.state(), dtype=torch.float64)
    out["y_eval"], out["dx_eval"], out["g_eval"] = step(0, False)
    return out, L.n_p


ARRAYS = ["y_train", "dx_train", "g_train", "state", "y_eval", "dx_eval", "g_eval"]


def float_c(v):
    s = "%.9g" % v
    return s if any(ch in s for ch in ".en") else s + ".0"


def main():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kinds_golden.h")
    lines = ["/* Generated by tests/golden/kinds_golden.py (PyTorch %s); do not edit. */"
             % torch.__version__, ""]
    rows = []
    for i, (name, text, B, H, W, C, N) in enumerate(CASES):
        out, n_p = run(text, B, H, W, C, N)
        for a in ARRAYS:
            v = out[a].float().tolist()
            lines.append(f"static const float kg{i}_{a}[{max(len(v), 1)}] = {{")
            for j in range(0, len(v), 6):
                lines.append("\t" + " ".join("%sf," % float_c(u) for u in v[j:j + 6]))
            if not v:
                lines.append("\t0.0f,")
            lines.append("};")
        rows.append(f'\t{{"{name}", "{text}", {B}, {H}, {W}, {C}, {N}, {n_p}, '
                    f'{out["state"].numel()}, '
                    + ", ".join(f"kg{i}_{a}" for a in ARRAYS) + "},")
    lines += ["", "static const struct kinds_golden {", "\tconst char *name, *text;",
              "\tint B, H, W, C, N, n_p, n_s;",
              "\tconst float *" + ", *".join(ARRAYS) + ";", "} kinds_goldens[] = {"]
    lines += rows + ["};", ""]
    with open(path, "w") as fh:
        fh.write("\n".join(lines))


if __name__ == "__main__":
    main()
