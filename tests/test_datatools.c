/* idx2stream and png-grid end to end, on the shipped digits. */
#include <criterion/criterion.h>
#include <string.h>
#include <zlib.h>

#include "stream.h"
#include "testutil.h"

/* In test_png.c. */
unsigned char *test_png_read(const char *path, unsigned channels, unsigned *w, unsigned *h,
			     unsigned *file_channels);

#define TRAIN_IMAGES "examples/data/digits-train-images-idx3-ubyte.gz"
#define TRAIN_LABELS "examples/data/digits-train-labels-idx1-ubyte.gz"
#define SIDE 28
#define PIXELS (SIDE * SIDE)

/* The first n records of a shipped IDX file, read here with zlib alone. */
static unsigned char *idx_records(const char *rel, size_t header, size_t size, size_t n)
{
	gzFile gz = gzopen(repo_path(rel), "rb");
	cr_assert(gz, "cannot open %s", rel);
	unsigned char skip[16];
	cr_assert_eq(gzread(gz, skip, (unsigned)header), (int)header);
	unsigned char *buf = malloc(n * size);
	cr_assert_eq(gzread(gz, buf, (unsigned)(n * size)), (int)(n * size));
	gzclose(gz);
	return buf;
}

static unsigned char *train_images(size_t n) { return idx_records(TRAIN_IMAGES, 16, PIXELS, n); }
static unsigned char *train_labels(size_t n) { return idx_records(TRAIN_LABELS, 8, 1, n); }

/* Run idx2stream with opts on the training images (and labels) into a file. */
static const char *convert(const char *name, const char *opts, int labels)
{
	const char *out = tmp_path(name);
	char err[1024];
	int rc = run_err(err, sizeof err, "idx2stream %s %s %s > %s", opts,
			 repo_path(TRAIN_IMAGES), labels ? repo_path(TRAIN_LABELS) : "", out);
	cr_assert_eq(rc, 0, "idx2stream %s: %s", opts, err);
	return out;
}

static void open_stream(ts_reader *r, const char *path)
{
	vk_error e;
	cr_assert_eq(ts_reader_open(r, path, &e), 0, "%s", e.msg);
}

/* Read a whole u8 stream of 28x28 records into a buffer; returns the count. */
static size_t read_u8_records(const char *path, unsigned char *buf, size_t max)
{
	ts_reader r;
	vk_error e;
	open_stream(&r, path);
	cr_assert_eq(r.h.dtype, TS_U8);
	size_t n = 0;
	int rc;
	while (n < max && (rc = ts_read(&r, buf + n * PIXELS, NULL, &e)) == 1)
		n++;
	cr_assert_eq(ts_read(&r, buf, NULL, &e), 0, "stream longer than expected: %s", e.msg);
	ts_reader_close(&r);
	return n;
}

Test(datatools, grid_pixels_equal_idx_bytes)
{
	const char *png = tmp_path("grid.png");
	char err[1024];
	int rc = run_err(err, sizeof err, "idx2stream %s | png-grid --cols 10 -n 20 --pad 0 -o %s",
			 repo_path(TRAIN_IMAGES), png);
	cr_assert_eq(rc, 0, "%s", err);
	unsigned w, h, fc;
	unsigned char *px = test_png_read(png, 1, &w, &h, &fc);
	cr_assert(px);
	cr_assert_eq(fc, 1, "gray images make a gray PNG");
	cr_assert_eq(w, 10 * SIDE);
	cr_assert_eq(h, 2 * SIDE);
	unsigned char *idx = train_images(20);
	for (unsigned i = 0; i < 20; i++)
		for (unsigned y = 0; y < SIDE; y++)
			cr_assert_eq(memcmp(px + ((i / 10 * SIDE + y) * w + i % 10 * SIDE),
					    idx + i * PIXELS + y * SIDE, SIDE), 0,
				     "image %u row %u", i, y);
	free(px);
	free(idx);
}

Test(datatools, float_values_are_bytes_over_255)
{
	const char *out = convert("float.ts", "--float -n 5", 0);
	ts_reader r;
	vk_error e;
	open_stream(&r, out);
	cr_assert_eq(r.h.dtype, TS_F32);
	cr_assert_eq(r.h.count, 5);
	char buf[32];
	cr_assert_str_eq(ts_meta_get(&r.h, "scale", buf, sizeof buf), "unit");
	unsigned char *idx = train_images(5);
	float rec[PIXELS];
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(ts_read(&r, rec, NULL, &e), 1, "%s", e.msg);
		for (int k = 0; k < PIXELS; k++)
			cr_assert_float_eq(rec[k], idx[i * PIXELS + k] / 255.0, 1e-7,
					   "image %d pixel %d", i, k);
	}
	ts_reader_close(&r);
	free(idx);
}

