#!/usr/bin/python3
"""PyTorch reference for vaekit's benchmark: the PyTorch examples VAE recipe.

784-H-...-Z encoder with ReLU hidden layers, a mirrored decoder with a sigmoid
output, loss = BCE summed over pixels + analytic KL (AE: BCE only, z = encoder
output), Adam, shuffled minibatches, [0,1] pixels NOT binarised. The data are
read straight from the IDX .gz files (gzip + struct, no torchvision).

The training loop is deliberately tight -- tensors preloaded, batches picked
with one randperm per epoch, no DataLoader -- so that this is the fastest
honest PyTorch, not a straw man. mu and logvar come from one fused
Linear(H, 2Z) that is split in two: the same maths as the example's fc21/fc22
(same fan-in, so the same init distribution), one GEMM instead of two.

Output: TSV on stdout, a header line, then one line per epoch:
  epoch seconds samples_per_s train_rec train_kl train_nelbo
        test_rec test_kl test_nelbo test_nelbo_mu cpu_seconds
seconds covers the training pass only (not the test evaluation); cpu_seconds
is the process CPU time of that pass, all threads (spin-waits included). All losses are
per image (nats). test_* use one eps sample per test image (z = mu + sigma*eps,
as the example does); test_nelbo_mu uses z = mu. Test columns are "nan"
without --test-images.
"""
import argparse
import gzip
import os
import struct
import sys
import time


def parse_args(argv):
	p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
	p.add_argument("--train-images", required=True, help="IDX3 images .gz (or raw)")
	p.add_argument("--train-labels", help="IDX1 labels (a cvae's; otherwise read only for a "
		       "count check)")
	p.add_argument("--test-images", help="IDX3 test images; enables test columns")
	p.add_argument("--test-labels", help="IDX1 test labels (needed by a cvae with --test-images)")
	p.add_argument("--hidden", default="400", help="hidden sizes, e.g. 400 or 512,256")
	p.add_argument("--arch", choices=("mlp", "conv", "resnet"), default="mlp",
		       help="conv: Keras' conv VAE (vaekit's --arch conv) on 28x28 images; "
		       "resnet: pythae's MNIST ResNet VAE (vaekit's --arch resnet, "
		       "bench/pytorch_resnet.py)")
	p.add_argument("--latent", type=int, default=20)
	p.add_argument("--model", choices=("vae", "ae", "cvae"), default="vae",
		       help="cvae: the label's one-hot joins x at the encoder and z at the "
		       "decoder (Sohn et al. 2015); needs --train-labels")
	p.add_argument("--init", choices=("torch", "vaekit"), default="torch",
		       help="vaekit: He (ReLU layers) or Xavier uniform weights and zero biases, "
		       "as vae-train initialises")
	p.add_argument("--samples", metavar="PATH",
		       help="after training write --samples-per-class prior samples of every "
		       "class (cvae) as PATH.npy (float32 means) and PATH_labels.npy")
	p.add_argument("--samples-per-class", type=int, default=100)
	p.add_argument("--label-value", choices=("1", "sqrt"), default="1",
		       help="the set entry of a cvae's one-hot: 1 (the usual CVAE) or sqrt(C) "
		       "(vaekit since model format 2.1)")
	p.add_argument("--encodings", metavar="PATH",
		       help="after training write the test images' mu (cvae: with their labels) "
		       "as PATH.npy and PATH_labels.npy")
	p.add_argument("--epochs", type=int, default=10)
	p.add_argument("--batch", type=int, default=128)
	p.add_argument("--lr", type=float, default=1e-3)
	p.add_argument("--threads", type=int, default=0,
		       help="OpenBLAS threads (OPENBLAS_NUM_THREADS unless set) and the "
		       "default of --intra-op (0 = leave torch and OpenBLAS defaults)")
	p.add_argument("--intra-op", type=int, default=0,
		       help="torch.set_num_threads (OpenMP threads of torch's own kernels)")
	p.add_argument("--seed", type=int, default=1)
	p.add_argument("--limit", type=int, default=0, help="use only the first N training images")
	p.add_argument("--epoch-budget", type=float, default=0,
		       help="cut an epoch that runs longer than this many seconds, report its "
		       "rate (seconds extrapolated to the full epoch) and stop training")
	p.add_argument("--device", default="cpu",
		       help="cpu, or cuda (a GPU): the data, the model and the training live "
		       "there; epoch times wait for the GPU (torch.cuda.synchronize)")
	p.add_argument("--format", choices=("tsv", "json"), default="tsv")
	p.add_argument("--save-vaekit", metavar="PATH",
		       help="write the trained model as a vaekit model file (for kl-eval)")
	a = p.parse_args(argv)
	a.hidden = [int(h) for h in a.hidden.split(",") if h]
	if not a.hidden or min(a.hidden) < 1 or a.latent < 1 or a.batch < 1 or a.epochs < 1:
		p.error("sizes, --batch and --epochs must be positive")
	if a.model == "cvae" and (not a.train_labels or a.arch != "mlp" or
				  (a.test_images and not a.test_labels)):
		p.error("--model cvae needs --train-labels (--test-labels with --test-images) "
			"and --arch mlp")
	if a.threads < 0 or a.intra_op < 0:
		p.error("--threads and --intra-op must be >= 0")
	return a


