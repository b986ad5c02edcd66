/* The .npy header codec: byte-exact NumPy headers, round trips, bad headers. */
#include <criterion/criterion.h>
#include <string.h>

#include "npy.h"
#include "testutil.h"

/* What numpy.save writes for np.zeros((3, 28, 28), np.float32) (NumPy 1.24). */
static const char NUMPY_3x28x28_F4[] =
	"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (3, 28, 28), }"
	"                                                     \n";
/* ... and for np.zeros(5, np.int32): a one-element tuple keeps its comma. */
static const char NUMPY_5_I4[] =
	"\x93NUMPY\x01\x00v\x00{'descr': '<i4', 'fortran_order': False, 'shape': (5,), }"
	"                                                            \n";

static void expect_encoding(const npy_header *h, const char *want, size_t want_len)
{
	unsigned char buf[512];
	vk_error e;
	int n = npy_header_encode(h, buf, sizeof buf, &e);
	cr_assert_eq(n, (int)want_len, "size %d, want %zu", n, want_len);
	cr_assert_eq(memcmp(buf, want, want_len), 0, "got %.*s", n, buf);
}

Test(npy_codec, header_is_what_numpy_writes)
{
	npy_header h = {.dtype = NPY_F4, .ndim = 3, .shape = {3, 28, 28}};
	expect_encoding(&h, NUMPY_3x28x28_F4, sizeof NUMPY_3x28x28_F4 - 1);
	npy_header l = {.dtype = NPY_I4, .ndim = 1, .shape = {5}};
	expect_encoding(&l, NUMPY_5_I4, sizeof NUMPY_5_I4 - 1);
}

Test(npy_codec, header_size_does_not_depend_on_the_count)
{
	unsigned char a[512], b[512];
	vk_error e;
	npy_header h = {.dtype = NPY_U1, .ndim = 2, .shape = {0, 784}};
	int n0 = npy_header_encode(&h, a, sizeof a, &e);
	h.shape[0] = 1ull << 40;
	int n1 = npy_header_encode(&h, b, sizeof b, &e);
	cr_assert_eq(n0, n1);
	cr_assert_eq(n0 % 64, 0);
}

Test(npy_codec, encode_decode_round_trip)
{
	for (int dtype = NPY_U1; dtype <= NPY_I8; dtype++)
		for (int ndim = 0; ndim <= 5; ndim++) {
			npy_header h = {.dtype = dtype, .ndim = ndim}, back;
			for (int i = 0; i < ndim; i++)
				h.shape[i] = 1 + i * 1000;
			unsigned char buf[512];
			vk_error e;
			int n = npy_header_encode(&h, buf, sizeof buf, &e);
			cr_assert_gt(n, 0);
			size_t size;
			cr_assert_eq(npy_header_size(buf, n, &size, &e), 0);
			cr_assert_eq(size, (size_t)n);
			cr_assert_eq(npy_header_decode(buf, n, &back, &e), 0, "%s", e.msg);
			cr_assert_eq(back.dtype, dtype);
			cr_assert_eq(back.ndim, ndim);
			cr_assert_eq(back.version, 1);
			cr_assert_eq(back.header_size, (size_t)n);
			for (int i = 0; i < ndim; i++)
				cr_assert_eq(back.shape[i], h.shape[i]);
		}
}

/* Decode a version-1 header made of the dictionary text dict. */
static int decode_dict(const char *dict, npy_header *h, vk_error *e)
{
	unsigned char buf[1024];
	size_t n = strlen(dict);
	memcpy(buf, "\x93NUMPY\x01\x00", 8);
	buf[8] = n & 0xff;
	buf[9] = n >> 8;
	memcpy(buf + 10, dict, n);
	e->msg[0] = 0;
	return npy_header_decode(buf, 10 + n, h, e);
}

