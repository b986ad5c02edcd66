/* img2stream — image files (PNG, JPEG, WebP, TIFF, GIF, PNM...) to a tensor
 * stream through libvips, labels from folder names. */
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "classes.h"
#include "err.h"
#include "manifest.h"
#include "modelfile.h"
#include "modelstream.h"
#include "opts.h"
#include "progress.h"
#include "rng.h"
#include "stream.h"
#include "vimage.h"

static const char USAGE[] =
	"Usage: img2stream [OPTION]... FILE|DIR...\n"
	"Decode image files (PNG, JPEG, WebP, TIFF, GIF, PNM and whatever else libvips\n"
	"reads) into a tensor stream on standard output, one record per image: HxW\n"
	"(grey), HxWx3 (RGB) or HxWx4 (RGBA), u8 by default. Directories are walked\n"
	"recursively for image files; all paths are taken in sorted (byte) order. The\n"
	"first folder level below each DIR names each image's class (its label).\n\n"
	"  -o, --output FILE       write FILE (atomically) instead of standard output\n"
	"      --files-from FILE   also read paths from FILE, one a line (- for stdin)\n"
	"  -0, --null              paths in --files-from end with NUL, not newline\n"
	"      --labels MODE       'folder' (the default): labels from the first folder\n"
	"                          level below each DIR; 'none': no labels\n"
	"      --classes LIST|FILE the classes and their order (label 0 first): names\n"
	"                          separated by commas, or a file of one name a line;\n"
	"                          every class folder must be one of them\n"
	"      --classes-from MODEL|STREAM  the same classes as a model's training\n"
	"                          data, or a stream's (so train and test agree)\n"
	"  -s, --size WxH          scale every image to W pixels wide, H high (without\n"
	"                          it, every image must have the first one's size)\n"
	"      --fit MODE          with --size: 'crop' (the default: cover WxH, cut the\n"
	"                          centre), 'pad' (fit inside, centre on --background)\n"
	"                          or 'stretch' (scale each axis)\n"
	"  -g, --gray, --grey      grey output (HxW)\n"
	"      --rgb               RGB output (HxWx3)\n"
	"      --rgba              RGBA output (HxWx4)\n"
	"                          (default: grey when every input is grey, else RGB)\n"
	"      --background C      colour alpha is composited over, and --fit pad's\n"
	"                          border: a grey level 0-255 or R,G,B (default 0)\n"
	"  -f, --float             write f32 values in [0,1] (byte/255) instead of u8\n"
	"  -n, --count N           convert at most N images (after --shuffle)\n"
	"      --shuffle           shuffle the images (seeded, reproducible)\n"
	"      --seed N            seed for --shuffle (default 1)\n"
	"  -t, --threads N         decode with N threads (default: every core); the\n"
	"                          output order does not depend on N\n"
	"  -k, --skip-bad          skip unreadable or corrupt files with a warning\n"
	"  -m, --manifest FILE     write which file each record came from (TSV)\n"
	"  -h, --help              show this help and exit\n"
	"      --version           show the version and exit\n";

enum {
	OPT_FILES_FROM = VK_OPT_FIRST_LONG, OPT_LABELS, OPT_FIT, OPT_RGB, OPT_RGBA,
	OPT_BACKGROUND, OPT_SHUFFLE, OPT_SEED, OPT_CLASSES, OPT_CLASSES_FROM
};

struct cmdline {
	const char *output, *files_from, *manifest;
	const char *classes, *classes_from; /* --classes, --classes-from */
	int nul, labels, as_float, shuffle, skip_bad;
	unsigned channels;          /* 0: decide from the inputs */
	unsigned w, h;              /* 0: keep the images' own size */
	enum vk_fit fit;
	unsigned char bg[3];
	unsigned long long count, seed;
	int threads;
	char **operands;
	int n_operands;
};

