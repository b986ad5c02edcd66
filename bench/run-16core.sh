#!/bin/sh
# bench/run-16core.sh — issue 25's whole measurement on the 16-core benchmark
# host with the H200 (/work/shared/BENCH-HOST.md), in under 5 minutes: lscpu,
# the OpenBLAS core check, the MLP VAE's thread scaling (batch 128 and 1024),
# the conv VAE, the best OPENBLAS_CORETYPE against none, and PyTorch on the
# CPU and on the GPU. Writes bench/RESULTS-16core.md (B16_RESULTS) and prints
# it. Nothing is fatal: what is missing (a program, a library, PyTorch, CUDA,
# cores) is said at the top of the results and its cells are "n/a".
#
#   on a build machine: sh bench/pack-16core.sh   (the portable build and its
#                       libraries in .devcarry/, OpenBLAS xz-compressed)
#   on the host:        sh bench/run-16core.sh     (carrying .devcarry along)
#
# Through the device tool: carry [".devcarry"], command
#   sh bench/run-16core.sh; cp bench/RESULTS-16core.md "$OUT/"
# (the results are printed too, and the run's scratch is in out/bench16).
#
# vaekit and PyTorch train on the same data: the first B16_N Fashion-MNIST
# training images where the files are (B16_FM, default
# /usr/share/datasets/fashion-mnist), else the 8,000 shipped digits repeated
# to B16_N images (the GEMMs' speed does not depend on the pixels). A rate is
# B16_N over the median epoch time of B16_EPOCHS epochs, the first left out.
#
# Knobs (environment): B16_BIN (vaekit's programs; default .devcarry/bin,
# build-portable/bin, build/bin, the first that has vae-train), B16_N (30000),
# B16_EPOCHS (4), B16_REPEATS (runs per vaekit config, median; 1),
# B16_THREADS ("1 2 4 8 16"), B16_BATCHES ("128 1024"), B16_CORES (the
# OPENBLAS_CORETYPE values compared with none: "SkylakeX Cooperlake"),
# B16_CORE_THREADS ("1 16"), B16_CONV_N (5000), B16_CONV_THREADS
# ("1 4 8 16"), B16_CONV_BATCHES ("128"), B16_TORCH (1: PyTorch on the CPU),
# B16_GPU (1: PyTorch on the GPU), B16_PYTHON (default: the first python3 with
# PyTorch), B16_GPU_CONV_BATCHES ("128 1024"),
# B16_TIMEOUT (seconds a run may take, 90), B16_BUDGET (seconds after which
# the remaining runs are skipped and reported so, 280), B16_WORK (scratch,
# out/bench16), B16_RESULTS.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
W=${B16_WORK:-$ROOT/out/bench16}
RESULTS=${B16_RESULTS:-$ROOT/bench/RESULTS-16core.md}
N=${B16_N:-30000}
EPOCHS=${B16_EPOCHS:-4}
REPEATS=${B16_REPEATS:-1}
THREADS=${B16_THREADS:-"1 2 4 8 16"}
BATCHES=${B16_BATCHES:-"128 1024"}
CORES=${B16_CORES-"SkylakeX Cooperlake"}
CORE_THREADS=${B16_CORE_THREADS:-"1 16"}
CONV_N=${B16_CONV_N:-5000}
CONV_THREADS=${B16_CONV_THREADS:-"1 4 8 16"}
CONV_BATCHES=${B16_CONV_BATCHES:-"128"}
GPU_CONV_BATCHES=${B16_GPU_CONV_BATCHES:-"128 1024"}
TORCH=${B16_TORCH:-1}
GPU=${B16_GPU:-1}
TMO=${B16_TIMEOUT:-90}
BUDGET=${B16_BUDGET:-280}
FM=${B16_FM:-/usr/share/datasets/fashion-mnist}
# The first python3 with PyTorch (B16_PYTHON to choose).
PY=${B16_PYTHON:-}
if [ -z "$PY" ]; then
	for p in python3 /usr/bin/python3; do
		"$p" -c 'import numpy, torch' 2>/dev/null && PY=$p && break
	done
	PY=${PY:-python3}