static void expect_bad_dict(const char *dict, const char *msg)
{
	npy_header h;
	vk_error e;
	cr_assert_eq(decode_dict(dict, &h, &e), -1, "accepted %s", dict);
	cr_assert(strstr(e.msg, msg), "message '%s' lacks '%s'", e.msg, msg);
}

Test(npy_codec, accepts_other_spellings)
{
	npy_header h;
	vk_error e;
	cr_assert_eq(decode_dict("{\"shape\":(2,3),\"descr\":\"<u1\",\"fortran_order\":False}\n",
				 &h, &e), 0, "%s", e.msg);
	cr_assert_eq(h.dtype, NPY_U1);
	cr_assert_eq(h.shape[1], 3u);
	cr_assert_eq(decode_dict("{'descr': '<f8', 'fortran_order': False, 'shape': (), }   \n",
				 &h, &e), 0, "%s", e.msg);
	cr_assert_eq(h.ndim, 0);
}

Test(npy_codec, bad_headers_rejected)
{
	expect_bad_dict("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }\n",
			"big-endian");
	expect_bad_dict("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }\n",
			"Fortran-order");
	expect_bad_dict("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }\n",
			"unsupported .npy dtype '|O'");
	expect_bad_dict("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }\n",
			"structured");
	expect_bad_dict("{'descr': '<f4', 'shape': (2,), }\n", "lacks 'fortran_order'");
	expect_bad_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2), }\n",
			"not a tuple");
	expect_bad_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }\n",
			"non-integer");
	expect_bad_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}\n",
			"unexpected key 'x'");
	expect_bad_dict("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}",
			"given twice");
	expect_bad_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } junk\n",
			"after the dictionary");
	expect_bad_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2,1,1,1,1,1,1,1,1)}",
			"more than 8 dimensions");
	expect_bad_dict("{'descr': '<f8', 'fortran_order': False, "
			"'shape': (4611686018427387904, 2), }\n", "too large");
	expect_bad_dict("{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999,)}",
			"too large");
	expect_bad_dict("{'descr': '<f8'", "expected '}'");

	unsigned char buf[16] = "\x93NUMPX\x01\x00\x10\x00";
	size_t size;
	vk_error e;
	cr_assert_eq(npy_header_size(buf, 12, &size, &e), -1);
	cr_assert(strstr(e.msg, "bad magic"));
	memcpy(buf, "\x93NUMPY\x04\x00", 8);
	cr_assert_eq(npy_header_size(buf, 12, &size, &e), -1);
	cr_assert(strstr(e.msg, "unsupported .npy version 4.0"), "%s", e.msg);
	memcpy(buf, "\x93NUMPY\x02\x00\x00\x00\x00\x01", 12); /* 16 MiB dictionary */
	cr_assert_eq(npy_header_size(buf, 12, &size, &e), -1);
	cr_assert(strstr(e.msg, "over the limit"), "%s", e.msg);
	memcpy(buf, "\x93NUMPY\x03\x00\x40\x00\x00\x00", 12);
	cr_assert_eq(npy_header_size(buf, 12, &size, &e), 0);
	cr_assert_eq(size, 12u + 64);
}

Test(npy_codec, file_read_reports_truncation)
{
	const char *path = tmp_path("trunc.npy");
	cr_assert_eq(spit(path, NUMPY_5_I4, 60), 0);
	FILE *f = fopen(path, "rb");
	npy_header h;
	vk_error e;
	cr_assert_eq(npy_header_read(f, path, &h, &e), -1);
	cr_assert(strstr(e.msg, "truncated .npy header"), "%s", e.msg);
	fclose(f);
	cr_assert_eq(spit(path, NUMPY_5_I4, sizeof NUMPY_5_I4 - 1), 0);
	f = fopen(path, "rb");
	cr_assert_eq(npy_header_read(f, path, &h, &e), 0, "%s", e.msg);
	cr_assert_eq(h.shape[0], 5u);
	cr_assert_eq(ftell(f), 128);
	fclose(f);
}