static void parse_size(const char *s, struct cmdline *c)
{
	char *end;
	errno = 0;
	long w = strtol(s, &end, 10), h = 0;
	if (end != s && *end == 'x') {
		char *p = end + 1;
		h = strtol(p, &end, 10);
		if (end == p)
			h = -1;
	} else {
		h = -1;
	}
	if (errno || *end || w < 0 || h < 0)
		vk_usage_error("--size: '%s' is not a size like 32x32 (width x height)", s);
	if (w == 0 || h == 0)
		vk_usage_error("--size: '%s': width and height must be at least 1", s);
	if (w > 65535 || h > 65535 || (unsigned long long)w * h > TS_MAX_ELEMS / 4)
		vk_usage_error("--size: '%s' is too large (at most 65535 a side and %u pixels)", s,
			       TS_MAX_ELEMS / 4);
	c->w = (unsigned)w;
	c->h = (unsigned)h;
}

static void parse_background(const char *s, unsigned char rgb[3])
{
	int v[3];
	int n = vk_parse_list("--background", s, v, 3, 0, 255);
	if (n == 2)
		vk_usage_error("--background: '%s' is not a grey level or R,G,B", s);
	for (int i = 0; i < 3; i++)
		rgb[i] = (unsigned char)(n == 1 ? v[0] : v[i]);
}

static void parse_cmdline(int argc, char **argv, struct cmdline *c)
{
	static const struct option longopts[] = {
		{"output", required_argument, 0, 'o'},
		{"files-from", required_argument, 0, OPT_FILES_FROM},
		{"null", no_argument, 0, '0'},
		{"labels", required_argument, 0, OPT_LABELS},
		{"size", required_argument, 0, 's'},
		{"fit", required_argument, 0, OPT_FIT},
		{"gray", no_argument, 0, 'g'},
		{"grey", no_argument, 0, 'g'},
		{"rgb", no_argument, 0, OPT_RGB},
		{"rgba", no_argument, 0, OPT_RGBA},
		{"background", required_argument, 0, OPT_BACKGROUND},
		{"float", no_argument, 0, 'f'},
		{"count", required_argument, 0, 'n'},
		{"shuffle", no_argument, 0, OPT_SHUFFLE},
		{"seed", required_argument, 0, OPT_SEED},
		{"threads", required_argument, 0, 't'},
		{"skip-bad", no_argument, 0, 'k'},
		{"classes", required_argument, 0, OPT_CLASSES},
		{"classes-from", required_argument, 0, OPT_CLASSES_FROM},
		{"manifest", required_argument, 0, 'm'},
		{"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, VK_OPT_VERSION},
		{0, 0, 0, 0}};
	memset(c, 0, sizeof *c);
	c->labels = 1;
	c->count = TS_MAX_COUNT;
	c->seed = 1;
	int fit_given = 0, ch;
	while ((ch = getopt_long(argc, argv, "o:0s:gfn:t:km:h", longopts, NULL)) != -1) {
		if (vk_common_option(ch, USAGE))
			continue;
		switch (ch) {
		case 'o': c->output = optarg; break;
		case OPT_FILES_FROM: c->files_from = optarg; break;
		case '0': c->nul = 1; break;
		case OPT_LABELS:
			if (strcmp(optarg, "folder") == 0)
				c->labels = 1;
			else if (strcmp(optarg, "none") == 0)
				c->labels = 0;
			else
				vk_usage_error("--labels: '%s' is not 'folder' or 'none'", optarg);
			break;
		case 's': parse_size(optarg, c); break;
		case OPT_FIT:
			fit_given = 1;
			if (strcmp(optarg, "crop") == 0)
				c->fit = VK_FIT_CROP;
			else if (strcmp(optarg, "pad") == 0)
				c->fit = VK_FIT_PAD;
			else if (strcmp(optarg, "stretch") == 0)
				c->fit = VK_FIT_STRETCH;
			else
				vk_usage_error("--fit: '%s' is not 'crop', 'pad' or 'stretch'", optarg);
			break;
		case 'g': c->channels = 1; break;
		case OPT_RGB: c->channels = 3; break;
		case OPT_RGBA: c->channels = 4; break;
		case OPT_BACKGROUND: parse_background(optarg, c->bg); break;
		case 'f': c->as_float = 1; break;
		case 'n': c->count = vk_parse_long("--count", optarg, 1, TS_MAX_COUNT); break;
		case OPT_SHUFFLE: c->shuffle = 1; break;
		case OPT_SEED: c->seed = vk_parse_long("--seed", optarg, 0, (1L << 62)); break;
		case 't': c->threads = vk_parse_long("--threads", optarg, 1, 256); break;
		case 'k': c->skip_bad = 1; break;
		case OPT_CLASSES: c->classes = optarg; break;
		case OPT_CLASSES_FROM: c->classes_from = optarg; break;
		case 'm': c->manifest = optarg; break;
		}
	}
	if (c->classes && c->classes_from)
		vk_usage_error("--classes and --classes-from exclude each other");
	if ((c->classes || c->classes_from) && !c->labels)
		vk_usage_error("%s gives class names, but --labels none writes no labels",
			       c->classes ? "--classes" : "--classes-from");
	c->operands = argv + optind;
	c->n_operands = argc - optind;
	if (!c->n_operands && !c->files_from)
		vk_usage_error("no images: name files or directories, or give --files-from");
	if (c->manifest && (c->output ? !strcmp(c->output, c->manifest) :
			    !strcmp(c->manifest, "-")))
		vk_usage_error("--manifest needs a file of its own, not the stream's");
	if (fit_given && !c->w)
		vk_usage_error("--fit needs --size");
	if (c->nul && !c->files_from)
		vk_usage_error("-0 (--null) is for --files-from");
	if (!c->threads) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		c->threads = n < 1 ? 1 : n > 64 ? 64 : (int)n;
	}
	if ((!c->output || strcmp(c->output, "-") == 0) && vk_stdout_is_tty())
		vk_usage_error("refusing to write a binary stream to a terminal; "
			       "use -o FILE or a redirect");
}

