#!/bin/sh
# bench/run.sh BIN_DIR — vaekit against PyTorch and against the sgemm floor.
# Prints Markdown and writes it to bench/RESULTS.md; scratch files go to
# out/bench/. Programs missing from BIN_DIR give "n/a" cells, not failures.
# Knobs (environment): BENCH_EPOCHS (per speed run, default 2; the epoch
# time is the median of the epochs after the first), BENCH_REPEATS (speed runs
# per config, vaekit and PyTorch alternating, default 3), BENCH_QUALITY=0 skips the
# 10-epoch quality runs, BENCH_QUALITY_EPOCHS (default 10), BENCH_RUNS (repeats
# of short measurements, default 5), BENCH_TIMEOUT (seconds a training run may
# take before it is cut and reported n/a, default 300), BENCH_EPOCH_BUDGET
# (seconds after which a PyTorch speed epoch is cut, default 45); BENCH_MODELS,
# BENCH_BATCHES, BENCH_THREADS narrow the speed table; BENCH_ARCH (the ARCH
# the BIN_DIR build used) and BENCH_ARCH_BINS ("NAME|DIR ..."; other builds,
# e.g. "-march=x86-64-v3|build-x86-64-v3/bin PORTABLE=1|build-portable/bin",
# whose main rows and model programs are measured too; make bench sets both),
# BENCH_ARCH_TORCH (1: PyTorch runs in those rows too; default 0), BENCH_IW
# (importance samples per record for the kl-eval --iw row, default 1024) and
# BENCH_IW_RECORDS (default 500); the conv VAE's table: BENCH_CONV=0 skips it,
# BENCH_CONV_N (images, default 10000), BENCH_CONV_BATCHES, BENCH_CONV_THREADS;
# the ResNet VAE's: BENCH_RESNET=0 skips it, BENCH_RESNET_N (default 3840),
# BENCH_RESNET_BATCHES, BENCH_RESNET_THREADS;
# BENCH_RESULTS (default bench/RESULTS.md) is where the tables go. See
# bench/README.md.
set -u
BIN=$(cd "${1:?usage: bench/run.sh BIN_DIR}" && pwd) || exit 2
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/out/bench
RESULTS=${BENCH_RESULTS:-$ROOT/bench/RESULTS.md}
PY=/usr/bin/python3
FM=/usr/share/datasets/fashion-mnist
DIGITS=$ROOT/examples/data
EPOCHS=${BENCH_EPOCHS:-2}
REPEATS=${BENCH_REPEATS:-3}
QUALITY=${BENCH_QUALITY:-1}
QEPOCHS=${BENCH_QUALITY_EPOCHS:-10}
RUNS=${BENCH_RUNS:-5}
TIMEOUT=${BENCH_TIMEOUT:-300}
# A speed run's epoch that takes longer than this is cut and its rate
# extrapolated: PyTorch's default two-thread setting crawls on a busy machine.
EPOCH_BUDGET=${BENCH_EPOCH_BUDGET:-45}
TORCH_EXTRA=
MODELS=${BENCH_MODELS-"vae:400:20 ae:400:20 vae:512,256:32"}  # set but empty: no speed table
# OpenBLAS kernels to compare with too, beyond the ones the environment
# configures: this CPU's own AVX-512 kernels where it has them.
if grep -qw avx512f /proc/cpuinfo 2>/dev/null; then CORETYPES=${BENCH_CORETYPES-SkylakeX}; else CORETYPES=${BENCH_CORETYPES-}; fi
CORE_ENV= TAG_PREFIX= VARIANT=
ARCH_BINS=${BENCH_ARCH_BINS:-}
ARCH_TORCH=${BENCH_ARCH_TORCH:-0}
IW=${BENCH_IW:-1024}
IW_RECORDS=${BENCH_IW_RECORDS:-500}
BATCHES=${BENCH_BATCHES:-"128 32"}
THREADS=${BENCH_THREADS:-"1 2"}
NTRAIN=60000
PATH=$BIN:$PATH
export PATH
mkdir -p "$OUT" || exit 1

