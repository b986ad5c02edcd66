#include "testutil.h"
#include <criterion/criterion.h>

#include "stream.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int status_of(int rc)
{
	if (rc == -1)
		return -1;
	if (WIFEXITED(rc))
		return WEXITSTATUS(rc);
	return -1;
}

int run(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	return status_of(system(cmd));
}

int run_err(char *buf, size_t len, const char *fmt, ...)
{
	char cmd[8192], full[8400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	const char *errfile = tmp_path("stderr.txt");
	snprintf(full, sizeof full, "( %s ) 2>%s", cmd, errfile);
	int rc = status_of(system(full));
	size_t n = 0;
	unsigned char *s = slurp(errfile, &n);
	if (n >= len)
		n = len - 1;
	if (s)
		memcpy(buf, s, n);
	buf[n] = 0;
	free(s);
	return rc;
}

const char *tmp_path(const char *name)
{
	static char dir[256];
	static char path[8][512];
	static int next;
	if (!dir[0]) {
		/* A new directory for every test process: a reused pid must not
		 * find an earlier test's files. */
		snprintf(dir, sizeof dir, "/tmp/vaekit-test-%d-XXXXXX", (int)getpid());
		if (!mkdtemp(dir))
			abort();
	}
	char *p = path[next++ % 8];
	snprintf(p, 512, "%s/%s", dir, name);
	return p;
}

unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 1 << 16, n = 0;
	unsigned char *buf = malloc(cap);
	size_t got;
	while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap)
			buf = realloc(buf, cap *= 2);
	}
	fclose(f);
	*len = n;
	return buf;
}

int spit(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	int bad = fwrite(data, 1, len, f) != len;
	return (fclose(f) != 0 || bad) ? -1 : 0;
}

const char *repo_path(const char *rel)
{
	static char path[4][1024];
	static int next;
	const char *root = getenv("VAEKIT_ROOT");
	char *p = path[next++ % 4];
	snprintf(p, 1024, "%s/%s", root ? root : "..", rel);
	return p;
}

/* Mean image of every class of a labelled stream of 28x28 digits. */
static int class_means(const char *data, float means[10][784])
{
	ts_reader r;
	vk_error e;
	float x[784];
	int32_t label;
	int count[10] = {0};
	memset(means, 0, sizeof(float) * 10 * 784);
	if (ts_reader_open(&r, data, &e))
		return -1;
	while (ts_read_f32(&r, x, &label, &e) > 0) {
		if (label < 0 || label >= 10)
			return ts_reader_close(&r), -1;
		count[label]++;
		for (int j = 0; j < 784; j++)
			means[label][j] += x[j];
	}
	ts_reader_close(&r);
	for (int k = 0; k < 10; k++)
		for (int j = 0; j < 784; j++)
			means[k][j] /= count[k] ? count[k] : 1;
	return 0;
}

static int nearest_mean(const float *x, float means[10][784])
{
	int best = 0;
	double best_d = INFINITY;
	for (int k = 0; k < 10; k++) {
		double d = 0;
		for (int j = 0; j < 784; j++)
			d += (x[j] - means[k][j]) * (x[j] - means[k][j]);
		if (d < best_d)
			best_d = d, best = k;
	}
	return best;
}

int class_mean_hits(const char *data, const char *samples, int per_class, int *total)
{
	static float means[10][784];
	if (class_means(data, means))
		return -1;
	ts_reader r;
	vk_error e;
	float x[784];
	int32_t label;
	int right = 0;
	*total = 0;
	if (ts_reader_open(&r, samples, &e))
		return -1;
	while (ts_read_f32(&r, x, &label, &e) > 0) {
		if (label != *total / per_class)
			return ts_reader_close(&r), -1;
		right += nearest_mean(x, means) == label;
		++*total;
	}
	ts_reader_close(&r);
	return right;
}

const char *digits_stream(const char *which, int n)
{
	static struct { char which[8]; int n; char path[512]; } made[8];
	int i = 0;
	for (; i < 8 && made[i].n; i++)
		if (made[i].n == n && !strcmp(made[i].which, which))
			return made[i].path;
	cr_assert_lt(i, 8, "digits_stream: too many kinds of digit streams");
	char name[64], images[96];
	snprintf(name, sizeof name, "digits-%s-%d.ts", which, n);
	snprintf(images, sizeof images, "examples/data/digits-%s-images-idx3-ubyte.gz", which);
	snprintf(made[i].path, sizeof made[i].path, "%s", tmp_path(name));
	cr_assert_eq(run("idx2stream -n %d %s > %s", n, repo_path(images), made[i].path), 0);
	snprintf(made[i].which, sizeof made[i].which, "%s", which);
	made[i].n = n;
	return made[i].path;
}
