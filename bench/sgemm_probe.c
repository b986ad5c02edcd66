/* sgemm_probe — how fast can OpenBLAS run the GEMMs of one training step?
 *
 * For a dense autoencoder d0-h1-..-hk-Z (mirrored decoder) at batch B, every
 * layer in->out costs three GEMMs per step: forward Y = X·W (B×in · in×out),
 * dW = Xᵀ·dY, and dX = dY·Wᵀ (skipped for the first layer: nothing needs the
 * gradient of the data). A VAE's mu and logvar are one fused layer hk->2Z.
 * Each GEMM is timed alone (median of several repeats after a warm-up); their
 * sum is a floor on a step's time that no implementation calling sgemm can
 * beat, as it ignores activations, the loss, Adam and memory traffic.
 *
 * It also times one Adam update of all the parameters, split over the
 * threads: a pass that reads the parameters, their gradient and both moments
 * and writes three of them back, whatever the batch size. GEMMs plus that
 * pass are a floor for a step with Adam (the second floor printed).
 *
 * --split (issue 25: scaling past 8 cores) times each GEMM on T threads three
 * ways, to choose per layer and batch size from measurements: "rows", each
 * thread its share of the batch with one-thread OpenBLAS, as vae-train's
 * data-parallel workers do (a dW's per-thread blocks then summed, split over
 * the threads, as vae-train sums its workers' gradients); "cols", each thread
 * a share of the output's columns for the whole batch (a dW needs no sum; a
 * barrier a call, as a layer-by-layer split needs); "blas", one call on
 * OpenBLAS's own T threads.
 *
 * Build (as bench/run.sh does): cc -O3 -march=native -fno-math-errno -o sgemm_probe
 *        sgemm_probe.c $(pkg-config --cflags --libs openblas) -lm -lpthread
 */
#include <cblas.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_LAYERS 16
#define REPEATS 7

static const char USAGE[] =
	"Usage: sgemm_probe [--batch B] [--layers 784,400,20] [--model vae|ae]\n"
	"                   [--threads T] [--samples N] [--pass train|encode|decode]\n"
	"                   [--conv SIDE | --resnet] [--summary] [--info] [--cpu-clock]\n"
	"                   [--split]\n"
	"Time cblas_sgemm on the GEMM shapes of one training step and print the floor.\n"
	"  --pass     train (default): forward and backward; encode or decode: the\n"
	"             encoder's or the decoder's forward GEMMs only (vae-encode,\n"
	"             vae-decode), without the Adam pass\n"
	"  --layers   input, hidden..., latent sizes (decoder mirrored)\n"
	"  --samples  samples per epoch for the epoch floor (default 60000)\n"
	"  --conv     Keras' conv VAE (vae-train --arch conv) on SIDExSIDEx1 images\n"
	"             instead of a dense network; --layers gives only the latent size\n"
	"             (its last number); convolutions as vaekit lowers them to sgemm\n"
	"  --resnet   pythae's MNIST ResNet VAE (vae-train --arch resnet) on 28x28x1,\n"
	"             likewise (e.g. --resnet --layers 784,16)\n"
	"  --summary  print only: batch threads step_s epoch_s samples_per_s gflops\n"
	"             adam_s samples_per_s_with_adam\n"
	"  --cpu-clock  time by the process's CPU clock instead of the wall clock:\n"
	"             steadier on a busy machine (with --threads 1; with more the\n"
	"             threads' CPU times add up)\n"
	"  --split    time each GEMM on --threads threads split by batch rows, by\n"
	"             output columns, and by OpenBLAS itself, and the step with the\n"
	"             best of the three for each GEMM\n"
	"  --info     print OpenBLAS's core (the kernels it picked for this CPU, or\n"
	"             OPENBLAS_CORETYPE's) and build configuration, and exit\n";

static clockid_t clock_id = CLOCK_MONOTONIC; /* --cpu-clock: CLOCK_PROCESS_CPUTIME_ID */

struct cmdline {
	int batch, threads, summary, vae, info, conv, split, resnet;
	char pass; /* 't'rain, 'e'ncode, 'd'ecode */
	long samples;
	int sizes[MAX_LAYERS], n_sizes;
};

struct gemm {
	char name[48];
	int m, n, k;
	int trans_a, trans_b;
};

