#include "stream.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"

static const unsigned char MAGIC[8] = {0x93, 'V', 'K', 'T', 'S', '\r', '\n', 0x1a};
/* The end marker (1.1) starts with the magic, then this tag where a header has
 * its major version (01 00): so 1.0 readers stop at it ("a second stream"),
 * and a marker and a header can never be taken for each other. */
static const unsigned char END_TAG[4] = {'E', 'N', 'D', 0};
enum { VERSION_MAJOR = 1, VERSION_MINOR = 1, FIXED_HEADER = 64 };
#define IO_BUFFER (1 << 20)

/* glibc ignores setvbuf's size unless it is given the buffer, and then reads
 * and writes in 4 KiB calls; 1 MiB buffers bring pipes near `cat` speed.
 * stdin and stdout live until exit, so theirs are static. */
static char stdin_buffer[IO_BUFFER], stdout_buffer[IO_BUFFER];

static char *big_buffer(FILE *f, char **owned)
{
	*owned = NULL;
	if (f == stdin)
		return stdin_buffer;
	if (f == stdout)
		return stdout_buffer;
	return *owned = malloc(IO_BUFFER);
}

static void put16(unsigned char *p, uint16_t v) { p[0] = v; p[1] = v >> 8; }
static void put32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = v >> (8 * i); }
static void put64(unsigned char *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = v >> (8 * i); }
static uint16_t get16(const unsigned char *p) { return p[0] | (uint16_t)p[1] << 8; }
static uint32_t get32(const unsigned char *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const unsigned char *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

size_t ts_dtype_size(int dtype)
{
	switch (dtype) {
	case TS_U8: return 1;
	case TS_F32: return 4;
	case TS_F64: return 8;
	case TS_I32: return 4;
	}
	return 0;
}

const char *ts_dtype_name(int dtype)
{
	switch (dtype) {
	case TS_U8: return "u8";
	case TS_F32: return "f32";
	case TS_F64: return "f64";
	case TS_I32: return "i32";
	}
	return "?";
}

double ts_get(int dtype, const void *rec, size_t i)
{
	switch (dtype) {
	case TS_U8: return ((const unsigned char *)rec)[i];
	case TS_F32: return ((const float *)rec)[i];
	case TS_I32: {
		int32_t v;
		memcpy(&v, (const char *)rec + 4 * i, 4);
		return v;
	}
	}
	return ((const double *)rec)[i];
}

void ts_put(int dtype, void *rec, size_t i, double v)
{
	switch (dtype) {
	case TS_U8:
		((unsigned char *)rec)[i] = !(v > 0) ? 0 : v >= 255 ? 255 : (unsigned char)lround(v);
		break;
	case TS_F32: ((float *)rec)[i] = (float)v; break;
	case TS_I32: {
		int32_t x = !(v > INT32_MIN) ? INT32_MIN : v >= INT32_MAX ? INT32_MAX : (int32_t)lround(v);
		memcpy((char *)rec + 4 * i, &x, 4);
		break;
	}
	default: ((double *)rec)[i] = v; break;
	}
}

size_t ts_elems(const ts_header *h)
{
	size_t n = 1;
	for (int i = 0; i < h->rank; i++)
		n *= h->dims[i];
	return n;
}

size_t ts_data_bytes(const ts_header *h) { return ts_elems(h) * ts_dtype_size(h->dtype); }
size_t ts_record_bytes(const ts_header *h)
{
	return ts_data_bytes(h) + (h->has_labels ? 4 : 0);
}

const char *ts_shape_str(const ts_header *h, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = 0;
	for (int i = 0; i < h->rank && used < len; i++)
		used += snprintf(buf + used, len - used, i ? "x%u" : "%u", h->dims[i]);
	return buf;
}

/* Shape checks shared by init and decode: rank, dims, element count without overflow. */
static int check_shape(int dtype, int rank, const uint32_t *dims, vk_error *e)
{
	if (!ts_dtype_size(dtype))
		return vk_fail(e, "unknown element type %d (expected 1=u8, 2=f32, 3=f64, 4=i32)", dtype);
	if (rank < 1 || rank > TS_MAX_RANK)
		return vk_fail(e, "rank %d is out of range (1 to %d)", rank, TS_MAX_RANK);
	uint64_t n = 1;
	for (int i = 0; i < rank; i++) {
		if (dims[i] < 1 || dims[i] > 0x7fffffffu)
			return vk_fail(e, "dimension %d is %u (expected 1 to 2^31-1)", i, dims[i]);
		n *= dims[i]; /* < 2^26 * 2^31 before the check below: no overflow */
		if (n > TS_MAX_ELEMS)
			break;
	}
	if (n > TS_MAX_ELEMS) { /* name the shape: the bad value, in the header's terms */
		char shape[64];
		size_t len = 0;
		for (int i = 0; i < rank; i++)
			len += snprintf(shape + len, sizeof shape - len, i ? "x%u" : "%u", dims[i]);
		return vk_fail(e, "a record of shape %s has too many elements (limit %u)", shape,
			       TS_MAX_ELEMS);
	}
	return 0;
}

int ts_header_init(ts_header *h, int dtype, int rank, const uint32_t *dims, vk_error *e)
{
	memset(h, 0, sizeof *h);
	if (check_shape(dtype, rank, dims, e))
		return -1;
	h->dtype = dtype;
	h->rank = rank;
	for (int i = 0; i < rank; i++)
		h->dims[i] = dims[i];
	h->count = TS_COUNT_UNKNOWN;
	return 0;
}

static int valid_key(const char *k)
{
	if (!*k)
		return 0;
	for (; *k; k++)
		if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') ||
		      (*k >= '0' && *k <= '9') || *k == '_' || *k == '.' || *k == '-'))
			return 0;
	return 1;
}