def open_maybe_gz(path):
	with open(path, "rb") as f:
		gz = f.read(2) == b"\x1f\x8b"
	return gzip.open(path, "rb") if gz else open(path, "rb")


def read_idx(path):
	"""IDX file -> (dims, bytes). Only ubyte data (type 0x08) is needed here."""
	with open_maybe_gz(path) as f:
		zero, dtype, rank = struct.unpack(">HBB", f.read(4))
		if zero != 0 or dtype != 0x08 or not 1 <= rank <= 4:
			sys.exit(f"pytorch_vae.py: {path}: not an unsigned-byte IDX file")
		dims = struct.unpack(f">{rank}I", f.read(4 * rank))
		data = f.read()
	n = 1
	for d in dims:
		n *= d
	if len(data) != n:
		sys.exit(f"pytorch_vae.py: {path}: {len(data)} data bytes, header says {n}")
	return dims, data


def onehot(torch, labels, classes, value):
	"""Integer labels -> one-hot float rows whose set entry is 1, or sqrt(classes)
	for --label-value sqrt."""
	scale = float(classes) ** 0.5 if value == "sqrt" else 1.0
	return torch.nn.functional.one_hot(labels, classes).float() * scale


def load_labels(torch, np, path, count, value, classes=10):
	"""IDX1 labels -> one-hot rows (count, classes), see onehot()."""
	dims, data = read_idx(path)
	y = np.frombuffer(data, dtype=np.uint8)[:count]
	if len(dims) != 1 or y.shape[0] != count or y.max() >= classes:
		sys.exit(f"pytorch_vae.py: {path}: want {count} labels below {classes}")
	return onehot(torch, torch.from_numpy(y.astype(np.int64)), classes, value)


def load_images(torch, np, path, limit=0):
	dims, data = read_idx(path)
	if len(dims) < 2:
		sys.exit(f"pytorch_vae.py: {path}: images must have rank >= 2, got {len(dims)}")
	x = np.frombuffer(data, dtype=np.uint8).reshape(dims[0], -1)
	if limit:
		x = x[:limit]
	return torch.from_numpy(x.astype(np.float32) / np.float32(255.0)).contiguous()