static void usage_error(const char *msg, const char *val)
{
	fprintf(stderr, "sgemm_probe: %s: %s\n%s", msg, val, USAGE);
	exit(2);
}

static long parse_pos(const char *what, const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < 1 || v > 1L << 30)
		usage_error(what, s);
	return v;
}

static void parse_sizes(const char *s, struct cmdline *c)
{
	char buf[256];
	if (strlen(s) >= sizeof buf)
		usage_error("--layers too long", s);
	strcpy(buf, s);
	c->n_sizes = 0;
	for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
		if (c->n_sizes == MAX_LAYERS)
			usage_error("--layers has too many sizes", s);
		c->sizes[c->n_sizes++] = (int)parse_pos("bad --layers size", tok);
	}
	if (c->n_sizes < 2)
		usage_error("--layers needs at least input,latent", s);
}

static void parse_cmdline(int argc, char **argv, struct cmdline *c)
{
	static const struct option longopts[] = {
		{"batch", required_argument, 0, 'b'},   {"layers", required_argument, 0, 'l'},
		{"model", required_argument, 0, 'm'},   {"threads", required_argument, 0, 't'},
		{"samples", required_argument, 0, 'n'}, {"summary", no_argument, 0, 's'},
		{"conv", required_argument, 0, 'C'},
		{"pass", required_argument, 0, 'p'},    {"help", no_argument, 0, 'h'},
		{"info", no_argument, 0, 'i'},         {"cpu-clock", no_argument, 0, 'c'},
		{"split", no_argument, 0, 'S'},        {"resnet", no_argument, 0, 'R'},
		{0, 0, 0, 0}};
	*c = (struct cmdline){.batch = 128, .threads = 1, .vae = 1, .samples = 60000, .pass = 't'};
	parse_sizes("784,400,20", c);
	int ch;
	while ((ch = getopt_long(argc, argv, "b:l:m:t:n:p:shic", longopts, NULL)) != -1) {
		switch (ch) {
		case 'b': c->batch = (int)parse_pos("bad --batch", optarg); break;
		case 'l': parse_sizes(optarg, c); break;
		case 't': c->threads = (int)parse_pos("bad --threads", optarg); break;
		case 'n': c->samples = parse_pos("bad --samples", optarg); break;
		case 's': c->summary = 1; break;
		case 'C':
			c->conv = atoi(optarg);
			if (c->conv < 4 || c->conv % 4)
				usage_error("--conv needs a side divisible by 4", optarg);
			break;
		case 'i': c->info = 1; break;
		case 'S': c->split = 1; break;
		case 'R': c->resnet = 1; break;
		case 'c': clock_id = CLOCK_PROCESS_CPUTIME_ID; break;
		case 'p':
			if (strcmp(optarg, "train") && strcmp(optarg, "encode") && strcmp(optarg, "decode"))
				usage_error("--pass must be train, encode or decode", optarg);
			c->pass = optarg[0];
			break;
		case 'm':
			if (strcmp(optarg, "vae") && strcmp(optarg, "ae"))
				usage_error("--model must be vae or ae", optarg);
			c->vae = !strcmp(optarg, "vae");
			break;
		case 'h': fputs(USAGE, stdout); exit(0);
		default: exit(2);
		}
	}
	if (optind != argc)
		usage_error("unexpected argument", argv[optind]);
	if (c->resnet && c->conv)
		usage_error("--resnet and --conv are two networks", "pick one");
}

static int add_layer(struct gemm *g, int i, int b, int in, int out, int first, const char *tag)
{
	g[i++] = (struct gemm){"", b, out, in, 0, 0};
	snprintf(g[i - 1].name, sizeof g->name, "fwd %s %d->%d", tag, in, out);
	g[i++] = (struct gemm){"", in, out, b, 1, 0};
	snprintf(g[i - 1].name, sizeof g->name, "dW  %s %d->%d", tag, in, out);
	if (!first) {
		g[i++] = (struct gemm){"", b, in, out, 0, 1};
		snprintf(g[i - 1].name, sizeof g->name, "dX  %s %d->%d", tag, in, out);
	}
	return i;
}

