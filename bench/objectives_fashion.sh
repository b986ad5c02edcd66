#!/bin/sh
# WAE-MMD and InfoVAE against the plain VAE on Fashion-MNIST (issue 23):
# MLP 784-400-16, 10 epochs, batch 128, Adam 1e-3, seed 1, one thread each.
# For each objective: the test set's reconstruction, KL and -ELBO (kl-eval),
# the MMD between the test codes and N(0, I) (kl-eval --aggregate 128, the
# "all" row), and the mean distance from each of 1,000 prior samples to its
# nearest training image (examples/prior/nn-dist.c), with its standard error.
# Usage: sh bench/objectives_fashion.sh BIN_DIR [OUT_DIR]   (prints a TSV)
set -eu
BIN=$(cd "${1:?usage: objectives_fashion.sh BIN_DIR [OUT_DIR]}" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${2:-$ROOT/out/objectives}
FASHION=/usr/share/datasets/fashion-mnist
export PATH="$BIN:$PATH"
mkdir -p "$OUT"
[ -s "$OUT/train.ts" ] || idx2stream -o "$OUT/train.ts" \
	"$FASHION/train-images-idx3-ubyte.gz" "$FASHION/train-labels-idx1-ubyte.gz"
[ -s "$OUT/test.ts" ] || idx2stream -o "$OUT/test.ts" \
	"$FASHION/t10k-images-idx3-ubyte.gz" "$FASHION/t10k-labels-idx1-ubyte.gz"
[ -x "$OUT/nn-dist" ] || cc -O2 $(for d in "$ROOT"/libcommon "$ROOT"/libcommon/*/; do printf ' -I%s' "$d"; done) \
	-o "$OUT/nn-dist" "$ROOT/examples/prior/nn-dist.c" "$BIN/../libcommon.a" \
	$(pkg-config --libs openblas 2>/dev/null || echo -lopenblas) -lpng -lz -lm
for o in elbo wae-mmd infovae; do
	[ -s "$OUT/$o.vae" ] || vae-train -q -o "$OUT/$o.vae" --objective "$o" -z 16 --hidden 400 \
		-e 10 -b 128 --lr 1e-3 -s 1 -t 1 --log "$OUT/$o.log" "$OUT/train.ts"
	[ -s "$OUT/$o.kl.tsv" ] || kl-eval --tsv --aggregate 128 -t 1 -m "$OUT/$o.vae" "$OUT/test.ts" > "$OUT/$o.kl.tsv"
	[ -s "$OUT/$o-samples.ts" ] || vae-sample -m "$OUT/$o.vae" -n 1000 -s 1 -o "$OUT/$o-samples.ts"
done
printf 'objective\ttest_rec\ttest_kl\ttest_neg_elbo\tmmd_to_prior\tnn_dist\tse\n'
for o in elbo wae-mmd infovae; do
	# kl-eval's TSV: a header, then the "all" row
	set -- $(sed -n 2p "$OUT/$o.kl.tsv" | cut -f5,6,7,22 | tr '\t' ' ')
	rec=$1 kl=$2 elbo=$3 mmd=$4
	set -- $("$OUT/nn-dist" "$OUT/train.ts" "$OUT/$o-samples.ts")
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$o" "$rec" "$kl" "$elbo" "$mmd" "$1" "$2"
done
