#!/bin/sh
# bench/pack-16core.sh — prepare what bench/run-16core.sh needs on the 16-core
# benchmark host (/work/shared/BENCH-HOST.md: no package manager, nothing of
# ours installed, the checkout and what it carries ≤ 64 MiB): the portable
# build's programs (those without libvips or MPI), the GEMM probe, and the
# shared libraries
# they load that a bare glibc system lacks, in .devcarry/ (git-ignored).
# OpenBLAS (36 MB) travels xz-compressed; run-16core.sh unpacks it with xz or
# python3's lzma. Then carry .devcarry along and run bench/run-16core.sh there.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
C=$ROOT/.devcarry
make -C "$ROOT" PORTABLE=1 all >&2
rm -rf "$C"
mkdir -p "$C/bin" "$C/lib"
for p in vae-train vae-info vae-encode vae-decode vae-sample kl-eval idx2stream stream-cat stream-info; do
	cp "$ROOT/build-portable/bin/$p" "$C/bin/"
done
# The GEMM probe (bench/sgemm_probe.c), for its --split table, built for any x86-64.
cc -O3 -march=x86-64 -mtune=generic -fno-math-errno -std=c11 -D_GNU_SOURCE -o "$C/bin/sgemm_probe" \
	"$ROOT/bench/sgemm_probe.c" $(pkg-config --cflags --libs openblas) -lm -lpthread
# Every library the programs load, under its SONAME, except glibc's own.
for p in "$C"/bin/*; do ldd "$p"; done | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' | sort -u |
while read -r soname path; do
	case $soname in
	libc.so* | libm.so* | libpthread.so* | libdl.so* | librt.so* | ld-linux* | libgcc_s.so*) continue ;;
	esac
	if [ "$(stat -L -c %s "$path")" -gt 4000000 ]; then
		xz -T2 -6 -c "$path" > "$C/lib/$soname.xz"
	else
		cp -L "$path" "$C/lib/$soname"
	fi
done
exclude=$(git -C "$ROOT" rev-parse --git-path info/exclude)
case $exclude in /*) ;; *) exclude=$ROOT/$exclude ;; esac
mkdir -p "$(dirname "$exclude")"
grep -qx '/.devcarry/' "$exclude" 2>/dev/null || echo '/.devcarry/' >> "$exclude"
du -sh "$C" >&2
ls -l "$C/lib" >&2
echo "pack-16core: carry .devcarry, then on the host: sh bench/run-16core.sh" >&2