/* For --pass encode or decode: keep only the forward GEMMs of that half. */
static int forward_only(struct gemm *g, int n, char pass)
{
	int kept = 0;
	for (int i = 0; i < n; i++) {
		int fwd = !strncmp(g[i].name, "fwd", 3), dec = !strncmp(g[i].name + 4, "dec", 3);
		if (fwd && dec == (pass == 'd'))
			g[kept++] = g[i];
	}
	return kept;
}

/* A conv layer lowered by im2col (pixels P = B·OH·OW, rows of K·K·C):
 * y = col·W, dW = colᵀ·dy, dcol = dy·Wᵀ; a deconv (P = B·H·W input pixels):
 * col = x·W, dW = xᵀ·dcol, dx = dcol·Wᵀ. The lowering's copies are not in
 * the floor. */
static int add_conv(struct gemm *g, int i, int pixels, int kkc, int f, int first, const char *tag)
{
	g[i++] = (struct gemm){"", pixels, f, kkc, 0, 0};
	snprintf(g[i - 1].name, sizeof g->name, "fwd %s", tag);
	g[i++] = (struct gemm){"", kkc, f, pixels, 1, 0};
	snprintf(g[i - 1].name, sizeof g->name, "dW  %s", tag);
	if (!first) {
		g[i++] = (struct gemm){"", pixels, kkc, f, 0, 1};
		snprintf(g[i - 1].name, sizeof g->name, "dX  %s", tag);
	}
	return i;
}

/* Keras' conv VAE at side s: conv:32:3:2, conv:64:3:2, dense:16, head;
 * dense (s/4)²·64, deconv:64:3:2, deconv:32:3:2, deconv:1:3:1. */
static int conv_gemms(const struct cmdline *c, struct gemm *g)
{
	int n = 0, b = c->batch, s = c->conv, q = s / 4, z = c->sizes[c->n_sizes - 1];
	int head = c->vae ? 2 * z : z;
	n = add_conv(g, n, b * (s / 2) * (s / 2), 9 * 1, 32, 1, "enc conv:32:3:2");
	n = add_conv(g, n, b * q * q, 9 * 32, 64, 0, "enc conv:64:3:2");
	n = add_layer(g, n, b, q * q * 64, 16, 0, "enc");
	n = add_layer(g, n, b, 16, head, 0, c->vae ? "mu|lv" : "code");
	n = add_layer(g, n, b, z, q * q * 64, 0, "dec");
	/* a deconv's GEMMs have a conv's form with its input's pixels, the
	 * inner size C and K·K·F columns: col = x·W, dW = xᵀ·dcol, dx = dcol·Wᵀ */
	n = add_conv(g, n, b * q * q, 64, 9 * 64, 0, "dec deconv:64:3:2");
	n = add_conv(g, n, b * (s / 2) * (s / 2), 64, 9 * 32, 0, "dec deconv:32:3:2");
	n = add_conv(g, n, b * s * s, 32, 9 * 1, 0, "dec deconv:1:3:1");
	return n;
}

/* A residual block res:32:3 on an SIDExSIDEx128 map: conv 32 3x3, conv 128 1x1. */
static int res_gemms(struct gemm *g, int n, int pixels, const char *half)
{
	char tag[40];
	snprintf(tag, sizeof tag, "%s res conv:32:3", half);
	n = add_conv(g, n, pixels, 9 * 128, 32, 0, tag);
	snprintf(tag, sizeof tag, "%s res conv:128:1", half);
	return add_conv(g, n, pixels, 32, 128, 0, tag);
}

/* pythae's MNIST ResNet VAE (vae-train --arch resnet): conv:64:4:2,
 * conv:128:4:2, conv:128:3:2 (28 -> 14 -> 7 -> 4), two res:32:3, head;
 * dense 4x4x128, deconv:128:3:2 to 7x7, two res:32:3, deconv:64:3:2 to
 * 14x14, deconv:1:3:2 to 28x28. */