/* Find the line "key=..." in meta; returns pointer to its start or NULL. */
static const char *find_key(const ts_header *h, const char *key)
{
	size_t klen = strlen(key);
	const char *p = h->meta;
	while (*p) {
		const char *nl = strchr(p, '\n');
		if (!strncmp(p, key, klen) && p[klen] == '=')
			return p;
		if (!nl)
			break;
		p = nl + 1;
	}
	return NULL;
}

const char *ts_meta_get(const ts_header *h, const char *key, char *buf, size_t len)
{
	const char *p = find_key(h, key);
	if (!p || !len)
		return NULL;
	p += strlen(key) + 1;
	size_t n = strcspn(p, "\n");
	if (n >= len)
		n = len - 1;
	memcpy(buf, p, n);
	buf[n] = 0;
	return buf;
}

int ts_meta_unset(ts_header *h, const char *key)
{
	const char *old = find_key(h, key);
	if (!old)
		return 0;
	size_t start = old - h->meta;
	size_t end = start + strcspn(old, "\n");
	if (h->meta[end] == '\n')
		end++;
	memmove(h->meta + start, h->meta + end, h->meta_len - end + 1);
	h->meta_len -= end - start;
	return 1;
}

int ts_meta_set(ts_header *h, const char *key, const char *value, vk_error *e)
{
	if (!valid_key(key))
		return vk_fail(e, "bad metadata key '%s'", key);
	if (strchr(value, '\n'))
		return vk_fail(e, "metadata value for '%s' contains a newline", key);
	ts_meta_unset(h, key);
	size_t need = strlen(key) + strlen(value) + 2;
	if (h->meta_len + need > TS_MAX_META)
		return vk_fail(e, "metadata too long (limit %u bytes)", TS_MAX_META);
	sprintf(h->meta + h->meta_len, "%s=%s\n", key, value);
	h->meta_len += need;
	return 0;
}

size_t ts_header_size(const ts_header *h)
{
	return (FIXED_HEADER + h->meta_len + 63) / 64 * 64;
}