/* ---- The list of images. ---- */

struct entry {
	char *path;
	int cls;             /* index of the first folder below a DIR operand, or -1 */
	int label;
	unsigned w, h;       /* from the header pass */
	int grey;
	char *err;           /* a failure, kept until it is reported in order */
};

struct list {
	struct entry *v;
	size_t n, cap;
	char **cls;          /* class names as found (unsorted, unique per DIR entry) */
	int n_cls, cap_cls;
};

/* Paths live in 1 MiB chunks, never freed one by one: about 40 bytes a file
 * beyond the path itself, so 100,000 files cost a few MiB. */
static char *keep(const char *s)
{
	static char *chunk;
	static size_t left;
	size_t n = strlen(s) + 1;
	if (n > left) {
		size_t size = n > (1u << 20) ? n : (1u << 20);
		chunk = vk_xmalloc(size);
		left = size;
	}
	char *p = chunk;
	memcpy(p, s, n);
	chunk += n;
	left -= n;
	return p;
}

static int add_class(struct list *l, const char *name)
{
	if (l->n_cls == l->cap_cls) {
		l->cap_cls = l->cap_cls ? 2 * l->cap_cls : 64;
		l->cls = realloc(l->cls, (size_t)l->cap_cls * sizeof *l->cls);
		if (!l->cls)
			vk_die("out of memory for class names");
	}
	l->cls[l->n_cls] = keep(name);
	return l->n_cls++;
}

static void list_add(struct list *l, const char *path, int cls)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 1024;
		l->v = realloc(l->v, l->cap * sizeof *l->v);
		if (!l->v)
			vk_die("out of memory for %zu file names", l->cap);
	}
	struct entry *e = &l->v[l->n++];
	memset(e, 0, sizeof *e);
	e->path = keep(path);
	e->cls = cls;
	e->label = TS_NO_LABEL;
}

/* Suffixes of files taken from a directory walk (case-insensitive). */
static int image_suffix(const char *name)
{
	static const char *const ext[] = {"png", "jpg", "jpeg", "jpe", "webp", "tif", "tiff",
					  "gif", "pgm", "ppm", "pnm", "pbm", "pam", "bmp",
					  "heic", "heif", "avif", "jxl", "jp2", NULL};
	const char *dot = strrchr(name, '.');
	if (!dot)
		return 0;
	for (int i = 0; ext[i]; i++)
		if (strcasecmp(dot + 1, ext[i]) == 0)
			return 1;
	return 0;
}