say() { printf '%s\n' "$*" >&2; }
have() { [ -x "$BIN/$1" ]; }
median() { sort -g | awk '{v[NR] = $1} END {if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
fmt() { awk -v v="$1" -v f="${2:-%.0f}" 'BEGIN {if (v == "" || v == "nan" || v == "n/a") print "n/a"; else printf f "\n", v}'; }
div() { awk -v a="$1" -v b="$2" -v f="${3:-%.2f}" 'BEGIN {if (a == "" || b == "" || a == "n/a" || b == "n/a" || a == "nan" || b == "nan" || b == 0) print "n/a"; else printf f "\n", a / b}'; }

# Column NAME of a TSV with a header line, rows after the first ($3 = skip 1).
tsv_col() { awk -F'\t' -v name="$2" -v skip="${3:-0}" '/^#/ {next} !h {for (i = 1; i <= NF; i++) if ($i == name) c = i; h = 1; next} c && ++row > skip {print $c}' "$1"; }
last_val() { tsv_col "$1" "$2" | tail -n 1; }
# Median epoch seconds, leaving out the first epoch (warm-up) when there are more.
epoch_secs() { n=$(tsv_col "$1" seconds | wc -l); [ "$n" -gt 1 ] && tsv_col "$1" seconds 1 | median || tsv_col "$1" seconds | median; }

ensure_torch() {
	$PY -c 'import torch' 2>/dev/null && return 0
	if [ "$(id -u)" = 0 ]; then
		say "bench: installing python3-torch"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch >&2 && return 0
	else
		say "bench: PyTorch missing; run: sudo apt-get install python3-torch"
	fi
	return 1
}

# build_probe [-march=X]: the flags vaekit is built with, so the probe's Adam
# pass vectorises as vaekit's does (native by default); sets PROBE.
build_probe() {
	arch=${1:--march=native}
	PROBE=$OUT/sgemm_probe$(echo "$arch" | sed 's/^-march=native$//; s/^-march=/-/')
	cc -O3 $arch -fno-math-errno -std=c11 -D_GNU_SOURCE -Wall -Wextra -o "$PROBE" \
		"$ROOT/bench/sgemm_probe.c" $(pkg-config --cflags --libs openblas) -lm -lpthread || PROBE=
}

# What gcc's -march=X means on this machine (native resolves to a CPU name).
march_of() { cc ${1:--march=native} -Q --help=target 2>/dev/null | sed -n 's/^[[:space:]]*-march=[[:space:]]*//p' | head -n 1; }
# The ISA a build targets, from its make setting (ARCH=... or PORTABLE=1).
isa_of() {
	case $1 in
	PORTABLE=1) echo "x86-64 baseline, hot kernels cloned for x86-64-v4 / x86-64-v3 / baseline and picked at load time (PORTABLE=1)" ;;
	-march=*) echo "$1 ($(march_of "$1"))" ;;
	"") echo "x86-64 baseline (ARCH empty)" ;;
	*) echo "$1" ;;
	esac
}
cpu_flags() {
	for f in sse4_2 avx avx2 fma avx512f avx512vl; do
		grep -qw $f /proc/cpuinfo && printf '%s ' "$f" || printf '(no %s) ' "$f"
	done
}

# Fashion-MNIST (and the shipped digits) as streams, converted once: u8 (NAME.u8.ts,
# idx2stream's default, which vae-train keeps as u8 in memory) for training, and
# f32 (NAME.ts) for the filters' throughput and memory.
make_streams() {
	have idx2stream || return 0
	conv() {
		[ -f "$2" ] || return 0
		[ -s "$OUT/$1.u8.ts" ] || idx2stream -o "$OUT/$1.u8.ts" "$2" "$3"
		[ -s "$OUT/$1.ts" ] || idx2stream --float -o "$OUT/$1.ts" "$2" "$3"
	}
	conv fashion-train "$FM/train-images-idx3-ubyte.gz" "$FM/train-labels-idx1-ubyte.gz"
	conv fashion-test "$FM/t10k-images-idx3-ubyte.gz" "$FM/t10k-labels-idx1-ubyte.gz"
	conv digits-train "$DIGITS/digits-train-images-idx3-ubyte.gz" "$DIGITS/digits-train-labels-idx1-ubyte.gz"
	conv digits-test "$DIGITS/digits-test-images-idx3-ubyte.gz" "$DIGITS/digits-test-labels-idx1-ubyte.gz"
}

header() {
	cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)
	echo "# vaekit benchmark"
	echo
	echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') by \`make bench\` (bench/run.sh); see bench/README.md for the columns."
	echo
	echo "- CPU: $cpu, $(nproc) online CPUs ($(lscpu | sed -n 's/^Thread(s) per core: *//p') thread(s) per core)"
	echo "- CPU flags that matter: $(cpu_flags)"
	echo "- vaekit built for: $(isa_of "${BENCH_ARCH--march=native}") (BIN $BIN)"
	for v in $ARCH_BINS; do echo "- also measured: $(isa_of "${v%%|*}") (BIN ${v#*|})"; done
	echo "- OpenBLAS: $(pkg-config --modversion openblas 2>/dev/null || echo '?'), OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}, OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE:-unset}; core in use: $([ -n "$PROBE" ] && env $PROBE_ENV "$PROBE" --info | cut -f1 || echo '?') ($([ -n "$PROBE" ] && env $PROBE_ENV "$PROBE" --info | cut -f2 || echo '?'))"
	if have vae-info; then
		echo "- What vaekit sees (\`vae-info --system\`):"
		"$BIN/vae-info" --system --tsv | cut -f2- | sed 's/	/: /; s/^/  - /'
	fi
	echo "- PyTorch: $($PY -c 'import torch; print(torch.__version__)' 2>/dev/null || echo 'not installed') ($PY)"
	echo "- Load average at start: $(cut -d' ' -f1-3 /proc/loadavg)$(awk -v n="$(nproc)" '$1 > 0.5 {printf " — other work was running: timings are pessimistic, especially PyTorch default with %d threads", n}' /proc/loadavg)"
	echo "- Speed configs: $REPEATS runs of $EPOCHS epochs each on Fashion-MNIST 60k (test 10k), seed 1, vaekit and PyTorch alternating; a run's epoch time is the median of its epochs after the first; the table gives medians over the runs"
	echo
}