Test(datatools, labels_and_metadata_embedded)
{
	const char *out = convert("labels.ts", "-n 300", 1);
	ts_reader r;
	vk_error e;
	open_stream(&r, out);
	cr_assert(r.h.has_labels);
	char buf[256];
	cr_assert_str_eq(ts_meta_get(&r.h, "kind", buf, sizeof buf), "image");
	cr_assert_str_eq(ts_meta_get(&r.h, "classes", buf, sizeof buf), "10");
	cr_assert_str_eq(ts_meta_get(&r.h, "source", buf, sizeof buf),
			 "digits-train-images-idx3-ubyte.gz");
	unsigned char *labels = train_labels(300), *idx = train_images(300);
	unsigned char rec[PIXELS];
	int32_t label;
	for (int i = 0; i < 300; i++) {
		cr_assert_eq(ts_read(&r, rec, &label, &e), 1, "%s", e.msg);
		cr_assert_eq(label, labels[i], "record %d", i);
		cr_assert_eq(memcmp(rec, idx + i * PIXELS, PIXELS), 0, "record %d", i);
	}
	cr_assert_eq(ts_read(&r, rec, &label, &e), 0);
	ts_reader_close(&r);
	free(labels);
	free(idx);
}

Test(datatools, count_limits_records)
{
	const char *out = convert("seven.ts", "-n 7", 0);
	ts_reader r;
	open_stream(&r, out);
	cr_assert_eq(r.h.count, 7);
	cr_assert_eq(r.h.rank, 2);
	cr_assert_eq(r.h.dims[0], SIDE);
	cr_assert_eq(r.h.dims[1], SIDE);
	ts_reader_close(&r);
	unsigned char *buf = malloc(10 * PIXELS);
	cr_assert_eq(read_u8_records(out, buf, 10), 7);
	free(buf);
}

Test(datatools, binarize_threshold)
{
	unsigned char *idx = train_images(10), *got = malloc(10 * PIXELS);
	cr_assert_eq(read_u8_records(convert("bin.ts", "--binarize -n 10", 0), got, 10), 10);
	for (int k = 0; k < 10 * PIXELS; k++)
		cr_assert_eq(got[k], idx[k] >= 128 ? 255 : 0, "pixel %d (byte %d)", k, idx[k]);
	/* With --float the same decisions come out as 0.0 and 1.0. */
	ts_reader r;
	vk_error e;
	open_stream(&r, convert("binf.ts", "--binarize=threshold --float -n 1", 0));
	float rec[PIXELS];
	cr_assert_eq(ts_read(&r, rec, NULL, &e), 1, "%s", e.msg);
	for (int k = 0; k < PIXELS; k++)
		cr_assert_eq(rec[k], idx[k] >= 128 ? 1.0f : 0.0f, "pixel %d", k);
	ts_reader_close(&r);
	free(idx);
	free(got);
}

Test(datatools, binarize_stochastic_follows_seed)
{
	size_t la, lb, lc;
	unsigned char *a = slurp(convert("s1.ts", "--binarize=stochastic --seed 7 -n 50", 0), &la);
	unsigned char *b = slurp(convert("s2.ts", "--binarize=stochastic --seed 7 -n 50", 0), &lb);
	unsigned char *c = slurp(convert("s3.ts", "--binarize=stochastic --seed 8 -n 50", 0), &lc);
	cr_assert(la == lb && memcmp(a, b, la) == 0, "same seed, same output");
	cr_assert(la == lc && memcmp(a, c, la) != 0, "another seed, another draw");
	free(a);
	free(b);
	free(c);
	/* Every pixel is 0 or 255; blank pixels stay 0, full ones 255, and mid
	 * grays come out on about byte/255 of the draws. */
	unsigned char *idx = train_images(50), *got = malloc(50 * PIXELS);
	cr_assert_eq(read_u8_records(tmp_path("s1.ts"), got, 50), 50);
	double expect = 0, on = 0;
	for (int k = 0; k < 50 * PIXELS; k++) {
		cr_assert(got[k] == 0 || got[k] == 255);
		if (idx[k] == 0 || idx[k] == 255)
			cr_assert_eq(got[k], idx[k], "pixel %d", k);
		expect += idx[k] / 255.0;
		on += got[k] == 255;
	}
	cr_assert(on > 0.9 * expect && on < 1.1 * expect, "%g ones, expected about %g", on, expect);
	free(idx);
	free(got);
}