int ts_header_encode(const ts_header *h, unsigned char *buf, size_t len, vk_error *e)
{
	size_t size = ts_header_size(h);
	if (len < size)
		return vk_fail(e, "header buffer too small");
	if (check_shape(h->dtype, h->rank, h->dims, e))
		return -1;
	memset(buf, 0, size);
	memcpy(buf, MAGIC, 8);
	put16(buf + 8, VERSION_MAJOR);
	/* the lowest minor that describes the stream: 1.1 readers know no i32 */
	put16(buf + 10, h->dtype == TS_I32 ? 2 : VERSION_MINOR);
	put32(buf + 12, (uint32_t)size);
	buf[16] = (unsigned char)h->dtype;
	buf[17] = (unsigned char)h->rank;
	buf[18] = h->has_labels ? TS_FLAG_LABELS : 0;
	for (int i = 0; i < h->rank; i++)
		put32(buf + 20 + 4 * i, h->dims[i]);
	put64(buf + 36, h->count);
	put32(buf + 44, (uint32_t)h->meta_len);
	memcpy(buf + FIXED_HEADER, h->meta, h->meta_len);
	return (int)size;
}

/* Read exactly n bytes; returns bytes actually read (short only at EOF or error). */
static size_t read_full(FILE *f, void *buf, size_t n)
{
	return fread(buf, 1, n, f);
}

/* Read n bytes of records: the looked-ahead bytes first, then the file. */
static size_t read_rec(ts_reader *r, void *buf, size_t n)
{
	unsigned char *b = buf;
	size_t k = 0;
	while (k < n && r->ahead_pos < r->ahead_len)
		b[k++] = r->ahead[r->ahead_pos++];
	if (k < n)
		k += fread(b + k, 1, n - k, r->f);
	return k;
}

/* Make the next 8 bytes (fewer at the end) available in r->ahead, unread. */
static size_t peek8(ts_reader *r)
{
	if (r->ahead_pos) {
		memmove(r->ahead, r->ahead + r->ahead_pos, r->ahead_len - r->ahead_pos);
		r->ahead_len -= r->ahead_pos;
		r->ahead_pos = 0;
	}
	if (r->ahead_len < 8)
		r->ahead_len += fread(r->ahead + r->ahead_len, 1, 8 - r->ahead_len, r->f);
	return r->ahead_len;
}

static int second_stream(ts_reader *r, vk_error *e)
{
	return vk_fail(e, "%s: a second stream's header follows record %llu: streams joined by "
			  "concatenating their bytes are not read; join them with stream-cat",
		       r->name, (unsigned long long)r->index);
}

static int decode_header(ts_reader *r, vk_error *e)
{
	unsigned char fixed[FIXED_HEADER];
	ts_header *h = &r->h;
	size_t got = read_full(r->f, fixed, sizeof fixed);
	if (ferror(r->f))
		return vk_fail(e, "%s: read error:", r->name);
	if (got == 0)
		return vk_fail(e, "%s: empty input (expected a tensor stream)", r->name);
	if (got < 8 || memcmp(fixed, MAGIC, 8) != 0)
		return vk_fail(e, "%s: not a tensor stream (bad magic)", r->name);
	if (got < sizeof fixed)
		return vk_fail(e, "%s: truncated header (%zu of 64 bytes)", r->name, got);
	unsigned major = get16(fixed + 8), minor = get16(fixed + 10);
	if (major != VERSION_MAJOR)
		return vk_fail(e, "%s: unsupported stream version %u.%u (this vaekit reads 1.x)",
			       r->name, major, minor);
	uint32_t size = get32(fixed + 12);
	if (size < FIXED_HEADER || size > TS_MAX_HEADER || size % 64)
		return vk_fail(e, "%s: bad header size %u (expected a multiple of 64, at most %u)",
			       r->name, size, TS_MAX_HEADER);
	memset(h, 0, sizeof *h);
	h->version_minor = minor;
	h->dtype = fixed[16];
	h->rank = fixed[17];
	if (!ts_dtype_size(h->dtype))
		return vk_fail(e, "%s: unknown element type %d (expected 1=u8, 2=f32, 3=f64)",
			       r->name, h->dtype);
	if (h->rank < 1 || h->rank > TS_MAX_RANK)
		return vk_fail(e, "%s: rank %d is out of range (1 to %d)", r->name, h->rank,
			       TS_MAX_RANK);
	if (fixed[18] & ~TS_FLAG_LABELS)
		return vk_fail(e, "%s: unknown flags 0x%02x", r->name, fixed[18]);
	h->has_labels = fixed[18] & TS_FLAG_LABELS;
	for (int i = 0; i < TS_MAX_RANK; i++)
		h->dims[i] = get32(fixed + 20 + 4 * i);
	for (int i = h->rank; i < TS_MAX_RANK; i++)
		if (h->dims[i])
			return vk_fail(e, "%s: dimension %d is set beyond rank %d", r->name, i,
				       h->rank);
	vk_error se;
	if (check_shape(h->dtype, h->rank, h->dims, &se))
		return vk_fail(e, "%s: %s", r->name, se.msg);
	h->count = get64(fixed + 36);
	if (h->count != TS_COUNT_UNKNOWN && h->count > TS_MAX_COUNT)
		return vk_fail(e, "%s: record count %llu is over the limit", r->name,
			       (unsigned long long)h->count);
	uint32_t mlen = get32(fixed + 44);
	if (mlen > TS_MAX_META || FIXED_HEADER + mlen > size)
		return vk_fail(e, "%s: metadata length %u is over the limit or past the header",
			       r->name, mlen);
	size_t rest = size - FIXED_HEADER;
	unsigned char tail[TS_MAX_HEADER - FIXED_HEADER];
	got = read_full(r->f, tail, rest);
	if (got < rest)
		return vk_fail(e, "%s: truncated header (%zu of %u bytes)", r->name,
			       got + FIXED_HEADER, size);
	for (uint32_t i = 0; i < mlen; i++)
		if (tail[i] == 0)
			return vk_fail(e, "%s: metadata contains a NUL byte", r->name);
	if (mlen && tail[mlen - 1] != '\n')
		return vk_fail(e, "%s: metadata is not terminated by a newline", r->name);
	memcpy(h->meta, tail, mlen);
	h->meta[mlen] = 0;
	h->meta_len = mlen;
	return 0;
}

