#!/usr/bin/python3
"""Two measures of a conditional VAE, from .npy files (stream2npy -l writes them).

  class_fidelity.py samples TRAIN SAMPLES   share of SAMPLES that a nearest-class-mean
      classifier (the mean image of each class of TRAIN) labels as the class they
      were drawn for: how often prior samples follow their label (chance 1/C)
  class_fidelity.py latent CODES            share of CODES (the encoder's mu of
      labelled records) nearest to their own class's mean code: how much of the
      class the latent z carries besides the label (chance 1/C; a CVAE whose z
      ignores the class scores near chance)

Each FILE.npy comes with FILE_labels.npy. Prints one number, a percentage.
"""
import sys

import numpy as np


def load(path):
	x = np.load(path + ".npy").astype(np.float64)
	y = np.load(path + "_labels.npy").astype(np.int64)
	x = x.reshape(x.shape[0], -1)
	if x.shape[0] != y.shape[0]:
		sys.exit(f"class_fidelity.py: {path}: {x.shape[0]} rows, {y.shape[0]} labels")
	if x.max() > 1.5 and x.min() >= 0:  # u8 images
		x /= 255.0
	return x, y


def nearest_mean_hits(means, x, y):
	# |x - m|² = |x|² - 2 x·m + |m|²; |x|² is the same for every class
	d = -2.0 * x @ means.T + (means * means).sum(1)
	return float((d.argmin(1) == y).mean())


def class_means(x, y):
	classes = int(y.max()) + 1
	return np.stack([x[y == k].mean(0) if (y == k).any() else np.full(x.shape[1], np.inf)
			 for k in range(classes)])


def main(argv):
	if len(argv) == 3 and argv[0] == "samples":
		tx, ty = load(argv[1])
		sx, sy = load(argv[2])
		acc = nearest_mean_hits(class_means(tx, ty), sx, sy)
	elif len(argv) == 2 and argv[0] == "latent":
		x, y = load(argv[1])
		acc = nearest_mean_hits(class_means(x, y), x, y)
	else:
		sys.exit(__doc__)
	print(f"{100 * acc:.1f}")


if __name__ == "__main__":
	main(sys.argv[1:])
