#include "npy.h"

#include <stdlib.h>
#include <string.h>

static const unsigned char MAGIC[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
enum { ALIGN = 64, GROWTH_DIGITS = 21 }; /* numpy.lib.format's ARRAY_ALIGN, GROWTH_AXIS_MAX_DIGITS */

static const struct {
	int dtype;
	const char *descr;
	size_t size;
} DTYPES[] = {
	{NPY_U1, "|u1", 1}, {NPY_F4, "<f4", 4}, {NPY_F8, "<f8", 8}, {NPY_I1, "|i1", 1},
	{NPY_I2, "<i2", 2}, {NPY_I4, "<i4", 4}, {NPY_I8, "<i8", 8}, {NPY_U2, "<u2", 2},
	{NPY_U4, "<u4", 4}, {NPY_U8, "<u8", 8}, {NPY_F2, "<f2", 2}, {NPY_B1, "|b1", 1},
};
#define N_DTYPES (sizeof DTYPES / sizeof DTYPES[0])

size_t npy_dtype_size(int dtype)
{
	for (size_t i = 0; i < N_DTYPES; i++)
		if (DTYPES[i].dtype == dtype)
			return DTYPES[i].size;
	return 0;
}

const char *npy_descr(int dtype)
{
	for (size_t i = 0; i < N_DTYPES; i++)
		if (DTYPES[i].dtype == dtype)
			return DTYPES[i].descr;
	return NULL;
}

uint64_t npy_elems(const npy_header *h)
{
	uint64_t n = 1;
	for (int i = 0; i < h->ndim; i++)
		n *= h->shape[i];
	return n;
}

/* "(3,)", "(3, 28, 28)" or "()": Python's repr of the shape tuple. */
static size_t shape_repr(const npy_header *h, char *out, size_t len)
{
	size_t n = snprintf(out, len, "(");
	for (int i = 0; i < h->ndim && n < len; i++)
		n += snprintf(out + n, len - n, i ? ", %llu" : "%llu",
			      (unsigned long long)h->shape[i]);
	if (n < len)
		n += snprintf(out + n, len - n, h->ndim == 1 ? ",)" : ")");
	return n;
}

int npy_header_encode(const npy_header *h, unsigned char *buf, size_t len, vk_error *e)
{
	const char *descr = npy_descr(h->dtype);
	if (!descr)
		return vk_fail(e, "npy: unknown dtype %d", h->dtype);
	if (h->ndim < 0 || h->ndim > NPY_MAX_DIMS)
		return vk_fail(e, "npy: %d dimensions (at most %d)", h->ndim, NPY_MAX_DIMS);
	char shape[NPY_MAX_DIMS * 24 + 8], dict[512];
	shape_repr(h, shape, sizeof shape);
	int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
			 descr, shape);
	/* Like numpy.save: spare room so axis 0 can grow to 21 digits in place. */
	if (h->ndim > 0) {
		char first[24];
		int digits = snprintf(first, sizeof first, "%llu", (unsigned long long)h->shape[0]);
		for (int i = digits; i < GROWTH_DIGITS; i++)
			dict[n++] = ' ';
	}
	size_t hlen = n + 1; /* with the final newline */
	int version = 1;
	size_t prefix = NPY_PREFIX_V1;
	if (hlen + ALIGN > 65535) {
		version = 2;
		prefix = NPY_PREFIX_V2;
	}
	size_t pad = ALIGN - (prefix + hlen) % ALIGN; /* numpy pads a full 64 when aligned */
	size_t total = prefix + hlen + pad;
	if (total > len)
		return vk_fail(e, "npy: header buffer too small");
	memcpy(buf, MAGIC, 6);
	buf[6] = version;
	buf[7] = 0;
	size_t field = hlen + pad;
	for (size_t i = 0; i < prefix - 8; i++)
		buf[8 + i] = field >> (8 * i);
	memcpy(buf + prefix, dict, n);
	memset(buf + prefix + n, ' ', pad);
	buf[total - 1] = '\n';
	return (int)total;
}

