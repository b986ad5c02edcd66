/* stream2txt — a tensor stream as text: one record a line, tab-separated. */
#include <stdlib.h>
#include <string.h>

#include "afile.h"
#include "err.h"
#include "opts.h"
#include "stream.h"

static const char USAGE[] =
	"Usage: stream2txt [OPTION]... [FILE]\n"
	"Print a tensor stream as text: one record a line, its values separated by\n"
	"tabs in row-major order, the label first when the stream has labels. u8 prints\n"
	"as integers, f32 with 9 and f64 with 17 significant digits, enough to read\n"
	"back the same bits. With no FILE, or when FILE is -, read standard input.\n\n"
	"  -o, --output FILE  write FILE (atomically) instead of standard output\n"
	"  -h, --help         show this help and exit\n"
	"      --version      show the version and exit\n";

struct cmdline {
	const char *input, *output;
};

static void parse_cmdline(int argc, char **argv, struct cmdline *c)
{
	static const struct option longopts[] = {
		{"output", required_argument, 0, 'o'},
		{"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, VK_OPT_VERSION},
		{0, 0, 0, 0}};
	memset(c, 0, sizeof *c);
	int ch;
	while ((ch = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		if (vk_common_option(ch, USAGE))
			continue;
		if (ch == 'o')
			c->output = optarg;
	}
	c->input = vk_input_arg(argc, argv, optind);
}

static void print_record(FILE *f, const ts_header *h, const void *rec, int32_t label)
{
	size_t n = ts_elems(h);
	if (h->has_labels)
		fprintf(f, "%d\t", label);
	for (size_t i = 0; i < n; i++) {
		const char *sep = i + 1 < n ? "\t" : "\n";
		switch (h->dtype) {
		case TS_U8: fprintf(f, "%u%s", ((const unsigned char *)rec)[i], sep); break;
		case TS_F32: fprintf(f, "%.9g%s", ((const float *)rec)[i], sep); break;
		case TS_F64: fprintf(f, "%.17g%s", ((const double *)rec)[i], sep); break;
		}
	}
}

int main(int argc, char **argv)
{
	struct cmdline c;
	vk_error e;
	vk_init(argc, argv);
	parse_cmdline(argc, argv, &c);
	vk_refuse_output_is_input(c.output, &c.input, 1);
	ts_reader r;
	vk_afile out;
	if (ts_reader_open(&r, c.input, &e) || vk_afile_open(&out, c.output, 0, &e))
		vk_die_error(&e);
	void *rec = vk_xmalloc(r.data_bytes);
	int32_t label;
	int rc;
	while ((rc = ts_read(&r, rec, &label, &e)) > 0)
		print_record(out.f, &r.h, rec, label);
	if (rc < 0) {
		vk_afile_abort(&out);
		vk_die_error(&e);
	}
	if (vk_afile_commit(&out, &e))
		vk_die_error(&e);
	free(rec);
	ts_reader_close(&r);
	return 0;
}
