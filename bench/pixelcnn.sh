#!/bin/sh
# The PixelCNN prior's target (issue 24) on code maps made without a VQ-VAE:
# Fashion-MNIST cut into 4x4 maps of 81 crude codes (bench/pixelcnn_codes.py),
# a pixelcnn and a cpixelcnn trained on the 60,000 training maps, their test
# NLL against the independent per-position categorical of the training maps.
# Usage: bench/pixelcnn.sh [BIN [DATA [EPOCHS [LAYERS [DIR]]]]] (default
# build/bin, /usr/share/datasets/fashion-mnist, 10, vae-train's default
# --layers, a temporary directory; the codes made there are reused). Figures
# in bench/PIXELCNN.md.
set -eu
bin=${1:-build/bin}
data=${2:-/usr/share/datasets/fashion-mnist}
epochs=${3:-10}
layers=${4:-}
here=$(cd "$(dirname "$0")" && pwd)
if [ -n "${5:-}" ]; then
	T=$5
	mkdir -p "$T"
else
	T=$(mktemp -d)
	trap 'rm -rf "$T"' EXIT
fi
for set in train t10k; do
	[ -s "$T/$set.ts" ] && continue
	"$bin/idx2stream" "$data/$set-images-idx3-ubyte.gz" "$data/$set-labels-idx1-ubyte.gz" |
		"$bin/stream2txt" | python3 "$here/pixelcnn_codes.py" |
		"$bin/txt2stream" -l -t i32 -s 4x4 > "$T/$set.ts"
done
for kind in pixelcnn cpixelcnn; do
	"$bin/vae-train" -m $kind --codes 81 ${layers:+--layers "$layers"} -e "$epochs" -t 1 \
		-s 1 -o "$T/$kind.vae" --test "$T/t10k.ts" "$T/train.ts"
done
"$bin/kl-eval" -t 1 -m "$T/pixelcnn.vae" -m "$T/cpixelcnn.vae" --baseline "$T/train.ts" \
	"$T/t10k.ts" > /dev/null
