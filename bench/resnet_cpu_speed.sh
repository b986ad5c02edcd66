#!/bin/sh
# One-thread training speed of the ResNet VAE (or, with the leading word
# vqvae, of the ResNet VQ-VAE with the EMA codebook) by CPU time, for a machine
# shared with other work (wall-clock rates then measure the others' load):
# samples per CPU-second of vaekit (vae-train --arch resnet -z 16 -t 1, and
# -m vqvae --codes 512 --codebook ema for vqvae: the process CPU time of a
# 3-epoch run less a 1-epoch run's, over 2 epochs' samples) and of PyTorch
# (bench/pytorch_vae.py --arch resnet, or bench/pytorch_vqvae.py, --threads 1:
# its cpu_seconds column, epochs 2 and 3), alternating, R repeats, per batch size.
# Usage: sh bench/resnet_cpu_speed.sh [vae|vqvae] BIN_DIR [R] [N] [BATCHES]
set -eu
MODE=vae
case "${1:-}" in vae|vqvae) MODE=$1; shift ;; esac
BIN=$(cd "${1:?usage: resnet_cpu_speed.sh [vae|vqvae] BIN_DIR [R] [N] [BATCHES]}" && pwd)
R=${2:-3}
N=${3:-1280}
BATCHES=${4:-"128 32"}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/out/resnet-speed
PY=/usr/bin/python3
FM=/usr/share/datasets/fashion-mnist
if [ "$MODE" = vqvae ]; then
	VK="-m vqvae --codes 512 --codebook ema"
	TORCH="$ROOT/bench/pytorch_vqvae.py --codes 512 --codebook ema"
else
	VK=
	TORCH="$ROOT/bench/pytorch_vae.py --arch resnet"
fi
mkdir -p "$OUT"
[ -s "$OUT/train$N.ts" ] || "$BIN/idx2stream" "$FM/train-images-idx3-ubyte.gz" | "$BIN/stream-cat" -n "$N" > "$OUT/train$N.ts"
cpu() { /usr/bin/time -f '%U %S' -o "$OUT/time.txt" "$@" && awk '{print $1 + $2}' "$OUT/time.txt"; }
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
echo "| batch | vaekit samples per CPU-s | PyTorch samples per CPU-s | vaekit / PyTorch (median of paired ratios) | ratios' range |"
echo "|---|---|---|---|---|"
for b in $BATCHES; do
	v= p= q=
	for r in $(seq "$R"); do
		# $VK and $TORCH are word lists: unquoted on purpose
		c1=$(cpu "$BIN/vae-train" -q -o "$OUT/c.vae" $VK --arch resnet -z 16 -b "$b" -t 1 -e 1 "$OUT/train$N.ts")
		c3=$(cpu "$BIN/vae-train" -q -o "$OUT/c.vae" $VK --arch resnet -z 16 -b "$b" -t 1 -e 3 "$OUT/train$N.ts")
		$PY $TORCH --latent 16 --batch "$b" --threads 1 \
			--epochs 3 --limit "$N" --train-images "$FM/train-images-idx3-ubyte.gz" \
			> "$OUT/cpu-$MODE-b$b-r$r.torch.tsv" 2>/dev/null
		a=$(awk -v n="$N" -v c1="$c1" -v c3="$c3" 'BEGIN {printf "%.1f", 2 * n / (c3 - c1)}')
		# the cpu_seconds column, found by its header
		t=$(awk -F'\t' -v n="$N" 'NR == 1 {for (i = 1; i <= NF; i++) if ($i == "cpu_seconds") c = i}
			NR > 2 {s += $c} END {printf "%.1f", 2 * n / s}' "$OUT/cpu-$MODE-b$b-r$r.torch.tsv")
		echo "$MODE batch $b r$r vaekit $a torch $t (vaekit CPU s: 1 epoch $c1, 3 epochs $c3) load $(cut -d' ' -f1 /proc/loadavg)" >&2
		v="$v $a" p="$p $t" q="$q $(awk -v a="$a" -v b="$t" 'BEGIN {printf "%.3f", a / b}')"
	done
	echo "| $b | $(echo $v | tr ' ' '\n' | median) | $(echo $p | tr ' ' '\n' | median) | $(echo $q | tr ' ' '\n' | median) | $(echo $q | tr ' ' '\n' | sort -g | sed -n '1p;$p' | paste -sd '-') |"
done
