#!/bin/sh
# bench/dsprites_tcvae.sh BIN [STEPS] [SEEDS] — issue 23's disentanglement
# target at a small scale: beta-TCVAE (beta 6) against the plain VAE on the
# generated dSprites, disentanglement_lib's conv encoder (conv 32 4x4/2,
# conv 32 4x4/2, conv 64 2x2/2, conv 64 2x2/2, dense 256; the decoder mirrors
# it), latent 10, batch 64, Adam 1e-4, one thread, STEPS steps (one epoch of
# STEPS x 64 images sampled with seed 1) for each seed in SEEDS; MIG, the
# FactorVAE score and DCI by disent-eval on 20,000 other images. Prints one
# TSV line per run, then mean and sd per objective. bench/DSPRITES.md.
set -e
BIN=$(cd "${1:?usage: dsprites_tcvae.sh BIN [STEPS] [SEEDS]}" && pwd)
STEPS=${2:-300}
SEEDS=${3:-1 2 3 4 5}
T=${TMPDIR:-/tmp}/dsprites-tcvae.$$
mkdir -p "$T"; trap 'rm -rf "$T"' EXIT
"$BIN/dsprites2stream" -n $((STEPS * 64)) -s 1 -o "$T/train.ts"
"$BIN/dsprites2stream" -n 20000 -s 99 -f "$T/eval.fac" -o "$T/eval.ts"
ENC=conv:32:4:2,conv:32:4:2,conv:64:2:2,conv:64:2:2,dense:256
printf 'objective\tseed\tseconds\tmig\tfactorvae\tdci_d\tdci_c\tdci_i\n'
for seed in $SEEDS; do
	for obj in tcvae elbo; do
		start=$(date +%s)
		"$BIN/vae-train" -q -t 1 -b 64 --lr 1e-4 -z 10 --encoder "$ENC" -e 1 -s "$seed" \
			--objective "$obj" -o "$T/$obj.vae" "$T/train.ts"
		secs=$(($(date +%s) - start))
		"$BIN/disent-eval" -t 1 -m "$T/$obj.vae" --metrics mig,factorvae,dci --tsv \
			"$T/eval.ts" "$T/eval.fac" > "$T/m.tsv"
		v() { awk -F'\t' -v k="$1" '$1 == k {print $2}' "$T/m.tsv"; }
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$obj" "$seed" "$secs" "$(v mig)" \
			"$(v factorvae_eval)" "$(v dci_disentanglement)" "$(v dci_completeness)" \
			"$(v dci_informativeness)"
	done
done | tee "$T/runs.tsv"
awk -F'\t' '{n[$1]++; for (c = 4; c <= 8; c++) {s[$1, c] += $c; q[$1, c] += $c * $c}}
	END {for (o in n) {printf "%s mean (sd) over %d:", o, n[o];
		for (c = 4; c <= 8; c++) {m = s[o, c] / n[o]; v = n[o] > 1 ? (q[o, c] - n[o] * m * m) / (n[o] - 1) : 0;
			printf " %.3f (%.3f)", m, sqrt(v > 0 ? v : 0)}; printf "\n"}}' "$T/runs.tsv"
