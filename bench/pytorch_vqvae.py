#!/usr/bin/python3
"""PyTorch reference for vaekit's VQ-VAE: vae-train -m vqvae --arch resnet.

pythae's MNIST ResNet VQ-VAE (Encoder_ResNet_VQVAE_MNIST,
Decoder_ResNet_VQVAE_MNIST in pythae/models/nn/benchmarks/mnist/resnets.py)
in plain PyTorch 1.13, trained with vae-train's recipe (vae-train(1), "The
VQ-VAE"; libcommon/model/latent_vq.c):

  encoder  conv 64 4x4/2, conv 128 4x4/2, conv 128 3x3/2 (28, 14, 7, 4; no
           activations), 2 ResBlocks (ReLU, conv 32 3x3, ReLU, conv 1x1 back,
           plus the input), conv 1x1 to D (pythae's pre_qantized): a 4x4xD map;
  decoder  deconv D->128 1x1, deconv 128 3x3/2 (4 -> 7), 2 ResBlocks, ReLU,
           deconv 64 3x3/2 (-> 14), ReLU, deconv 1 3x3/2 (-> 28): logits;
  codes    each of the map's P = 16 vectors v becomes the nearest of K codes
           (least squared distance, ties to the lowest index); the decoder
           sees the code, its gradient passes straight through to v;
  loss     per image: BCE summed over the 784 [0,1] grey levels (nats, from
           logits: the Bernoulli likelihood) + (q + beta) * the mean over its
           P*D values of (v - e)^2, beta = 0.25; the gradient is that of the
           mean over the batch (the last, smaller batch of an epoch kept);
           --codebook loss (q = 1, pythae's Quantizer): the codebook term
           ||sg(v) - e||^2 moves the codes through Adam with the network;
           --codebook ema (q = 0, pythae's QuantizerEMA): after each step, from
           the batch's counts n and sums s of the vectors each code won,
           N <- g N + (1-g) n, M <- g M + (1-g) s (g = 0.99), N smoothed as
           (N + 1e-5) / (sum N + K 1e-5) * sum N, e = M / N; then every code
           with N < 1 is dead and the j-th of d dead codes (index order) takes
           the encoder output at position floor((j + 1/2) B P / d) of the
           batch (record by record, row-major within a map), N = 1, M = e;
  init     vae-train's (--init vaekit, the default): He-uniform weights
           sqrt(6/fan_in) for a layer followed by ReLU, Xavier-uniform
           sqrt(6/(fan_in+fan_out)) otherwise, zero biases; codes uniform in
           +-1/K; EMA counts and sums 0 (so the first batch places them);
  Adam     lr 1e-3, PyTorch's defaults otherwise; one randperm per epoch.

The data are read from the IDX .gz files (bench/pytorch_vae.py's reader) and
scaled by 1/255, not binarised, as vae-train reads idx2stream's u8 records.

Output: TSV on stdout, a header, then one line per epoch:
  epoch train_rec train_vq test_rec test_sqerr train_perplexity
        test_perplexity dead_codes cpu_seconds seconds test_vq
train_rec and train_vq are the means per image over the epoch's steps (vae-train's
train_rec and train_kl); test_rec is the BCE per image on the whole test set
decoded from its quantised codes, test_sqerr the squared error per image of the
decoder's means (sigmoid), summed over the 784 pixels (pythae's reconstruction
loss), test_vq the VQ term there (vae-train's test_kl); the perplexities are exp
of the entropy of the code frequencies over the epoch's training positions
(vae-train's perplexity) and over the test set's (stream-info of vae-encode
--codes); dead_codes the codes no training position used in the epoch
(vae-train's dead_codes). seconds is the wall time of the training pass (no
evaluation), cpu_seconds the process CPU time of that pass, all threads. Test
columns are nan without --test-images. The parameter counts go to standard
error (--count: print them and stop).
"""
import argparse
import os
import sys
import time