static int resnet_gemms(const struct cmdline *c, struct gemm *g)
{
	int n = 0, b = c->batch, z = c->sizes[c->n_sizes - 1];
	n = add_conv(g, n, b * 14 * 14, 16 * 1, 64, 1, "enc conv:64:4:2");
	n = add_conv(g, n, b * 7 * 7, 16 * 64, 128, 0, "enc conv:128:4:2");
	n = add_conv(g, n, b * 4 * 4, 9 * 128, 128, 0, "enc conv:128:3:2");
	n = res_gemms(g, n, b * 4 * 4, "enc");
	n = res_gemms(g, n, b * 4 * 4, "enc");
	n = add_layer(g, n, b, 4 * 4 * 128, c->vae ? 2 * z : z, 0, c->vae ? "mu|lv" : "code");
	n = add_layer(g, n, b, z, 4 * 4 * 128, 0, "dec");
	n = add_conv(g, n, b * 4 * 4, 128, 9 * 128, 0, "dec deconv:128:3:2");
	n = res_gemms(g, n, b * 7 * 7, "dec");
	n = res_gemms(g, n, b * 7 * 7, "dec");
	n = add_conv(g, n, b * 7 * 7, 128, 9 * 64, 0, "dec deconv:64:3:2");
	n = add_conv(g, n, b * 14 * 14, 64, 9 * 1, 0, "dec deconv:1:3:2");
	return n;
}

/* The step's GEMMs: encoder, latent head, decoder. */
static int step_gemms(const struct cmdline *c, struct gemm *g)
{
	if (c->conv)
		return conv_gemms(c, g);
	if (c->resnet)
		return resnet_gemms(c, g);
	int n = 0, k = c->n_sizes - 1, z = c->sizes[k], b = c->batch;
	for (int i = 0; i + 1 < k; i++)
		n = add_layer(g, n, b, c->sizes[i], c->sizes[i + 1], i == 0, "enc");
	n = add_layer(g, n, b, c->sizes[k - 1], c->vae ? 2 * z : z, k == 1, c->vae ? "mu|lv" : "code");
	for (int i = k; i > 0; i--)
		n = add_layer(g, n, b, c->sizes[i], c->sizes[i - 1], 0, "dec");
	return n;
}

