#!/bin/sh
# Install the Debian packages vaekit needs, when they are missing.
# As root it runs apt-get; otherwise it prints the exact command to run.
PKGS="build-essential libopenblas-dev libpng-dev libvips-dev libjpeg-dev tango-icon-theme libcriterion-dev zlib1g-dev pkg-config dataset-fashion-mnist gnuplot-nox libopenmpi-dev openmpi-bin fiu-utils python3-numpy"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
	echo "deps: installing$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2 && apt-get install -y -qq $missing >&2 || {
		echo "deps: apt-get install failed for:$missing" >&2; exit 1; }
else
	echo "deps: missing packages:$missing" >&2
	echo "deps: run: sudo apt-get install$missing" >&2
	exit 1
fi
