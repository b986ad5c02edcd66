#!/usr/bin/env python3
"""Crude code maps of 28x28 images, for measuring a PixelCNN prior without a
VQ-VAE (bench/pixelcnn.sh): each 7x7 patch of the 4x4 grid becomes one code
from the means of its four quadrants (3x3, 3x4, 4x3, 4x4 pixels), each cut
into 3 levels at 1/6 and 1/2 of full intensity: 3^4 = 81 codes.

Reads stream2txt's lines (label, then 784 values 0..255) on stdin, writes
"label code x16" lines for txt2stream -l -t i32 -s 4x4."""
import sys

EDGES = (0, 3, 7)  # quadrant starts within a 7x7 patch: rows/cols 0-2, 3-6


def level(mean):
    return 0 if mean < 255 / 6 else 1 if mean < 255 / 2 else 2


for line in sys.stdin:
    f = line.split()
    label, px = f[0], [int(v) for v in f[1:]]
    codes = []
    for py in range(4):
        for pxx in range(4):
            code = 0
            for qy in range(2):
                for qx in range(2):
                    y0, y1 = py * 7 + EDGES[qy], py * 7 + EDGES[qy + 1]
                    x0, x1 = pxx * 7 + EDGES[qx], pxx * 7 + EDGES[qx + 1]
                    s = sum(px[y * 28 + x] for y in range(y0, y1) for x in range(x0, x1))
                    code = code * 3 + level(s / ((y1 - y0) * (x1 - x0)))
            codes.append(code)
    print(label, *codes)