def build_conv(nn, side, latent, model):
	"""Keras' VAE example (vaekit --arch conv): conv 32/3/2, conv 64/3/2, dense 16,
	head; dense (side/4)^2*64, deconv 64/3/2, deconv 32/3/2, deconv 1/3/1. PyTorch
	is NCHW, so the flat rows are viewed as (B, 1, side, side) and back."""
	q = side // 4
	head = 2 * latent if model == "vae" else latent
	enc = nn.Sequential(nn.Unflatten(1, (1, side, side)),
			    nn.Conv2d(1, 32, 3, 2, 1), nn.ReLU(), nn.Conv2d(32, 64, 3, 2, 1), nn.ReLU(),
			    nn.Flatten(), nn.Linear(64 * q * q, 16), nn.ReLU(), nn.Linear(16, head))
	dec = nn.Sequential(nn.Linear(latent, 64 * q * q), nn.ReLU(), nn.Unflatten(1, (64, q, q)),
			    nn.ConvTranspose2d(64, 64, 3, 2, 1, 1), nn.ReLU(),
			    nn.ConvTranspose2d(64, 32, 3, 2, 1, 1), nn.ReLU(),
			    nn.ConvTranspose2d(32, 1, 3, 1, 1), nn.Flatten())
	return enc, dec


def build(torch, nn, d_in, hidden, latent, model, classes=0):
	"""Encoder (d_in + C)-h1-..-hk -> (2Z for a VAE | Z for an AE); decoder
	mirrored from Z + C. C, the one-hot's width, is 0 except for a CVAE."""
	enc, prev = [], d_in + classes
	for h in hidden:
		enc += [nn.Linear(prev, h), nn.ReLU()]
		prev = h
	enc.append(nn.Linear(prev, latent if model == "ae" else 2 * latent))
	dec, prev = [], latent + classes
	for h in reversed(hidden):
		dec += [nn.Linear(prev, h), nn.ReLU()]
		prev = h
	dec.append(nn.Linear(prev, d_in))  # logits; the sigmoid lives in the loss
	return nn.Sequential(*enc), nn.Sequential(*dec)


def init_like_vaekit(torch, nn, *seqs):
	"""vae-train's initialisation: uniform weights with bound sqrt(6/fan_in) for a
	layer followed by ReLU (He), sqrt(6/(fan_in+fan_out)) otherwise (Xavier);
	zero biases."""
	with torch.no_grad():
		for seq in seqs:
			mods = list(seq)
			for i, m in enumerate(mods):
				if not isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
					continue
				relu = i + 1 < len(mods) and isinstance(mods[i + 1], nn.ReLU)
				if isinstance(m, nn.Linear):
					fan_in, fan_out = m.in_features, m.out_features
				else:
					k2 = m.kernel_size[0] * m.kernel_size[1]
					fan_in, fan_out = k2 * m.in_channels, k2 * m.out_channels
				bound = (6.0 / fan_in) ** 0.5 if relu else (6.0 / (fan_in + fan_out)) ** 0.5
				m.weight.uniform_(-bound, bound)
				m.bias.zero_()


def losses(torch, F, enc, dec, x, model, latent, use_mean=False, gen=None, onehot=None):
	"""Summed (rec, kl) over the batch. onehot: the CVAE's labels, (B, C)."""
	h = enc(x if onehot is None else torch.cat((x, onehot), 1))
	if model == "ae":
		logits = dec(h)
		return F.binary_cross_entropy_with_logits(logits, x, reduction="sum"), h.new_zeros(())
	mu, logvar = h[:, :latent], h[:, latent:]
	if use_mean:
		z = mu
	else:
		eps = (torch.randn(mu.shape, generator=gen, device=mu.device) if gen is not None
		       else torch.randn_like(mu))
		z = mu + torch.exp(0.5 * logvar) * eps
	logits = dec(z if onehot is None else torch.cat((z, onehot), 1))
	rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
	kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
	return rec, kl


def evaluate(torch, F, enc, dec, xt, yt, a, use_mean, seed):
	gen = torch.Generator(device=xt.device).manual_seed(seed)
	rec_sum, kl_sum = 0.0, 0.0
	with torch.inference_mode():
		for i in range(0, xt.shape[0], 1000):
			rec, kl = losses(torch, F, enc, dec, xt[i:i + 1000], a.model, a.latent, use_mean, gen,
					 None if yt is None else yt[i:i + 1000])
			rec_sum += rec.item()
			kl_sum += kl.item()
	n = xt.shape[0]
	return rec_sum / n, kl_sum / n


