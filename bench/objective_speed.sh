#!/bin/sh
# bench/objective_speed.sh BIN [ROUNDS] — the cost of the batch-wide
# objectives' terms: a training step under --objective tcvae, wae-mmd and
# infovae against the plain ELBO, MLP 784-400-16, batch 128, one thread, on
# the shipped digits. Paired runs: each round runs every objective once, the
# order rotating, and each objective's time is divided by the ELBO's of the
# same round: the wall-clock epoch time (the median of a run's epochs after
# the first) and the CPU time (user + system) of the whole run (4 epochs and
# the data's loading, the same for all), which a machine shared with other
# work disturbs less. Prints per objective the median ratios and their range
# over the rounds, and the median milliseconds a step (wall). Results in
# bench/OBJECTIVES.md.
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
		/usr/bin/time -f '%U %S' -o "$T/cpu" "$BIN/vae-train" -q -t 1 --hidden 400 -z 16 \
			-b 128 -e 4 -s $((r + 1)) --objective "$o" --log "$T/$o.log" -o "$T/$o.vae" \
			"$T/train.ts"
		echo "$r $o $(epoch_time "$T/$o.log") $(awk '{print $1 + $2}' "$T/cpu")"
	done
	r=$((r + 1))
done > "$T/times"
echo "records $N, $STEPS steps an epoch, $ROUNDS rounds; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
median() { sort -g | awk '{v[NR] = $1} END {printf "%s %s %s", v[int((NR + 1) / 2)], v[1], v[NR]}'; }
for o in $OBJS; do
	ratios() { # column
		awk -v o="$o" -v c="$1" '{t[$1, $2] = $c; if ($1 + 1 > n) n = $1 + 1}
			END {for (r = 0; r < n; r++) print t[r, o] / t[r, "elbo"]}' "$T/times" | median
	}
	set -- $(ratios 3) $(ratios 4)
	ms=$(awk -v o="$o" -v s="$STEPS" '$2 == o {print 1000 * $3 / s}' "$T/times" | median | cut -d' ' -f1)
	printf '%-8s step %.2f ms  wall ratio %.3f (%.3f-%.3f)  cpu ratio %.3f (%.3f-%.3f)\n' \
		"$o" "$ms" "$1" "$2" "$3" "$4" "$5" "$6"
done