Test(datatools, pair_interleaves_rows)
{
	const char *a = convert("pa.ts", "-n 6", 0);
	const char *b = convert("pb.ts", "--binarize -n 6", 0);
	const char *png = tmp_path("pair.png");
	char err[1024];
	int rc = run_err(err, sizeof err, "png-grid %s --pair %s --cols 3 --pad 0 -o %s", a, b, png);
	cr_assert_eq(rc, 0, "%s", err);
	unsigned char *ia = malloc(6 * PIXELS), *ib = malloc(6 * PIXELS);
	read_u8_records(a, ia, 6);
	read_u8_records(b, ib, 6);
	unsigned w, h;
	unsigned char *px = test_png_read(png, 1, &w, &h, NULL);
	cr_assert(px);
	cr_assert_eq(w, 3 * SIDE);
	cr_assert_eq(h, 4 * SIDE);
	/* Grid rows: A0-2, B0-2, A3-5, B3-5. */
	for (unsigned row = 0; row < 4; row++)
		for (unsigned col = 0; col < 3; col++) {
			unsigned i = row / 2 * 3 + col;
			const unsigned char *src = (row % 2 ? ib : ia) + i * PIXELS;
			for (unsigned y = 0; y < SIDE; y++)
				cr_assert_eq(memcmp(px + (row * SIDE + y) * w + col * SIDE,
						    src + y * SIDE, SIDE), 0,
					     "grid row %u col %u line %u", row, col, y);
		}
	free(px);
	free(ia);
	free(ib);
}

/* A rank-1 stream of float vectors (-0.5, 0.5, 1.5, repeating), written here. */
static const char *flat_stream(unsigned n)
{
	const char *path = tmp_path("flat.ts");
	ts_header h;
	ts_writer w;
	vk_error e;
	uint32_t dims[1] = {16};
	cr_assert_eq(ts_header_init(&h, TS_F32, 1, dims, &e), 0, "%s", e.msg);
	cr_assert_eq(ts_writer_open(&w, path, &h, &e), 0, "%s", e.msg);
	float v[16];
	for (unsigned k = 0; k < 16; k++)
		v[k] = (float)(k % 3) - 0.5f;
	for (unsigned i = 0; i < n; i++)
		cr_assert_eq(ts_write(&w, v, TS_NO_LABEL, &e), 0, "%s", e.msg);
	cr_assert_eq(ts_writer_close(&w, &e), 0, "%s", e.msg);
	return path;
}

Test(datatools, flat_vectors_need_shape)
{
	const char *flat = flat_stream(2);
	const char *png = tmp_path("flat.png");
	char err[1024];
	int rc = run_err(err, sizeof err, "png-grid %s -o %s", flat, png);
	cr_assert_eq(rc, 1);
	cr_assert(strstr(err, "png-grid: ") && strstr(err, "not images") &&
		  strstr(err, "--shape 4x4"), "%s", err);
	rc = run_err(err, sizeof err, "png-grid --shape 4x4 --pad 0 --cols 2 %s -o %s", flat, png);
	cr_assert_eq(rc, 0, "%s", err);
	unsigned w, h;
	unsigned char *px = test_png_read(png, 1, &w, &h, NULL);
	cr_assert(px);
	cr_assert_eq(w, 8);
	cr_assert_eq(h, 4);
	/* Floats are clamped to [0,1] and scaled: -0.5 -> 0, 0.5 -> 128, 1.5 -> 255. */
	static const unsigned char expect[3] = {0, 128, 255};
	for (unsigned y = 0; y < 4; y++)
		for (unsigned x = 0; x < 8; x++)
			cr_assert_eq(px[y * 8 + x], expect[(y * 4 + x % 4) % 3], "pixel %u,%u", x, y);
	free(px);
	rc = run_err(err, sizeof err, "png-grid --shape 5x5 %s -o %s", flat, png);
	cr_assert_eq(rc, 1);
	cr_assert(strstr(err, "25 elements"), "%s", err);
}

Test(datatools, errors_are_one_clear_line)
{
	char err[1024];
	int rc = run_err(err, sizeof err, "idx2stream /nonexistent/images.gz > %s",
			 tmp_path("none.ts"));
	cr_assert_eq(rc, 1);
	cr_assert(strstr(err, "idx2stream: cannot open /nonexistent/images.gz"), "%s", err);
	cr_assert_eq(strchr(err, '\n'), err + strlen(err) - 1, "one line: %s", err);
	rc = run_err(err, sizeof err, "png-grid /nonexistent/s.ts -o %s", tmp_path("x.png"));
	cr_assert_eq(rc, 1);
	cr_assert(strstr(err, "/nonexistent/s.ts"), "%s", err);
	rc = run_err(err, sizeof err, "idx2stream -n 3 %s > %s && png-grid %s --pair %s -o %s",
		     repo_path(TRAIN_IMAGES), tmp_path("three.ts"), tmp_path("three.ts"),
		     convert("four.ts", "-n 4", 0), tmp_path("x.png"));
	cr_assert_eq(rc, 1);
	cr_assert(strstr(err, "3 images") && strstr(err, "4"), "%s", err);
	cr_assert_eq(run("test -e %s", tmp_path("x.png")), 1, "no PNG left behind");
	rc = run_err(err, sizeof err, "idx2stream --float --bogus x");
	cr_assert_eq(rc, 2);
}