int ts_reader_fopen(ts_reader *r, FILE *f, const char *name, vk_error *e)
{
	memset(r, 0, sizeof *r);
	r->f = f;
	snprintf(r->name, sizeof r->name, "%s", name);
	if (decode_header(r, e))
		return -1;
	r->data_bytes = ts_data_bytes(&r->h);
	r->end_marker = r->h.version_minor >= 1 && r->h.count == TS_COUNT_UNKNOWN;
	r->buf = malloc(r->data_bytes);
	if (!r->buf)
		return vk_fail(e, "%s: out of memory for one record (%zu bytes)", r->name,
			       r->data_bytes);
	return 0;
}

int ts_reader_open(ts_reader *r, const char *path, vk_error *e)
{
	FILE *f = stdin;
	const char *name = "standard input";
	if (path && strcmp(path, "-") != 0) {
		f = fopen(path, "rb");
		if (!f)
			return vk_fail(e, "cannot open %s:", path);
		name = path;
	} else if (vk_refuse_terminal_input(e)) {
		memset(r, 0, sizeof *r);
		return -1;
	}
	char *owned, *buf = big_buffer(f, &owned);
	if (buf)
		setvbuf(f, buf, _IOFBF, IO_BUFFER);
	int rc = ts_reader_fopen(r, f, name, e);
	r->iobuf = owned;
	r->own = f != stdin;
	if (rc && r->own) {
		fclose(f);
		r->f = NULL;
	}
	if (rc) {
		free(r->iobuf);
		r->iobuf = NULL;
	}
	return rc;
}

int ts_reader_relabel(ts_reader *r, const int32_t *map, int n, vk_error *e)
{
	int32_t *m = malloc(sizeof *m * (n > 0 ? n : 1));
	if (!m)
		return vk_fail(e, "%s: out of memory for a label map", r->name);
	memcpy(m, map, sizeof *m * n);
	free(r->relabel);
	r->relabel = m;
	r->n_relabel = n;
	return 0;
}

void ts_reader_close(ts_reader *r)
{
	if (r->own && r->f)
		fclose(r->f);
	r->f = NULL;
	free(r->iobuf);
	r->iobuf = NULL;
	free(r->buf);
	r->buf = NULL;
	free(r->relabel);
	r->relabel = NULL;
}

static int unmarked_end(ts_reader *r, vk_error *e)
{
	return vk_fail(e, "%s: truncated: the program writing it failed or was stopped (the "
			  "stream ends after %llu records without its end marker)",
		       r->name, (unsigned long long)r->index);
}

