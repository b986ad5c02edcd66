#!/bin/sh
# The reference results: the PyTorch-examples recipe (784-400-20 VAE, ReLU,
# Bernoulli decoder, Adam 1e-3, batch 128, 10 epochs, seed 1) trained by vaekit
# and by PyTorch on the shipped digits and on Fashion-MNIST, then both models
# measured by vaekit's kl-eval: -ELBO and -log p(x) with K importance samples.
# Usage: sh bench/quality.sh BIN_DIR [K]   (writes bench/QUALITY.md)
set -eu
BIN=${1:?usage: quality.sh BIN_DIR [K]}
K=${2:-5000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/out/quality
PY=/usr/bin/python3
mkdir -p "$OUT"
export PATH="$BIN:$PATH"
FASHION=/usr/share/datasets/fashion-mnist
DIGITS=$ROOT/examples/data

row() { # name train-images train-labels test-images test-labels
	name=$1
	[ -s "$OUT/$name-train.ts" ] || idx2stream "$2" "$3" > "$OUT/$name-train.ts"
	[ -s "$OUT/$name-test.ts" ] || idx2stream "$4" "$5" > "$OUT/$name-test.ts"
	vae-train -q -o "$OUT/$name-vaekit.vae" -e 10 -t 2 --seed 1 "$OUT/$name-train.ts"
	$PY "$ROOT/bench/pytorch_vae.py" --train-images "$2" --test-images "$4" --epochs 10 \
		--threads 2 --seed 1 --save-vaekit "$OUT/$name-pytorch.vae" > "$OUT/$name-pytorch.tsv" 2>/dev/null
	start=$(date +%s)
	kl-eval --tsv --iw "$K" -t 2 -m "$OUT/$name-vaekit.vae" -m "$OUT/$name-pytorch.vae" \
		"$OUT/$name-test.ts" > "$OUT/$name-eval.tsv"
	echo "$name: kl-eval --iw $K over both models took $(( $(date +%s) - start )) s" >&2
}

row digits "$DIGITS/digits-train-images-idx3-ubyte.gz" "$DIGITS/digits-train-labels-idx1-ubyte.gz" \
	"$DIGITS/digits-test-images-idx3-ubyte.gz" "$DIGITS/digits-test-labels-idx1-ubyte.gz"
row fashion "$FASHION/train-images-idx3-ubyte.gz" "$FASHION/train-labels-idx1-ubyte.gz" \
	"$FASHION/t10k-images-idx3-ubyte.gz" "$FASHION/t10k-labels-idx1-ubyte.gz"

{
	echo "# Reference results: 784-400-20 VAE, 10 epochs, seed 1"
	echo
	echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') by \`sh bench/quality.sh\`; both models evaluated by"
	echo "vaekit's \`kl-eval --iw $K\` on the test set (nats per image; ± one standard error)."
	echo "The PyTorch models come from \`bench/pytorch_vae.py --save-vaekit\` (same recipe)."
	echo
	for f in "$OUT"/digits-eval.tsv "$OUT"/fashion-eval.tsv; do
		echo "## $(basename "$f" -eval.tsv)"
		echo
		echo '```'
		kl-eval --merge --table "$f" | sed "s|$OUT/||"
		echo '```'
		echo
	done
} > "$ROOT/bench/QUALITY.md"
cat "$ROOT/bench/QUALITY.md"
