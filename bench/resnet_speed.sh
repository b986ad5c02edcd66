#!/bin/sh
# ResNet VAE training speed (issue 22): vae-train --arch resnet -z 16 against
# the same network in PyTorch (bench/pytorch_vae.py --arch resnet), samples/s
# on the first N Fashion-MNIST training images, for each config "THREADS:BATCH"
# (default 1:128 2:128 1:32). Paired runs: in each of R repeats, vaekit then
# PyTorch, config after config, so that whatever else the machine runs hits
# both alike; a run trains 2 epochs and its rate is the second epoch's (the
# first warms up). Prints a run per line on stderr and the medians (and the
# range of the per-repeat ratios) as a Markdown table on stdout.
# Usage: sh bench/resnet_speed.sh BIN_DIR [R] [N]
#   env: RESNET_CONFIGS, TORCH_ENV (e.g. OMP_WAIT_POLICY=PASSIVE for PyTorch)
set -eu
BIN=$(cd "${1:?usage: resnet_speed.sh BIN_DIR [R] [N]}" && pwd)
R=${2:-5}
N=${3:-3840}
CONFIGS=${RESNET_CONFIGS:-"1:128 2:128 1:32"}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/out/resnet-speed
PY=/usr/bin/python3
FM=/usr/share/datasets/fashion-mnist
mkdir -p "$OUT"
[ -s "$OUT/train$N.ts" ] || "$BIN/idx2stream" "$FM/train-images-idx3-ubyte.gz" | "$BIN/stream-cat" -n "$N" > "$OUT/train$N.ts"

# second epoch's samples/s of a log whose header names "seconds"
rate() { awk -F'\t' -v n="$N" '/^#/ {next} !h {for (i = 1; i <= NF; i++) if ($i == "seconds") c = i; h = 1; next} {s = $c} END {printf "%.1f\n", n / s}' "$1"; }
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

for r in $(seq "$R"); do
	for cfg in $CONFIGS; do
		t=${cfg%:*} b=${cfg#*:} tag=t$t-b$b
		"$BIN/vae-train" -q -o "$OUT/m.vae" --arch resnet -z 16 -b "$b" -t "$t" -e 2 --seed 1 \
			--log "$OUT/$tag-r$r.vaekit.tsv" "$OUT/train$N.ts"
		env ${TORCH_ENV:-} $PY "$ROOT/bench/pytorch_vae.py" --arch resnet --latent 16 --batch "$b" \
			--threads "$t" --epochs 2 --seed 1 --limit "$N" \
			--train-images "$FM/train-images-idx3-ubyte.gz" > "$OUT/$tag-r$r.torch.tsv" 2>/dev/null
		v=$(rate "$OUT/$tag-r$r.vaekit.tsv") p=$(rate "$OUT/$tag-r$r.torch.tsv")
		echo "$tag r$r vaekit $v torch $p ratio $(awk -v a="$v" -v b="$p" 'BEGIN {printf "%.3f", a / b}') load $(cut -d' ' -f1 /proc/loadavg)" |
			tee -a "$OUT/runs.txt" >&2
	done
done

echo "| threads | batch | vaekit samples/s | PyTorch samples/s | vaekit / PyTorch (median of paired ratios) | ratios' range |"
echo "|---|---|---|---|---|---|"
for cfg in $CONFIGS; do
	t=${cfg%:*} b=${cfg#*:} tag=t$t-b$b
	v= p= q=
	for r in $(seq "$R"); do
		a=$(rate "$OUT/$tag-r$r.vaekit.tsv") c=$(rate "$OUT/$tag-r$r.torch.tsv")
		v="$v $a" p="$p $c" q="$q $(awk -v a="$a" -v b="$c" 'BEGIN {printf "%.3f", a / b}')"
	done
	echo "| $t | $b | $(echo $v | tr ' ' '\n' | median) | $(echo $p | tr ' ' '\n' | median) |" \
		"$(echo $q | tr ' ' '\n' | median) | $(echo $q | tr ' ' '\n' | sort -g | sed -n '1p;$p' | paste -sd '-') |"
done