/* After the end marker: nothing, or the next stream's header (the shell
 * joined two streams), or stray bytes. extra holds bytes already read. */
static int after_end(ts_reader *r, const unsigned char *extra, size_t n_extra, vk_error *e)
{
	unsigned char next[8];
	size_t n = n_extra < 8 ? n_extra : 8;
	if (n)
		memcpy(next, extra, n);
	if (n < 8)
		n += read_rec(r, next + n, 8 - n);
	if (ferror(r->f))
		return vk_fail(e, "%s: read error:", r->name);
	if (n == 8 && !memcmp(next, MAGIC, 8))
		return second_stream(r, e);
	if (n)
		return vk_fail(e, "%s: data after the end marker (after record %llu)", r->name,
			       (unsigned long long)r->index);
	return 0;
}

/* The end marker, whose first have bytes (the magic and perhaps more) were
 * read as a record; the rest comes from the stream. Returns 0 at a good end. */
static int read_end(ts_reader *r, const unsigned char *have, size_t n_have, vk_error *e)
{
	unsigned char m[TS_END_BYTES];
	size_t n = n_have < sizeof m ? n_have : sizeof m;
	if (n)
		memcpy(m, have, n);
	if (n < sizeof m)
		n += read_rec(r, m + n, sizeof m - n);
	if (ferror(r->f))
		return vk_fail(e, "%s: read error:", r->name);
	if (n >= 12 && memcmp(m + 8, END_TAG, 4))
		return second_stream(r, e);
	if (n < sizeof m)
		return vk_fail(e, "%s: truncated: the program writing it failed or was stopped "
				  "(its end marker, after record %llu, has %zu of %d bytes)",
			       r->name, (unsigned long long)r->index, n, TS_END_BYTES);
	uint64_t count = get64(m + 16);
	uint32_t crc = get32(m + 12);
	if (count != r->index)
		return vk_fail(e, "%s: the end marker counts %llu records but %llu came before it "
				  "(the stream is damaged)", r->name, (unsigned long long)count,
			       (unsigned long long)r->index);
	if (crc != r->crc)
		return vk_fail(e, "%s: the records do not match the end marker's checksum "
				  "(CRC-32C %08x, expected %08x): the stream is damaged",
			       r->name, (unsigned)r->crc, (unsigned)crc);
	if (after_end(r, n_have > sizeof m ? have + sizeof m : NULL,
		      n_have > sizeof m ? n_have - sizeof m : 0, e))
		return -1;
	r->ended = 1;
	return 0;
}