def sync(torch, x):
	"""Wait for the GPU's queued work, so that a time taken after it counts it."""
	if x.is_cuda:
		torch.cuda.synchronize(x.device)


def train_epoch(torch, F, enc, dec, opt, x, y, a, gen):
	"""One shuffled pass; returns (wall s, CPU s of all threads, rec/img, kl/img,
	images done), all but the last scaled to the full epoch if --epoch-budget cut it."""
	n = x.shape[0]
	done = n
	rec_acc = torch.zeros((), device=x.device)
	kl_acc = torch.zeros((), device=x.device)
	sync(torch, x)
	t0, c0 = time.perf_counter(), time.process_time()
	perm = torch.randperm(n, generator=gen, device=x.device)
	for i in range(0, n, a.batch):
		if i and a.epoch_budget and time.perf_counter() - t0 > a.epoch_budget:
			done = i
			break
		idx = perm[i:i + a.batch]
		rec, kl = losses(torch, F, enc, dec, x[idx], a.model, a.latent,
				 onehot=None if y is None else y[idx])
		opt.zero_grad(set_to_none=True)
		(rec + kl).backward()
		opt.step()
		rec_acc += rec.detach()
		kl_acc += kl.detach()
	sync(torch, x)
	secs, cpu = time.perf_counter() - t0, time.process_time() - c0
	scale = n / done
	return secs * scale, cpu * scale, rec_acc.item() / done, kl_acc.item() / done, done


def write_samples(torch, np, dec, a, classes):
	"""--samples-per-class decoder means per class from z ~ N(0, I), class order,
	as vae-sample --each-label writes them."""
	n = a.samples_per_class
	gen = torch.Generator().manual_seed(a.seed + 1000)
	labels = torch.arange(classes).repeat_interleave(n)
	with torch.inference_mode():
		z = torch.randn((n * classes, a.latent), generator=gen)
		y = onehot(torch, labels, classes, a.label_value)
		x = torch.sigmoid(dec(torch.cat((z, y), 1)))
	np.save(a.samples + ".npy", x.numpy().astype(np.float32))
	np.save(a.samples + "_labels.npy", labels.numpy().astype(np.int32))


