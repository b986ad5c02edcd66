#!/bin/sh
# CVAE class fidelity (issue 17): how often a conditional VAE's prior samples
# look like the class they were drawn for, and why it was low at latent 8.
# Recipe: the shipped digits (8,000 training, 2,000 test), the MLP 784-400-Z
# (vae-train's default; PyTorch: bench/pytorch_vae.py --model cvae), 5 epochs,
# batch 128, Adam 1e-3, seeds 1-3. Measures (bench/class_fidelity.py):
#  - fidelity: 100 samples per class from z ~ N(0, I), labelled by the nearest
#    mean image of the training digits' classes (chance 10%);
#  - class in z: the test digits' mu (encoded with their label) labelled by the
#    nearest class mean of those mu: how much of the class z carries besides
#    the label (chance 10%);
#  - test -ELBO (one z per image).
# Rows: vaekit (one-hot sqrt(C), model format 2.1); the previous release
# (one-hot 1) when OLD_BIN names its build/bin; PyTorch with its own
# initialisation and vaekit's (--init vaekit), each with a one-hot of 1 and of
# sqrt(C) (--label-value).
# Usage: sh bench/cvae_fidelity.sh BIN_DIR [OLD_BIN]   (writes bench/QUALITY-cvae.md)
set -eu
BIN=${1:?usage: cvae_fidelity.sh BIN_DIR [OLD_BIN]}
OLD=${2:-}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/out/cvae
PY=/usr/bin/python3
FID="$PY $ROOT/bench/class_fidelity.py"
D=$ROOT/examples/data
LATENTS=${LATENTS:-2 8 20}
SEEDS=${SEEDS:-1 2 3}
EPOCHS=5
mkdir -p "$OUT"
export PATH="$BIN:$PATH"
idx2stream "$D/digits-train-images-idx3-ubyte.gz" "$D/digits-train-labels-idx1-ubyte.gz" > "$OUT/train.ts"
idx2stream "$D/digits-test-images-idx3-ubyte.gz" "$D/digits-test-labels-idx1-ubyte.gz" > "$OUT/test.ts"
stream2npy -o "$OUT/train.npy" -l "$OUT/train_labels.npy" "$OUT/train.ts"

# vaekit_row NAME BIN_DIR Z SEED: fidelity, class in z, test -ELBO (tab-separated)
vaekit_row() {
	m=$OUT/$1-z$3-s$4
	"$2/vae-train" -q -m cvae -z "$3" -e $EPOCHS -t 2 -s "$4" -o "$m.vae" "$OUT/train.ts"
	"$2/vae-sample" -m "$m.vae" --each-label -n 100 --seed 9 | stream2npy -o "$m-samples.npy" -l "$m-samples_labels.npy"
	"$2/vae-encode" -m "$m.vae" "$OUT/test.ts" | stream2npy -o "$m-mu.npy" -l "$m-mu_labels.npy"
	nelbo=$(kl-eval --tsv -m "$m.vae" "$OUT/test.ts" | awk -F'\t' '$3 == "all" { printf "%.2f", $7 }')
	printf '%s\t%s\t%s\n' "$($FID samples "$OUT/train" "$m-samples")" "$($FID latent "$m-mu")" "$nelbo"
}

# torch_row INIT LABEL_VALUE Z SEED
torch_row() {
	m=$OUT/torch-$1-$2-z$3-s$4
	nelbo=$(OMP_WAIT_POLICY=PASSIVE $PY "$ROOT/bench/pytorch_vae.py" --model cvae --init "$1" \
		--label-value "$2" --latent "$3" --epochs $EPOCHS --threads 1 --seed "$4" \
		--train-images "$D/digits-train-images-idx3-ubyte.gz" \
		--train-labels "$D/digits-train-labels-idx1-ubyte.gz" \
		--test-images "$D/digits-test-images-idx3-ubyte.gz" \
		--test-labels "$D/digits-test-labels-idx1-ubyte.gz" \
		--samples "$m-samples" --encodings "$m-mu" 2>/dev/null | tail -1 | cut -f9)
	printf '%s\t%s\t%.2f\n' "$($FID samples "$OUT/train" "$m-samples")" "$($FID latent "$m-mu")" "$nelbo"
}

# summary: mean (min-max) of each of the three columns over the seeds
summary() {
	awk -F'\t' '{ for (i = 1; i <= 3; i++) { s[i] += $i; if (NR == 1 || $i < lo[i]) lo[i] = $i;
		if (NR == 1 || $i > hi[i]) hi[i] = $i } }
		END { printf "%.1f%% (%.1f-%.1f) | %.1f%% (%.1f-%.1f) | %.2f (%.2f-%.2f)", s[1]/NR, lo[1], hi[1],
		s[2]/NR, lo[2], hi[2], s[3]/NR, lo[3], hi[3] }'
}

rows() { # LABEL COMMAND...
	label=$1
	shift
	r=""
	for s in $SEEDS; do
		r="$r$("$@" "$s")
"
	done
	printf '| %s | %s |\n' "$label" "$(printf '%s' "$r" | summary)"
}

{
	echo "# CVAE class fidelity"
	echo
	echo "Written by \`sh bench/cvae_fidelity.sh\` on $(date -u +%Y-%m-%d): $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'),"
	echo "$(nproc) cores. The shipped digits (8,000 training, 2,000 test), MLP 784-400-Z,"
	echo "$EPOCHS epochs, batch 128, Adam 1e-3; each cell the mean over seeds $SEEDS, their range in"
	echo "brackets. Fidelity: 100 prior samples per class labelled by the nearest class-mean"
	echo "image (chance 10%). Class in z: the test digits' μ labelled by the nearest class mean"
	echo "of μ (chance 10%; the less the better: the label should carry the class, not z)."
	for z in $LATENTS; do
		echo
		echo "## Latent $z"
		echo
		echo "| model | fidelity | class in z | test −ELBO |"
		echo "|---|---|---|---|"
		rows "vaekit, one-hot √C (format 2.1)" vaekit_row new "$BIN" "$z"
		[ -z "$OLD" ] || rows "vaekit, one-hot 1 (previous release)" vaekit_row old "$OLD" "$z"
		rows "PyTorch, its init, one-hot 1 (the usual recipe)" torch_row torch 1 "$z"
		rows "PyTorch, its init, one-hot √C" torch_row torch sqrt "$z"
		rows "PyTorch, vaekit's init, one-hot 1" torch_row vaekit 1 "$z"
		rows "PyTorch, vaekit's init, one-hot √C" torch_row vaekit sqrt "$z"
	done
} > "$OUT/QUALITY-cvae.md.tmp"
mv "$OUT/QUALITY-cvae.md.tmp" "$ROOT/bench/QUALITY-cvae.md"
cat "$ROOT/bench/QUALITY-cvae.md"