def parse_args(argv):
	p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
	p.add_argument("--train-images", help="IDX3 images .gz (or raw)")
	p.add_argument("--test-images", help="IDX3 test images; enables the test columns")
	p.add_argument("--latent", "-z", type=int, default=16, help="code dimension D")
	p.add_argument("--codes", type=int, default=512, help="codebook size K")
	p.add_argument("--codebook", choices=("ema", "loss"), default="ema",
		       help="ema: moving averages with dead-code restarts (pythae's QuantizerEMA); "
		       "loss: codebook loss + beta * commitment through Adam (pythae's Quantizer)")
	p.add_argument("--commitment", type=float, default=0.25, help="beta")
	p.add_argument("--ema-decay", type=float, default=0.99)
	p.add_argument("--distance", choices=("exact", "expanded"), default="exact",
		       help="exact: sum of (v - e)^2 per pair, as vae-train; expanded: "
		       "|v|^2 - 2 v.e + |e|^2 by a GEMM, as pythae (ties may then differ)")
	p.add_argument("--init", choices=("vaekit", "torch"), default="vaekit",
		       help="vaekit: He/Xavier uniform weights, zero biases (vae-train); "
		       "torch: PyTorch's default layer init")
	p.add_argument("--epochs", type=int, default=10)
	p.add_argument("--batch", type=int, default=128)
	p.add_argument("--lr", type=float, default=1e-3)
	p.add_argument("--threads", type=int, default=0,
		       help="torch.set_num_threads and OMP/OPENBLAS/MKL_NUM_THREADS unless "
		       "set (0 = leave the defaults)")
	p.add_argument("--seed", type=int, default=1)
	p.add_argument("--limit", type=int, default=0, help="use only the first N training images")
	p.add_argument("--count", action="store_true", help="print the parameter counts and stop")
	a = p.parse_args(argv)
	if not a.count and not a.train_images:
		p.error("--train-images is required")
	if a.latent < 1 or a.codes < 2 or a.batch < 2 or a.epochs < 1 or a.threads < 0:
		p.error("--latent, --codes, --batch and --epochs out of range")
	if not 0 < a.ema_decay < 1 or a.commitment < 0:
		p.error("--ema-decay must be in (0, 1), --commitment >= 0")
	return a


def build(nn, D):
	"""(encoder, decoder) as pythae's Encoder/Decoder_ResNet_VQVAE_MNIST, the
	decoder ending on logits (the sigmoid lives in the loss)."""
	here = os.path.dirname(os.path.abspath(__file__))
	sys.path.insert(0, here)
	from pytorch_resnet import ResBlock
	enc = nn.Sequential(
		nn.Conv2d(1, 64, 4, 2, padding=1),          # 28 -> 14
		nn.Conv2d(64, 128, 4, 2, padding=1),        # 14 -> 7
		nn.Conv2d(128, 128, 3, 2, padding=1),       # 7 -> 4
		ResBlock(128, 32), ResBlock(128, 32),
		nn.Conv2d(128, D, 1, 1))                    # pre_qantized
	dec = nn.Sequential(
		nn.ConvTranspose2d(D, 128, 1, 1),
		nn.ConvTranspose2d(128, 128, 3, 2, padding=1),                      # 4 -> 7
		ResBlock(128, 32), ResBlock(128, 32), nn.ReLU(),
		nn.ConvTranspose2d(128, 64, 3, 2, padding=1, output_padding=1),     # 7 -> 14
		nn.ReLU(),
		nn.ConvTranspose2d(64, 1, 3, 2, padding=1, output_padding=1))       # 14 -> 28
	return enc, dec


def init_like_vaekit(torch, nn, module):
	"""vae-train's init in every Sequential (ResBlock bodies included): uniform
	weights, bound sqrt(6/fan_in) for a layer followed by ReLU (He), else
	sqrt(6/(fan_in+fan_out)) (Xavier), fans k*k*channels in and out; zero
	biases."""
	with torch.no_grad():
		for seq in module.modules():
			if not isinstance(seq, nn.Sequential):
				continue
			mods = list(seq)
			for i, m in enumerate(mods):
				if not isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
					continue
				relu = i + 1 < len(mods) and isinstance(mods[i + 1], nn.ReLU)
				k2 = m.kernel_size[0] * m.kernel_size[1]
				fan_in, fan_out = k2 * m.in_channels, k2 * m.out_channels
				bound = (6.0 / fan_in) ** 0.5 if relu else (6.0 / (fan_in + fan_out)) ** 0.5
				m.weight.uniform_(-bound, bound)
				m.bias.zero_()


def count(m):
	return sum(p.numel() for p in m.parameters())


