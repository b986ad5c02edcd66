/* libFuzzer harness: a stream written as into a pipe (count unknown) reads
 * back as exactly the records written. The first byte picks the record size
 * (1 to 16 bytes of u8) and the labels flag; the rest are the records. The
 * writer must refuse a record at whose start a reader would see the stream
 * magic (formats/tensor-stream.md), and then what it wrote before must read
 * back whole, with no "second stream" and no record lost or invented. The
 * stream ends with its end marker; cut anywhere in its last record or its
 * marker (a writer stopped there), it must never read as a whole stream. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "stream.h"

static unsigned char *pipe_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 1 << 16, n = 0;
	unsigned char *b = malloc(cap);
	size_t k;
	while (b && (k = fread(b + n, 1, cap - n, f)) > 0)
		if ((n += k) == cap)
			b = realloc(b, cap *= 2);
	fclose(f);
	*len = n;
	return b;
}

static const char *pipe_path(void)
{
	static char path[64];
	if (!path[0])
		snprintf(path, sizeof path, "%s/vaekit-fuzz-pipe-%d.ts",
			 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", (int)getpid());
	return path;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	if (size < 1)
		return 0;
	uint32_t dbytes = (data[0] & 15) + 1;
	int labels = (data[0] & 16) != 0;
	size_t rb = dbytes + (labels ? 4 : 0), n = (size - 1) / rb;
	const unsigned char *rec = data + 1;
	ts_header h;
	ts_writer w;
	vk_error e;
	if (ts_header_init(&h, TS_U8, 1, &dbytes, &e))
		abort();
	h.has_labels = labels;
	const char *path = pipe_path();
	if (ts_writer_open(&w, path, &h, &e))
		return 0;
	w.count_patchable = 0; /* as into a pipe: the count stays unknown */
	w.check_magic = 1;
	size_t written = 0;
	for (; written < n; written++) {
		const unsigned char *r = rec + written * rb;
		int32_t label = 0;
		if (labels)
			memcpy(&label, r, 4);
		if (ts_write(&w, r + (labels ? 4 : 0), label, &e))
			break; /* refused: the records before it must read back */
	}
	if (ts_writer_close(&w, &e))
		return 0;
	ts_reader r;
	if (ts_reader_open(&r, path, &e))
		abort();
	unsigned char *got = malloc(dbytes);
	size_t k = 0;
	int32_t label;
	int rc;
	while ((rc = ts_read(&r, got, &label, &e)) == 1) {
		const unsigned char *want = rec + k * rb;
		int32_t want_label = TS_NO_LABEL;
		if (labels)
			memcpy(&want_label, want, 4);
		if (k >= written || label != want_label ||
		    memcmp(got, want + (labels ? 4 : 0), dbytes))
			abort(); /* a record invented or changed */
		k++;
	}
	if (rc != 0 || k != written)
		abort(); /* a "second stream" or a lost record */
	ts_reader_close(&r);
	size_t len;
	unsigned char *bytes = pipe_slurp(path, &len);
	if (!bytes || len < 64 + TS_END_BYTES)
		abort();
	size_t from = len - TS_END_BYTES - (written ? rb : 0);
	for (size_t cut = from; cut < len; cut++) {
		FILE *f = fmemopen(bytes, cut, "rb");
		if (!f)
			abort();
		if (ts_reader_fopen(&r, f, "cut", &e))
			abort();
		while ((rc = ts_read(&r, got, &label, &e)) == 1)
			;
		if (rc != -1)
			abort(); /* a stopped writer's stream taken for whole */
		ts_reader_close(&r);
		fclose(f);
	}
	free(bytes);
	free(got);
	unlink(path);
	return 0;
}
