#!/bin/sh
# make check-fault: injected I/O faults in every -o writer (issue 13).
# Usage: sh tests/fault/run.sh BINDIR SHIM.so
#
# For every writer, three kinds of fault, each run checked the same way:
#  1. our shim (tests/fault/shim.c) fails the 1st, 2nd, ... call of fwrite,
#     fflush, fclose, fsync, rename, fopen, fdopen, mkstemp, fseek, tmpfile in
#     turn, until the program makes no more such calls;
#  2. libfiu (fiu-run -x) fails every call of each of its failure points
#     (write, fsync, open, malloc, fwrite, ...), and then each at random;
#  3. a full disk: a 64 KiB tmpfs (mounted in a user namespace; skipped where
#     that is not allowed);
# then producers writing into a pipe, their faults seen by the consumer (the
# stream end marker, formats/tensor-stream.md);
# and the crash test (tests/fault/crash.sh): training killed with SIGKILL at
# random moments and on a full disk, resumed, ends with the uninterrupted
# run's model.
# A run passes when it either succeeds with the right output, or exits 1 with
# one line "prog: ..." on stderr, leaves no temporary file, and leaves the
# output that existed before (here the text OLD) as it was. A crash, a hang,
# a second line, a partial or missing output, or exit 0 with a wrong output
# fails the check. Exit status: 0 when every run passed.
set -u
set -f   # the commands below are split into words, never globbed
BIN=$1
SHIM=$2
PATH=$BIN:$PATH
export PATH
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
W=$(mktemp -d "${TMPDIR:-/tmp}/vaekit-fault.XXXXXX")
trap 'rm -rf "$W"' EXIT
failures=0
runs=0

# Inputs: labelled 8x8 f32 images (f.ts, and fu.ts with the count unknown),
# their text and npy forms, 100 digits as IDX and as a stream, a small model.
mkdir "$W/in"
cd "$W/in" || exit 1
awk 'BEGIN{for(i=0;i<40;i++){printf "%d", i%3; for(j=0;j<64;j++)printf "\t%g", (i*64+j)%17/16; print ""}}' > f.txt
txt2stream -l --shape 8x8 -o f.ts f.txt &&
stream-cat f.ts > fu.ts &&
stream2npy -o a.npy -l l.npy f.ts &&
gzip -dc "$ROOT/examples/data/digits-test-images-idx3-ubyte.gz" | head -c 78416 > img.idx &&
gzip -dc "$ROOT/examples/data/digits-test-labels-idx1-ubyte.gz" | head -c 108 > lab.idx &&
idx2stream -n 100 -o d.ts img.idx lab.idx &&
vae-train -q -t 1 -z 2 --hidden 8 -e 1 -o M.vkm d.ts &&
vae-encode -m M.vkm -o z.ts d.ts &&
vae-train -q -t 1 -m vqvae --hidden 8 -z 2 --codes 4 -e 1 -o Q.vkm d.ts &&
vae-encode -m Q.vkm --codes -o c.ts d.ts || { echo "check-fault: cannot make the inputs"; exit 1; }
awk 'BEGIN{for(i=0;i<30;i++)for(j=0;j<16;j++)printf "%d%s", (i+j/4)%5, j<15?" ":"\n"}' |
    txt2stream -t i32 -s 4x4 -o pc.ts &&
vae-train -q -t 1 -m pixelcnn --codes 5 --layers mconv:4:3:A -e 1 -o P.vkm pc.ts ||
    { echo "check-fault: cannot make the inputs"; exit 1; }
cd "$W" || exit 1

# name|command|outputs (run in a copy of the inputs)
WRITERS='stream-cat|stream-cat -o out.ts f.ts fu.ts|out.ts
stream-split|stream-split -k 3 -p out f.ts|out0000.ts out0001.ts out0002.ts
stream2npy|stream2npy -o out.npy -l outl.npy f.ts|out.npy outl.npy
stream2npy|stream2npy -o out.npy fu.ts|out.npy
npy2stream|npy2stream -o out.ts -l l.npy a.npy|out.ts
txt2stream|txt2stream -l --shape 8x8 -o out.ts f.txt|out.ts
txt2stream|txt2stream -l --standardize -o out.ts f.txt|out.ts
stream-perturb|stream-perturb -r 0.5 -o out.ts f.ts|out.ts
stream2txt|stream2txt -o out.txt f.ts|out.txt
idx2stream|idx2stream -n 50 -o out.ts img.idx lab.idx|out.ts
dsprites2stream|dsprites2stream -n 40 --seed 2 -o out.ts -f outf.ts|out.ts outf.ts
png-grid|png-grid -o out.png f.ts|out.png
latent-plot|latent-plot -o out.png z.ts|out.png
vae-encode|vae-encode -m M.vkm -o out.ts d.ts|out.ts
vae-decode|vae-decode -m M.vkm -o out.ts z.ts|out.ts
vae-encode|vae-encode -m Q.vkm --codes -o out.ts d.ts|out.ts
vae-decode|vae-decode -m Q.vkm -o out.ts c.ts|out.ts
vae-sample|vae-sample -m M.vkm -n 5 -o out.ts|out.ts
vae-interp|vae-interp -m M.vkm -N 4 -o out.ts d.ts|out.ts
vae-train|vae-train -q -t 1 -z 2 --hidden 8 -e 1 -o out.vkm d.ts|out.vkm
vae-sample|vae-sample -m P.vkm -n 5 -o out.ts|out.ts
vae-train|vae-train -q -t 1 -m pixelcnn --codes 5 --layers mconv:4:3:A -e 1 -o out.vkm pc.ts|out.vkm'