int ts_read(ts_reader *r, void *data, int32_t *label, vk_error *e)
{
	const ts_header *h = &r->h;
	int known = h->count != TS_COUNT_UNKNOWN;
	size_t got = 0, want = ts_record_bytes(h);
	if (r->ended)
		return 0;
	if ((known && r->index == h->count) || (!known && want < 8)) {
		size_t n = peek8(r);
		if (ferror(r->f))
			return vk_fail(e, "%s: read error:", r->name);
		if (n == 8 && !memcmp(r->ahead, MAGIC, 8))
			return r->end_marker ? read_end(r, NULL, 0, e) : second_stream(r, e);
		if (known && n)
			return vk_fail(e, "%s: data after the last of %llu declared records",
				       r->name, (unsigned long long)h->count);
		if (known)
			return 0;
	}
	unsigned char lab[4];
	if (h->has_labels)
		got = read_rec(r, lab, 4);
	if (!h->has_labels || got == 4)
		got += read_rec(r, data, r->data_bytes);
	if (ferror(r->f))
		return vk_fail(e, "%s: read error:", r->name);
	if (got == 0) {
		if (known)
			return vk_fail(e, "%s: truncated: %llu of %llu declared records (the program "
					  "writing it failed or was stopped)",
				       r->name, (unsigned long long)r->index,
				       (unsigned long long)h->count);
		return r->end_marker ? unmarked_end(r, e) : 0;
	}
	size_t nl = h->has_labels ? 4 : 0;
	if (!known && want >= 8 && got >= 8) {
		unsigned char first[8];
		memcpy(first, lab, nl);
		memcpy(first + nl, data, 8 - nl);
		if (!memcmp(first, MAGIC, 8)) {
			if (!r->end_marker)
				return second_stream(r, e);
			/* What was read as a record is the marker (and perhaps more). */
			unsigned char have[TS_END_BYTES + 8];
			size_t n_have = got < sizeof have ? got : sizeof have;
			memcpy(have, lab, nl);
			memcpy(have + nl, data, n_have - nl);
			return read_end(r, have, n_have, e);
		}
	}
	if (got < want) {
		if (r->end_marker || known) /* 1.0 streams keep their old message */
			return vk_fail(e, "%s: truncated: the program writing it failed or was "
					  "stopped (record %llu has %zu of %zu bytes)", r->name,
				       (unsigned long long)r->index, got, want);
		return vk_fail(e, "%s: record %llu is truncated: %zu of %zu bytes", r->name,
			       (unsigned long long)r->index, got, want);
	}
	if (r->end_marker) {
		if (nl)
			r->crc = vk_crc32c(r->crc, lab, nl);
		r->crc = vk_crc32c(r->crc, data, r->data_bytes);
	}
	int32_t l = h->has_labels ? (int32_t)get32(lab) : TS_NO_LABEL;
	if (r->relabel && l >= 0) {
		if (l >= r->n_relabel)
			return vk_fail(e, "%s: record %llu has label %d, but the stream names only %d "
					  "classes", r->name, (unsigned long long)r->index, l,
				       r->n_relabel);
		l = r->relabel[l];
	}
	if (label)
		*label = l;
	r->index++;
	return 1;
}

int ts_read_f32(ts_reader *r, float *data, int32_t *label, vk_error *e)
{
	const ts_header *h = &r->h;
	size_t n = ts_elems(h);
	void *target = h->dtype == TS_F32 ? (void *)data : (void *)r->buf;
	int rc = ts_read(r, target, label, e);
	if (rc <= 0)
		return rc;
	if (h->dtype == TS_U8) {
		const unsigned char *u = r->buf;
		for (size_t i = 0; i < n; i++)
			data[i] = u[i] * (1.0f / 255.0f);
		return 1;
	}
	if (h->dtype == TS_I32) {
		for (size_t i = 0; i < n; i++) {
			int32_t v;
			memcpy(&v, r->buf + 4 * i, 4);
			if (v > TS_I32_EXACT || v < -TS_I32_EXACT)
				return vk_fail(e, "%s: record %llu has the integer %ld at element %zu, "
						  "beyond the +-2^24 that f32 computing holds exactly",
					       r->name, (unsigned long long)(r->index - 1), (long)v, i);
			data[i] = (float)v;
		}
		return 1;
	}
	if (h->dtype == TS_F64) {
		const double *d = (const double *)r->buf;
		for (size_t i = 0; i < n; i++) {
			/* A finite double beyond f32 is named as it is, not as the inf
			 * it would become. */
			if (isfinite(d[i]) && fabs(d[i]) > FLT_MAX)
				return vk_fail(e, "%s: record %llu has the value %g at element %zu, "
						  "beyond the f32 range (about 3.4e38) used for computing",
					       r->name, (unsigned long long)(r->index - 1), d[i], i);
			data[i] = (float)d[i];
		}
	}
	for (size_t i = 0; i < n; i++)
		if (!isfinite(data[i]))
			return vk_fail(e, "%s: record %llu has a non-finite value (%g) at element %zu",
				       r->name, (unsigned long long)(r->index - 1), data[i], i);
	return 1;
}

int ts_read_batch_f32(ts_reader *r, float *data, int32_t *labels, size_t max, size_t *got,
		      vk_error *e)
{
	size_t n = ts_elems(&r->h);
	*got = 0;
	while (*got < max) {
		int rc = ts_read_f32(r, data + *got * n, labels ? labels + *got : NULL, e);
		if (rc < 0)
			return -1;
		if (rc == 0)
			break;
		(*got)++;
	}
	return 0;
}

