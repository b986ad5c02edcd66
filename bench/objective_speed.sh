#!/bin/sh
# bench/objective_speed.sh BIN [ROUNDS] — the cost of the batch-wide
# objectives' terms: a training step under --objective tcvae, wae-mmd and
# infovae against the plain ELBO, MLP 784-400-16, batch 128, one thread, on
# the shipped digits. Paired runs: each round runs every objective once, the
# order rotating, and each objective's epoch time is divided by the ELBO's of
# the same round; a run's epoch time is the median of its epochs after the
# first. Prints per objective the median ratio and its range over the rounds,
# and the median milliseconds a step. Results in bench/OBJECTIVES.md.
set -e
BIN=$(cd "${1:?usage: objective_speed.sh BIN [ROUNDS]}" && pwd)
ROUNDS=${2:-11}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
"$BIN/idx2stream" "$ROOT/examples/data/digits-train-images-idx3-ubyte.gz" > "$T/train.ts"
N=$("$BIN/stream-info" --tsv "$T/train.ts" | awk -F'\t' '$1 == "records" {print $2}')
STEPS=$(( (N + 127) / 128 ))
OBJS="elbo tcvae wae-mmd infovae"
epoch_time() { # log: median of the epochs after the first
	awk -F'\t' 'NR > 2 {print $2}' "$1" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'
}
r=0
while [ $r -lt "$ROUNDS" ]; do
	# rotate the order so no objective always runs first
	set -- $OBJS
	i=0
	while [ $i -lt $((r % 4)) ]; do set -- "$@" "$1"; shift; i=$((i + 1)); done
	for o in "$@"; do
		"$BIN/vae-train" -q -t 1 --hidden 400 -z 16 -b 128 -e 4 -s $((r + 1)) \
			--objective "$o" --log "$T/$o.log" -o "$T/$o.vae" "$T/train.ts"
		echo "$r $o $(epoch_time "$T/$o.log")"
	done
	r=$((r + 1))
done > "$T/times"
echo "records $N, $STEPS steps an epoch, $ROUNDS rounds; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
median() { sort -g | awk '{v[NR] = $1} END {printf "%s %s %s", v[int((NR + 1) / 2)], v[1], v[NR]}'; }
for o in $OBJS; do
	set -- $(awk -v o="$o" '{t[$1, $2] = $3; if ($1 + 1 > n) n = $1 + 1}
		END {for (r = 0; r < n; r++) print t[r, o] / t[r, "elbo"]}' "$T/times" | median)
	ms=$(awk -v o="$o" -v s="$STEPS" '$2 == o {print 1000 * $3 / s}' "$T/times" | median | cut -d' ' -f1)
	printf '%-8s step %.2f ms  ratio to elbo %.3f (range %.3f-%.3f)\n' "$o" "$ms" "$1" "$2" "$3"
done