int npy_header_size(const unsigned char *buf, size_t len, size_t *size, vk_error *e)
{
	if (len < 8 || memcmp(buf, MAGIC, 6) != 0)
		return vk_fail(e, "not a NumPy .npy file (bad magic)");
	if (buf[6] < 1 || buf[6] > 3 || buf[7] != 0)
		return vk_fail(e, "unsupported .npy version %u.%u (expected 1.0, 2.0 or 3.0)",
			       buf[6], buf[7]);
	size_t prefix = buf[6] == 1 ? NPY_PREFIX_V1 : NPY_PREFIX_V2;
	if (len < prefix)
		return vk_fail(e, "truncated .npy header");
	size_t dict = 0;
	for (size_t i = 0; i < prefix - 8; i++)
		dict |= (size_t)buf[8 + i] << (8 * i);
	if (dict > NPY_MAX_DICT)
		return vk_fail(e, ".npy header length %zu is over the limit of %u bytes", dict,
			       NPY_MAX_DICT);
	*size = prefix + dict;
	return 0;
}

/* A tiny parser for the one Python literal NumPy writes. */
typedef struct {
	const char *p, *end, *start;
	vk_error *e;
} parser;

static void skip_ws(parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' ||
				   *ps->p == '\r'))
		ps->p++;
}

static int expect(parser *ps, char c)
{
	skip_ws(ps);
	if (ps->p >= ps->end || *ps->p != c)
		return vk_fail(ps->e, ".npy header: expected '%c' at character %td", c,
			       ps->p - ps->start);
	ps->p++;
	return 0;
}

static int accept(parser *ps, char c)
{
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == c) {
		ps->p++;
		return 1;
	}
	return 0;
}

/* A quoted string without escapes, copied into out. */
static int parse_string(parser *ps, char *out, size_t len)
{
	skip_ws(ps);
	if (ps->p >= ps->end || (*ps->p != '\'' && *ps->p != '"'))
		return vk_fail(ps->e, ".npy header: expected a quoted string");
	char q = *ps->p++;
	size_t n = 0;
	while (ps->p < ps->end && *ps->p != q) {
		if (*ps->p == '\\' || n + 1 >= len)
			return vk_fail(ps->e, ".npy header: unexpected string value");
		out[n++] = *ps->p++;
	}
	if (ps->p >= ps->end)
		return vk_fail(ps->e, ".npy header: unterminated string");
	ps->p++;
	out[n] = 0;
	return 0;
}

static int parse_bool(parser *ps, int *v)
{
	skip_ws(ps);
	size_t left = ps->end - ps->p;
	if (left >= 4 && !memcmp(ps->p, "True", 4)) {
		ps->p += 4;
		*v = 1;
	} else if (left >= 5 && !memcmp(ps->p, "False", 5)) {
		ps->p += 5;
		*v = 0;
	} else {
		return vk_fail(ps->e, ".npy header: fortran_order is not True or False");
	}
	return 0;
}

static int parse_uint(parser *ps, uint64_t *v)
{
	skip_ws(ps);
	if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
		return vk_fail(ps->e, ".npy header: shape holds a non-integer");
	uint64_t x = 0;
	while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
		x = x * 10 + (*ps->p++ - '0');
		if (x > NPY_MAX_BYTES)
			return vk_fail(ps->e, ".npy header: dimension is too large");
	}
	*v = x;
	return 0;
}

/* "(N,)", "(A, B)", "()": a tuple needs its comma when it has one element. */
static int parse_shape(parser *ps, npy_header *h)
{
	if (expect(ps, '('))
		return -1;
	h->ndim = 0;
	int comma = 1;
	while (!accept(ps, ')')) {
		if (!comma)
			return vk_fail(ps->e, ".npy header: expected ',' or ')' in shape");
		if (h->ndim == NPY_MAX_DIMS)
			return vk_fail(ps->e, ".npy header: more than %d dimensions", NPY_MAX_DIMS);
		if (parse_uint(ps, &h->shape[h->ndim++]))
			return -1;
		comma = accept(ps, ',');
	}
	if (h->ndim == 1 && !comma)
		return vk_fail(ps->e, ".npy header: shape is not a tuple");
	return 0;
}

static int set_descr(parser *ps, const char *d, npy_header *h)
{
	char norm[64];
	snprintf(norm, sizeof norm, "%s", d);
	/* One-byte types have no byte order; NumPy writes '|', accept '<' and '=' too. */
	if ((norm[0] == '<' || norm[0] == '=') && norm[1] && norm[2] == '1' && !norm[3])
		norm[0] = '|';
	for (size_t i = 0; i < N_DTYPES; i++)
		if (!strcmp(norm, DTYPES[i].descr)) {
			h->dtype = DTYPES[i].dtype;
			return 0;
		}
	if (d[0] == '>')
		return vk_fail(ps->e, "big-endian .npy data ('%s') is not supported", d);
	return vk_fail(ps->e, "unsupported .npy dtype '%s' (supported: |u1, <f4, <f8, |i1, <i2, "
			      "<i4, <i8, <u2, <u4, <u8, <f2, |b1)", d);
}