int ts_writer_open(ts_writer *w, const char *path, const ts_header *h, vk_error *e)
{
	memset(w, 0, sizeof *w);
	w->h = *h;
	unsigned char head[TS_MAX_HEADER];
	int size = ts_header_encode(h, head, sizeof head, e);
	if (size < 0)
		return -1;
	w->data_bytes = ts_data_bytes(h);
	w->buf = malloc(w->data_bytes);
	if (!w->buf)
		return vk_fail(e, "out of memory for one record (%zu bytes)", w->data_bytes);
	if (vk_afile_open(&w->out, path, 1, e)) {
		free(w->buf);
		w->buf = NULL;
		return -1;
	}
	char *buf = big_buffer(w->out.f, &w->iobuf);
	if (buf)
		setvbuf(w->out.f, buf, _IOFBF, IO_BUFFER);
	if (!w->out.is_stdout && !w->out.in_place) {
		/* A file can be patched at close: declare the count then. */
		w->count_patchable = h->count == TS_COUNT_UNKNOWN;
	}
	w->check_magic = h->count == TS_COUNT_UNKNOWN && !w->count_patchable;
	if (fwrite(head, 1, size, w->out.f) != (size_t)size) {
		vk_fail(e, "error writing %s:", w->out.is_stdout ? "standard output" : path);
		ts_writer_abort(w);
		return -1;
	}
	return 0;
}

static const char *writer_name(const ts_writer *w)
{
	return w->out.is_stdout ? "standard output" : w->out.path;
}

/* Would this record make a reader of a stream of unknown count see a
 * header? Records of 8 bytes or more are checked at their start; shorter ones
 * at every record start among the last bytes written. Returns 0, or 1 + how
 * many records before this one the header-like bytes start. */
static int looks_like_header(ts_writer *w, const void *data, int32_t label)
{
	size_t nl = w->h.has_labels ? 4 : 0, rb = nl + w->data_bytes;
	unsigned char rec[8];
	put32(rec, (uint32_t)label);
	if (rb >= 8) {
		memcpy(rec + nl, data, 8 - nl);
		return !memcmp(rec, MAGIC, 8);
	}
	memcpy(rec + nl, data, w->data_bytes);
	if (w->tail_len + rb > sizeof w->tail) { /* keep the last whole records */
		size_t drop = w->tail_len + rb - sizeof w->tail;
		drop = (drop + rb - 1) / rb * rb;
		memmove(w->tail, w->tail + drop, w->tail_len - drop);
		w->tail_len -= drop;
	}
	memcpy(w->tail + w->tail_len, rec, rb);
	w->tail_len += rb;
	/* A header starting at record start o is complete once o + 8 bytes are here. */
	for (size_t k = 1; k * rb <= w->tail_len; k++) {
		size_t o = w->tail_len - k * rb;
		if (o + 8 <= w->tail_len && o + 8 > w->tail_len - rb &&
		    !memcmp(w->tail + o, MAGIC, 8))
			return (int)k;
	}
	return 0;
}

int ts_write(ts_writer *w, const void *data, int32_t label, vk_error *e)
{
	int back = w->check_magic ? looks_like_header(w, data, label) : 0;
	if (back)
		return vk_fail(e, "%s: record %llu begins with the 8 bytes of a stream header, "
				  "which a reader would take for a second stream; write to a "
				  "file (-o), whose record count is declared", writer_name(w),
			       (unsigned long long)(w->written + 1 - back));
	if (w->h.count != TS_COUNT_UNKNOWN && w->written >= w->h.count)
		return vk_fail(e, "%s: more records than the %llu declared", writer_name(w),
			       (unsigned long long)w->h.count);
	if (w->h.has_labels) {
		unsigned char lab[4];
		put32(lab, (uint32_t)label);
		if (fwrite(lab, 1, 4, w->out.f) != 4)
			return vk_fail(e, "error writing %s:", writer_name(w));
		if (w->check_magic)
			w->crc = vk_crc32c(w->crc, lab, 4);
	}
	if (fwrite(data, 1, w->data_bytes, w->out.f) != w->data_bytes)
		return vk_fail(e, "error writing %s:", writer_name(w));
	if (w->check_magic)
		w->crc = vk_crc32c(w->crc, data, w->data_bytes);
	w->written++;
	return 0;
}