# ---- sgemm floor -------------------------------------------------------
# floor MODEL LAYERS BATCH THREADS -> "GEMM-floor GEMM+Adam-floor" in samples/s
floor() {
	[ -n "$PROBE" ] || { echo n/a n/a; return; }
	env $PROBE_ENV $CORE_ENV "$PROBE" --summary --model "$1" --layers "$2" --batch "$3" --threads "$4" | cut -f5,8 | tr '\t' ' '
}

# ---- training runs ------------------------------------------------------
# vaekit_run TAG MODEL HIDDEN LATENT BATCH THREADS EPOCHS TRAIN TEST -> log path (or nothing)
vaekit_run() {
	have vae-train && [ -s "$8" ] || return 0
	log=$OUT/$1.vaekit.tsv
	net="--hidden $3"
	case $3 in conv | resnet) net="--arch $3" ;; esac
	timeout "$TIMEOUT" env $CORE_ENV "$BIN/vae-train" -o "$OUT/$1.model" --model "$2" $net --latent "$4" --batch "$5" \
		--threads "$6" --epochs "$7" --seed 1 --test "$9" --log "$log" "$8" >/dev/null 2>"$OUT/$1.vaekit.err" \
		&& echo "$log"
}

# torch_run TAG SETTING MODEL HIDDEN LATENT BATCH THREADS EPOCHS TRAIN_IMAGES TEST_IMAGES -> log path
# SETTING: comma-separated VAR=VALUE environment entries and --options.
torch_run() {
	[ "$HAVE_TORCH" = 1 ] || return 0
	log=$OUT/$1.torch.tsv
	envs=$(echo "$2" | tr , '\n' | grep '^[A-Z]') opts=$(echo "$2" | tr , '\n' | grep '^-')
	net="--hidden $4"
	case $4 in conv | resnet) net="--arch $4" ;; esac
	timeout "$TIMEOUT" env $CORE_ENV $envs $PY "$ROOT/bench/pytorch_vae.py" $opts $TORCH_EXTRA --model "$3" $net --latent "$5" --batch "$6" \
		--threads "$7" --epochs "$8" --seed 1 --train-images "$9" --test-images "${10}" \
		>"$log" 2>"$OUT/$1.torch.err" && echo "$log"
}

rate() { [ -n "$1" ] && div "$NTRAIN" "$(epoch_secs "$1")" "%.0f" || echo n/a; }
# Test −ELBO of the last epoch; an AE has no ELBO (vae-train logs nan), so its
# reconstruction loss stands in, as in pytorch_vae.py.
nelbo() {
	[ -n "$1" ] || { echo n/a; return; }
	v=$(last_val "$1" test_nelbo)
	case $v in nan | NaN | -nan | "") v=$(last_val "$1" test_rec) ;; esac
	fmt "$v" "%.2f"
}
pct() { div "$1" "$2" "%.4f" | awk '$1 == "n/a" {print; next} {printf "%.0f%%\n", $1 * 100}'; }

# The PyTorch settings tried with two threads; the fastest is the "best"
# column. Default: torch.set_num_threads(2) and OpenBLAS's 2 threads, where
# torch's idle OpenMP threads spin against OpenBLAS's. --intra-op=1 keeps
# torch's own kernels on one thread and leaves both cores to OpenBLAS.
TORCH_BEST=${BENCH_TORCH_BEST:-"OMP_WAIT_POLICY=PASSIVE --intra-op=1 OMP_WAIT_POLICY=PASSIVE,--intra-op=1"}

# The PyTorch setting with the highest rate among default and $TORCH_BEST
# (run 1 of a two-thread config): sets best and blog, and td for the default.
torch_settings() { # TAG MODEL HIDDEN LATENT BATCH THREADS
	tlog=$(torch_run "$1" "" "$2" "$3" "$4" "$5" "$6" "$EPOCHS" \
		"$FM/train-images-idx3-ubyte.gz" "$FM/t10k-images-idx3-ubyte.gz")
	td=$(rate "$tlog") tb=$td blog=$tlog best=
	[ "$6" -gt 1 ] || return 0
	for e in $TORCH_BEST; do
		l=$(torch_run "$1-$(echo "$e" | tr -c 'A-Za-z0-9\n' _)" "$e" "$2" "$3" "$4" "$5" "$6" "$EPOCHS" \
			"$FM/train-images-idx3-ubyte.gz" "$FM/t10k-images-idx3-ubyte.gz")
		r=$(rate "$l")
		if [ "$r" != n/a ] && { [ "$tb" = n/a ] || [ "$r" -gt "$tb" ]; }; then
			tb=$r blog=$l best=$e
		fi
	done
}

median_of() { echo "$*" | tr ' ' '\n' | grep -v '^n/a$' | grep . | median; }

