#!/bin/sh
# make check-fault's crash test (issue 27): training killed at any instant
# and resumed ends with the same model as an uninterrupted run.
# Usage: sh tests/fault/crash.sh BINDIR SHIM.so
#
# For an MLP and a conv VAE, each with KL warm-up, a learning-rate schedule
# and early stopping (which stops the run before its last epoch):
#  1. the uninterrupted run gives the reference MODEL and MODEL.last;
#  2. the same command is stopped with SIGINT once it has saved, and prints
#     the command that continues it ("continue with: ...");
#  3. that command is run K times (VK_CRASH_K, default 8), each killed with
#     SIGKILL at a moment drawn from a seeded generator (VK_CRASH_SEED): after
#     a random fraction of the reference run's time, or inside the Nth call
#     of fwrite, fsync or rename (our shim raises SIGKILL there: in the middle
#     of a checkpoint write); then once more to the end; and killed at the
#     two renames of the best epoch (its MODEL, then its MODEL.last);
#  4. the disk fills up (a tmpfs in a user namespace with room for MODEL,
#     MODEL.last and one temporary file, filled at a random moment) J times (VK_CRASH_J, default 3): each run fails with one line
#     naming the full disk, and the printed command continues after space is
#     freed;
# and the final MODEL and MODEL.last must equal the reference byte for byte,
# with no temporary file left. Exit status: 0 when all held.
set -u
set -f
BIN=$1
SHIM=$2
PATH=$BIN:$PATH
export PATH
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
K=${VK_CRASH_K:-8}
J=${VK_CRASH_J:-3}
SEED=${VK_CRASH_SEED:-27}
W=$(mktemp -d "${TMPDIR:-/tmp}/vaekit-crash.XXXXXX")
trap 'rm -rf "$W"' EXIT
failures=0
start=$(date +%s)

fail() {
	failures=$((failures + 1))
	echo "FAIL: crash test: $*"
}

mkdir "$W/in"
D=$ROOT/examples/data
idx2stream -n 200 -o "$W/in/tr.ts" "$D/digits-train-images-idx3-ubyte.gz" &&
stream-cat -n 40 -o "$W/in/tr40.ts" "$W/in/tr.ts" &&
idx2stream -n 100 -o "$W/in/te.ts" "$D/digits-test-images-idx3-ubyte.gz" ||
	{ echo "crash test: cannot make the inputs"; exit 1; }

# name|options (the model is m.vae in the working directory)
CONFIGS="mlp|-q -t 1 -z 8 --hidden 256 -b 20 --lr 3e-3 -e 40 --kl-warmup 3 --lr-schedule cosine --early-stop 2 --test $W/in/te.ts --log log.tsv -o m.vae $W/in/tr.ts
conv|-q -t 1 -z 16 --encoder conv:16:3:2,conv:32:3:2,dense:256 -b 8 --lr 3e-3 -e 30 --kl-warmup 2 --lr-schedule step:10:0.9 --early-stop 2 --test $W/in/te.ts -o m.vae $W/in/tr40.ts"

now() { date +%s.%N; }
seconds() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# Kill moments: "time F" (F times the reference run's time) or "call FUNC N".
moments() {
	awk -v seed="$1" -v k="$2" 'BEGIN { srand(seed); for (i = 0; i < k; i++) {
		if (rand() < 0.5) { printf "time %.3f\n", 0.02 + 0.18 * rand(); continue }
		f = int(rand() * 3)
		printf "call %s %d\n", f == 0 ? "fwrite" : f == 1 ? "fsync" : "rename", 1 + int(rand() * 4)
	} }'
}

# No temporary file may be left in directory $1.
no_debris() {
	if ls "$1" | grep -q '\.tmp......$'; then
		fail "$2: left $(ls "$1" | grep '\.tmp' | tr '\n' ' ')"
	fi
}

same_as_ref() {
	for f in m.vae m.vae.last; do
		cmp -s "$1/$f" "$W/ref-$name/$f" || fail "$2: $f differs from the uninterrupted run's"
	done
}

