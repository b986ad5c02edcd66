#include "idx.h"
#include "afile.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static const char *type_name(int t)
{
	switch (t) {
	case 0x08: return "unsigned byte";
	case 0x09: return "signed byte";
	case 0x0B: return "16-bit integer";
	case 0x0C: return "32-bit integer";
	case 0x0D: return "32-bit float";
	case 0x0E: return "64-bit float";
	}
	return "unknown";
}

static uint32_t get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Read n bytes (gzread takes an int-sized length); returns bytes read, -1 on error. */
static long read_bytes(vk_idx *x, void *buf, size_t n)
{
	size_t done = 0;
	while (done < n) {
		size_t want = n - done > (1u << 30) ? (1u << 30) : n - done;
		int got = gzread(x->gz, (char *)buf + done, (unsigned)want);
		if (got < 0)
			return -1;
		if (got == 0)
			break;
		done += (size_t)got;
	}
	return (long)done;
}

/* Report a short read at `where`: corrupt compressed data, an I/O error,
 * or the plain end of the file. Returns -1. */
static int read_failure(vk_idx *x, const char *where, vk_error *e)
{
	int errnum = Z_OK;
	const char *msg = gzerror(x->gz, &errnum);
	if (errnum == Z_ERRNO)
		return vk_fail(e, "%s: read error in %s: %s", x->name, where, strerror(errno));
	if (errnum == Z_DATA_ERROR || errnum == Z_MEM_ERROR)
		return vk_fail(e, "%s: corrupt gzip data in %s (%s)", x->name, where, msg);
	if (errnum == Z_BUF_ERROR)
		return vk_fail(e, "%s: truncated: compressed data ends in %s", x->name, where);
	return vk_fail(e, "%s: truncated: file ends in %s", x->name, where);
}

static int gz_failed(vk_idx *x)
{
	int errnum = Z_OK;
	gzerror(x->gz, &errnum);
	return errnum != Z_OK && errnum != Z_BUF_ERROR;
}

static int check_dims(vk_idx *x, const unsigned char *raw, int ndim, vk_error *e)
{
	x->count = get_be32(raw);
	if (x->count > VK_IDX_MAX_COUNT)
		return vk_fail(e, "%s: record count %llu is over the limit of 2^31", x->name,
			       (unsigned long long)x->count);
	x->rank = ndim - 1;
	uint64_t elems = 1;
	for (int i = 0; i < x->rank; i++) {
		x->dims[i] = get_be32(raw + 4 * (i + 1));
		if (x->dims[i] == 0)
			return vk_fail(e, "%s: dimension %d is 0", x->name, i + 2);
		elems *= x->dims[i];
		if (elems > VK_IDX_MAX_ELEMS)
			return vk_fail(e, "%s: a record has more than 2^26 elements", x->name);
	}
	x->record_bytes = (size_t)elems;
	return 0;
}

static int read_header(vk_idx *x, vk_error *e)
{
	unsigned char magic[4], raw[4 * (VK_IDX_MAX_RANK + 1)];
	long got = read_bytes(x, magic, 4);
	if (got < 0 || (got < 4 && gz_failed(x)))
		return read_failure(x, "the header", e);
	if (got == 0)
		return vk_fail(e, "%s: empty file (expected an IDX file)", x->name);
	if (got < 4 || magic[0] || magic[1])
		return vk_fail(e, "%s: not an IDX file (bad magic %02x %02x)", x->name, magic[0],
			       got > 1 ? magic[1] : 0);
	if (magic[2] != 0x08)
		return vk_fail(e, "%s: IDX element type 0x%02x (%s) is not supported (only 0x08, "
			       "unsigned byte)", x->name, magic[2], type_name(magic[2]));
	int ndim = magic[3];
	if (ndim < 1 || ndim > VK_IDX_MAX_RANK + 1)
		return vk_fail(e, "%s: %d dimensions is out of range (1 to %d)", x->name, ndim,
			       VK_IDX_MAX_RANK + 1);
	got = read_bytes(x, raw, 4 * (size_t)ndim);
	if (got != 4 * ndim)
		return read_failure(x, "the header", e);
	return check_dims(x, raw, ndim, e);
}

int vk_idx_open(vk_idx *x, const char *path, vk_error *e)
{
	memset(x, 0, sizeof *x);
	int from_stdin = !path || strcmp(path, "-") == 0;
	if (from_stdin && vk_refuse_terminal_input(e))
		return -1;
	snprintf(x->name, sizeof x->name, "%s", from_stdin ? "standard input" : path);
	/* dup: gzclose must not close our standard input behind stdio's back. */
	x->gz = from_stdin ? gzdopen(dup(STDIN_FILENO), "rb") : gzopen(path, "rb");
	if (!x->gz)
		return vk_fail(e, "cannot open %s:", x->name);
	gzbuffer(x->gz, 1u << 17);
	if (read_header(x, e)) {
		vk_idx_close(x);
		return -1;
	}
	return 0;
}

/* After the last declared record there must be nothing: this also makes zlib
 * check the gzip trailer (CRC and length). */
static int check_end(vk_idx *x, vk_error *e)
{
	unsigned char c;
	long got = read_bytes(x, &c, 1);
	if (got < 0 || gz_failed(x))
		return read_failure(x, "the end after the last record", e);
	if (got > 0)
		return vk_fail(e, "%s: data after the last of %llu declared records", x->name,
			       (unsigned long long)x->count);
	return 0;
}

int vk_idx_read(vk_idx *x, void *buf, size_t max, size_t *got, vk_error *e)
{
	*got = 0;
	uint64_t left = x->count - x->index;
	size_t n = max < left ? max : (size_t)left;
	if (n == 0)
		return 0;
	size_t want = n * x->record_bytes;
	long have = read_bytes(x, buf, want);
	if (have < 0 || (size_t)have < want || gz_failed(x)) {
		uint64_t bad = x->index + (have < 0 ? 0 : (size_t)have / x->record_bytes);
		char where[64];
		snprintf(where, sizeof where, "record %llu of %llu", (unsigned long long)bad,
			 (unsigned long long)x->count);
		return read_failure(x, where, e);
	}
	x->index += n;
	*got = n;
	if (x->index == x->count)
		return check_end(x, e);
	return 0;
}

void vk_idx_close(vk_idx *x)
{
	if (x->gz)
		gzclose(x->gz);
	x->gz = NULL;
}