static int parse_entry(parser *ps, npy_header *h, unsigned *seen)
{
	char key[32], val[64];
	if (parse_string(ps, key, sizeof key) || expect(ps, ':'))
		return -1;
	unsigned bit = !strcmp(key, "descr") ? 1 : !strcmp(key, "fortran_order") ? 2
		     : !strcmp(key, "shape") ? 4 : 0;
	if (!bit)
		return vk_fail(ps->e, ".npy header: unexpected key '%s'", key);
	if (*seen & bit)
		return vk_fail(ps->e, ".npy header: key '%s' given twice", key);
	*seen |= bit;
	if (bit == 1) {
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p != '\'' && *ps->p != '"')
			return vk_fail(ps->e, "unsupported .npy dtype (structured or not a string)");
		return parse_string(ps, val, sizeof val) || set_descr(ps, val, h) ? -1 : 0;
	}
	if (bit == 2)
		return parse_bool(ps, &h->fortran_order);
	return parse_shape(ps, h);
}

static int check_size(const npy_header *h, vk_error *e)
{
	uint64_t bytes = npy_dtype_size(h->dtype);
	for (int i = 0; i < h->ndim; i++) {
		if (h->shape[i] && bytes > NPY_MAX_BYTES / h->shape[i])
			return vk_fail(e, ".npy array is too large (over 2^62 bytes)");
		bytes *= h->shape[i];
	}
	return 0;
}

int npy_header_decode(const unsigned char *buf, size_t len, npy_header *h, vk_error *e)
{
	size_t size;
	memset(h, 0, sizeof *h);
	if (npy_header_size(buf, len, &size, e))
		return -1;
	if (size != len)
		return vk_fail(e, "truncated .npy header (%zu of %zu bytes)", len, size);
	h->version = buf[6];
	h->header_size = size;
	size_t prefix = h->version == 1 ? NPY_PREFIX_V1 : NPY_PREFIX_V2;
	const char *dict = (const char *)buf + prefix;
	parser ps = {dict, (const char *)buf + len, dict, e};
	unsigned seen = 0;
	if (expect(&ps, '{'))
		return -1;
	while (!accept(&ps, '}')) {
		if (parse_entry(&ps, h, &seen))
			return -1;
		if (!accept(&ps, ',')) {
			if (expect(&ps, '}'))
				return -1;
			break;
		}
	}
	skip_ws(&ps);
	if (ps.p != ps.end)
		return vk_fail(e, ".npy header: unexpected text after the dictionary");
	if (seen != 7)
		return vk_fail(e, ".npy header lacks %s", !(seen & 1) ? "'descr'"
			       : !(seen & 2) ? "'fortran_order'" : "'shape'");
	if (h->fortran_order)
		return vk_fail(e, "Fortran-order .npy arrays are not supported (save a C-order "
				  "array, e.g. numpy.ascontiguousarray)");
	return check_size(h, e);
}

int npy_header_read(FILE *f, const char *name, npy_header *h, vk_error *e)
{
	unsigned char *buf = malloc(NPY_MAX_HEADER);
	if (!buf)
		return vk_fail(e, "%s: out of memory", name);
	size_t got = fread(buf, 1, NPY_PREFIX_V2, f), size = 0;
	vk_error se;
	int rc = -1;
	if (ferror(f))
		vk_fail(e, "%s: read error:", name);
	else if (got == 0)
		vk_fail(e, "%s: empty input (expected a .npy file)", name);
	else if (npy_header_size(buf, got, &size, &se))
		vk_fail(e, "%s: %s", name, se.msg);
	else if (size > got && fread(buf + got, 1, size - got, f) != size - got)
		vk_fail(e, "%s: truncated .npy header", name);
	else if (npy_header_decode(buf, size, h, &se))
		vk_fail(e, "%s: %s", name, se.msg);
	else
		rc = 0;
	free(buf);
	return rc;
}