class VQ:
	"""The codebook E (K, D) and, under EMA, its counts N (K) and sums M (K, D)."""

	def __init__(self, torch, a):
		self.torch, self.K, self.D = torch, a.codes, a.latent
		self.ema, self.beta, self.gamma = a.codebook == "ema", a.commitment, a.ema_decay
		self.exact = a.distance == "exact"
		b = 1.0 / self.K
		E = torch.empty(self.K, self.D).uniform_(-b, b)
		self.E = E if self.ema else torch.nn.Parameter(E)
		self.N = torch.zeros(self.K)
		self.M = torch.zeros(self.K, self.D)

	def nearest(self, v):
		"""Indices (n) of the nearest codes to v (n, D); ties to the lowest index
		(argmin's first minimum)."""
		torch, E = self.torch, self.E.detach()
		with torch.no_grad():
			if not self.exact:
				d = (v * v).sum(1, keepdim=True) - 2 * v @ E.t() + (E * E).sum(1)
				return d.argmin(1)
			out = torch.empty(v.shape[0], dtype=torch.long)
			step = max(1, (1 << 22) // (self.K * self.D))
			for i in range(0, v.shape[0], step):
				d = (v[i:i + step, None, :] - E[None]).square_().sum(2)
				out[i:i + step] = d.argmin(1)
			return out

	@staticmethod
	def flat(h):
		"""(B, D, H', W') -> (B*H'*W', D): positions record by record, row-major."""
		return h.permute(0, 2, 3, 1).reshape(-1, h.shape[1])

	def quantise(self, h):
		"""h (B, D, H', W') -> (z for the decoder, summed VQ term of the batch
		(q + beta) * mean (v - e)^2 per record, the loss to add, v, indices)."""
		torch = self.torch
		B, P = h.shape[0], h.shape[2] * h.shape[3]
		v = self.flat(h)
		k = self.nearest(v.detach())
		e = self.E[k]
		z = e.detach() + (v - v.detach())  # forward: exactly e; gradient straight to v
		z = z.reshape(B, h.shape[2], h.shape[3], self.D).permute(0, 3, 1, 2)
		sq_commit = (v - e.detach()).square().sum()
		loss = self.beta * sq_commit
		if not self.ema:
			loss = loss + (v.detach() - e).square().sum()
		loss = loss / (P * self.D)
		term = sq_commit.detach() * ((0.0 if self.ema else 1.0) + self.beta) / (P * self.D)
		return z, term, loss, v.detach(), k

	def update(self, v, k, B):
		"""After a step, under EMA: the moving averages and the dead-code
		restarts of vae-train (in double, stored as float)."""
		torch = self.torch
		if not self.ema:
			return
		with torch.no_grad():
			g, K = self.gamma, self.K
			n = torch.bincount(k, minlength=K).double()
			s = torch.zeros(K, self.D, dtype=torch.float64).index_add_(0, k, v.double())
			N = g * self.N.double() + (1 - g) * n
			tot = N.sum()
			N = (N + 1e-5) / (tot + K * 1e-5) * tot
			M = g * self.M.double() + (1 - g) * s
			self.N = N.float()
			self.M = M.float()
			self.E = (M / N[:, None]).float()
			dead = torch.nonzero(N < 1.0).flatten()
			d = dead.numel()
			if d:
				T = v.shape[0]  # B * P positions
				j = torch.arange(d, dtype=torch.long)
				at = (2 * j + 1) * T // (2 * d)
				self.E[dead] = v[at]
				self.M[dead] = v[at]
				self.N[dead] = 1.0


def perplexity(torch, counts):
	"""exp of the entropy of the code frequencies, and the codes never used."""
	c = counts.double()
	tot = c.sum()
	dead = int((c <= 0).sum())
	if tot <= 0:
		return 0.0, dead
	p = c[c > 0] / tot
	return float(torch.exp(-(p * p.log()).sum())), dead


def evaluate(torch, F, enc, dec, vq, xt):
	"""Per test image: BCE, squared error of the sigmoid means, VQ term; the
	test codes' perplexity."""
	rec = sqe = term = 0.0
	counts = torch.zeros(vq.K, dtype=torch.float64)
	with torch.inference_mode():
		for i in range(0, xt.shape[0], 1000):
			x = xt[i:i + 1000]
			z, t, _, _, k = vq.quantise(enc(x.reshape(-1, 1, 28, 28)))
			logits = dec(z).reshape(x.shape[0], -1)
			rec += F.binary_cross_entropy_with_logits(logits, x, reduction="sum").item()
			sqe += (torch.sigmoid(logits) - x).square().sum().item()
			term += t.item()
			counts += torch.bincount(k, minlength=vq.K).double()
	n = xt.shape[0]
	return rec / n, sqe / n, term / n, perplexity(torch, counts)[0]


def train_epoch(torch, F, enc, dec, vq, opt, x, a, gen):
	"""One shuffled pass: (wall s, CPU s, rec/img, VQ term/img, code counts)."""
	n = x.shape[0]
	rec_acc = torch.zeros((), dtype=torch.float64)
	term_acc = torch.zeros((), dtype=torch.float64)
	counts = torch.zeros(vq.K, dtype=torch.float64)
	t0, c0 = time.perf_counter(), time.process_time()
	perm = torch.randperm(n, generator=gen)
	for i in range(0, n, a.batch):
		xb = x[perm[i:i + a.batch]]
		B = xb.shape[0]
		z, term, vq_loss, v, k = vq.quantise(enc(xb.reshape(B, 1, 28, 28)))
		logits = dec(z).reshape(B, -1)
		rec = F.binary_cross_entropy_with_logits(logits, xb, reduction="sum")
		opt.zero_grad(set_to_none=True)
		((rec + vq_loss) / B).backward()
		opt.step()
		vq.update(v, k, B)
		rec_acc += rec.detach()
		term_acc += term
		counts += torch.bincount(k, minlength=vq.K).double()
	secs, cpu = time.perf_counter() - t0, time.process_time() - c0
	return secs, cpu, rec_acc.item() / n, term_acc.item() / n, counts


def main(argv):
	a = parse_args(argv)
	if a.threads > 0:
		for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
			os.environ.setdefault(var, str(a.threads))
	import numpy as np
	import torch
	import torch.nn as nn
	import torch.nn.functional as F
	sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
	from pytorch_vae import load_images
	if a.threads > 0:
		torch.set_num_threads(a.threads)
	torch.manual_seed(a.seed)

	enc, dec = build(nn, a.latent)
	if a.init == "vaekit":
		init_like_vaekit(torch, nn, enc)
		init_like_vaekit(torch, nn, dec)
	vq = VQ(torch, a)
	ne, nd, nc = count(enc), count(dec), vq.K * vq.D
	print(f"# parameters: encoder {ne}, decoder {nd}, codebook {vq.K}x{vq.D} = {nc}, "
	      f"total {ne + nd + nc}", file=sys.stderr, flush=True)
	if a.count:
		return

	x = load_images(torch, np, a.train_images, a.limit)
	xt = load_images(torch, np, a.test_images) if a.test_images else None
	if x.shape[1] != 784 or (xt is not None and xt.shape[1] != 784):
		sys.exit("pytorch_vqvae.py: the network is for 28x28 images")
	params = list(enc.parameters()) + list(dec.parameters())
	if not vq.ema:
		params.append(vq.E)
	opt = torch.optim.Adam(params, lr=a.lr, foreach=True)
	gen = torch.Generator().manual_seed(a.seed)

	cols = ("epoch train_rec train_vq test_rec test_sqerr train_perplexity test_perplexity "
		"dead_codes cpu_seconds seconds test_vq").split()
	print("\t".join(cols), flush=True)
	env = " ".join(f"{v}={os.environ[v]}" for v in
		       ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_WAIT_POLICY") if v in os.environ)
	print(f"# torch {torch.__version__} threads={torch.get_num_threads()} {env} "
	      f"train={x.shape[0]} test={0 if xt is None else xt.shape[0]} codebook={a.codebook} "
	      f"distance={a.distance} init={a.init}", file=sys.stderr, flush=True)
	nan = float("nan")
	for epoch in range(1, a.epochs + 1):
		secs, cpu, rec, term, counts = train_epoch(torch, F, enc, dec, vq, opt, x, a, gen)
		ppl, dead = perplexity(torch, counts)
		trec = tsq = tterm = tppl = nan
		if xt is not None:
			trec, tsq, tterm, tppl = evaluate(torch, F, enc, dec, vq, xt)
		row = (epoch, rec, term, trec, tsq, ppl, tppl, dead, cpu, secs, tterm)
		print("\t".join(str(v) if isinstance(v, int) else f"{v:.6g}" for v in row), flush=True)


if __name__ == "__main__":
	main(sys.argv[1:])