int ts_write_f32(ts_writer *w, const float *data, int32_t label, vk_error *e)
{
	size_t n = ts_elems(&w->h);
	switch (w->h.dtype) {
	case TS_F32:
		return ts_write(w, data, label, e);
	case TS_U8:
		for (size_t i = 0; i < n; i++) {
			float v = data[i] * 255.0f + 0.5f;
			w->buf[i] = v <= 0 ? 0 : v >= 255 ? 255 : (unsigned char)v;
		}
		break;
	case TS_F64:
		for (size_t i = 0; i < n; i++)
			((double *)w->buf)[i] = data[i];
		break;
	case TS_I32:
		/* codes and counts: an integral value, exactly, or the record is refused */
		for (size_t i = 0; i < n; i++) {
			if (data[i] != rintf(data[i]) || fabsf(data[i]) > TS_I32_EXACT)
				return vk_fail(e, "%s: element %zu of record %llu is %g, not an integer "
						  "within +-2^24 for an i32 stream", writer_name(w), i,
					       (unsigned long long)w->written, data[i]);
			ts_put(TS_I32, w->buf, i, data[i]);
		}
		break;
	}
	return ts_write(w, w->buf, label, e);
}

/* The declared count checked, or the real one patched in, or (count unknown
 * to the reader) the end marker written. */
static int writer_finish(ts_writer *w, vk_error *e)
{
	int rc = 0;
	if (w->h.count != TS_COUNT_UNKNOWN && w->written != w->h.count) {
		rc = vk_fail(e, "%s: wrote %llu records but declared %llu", writer_name(w),
			     (unsigned long long)w->written, (unsigned long long)w->h.count);
	} else if (w->check_magic) {
		/* No record starts with the magic (ts_write refused those), and
		 * the magic's 0x93 stands only at its start, so no record start
		 * before the marker can read as the magic across into it. */
		unsigned char m[TS_END_BYTES] = {0};
		memcpy(m, MAGIC, 8);
		memcpy(m + 8, END_TAG, 4);
		put32(m + 12, w->crc);
		put64(m + 16, w->written);
		if (fwrite(m, 1, sizeof m, w->out.f) != sizeof m)
			rc = vk_fail(e, "error writing %s:", writer_name(w));
	} else if (w->count_patchable) {
		unsigned char cnt[8];
		put64(cnt, w->written);
		if (fflush(w->out.f) || fseek(w->out.f, 36, SEEK_SET) ||
		    fwrite(cnt, 1, 8, w->out.f) != 8 || fseek(w->out.f, 0, SEEK_END))
			rc = vk_fail(e, "error writing %s:", writer_name(w));
	}
	return rc;
}

static void writer_free(ts_writer *w)
{
	free(w->buf);
	free(w->iobuf);
	w->buf = NULL;
	w->iobuf = NULL;
}

int ts_writer_close_all(ts_writer *w, int n, vk_error *e)
{
	int rc = 0;
	for (int i = 0; i < n && !rc; i++)
		rc = writer_finish(&w[i], e);
	vk_afile **outs = rc ? NULL : malloc((size_t)(n > 0 ? n : 1) * sizeof *outs);
	if (!rc && !outs)
		rc = vk_fail(e, "out of memory");
	if (!rc) {
		for (int i = 0; i < n; i++)
			outs[i] = &w[i].out;
		rc = vk_afile_commit_all(outs, n, e);
	} else {
		for (int i = 0; i < n; i++)
			vk_afile_abort(&w[i].out);
	}
	free(outs);
	for (int i = 0; i < n; i++)
		writer_free(&w[i]);
	return rc;
}

int ts_writer_close(ts_writer *w, vk_error *e)
{
	int rc = writer_finish(w, e);
	if (rc == 0)
		rc = vk_afile_commit(&w->out, e);
	else
		vk_afile_abort(&w->out);
	free(w->buf);
	free(w->iobuf);
	w->buf = NULL;
	w->iobuf = NULL;
	return rc;
}

void ts_writer_abort(ts_writer *w)
{
	vk_afile_abort(&w->out);
	free(w->buf);
	free(w->iobuf);
	w->buf = NULL;
	w->iobuf = NULL;
}
