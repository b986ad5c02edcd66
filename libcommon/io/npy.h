/* NumPy .npy files (numpy.lib.format): the header we write is byte for byte
 * what numpy.save writes; the reader accepts versions 1.0, 2.0 and 3.0 with
 * little-endian numeric dtypes in C order and checks every size before use.
 * Encode and decode work on memory buffers so that they can be fuzzed. */
#ifndef VK_NPY_H
#define VK_NPY_H

#include <stdint.h>
#include <stdio.h>
#include "err.h"

enum { NPY_U1 = 1, NPY_F4, NPY_F8, NPY_I1, NPY_I2, NPY_I4, NPY_I8, NPY_U2, NPY_U4, NPY_U8, NPY_F2,
       NPY_B1 };
#define NPY_MAX_DIMS 8
#define NPY_PREFIX_V1 10          /* magic, version, 2-byte length */
#define NPY_PREFIX_V2 12          /* magic, version, 4-byte length */
#define NPY_MAX_DICT 65536u       /* longest header dictionary we read */
#define NPY_MAX_HEADER (NPY_PREFIX_V2 + NPY_MAX_DICT)
#define NPY_MAX_BYTES (1ull << 62) /* data bytes of an array, checked when decoding */

typedef struct {
	int dtype;                   /* NPY_* */
	int ndim;
	uint64_t shape[NPY_MAX_DIMS];
	int fortran_order;
	int version;                 /* 1, 2 or 3 */
	size_t header_size;          /* bytes before the data */
} npy_header;

size_t npy_dtype_size(int dtype);
/* The descr string NumPy writes: "|u1", "<f4", ... */
const char *npy_descr(int dtype);
/* Product of the shape (the array's elements); ≤ NPY_MAX_BYTES after decode. */
uint64_t npy_elems(const npy_header *h);

/* Write NumPy's header for h (C order) into buf; returns its size, a multiple of
 * 64, or -1. Axis 0 gets NumPy's spare room for 21 digits, so a header
 * re-encoded with another first dimension has the same size (for patching). */
int npy_header_encode(const npy_header *h, unsigned char *buf, size_t len, vk_error *e);

/* How many bytes the whole header takes, from its first 12 bytes (len ≥ 12):
 * checks the magic, version and length field. Returns 0 or -1. */
int npy_header_size(const unsigned char *buf, size_t len, size_t *size, vk_error *e);
/* Parse a complete header of len bytes (as sized by npy_header_size). */
int npy_header_decode(const unsigned char *buf, size_t len, npy_header *h, vk_error *e);
/* Read and decode the header from f; name is used in messages. */
int npy_header_read(FILE *f, const char *name, npy_header *h, vk_error *e);

#endif