def main(argv):
	a = parse_args(argv)
	intra = a.intra_op or a.threads
	# OpenMP and OpenBLAS read these once, when torch is imported. torch's
	# GEMMs go to OpenBLAS (Debian's build), whose own pthreads ignore
	# torch.set_num_threads: without OPENBLAS_NUM_THREADS it runs one thread
	# per core. A value already in the environment wins.
	if a.threads > 0:
		os.environ.setdefault("OPENBLAS_NUM_THREADS", str(a.threads))
	if intra > 0:
		os.environ.setdefault("OMP_NUM_THREADS", str(intra))
		os.environ.setdefault("MKL_NUM_THREADS", str(intra))
	import numpy as np
	import torch
	import torch.nn as nn
	import torch.nn.functional as F
	if intra > 0:
		torch.set_num_threads(intra)
	torch.manual_seed(a.seed)
	if a.device != "cpu" and not (a.device.startswith("cuda") and torch.cuda.is_available()):
		sys.exit(f"pytorch_vae.py: --device {a.device}: no such device here "
			 f"(torch {torch.__version__}, CUDA available: {torch.cuda.is_available()})")
	dev = torch.device(a.device)

	x = load_images(torch, np, a.train_images, a.limit)
	if a.train_labels and not a.limit:
		dims, _ = read_idx(a.train_labels)
		if dims[0] != x.shape[0]:
			sys.exit(f"pytorch_vae.py: {a.train_labels}: {dims[0]} labels for {x.shape[0]} images")
	xt = load_images(torch, np, a.test_images) if a.test_images else None
	y = yt = None
	if a.model == "cvae":
		y = load_labels(torch, np, a.train_labels, x.shape[0], a.label_value)
		if xt is not None:
			yt = load_labels(torch, np, a.test_labels, xt.shape[0], a.label_value)
	if a.arch == "resnet":
		if a.model != "vae" or x.shape[1] != 784:
			sys.exit("pytorch_vae.py: --arch resnet is a VAE on 28x28 images")
		sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
		from pytorch_resnet import flat_vae
		enc, dec = flat_vae(a.latent)
	elif a.arch == "conv":
		enc, dec = build_conv(nn, int(round(x.shape[1] ** 0.5)), a.latent, a.model)
	else:
		enc, dec = build(torch, nn, x.shape[1], a.hidden, a.latent, a.model,
				 0 if y is None else y.shape[1])
	if a.init == "vaekit":
		init_like_vaekit(torch, nn, enc, dec)
	if dev.type != "cpu":
		enc, dec = enc.to(dev), dec.to(dev)
		x, xt, y, yt = (None if t is None else t.to(dev) for t in (x, xt, y, yt))
	opt = torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=a.lr, foreach=True)
	gen = torch.Generator(device=dev).manual_seed(a.seed)

	cols = ("epoch seconds samples_per_s train_rec train_kl train_nelbo "
		"test_rec test_kl test_nelbo test_nelbo_mu cpu_seconds").split()
	if a.format == "tsv":
		print("\t".join(cols), flush=True)
	env = " ".join(f"{v}={os.environ[v]}" for v in
		       ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_WAIT_POLICY") if v in os.environ)
	where = "cpu" if dev.type == "cpu" else f"{a.device} ({torch.cuda.get_device_name(dev)})"
	print(f"# torch {torch.__version__} device={where} threads={torch.get_num_threads()} {env} "
	      f"train={x.shape[0]} test={0 if xt is None else xt.shape[0]}", file=sys.stderr)
	for epoch in range(1, a.epochs + 1):
		enc.train(), dec.train()
		secs, cpu, rec, kl, done = train_epoch(torch, F, enc, dec, opt, x, y, a, gen)
		trec = tkl = tmu = float("nan")
		if xt is not None:
			enc.eval(), dec.eval()
			trec, tkl = evaluate(torch, F, enc, dec, xt, yt, a, False, a.seed + epoch)
			mrec, mkl = evaluate(torch, F, enc, dec, xt, yt, a, True, a.seed)
			tmu = mrec + mkl
		row = (epoch, secs, x.shape[0] / secs, rec, kl, rec + kl, trec, tkl, trec + tkl, tmu, cpu)
		if a.format == "tsv":
			print("\t".join(str(row[0]) if i == 0 else f"{v:.6g}" for i, v in enumerate(row)),
			      flush=True)
		else:
			import json
			print(json.dumps({k: None if v != v else v for k, v in zip(cols, row)}), flush=True)
		if done < x.shape[0]:
			print(f"# epoch {epoch} cut by --epoch-budget after {done} images; stopping",
			      file=sys.stderr)
			break
	if dev.type != "cpu":
		enc, dec = enc.cpu(), dec.cpu()
		xt, yt = (None if t is None else t.cpu() for t in (xt, yt))
	if a.samples and a.model == "cvae":
		write_samples(torch, np, dec, a, y.shape[1])
	if a.encodings and xt is not None and a.model != "ae":
		with torch.inference_mode():
			h = enc(xt if yt is None else torch.cat((xt, yt), 1))
		np.save(a.encodings + ".npy", h[:, :a.latent].numpy().astype(np.float32))
		if yt is not None:
			np.save(a.encodings + "_labels.npy", yt.argmax(1).numpy().astype(np.int32))
	if a.save_vaekit and a.arch == "mlp" and a.model != "cvae":
		sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
		from torch2vaekit import save_vaekit
		save_vaekit(a.save_vaekit, torch, nn, enc, dec, (28, 28), a.hidden, a.latent, a.model,
			    desc="source=pytorch_vae.py\n", epochs=epoch, records=epoch * x.shape[0],
			    seed=a.seed, batch=a.batch, lr=a.lr)


if __name__ == "__main__":
	main(sys.argv[1:])