# repeated_runs TAG MODEL HIDDEN LATENT BATCH THREADS TRAIN TEST: REPEATS
# vaekit runs alternating with PyTorch's (its fastest setting, found in run
# 1); sets v and tb (median rates), tdef (PyTorch's default setting), best,
# ratios and range (the per-run vaekit/PyTorch ratios), vlog1 and blog1.
repeated_runs() {
	vrates= trates= ratios=
	for r in $(seq "$REPEATS"); do
		say "bench: $1 run $r/$REPEATS"
		vlog=$(vaekit_run "$1-r$r" "$2" "$3" "$4" "$5" "$6" "$EPOCHS" "$7" "$8")
		if [ "$r" = 1 ]; then
			torch_settings "$1" "$2" "$3" "$4" "$5" "$6"
			vlog1=$vlog blog1=$blog tdef=$td
		else
			blog=$(torch_run "$1-r$r" "$best" "$2" "$3" "$4" "$5" "$6" "$EPOCHS" \
				"$FM/train-images-idx3-ubyte.gz" "$FM/t10k-images-idx3-ubyte.gz")
		fi
		v=$(rate "$vlog") tb=$(rate "$blog")
		vrates="$vrates $v" trates="$trates $tb" ratios="$ratios $(div "$v" "$tb")"
	done
	v=$(fmt "$(median_of $vrates)") tb=$(fmt "$(median_of $trates)")
	# One thread: the default is the only setting, so it gets every run.
	[ "$6" -gt 1 ] || tdef=$tb
	range=$(echo $ratios | tr ' ' '\n' | grep -v '^n/a$' | sort -g | sed -n '1p;$p' | paste -sd '-' | sed 's/-/–/')
}