fi
START=$(date +%s)
MISSING=
mkdir -p "$W" || exit 1

say() { printf 'bench16: %s\n' "$*" >&2; }
missing() { MISSING="$MISSING
- $*"; say "missing: $*"; }
elapsed() { echo $(($(date +%s) - START)); }
in_budget() { [ "$(elapsed)" -lt "$BUDGET" ]; }
median() { sort -g | awk '{v[NR] = $1} END {if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
# ratio A B [FORMAT]: A / B, n/a when either is not a number
ratio() { awk -v a="$1" -v b="$2" -v f="${3:-%.2f}" 'BEGIN {if (a !~ /^[0-9.e+-]+$/ || b !~ /^[0-9.e+-]+$/ || b == 0) print "n/a"; else printf f "\n", a / b}'; }
# verdict A OP B: "yes"/"NO" for A OP B (numbers), "n/a" otherwise
verdict() { awk -v a="$1" -v op="$2" -v b="$3" 'BEGIN {if (a !~ /^[0-9.e+-]+$/ || b !~ /^[0-9.e+-]+$/) {print "n/a"; exit} r = op == ">" ? a > b : a >= b; print r ? "yes" : "NO"}'; }
# col FILE NAME: the values of column NAME of a TSV with a header, rows after the first
col_after_first() { awk -F'\t' -v name="$2" '/^#/ {next} !h {for (i = 1; i <= NF; i++) if ($i == name) c = i; h = 1; next} c && ++row > 1 {print $c}' "$1"; }

# ---- what is here ---------------------------------------------------------
CARRY=$ROOT/.devcarry
if [ -d "$CARRY/lib" ]; then
	# The carried libraries, unpacked once into the scratch directory.
	mkdir -p "$W/lib"
	for f in "$CARRY"/lib/*; do
		[ -e "$f" ] || continue
		case $f in
		*.xz)
			out=$W/lib/$(basename "$f" .xz)
			[ -s "$out" ] && [ "$out" -nt "$f" ] && continue
			if command -v xz >/dev/null; then
				xz -dc "$f" > "$out.tmp"
			else
				"$PY" -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$f" "$out.tmp"
			fi && mv "$out.tmp" "$out" || missing "could not unpack $f (needs xz or python3)"
			;;
		*) ln -sf "$f" "$W/lib/" ;;
		esac
	done
	VK_LD=$W/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
# vkx COMMAND...: a vaekit command with the carried libraries (PyTorch keeps
# the host's own).
VK_LD=${VK_LD:-}
vkx() { if [ -n "$VK_LD" ]; then LD_LIBRARY_PATH=$VK_LD "$@"; else "$@"; fi; }
BIN=${B16_BIN:-}
if [ -z "$BIN" ]; then
	for d in "$CARRY/bin" "$ROOT/build-portable/bin" "$ROOT/build/bin"; do
		[ -x "$d/vae-train" ] && BIN=$d && break
	done
fi
for p in vae-train vae-info idx2stream stream-cat; do
	[ -n "$BIN" ] && [ -x "$BIN/$p" ] || missing "vaekit's $p (run bench/pack-16core.sh on a build machine and carry .devcarry, or set B16_BIN)"
done
VK=0
if [ -n "$BIN" ] && [ -x "$BIN/vae-train" ]; then
	if err=$(vkx "$BIN/vae-info" --system 2>&1 >/dev/null) && vkx "$BIN/vae-train" --version >/dev/null 2>&1; then
		VK=1
	else
		missing "vaekit's programs do not start here: $(echo "$err" | head -n 1)"
	fi
fi
NCPU=$(nproc 2>/dev/null || echo 1)
[ "$NCPU" -ge 16 ] || missing "16 CPUs (this machine has $NCPU): the 16-thread rows oversubscribe it"
command -v lscpu >/dev/null || missing "lscpu"
HAVE_TORCH=0 HAVE_CUDA=0
if [ "$TORCH" = 1 ] || [ "$GPU" = 1 ]; then
	if tv=$("$PY" -c 'import numpy, torch; print(torch.__version__)' 2>/dev/null); then
		HAVE_TORCH=1
		if [ "$GPU" = 1 ]; then
			if gpu=$("$PY" -c 'import torch; assert torch.cuda.is_available(); print(torch.cuda.get_device_name(0))' 2>/dev/null); then
				HAVE_CUDA=1
			else
				missing "a CUDA GPU for PyTorch (torch $tv: torch.cuda.is_available() is false)"
			fi
		fi
	else
		missing "PyTorch with numpy for $PY: the PyTorch cells are n/a"
	fi
fi

# ---- data ---------------------------------------------------------------------
# make_data COUNT NAME: $W/NAME-COUNT.ts (vaekit) and $W/NAME-COUNT.idx (PyTorch,
# raw IDX), the same COUNT images, the source's repeated as needed.
make_data() {
	idx=$W/$2-$1.idx ts=$W/$2-$1.ts
	if [ -f "$FM/train-images-idx3-ubyte.gz" ]; then
		src=$FM/train-images-idx3-ubyte.gz what="the first $1 Fashion-MNIST training images"
	else
		src=$ROOT/examples/data/digits-train-images-idx3-ubyte.gz what="the 8,000 shipped digits repeated to $1 images"
	fi
	echo "$what" > "$W/$2.what"
	if [ "$VK" = 1 ] && [ ! -s "$ts" ]; then
		# shellcheck disable=SC2046
		vkx "$BIN/idx2stream" -o "$W/source.ts" "$src" &&
			vkx "$BIN/stream-cat" -n "$1" -o "$ts" $(for i in 1 2 3 4 5 6 7 8 9 10; do echo "$W/source.ts"; done) ||
			missing "the training stream ($2, $1 images)"
	fi
	[ "$HAVE_TORCH" = 1 ] && [ ! -s "$idx" ] || return 0
	"$PY" - "$src" "$1" "$idx" <<'EOF' || missing "the IDX file for PyTorch ($2, $1 images)"
import gzip, struct, sys
src, count, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
raw = (gzip.open if open(src, "rb").read(2) == b"\x1f\x8b" else open)(src, "rb").read()
n, rows, cols = struct.unpack(">III", raw[4:16])
size = rows * cols
body = raw[16:16 + n * size]
data = (body * (count // n + 1))[:count * size]
open(out, "wb").write(raw[:4] + struct.pack(">III", count, rows, cols) + data)
EOF
}

# ---- runs ---------------------------------------------------------------------
# vk TAG NET BATCH THREADS DATA COUNT [VAR=VALUE...] -> samples/s (median of
# B16_REPEATS runs), or n/a / skipped
vk() {
	tag=$1 net=$2 b=$3 t=$4 data=$5 count=$6
	shift 6
	[ "$VK" = 1 ] && [ -s "$data" ] || { echo n/a; return; }
	rates=
	for r in $(seq "$REPEATS"); do
		in_budget || { say "$tag: skipped (time budget)"; echo skipped; return; }
		log=$W/$tag-r$r.tsv
		say "$tag run $r ($(elapsed)s)"
		# shellcheck disable=SC2086
		if vkx timeout "$TMO" env "$@" "$BIN/vae-train" -q -o "$W/$tag.vae" $net --batch "$b" --threads "$t" \
			--epochs "$EPOCHS" --seed 1 --log "$log" "$data" >/dev/null 2>"$W/$tag.err"; then
			s=$(col_after_first "$log" seconds | median)
			rates="$rates $(ratio "$count" "$s" %.0f)"
		else
			say "$tag: vae-train failed or timed out: $(head -c 300 "$W/$tag.err")"
		fi
	done
	echo $rates | tr ' ' '\n' | grep -v '^n/a$' | grep . | median | awk '{print $1 == "n/a" ? "n/a" : sprintf("%.0f", $1)}'
}

# pt TAG DEVICE ARCH BATCH THREADS IDX -> samples/s (median of the epochs after the first)
pt() {
	tag=$1 dev=$2 arch=$3 b=$4 t=$5 idx=$6
	[ "$HAVE_TORCH" = 1 ] && [ -s "$idx" ] || { echo n/a; return; }
	[ "$dev" = cpu ] || [ "$HAVE_CUDA" = 1 ] || { echo n/a; return; }
	in_budget || { say "$tag: skipped (time budget)"; echo skipped; return; }
	say "$tag ($(elapsed)s)"
	threads=
	[ "$t" -gt 0 ] && threads="--threads $t"
	net="--hidden 400 --latent 20"
	[ "$arch" = conv ] && net="--latent 2"
	# shellcheck disable=SC2086
	if timeout "$TMO" "$PY" "$ROOT/bench/pytorch_vae.py" --device "$dev" --arch "$arch" $net --batch "$b" $threads \
		--epochs "$EPOCHS" --seed 1 --epoch-budget 20 --train-images "$idx" >"$W/$tag.tsv" 2>"$W/$tag.err"; then
		r=$(col_after_first "$W/$tag.tsv" samples_per_s | median)
		[ "$r" = n/a ] && r=$(awk -F'\t' 'NR == 2 {print $3}' "$W/$tag.tsv")
		awk -v r="$r" 'BEGIN {if (r == "" || r == "n/a") print "n/a"; else printf "%.0f\n", r}'
	else
		say "$tag: pytorch_vae.py failed or timed out: $(tail -c 300 "$W/$tag.err")"
		echo n/a
	fi
}

MLP="--hidden 400 --latent 20"
CONV="--arch conv --latent 2"

main() {
	PROBE_CORE=
	make_data "$N" train
	make_data "$CONV_N" conv
	echo "# vaekit on the 16-core benchmark host"
	echo
	echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') by \`bench/run-16core.sh\` (issue 25): the portable build, vaekit's own choice of OpenBLAS kernels unless a row says otherwise."
	echo "Data: $(cat "$W/train.what" 2>/dev/null || echo n/a) (MLP VAE 784-400-20), $(cat "$W/conv.what" 2>/dev/null || echo n/a) (Keras' conv VAE, latent 2); $EPOCHS epochs a run, the rate from the median epoch after the first, median of $REPEATS run(s); PyTorch the same way with \`bench/pytorch_vae.py\`."
	if [ -n "$MISSING" ]; then
		echo
		echo "**Missing here** (their cells are n/a):$MISSING"
	fi
	echo
	echo "## The host"
	echo
	echo '```'
	lscpu 2>/dev/null || echo "lscpu: not available"
	echo '```'
	echo
	echo "What vaekit sees (\`vae-info --system\`), and OpenBLAS's own words (\`OPENBLAS_VERBOSE=2\`: a first \"Core\" line that vaekit corrected shows as two):"
	echo
	echo '```'
	if [ "$VK" = 1 ]; then
		vkx "$BIN/vae-info" --system 2>&1
		# The probe is not vaekit: it gets the core vaekit runs.
		PROBE_CORE=$(vkx env -u OPENBLAS_CORETYPE "$BIN/vae-info" --system --tsv 2>/dev/null | awk -F'\t' '$2 == "blas_core" {split($3, w, " "); print w[1]}')
		echo
		vkx env -u OPENBLAS_CORETYPE OPENBLAS_VERBOSE=2 "$BIN/vae-info" --system 2>&1 >/dev/null | sed 's/^/OPENBLAS_VERBOSE=2: /'
	else
		echo "vaekit not runnable here"
	fi
	[ "$HAVE_TORCH" = 1 ] && "$PY" -c 'import torch; print("torch", torch.__version__, "CUDA", torch.version.cuda, "GPU:", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"); print("MKL", torch.backends.mkl.is_available(), "oneDNN", torch.backends.mkldnn.is_available(), "CPU threads", torch.get_num_threads())' 2>&1
	echo '```'
	echo

	# -- the core check
	echo "## OpenBLAS's kernels: vaekit's choice against each OPENBLAS_CORETYPE (MLP VAE, batch 128)"
	echo
	echo "Target: with no variable set, never below 90% of the best core's speed."
	echo
	printf '| threads | no variable (vaekit'"'"'s choice) |'
	for c in $CORES; do printf ' %s |' "$c"; done
	printf ' best | no variable / best | ≥ 90%% |\n|---|---|'
	for c in $CORES; do printf -- '---|'; done
	printf -- '---|---|---|\n'
	for t in $CORE_THREADS; do
		d=$(vk "mlp-b128-t$t" "$MLP" 128 "$t" "$W/train-$N.ts" "$N" -u OPENBLAS_CORETYPE)
		eval "MLP_128_$t=\$d"
		best=$d
		printf '| %s | %s |' "$t" "$d"
		for c in $CORES; do
			r=$(vk "mlp-b128-t$t-$c" "$MLP" 128 "$t" "$W/train-$N.ts" "$N" OPENBLAS_CORETYPE="$c")
			printf ' %s |' "$r"
			case $best in [0-9]*) [ "$(verdict "$r" ">" "$best")" = yes ] && best=$r ;; *) best=$r ;; esac
		done
		printf ' %s | %s | %s |\n' "$best" "$(ratio "$d" "$best" %.2f)" "$(verdict "$(ratio "$d" "$best" %.4f)" ">=" 0.9)"
	done
	echo

	# -- thread scaling
	echo "## MLP VAE 784-400-20: thread scaling (samples/s)"
	echo
	echo "Targets: batch 1024, 16 threads ≥ 10× one thread; batch 128, 16 threads ≥ 5× one thread and never slower than 8."
	echo
	printf '| batch |'
	for t in $THREADS; do printf ' %s thr |' "$t"; done
	printf ' 16 thr / 1 thr | 16 thr ≥ 8 thr |\n|---|'
	for t in $THREADS; do printf -- '---|'; done
	printf -- '---|---|\n'
	for b in $BATCHES; do
		printf '| %s |' "$b"
		for t in $THREADS; do
			eval "r=\${MLP_${b}_$t:-}"
			[ -n "$r" ] || { r=$(vk "mlp-b$b-t$t" "$MLP" "$b" "$t" "$W/train-$N.ts" "$N" -u OPENBLAS_CORETYPE); eval "MLP_${b}_$t=\$r"; }
			printf ' %s |' "$r"
		done
		eval "one=\${MLP_${b}_1:-n/a} eight=\${MLP_${b}_8:-n/a} sixteen=\${MLP_${b}_16:-n/a}"
		need=5
		[ "$b" -ge 1024 ] && need=10
		sp=$(ratio "$sixteen" "$one" %.2f)
		printf ' %s (≥ %s: %s) | %s |\n' "$sp" "$need" "$(verdict "$sp" ">=" "$need")" "$(verdict "$sixteen" ">=" "$eight")"
	done
	echo

	# -- conv VAE
	echo "## Conv VAE (Keras' network, latent 2): thread scaling (samples/s)"
	echo
	printf '| batch |'
	for t in $CONV_THREADS; do printf ' %s thr |' "$t"; done
	printf '\n|---|'
	for t in $CONV_THREADS; do printf -- '---|'; done
	printf '\n'
	for b in $CONV_BATCHES; do
		printf '| %s |' "$b"
		for t in $CONV_THREADS; do
			r=$(vk "conv-b$b-t$t" "$CONV" "$b" "$t" "$W/conv-$CONV_N.ts" "$CONV_N" -u OPENBLAS_CORETYPE)
			eval "CONV_${b}_$t=\$r"
			printf ' %s |' "$r"
		done
		printf '\n'
	done
	echo

	# -- PyTorch
	echo "## PyTorch on this host's CPU ($NCPU threads) and GPU, against vaekit on $NCPU threads (samples/s)"
	echo
	echo "Targets: the MLP VAE at batch 128 on 16 cores faster than PyTorch on the GPU; the conv VAE on 16 cores ≥ 2× PyTorch on the 16 cores."
	echo
	echo "| model | batch | vaekit, $NCPU threads | PyTorch CPU, $NCPU threads | PyTorch GPU | vaekit / PyTorch CPU | vaekit / PyTorch GPU | target met |"
	echo "|---|---|---|---|---|---|---|---|"
	for b in $BATCHES; do
		eval "v=\${MLP_${b}_$NCPU:-}"
		[ -n "$v" ] || v=$(vk "mlp-b$b-t$NCPU" "$MLP" "$b" "$NCPU" "$W/train-$N.ts" "$N" -u OPENBLAS_CORETYPE)
		c=n/a g=n/a
		[ "$TORCH" = 1 ] && c=$(pt "torch-cpu-mlp-b$b" cpu mlp "$b" "$NCPU" "$W/train-$N.idx")
		[ "$GPU" = 1 ] && g=$(pt "torch-gpu-mlp-b$b" cuda mlp "$b" 0 "$W/train-$N.idx")
		target=—
		[ "$b" = 128 ] && target="faster than the GPU: $(verdict "$v" ">" "$g")"
		echo "| MLP 784-400-20 | $b | $v | $c | $g | $(ratio "$v" "$c") | $(ratio "$v" "$g") | $target |"
	done
	for b in $(echo "$CONV_BATCHES $GPU_CONV_BATCHES" | tr ' ' '\n' | sort -nu); do
		eval "v=\${CONV_${b}_$NCPU:-}"
		[ -n "$v" ] || v=$(vk "conv-b$b-t$NCPU" "$CONV" "$b" "$NCPU" "$W/conv-$CONV_N.ts" "$CONV_N" -u OPENBLAS_CORETYPE)
		c=n/a g=n/a
		[ "$TORCH" = 1 ] && c=$(pt "torch-cpu-conv-b$b" cpu conv "$b" "$NCPU" "$W/conv-$CONV_N.idx")
		[ "$GPU" = 1 ] && g=$(pt "torch-gpu-conv-b$b" cuda conv "$b" 0 "$W/conv-$CONV_N.idx")
		echo "| conv, latent 2 | $b | $v | $c | $g | $(ratio "$v" "$c") | $(ratio "$v" "$g") | ≥ 2× PyTorch CPU: $(verdict "$(ratio "$v" "$c" %.4f)" ">=" 2) |"
	done
	echo

	# -- how to split each GEMM over the threads (for issue 25's scaling work)
	echo "## Each GEMM on $NCPU threads: split by batch rows, by output columns, or by OpenBLAS (\`sgemm_probe --split\`)"
	echo
	echo "Microseconds per call: \"rows\" is vae-train's data-parallel split (a dW's per-thread blocks then summed), \"cols\" a split of each layer's output columns over the threads (a barrier a call), \"blas\" OpenBLAS's own threads. Data for choosing the split per layer and batch size."
	echo
	if [ "$VK" = 1 ] && [ -x "$BIN/sgemm_probe" ]; then
		for cfg in "--batch 128 --layers 784,400,20" "--batch 1024 --layers 784,400,20" "--batch 128 --conv 28 --layers 784,2"; do
			in_budget || { echo "($cfg: skipped, time budget)"; continue; }
			say "sgemm_probe --split $cfg ($(elapsed)s)"
			echo '```'
			# shellcheck disable=SC2086
			vkx timeout "$TMO" env -u OPENBLAS_CORETYPE ${PROBE_CORE:+OPENBLAS_CORETYPE=$PROBE_CORE} "$BIN/sgemm_probe" --split --threads "$NCPU" $cfg 2>&1
			echo '```'
		done
	else
		echo "n/a: no sgemm_probe in $BIN (bench/pack-16core.sh builds it)"
	fi
	echo
	echo "Run took $(elapsed) s (budget $BUDGET s); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)."
}

tmp=$RESULTS.tmp.$$
main | tee "$tmp"
mv "$tmp" "$RESULTS"
say "wrote $RESULTS in $(elapsed) s"