/* Walk dir recursively (not into symbolic links to directories nor into hidden
 * entries); cls is the class of everything below it, or -1 at the top. */
static void walk(struct list *l, const char *dir, int cls, int depth)
{
	DIR *d = opendir(dir);
	if (!d)
		vk_die("%s: cannot read directory:", dir);
	struct dirent *de;
	size_t dl = strlen(dir);
	while ((errno = 0, de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		size_t nl = strlen(de->d_name);
		char *path = vk_xmalloc(dl + nl + 2);
		sprintf(path, "%s%s%s", dir, dl && dir[dl - 1] == '/' ? "" : "/", de->d_name);
		struct stat st;
		int isdir = de->d_type == DT_DIR;
		if (de->d_type == DT_UNKNOWN && lstat(path, &st) == 0)
			isdir = S_ISDIR(st.st_mode);
		if (isdir)
			walk(l, path, depth == 0 ? add_class(l, de->d_name) : cls, depth + 1);
		else if (image_suffix(de->d_name))
			list_add(l, path, cls);
		free(path);
	}
	if (errno)
		vk_die("%s: cannot read directory:", dir);
	closedir(d);
}

static void read_files_from(struct list *l, const char *name, int nul)
{
	FILE *f = strcmp(name, "-") == 0 ? stdin : fopen(name, "r");
	if (!f)
		vk_die("cannot open %s:", name);
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	while ((len = getdelim(&line, &cap, nul ? '\0' : '\n', f)) > 0) {
		if (line[len - 1] == (nul ? '\0' : '\n'))
			line[--len] = 0;
		if (len > 0)
			list_add(l, line, -1);
	}
	if (ferror(f))
		vk_die("%s: read error:", f == stdin ? "standard input" : name);
	free(line);
	if (f != stdin)
		fclose(f);
}

static int by_path(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->path, ((const struct entry *)b)->path);
}

