#!/bin/sh
# ResNet VAE quality (issue 22): vae-train --arch resnet against the same
# network in PyTorch (bench/pytorch_vae.py --arch resnet, from
# bench/pytorch_resnet.py), and against --arch conv and the 784-400-Z MLP, all
# at latent 16 on Fashion-MNIST (60,000 train / 10,000 test), 10 epochs,
# batch 128, Adam 1e-3, seed 1, one thread each. Both programs train a
# Bernoulli likelihood on the [0,1] grey levels (not binarised). Then kl-eval:
# -ELBO on the whole test set and -log p(x) with K importance samples on the
# first N test images.
# Usage: sh bench/quality_resnet.sh BIN_DIR [vaekit|torch|extra|report] [K] [N]
#   vaekit and torch run one chain each (one core each; start both with nohup;
#   the torch chain then takes over kl-eval --iw runs the vaekit chain has not begun),
#   report prints the markdown of what exists. A rerun reuses finished files.
set -eu
BIN=${1:?usage: quality_resnet.sh BIN_DIR [vaekit|torch|report] [K] [N]}
PART=${2:-all}
K=${3:-5000}
N=${4:-1000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/out/quality
PY=/usr/bin/python3
FASHION=/usr/share/datasets/fashion-mnist
mkdir -p "$OUT"
export PATH="$BIN:$PATH"
done10() { [ -s "$1" ] && [ "$(tail -1 "$1" | cut -f1)" = 10 ]; }

streams() {
	[ -s "$OUT/fashion-train.ts" ] || idx2stream "$FASHION/train-images-idx3-ubyte.gz" \
		"$FASHION/train-labels-idx1-ubyte.gz" > "$OUT/fashion-train.ts"
	[ -s "$OUT/fashion-test.ts" ] || idx2stream "$FASHION/t10k-images-idx3-ubyte.gz" \
		"$FASHION/t10k-labels-idx1-ubyte.gz" > "$OUT/fashion-test.ts"
	[ -s "$OUT/fashion-test$N.ts" ] || stream-cat -n "$N" -o "$OUT/fashion-test$N.ts" "$OUT/fashion-test.ts"
}

vaekit_chain() {
	streams
	# each training claimed by a mkdir, so that a second chain started while
	# one trains goes on to the next
	for m in conv mlp resnet; do
		done10 "$OUT/fashion-${m}16.log" && continue
		mkdir "$OUT/fashion-${m}16.train.claim" 2>/dev/null || continue
		s=$(date +%s)
		vae-train -q -o "$OUT/fashion-${m}16.vae" --arch $m -z 16 -e 10 -b 128 --lr 1e-3 -t 1 \
			--seed 1 --test "$OUT/fashion-test.ts" --log "$OUT/fashion-${m}16.log" "$OUT/fashion-train.ts"
		echo "$m: vae-train $(( $(date +%s) - s )) s" >> "$OUT/resnet-times.txt"
	done
	iw_evals mlp-a mlp-b conv-a conv-b
	for m in resnet conv mlp; do
		until done10 "$OUT/fashion-${m}16.log" && [ -s "$OUT/fashion-${m}16.vae" ]; do sleep 30; done
	done
	kl-eval --tsv -t 1 -m "$OUT/fashion-resnet16.vae" -m "$OUT/fashion-conv16.vae" \
		-m "$OUT/fashion-mlp16.vae" "$OUT/fashion-test.ts" > "$OUT/fashion-16-elbo.tsv"
	iw_evals resnet-a resnet-b
}

# A third chain for a busy machine: the MLP (the cheap one) now, then the
# importance-sampled runs as their models appear.
extra_chain() {
	streams
	if ! done10 "$OUT/fashion-mlp16.log" && mkdir "$OUT/fashion-mlp16.train.claim" 2>/dev/null; then
		vae-train -q -o "$OUT/fashion-mlp16.vae" --arch mlp -z 16 -e 10 -b 128 --lr 1e-3 -t 1 \
			--seed 1 --test "$OUT/fashion-test.ts" --log "$OUT/fashion-mlp16.log" "$OUT/fashion-train.ts"
	fi
	iw_evals mlp-a mlp-b resnet-a resnet-b conv-a conv-b
}

# iw_evals MODEL-SHARD...: kl-eval --iw on shard a (the first half of the N
# images) or b (the second) of each model not yet claimed by the other chain
# (a mkdir is the claim), once its training has finished; report merges the
# two halves (kl-eval --merge adds shards' summaries).
iw_evals() {
	half=$((N / 2))
	for task in "$@"; do
		m=${task%-*} shard=${task#*-}
		f=$OUT/fashion-${m}16-iw$N$shard.tsv
		[ -s "$f" ] && continue
		mkdir "$f.claim" 2>/dev/null || continue
		until done10 "$OUT/fashion-${m}16.log" && [ -s "$OUT/fashion-${m}16.vae" ]; do sleep 30; done
		if [ "$shard" = a ]; then range="-n $half"; else range="-s $half"; fi
		s=$(date +%s)
		stream-cat $range "$OUT/fashion-test$N.ts" |
			kl-eval --tsv --iw "$K" -t 1 -m "$OUT/fashion-${m}16.vae" > "$f.part"
		mv "$f.part" "$f"
		echo "$m: kl-eval --iw $K on test images of shard $shard of $N: $(( $(date +%s) - s )) s" >> "$OUT/resnet-times.txt"
	done
}

torch_chain() {
	done10 "$OUT/fashion-resnet16-pytorch.tsv" ||
	OMP_WAIT_POLICY=PASSIVE $PY "$ROOT/bench/pytorch_vae.py" --arch resnet --latent 16 \
		--train-images "$FASHION/train-images-idx3-ubyte.gz" \
		--test-images "$FASHION/t10k-images-idx3-ubyte.gz" --epochs 10 --batch 128 --lr 1e-3 \
		--threads 1 --seed 1 > "$OUT/fashion-resnet16-pytorch.tsv"
	# then help the vaekit chain with its longest evaluation
	streams
	iw_evals resnet-b resnet-a conv-b conv-a mlp-b mlp-a
}

report() {
	last() { tail -1 "$1" | cut -f"$2"; }
	echo "| 10 epochs, latent 16 | test -ELBO (nats/image, one z per image, from the training log) |"
	echo "|---|---|"
	echo "| vaekit \`--arch resnet\` | $(last "$OUT/fashion-resnet16.log" 8) |"
	echo "| PyTorch 1.13, same network and recipe | $(last "$OUT/fashion-resnet16-pytorch.tsv" 9) |"
	echo "| vaekit \`--arch conv\` | $(last "$OUT/fashion-conv16.log" 8) |"
	echo "| vaekit MLP 784-400-16 | $(last "$OUT/fashion-mlp16.log" 8) |"
	echo
	echo "kl-eval on the whole test set:"
	echo '```'
	kl-eval --merge --table "$OUT/fashion-16-elbo.tsv" | sed "s|$OUT/||"
	echo '```'
	echo "-log p(x), K = $K, on the first $N test images:"
	echo '```'
	for m in resnet conv mlp; do
		kl-eval --merge --table "$OUT/fashion-${m}16-iw${N}a.tsv" "$OUT/fashion-${m}16-iw${N}b.tsv"
	done |
		awk 'NR == 1 || !/^model/' | sed "s|$OUT/||"
	echo '```'
}

case $PART in
vaekit) vaekit_chain ;;
extra) extra_chain ;;
torch) torch_chain ;;
report) report ;;
all) torch_chain & vaekit_chain; wait; report ;;
*) echo "quality_resnet.sh: $PART: not vaekit, torch, report or all" >&2; exit 2 ;;
esac