/* Weights and biases of the step's layers: each forward GEMM is one layer. */
static size_t count_params(const struct gemm *g, int n)
{
	size_t p = 0;
	for (int i = 0; i < n; i++)
		if (!strncmp(g[i].name, "fwd", 3))
			p += (size_t)g[i].k * g[i].n + g[i].n;
	return p;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(clock_id, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void run_gemm(const struct gemm *g, const float *a, const float *b, float *c)
{
	int lda = g->trans_a ? g->m : g->k, ldb = g->trans_b ? g->k : g->n;
	cblas_sgemm(CblasRowMajor, g->trans_a ? CblasTrans : CblasNoTrans,
		    g->trans_b ? CblasTrans : CblasNoTrans, g->m, g->n, g->k, 1.0f, a, lda, b, ldb,
		    0.0f, c, g->n);
}

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return (a > b) - (a < b);
}

/* Median seconds per call; each repeat runs enough calls to last ~20 ms,
 * so the clock's resolution and call overhead do not matter. */
static double time_gemm(const struct gemm *g)
{
	size_t sa = (size_t)g->m * g->k, sb = (size_t)g->k * g->n, sc = (size_t)g->m * g->n;
	float *a = malloc(sa * sizeof *a), *b = malloc(sb * sizeof *b), *c = malloc(sc * sizeof *c);
	if (!a || !b || !c) {
		fprintf(stderr, "sgemm_probe: out of memory for %s\n", g->name);
		exit(1);
	}
	for (size_t i = 0; i < sa; i++)
		a[i] = (float)(i % 17) * 0.01f;
	for (size_t i = 0; i < sb; i++)
		b[i] = (float)(i % 13) * 0.01f;
	int calls = 1;
	for (;;) { /* warm-up doubles as calibration */
		double t0 = now();
		for (int i = 0; i < calls; i++)
			run_gemm(g, a, b, c);
		if (now() - t0 > 0.02 || calls > 1 << 20)
			break;
		calls *= 2;
	}
	double t[REPEATS];
	for (int r = 0; r < REPEATS; r++) {
		double t0 = now();
		for (int i = 0; i < calls; i++)
			run_gemm(g, a, b, c);
		t[r] = (now() - t0) / calls;
	}
	free(a), free(b), free(c);
	qsort(t, REPEATS, sizeof *t, cmp_double);
	return t[REPEATS / 2];
}

struct adam_share {
	float *p, *g, *m, *v;
	size_t n;
	int calls;
};

/* PyTorch's Adam update (lr 1e-3, betas 0.9 and 0.999) on one share. */
static void *adam_passes(void *arg)
{
	struct adam_share *a = arg;
	for (int c = 0; c < a->calls; c++)
		for (size_t i = 0; i < a->n; i++) {
			float g = a->g[i], m = 0.9f * a->m[i] + 0.1f * g;
			float v = 0.999f * a->v[i] + 0.001f * g * g;
			a->m[i] = m, a->v[i] = v;
			a->p[i] -= 1e-3f * m / (sqrtf(v) + 1e-8f);
		}
	return NULL;
}

/* Median seconds of one Adam pass over n parameters with the work split over
 * the threads, as a data-parallel trainer would. */
static double time_adam(size_t n, int threads)
{
	float *buf = calloc(4 * n, sizeof *buf);
	if (!buf) {
		fprintf(stderr, "sgemm_probe: out of memory for %zu parameters\n", n);
		exit(1);
	}
	struct adam_share sh[64];
	pthread_t tid[64];
	if (threads > 64)
		threads = 64;
	double t[REPEATS];
	for (int r = -1; r < REPEATS; r++) { /* r = -1: warm-up */
		int calls = 20;
		double t0 = now();
		for (int k = 0; k < threads; k++) {
			size_t lo = n * k / threads, hi = n * (k + 1) / threads;
			sh[k] = (struct adam_share){buf + lo, buf + n + lo, buf + 2 * n + lo,
						    buf + 3 * n + lo, hi - lo, calls};
			if (k && pthread_create(&tid[k], NULL, adam_passes, &sh[k]))
				threads = k;
		}
		adam_passes(&sh[0]);
		for (int k = 1; k < threads; k++)
			pthread_join(tid[k], NULL);
		if (r >= 0)
			t[r] = (now() - t0) / calls;
	}
	free(buf);
	qsort(t, REPEATS, sizeof *t, cmp_double);
	return t[REPEATS / 2];
}

/* ---- --split ------------------------------------------------------------ */

typedef struct {
	atomic_int count, generation;
	int parties;
} spin_barrier;

static void spin_wait(spin_barrier *b)
{
	int gen = atomic_load(&b->generation);
	if (atomic_fetch_add(&b->count, 1) == b->parties - 1) {
		atomic_store(&b->count, 0);
		atomic_fetch_add(&b->generation, 1);
		return;
	}
	for (int spins = 0; atomic_load(&b->generation) == gen; spins++)
		if (spins > 4000)
			sched_yield();
}

struct split_job {
	const struct gemm *g;
	char mode; /* 'r' rows, 'c' columns */
	int threads, calls;
	const float *a, *b;
	float *c;      /* m×n; for rows of a dW, threads blocks of m×n */
	spin_barrier *bar;
	double secs;
};

struct split_arg {
	struct split_job *job;
	int id;
};

/* The batch is a GEMM's m (forward, dX: A is B×k) or, transposed, its k (dW:
 * A is stored k×m with k = B); conv GEMMs have pixels in its place. */
static void split_part(const struct split_job *j, int id)
{
	const struct gemm *g = j->g;
	int T = j->threads, lda = g->trans_a ? g->m : g->k, ldb = g->trans_b ? g->k : g->n;
	CBLAS_TRANSPOSE ta = g->trans_a ? CblasTrans : CblasNoTrans;
	CBLAS_TRANSPOSE tb = g->trans_b ? CblasTrans : CblasNoTrans;
	if (j->mode == 'c') {
		int lo = (int)((long)g->n * id / T), hi = (int)((long)g->n * (id + 1) / T);
		if (hi > lo)
			cblas_sgemm(CblasRowMajor, ta, tb, g->m, hi - lo, g->k, 1.0f, j->a, lda,
				    j->b + (g->trans_b ? (size_t)lo * g->k : (size_t)lo), ldb, 0.0f,
				    j->c + lo, g->n);
		return;
	}
	if (!g->trans_a) { /* rows of A and C */
		int lo = (int)((long)g->m * id / T), hi = (int)((long)g->m * (id + 1) / T);
		if (hi > lo)
			cblas_sgemm(CblasRowMajor, ta, tb, hi - lo, g->n, g->k, 1.0f,
				    j->a + (size_t)lo * g->k, lda, j->b, ldb, 0.0f,
				    j->c + (size_t)lo * g->n, g->n);
		return;
	}
	/* dW: this thread's rows of the batch into its own block, then the
	 * blocks summed over this thread's range of the parameters. */
	int lo = (int)((long)g->k * id / T), hi = (int)((long)g->k * (id + 1) / T);
	size_t mn = (size_t)g->m * g->n;
	float *mine = j->c + mn * id;
	if (hi > lo)
		cblas_sgemm(CblasRowMajor, ta, tb, g->m, g->n, hi - lo, 1.0f, j->a + (size_t)lo * g->m,
			    lda, j->b + (size_t)lo * ldb, ldb, 0.0f, mine, g->n);
	else
		memset(mine, 0, mn * sizeof *mine);
	spin_wait(j->bar);
	size_t plo = mn * id / T, phi = mn * (id + 1) / T;
	for (int k = 1; k < T; k++)
		for (size_t i = plo; i < phi; i++)
			j->c[i] += j->c[mn * k + i];
}

static void *split_worker(void *arg)
{
	struct split_arg *s = arg;
	struct split_job *j = s->job;
	spin_wait(j->bar);
	double t0 = now();
	for (int c = 0; c < j->calls; c++) {
		spin_wait(j->bar); /* a call starts when every thread is ready */
		split_part(j, s->id);
	}
	spin_wait(j->bar);
	if (!s->id)
		j->secs = (now() - t0) / j->calls;
	return NULL;
}

/* Median seconds of one call of g split mode-wise over threads threads. */
static double time_split(const struct gemm *g, char mode, int threads, int calls)
{
	size_t sa = (size_t)g->m * g->k, sb = (size_t)g->k * g->n, sc = (size_t)g->m * g->n;
	size_t blocks = mode == 'r' && g->trans_a ? (size_t)threads : 1;
	float *a = malloc(sa * sizeof *a), *b = malloc(sb * sizeof *b);
	float *c = calloc(sc * blocks, sizeof *c);
	if (!a || !b || !c) {
		fprintf(stderr, "sgemm_probe: out of memory for %s\n", g->name);
		exit(1);
	}
	for (size_t i = 0; i < sa; i++)
		a[i] = (float)(i % 17) * 0.01f;
	for (size_t i = 0; i < sb; i++)
		b[i] = (float)(i % 13) * 0.01f;
	spin_barrier bar = {0, 0, threads};
	struct split_job j = {g, mode, threads, calls, a, b, c, &bar, 0};
	struct split_arg args[64];
	pthread_t tid[64];
	double t[REPEATS];
	for (int r = -1; r < REPEATS; r++) { /* r = -1: warm-up */
		atomic_store(&bar.count, 0);
		for (int k = 0; k < threads; k++) {
			args[k] = (struct split_arg){&j, k};
			if (k && pthread_create(&tid[k], NULL, split_worker, &args[k])) {
				fprintf(stderr, "sgemm_probe: cannot start thread %d\n", k);
				exit(1);
			}
		}
		split_worker(&args[0]);
		for (int k = 1; k < threads; k++)
			pthread_join(tid[k], NULL);
		if (r >= 0)
			t[r] = j.secs;
	}
	/* The split computed the same product (up to the order of a dW's sums). */
	float *ref = malloc(sc * sizeof *ref);
	if (ref) {
		run_gemm(g, a, b, ref);
		for (size_t i = 0; i < sc; i++)
			if (fabsf(ref[i] - c[i]) > 1e-3f * (1 + fabsf(ref[i]))) {
				fprintf(stderr, "sgemm_probe: %s split by %s: element %zu is %g, not %g\n",
					g->name, mode == 'r' ? "rows" : "cols", i, c[i], ref[i]);
				exit(1);
			}
		free(ref);
	}
	free(a), free(b), free(c);
	qsort(t, REPEATS, sizeof *t, cmp_double);
	return t[REPEATS / 2];
}

/* --split: each GEMM by rows, by columns and by OpenBLAS on c->threads. */
static void split_report(const struct cmdline *c, const struct gemm *g, int n)
{
	int T = c->threads > 64 ? 64 : c->threads;
	double sum[3] = {0}, best_sum = 0;
	printf("# batch %d, threads %d, %s: microseconds per call, each GEMM split three ways\n"
	       "%-24s %6s %6s %6s %9s %9s %9s  %s\n",
	       c->batch, T, c->resnet ? "resnet" : c->conv ? "conv" : c->vae ? "vae" : "ae", "gemm", "m", "n", "k", "rows",
	       "cols", "blas", "best");
	for (int i = 0; i < n; i++) {
		openblas_set_num_threads(T);
		double blas = time_gemm(&g[i]);
		openblas_set_num_threads(1);
		/* about 20 ms a repeat */
		int calls = blas > 0 ? (int)(0.02 / blas) : 1000;
		calls = calls < 3 ? 3 : calls > 100000 ? 100000 : calls;
		double rows = time_split(&g[i], 'r', T, calls), cols = time_split(&g[i], 'c', T, calls);
		double v[3] = {rows, cols, blas}, best = rows;
		const char *names[3] = {"rows", "cols", "blas"}, *bn = "rows";
		for (int k = 0; k < 3; k++) {
			sum[k] += v[k];
			if (v[k] < best)
				best = v[k], bn = names[k];
		}
		best_sum += best;
		printf("%-24s %6d %6d %6d %9.1f %9.1f %9.1f  %s\n", g[i].name, g[i].m, g[i].n,
		       g[i].k, rows * 1e6, cols * 1e6, blas * 1e6, bn);
	}
	printf("step (GEMMs only): rows %.1f us (%.0f samples/s), cols %.1f us (%.0f), blas %.1f us "
	       "(%.0f), best of each %.1f us (%.0f)\n",
	       sum[0] * 1e6, c->batch / sum[0], sum[1] * 1e6, c->batch / sum[1], sum[2] * 1e6,
	       c->batch / sum[2], best_sum * 1e6, c->batch / best_sum);
}

int main(int argc, char **argv)
{
	struct cmdline c;
	struct gemm g[3 * (MAX_LAYERS + 1) * 4];
	parse_cmdline(argc, argv, &c);
	if (c.info) {
		printf("%s\t%s\n", openblas_get_corename(), openblas_get_config());
		return 0;
	}
	openblas_set_num_threads(c.threads);
	int n = step_gemms(&c, g);
	if (c.pass != 't')
		n = forward_only(g, n, c.pass);
	if (c.split) {
		split_report(&c, g, n);
		return 0;
	}
	double total = 0, flops = 0;
	if (!c.summary)
		printf("# batch %d, threads %d, %s\n%-24s %6s %6s %6s %9s %8s\n", c.batch,
		       c.threads, c.vae ? "vae" : "ae", "gemm", "m", "n", "k", "us", "GFLOP/s");
	for (int i = 0; i < n; i++) {
		double s = time_gemm(&g[i]), f = 2.0 * g[i].m * g[i].n * g[i].k;
		total += s, flops += f;
		if (!c.summary)
			printf("%-24s %6d %6d %6d %9.1f %8.1f\n", g[i].name, g[i].m, g[i].n, g[i].k,
			       s * 1e6, f / s * 1e-9);
	}
	/* A partial last batch costs about its share, so no ceil(). */
	double steps = (double)c.samples / c.batch;
	size_t params = count_params(g, n);
	double adam = c.pass == 't' ? time_adam(params, c.threads) : 0;
	if (c.summary)
		printf("%d\t%d\t%.6g\t%.4g\t%.1f\t%.1f\t%.6g\t%.1f\n", c.batch, c.threads, total,
		       total * steps, c.batch / total, flops / total * 1e-9, adam,
		       c.batch / (total + adam));
	else {
		printf("step %.1f us, %.2f MFLOP, %.1f GFLOP/s; floor: %.3f s per %ld-sample epoch, "
		       "%.0f samples/s\n",
		       total * 1e6, flops * 1e-6, flops / total * 1e-9, total * steps, c.samples,
		       c.batch / total);
		if (c.pass == 't')
			printf("Adam over %zu parameters: %.1f us (%.1f GB/s); GEMMs + Adam floor: "
			       "%.3f s per epoch, %.0f samples/s\n",
			       params, adam * 1e6, 28.0 * params / adam * 1e-9, (total + adam) * steps,
			       c.batch / (total + adam));
	}
	return 0;
}
