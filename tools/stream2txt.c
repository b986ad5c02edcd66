/* stream2txt — a tensor stream as text: one record a line, tab-separated. */
#include <stdlib.h>
#include <string.h>

#include "afile.h"
#include "classes.h"
#include "err.h"
#include "opts.h"
#include "standardize.h"
#include "stream.h"

static const char USAGE[] =
	"Usage: stream2txt [OPTION]... [FILE]\n"
	"Print a tensor stream as text: one record a line, its values separated by\n"
	"tabs in row-major order, the label first when the stream has labels. u8 prints\n"
	"as integers, f32 with 9 and f64 with 17 significant digits, enough to read\n"
	"back the same bits. With no FILE, or when FILE is -, read standard input.\n\n"
	"  -o, --output FILE  write FILE (atomically) instead of standard output\n"
	"  -H, --header       a first line of column names (from txt2stream --csv's\n"
	"                     header when the stream has them, else label x1 x2 ...)\n"
	"  -d, --destandardize  undo txt2stream --standardize: print x * sd + mean\n"
	"  -h, --help         show this help and exit\n"
	"      --version      show the version and exit\n";

struct cmdline {
	const char *input, *output;
	int header, destandardize;
};

static void parse_cmdline(int argc, char **argv, struct cmdline *c)
{
	static const struct option longopts[] = {
		{"output", required_argument, 0, 'o'},
		{"header", no_argument, 0, 'H'},
		{"destandardize", no_argument, 0, 'd'},
		{"destandardise", no_argument, 0, 'd'},
		{"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, VK_OPT_VERSION},
		{0, 0, 0, 0}};
	memset(c, 0, sizeof *c);
	int ch;
	while ((ch = getopt_long(argc, argv, "o:Hdh", longopts, NULL)) != -1) {
		if (vk_common_option(ch, USAGE))
			continue;
		if (ch == 'o')
			c->output = optarg;
		else if (ch == 'H')
			c->header = 1;
		else if (ch == 'd')
			c->destandardize = 1;
	}
	c->input = vk_input_arg(argc, argv, optind);
}

/* The column line: the label's name, then each column's (column.I from a CSV
 * header, else xI from 1). */
static void print_header(FILE *f, const ts_header *h)
{
	char key[64], enc[VK_CLASS_NAME_MAX * 3], name[VK_CLASS_NAME_MAX];
	size_t n = ts_elems(h);
	if (h->has_labels)
		fprintf(f, "%s\t", ts_meta_get(h, "label_column", enc, sizeof enc) ?
			vk_class_decode(enc, name, sizeof name) : "label");
	for (size_t i = 0; i < n; i++) {
		snprintf(key, sizeof key, "column.%zu", i);
		if (ts_meta_get(h, key, enc, sizeof enc)) {
			/* a tab or newline in a name would break the line: shown as a space */
			vk_class_decode(enc, name, sizeof name);
			for (char *p = name; *p; p++)
				if (*p == '\t' || *p == '\n' || *p == '\r')
					*p = ' ';
			fputs(name, f);
		} else {
			fprintf(f, "x%zu", i + 1);
		}
		fputs(i + 1 < n ? "\t" : "\n", f);
	}
}

static void print_record(FILE *f, const ts_header *h, const void *rec, int32_t label,
			 const double *mean, const double *sd)
{
	size_t n = ts_elems(h);
	if (h->has_labels)
		fprintf(f, "%d\t", label);
	for (size_t i = 0; i < n; i++) {
		const char *sep = i + 1 < n ? "\t" : "\n";
		if (mean) {
			double v = h->dtype == TS_F32 ? ((const float *)rec)[i] : ((const double *)rec)[i];
			v = v * sd[i] + mean[i];
			if (h->dtype == TS_F32)
				fprintf(f, "%.9g%s", (float)v, sep);
			else
				fprintf(f, "%.17g%s", v, sep);
			continue;
		}
		switch (h->dtype) {
		case TS_U8: fprintf(f, "%u%s", ((const unsigned char *)rec)[i], sep); break;
		case TS_F32: fprintf(f, "%.9g%s", ((const float *)rec)[i], sep); break;
		case TS_F64: fprintf(f, "%.17g%s", ((const double *)rec)[i], sep); break;
		case TS_I32: fprintf(f, "%.0f%s", ts_get(TS_I32, rec, i), sep); break;
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
	double *mean = NULL, *sd = NULL;
	if (c.destandardize) {
		if (r.h.dtype == TS_U8 || r.h.dtype == TS_I32)
			vk_die("%s: %s records were not standardised (--destandardize)", r.name,
			       ts_dtype_name(r.h.dtype));
		mean = vk_xmalloc(ts_elems(&r.h) * sizeof *mean);
		sd = vk_xmalloc(ts_elems(&r.h) * sizeof *sd);
		int got = ts_standardize_get(&r.h, r.name, ts_elems(&r.h), mean, sd, &e);
		if (got < 0)
			vk_die_error(&e);
		if (!got)
			vk_die("%s: no standardize.mean in the metadata (--destandardize undoes "
			       "txt2stream --standardize)", r.name);
	}
	if (c.header)
		print_header(out.f, &r.h);
	while ((rc = ts_read(&r, rec, &label, &e)) > 0)
		print_record(out.f, &r.h, rec, label, mean, sd);
	free(mean);
	free(sd);
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