static int by_string(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- --classes and --classes-from: the class list and its order. ---- */

static char **given;  /* the names given, label 0 first */
static int n_given;

static void give(const char *name, const char *from)
{
	if (!*name)
		vk_usage_error("%s: an empty class name", from);
	for (int i = 0; i < n_given; i++)
		if (!strcmp(given[i], name))
			vk_usage_error("%s: class '%s' is named twice", from, name);
	if (n_given >= VK_CLASS_MAP_MAX)
		vk_usage_error("%s: more than %d classes", from, VK_CLASS_MAP_MAX);
	if (strlen(name) >= VK_CLASS_NAME_MAX)
		vk_usage_error("%s: a class name is longer than %d bytes", from,
			       VK_CLASS_NAME_MAX - 1);
	char **g = realloc(given, (n_given + 1) * sizeof *given);
	if (!g || !(g[n_given] = strdup(name)))
		vk_die("out of memory for class names");
	given = g;
	n_given++;
}

/* The class names of a header (a stream's, or a model's training data's). */
static void give_from_header(const ts_header *h, const char *path, const char *what)
{
	char num[32], name[VK_CLASS_NAME_MAX];
	int n = ts_meta_get(h, "classes", num, sizeof num) ? atoi(num) : 0;
	for (int i = 0; i < n; i++) {
		if (!vk_class_name(h, i, name, sizeof name))
			vk_die("%s: %s has no name for class %d", path, what, i);
		give(name, "--classes-from");
	}
	if (!n_given)
		vk_die("%s: %s names no classes", path, what);
}

static void load_classes(const struct cmdline *c)
{
	vk_error e;
	if (c->classes_from) {
		/* A stream starts with the stream magic; anything else is read as a model. */
		static const unsigned char magic[8] = {0x93, 'V', 'K', 'T', 'S', '\r', '\n', 0x1a};
		unsigned char head[8] = {0};
		FILE *f = fopen(c->classes_from, "rb");
		if (!f)
			vk_die("cannot open %s:", c->classes_from);
		size_t got = fread(head, 1, 8, f);
		fclose(f);
		if (got == 8 && !memcmp(head, magic, 8)) {
			ts_reader r;
			if (ts_reader_open(&r, c->classes_from, &e))
				vk_die_error(&e);
			give_from_header(&r.h, c->classes_from, "the stream");
			ts_reader_close(&r);
		} else {
			vk_model m;
			static vk_trainrec rec;
			static ts_header h;
			if (vk_model_load(c->classes_from, &m, &rec, NULL, &e))
				vk_die_error(&e);
			vk_trainrec_meta(&rec, &h);
			give_from_header(&h, c->classes_from, "the model's training data");
			vk_model_free(&m);
		}
		return;
	}
	struct stat st;
	if (stat(c->classes, &st) == 0 && S_ISREG(st.st_mode)) {
		FILE *f = fopen(c->classes, "r");
		if (!f)
			vk_die("cannot open %s:", c->classes);
		char *line = NULL;
		size_t cap = 0;
		ssize_t len;
		while ((len = getline(&line, &cap, f)) > 0) {
			if (line[len - 1] == '\n')
				line[--len] = 0;
			if (len && line[len - 1] == '\r')
				line[--len] = 0;
			if (len)
				give(line, c->classes);
		}
		if (ferror(f))
			vk_die("%s: read error:", c->classes);
		free(line);
		fclose(f);
		if (!n_given)
			vk_usage_error("--classes: %s names no classes", c->classes);
		return;
	}
	char *list = strdup(c->classes), *save = NULL;
	if (!list)
		vk_die("out of memory for class names");
	for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
		give(t, "--classes");
	free(list);
	if (!n_given)
		vk_usage_error("--classes: '%s' names no classes", c->classes);
}

/* Every image path, sorted; classes (sorted, unique) into *names. */
static void collect(struct list *l, const struct cmdline *c, char ***names, int *n_names)
{
	memset(l, 0, sizeof *l);
	for (int i = 0; i < c->n_operands; i++) {
		const char *op = c->operands[i];
		struct stat st;
		if (stat(op, &st) == 0 && S_ISDIR(st.st_mode)) {
			size_t before = l->n;
			walk(l, op, -1, 0);
			if (l->n == before)
				vk_die("%s: no image files in this directory (looked for .png, .jpg, "
				       ".jpeg, .webp, .tif, .gif, .pnm, .bmp, ... below it)", op);
		} else {
			list_add(l, op, -1);  /* a missing file is reported when it is read */
		}
	}
	if (c->files_from)
		read_files_from(l, c->files_from, c->nul);
	if (l->n == 0)
		vk_die("%s: no image files listed", c->files_from);
	qsort(l->v, l->n, sizeof *l->v, by_path);

	*names = NULL;
	*n_names = 0;
	if (!c->labels)
		return;
	/* Sorted unique names; each class found maps to its place among them.
	 * Only classes that hold an image count. */
	int *used = vk_xcalloc((size_t)l->n_cls + 1, sizeof *used);
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].cls >= 0)
			used[l->v[i].cls] = 1;
	char **all = vk_xmalloc(((size_t)l->n_cls + 1) * sizeof *all);
	size_t k = 0;
	for (int i = 0; i < l->n_cls; i++)
		if (used[i])
			all[k++] = l->cls[i];
	qsort(all, k, sizeof *all, by_string);
	size_t u = 0;
	for (size_t i = 0; i < k; i++)
		if (u == 0 || strcmp(all[u - 1], all[i]) != 0)
			all[u++] = all[i];
	for (int i = 0; i < l->n_cls; i++)
		if (used[i] && n_given) { /* the given list decides: labels are its places */
			used[i] = -1;
			for (int k = 0; k < n_given && used[i] < 0; k++)
				if (!strcmp(given[k], l->cls[i]))
					used[i] = k;
			if (used[i] < 0)
				vk_die("folder '%s' is not one of the %d classes given by %s", l->cls[i],
				       n_given, c->classes ? "--classes" : "--classes-from");
		} else if (used[i]) {
			char **p = bsearch(&l->cls[i], all, u, sizeof *all, by_string);
			used[i] = (int)(p - all);
		}
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].cls >= 0)
			l->v[i].label = used[l->v[i].cls];
	free(used);
	if (n_given) {
		free(all);
		*names = given;
		*n_names = n_given;
		return;
	}
	*names = all;
	*n_names = (int)u;
}

