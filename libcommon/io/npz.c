#include "npz.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static uint32_t le16(const unsigned char *p) { return p[0] | p[1] << 8; }
static uint32_t le32(const unsigned char *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t le64(const unsigned char *p) { return le32(p) | (uint64_t)le32(p + 4) << 32; }

const char *npz_split(const char *arg, char *buf, size_t len, const char **member)
{
	*member = NULL;
	const char *colon = arg ? strrchr(arg, ':') : NULL;
	if (!colon || colon - arg < 4 || strncmp(colon - 4, ".npz", 4) != 0 ||
	    (size_t)(colon - arg) >= len)
		return arg;
	memcpy(buf, arg, colon - arg);
	buf[colon - arg] = 0;
	*member = colon + 1;
	return buf;
}

/* A member being read: raw bytes from the archive, inflated unless stored. */
struct member {
	FILE *zip;
	int method;             /* 0 stored, 8 deflated */
	uint64_t left_in;       /* compressed bytes not yet read from zip */
	uint64_t left_out;      /* bytes of the member not yet given out */
	uint32_t crc, want_crc;
	z_stream z;
	unsigned char in[65536];
};

static ssize_t member_read(void *cookie, char *buf, size_t n)
{
	struct member *m = cookie;
	if (n > m->left_out)
		n = (size_t)m->left_out;
	if (n == 0)
		return 0;
	size_t got = 0;
	if (m->method == 0) {
		got = fread(buf, 1, n, m->zip);
		m->left_in -= got;
	} else {
		m->z.next_out = (unsigned char *)buf;
		m->z.avail_out = (uInt)n;
		while (m->z.avail_out) {
			if (!m->z.avail_in && m->left_in) {
				size_t k = m->left_in < sizeof m->in ? (size_t)m->left_in : sizeof m->in;
				k = fread(m->in, 1, k, m->zip);
				if (!k)
					break;
				m->left_in -= k;
				m->z.next_in = m->in;
				m->z.avail_in = (uInt)k;
			}
			int rc = inflate(&m->z, Z_NO_FLUSH);
			if (rc == Z_STREAM_END)
				break;
			if (rc != Z_OK && !(rc == Z_BUF_ERROR && m->z.avail_in)) {
				errno = EIO;
				return -1;
			}
			if (rc == Z_BUF_ERROR && !m->z.avail_in && !m->left_in)
				break;
		}
		got = n - m->z.avail_out;
	}
	if (got < n) { /* the member ends before its declared size */
		errno = EIO;
		return -1;
	}
	m->crc = (uint32_t)crc32(m->crc, (const unsigned char *)buf, (uInt)got);
	m->left_out -= got;
	if (m->left_out == 0 && m->crc != m->want_crc) {
		errno = EIO;
		return -1;
	}
	return (ssize_t)got;
}

static int member_close(void *cookie)
{
	struct member *m = cookie;
	if (m->method == 8)
		inflateEnd(&m->z);
	fclose(m->zip);
	free(m);
	return 0;
}

/* The end of central directory record: where the directory is, how big. */
static int find_directory(FILE *f, const char *path, uint64_t *off, uint64_t *size,
			  uint64_t *entries, vk_error *e)
{
	if (fseeko(f, 0, SEEK_END) != 0)
		return vk_fail(e, "%s: an .npz must be a file, not a pipe", path);
	off_t end = ftello(f);
	size_t tail = end < 65557 ? (size_t)end : 65557;
	unsigned char *buf = malloc(tail);
	if (!buf)
		return vk_fail(e, "out of memory");
	if (fseeko(f, end - (off_t)tail, SEEK_SET) || fread(buf, 1, tail, f) != tail) {
		free(buf);
		return vk_fail(e, "%s: read error:", path);
	}
	long at = -1;
	for (long i = (long)tail - 22; i >= 0; i--)
		if (le32(buf + i) == 0x06054b50) {
			at = i;
			break;
		}
	if (at < 0) {
		free(buf);
		return vk_fail(e, "%s: not a zip archive (.npz): no end of central directory", path);
	}
	*entries = le16(buf + at + 10);
	*size = le32(buf + at + 12);
	*off = le32(buf + at + 16);
	/* Zip64: a locator right before the record points to the real one. */
	if ((*off == 0xffffffffu || *entries == 0xffff) && at >= 20 &&
	    le32(buf + at - 20) == 0x07064b50) {
		uint64_t z64 = le64(buf + at - 20 + 8);
		unsigned char r[56];
		if (fseeko(f, (off_t)z64, SEEK_SET) || fread(r, 1, 56, f) != 56 ||
		    le32(r) != 0x06064b50) {
			free(buf);
			return vk_fail(e, "%s: bad zip64 end of central directory", path);
		}
		*entries = le64(r + 32);
		*size = le64(r + 40);
		*off = le64(r + 48);
	}
	free(buf);
	if (*off > (uint64_t)end || *size > (uint64_t)end - *off)
		return vk_fail(e, "%s: central directory past the end of the file", path);
	return 0;
}

FILE *npz_open_member(const char *path, const char *member, vk_error *e)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		vk_fail(e, "cannot open %s:", path);
		return NULL;
	}
	uint64_t off = 0, size = 0, entries = 0;
	if (find_directory(f, path, &off, &size, &entries, e)) {
		fclose(f);
		return NULL;
	}
	if (fseeko(f, (off_t)off, SEEK_SET)) {
		vk_fail(e, "%s: read error:", path);
		fclose(f);
		return NULL;
	}
	char names[512] = "", want[1024];
	snprintf(want, sizeof want, "%s.npy", member);
	size_t nl = 0;
	int found = 0;
	unsigned char h[46], name[65536 + 1];
	uint64_t csize = 0, usize = 0, local = 0;
	uint32_t crc = 0;
	int method = 0, flags = 0;
	for (uint64_t i = 0; i < entries && !found; i++) {
		if (fread(h, 1, 46, f) != 46 || le32(h) != 0x02014b50) {
			vk_fail(e, "%s: bad central directory entry %llu", path,
				(unsigned long long)i);
			fclose(f);
			return NULL;
		}
		size_t n = le16(h + 28), x = le16(h + 30), c = le16(h + 32);
		unsigned char extra[65536];
		if (fread(name, 1, n, f) != n || fread(extra, 1, x, f) != x || fseeko(f, (off_t)c, SEEK_CUR)) {
			vk_fail(e, "%s: truncated central directory", path);
			fclose(f);
			return NULL;
		}
		name[n] = 0;
		flags = (int)le16(h + 8);
		method = (int)le16(h + 10);
		crc = le32(h + 16);
		csize = le32(h + 20);
		usize = le32(h + 24);
		local = le32(h + 42);
		/* Zip64 sizes and offset, in this order, for the fields at their maximum. */
		for (size_t p = 0; p + 4 <= x;) {
			size_t id = le16(extra + p), len = le16(extra + p + 2), q = p + 4;
			if (id == 1) {
				if (usize == 0xffffffffu && q + 8 <= p + 4 + len && q + 8 <= x)
					usize = le64(extra + q), q += 8;
				if (csize == 0xffffffffu && q + 8 <= p + 4 + len && q + 8 <= x)
					csize = le64(extra + q), q += 8;
				if (local == 0xffffffffu && q + 8 <= p + 4 + len && q + 8 <= x)
					local = le64(extra + q);
			}
			p += 4 + len;
		}
		if (!strcmp((char *)name, member) || !strcmp((char *)name, want)) {
			found = 1;
			break;
		}
		if (nl + n + 3 < sizeof names - 5)
			nl += snprintf(names + nl, sizeof names - nl, "%s%.*s", nl ? ", " : "",
				       (int)(n > 4 && !strcmp((char *)name + n - 4, ".npy") ? n - 4 : n),
				       (char *)name);
		else if (!strstr(names, "..."))
			nl += snprintf(names + nl, sizeof names - nl, ", ...");
	}
	if (!found) {
		vk_fail(e, "%s: no member '%s' (members: %s)", path, member, names[0] ? names : "none");
		fclose(f);
		return NULL;
	}
	if (flags & 1) {
		vk_fail(e, "%s: member '%s' is encrypted", path, member);
		fclose(f);
		return NULL;
	}
	if (method != 0 && method != 8) {
		vk_fail(e, "%s: member '%s' uses zip method %d (only stored and deflated are read)",
			path, member, method);
		fclose(f);
		return NULL;
	}
	unsigned char lh[30];
	if (fseeko(f, (off_t)local, SEEK_SET) || fread(lh, 1, 30, f) != 30 ||
	    le32(lh) != 0x04034b50 || fseeko(f, (off_t)(le16(lh + 26) + le16(lh + 28)), SEEK_CUR)) {
		vk_fail(e, "%s: bad local header for member '%s'", path, member);
		fclose(f);
		return NULL;
	}
	struct member *m = calloc(1, sizeof *m);
	if (!m) {
		vk_fail(e, "out of memory");
		fclose(f);
		return NULL;
	}
	m->zip = f;
	m->method = method;
	m->left_in = csize;
	m->left_out = usize;
	m->want_crc = crc;
	if (method == 8 && inflateInit2(&m->z, -MAX_WBITS) != Z_OK) {
		vk_fail(e, "out of memory for zlib");
		fclose(f);
		free(m);
		return NULL;
	}
	cookie_io_functions_t io = {.read = member_read, .close = member_close};
	FILE *r = fopencookie(m, "rb", io);
	if (!r) {
		vk_fail(e, "out of memory");
		member_close(m);
	}
	return r;
}
