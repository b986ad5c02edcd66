/* stream-split — shard a tensor stream into K streams, round-robin or contiguous. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "err.h"
#include "opts.h"
#include "stream.h"

static const char USAGE[] =
	"Usage: stream-split -k K [OPTION]... [FILE]\n"
	"Split a tensor stream into K streams named PREFIX0000.ts to PREFIX<K-1>.ts:\n"
	"record i goes to shard i mod K, or with --contiguous the first N/K records\n"
	"to shard 0, the next to shard 1 and so on (the first N mod K shards get one\n"
	"more). Each shard keeps the metadata and adds shard=I/K. The shards appear\n"
	"only when all are complete. With no FILE, or when FILE is -, read standard input.\n\n"
	"  -k, --shards K       number of shards, 1 to 1000 (required)\n"
	"  -c, --contiguous     consecutive runs of records instead of round-robin; needs\n"
	"                       the record count: declared, or a regular file to measure\n"
	"  -p, --prefix PREFIX  start of the output names (default: shard)\n"
	"  -h, --help           show this help and exit\n"
	"      --version        show the version and exit\n";

#define MAX_SHARDS 1000

struct cmdline {
	const char *input, *prefix;
	int shards, contiguous;
};

static void parse_cmdline(int argc, char **argv, struct cmdline *c)
{
	static const struct option longopts[] = {
		{"shards", required_argument, 0, 'k'}, {"contiguous", no_argument, 0, 'c'},
		{"prefix", required_argument, 0, 'p'}, {"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, VK_OPT_VERSION}, {0, 0, 0, 0}};
	memset(c, 0, sizeof *c);
	c->prefix = "shard";
	int ch;
	while ((ch = getopt_long(argc, argv, "k:cp:h", longopts, NULL)) != -1) {
		if (vk_common_option(ch, USAGE))
			continue;
		switch (ch) {
		case 'k': c->shards = vk_parse_long("--shards", optarg, 1, MAX_SHARDS); break;
		case 'c': c->contiguous = 1; break;
		case 'p': c->prefix = optarg; break;
		}
	}
	if (!c->shards)
		vk_usage_error("missing -k K, the number of shards");
	if (strlen(c->prefix) > 4000)
		vk_usage_error("--prefix: too long");
	c->input = vk_input_arg(argc, argv, optind);
}

/* All shards stay temporary until the end, so a failure removes every one. */
static ts_writer *shards;
static int n_open;

static void fail(const vk_error *e)
{
	for (int i = 0; i < n_open; i++)
		ts_writer_abort(&shards[i]);
	vk_die_error(e);
}

static void open_shards(const struct cmdline *c, const ts_header *in)
{
	vk_error e;
	shards = vk_xcalloc(c->shards, sizeof *shards);
	for (int i = 0; i < c->shards; i++) {
		char name[4100], val[32];
		ts_header h = *in;
		h.count = TS_COUNT_UNKNOWN; /* each shard is a file: the count is patched */
		snprintf(val, sizeof val, "%d/%d", i, c->shards);
		snprintf(name, sizeof name, "%s%04d.ts", c->prefix, i);
		if (ts_meta_set(&h, "shard", val, &e) || ts_writer_open(&shards[i], name, &h, &e))
			fail(&e);
		n_open++;
	}
}

/* Records in the input, for --contiguous: declared, or measured on a file. */
static uint64_t record_count(ts_reader *r)
{
	if (r->h.count != TS_COUNT_UNKNOWN)
		return r->h.count;
	struct stat st;
	off_t pos = ftello(r->f);
	if (fstat(fileno(r->f), &st) || !S_ISREG(st.st_mode) || pos < 0)
		vk_die("%s: --contiguous needs the record count, which this stream does not "
		       "declare; give a file instead of a pipe, or split round-robin", r->name);
	off_t end = st.st_size - (r->end_marker ? TS_END_BYTES : 0); /* 1.1: the marker */
	return end > pos ? (uint64_t)(end - pos) / ts_record_bytes(&r->h) : 0;
}

int main(int argc, char **argv)
{
	struct cmdline c;
	vk_error e;
	vk_init(argc, argv);
	parse_cmdline(argc, argv, &c);
	for (int i = 0; i < c.shards; i++) {
		char name[4100];
		snprintf(name, sizeof name, "%s%04d.ts", c.prefix, i);
		vk_refuse_output_is_input(name, &c.input, 1);
	}
	ts_reader r;
	if (ts_reader_open(&r, c.input, &e))
		vk_die_error(&e);
	uint64_t n = c.contiguous ? record_count(&r) : 0;
	uint64_t base = n / c.shards, extra = n % c.shards;
	open_shards(&c, &r.h);
	void *rec = vk_xmalloc(r.data_bytes);
	int32_t label;
	int rc, k = 0;
	uint64_t left = base + (extra > 0); /* records still due to shard k when contiguous */
	while ((rc = ts_read(&r, rec, &label, &e)) > 0) {
		if (c.contiguous) {
			while (!left && k + 1 < c.shards)
				left = base + ((uint64_t)++k < extra);
			left--;
		}
		if (ts_write(&shards[k], rec, label, &e))
			fail(&e);
		if (!c.contiguous)
			k = (k + 1) % c.shards;
	}
	if (rc < 0)
		fail(&e);
	if (ts_writer_close_all(shards, c.shards, &e))
		vk_die_error(&e);
	free(rec);
	free(shards);
	ts_reader_close(&r);
	return 0;
}
