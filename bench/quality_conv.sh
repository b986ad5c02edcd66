#!/bin/sh
# Conv VAE quality (issue: conv rows in QUALITY.md). Two comparisons:
#  1. Keras' conv VAE (vae-train --arch conv, latent 2) against the same network
#     in PyTorch (bench/pytorch_vae.py --arch conv), Fashion-MNIST, 10 epochs,
#     batch 128, Adam 1e-3, seed 1: test -ELBO of each from its own training log.
#  2. The conv VAE against the 784-400-20 MLP VAE at latent 20, both trained by
#     vaekit (10 epochs, seed 1) on the shipped digits and on Fashion-MNIST, then
#     measured by kl-eval: -ELBO on the whole test set, and -log p(x) with K
#     importance samples on its first N records (K = 5000 decodes per record
#     cost a conv decoder about 13 MFLOP each: N keeps the run in minutes).
# Usage: sh bench/quality_conv.sh BIN_DIR [K] [N]   (writes bench/QUALITY-conv.md)
set -eu
BIN=${1:?usage: quality_conv.sh BIN_DIR [K] [N]}
K=${2:-5000}
N=${3:-200}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/out/quality
PY=/usr/bin/python3
mkdir -p "$OUT"
export PATH="$BIN:$PATH"
FASHION=/usr/share/datasets/fashion-mnist
DIGITS=$ROOT/examples/data

streams() { # name train-images train-labels test-images test-labels
	[ -s "$OUT/$1-train.ts" ] || idx2stream "$2" "$3" > "$OUT/$1-train.ts"
	[ -s "$OUT/$1-test.ts" ] || idx2stream "$4" "$5" > "$OUT/$1-test.ts"
	stream-cat -n "$N" "$OUT/$1-test.ts" > "$OUT/$1-test$N.ts"
}
streams digits "$DIGITS/digits-train-images-idx3-ubyte.gz" "$DIGITS/digits-train-labels-idx1-ubyte.gz" \
	"$DIGITS/digits-test-images-idx3-ubyte.gz" "$DIGITS/digits-test-labels-idx1-ubyte.gz"
streams fashion "$FASHION/train-images-idx3-ubyte.gz" "$FASHION/train-labels-idx1-ubyte.gz" \
	"$FASHION/t10k-images-idx3-ubyte.gz" "$FASHION/t10k-labels-idx1-ubyte.gz"

# 1. the same recipe in both (PyTorch on one thread: on two, its OpenMP
#    threads spin against OpenBLAS's and an epoch takes many times longer)
[ -s "$OUT/fashion-conv2.log" ] && [ "$(tail -1 "$OUT/fashion-conv2.log" | cut -f1)" = 10 ] ||
vae-train -q -o "$OUT/fashion-conv2.vae" --arch conv -z 2 -e 10 -t 2 --seed 1 \
	--test "$OUT/fashion-test.ts" --log "$OUT/fashion-conv2.log" "$OUT/fashion-train.ts"
OMP_WAIT_POLICY=PASSIVE $PY "$ROOT/bench/pytorch_vae.py" --arch conv --latent 2 \
	--train-images "$FASHION/train-images-idx3-ubyte.gz" \
	--test-images "$FASHION/t10k-images-idx3-ubyte.gz" --epochs 10 --threads 1 --seed 1 \
	> "$OUT/fashion-conv2-pytorch.tsv" 2>/dev/null &
torch_pid=$!

# 2. conv against MLP at latent 20: Keras' network (whose dense:16 before the
#    20-D latent is a bottleneck) and the same with dense:256, each file made
#    once (a rerun reuses what exists)
WIDE="--encoder conv:32:3:2,conv:64:3:2,dense:256 --decoder dense:256,dense:7x7x64,deconv:64:3:2,deconv:32:3:2"
for d in digits fashion; do
	[ -s "$OUT/$d-conv20.vae" ] || vae-train -q -o "$OUT/$d-conv20.vae" --arch conv -z 20 -e 10 -t 2 --seed 1 "$OUT/$d-train.ts"
	[ -s "$OUT/$d-conv20w.vae" ] || vae-train -q -o "$OUT/$d-conv20w.vae" $WIDE -z 20 -e 10 -t 2 --seed 1 "$OUT/$d-train.ts"
	[ -s "$OUT/$d-vaekit.vae" ] || vae-train -q -o "$OUT/$d-vaekit.vae" -e 10 -t 2 --seed 1 "$OUT/$d-train.ts"
	kl-eval --tsv -t 2 -m "$OUT/$d-conv20.vae" -m "$OUT/$d-conv20w.vae" -m "$OUT/$d-vaekit.vae" \
		"$OUT/$d-test.ts" > "$OUT/$d-conv-elbo.tsv"
	for m in conv20 conv20w vaekit; do
		[ -s "$OUT/$d-$m-iw$N.tsv" ] && continue
		start=$(date +%s)
		kl-eval --tsv --iw "$K" -t 2 -m "$OUT/$d-$m.vae" "$OUT/$d-test$N.ts" > "$OUT/$d-$m-iw$N.tsv"
		echo "$d $m: kl-eval --iw $K on $N records: $(( $(date +%s) - start )) s" >&2
	done
done

wait $torch_pid
last() { tail -1 "$1" | cut -f"$2"; }
{
	echo "# Conv VAE results"
	echo
	echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') by \`sh bench/quality_conv.sh\` (nats per image)."
	echo
	echo "## Keras' conv VAE, latent 2, Fashion-MNIST, 10 epochs: vaekit against PyTorch"
	echo
	echo "| | test -ELBO after epoch 10 |"
	echo "|---|---|"
	echo "| vaekit \`--arch conv -z 2\` | $(last "$OUT/fashion-conv2.log" 8) |"
	echo "| PyTorch, same network and recipe | $(last "$OUT/fashion-conv2-pytorch.tsv" 9) |"
	echo
	echo "Both use one z sample per test image."
	echo
	for d in digits fashion; do
		echo "## $d: conv VAEs at latent 20 against the 784-400-20 MLP VAE"
		echo
		echo "conv20: \`--arch conv -z 20\` (Keras' network, dense:16 before the latent);"
		echo "conv20w: the same with dense:256; vaekit: the MLP of QUALITY.md."
		echo
		echo "-ELBO on the whole test set:"
		echo '```'
		kl-eval --merge --table "$OUT/$d-conv-elbo.tsv" | sed "s|$OUT/||"
		echo '```'
		echo "-log p(x), K = $K, on the first $N test records:"
		echo '```'
		for m in conv20 conv20w vaekit; do kl-eval --merge --table "$OUT/$d-$m-iw$N.tsv"; done |
			awk 'NR == 1 || !/^model/' | sed "s|$OUT/||"
		echo '```'
		echo
	done
} > "$ROOT/bench/QUALITY-conv.md"
cat "$ROOT/bench/QUALITY-conv.md"