fresh() {
	rm -rf "$W/run"
	cp -r "$W/in" "$W/run"
	for o in $1; do echo OLD > "$W/run/$o"; done
}

fail() {
	failures=$((failures + 1))
	echo "FAIL: $*"
	[ -s "$W/run/err" ] && sed 's/^/    stderr: /' "$W/run/err" | head -5
}

# check NAME OUTPUTS RC WHAT: the run just made in $W/run.
check() {
	name=$1 outs=$2 rc=$3 what=$4
	echo "RUN $what"
	if [ "$rc" -ge 124 ]; then
		fail "$what: killed or crashed (status $rc)"
		return
	fi
	# A file whose unlink(2) fails cannot be removed: with unlink failing,
	# stream-split and stream2npy -l (which keep each old version until all
	# are in place) leave the old one as NAME.tmpXXXXXX. Only that is allowed.
	case $what in *posix/io/dir/unlink*) leftovers_ok=1 ;; *) leftovers_ok=0 ;; esac
	if [ $leftovers_ok = 0 ] && ls "$W/run" | grep -q '\.tmp......$'; then
		fail "$what: left a temporary file: $(ls "$W/run" | grep '\.tmp')"
	fi
	if [ "$rc" -eq 0 ]; then
		for o in $outs; do
			cmp -s "$W/run/$o" "$W/ref/$o" || fail "$what: exit 0 but $o is wrong"
		done
		return
	fi
	[ "$rc" -eq 1 ] || fail "$what: exit $rc, expected 1"
	lines=$(wc -l < "$W/run/err")
	[ "$lines" -eq 1 ] || fail "$what: $lines lines on stderr"
	head -1 "$W/run/err" | grep -q "^$name: ." || fail "$what: stderr is not '$name: ...'"
	for o in $outs; do
		[ "$(cat "$W/run/$o" 2>/dev/null)" = OLD ] || fail "$what: $o was not kept"
	done
}

FUNCS='fwrite fflush fclose fsync rename fopen fdopen mkstemp fseek tmpfile'
FIU_POINTS='posix/stdio/rw/fwrite posix/stdio/fflush posix/stdio/oc/fclose
posix/stdio/oc/fopen posix/stdio/oc/fdopen posix/stdio/seek/fseek posix/stdio/seek/fseeko
posix/io/sync/fsync posix/io/dir/rename posix/io/dir/unlink posix/io/rw/write
posix/io/oc/open posix/io/oc/close posix/io/rw/read posix/stdio/rw/fread
posix/stdio/gp/fputs posix/stdio/gp/fputc libc/mm/malloc libc/mm/calloc libc/mm/realloc'
have_fiu=0
command -v fiu-run >/dev/null && have_fiu=1
[ $have_fiu = 1 ] || echo "check-fault: no fiu-run (Debian fiu-utils): libfiu runs skipped"

