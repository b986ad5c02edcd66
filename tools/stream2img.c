/* stream2img — one image file per record of a tensor stream, through libvips. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "afile.h"
#include "classes.h"
#include "err.h"
#include "manifest.h"
#include "opts.h"
#include "progress.h"
#include "stream.h"
#include "vimage.h"

static const char USAGE[] =
	"Usage: stream2img -o PATTERN [OPTION]... [STREAM]\n"
	"Write each record of a tensor stream as an image file named by PATTERN.\n"
	"Records are HxW or HxWx1 (grey), HxWx3 (RGB) or HxWx4 (RGBA); u8 values are\n"
	"bytes, f32/f64 values in [0,1] are scaled by 255 (rounded, clamped).\n"
	"With no STREAM, or when STREAM is -, read standard input.\n\n"
	"PATTERN is printf-like: %d (with flags and width, as %05d) is the record's\n"
	"number, %l its label (-1 when it has none), %c its class name (the label's\n"
	"number when the stream names no classes), %f the base name of the file it\n"
	"came from, without its suffix (with --manifest), %% a per cent sign. Its suffix\n"
	"picks the format: .png, .jpg/.jpeg, .pgm/.ppm/.pnm, .webp, .tif, ...; libvips\n"
	"save options may follow in brackets, not part of the name: %d.webp[lossless].\n"
	"Missing directories are created; every file is written atomically.\n\n"
	"  -o, --output PATTERN    the file names (required)\n"
	"  -n, --count N           write at most N images\n"
	"      --start N           number of the first record in %d (default 0)\n"
	"  -m, --manifest FILE     the records' files, as img2stream --manifest wrote\n"
	"  -h, --help              show this help and exit\n"
	"      --version           show the version and exit\n";

enum { OPT_START = VK_OPT_FIRST_LONG };

struct cmdline {
	const char *pattern, *input, *manifest;
	char *name_pattern;     /* pattern without a trailing [options] */
	const char *options;    /* "[...]" or "" */
	unsigned long long count, start;
	int has_index;     /* PATTERN has a %d field */
};

/* Check PATTERN's fields; returns whether it has a %d. */
static int check_pattern(const char *p)
{
	int index = 0;
	for (; *p; p++) {
		if (*p != '%')
			continue;
		p++;
		if (*p == '%')
			continue;
		p += strspn(p, "-0+ ");
		p += strspn(p, "0123456789");
		if (*p == 'd' || *p == 'i')
			index = 1;
		else if (*p == 'f')
			index = 1;  /* file names tell records apart as numbers do */
		else if (*p != 'l' && *p != 'c')
			vk_usage_error("-o: '%%%c' in the pattern is not %%d, %%l, %%c, %%f or %%%%",
				       *p ? *p : ' ');
	}
	return index;
}