static void shuffle_and_cut(struct list *l, const struct cmdline *c)
{
	if (c->shuffle) {
		vk_rng rng;
		vk_rng_seed(&rng, c->seed);
		for (size_t i = l->n; i > 1; i--) {
			size_t j = vk_rng_below(&rng, i);
			struct entry t = l->v[i - 1];
			l->v[i - 1] = l->v[j];
			l->v[j] = t;
		}
	}
	if (l->n > c->count)
		l->n = c->count;
}

/* ---- Work over many images on several threads. ---- */

struct job {
	struct entry *items;
	size_t n;
	atomic_size_t next;
	int (*fn)(struct job *j, size_t i, vk_error *e);
	vk_img_spec spec;
	unsigned char *out;        /* decode: n records */
	size_t rec;                /* bytes of one record */
};

static void *worker(void *arg)
{
	struct job *j = arg;
	size_t i;
	vk_error e;
	while ((i = atomic_fetch_add(&j->next, 1)) < j->n)
		if (j->fn(j, i, &e) && !(j->items[i].err = strdup(e.msg)))
			vk_die("out of memory");
	vk_img_thread_done();
	return NULL;
}

static void run_job(struct job *j, int threads)
{
	atomic_store(&j->next, 0);
	if (threads > (int)j->n)
		threads = (int)j->n;
	if (threads <= 1) {
		worker(j);
		return;
	}
	pthread_t t[256];
	int started = 0;
	for (; started < threads; started++)
		if (pthread_create(&t[started], NULL, worker, j))
			break;
	if (!started)
		worker(j);
	for (int k = 0; k < started; k++)
		pthread_join(t[k], NULL);
}

static int probe_one(struct job *j, size_t i, vk_error *e)
{
	vk_img_info info;
	struct entry *en = &j->items[i];
	if (vk_img_probe(en->path, &info, e))
		return -1;
	en->w = info.w;
	en->h = info.h;
	en->grey = info.grey;
	return 0;
}

static int decode_one(struct job *j, size_t i, vk_error *e)
{
	return vk_img_decode(j->items[i].path, &j->spec, j->out + i * j->rec, e);
}

/* A path for a one-line message: control bytes as C escapes (\n, \t, \xNN). */
static const char *shown(const char *path, char *buf, size_t len)
{
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)path; *p && o + 5 < len; p++) {
		if (*p == '\n')
			o += snprintf(buf + o, len - o, "\\n");
		else if (*p == '\t')
			o += snprintf(buf + o, len - o, "\\t");
		else if (*p < 0x20 || *p == 0x7f)
			o += snprintf(buf + o, len - o, "\\x%02x", *p);
		else
			buf[o++] = (char)*p;
	}
	buf[o] = 0;
	return buf;
}

/* Report a failed entry: fatal, or a warning with --skip-bad. Returns 1 when skipped. */
static int bad(struct entry *en, const struct cmdline *c, size_t *skipped)
{
	char name[8192];
	if (!en->err)
		return 0;
	/* "cannot open FILE: reason", as every program says it; else "FILE: problem". */
	static const char co[] = "cannot open:";
	int open_err = !strncmp(en->err, co, strlen(co));
	shown(en->path, name, sizeof name);
	if (!c->skip_bad && open_err)
		vk_die("cannot open %s:%s", name, en->err + strlen(co));
	if (!c->skip_bad)
		vk_die("%s: %s", name, en->err);
	if (open_err)
		vk_warn("cannot open %s:%s; skipped", name, en->err + strlen(co));
	else
		vk_warn("%s: %s; skipped", name, en->err);
	free(en->err);
	en->err = NULL;
	en->path = NULL;
	(*skipped)++;
	return 1;
}

