#!/usr/bin/python3
"""Reference implementation of disent-eval's metrics (numpy only), written
from the papers' definitions and disentanglement_lib's sampling, to check
libcommon/eval/disent.c: the same codes, factors and seed give the same numbers
to 1e-6. It draws the same samples as the C code: vaekit's generator
(xoshiro256** seeded by splitmix64, rng.c) ported below, called in the same
order.

Usage: disent_ref.py CODES.txt FACTORS.txt SIZES [--seed N] [--points N]
       [--bins N] [--train N] [--test N] [--alpha X]
CODES.txt and FACTORS.txt are stream2txt's output of the code stream and the
factor stream; SIZES is the factor stream's factor.I.size values, comma
separated. Prints disent-eval --tsv's metric lines."""
import argparse
import math

import numpy as np

M64 = (1 << 64) - 1


class Rng:
    def __init__(self, seed):
        x = seed & M64
        self.s = []
        for _ in range(4):
            x = (x + 0x9E3779B97F4A7C15) & M64
            z = x
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
            self.s.append(z ^ (z >> 31))

    def next(self):
        s = self.s
        rotl = lambda x, k: ((x << k) | (x >> (64 - k))) & M64
        result = (rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return result

    def below(self, n):
        limit = M64 - M64 % n
        while True:
            x = self.next()
            if x < limit:
                return x % n


def draw(rng, n, N):
    return np.array([rng.below(N) for _ in range(n)], dtype=np.int64)


def entropy(counts, n):
    p = counts[counts > 0] / n
    return float(-(p * np.log(p)).sum())


def mig(z, y, sizes, seed, points, bins):
    """Chen et al. 2018: mutual information of equal-width-binned codes and
    each factor; the top two's gap over the factor's entropy."""
    rng = Rng(seed)
    idx = draw(rng, points, len(z))
    zs, ys = z[idx], y[idx]
    n = points
    binned = []
    for d in range(z.shape[1]):
        lo, hi = zs[:, d].min(), zs[:, d].max()
        if hi > lo:
            b = ((zs[:, d] - lo) / (hi - lo) * bins).astype(np.int64)
        else:
            b = np.zeros(n, dtype=np.int64)
        binned.append(np.minimum(b, bins - 1))
    total, counted = 0.0, 0
    for j, V in enumerate(sizes):
        cy = np.bincount(ys[:, j], minlength=V).astype(float)
        h = entropy(cy, n)
        mis = []
        for b in binned:
            joint = np.zeros((bins, V))
            np.add.at(joint, (b, ys[:, j]), 1)
            cb = joint.sum(axis=1)
            m = 0.0
            for bb in range(bins):
                for v in range(V):
                    c = joint[bb, v]
                    if c:
                        m += c / n * math.log(c * n / (cb[bb] * cy[v]))
            mis.append(m)
        mis = sorted(mis, reverse=True) + [0.0]
        if h > 0:
            total += (mis[0] - mis[1]) / h
            counted += 1
    return total / counted if counted else 0.0


def groups(y, sizes):
    return [[np.flatnonzero(y[:, j] == v) for v in range(V)] for j, V in enumerate(sizes)]


def pick_group(rng, y, g):
    j = rng.below(y.shape[1])
    v = y[rng.below(len(y)), j]
    return j, g[j][v]


def betavae(z, y, sizes, seed, batch, train, ev):
    """Higgins et al. 2017: |z1 - z2| averaged over pairs sharing one factor;
    a linear classifier (nearest class centroid) names the factor."""
    rng = Rng(seed)
    g = groups(y, sizes)
    P = train + ev
    feats, labs = np.zeros((P, z.shape[1])), np.zeros(P, dtype=np.int64)
    for p in range(P):
        j, grp = pick_group(rng, y, g)
        pairs = [(grp[rng.below(len(grp))], grp[rng.below(len(grp))]) for _ in range(batch)]
        i1 = np.array([a for a, _ in pairs])
        i2 = np.array([b for _, b in pairs])
        feats[p] = np.abs(z[i1] - z[i2]).sum(axis=0) / batch
        labs[p] = j
    K = len(sizes)
    has = [np.any(labs[:train] == j) for j in range(K)]
    cen = [feats[:train][labs[:train] == j].mean(axis=0) if has[j] else None for j in range(K)]

    def predict(f):
        best, bd = -1, 0.0
        for j in range(K):
            if has[j]:
                s = float(((f - cen[j]) ** 2).sum())
                if best < 0 or s < bd:
                    best, bd = j, s
        return best

    hits = np.array([predict(feats[p]) == labs[p] for p in range(P)])
    return hits[:train].mean(), hits[train:].mean()


def factorvae(z, y, sizes, seed, batch, train, ev, nvar, prune):
    """Kim & Mnih 2018: the active dim of least normalised variance, with one
    factor fixed, votes for that factor; a majority vote per dim classifies."""
    rng = Rng(seed)
    idx = draw(rng, nvar, len(z))
    var = z[idx].var(axis=0)
    act = np.flatnonzero(np.sqrt(var) >= prune)
    if len(act) == 0:
        return 0.0, 0.0, 0
    g = groups(y, sizes)
    K = len(sizes)
    votes = np.zeros((2, len(act), K), dtype=np.int64)
    for p in range(train + ev):
        j, grp = pick_group(rng, y, g)
        b = np.array([grp[rng.below(len(grp))] for _ in range(batch)])
        local = z[b][:, act].var(axis=0, ddof=1) / var[act]
        votes[0 if p < train else 1, int(np.argmin(local)), j] += 1
    cls = votes[0].argmax(axis=1)
    r = np.arange(len(act))
    return votes[0][r, cls].sum() / train, votes[1][r, cls].sum() / ev, len(act)


def sap(z, y, sizes, seed, train, test):
    """Kumar et al. 2018, discrete factors: per (dim, factor) the test accuracy
    of a one-dim nearest-class-mean classifier; the top two dims' gap."""
    rng = Rng(seed)
    tr = draw(rng, train, len(z))
    te = draw(rng, test, len(z))
    D, K = z.shape[1], len(sizes)
    score = np.zeros((D, K))
    for a in range(D):
        for j, V in enumerate(sizes):
            ztr, ytr = z[tr, a], y[tr, j]
            cnt = np.bincount(ytr, minlength=V)
            s = np.zeros(V)
            for zz, yy in zip(ztr, ytr):
                s[yy] += zz
            mean = np.where(cnt > 0, s / np.maximum(cnt, 1), np.inf)
            valid = np.flatnonzero(cnt > 0)
            dist = np.abs(z[te, a][:, None] - mean[valid][None, :])
            pred = valid[dist.argmin(axis=1)]
            score[a, j] = (pred == y[te, j]).sum() / test
    srt = np.sort(score, axis=0)
    gaps = srt[-1] - (srt[-2] if D > 1 else 0)
    return float(gaps.mean())


def dci(z, y, sizes, seed, train, test, alpha, sweeps):
    """Eastwood & Williams 2018 with lasso (cyclic coordinate descent on the
    Gram matrix of standardised codes, fixed sweeps): importances |w|."""
    rng = Rng(seed)
    tr = draw(rng, train, len(z))
    te = draw(rng, test, len(z))
    D, K = z.shape[1], len(sizes)
    mu = z[tr].mean(axis=0)
    sd = np.sqrt(((z[tr] - mu) ** 2).sum(axis=0) / train)
    safe = np.where(sd > 0, sd, 1)
    xs = np.where(sd > 0, (z[tr] - mu) / safe, 0.0)
    xt = np.where(sd > 0, (z[te] - mu) / safe, 0.0)
    G = xs.T @ xs / train
    R = np.zeros((D, K))
    infs = []
    for j in range(K):
        ytr = y[tr, j].astype(float)
        ym = ytr.mean()
        ysd = math.sqrt(((ytr - ym) ** 2).sum() / train)
        ys = (ytr - ym) / ysd if ysd > 0 else np.zeros(train)
        yt = (y[te, j] - ym) / ysd if ysd > 0 else np.zeros(test)
        c = xs.T @ ys / train
        w = [0.0] * D
        for _ in range(sweeps):
            for a in range(D):
                if G[a, a] == 0:
                    w[a] = 0.0
                    continue
                rho = c[a]
                for b in range(D):
                    if b != a:
                        rho -= G[a, b] * w[b]
                mag = abs(rho) - alpha
                w[a] = (mag if rho > 0 else -mag) / G[a, a] if mag > 0 else 0.0
        w = np.array(w)
        R[:, j] = np.abs(w)
        pred = xt @ w
        tv = ((yt - yt.mean()) ** 2).sum()
        if tv > 0:
            infs.append(1 - ((pred - yt) ** 2).sum() / tv)
    inf = float(np.mean(infs)) if infs else 0.0
    total = R.sum()
    dis = com = 0.0
    if total > 0:
        for a in range(D):
            rs = R[a].sum()
            if rs == 0:
                continue
            p = R[a][R[a] > 0] / rs
            h = float(-(p * np.log(p)).sum())
            dis += rs / total * (1 - (h / math.log(K) if K > 1 else 0))
        for j in range(K):
            cs = R[:, j].sum()
            if cs == 0:
                continue
            p = R[:, j][R[:, j] > 0] / cs
            h = float(-(p * np.log(p)).sum())
            com += cs / total * (1 - (h / math.log(D) if D > 1 else 0))
    return dis, com, inf


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("codes")
    ap.add_argument("factors")
    ap.add_argument("sizes")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--points", type=int, default=10000)
    ap.add_argument("--bins", type=int, default=20)
    ap.add_argument("--train", type=int, default=10000)
    ap.add_argument("--test", type=int, default=5000)
    ap.add_argument("--alpha", type=float, default=0.02)
    a = ap.parse_args()
    z = np.loadtxt(a.codes, ndmin=2, dtype=np.float32).astype(np.float64)
    y = np.loadtxt(a.factors, ndmin=2).astype(np.int64)
    sizes = [int(s) for s in a.sizes.split(",")]
    keep = [j for j, V in enumerate(sizes) if V >= 2]
    y, sizes = y[:, keep], [sizes[j] for j in keep]
    out = [("mig", mig(z, y, sizes, a.seed, a.points, a.bins))]
    bt, be = betavae(z, y, sizes, a.seed, 64, a.train, a.test)
    out += [("betavae_train", bt), ("betavae_eval", be)]
    ft, fe, fa = factorvae(z, y, sizes, a.seed, 64, a.train, a.test, 10000, 0.05)
    out += [("factorvae_train", ft), ("factorvae_eval", fe), ("factorvae_active_dims", fa)]
    out.append(("sap", sap(z, y, sizes, a.seed, a.train, a.test)))
    d, c, i = dci(z, y, sizes, a.seed, a.train, a.test, a.alpha, 1000)
    out += [("dci_disentanglement", d), ("dci_completeness", c), ("dci_informativeness", i)]
    for k, v in out:
        print("%s\t%.9g" % (k, v))


if __name__ == "__main__":
    main()