static void parse_cmdline(int argc, char **argv, struct cmdline *c)
{
	static const struct option longopts[] = {
		{"output", required_argument, 0, 'o'}, {"count", required_argument, 0, 'n'},
		{"start", required_argument, 0, OPT_START}, {"manifest", required_argument, 0, 'm'},
		{"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, VK_OPT_VERSION}, {0, 0, 0, 0}};
	memset(c, 0, sizeof *c);
	c->count = TS_MAX_COUNT;
	int ch;
	while ((ch = getopt_long(argc, argv, "o:n:m:h", longopts, NULL)) != -1) {
		if (vk_common_option(ch, USAGE))
			continue;
		switch (ch) {
		case 'o': c->pattern = optarg; break;
		case 'm': c->manifest = optarg; break;
		case 'n': c->count = vk_parse_long("--count", optarg, 1, TS_MAX_COUNT); break;
		case OPT_START: c->start = vk_parse_long("--start", optarg, 0, TS_MAX_COUNT); break;
		}
	}
	c->input = vk_input_arg(argc, argv, optind);
	if (!c->pattern)
		vk_usage_error("missing -o PATTERN (the image file names, e.g. out/%%05d.png)");
	c->name_pattern = strdup(c->pattern);
	char *br = strrchr(c->name_pattern, '[');
	size_t len = strlen(c->name_pattern);
	c->options = "";
	if (br && len && c->name_pattern[len - 1] == ']' && !strchr(br, '/')) {
		c->options = c->pattern + (br - c->name_pattern);
		*br = 0;
	}
	c->has_index = check_pattern(c->name_pattern);
}

/* A class name as one path component: '/' and NUL-like bytes become '_', and
 * "", "." and ".." become "_". */
static void safe_component(char *s)
{
	for (char *p = s; *p; p++)
		if (*p == '/' || (unsigned char)*p < 0x20)
			*p = '_';
	if (!*s || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		strcpy(s, "_");
}

/* The base name of a source file without its suffix (a/b/cat.jpg: cat). */
static void source_stem(const char *path, char *out, size_t len)
{
	const char *slash = strrchr(path, '/');
	snprintf(out, len, "%s", slash ? slash + 1 : path);
	char *dot = strrchr(out, '.');
	if (dot && dot != out)
		*dot = 0;
	safe_component(out);
}

/* The file name of record index with label into out; source the record's
 * file (--manifest) or NULL. */
static void format_name(char *out, size_t len, const char *p, unsigned long long index,
			int32_t label, const ts_header *h, const char *source)
{
	size_t o = 0;
	char field[VK_CLASS_NAME_MAX + 32];
	for (; *p; p++) {
		if (*p != '%' || p[1] == '%') {
			if (*p == '%')
				p++;
			if (o + 1 < len)
				out[o++] = *p;
			continue;
		}
		const char *start = p++;
		p += strspn(p, "-0+ ");
		p += strspn(p, "0123456789");
		char spec[32];
		int n = (int)(p - start);
		if (n > 20)
			vk_die("-o: field '%.*s' is too wide", n + 1, start);
		if (*p == 'c') {
			if (label < 0)
				strcpy(field, "unlabelled");
			else if (!vk_class_name(h, label, field, sizeof field))
				snprintf(field, sizeof field, "%d", (int)label);
			safe_component(field);
		} else if (*p == 'f') {
			if (!source)
				vk_die("-o: %%f needs the records' files (--manifest FILE)");
			source_stem(source, field, sizeof field);
		} else {
			snprintf(spec, sizeof spec, "%.*slld", n, start);
			snprintf(field, sizeof field, spec,
				 *p == 'l' ? (long long)label : (long long)index);
		}
		for (char *f = field; *f; f++)
			if (o + 1 < len)
				out[o++] = *f;
	}
	if (o + 1 >= len)
		vk_die("-o: the file name for record %llu is over %zu bytes", index, len - 1);
	out[o] = 0;
}

/* mkdir -p of path's directory. */
static void make_parent(const char *path)
{
	char dir[4096];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return;
	*slash = 0;
	struct stat st;
	if (stat(dir, &st) == 0)
		return;
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(dir, 0777) != 0 && errno != EEXIST)
			vk_die("%s: cannot create directory:", dir);
		*p = '/';
	}
	if (mkdir(dir, 0777) != 0 && errno != EEXIST)
		vk_die("%s: cannot create directory:", dir);
}

static void save(const char *path, const char *options, const unsigned char *px, unsigned w,
		 unsigned h, unsigned c)
{
	vk_error e;
	void *buf;
	size_t len;
	char how[4096];
	snprintf(how, sizeof how, "%s%s", path, options);
	if (vk_img_encode(how, px, w, h, c, &buf, &len, &e))
		vk_die("%s: %s", path, e.msg);
	make_parent(path);
	vk_afile out;
	if (vk_afile_open(&out, path, 0, &e))
		vk_die_error(&e);
	if (fwrite(buf, 1, len, out.f) != len) {
		vk_afile_abort(&out);
		vk_die("%s: write error:", path);
	}
	vk_img_free(buf);
	if (vk_afile_commit(&out, &e))
		vk_die_error(&e);
}

struct geom {
	unsigned h, w, c;
};

static struct geom image_geom(const ts_reader *r)
{
	const ts_header *h = &r->h;
	if (h->rank == 2)
		return (struct geom){h->dims[0], h->dims[1], 1};
	if (h->rank == 3 && (h->dims[2] == 1 || h->dims[2] == 3 || h->dims[2] == 4))
		return (struct geom){h->dims[0], h->dims[1], h->dims[2]};
	char shape[64];
	vk_die("%s: records of shape %s are not images (HxW, HxWx1, HxWx3 or HxWx4)", r->name,
	       ts_shape_str(h, shape, sizeof shape));
}

/* Read the next record as bytes: 1, or 0 at the end. */
static int read_image(ts_reader *r, unsigned char *px, float *f, size_t n, int32_t *label)
{
	vk_error e;
	int rc = f ? ts_read_f32(r, f, label, &e) : ts_read(r, px, label, &e);
	if (rc < 0)
		vk_die_error(&e);
	for (size_t i = 0; rc && f && i < n; i++) {
		float v = f[i] * 255.0f + 0.5f;
		px[i] = v <= 0 ? 0 : v >= 255 ? 255 : (unsigned char)v;
	}
	return rc;
}

static void stream2img(struct cmdline *c)
{
	vk_error e;
	ts_reader r;
	if (ts_reader_open(&r, c->input, &e))
		vk_die_error(&e);
	struct geom g = image_geom(&r);
	vk_manifest mf = {0};
	if (c->manifest && vk_manifest_load(&mf, c->manifest, &e))
		vk_die_error(&e);
	if (!vk_img_can_save(c->name_pattern))
		vk_die("%s: libvips writes no image format for this suffix (try .png, .jpg, .pgm, "
		       ".ppm, .pnm, .webp or .tif)", c->pattern);
	if (!c->has_index && r.h.count != TS_COUNT_UNKNOWN && r.h.count > 1 && c->count > 1)
		vk_die("-o: '%s' has no %%d field, but %s has %llu records (each would overwrite "
		       "the last)", c->name_pattern, r.name, (unsigned long long)r.h.count);
	size_t n = (size_t)g.h * g.w * g.c;
	unsigned char *px[2] = {vk_xmalloc(n), vk_xmalloc(n)};
	float *f = r.h.dtype == TS_U8 ? NULL : vk_xmalloc(n * sizeof *f);
	int32_t label[2] = {TS_NO_LABEL, TS_NO_LABEL};
	char name[4096];
	vk_progress prog;
	vk_progress_start(&prog, "images",
			  r.h.count == TS_COUNT_UNKNOWN ? 0 : (r.h.count < c->count ? r.h.count : c->count));
	/* One record of look-ahead: without a %d field a second record is an error
	 * found before the first file is written. */
	int have = read_image(&r, px[0], f, n, &label[0]);
	if (!have)
		vk_die("%s: no records", r.name);
	unsigned long long i = 0;
	for (; have && i < c->count; i++) {
		int cur = i & 1;
		have = i + 1 < c->count && read_image(&r, px[!cur], f, n, &label[!cur]);
		if (have && !c->has_index)
			vk_die("-o: '%s' has no %%d field, but %s has more than one record (each "
			       "would overwrite the last)", c->name_pattern, r.name);
		if (c->manifest && i >= mf.n)
			vk_die("%s: record %llu is past the end of the manifest %s (%llu records)",
			       r.name, i, c->manifest, (unsigned long long)mf.n);
		format_name(name, sizeof name, c->name_pattern, c->start + i, label[cur], &r.h,
			    c->manifest ? mf.file[i] : NULL);
		save(name, c->options, px[cur], g.w, g.h, g.c);
		vk_progress_update(&prog, i + 1);
	}
	vk_progress_end(&prog);
	vk_manifest_free(&mf);
	ts_reader_close(&r);
	free(px[0]);
	free(px[1]);
	free(f);
	free(c->name_pattern);
}

int main(int argc, char **argv)
{
	struct cmdline c;
	vk_error e;
	vk_init(argc, argv);
	parse_cmdline(argc, argv, &c);
	if (vk_img_init(argv[0], &e))
		vk_die_error(&e);
	stream2img(&c);
	vk_img_shutdown();
	return 0;
}