speed_table() {
	TORCH_EXTRA=--epoch-budget=$EPOCH_BUDGET
	echo "## Training speed${CORE_ENV:+ with $CORE_ENV for both}${VARIANT:+, vaekit built with $VARIANT} (samples/s, higher is better)"
	echo
	if [ -n "$VARIANT" ]; then
		echo "The main VAE's rows with vaekit built for $(isa_of "$VARIANT"); the floors"
		echo "from a probe built the same way$( [ "$ARCH_TORCH" = 1 ] || echo '; PyTorch is not run again (BENCH_ARCH_TORCH=1 runs it)')."
		echo
	fi
	if [ -n "$CORE_ENV" ]; then
		echo "The main VAE's rows again with $CORE_ENV set for the probe, vaekit and PyTorch"
		echo "alike, instead of the OpenBLAS kernels the environment configures (above)."
		echo
	fi
	echo "| model | batch | threads | sgemm floor | sgemm + Adam floor | vaekit | vaekit % floor | PyTorch default | PyTorch best | best setting | PyTorch % floor | vaekit / PyTorch best | runs' range | bound: sgemm + Adam floor / PyTorch best | vaekit test −ELBO | PyTorch test −ELBO |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
	for cfg in $MODELS; do
		m=${cfg%%:*} rest=${cfg#*:}
		h=${rest%%:*} z=${rest#*:}
		for b in $BATCHES; do
			for t in $THREADS; do
				tag=$TAG_PREFIX$m-$(echo "$h" | tr , -)-$z-b$b-t$t
				fls=$(floor "$m" "784,$h,$z" "$b" "$t")
				fl=${fls% *} fla=${fls#* }
				repeated_runs "$tag" "$m" "$h" "$z" "$b" "$t" "$OUT/fashion-train.u8.ts" "$OUT/fashion-test.u8.ts"
				echo "| $m 784-$(echo "$h" | tr , -)-$z | $b | $t | $(fmt "$fl") | $(fmt "$fla") | $v | $(pct "$v" "$fl") | $tdef | $tb | \`$(echo "${best:-default}" | tr , " ")\` | $(pct "$tb" "$fl") | $(fmt "$(median_of $ratios)" %.2f) | ${range:-n/a} | $(div "$fla" "$tb") | $(nelbo "$vlog1") | $(nelbo "$blog1") |"
			done
		done
	done
	echo
}

# Keras' conv VAE (vae-train --arch conv, latent 2) on the first CONV_N
# Fashion-MNIST images: its epochs take minutes, not seconds. The floor is the
# probe's sum over the lowered convolutions' and dense layers' GEMMs.
CONV_N=${BENCH_CONV_N:-10000}
CONV_BATCHES=${BENCH_CONV_BATCHES:-"128 32"}
CONV_THREADS=${BENCH_CONV_THREADS:-"1 2"}
conv_speed_table() {
	[ "${BENCH_CONV:-1}" = 1 ] || return 0
	have stream-cat && [ -s "$OUT/fashion-train.u8.ts" ] || return 0
	stream-cat -n "$CONV_N" -o "$OUT/conv-train.u8.ts" "$OUT/fashion-train.u8.ts"
	stream-cat -n 2000 -o "$OUT/conv-test.u8.ts" "$OUT/fashion-test.u8.ts"
	saved_n=$NTRAIN saved_extra=${TORCH_EXTRA:-}
	NTRAIN=$CONV_N
	TORCH_EXTRA="--epoch-budget=$EPOCH_BUDGET --limit=$CONV_N"
	echo "## Training speed, convolutional VAE (samples/s, higher is better)"
	echo
	echo "Keras' conv VAE (\`vae-train --arch conv -z 2\`, \`pytorch_vae.py --arch conv\`), the first"
	echo "$CONV_N Fashion-MNIST training images; floors from \`sgemm_probe --conv 28\`."
	echo
	echo "| model | batch | threads | sgemm floor | sgemm + Adam floor | vaekit | vaekit % floor | PyTorch default | PyTorch best | best setting | PyTorch % floor | vaekit / PyTorch best | runs' range | vaekit test −ELBO | PyTorch test −ELBO |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
	for b in $CONV_BATCHES; do
		for t in $CONV_THREADS; do
			tag=${TAG_PREFIX}conv-2-b$b-t$t
			fls=$([ -n "$PROBE" ] && env $PROBE_ENV $CORE_ENV "$PROBE" --summary --conv 28 --layers 784,2 --batch "$b" --threads "$t" | cut -f5,8 | tr '\t' ' ' || echo n/a n/a)
			fl=${fls% *} fla=${fls#* }
			repeated_runs "$tag" vae conv 2 "$b" "$t" "$OUT/conv-train.u8.ts" "$OUT/conv-test.u8.ts"
			echo "| conv VAE 28x28-2 | $b | $t | $(fmt "$fl") | $(fmt "$fla") | $v | $(pct "$v" "$fl") | $tdef | $tb | \`$(echo "${best:-default}" | tr , " ")\` | $(pct "$tb" "$fl") | $(fmt "$(median_of $ratios)" %.2f) | ${range:-n/a} | $(nelbo "$vlog1") | $(nelbo "$blog1") |"
		done
	done
	echo
	if have vae-train; then
		echo "vae-train \`--arch conv\` peak RSS (1 thread, batch 128): $(peak_mb "" "vae-train -o $OUT/conv-rss.model --arch conv -z 2 --epochs 1 --threads 1 $OUT/conv-train.u8.ts") MB after 1 epoch, $(peak_mb "" "vae-train -o $OUT/conv-rss.model --arch conv -z 2 --epochs 3 --threads 1 $OUT/conv-train.u8.ts") MB after 3 (the data: $(div "$(bytes "$OUT/conv-train.u8.ts")" 1e6 %.1f) MB)."
		echo
	fi
	NTRAIN=$saved_n TORCH_EXTRA=$saved_extra
}

# pythae's ResNet VAE (vae-train --arch resnet, latent 16) on the first
# RESNET_N Fashion-MNIST images, like the conv table; then a batch norm's cost
# against the conv before it (bench/layer_bench.c, built by make bench).
RESNET_N=${BENCH_RESNET_N:-3840}
RESNET_BATCHES=${BENCH_RESNET_BATCHES:-"128 32"}
RESNET_THREADS=${BENCH_RESNET_THREADS:-"1 2"}
resnet_speed_table() {
	[ "${BENCH_RESNET:-1}" = 1 ] || return 0
	have stream-cat && [ -s "$OUT/fashion-train.u8.ts" ] || return 0
	stream-cat -n "$RESNET_N" -o "$OUT/resnet-train.u8.ts" "$OUT/fashion-train.u8.ts"
	stream-cat -n 1000 -o "$OUT/resnet-test.u8.ts" "$OUT/fashion-test.u8.ts"
	saved_n=$NTRAIN saved_extra=${TORCH_EXTRA:-}
	NTRAIN=$RESNET_N
	TORCH_EXTRA="--epoch-budget=$EPOCH_BUDGET --limit=$RESNET_N"
	echo "## Training speed, ResNet VAE (samples/s, higher is better)"
	echo
	echo "pythae's MNIST ResNet VAE (\`vae-train --arch resnet -z 16\`, \`pytorch_vae.py --arch resnet\`), the first"
	echo "$RESNET_N Fashion-MNIST training images; floors from \`sgemm_probe --resnet\` (see bench/QUALITY-resnet.md)."
	echo
	echo "| model | batch | threads | sgemm floor | sgemm + Adam floor | vaekit | vaekit % floor | PyTorch default | PyTorch best | best setting | PyTorch % floor | vaekit / PyTorch best | runs' range | vaekit test −ELBO | PyTorch test −ELBO |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
	for b in $RESNET_BATCHES; do
		for t in $RESNET_THREADS; do
			tag=${TAG_PREFIX}resnet-16-b$b-t$t
			fls=$([ -n "$PROBE" ] && env $PROBE_ENV $CORE_ENV "$PROBE" --summary --resnet --layers 784,16 --batch "$b" --threads "$t" | cut -f5,8 | tr '\t' ' ' || echo n/a n/a)
			fl=${fls% *} fla=${fls#* }
			repeated_runs "$tag" vae resnet 16 "$b" "$t" "$OUT/resnet-train.u8.ts" "$OUT/resnet-test.u8.ts"
			echo "| ResNet VAE 28x28-16 | $b | $t | $(fmt "$fl") | $(fmt "$fla") | $v | $(pct "$v" "$fl") | $tdef | $tb | \`$(echo "${best:-default}" | tr , " ")\` | $(pct "$tb" "$fl") | $(fmt "$(median_of $ratios)" %.2f) | ${range:-n/a} | $(nelbo "$vlog1") | $(nelbo "$blog1") |"
		done
	done
	echo
	LB=$(dirname "$BIN")/bin-bench/layer_bench
	if [ -x "$LB" ]; then
		echo "A batch norm's cost against the conv before it (\`layer_bench\`, batch 128, one thread, forward + backward):"
		echo
		echo '```'
		OPENBLAS_NUM_THREADS=1 "$LB" 14x14x64 128 "$RUNS" conv:64:3:1/relu conv:64:3:1/identity,batchnorm/relu
		OPENBLAS_NUM_THREADS=1 "$LB" 28x28x1 128 "$RUNS" conv:32:3:2/relu conv:32:3:2/identity,batchnorm/relu | tail -n 2
		echo '```'
		echo
	fi
	NTRAIN=$saved_n TORCH_EXTRA=$saved_extra
}

# The main VAE's speed rows again with other OpenBLAS kernels for both sides:
# the environment's OPENBLAS_CORETYPE may not be the fastest this CPU has.
coretype_tables() {
	[ -n "$MODELS" ] || return 0
	saved=$MODELS
	for ct in $CORETYPES; do
		MODELS=vae:400:20 CORE_ENV=OPENBLAS_CORETYPE=$ct TAG_PREFIX=$ct-
		speed_table
	done
	MODELS=$saved CORE_ENV= TAG_PREFIX=
}

# The main VAE's rows again with each other build of vaekit (BENCH_ARCH_BINS),
# e.g. the AVX2 code (-march=x86-64-v3) on an AVX-512 machine.
arch_tables() {
	[ -n "$MODELS" ] || return 0
	saved=$MODELS saved_bin=$BIN saved_probe=$PROBE saved_torch=$HAVE_TORCH
	for v in $ARCH_BINS; do
		name=${v%%|*} dir=${v#*|}
		[ -x "$dir/vae-train" ] || { say "bench: $dir/vae-train missing: no $name rows"; continue; }
		case $name in -march=*) build_probe "$name" ;; *) PROBE=$saved_probe ;; esac
		[ "$ARCH_TORCH" = 1 ] || HAVE_TORCH=0
		BIN=$dir MODELS=vae:400:20 VARIANT=$name TAG_PREFIX=$(echo "$name" | tr -c 'A-Za-z0-9\n' _)-
		speed_table
		BIN=$saved_bin PROBE=$saved_probe HAVE_TORCH=$saved_torch
	done
	MODELS=$saved VARIANT= TAG_PREFIX=
}

# ---- quality ------------------------------------------------------------
QUALITY_TORCH=${BENCH_QUALITY_TORCH:-OMP_WAIT_POLICY=PASSIVE}
quality_table() {
	TORCH_EXTRA=
	echo "## Quality: VAE 784-400-20, batch 128, $QEPOCHS epochs, seed 1, 2 threads"
	echo
	if [ "$QUALITY" = 0 ]; then
		echo "Skipped (BENCH_QUALITY=0); the speed table's −ELBO columns are after $EPOCHS epochs only."
		echo
		return
	fi
	echo "Test −ELBO in nats per image, one ε sample per test image (lower is better); PyTorch also with z = μ."
	echo
	echo "| data | train / test | vaekit test −ELBO | PyTorch test −ELBO | PyTorch −ELBO at z = μ | vaekit s/epoch | PyTorch s/epoch |"
	echo "|---|---|---|---|---|---|---|"
	for d in fashion digits; do
		if [ $d = fashion ]; then
			ti=$FM/train-images-idx3-ubyte.gz vi=$FM/t10k-images-idx3-ubyte.gz
		else
			ti=$DIGITS/digits-train-images-idx3-ubyte.gz vi=$DIGITS/digits-test-images-idx3-ubyte.gz
		fi
		[ -f "$ti" ] || { echo "| $d | missing | n/a | n/a | n/a | n/a | n/a |"; continue; }
		say "bench: quality $d"
		vlog=$(vaekit_run "quality-$d" vae 400 20 128 2 "$QEPOCHS" "$OUT/$d-train.u8.ts" "$OUT/$d-test.u8.ts")
		tlog=$(torch_run "quality-$d" "$QUALITY_TORCH" vae 400 20 128 2 "$QEPOCHS" "$ti" "$vi")
		sizes=n/a
		[ -n "$tlog" ] && sizes=$(sed -n 's/.*train=\([0-9]*\) test=\([0-9]*\).*/\1 \/ \2/p' "$OUT/quality-$d.torch.err")
		vs=n/a ts=n/a
		[ -n "$vlog" ] && vs=$(fmt "$(epoch_secs "$vlog")" "%.2f")
		[ -n "$tlog" ] && ts=$(fmt "$(epoch_secs "$tlog")" "%.2f")
		mu=n/a
		[ -n "$tlog" ] && mu=$(fmt "$(last_val "$tlog" test_nelbo_mu)" "%.2f")
		echo "| $d | $sizes | $(nelbo "$vlog") | $(nelbo "$tlog") | $mu | $vs | $ts |"
	done
	echo
}

# ---- throughput of the filters -----------------------------------------
# hf_median COMMAND -> median seconds over $RUNS runs (shell command line)
hf_median() {
	csv=$OUT/hf.csv
	hyperfine -w 1 -r "$RUNS" --export-csv "$csv" "$1" >/dev/null 2>&1 || { echo n/a; return; }
	awk -F, 'NR == 2 {print $4}' "$csv"
}
bytes() { stat -c %s "$1" 2>/dev/null || echo 0; }
# tool_row PROGRAM INPUT WORK AMOUNT UNIT COMMAND [FLOOR]: a table row of
# AMOUNT UNIT per second; AMOUNT may be a file, whose size in MB (after
# COMMAND) is used; FLOOR: records/s the GEMMs alone allow.
tool_row() {
	if ! have "${1%% *}" || [ ! -s "$2" ]; then echo "| $1 | — | n/a | n/a | |"; return; fi
	s=$(hf_median "$6")
	amount=$4
	[ -f "$amount" ] && amount=$(div "$(bytes "$amount")" 1e6 %.6f)
	rate=$(div "$amount" "$s" %.0f) share=
	[ -n "${7:-}" ] && share="$(pct "$rate" "$7") of $(fmt "$7")"
	echo "| $1 | $3 | $(fmt "$s" %.3f) | $rate $5/s | $share |"
}

# pass_floor encode|decode [BATCH] -> records/s of the pass's forward GEMMs at
# the tools' default batch (256) or BATCH, one thread, for VAE 784-400-20.
pass_floor() {
	[ -n "$PROBE" ] || { echo n/a; return; }
	env $PROBE_ENV "$PROBE" --summary --pass "$1" --batch "${2:-256}" --threads 1 --layers 784,400,20 | cut -f5
}
# kl-eval --iw decodes a record's importance samples IW_CHUNK at a time
# (tools/kl-eval.c), so its floor is the decoder's forward GEMMs at that batch.
IW_CHUNK=512

# model_rows BIN_DIR TAG: the model programs of one build.
model_rows() {
	tool_row "vae-encode$2" "$model" "60,000 images → μ" 60000 records \
		"$1/vae-encode -m $model -o $OUT/latent.ts $OUT/fashion-train.u8.ts" "$enc"
	tool_row "vae-decode$2" "$OUT/latent.ts" "60,000 latents → images" 60000 records \
		"$1/vae-decode -m $model -o /dev/null $OUT/latent.ts" "$dec"
	tool_row "vae-sample$2" "$model" "60,000 samples" 60000 records \
		"$1/vae-sample -m $model -n 60000 -o /dev/null" "$dec"
	tool_row "kl-eval --iw $IW$2" "$OUT/iw-records.ts" "$IW_RECORDS records × $IW importance samples, 1 thread" \
		$((IW_RECORDS * IW)) samples "$1/kl-eval -m $model --iw $IW -t 1 --tsv $OUT/iw-records.ts" "$iwf"
}

throughput_table() {
	train=$OUT/fashion-train.ts model=$OUT/vae-400-20-b128-t1-r1.model
	echo "## Throughput of the tools (median of $RUNS runs)"
	echo
	echo "The model programs run on all 60,000 training images (u8, as idx2stream writes"
	echo "them) with their defaults (batch 256, one thread, VAE 784-400-20); the last column"
	echo "is their rate as a share of what their forward GEMMs alone allow (sgemm_probe --pass)."
	echo "\`kl-eval --iw\` decodes each record's importance samples $IW_CHUNK at a time: its floor is"
	echo "the decoder's forward GEMMs at batch $IW_CHUNK, in samples/s. A name in brackets is"
	echo "another build of vaekit (BENCH_ARCH_BINS)."
	echo
	echo "| program | work | median s | rate | share of the GEMM floor |"
	echo "|---|---|---|---|---|"
	tool_row idx2stream "$FM/train-images-idx3-ubyte.gz" "60,000 images (.gz) → f32 stream, MB written" "$OUT/tmp.ts" MB \
		"idx2stream --float -o $OUT/tmp.ts $FM/train-images-idx3-ubyte.gz $FM/train-labels-idx1-ubyte.gz"
	tool_row stream-cat "$train" "copy the 60,000-image f32 stream" "$train" MB "stream-cat -o $OUT/tmp.ts $train"
	rm -f "$OUT/tmp.ts"
	enc=$(pass_floor encode) dec=$(pass_floor decode) iwf=$(pass_floor decode "$IW_CHUNK")
	[ -s "$OUT/fashion-test.ts" ] && have stream-cat &&
		stream-cat -n "$IW_RECORDS" -o "$OUT/iw-records.ts" "$OUT/fashion-test.ts"
	# The native build, then each other build (BENCH_ARCH_BINS), named in the row.
	for v in "${BENCH_ARCH--march=native}|$BIN" $ARCH_BINS; do
		b=${v#*|} tag=
		[ "$b" = "$BIN" ] || tag=" ($(echo "${v%%|*}" | sed 's/^-march=//'))"
		[ -x "$b/vae-encode" ] || continue
		model_rows "$b" "$tag"
	done
	tool_row png-grid "$OUT/fashion-test.ts" "1,000 images → one PNG" 1000 images \
		"png-grid -n 1000 -o $OUT/grid.png $OUT/fashion-test.ts"
	echo
}

startup_table() {
	echo "## Start-up time (\`PROGRAM --version\`, median of 30 runs)"
	echo
	echo "| program | ms |"
	echo "|---|---|"
	for p in "$BIN"/*; do
		[ -x "$p" ] || continue
		hyperfine -N -w 3 -r 30 --export-csv "$OUT/hf.csv" "$p --version" >/dev/null 2>&1 &&
			echo "| $(basename "$p") | $(awk -F, 'NR == 2 {printf "%.2f\n", $4 * 1000}' "$OUT/hf.csv") |" ||
			echo "| $(basename "$p") | n/a |"
	done
	# the image tools' whole start: libvips started, one 28x28 image converted
	"$BIN/idx2stream" -n 1 "$DIGITS/digits-test-images-idx3-ubyte.gz" > "$OUT/one.ts" &&
		"$BIN/stream2img" -o "$OUT/one.png" "$OUT/one.ts" || return
	for cmd in "img2stream -o /dev/null $OUT/one.png" "stream2img -o $OUT/one-again.png $OUT/one.ts"; do
		hyperfine -N -w 3 -r 30 --export-csv "$OUT/hf.csv" "$BIN/$cmd" >/dev/null 2>&1 &&
			echo "| ${cmd%% *}, one image | $(awk -F, 'NR == 2 {printf "%.2f\n", $4 * 1000}' "$OUT/hf.csv") |"
	done
	echo
}

# ---- memory -------------------------------------------------------------
# peak_mb PRODUCER CONSUMER -> peak RSS (MB) of CONSUMER reading PRODUCER's
# output from a pipe (shell command lines); no PRODUCER: CONSUMER alone.
peak_mb() {
	rm -f "$OUT/rss"
	if [ -n "$1" ]; then
		sh -c "$1 | /usr/bin/time -f %M -o $OUT/rss $2" >/dev/null 2>&1
	else
		sh -c "/usr/bin/time -f %M -o $OUT/rss $2" >/dev/null 2>&1
	fi
	[ -s "$OUT/rss" ] && awk '{v = $1} END {printf "%.1f\n", v / 1024}' "$OUT/rss" || echo n/a
}

# 1,000,000 records = the 10,000-record test stream 100 times, through a pipe:
# nothing that size ever lands on disk.
many() { i=0; files=; while [ $i -lt 100 ]; do files="$files $1"; i=$((i + 1)); done; echo "stream-cat$files"; }

memory_table() {
	test=$OUT/fashion-test.ts model=$OUT/vae-400-20-b128-t1-r1.model
	echo "## Peak resident memory (MB, /usr/bin/time)"
	echo
	echo "| program | 10,000 records | 1,000,000 records |"
	echo "|---|---|---|"
	if have stream-cat && [ -s "$test" ]; then
		echo "| stream-cat | $(peak_mb "cat $test" stream-cat) | $(peak_mb "$(many "$test")" stream-cat) |"
	else echo "| stream-cat | n/a | n/a |"; fi
	if have vae-encode && [ -s "$model" ]; then
		echo "| vae-encode | $(peak_mb "cat $test" "vae-encode -m $model") | $(peak_mb "$(many "$test")" "vae-encode -m $model") |"
	else echo "| vae-encode | n/a | n/a |"; fi
	echo
	if have vae-train && [ -s "$OUT/fashion-train.ts" ]; then
		echo "vae-train (VAE 784-400-20, 1 epoch) peak RSS against training-set size:"
		echo
		echo "| training records | stream MB | peak RSS MB |"
		echo "|---|---|---|"
		for n in 6000 60000; do
			stream-cat -n $n -o "$OUT/sub.ts" "$OUT/fashion-train.ts" || continue
			echo "| $n | $(div "$(bytes "$OUT/sub.ts")" 1e6 %.1f) | $(peak_mb "" "vae-train -o $OUT/sub.model --epochs 1 --threads 1 $OUT/sub.ts") |"
		done
		rm -f "$OUT/sub.ts" "$OUT/sub.model"
		echo
	fi
}

floor_detail() {
	[ -n "$PROBE" ] || return 0
	echo "## sgemm floor detail (VAE 784-400-20, batch 128, 1 thread)"
	echo
	echo '```'
	env $PROBE_ENV "$PROBE" --batch 128 --layers 784,400,20 --threads 1
	echo '```'
	echo
}

main() {
	HAVE_TORCH=0
	ensure_torch && HAVE_TORCH=1
	command -v hyperfine >/dev/null || say "bench: hyperfine missing (apt-get install hyperfine); throughput cells will be n/a"
	build_probe
	# The probe is not vaekit: where vaekit corrects OpenBLAS's choice of
	# kernels (libcommon/blascore.c), the floors use the kernels it chose.
	PROBE_ENV=
	if [ -z "${OPENBLAS_CORETYPE:-}" ] && have vae-info; then
		core=$("$BIN/vae-info" --system --tsv | awk -F'\t' '$2 == "blas_core" && /chosen by vaekit/ {split($3, w, " "); print w[1]}')
		[ -n "$core" ] && PROBE_ENV=OPENBLAS_CORETYPE=$core && say "bench: vaekit runs OpenBLAS's $core kernels; the probe too"
	fi
	make_streams
	for p in vae-train vae-encode vae-decode vae-sample idx2stream stream-cat png-grid; do
		have $p || say "bench: $BIN/$p missing: its cells are n/a"
	done
	tmp=$RESULTS.tmp.$$
	{
		header
		speed_table
		conv_speed_table
		resnet_speed_table
		coretype_tables
		arch_tables
		quality_table
		floor_detail
		throughput_table
		startup_table
		memory_table
		echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
	} | tee "$tmp"
	mv "$tmp" "$RESULTS"
	say "bench: wrote $RESULTS"
}

main