n_cfg=0
landed_all=0
echo "$CONFIGS" | while IFS='|' read -r name opts; do
	n_cfg=$((n_cfg + 1))
	# 1. the reference
	mkdir "$W/ref-$name"
	t0=$(now)
	# (counting the saves of MODEL: the epochs that improved)
	(cd "$W/ref-$name" && exec env VK_FAULT=rename VK_FAULT_PATH=m.vae VK_FAULT_N=0 \
		VK_FAULT_COUNT="$W/saves" LD_PRELOAD="$SHIM" vae-train $opts) 2> "$W/err" ||
		{ fail "$name: the run fails: $(cat "$W/err")"; continue; }
	tref=$(seconds "$t0" "$(now)")
	saves=$(cat "$W/saves")
	best=$(vae-info "$W/ref-$name/m.vae" | awk '$1 == "epochs" { print $2 }')

	# 2. SIGINT once it has saved: the printed command
	mkdir "$W/crash-$name"
	cd "$W/crash-$name" || exit 1
	vae-train $opts 2> err &
	pid=$!
	while [ ! -e m.vae.last ] && kill -0 $pid 2>/dev/null; do sleep 0.01; done
	kill -INT $pid 2>/dev/null
	wait $pid
	resume=$(sed -n 's/.* continue with: //p' err)
	if [ -z "$resume" ]; then
		fail "$name: SIGINT printed no command to continue with: $(cat err)"
		continue
	fi

	# 3. K kills, each resumed with the printed command
	landed=0 finished=0
	moments $((SEED + n_cfg)) "$K" > moments
	while read -r kind a b; do
		rm -f hit
		if [ "$kind" = time ]; then
			delay=$(awk -v f="$a" -v t="$tref" 'BEGIN { printf "%.3f", f * t }')
			eval "exec $resume" 2> err &
			pid=$!
			sleep "$delay"
			kill -KILL $pid 2>/dev/null
			wait $pid
			rc=$?
		else
			(eval "exec env VK_FAULT=$a VK_FAULT_N=$b VK_FAULT_SIGNAL=9 VK_FAULT_LOG=hit LD_PRELOAD=$SHIM $resume") 2> err
			rc=$?
		fi
		case $rc in
		137) landed=$((landed + 1)) ;; # its temporary file goes at the next start
		0) finished=1; break ;;
		*) fail "$name: killed ($kind $a $b): exit $rc: $(cat err)"; break ;;
		esac
	done < moments
	# (a kill may land after the last save: then the run is over)
	if [ $finished = 0 ] && ! eval "$resume" 2> err &&
	   ! grep -q 'stopped early after epoch\|already has' err; then
		fail "$name: the last resume fails: $(cat err)"
	fi
	no_debris . "$name"
	same_as_ref . "$name: $landed kills"
	echo "crash test: $name: $landed of $K SIGKILLs landed (reference run ${tref}s)"

	# 3b. the instants between an improved epoch's two files, which early
	#     stopping writes in turn: killed just before the best epoch's MODEL,
	#     then just before its MODEL.last, is renamed into place
	for at in "m.vae $saves" "m.vae.last $best"; do
		set -- $at
		mkdir "$W/at-$name-$1"
		cd "$W/at-$name-$1" || exit 1
		(exec env VK_FAULT=rename VK_FAULT_PATH=$1 VK_FAULT_N=$2 VK_FAULT_SIGNAL=9 \
			LD_PRELOAD="$SHIM" vae-train $opts) 2> err
		rc=$?
		[ $rc = 137 ] || fail "$name: not killed at rename $2 to $1: exit $rc"
		eval "$resume" 2> err || fail "$name: killed at rename $2 to $1: resume fails: $(cat err)"
		no_debris . "$name: killed at rename $2 to $1"
		same_as_ref . "$name: killed at rename $2 to $1"
	done

	# 4. the disk fills up during a checkpoint
	if ! unshare -r -m true 2>/dev/null; then
		echo "crash test: cannot mount a tmpfs here: the full-disk runs are skipped"
		continue
	fi
	mkdir "$W/full-$name"
	awk -v seed=$((SEED + 10 + n_cfg)) -v j="$J" -v t="$tref" \
		'BEGIN { srand(seed); for (i = 0; i < j; i++) printf "%.3f\n", (0.02 + 0.15 * rand()) * t }' > "$W/fills-$name"
	cat > "$W/full-$name.sh" <<EOF
cd "$W/full-$name" && mount -t tmpfs -o size=\$((3 * $(wc -c < "$W/ref-$name/m.vae") / 1024 + 1024))k none . &&
	cd "$W/full-$name" || exit 9
cmd="vae-train $opts"
fills=0
while read -r delay; do
	eval "exec \$cmd" 2> "$W/err-full" &
	pid=\$!
	sleep "\$delay"
	cat /dev/zero > fill 2>/dev/null
	wait \$pid
	rc=\$?
	rm -f fill
	if [ -e m.vae ]; then cmd="$resume"; fi
	[ \$rc = 0 ] && break
	if [ \$rc != 1 ] || [ "\$(wc -l < "$W/err-full")" != 1 ] ||
	   ! grep -q '^vae-train: .*No space left on device' "$W/err-full"; then
		echo "FAIL: crash test: $name: disk full: exit \$rc: \$(cat "$W/err-full")"
		exit 1
	fi
	ls | grep -q '\.tmp......\$' && echo "FAIL: crash test: $name: disk full: left a temporary file"
	fills=\$((fills + 1))
done < "$W/fills-$name"
[ \$rc = 0 ] || eval "\$cmd" 2> "$W/err-full" ||
	{ echo "FAIL: crash test: $name: disk full: the last resume fails: \$(cat "$W/err-full")"; exit 1; }
for f in m.vae m.vae.last; do
	cmp -s \$f "$W/ref-$name/\$f" || echo "FAIL: crash test: $name: disk full \$fills times: \$f differs from the uninterrupted run's"
done
echo "crash test: $name: the disk filled up \$fills of $J times"
EOF
	unshare -r -m sh "$W/full-$name.sh" || fail "$name: the full-disk runs failed"
done > "$W/report" 2>/dev/null # not the shell's "Killed" for each kill
cat "$W/report"
failures=$(grep -c '^FAIL' "$W/report")
echo "crash test: $failures failures in $(($(date +%s) - start))s"
[ "$failures" -eq 0 ]