/* Without --size a record is the image as it is: one of more values than a
 * record holds (TS_MAX_ELEMS, 2^26) is a bad file, named, with the hint, and
 * skipped under --skip-bad. channels: the output's, or 1/3 for grey/colour. */
static void check_record_size(struct entry *en, const struct cmdline *c)
{
	unsigned long long ch = c->channels ? c->channels : en->grey ? 1 : 3;
	unsigned long long values = (unsigned long long)en->w * en->h * ch;
	char msg[256];
	if (c->w || en->err || values <= TS_MAX_ELEMS)
		return;
	snprintf(msg, sizeof msg, "image of %ux%u pixels is %llu values, over the %u of a "
		 "record; give --size WxH to scale it down", en->w, en->h, values, TS_MAX_ELEMS);
	if (!(en->err = strdup(msg)))
		vk_die("out of memory");
}

/* Read the headers of the images in l (all of them when the channel count
 * depends on them, else until the first good one), dropping bad ones under
 * --skip-bad. Returns the channel count and sets the size when it is not given. */
static unsigned header_pass(struct list *l, const struct cmdline *c, vk_img_spec *s,
			    size_t *skipped)
{
	struct job j = {.items = l->v, .n = l->n, .fn = probe_one};
	size_t k = 0;
	if (c->channels) {
		/* Only the size is needed: probe until a good file gives it. */
		for (j.n = 0; j.n < l->n; j.n++) {
			struct job one = {.items = l->v + j.n, .n = 1, .fn = probe_one};
			run_job(&one, 1);
			check_record_size(&l->v[j.n], c);
			if (!bad(&l->v[j.n], c, skipped))
				break;
		}
		if (j.n == l->n)
			vk_die("no image could be read (%zu skipped)", *skipped);
		memmove(l->v, l->v + j.n, (l->n - j.n) * sizeof *l->v);
		l->n -= j.n;
		j.n = 0;
		s->w = l->v[j.n].w;
		s->h = l->v[j.n].h;
		s->size_from = l->v[j.n].path;
		return c->channels;
	}
	vk_progress prog;
	vk_progress_start(&prog, "headers", l->n);
	run_job(&j, c->threads);
	vk_progress_end(&prog);
	int grey = 1;
	for (size_t i = 0; i < l->n; i++) {
		check_record_size(&l->v[i], c);
		if (bad(&l->v[i], c, skipped))
			continue;
		grey &= l->v[i].grey;
		l->v[k++] = l->v[i];
	}
	l->n = k;
	if (k == 0)
		vk_die("no image could be read (%zu skipped)", *skipped);
	if (!c->w) {
		s->w = l->v[0].w;
		s->h = l->v[0].h;
		s->size_from = l->v[0].path;
		for (size_t i = 1; i < l->n; i++)
			if (l->v[i].w != s->w || l->v[i].h != s->h) {
				char a[4096], b[4096];
				vk_die("%s: image is %ux%u but %s is %ux%u (give --size WxH to resize)",
				       shown(l->v[i].path, a, sizeof a), l->v[i].w, l->v[i].h,
				       shown(s->size_from, b, sizeof b), s->w, s->h);
			}
	}
	unsigned ch = grey ? 1 : 3;
	if (!c->w && (unsigned long long)s->w * s->h * ch > TS_MAX_ELEMS) { /* grey, made RGB */
		char a[4096];
		vk_die("%s: image of %ux%u pixels is %llu values as RGB, over the %u of a record; "
		       "give --size WxH to scale it down", shown(s->size_from, a, sizeof a), s->w,
		       s->h, (unsigned long long)s->w * s->h * ch, TS_MAX_ELEMS);
	}
	return ch;
}

