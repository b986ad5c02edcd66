#!/bin/sh
# bench/vectorize-check.sh "CC FLAGS" "MARCHS" UNIT.c... — `make vectorize-check`.
# Compiles each unit once per -march value in MARCHS (e.g. "x86-64-v3
# x86-64-v4") with gcc's vectoriser report (-fopt-info-vec-all) and checks the
# loops marked hot: a line holding only the comment /* hot */, right above the
# loop's `for` (an `omp simd` pragma may sit between them). A hot loop passes
# when gcc reports it vectorised and never reports it not vectorised (a loop
# in an inline function is compiled once per caller: every copy must
# vectorise). Prints a line per hot loop and march; exits 1 if any fails, 2
# if a unit fails to compile or has no hot loop.
set -u
cc=${1:?usage: vectorize-check.sh "CC FLAGS" "MARCHS" UNIT.c...}
marchs=${2:?}
shift 2
tmp=${TMPDIR:-/tmp}/vectorize-check.$$
trap 'rm -f "$tmp".*' EXIT
fail=0 total=0
for unit in "$@"; do
	# Each hot loop as FIRST-LAST: the lines from the marker's next line to
	# the `for` line. gcc reports a loop at its `for` line, or at its
	# `#pragma omp simd` line when it has one.
	lines=$(awk '/^[ \t]*\/\* hot \*\/[ \t]*$/ {want = FNR + 1; next}
		want && /^[ \t]*(#|$)/ {next}
		want {if ($0 ~ /^[ \t]*for[ \t]*\(/) print want "-" FNR; else printf "%s:%d: /* hot */ not followed by a for loop\n", FILENAME, FNR > "/dev/stderr"; want = 0}' "$unit")
	if [ -z "$lines" ]; then
		echo "vectorize-check: $unit: no loop marked /* hot */" >&2
		exit 2
	fi
	for m in $marchs; do
		if ! $cc -march="$m" -fopt-info-vec-all -c -o "$tmp.o" "$unit" 2>"$tmp.log"; then
			cat "$tmp.log" >&2
			echo "vectorize-check: $unit does not compile with -march=$m" >&2
			exit 2
		fi
		for range in $lines; do
			total=$((total + 1))
			first=${range%-*} l=${range#*-}
			# gcc's lines: UNIT:LINE:COL: optimized|missed: ..., kept for
			# the lines FIRST..LAST
			awk -F: -v u="$unit" -v a="$first" -v b="$l" '$1 == u && $2 >= a && $2 <= b' "$tmp.log" >"$tmp.loop"
			ok=$(grep -c ": optimized: loop vectorized" "$tmp.loop")
			bad=$(grep ": missed: \(not vectorized\|couldn't vectorize\)" "$tmp.loop" | sed 's/^.* missed: //' | sort -u | paste -sd ';' -)
			src=$(sed -n "${l}p" "$unit" | sed 's/^[ \t]*//')
			if [ "$ok" -gt 0 ] && [ -z "$bad" ]; then
				printf 'ok    %-10s %s:%d  %s\n' "$m" "$unit" "$l" "$src"
			else
				fail=$((fail + 1))
				printf 'FAIL  %-10s %s:%d  %s\n      gcc: %s\n' "$m" "$unit" "$l" "$src" "${bad:-no vectorized report}"
			fi
		done
	done
done
echo "vectorize-check: $((total - fail)) of $total hot loop builds vectorised ($marchs)"
[ "$fail" = 0 ]
