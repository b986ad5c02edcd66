#!/bin/sh
# Build the libFuzzer harnesses (clang, ASan + UBSan) and run each for SECONDS
# (default 60), two at a time. Usage: sh fuzz/run.sh [SECONDS] [KIND...]
# KINDs: stream idx npy model txt layers prior pipe npz tables (default all). Seeds come from fuzz/seeds/KIND
# and tests/corpus/KIND; the growing corpus lives in fuzz/build/corpus/KIND.
# A crash or hang leaves its input in fuzz/build/artifacts/KIND/ and makes the
# script exit 1: fix the bug, then keep the input in tests/corpus/KIND/ so that
# `make test` replays it (tests/test_corpus.c).
set -eu
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-60}
[ $# -gt 0 ] && shift
KINDS=${*:-stream idx npy model txt layers prior pipe npz tables}
B=fuzz/build
CC=${FUZZ_CC:-clang}
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
INC=$(for d in libcommon libcommon/*/; do printf -- "-I%s " "${d%/}"; done)
CFLAGS="-g -O1 -std=c11 -D_GNU_SOURCE -Wall -Wextra $INC $SAN"
LIBS="$(pkg-config --libs openblas libpng zlib 2>/dev/null || echo -lopenblas -lpng -lz) -lm -lpthread"

mkdir -p $B/obj
objs=
for src in libcommon/*.c libcommon/*/*.c; do
	# vimage.c is glue to libvips (fuzzed upstream, OSS-Fuzz); no harness links it.
	[ "$src" = libcommon/io/vimage.c ] && continue
	o=$B/obj/$(basename "$src" .c).o
	if [ ! -e "$o" ] || [ "$src" -nt "$o" ] || [ -n "$(find libcommon -name '*.h' -newer "$o")" ]; then
		$CC $CFLAGS -fsanitize=fuzzer-no-link -c -o "$o" "$src"
	fi
	objs="$objs $o"
done
for k in $KINDS; do
	$CC $CFLAGS -fsanitize=fuzzer -o $B/fuzz_$k fuzz/fuzz_$k.c $objs $LIBS
done

status=0
run_one() {
	k=$1
	mkdir -p $B/corpus/$k $B/artifacts/$k
	seeds=
	for d in fuzz/seeds/$k tests/corpus/$k; do [ -d $d ] && seeds="$seeds $d"; done
	# One input takes at most 10 s and 2 GB; -timeout makes hangs artifacts.
	$B/fuzz_$k -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
		-max_len=65536 -print_final_stats=1 \
		-artifact_prefix=$B/artifacts/$k/ $B/corpus/$k $seeds \
		>$B/fuzz_$k.log 2>&1
}
set -- $KINDS
while [ $# -gt 0 ]; do
	run_one "$1" & p1=$!
	p2=
	if [ $# -gt 1 ]; then run_one "$2" & p2=$!; fi
	wait $p1 || { echo "fuzz: $1 found a crash, see $B/fuzz_$1.log"; status=1; }
	if [ -n "$p2" ]; then
		wait $p2 || { echo "fuzz: $2 found a crash, see $B/fuzz_$2.log"; status=1; }
		shift
	fi
	shift
done
for k in $KINDS; do
	printf 'fuzz_%s: %s runs\n' "$k" "$(sed -n 's/^stat::number_of_executed_units: *//p' $B/fuzz_$k.log)"
done
exit $status