static void open_output(ts_writer *w, const struct cmdline *c, const vk_img_spec *s,
			uint64_t count, char **names, int n_names)
{
	vk_error e;
	ts_header h;
	uint32_t dims[3] = {s->h, s->w, s->c};
	if (ts_header_init(&h, c->as_float ? TS_F32 : TS_U8, s->c == 1 ? 2 : 3, dims, &e))
		vk_die_error(&e);
	h.count = count;
	h.has_labels = n_names > 0;
	char source[4096];
	snprintf(source, sizeof source, "%s",
		 c->n_operands ? c->operands[0] : c->files_from);
	int fail = ts_meta_set(&h, "kind", "image", &e) ||
		   ts_meta_set(&h, "source", basename(source), &e) ||
		   (n_names > 0 && vk_classes_set(&h, names, n_names, &e)) ||
		   (c->as_float && ts_meta_set(&h, "scale", "unit", &e));
	if (fail || ts_writer_open(w, c->output, &h, &e))
		vk_die_error(&e);
}

static void img2stream(const struct cmdline *c)
{
	vk_error e;
	struct list l;
	char **names;
	int n_names;
	if (c->classes || c->classes_from)
		load_classes(c);
	collect(&l, c, &names, &n_names);
	shuffle_and_cut(&l, c);

	size_t skipped = 0, total = l.n;
	vk_img_spec s = {.w = c->w, .h = c->h, .resize = c->w > 0, .fit = c->fit};
	memcpy(s.bg, c->bg, 3);
	if (!c->channels || !c->w)
		s.c = header_pass(&l, c, &s, &skipped);
	else
		s.c = c->channels;

	ts_writer w;
	/* With --skip-bad the count is unknown until the end (a file's count is
	 * patched then); otherwise it is declared, so a stream cut short by an
	 * error is seen as truncated by its reader. */
	open_output(&w, c, &s, c->skip_bad ? TS_COUNT_UNKNOWN : l.n, names, n_names);
	vk_afile manifest;
	if (c->manifest && vk_manifest_open(&manifest, c->manifest, &e))
		vk_die_error(&e);

	size_t rec = (size_t)s.w * s.h * s.c, batch = 16 * (size_t)c->threads;
	if (batch > l.n)
		batch = l.n;
	if (batch * rec > (64u << 20))
		batch = rec >= (64u << 20) ? 1 : (64u << 20) / rec;
	struct job j = {.fn = decode_one, .spec = s, .rec = rec};
	j.out = vk_xmalloc(batch * rec);
	float *f = c->as_float ? vk_xmalloc(rec * sizeof *f) : NULL;
	vk_progress prog;
	vk_progress_start(&prog, "images", l.n);
	size_t written = 0;
	for (size_t at = 0; at < l.n; at += batch) {
		j.items = l.v + at;
		j.n = l.n - at < batch ? l.n - at : batch;
		run_job(&j, c->threads);
		for (size_t i = 0; i < j.n; i++) {
			if (bad(&j.items[i], c, &skipped))
				continue;
			const unsigned char *px = j.out + i * rec;
			if (f)
				for (size_t k = 0; k < rec; k++)
					f[k] = px[k] * (1.0f / 255.0f);
			if (ts_write(&w, f ? (const void *)f : px, j.items[i].label, &e) ||
			    (c->manifest && vk_manifest_add(&manifest, written, j.items[i].path, &e)))
				vk_die_error(&e);
			written++;
		}
		vk_progress_update(&prog, at + j.n);
	}
	vk_progress_end(&prog);
	if (written == 0)
		vk_die("no image could be read (%zu skipped)", skipped);
	if (ts_writer_close(&w, &e) || (c->manifest && vk_afile_commit(&manifest, &e)))
		vk_die_error(&e);
	if (skipped)
		vk_warn("%zu of %zu files skipped", skipped, total);
	free(j.out);
	free(f);
	free(l.v);
	free(l.cls);
	for (int i = 0; i < n_given; i++)
		free(given[i]);
	free(names);
}

int main(int argc, char **argv)
{
	struct cmdline c;
	vk_error e;
	vk_init(argc, argv);
	parse_cmdline(argc, argv, &c);
	if (vk_img_init(argv[0], &e))
		vk_die_error(&e);
	img2stream(&c);
	vk_img_shutdown();
	return 0;
}
