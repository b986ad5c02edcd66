/* dsprites2stream — generate the dSprites data set (all 737,280 images in the
 * original's order, or a seeded sample) with its factors in a second stream. */
#include <stdlib.h>
#include <string.h>

#include "dsprites.h"
#include "err.h"
#include "factors.h"
#include "opts.h"
#include "progress.h"
#include "rng.h"
#include "stream.h"

static const char USAGE[] =
	"Usage: dsprites2stream [OPTION]...\n"
	"Generate dSprites: 64x64 binary images of a square, an ellipse or a heart at\n"
	"6 scales, 40 orientations and 32x32 positions, all 737280 combinations in the\n"
	"original's order (color, shape, scale, orientation, posX, posY; the last varies\n"
	"fastest), or a seeded sample of N of them (in that order). Images (u8, 0 or 255,\n"
	"read as 0 or 1) go to standard output; their factors to a factor stream.\n\n"
	"  -o, --output FILE    write the images to FILE (atomically), not standard output\n"
	"  -f, --factors FILE   write each image's factor classes to FILE, a factor\n"
	"                       stream aligned with the images (formats/factors.md)\n"
	"  -n, --count N        a sample of N distinct images (1 ... 737280)\n"
	"  -s, --seed N         seed for the sample (default 1)\n"
	"  -h, --help           show this help and exit\n"
	"      --version        show the version and exit\n";

struct cmdline {
	const char *output, *factors;
	uint64_t count, seed;
	int sample;
};

static void parse_cmdline(int argc, char **argv, struct cmdline *c)
{
	static const struct option longopts[] = {
		{"output", required_argument, 0, 'o'}, {"factors", required_argument, 0, 'f'},
		{"count", required_argument, 0, 'n'},  {"seed", required_argument, 0, 's'},
		{"help", no_argument, 0, 'h'},         {"version", no_argument, 0, VK_OPT_VERSION},
		{0, 0, 0, 0}};
	memset(c, 0, sizeof *c);
	c->count = VK_DSPRITES_COUNT;
	c->seed = 1;
	int ch, seed_given = 0;
	while ((ch = getopt_long(argc, argv, "o:f:n:s:h", longopts, NULL)) != -1) {
		if (vk_common_option(ch, USAGE))
			continue;
		switch (ch) {
		case 'o': c->output = optarg; break;
		case 'f': c->factors = optarg; break;
		case 'n': {
			long n = vk_parse_long("--count", optarg, 1, 1L << 62);
			if (n > (long)VK_DSPRITES_COUNT)
				vk_usage_error("--count %ld is more than dSprites' %u images", n,
					       VK_DSPRITES_COUNT);
			c->count = (uint64_t)n;
			c->sample = 1;
			break;
		}
		case 's':
			c->seed = (uint64_t)vk_parse_long("--seed", optarg, 0, 1L << 62);
			seed_given = 1;
			break;
		}
	}
	if (optind < argc)
		vk_usage_error("unexpected operand '%s' (dsprites2stream reads nothing)", argv[optind]);
	if (seed_given && !c->sample)
		vk_option_has_no_effect("--seed", "without --count (nothing is drawn)");
	const char *in[] = {c->factors};
	if (c->factors)
		vk_refuse_output_is_input(c->output, in, 1);
}

static void open_outputs(ts_writer *w, const struct cmdline *c)
{
	vk_error e;
	ts_header h;
	uint32_t dims[2] = {VK_DSPRITES_SIDE, VK_DSPRITES_SIDE};
	if (ts_header_init(&h, TS_U8, 2, dims, &e) || ts_meta_set(&h, "kind", "image", &e) ||
	    ts_meta_set(&h, "source", "dsprites", &e) || ts_meta_set(&h, "binary", "yes", &e))
		vk_die_error(&e);
	h.count = c->count;
	if (ts_writer_open(&w[0], c->output, &h, &e))
		vk_die_error(&e);
	if (!c->factors)
		return;
	vk_factors f;
	vk_dsprites_factors(&f);
	if (vk_factors_header(&h, &f, &e) || ts_meta_set(&h, "source", "dsprites", &e))
		vk_die_error(&e);
	h.count = c->count;
	if (ts_writer_open(&w[1], c->factors, &h, &e)) {
		ts_writer_abort(&w[0]);
		vk_die_error(&e);
	}
}

/* Every image, or a uniform sample of count in index order (Knuth's selection
 * sampling: one draw per image, nothing held). */
static void dsprites2stream(ts_writer *w, const struct cmdline *c)
{
	vk_error e;
	vk_rng rng;
	vk_rng_seed(&rng, c->seed);
	unsigned char img[VK_DSPRITES_PIXELS];
	int cls[VK_DSPRITES_FACTORS];
	float fac[VK_DSPRITES_FACTORS];
	uint64_t left = c->count;
	vk_progress prog;
	vk_progress_start(&prog, "images", c->count);
	for (uint64_t i = 0; i < VK_DSPRITES_COUNT && left > 0; i++) {
		if (c->sample && vk_rng_below(&rng, VK_DSPRITES_COUNT - i) >= left)
			continue;
		left--;
		vk_dsprites_classes(i, cls);
		vk_dsprites_render(cls, img, 255);
		for (int k = 0; k < VK_DSPRITES_FACTORS; k++)
			fac[k] = (float)cls[k];
		if (ts_write(&w[0], img, TS_NO_LABEL, &e) ||
		    (c->factors && ts_write(&w[1], fac, TS_NO_LABEL, &e))) {
			ts_writer_abort(&w[0]);
			if (c->factors)
				ts_writer_abort(&w[1]);
			vk_die_error(&e);
		}
		vk_progress_update(&prog, c->count - left);
	}
	vk_progress_end(&prog);
}

int main(int argc, char **argv)
{
	struct cmdline c;
	vk_error e;
	ts_writer w[2];
	vk_init(argc, argv);
	parse_cmdline(argc, argv, &c);
	open_outputs(w, &c);
	dsprites2stream(w, &c);
	if (ts_writer_close_all(w, c.factors ? 2 : 1, &e))
		vk_die_error(&e);
	return 0;
}
