/* stream-perturb — replace a random fraction of every record's values by
 * uniform noise: the perturbed inputs a background model is trained on for
 * the likelihood ratio of Ren et al. (2019). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "opts.h"
#include "rng.h"
#include "stream.h"

static const char USAGE[] =
	"Usage: stream-perturb -r RATE [OPTION]... [FILE]\n"
	"Copy the tensor stream FILE (standard input when absent or -) to standard\n"
	"output with each value replaced, with probability RATE, by a uniform random\n"
	"one: a byte 0..255 in a u8 stream, a number in [0, 1] in a float stream.\n"
	"Labels and metadata are kept; perturb=RATE is added.\n\n"
	"  -r, --rate RATE    the probability of replacing a value, 0 to 1 (required)\n"
	"  -s, --seed N       seed of the noise (default 1)\n"
	"  -o, --output FILE  write FILE (atomically) instead of standard output\n"
	"  -h, --help         show this help and exit\n"
	"      --version      show the version and exit\n";

struct cmdline {
	double rate;
	uint64_t seed;
	const char *output, *input;
};

static void parse_cmdline(int argc, char **argv, struct cmdline *c)
{
	static const struct option longopts[] = {
		{"rate", required_argument, 0, 'r'},   {"seed", required_argument, 0, 's'},
		{"output", required_argument, 0, 'o'}, {"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, VK_OPT_VERSION}, {0, 0, 0, 0}};
	memset(c, 0, sizeof *c);
	c->rate = -1;
	c->seed = 1;
	int ch;
	while ((ch = getopt_long(argc, argv, "r:s:o:h", longopts, NULL)) != -1) {
		if (vk_common_option(ch, USAGE))
			continue;
		switch (ch) {
		case 'r': c->rate = vk_parse_double("--rate", optarg, 0, 1); break;
		case 's': c->seed = (uint64_t)vk_parse_long("--seed", optarg, 0, 0x7fffffffffffffffL); break;
		case 'o': c->output = optarg; break;
		}
	}
	if (c->rate < 0)
		vk_usage_error("the rate of perturbation is required (-r RATE, e.g. 0.2)");
	if (optind + 1 < argc)
		vk_usage_error("one input at a time (got %d operands)", argc - optind);
	c->input = vk_input_arg(argc, argv, optind);
	vk_refuse_output_is_input(c->output, &c->input, 1);
}

static void stream_perturb(ts_reader *r, ts_writer *w, double rate, uint64_t seed)
{
	vk_error e;
	vk_rng rng;
	size_t n = ts_elems(&r->h);
	unsigned char *rec = vk_xmalloc(r->data_bytes);
	int32_t label;
	int rc;
	vk_rng_seed(&rng, seed);
	/* A value is replaced when a 32-bit draw falls below rate·2³²: exact for
	 * 0 and 1, and the same draws whatever the dtype. */
	uint64_t below = (uint64_t)(rate * 4294967296.0);
	while ((rc = ts_read(r, rec, &label, &e)) > 0) {
		for (size_t i = 0; i < n; i++) {
			uint64_t u = vk_rng_next(&rng);
			if ((u >> 32) >= below)
				continue;
			double v = (double)(u & 0xffffffffu) / 4294967296.0;
			if (r->h.dtype == TS_U8)
				rec[i] = (unsigned char)(v * 256);
			else
				ts_put(r->h.dtype, rec, i, v);
		}
		if (ts_write(w, rec, label, &e))
			vk_die_error(&e);
	}
	if (rc < 0)
		vk_die_error(&e);
	free(rec);
}

int main(int argc, char **argv)
{
	struct cmdline c;
	vk_error e;
	ts_reader r;
	ts_writer w;
	char rate[32];
	vk_init(argc, argv);
	parse_cmdline(argc, argv, &c);
	if (ts_reader_open(&r, c.input, &e))
		vk_die_error(&e);
	if (r.h.dtype == TS_I32)
		vk_die("%s holds i32 integers (such as codes): perturbation replaces values by "
		       "uniform draws in [0, 1) and is for u8, f32 or f64 data", r.name);
	ts_header h = r.h;
	h.count = TS_COUNT_UNKNOWN;
	snprintf(rate, sizeof rate, "%g", c.rate);
	if (ts_meta_set(&h, "perturb", rate, &e) || ts_writer_open(&w, c.output, &h, &e))
		vk_die_error(&e);
	stream_perturb(&r, &w, c.rate, c.seed);
	ts_reader_close(&r);
	if (ts_writer_close(&w, &e))
		vk_die_error(&e);
	return 0;
}
