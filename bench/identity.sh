#!/bin/sh
# Byte-identity of results across two builds: every model kind and training
# option, one thread, one seed; encodings, decodings, samples and kl-eval
# summaries hashed. Used to check that a refactoring changes no result:
#   bench/identity.sh OLD_BIN_DIR NEW_BIN_DIR
# Also checks that each old build's models give the same outputs when read by
# the new build. Exit 0 when all match.
set -e
A=$(cd "$1" && pwd); B=$(cd "$2" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
# Both builds on the same OpenBLAS kernels: where the new build corrects
# OpenBLAS's choice (libcommon/blascore.c) an older one runs OpenBLAS's own.
if [ -z "${OPENBLAS_CORETYPE:-}" ] && [ -x "$B/vae-info" ]; then
	core=$("$B/vae-info" --system --tsv 2>/dev/null | awk -F'\t' '$2 == "blas_core" && /chosen by vaekit/ {split($3, w, " "); print w[1]}')
	[ -n "$core" ] && export OPENBLAS_CORETYPE="$core" && echo "identity: both builds on OpenBLAS's $core kernels"
fi
D=$ROOT/examples/data
"$A/idx2stream" "$D/digits-train-images-idx3-ubyte.gz" "$D/digits-train-labels-idx1-ubyte.gz" \
	| "$A/stream-cat" -n 1024 > "$T/train.ts"
"$A/idx2stream" "$D/digits-test-images-idx3-ubyte.gz" "$D/digits-test-labels-idx1-ubyte.gz" \
	| "$A/stream-cat" -n 256 > "$T/test.ts"
fail=0
# A stream's values and labels, every bit (stream2txt's 9 digits give back the
# float): the stream format's own bytes may change between versions (1.1 adds
# an end marker); kl-eval's TSV as it is.
values() {
	case $2 in
	kl) sha256sum < "$1" ;;
	*) "$B/stream2txt" "$1" | sha256sum ;;
	esac
}
run() { # name, then vae-train options
	name=$1; shift
	for side in A B; do
		eval bin=\$$side
		mkdir -p "$T/$side"
		"$bin/vae-train" -q -t 1 -s 7 -e 2 -o "$T/$side/$name.vae" "$@" "$T/train.ts"
	done
	for side in A B; do
		eval bin=\$$side
		m=$T/$side/$name.vae
		# the new build also reads the old build's model (same file name on
		# both sides: outputs name their model)
		for reader in A B; do
			eval rbin=\$$reader
			o=$T/$name.$side.$reader
			# an old build cannot read a newer model format: that pair is skipped
			if [ $side = B ] && [ $reader = A ] && ! "$rbin/vae-info" "$m" > /dev/null 2>&1; then
				continue
			fi
			"$rbin/vae-encode" -m "$m" < "$T/test.ts" > "$o.enc"
			"$rbin/vae-decode" -m "$m" < "$o.enc" > "$o.dec"
			case "$*" in
			*cvae*) "$rbin/vae-sample" -m "$m" -n 20 -s 3 --label 1 > "$o.smp" ;;
			*) "$rbin/vae-sample" -m "$m" -n 20 -s 3 > "$o.smp" ;;
			esac
			case "$*" in
			*"-m ae"*) : > "$o.kl" ;;
			*) "$rbin/kl-eval" -m "$m" --iw 5 -s 3 "$T/test.ts" | cut -f2- > "$o.kl" ;;
			esac
		done
	done
	for f in enc dec smp kl; do
		ref=$(values "$T/$name.A.A.$f" $f)
		for o in A.B B.A B.B; do
			[ -e "$T/$name.$o.$f" ] || continue
			if [ "$(values "$T/$name.$o.$f" $f)" != "$ref" ]; then
				echo "identity: $name: $f differs ($o)"; fail=1
			fi
		done
	done
	cmp -s "$T/A/$name.vae" "$T/B/$name.vae" || echo "identity: $name: model files differ (expected after a format change)"
	echo "identity: $name checked"
}
run mlp
run ae-tanh -m ae --activation tanh -z 8
run cvae -m cvae -z 8
run conv --arch conv -z 2 -b 64
run custom --encoder conv:8:3:2,dense:64/leaky -z 4
run schedule --kl-warmup 1 --free-bits 0.1 --lr-schedule cosine -z 10
run iw --iw-train 3 -z 6
run sigma --loss gaussian --sigma learned -z 5
run sgd --optimizer sgd --lr 0.01 -z 3 --beta 2
exit $fail
