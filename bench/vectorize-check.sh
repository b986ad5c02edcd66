#!/bin/sh
# bench/vectorize-check.sh "CC FLAGS" "MARCHS" UNIT.c... — `make vectorize-check`.
# Compiles each unit once per -march value in MARCHS (e.g. "x86-64-v3
# x86-64-v4") with gcc's vectoriser report (-fopt-info-vec-all) and checks the
# loops marked hot: a line holding only the comment /* hot */, right above the
# loop's `for` (an `omp simd` pragma may sit between them). A hot loop passes
# when gcc reports it vectorised and never reports that it couldn't vectorise
# it (a loop in an inline function is compiled once per caller: every copy
# must vectorise). Prints a line per hot loop and march; exits 1 if any fails, 2
# if a unit fails to compile or has no hot loop.
set -u
cc=${1:?usage: vectorize-check.sh "CC FLAGS" "MARCHS" UNIT.c...}
marchs=${2:?}
shift 2
tmp=${TMPDIR:-/tmp}/vectorize-check.$$
trap 'rm -f "$tmp".*' EXIT
fail=0 total=0
for unit in "$@"; do
	# Each hot loop as FIRST-FOR-LAST: the lines from the marker's next line
	# to the end of the loop's body, and its `for` line. gcc reports a loop at its `for` line, at
	# its `#pragma omp simd` line, or (an omp simd loop that fails) at the
	# first statement of its body.
	lines=$(awk '
		function count(str, ch) { return gsub(ch, "", str) }
		state == 0 && /^[ \t]*\/\* hot \*\/[ \t]*$/ {first = FNR + 1; state = 1; next}
		state == 1 && /^[ \t]*(#|$)/ {next}
		state == 1 {
			if ($0 !~ /^[ \t]*for[ \t]*\(/) {
				printf "%s:%d: /* hot */ not followed by a for loop\n", FILENAME, FNR > "/dev/stderr"
				state = 0; next
			}
			forl = FNR; depth = count($0, "[{]") - count($0, "[}]")
			if (depth > 0) {state = 2; next}	# a braced body: to the matching }
			if ($0 ~ /;[ \t]*$/) {print first "-" forl "-" FNR; state = 0; next}
			state = 3; next				# one statement on the next lines
		}
		state == 2 {depth += count($0, "[{]") - count($0, "[}]"); if (depth <= 0) {print first "-" forl "-" FNR; state = 0}; next}
		state == 3 && /;[ \t]*$/ {print first "-" forl "-" FNR; state = 0}' "$unit")
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
			first=${range%%-*} rest=${range#*-}
			l=${rest%-*} last=${rest#*-}
			# gcc's lines: UNIT:LINE:COL: optimized|missed: ..., kept for
			# the lines FIRST..LAST
			awk -F: -v u="$unit" -v a="$first" -v b="$last" '$1 == u && $2 >= a && $2 <= b' "$tmp.log" >"$tmp.loop"
			ok=$(grep -c ": optimized: loop vectorized" "$tmp.loop")
			# gcc says "couldn't vectorize loop" at the location of each loop
			# it gives up on (an enclosing row loop's attempts are reported
			# elsewhere), and why in a "not vectorized: ..." line there.
			bad=$(grep ": missed: couldn't vectorize loop" "$tmp.loop" | cut -d: -f1-3 | sort -u |
				while read -r at; do
					grep -F "$at: missed: not vectorized" "$tmp.loop" | sed 's/^.* missed: not vectorized: */not vectorized: /' | head -n 1
					echo "at $at"
				done | paste -sd ' ' -)
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