echo "$WRITERS" | while IFS='|' read -r name cmd outs; do
	# The reference output, and whether the program is deterministic.
	fresh "$outs"
	(cd "$W/run" && eval "$cmd") 2> "$W/run/err" || { fail "$cmd: fails without faults"; continue; }
	rm -rf "$W/ref"
	mkdir "$W/ref"
	for o in $outs; do cp "$W/run/$o" "$W/ref/$o"; done

	for f in $FUNCS; do
		n=1
		while [ $n -le 400 ]; do
			fresh "$outs"
			# The shim goes to the program alone, not to timeout or a shell.
			(cd "$W/run" && timeout 60 env VK_FAULT=$f VK_FAULT_N=$n \
				VK_FAULT_LOG="$W/run/hit" LD_PRELOAD="$SHIM" $cmd) 2> "$W/run/err"
			rc=$?
			[ -e "$W/run/hit" ] || break   # fewer than n calls: done with f
			check "$name" "$outs" $rc "$cmd [$f call $n fails]"
			n=$((n + 1))
		done
	done

	[ $have_fiu = 1 ] || continue
	for p in $FIU_POINTS; do
		# OpenBLAS allocates its own buffers with malloc and does not check
		# them: a failure there crashes inside sgemm (seen: a segfault in
		# sgemm_small_kernel after an injected malloc failure), which no caller
		# can prevent. So the model programs, which call OpenBLAS, skip libfiu's
		# libc/mm points; every other writer keeps them.
		case $name:$p in vae-*:libc/mm/*) continue ;; esac
		for mode in "enable name=$p" "enable_random name=$p,probability=0.2" \
			    "enable_random name=$p,probability=0.05"; do
			fresh "$outs"
			(cd "$W/run" && timeout 60 fiu-run -x -f '' -c "$mode" $cmd) 2> "$W/run/err"
			check "$name" "$outs" $? "$cmd [fiu $mode]"
		done
	done
done > "$W/report"

# Producers into a pipe (issue 27): a stream on standard output has no
# declared count and ends with its end marker, written only on success. Each
# call of fwrite, fflush and fclose in the producer alone fails in turn; the
# consumer behind it must then either succeed with the right output (the
# fault came after the whole stream was through) or exit 1 with one line
# "consumer: ..." and keep the old output. Exit 0 with a part is the bug the
# marker exists to prevent.
PIPES='stream-cat f.ts fu.ts|stream-cat|stream-cat -o out.ts|out.ts
txt2stream -l --shape 8x8 f.txt|stream2txt|stream2txt -o out.txt|out.txt
vae-encode -m M.vkm d.ts|latent-gmm|latent-gmm -q -k 2 -o out.prior|out.prior
vae-decode -m M.vkm z.ts|stream2npy|stream2npy -o out.npy|out.npy
vae-sample -m M.vkm -n 30 --latent-only|vae-train|vae-train -q -t 1 -z 2 --hidden 8 -e 1 --loss gaussian -o out.vkm|out.vkm'
echo "$PIPES" | while IFS='|' read -r producer name consumer outs; do
	fresh "$outs"
	(cd "$W/run" && $producer | $consumer) 2> "$W/run/err" ||
		{ fail "$producer | $consumer: fails without faults"; continue; }
	rm -rf "$W/ref"
	mkdir "$W/ref"
	for o in $outs; do cp "$W/run/$o" "$W/ref/$o"; done
	for f in fwrite fflush fclose; do
		n=1
		while [ $n -le 400 ]; do
			fresh "$outs"
			(cd "$W/run" && { timeout 60 env VK_FAULT=$f VK_FAULT_N=$n \
				VK_FAULT_LOG="$W/run/hit" LD_PRELOAD="$SHIM" $producer 2>/dev/null; } |
				timeout 60 $consumer) 2> "$W/run/err"
			rc=$?
			[ -e "$W/run/hit" ] || break
			check "$name" "$outs" $rc "$producer [$f call $n fails] | $consumer"
			n=$((n + 1))
		done
	done
done >> "$W/report"
grep -v '^RUN ' "$W/report"
failures=$(grep -c '^FAIL' "$W/report")
runs=$(grep -c '^RUN ' "$W/report")

# A full disk: a 64 KiB tmpfs where an old output already takes a page.
if unshare -r -m true 2>/dev/null; then
	for spec in "stream-cat|stream-cat -o D/out.ts big.ts" \
		    "stream2npy|stream2npy -o D/out.npy big.ts" \
		    "stream2txt|stream2txt -o D/out.txt big.ts" \
		    "vae-decode|vae-decode -m M.vkm -o D/out.ts bigz.ts"; do
		name=${spec%%|*} cmd=${spec#*|}
		fresh ""
		(cd "$W/run" && stream-cat f.ts f.ts f.ts f.ts f.ts f.ts f.ts f.ts -o big.ts &&
			vae-sample -m M.vkm -n 2000 --latent-only -o bigz.ts && mkdir D) 2>/dev/null
		(cd "$W/run" && unshare -r -m sh -c "mount -t tmpfs -o size=64k none D &&
			echo OLD > D/out && for f in D/out.ts D/out.npy D/out.txt; do cp D/out \$f; done &&
			$cmd; rc=\$?; ls D | grep -q tmp && echo TEMP >&2; for f in D/out.*; do
			[ \"\$(cat \$f)\" = OLD ] || echo CHANGED >&2; done; exit \$rc") 2> "$W/run/err"
		rc=$?
		if [ $rc -ne 1 ] || ! grep -q "^$name: .*No space left on device" "$W/run/err" ||
		   grep -q 'TEMP\|CHANGED' "$W/run/err" || [ "$(wc -l < "$W/run/err")" -ne 1 ]; then
			failures=$((failures + 1))
			echo "FAIL: full disk: $cmd: exit $rc: $(cat "$W/run/err")"
		fi
	done
else
	echo "check-fault: cannot mount a tmpfs here: the full-disk runs are skipped"
fi

# Training killed at random moments (SIGKILL, also inside checkpoint writes)
# and on a full disk, resumed to the uninterrupted run's model.
sh "$ROOT/tests/fault/crash.sh" "$BIN" "$SHIM" || failures=$((failures + 1))

echo "check-fault: $runs faulty runs checked, a full disk, and the crash test; $failures failures"
[ "$failures" -eq 0 ]
