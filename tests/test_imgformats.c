/* img2stream and stream2img on every image format they promise (issue 27
 * items 3, 8, 9, 10, 11): a file of each format in the loader allow-list is
 * read, so a libvips that renames a loader (8.14: GIF's is "Nsgif") fails
 * here; float TIFFs are values in [0, 1]; an image too large for a record
 * is named with a --size hint and skipped by -k; lossless WebP keeps RGBA
 * except the colour of fully transparent pixels (as documented); a missing
 * file is "cannot open FILE: ...", as every program says it. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static char dir[512];

static void setup(void)
{
	snprintf(dir, sizeof dir, "%s", tmp_path("imgformats"));
	cr_assert_eq(run("mkdir -p %s && cd %s && idx2stream -n 1 -o one.ts %s && "
			 "stream2img -o one.png one.ts && stream2txt one.ts > one.txt", dir, dir,
			 repo_path("examples/data/digits-test-images-idx3-ubyte.gz")), 0);
}

TestSuite(img_formats, .init = setup, .timeout = 120);

static int sh(char *err, size_t len, const char *fmt, const char *arg)
{
	char cmd[2048];
	snprintf(cmd, sizeof cmd, fmt, arg, arg, arg, arg);
	return run_err(err, len, "cd %s && %s", dir, cmd);
}

/* One file per format of the allow-list (libcommon/io/vimage.c, loader_ok),
 * made by libvips' own command; exact where the format is lossless. */
Test(img_formats, every_allowed_format_reads)
{
	static const struct {
		const char *ext, *loader;
		int exact;
	} formats[] = {
		{"png", "Png", 1},   {"jpg", "Jpeg", 0}, {"webp[lossless]", "Webp", 1},
		{"tif", "Tiff", 1},  {"gif", "Nsgif/Gif", 0}, {"ppm", "Ppm", 1},
		{"pgm", "Ppm", 1},   {"pbm", "Ppm", 0},  {"heic", "Heif", 0},
		{"avif", "Heif", 0}, {"jxl", "Jxl", 0},  {"jp2", "Jp2k", 0},
		{"bmp", "Magick", 1},
	};
	int tried = 0;
	for (size_t i = 0; i < sizeof formats / sizeof *formats; i++) {
		char err[2048], name[64];
		snprintf(name, sizeof name, "f.%s", formats[i].ext);
		*strchrnul(name, '[') = 0;
		char cmd[1200];
		snprintf(cmd, sizeof cmd, "cd %s && rm -f %s && vips copy one.png '%s'", dir, name,
			 name);
		if (strchr(formats[i].ext, '['))
			snprintf(cmd, sizeof cmd, "cd %s && rm -f %s && vips copy one.png '%s%s'", dir,
				 name, name, strchr(formats[i].ext, '['));
		if (run_err(err, sizeof err, "%s", cmd)) {
			cr_log_warn("libvips here cannot write %s (%s): its reading is not tested",
				    name, formats[i].loader);
			continue;
		}
		tried++;
		cr_assert_eq(sh(err, sizeof err, "img2stream -t 1 -g %s | stream-info --tsv | "
						 "grep -qx 'shape\t28x28'", name), 0,
			     "%s (loader %s): %s", name, formats[i].loader, err);
		if (formats[i].exact)
			cr_assert_eq(sh(err, sizeof err, "img2stream -t 1 -g %s | stream2txt | "
							 "cmp - one.txt", name), 0,
				     "%s is lossless but did not read back exactly: %s", name, err);
	}
	cr_assert_geq(tried, 7, "PNG, JPEG, WebP, TIFF, GIF and PNM are built into libvips");
}

/* stream2img's GIF reads back (it was refused); an animation gives its first
 * frame: two 1x1 frames, black then white. */
Test(img_formats, gif_round_trip_and_first_frame)
{
	char err[2048];
	cr_assert_eq(sh(err, sizeof err, "stream2img -o back.gif one.ts && img2stream -t 1 back.gif "
					 "| stream-info --tsv | grep -qx 'records\t1'", ""), 0,
		     "%s", err);
	cr_assert_eq(sh(err, sizeof err,
			"printf 'GIF89a\\001\\000\\001\\000\\200\\000\\000\\000\\000\\000\\377\\377\\377"
			"\\041\\371\\004\\000\\012\\000\\000\\000"
			"\\054\\000\\000\\000\\000\\001\\000\\001\\000\\000\\002\\002\\104\\001\\000"
			"\\041\\371\\004\\000\\012\\000\\000\\000"
			"\\054\\000\\000\\000\\000\\001\\000\\001\\000\\000\\002\\002\\114\\001\\000"
			"\\073' > anim.gif && vipsheader -f n-pages anim.gif | grep -qx 2 && "
			"img2stream -t 1 -g anim.gif | stream2txt | grep -qx 0 && "
			"vips copy 'anim.gif[page=1]' second.png && "
			"img2stream -t 1 -g second.png | stream2txt | grep -qx 255", ""), 0, "%s", err);
}

/* A float TIFF of one.png / 255 reads as one.png (it read as black); values
 * beyond [0, 1] are refused (not clamped), and -k skips such a file. */
Test(img_formats, float_tiff)
{
	char err[2048];
	cr_assert_eq(sh(err, sizeof err, "vips linear one.png f32.tif 0.00392156862745098 0 && "
					 "vipsheader -f format f32.tif | grep -q FLOAT && "
					 "img2stream -t 1 f32.tif | stream2txt | cmp - one.txt", ""), 0,
		     "%s", err);
	cr_assert_eq(sh(err, sizeof err, "vips linear one.png f2.tif 0.01 0 && "
					 "img2stream -t 1 f2.tif > out.ts", ""), 1, "%s", err);
	cr_assert(strstr(err, "img2stream: f2.tif: float samples from 0 to 2."), "%s", err);
	cr_assert_eq(sh(err, sizeof err, "img2stream -t 1 -k f2.tif f32.tif | stream-info --tsv | "
					 "grep -qx 'records\t1'", ""), 0, "%s", err);
}

/* Without --size a record is the image: 8200x8200 grey is over the 2^26
 * values of a record. The message names the file and says --size; -k skips
 * it; with --size it is decoded (2^28 pixels is the decoding limit). */
Test(img_formats, image_too_large_for_a_record)
{
	char err[2048];
	cr_assert_eq(sh(err, sizeof err, "vips black big.png 8200 8200 && "
					 "img2stream -t 1 big.png one.png > out.ts", ""), 1, "%s", err);
	cr_assert(strstr(err, "img2stream: big.png: image of 8200x8200 pixels is 67240000 values, "
			      "over the 67108864 of a record; give --size WxH"), "%s", err);
	cr_assert_eq(sh(err, sizeof err, "img2stream -t 1 -k big.png one.png | stream2txt | "
					 "cmp - one.txt", ""), 0, "%s", err);
	cr_assert(strstr(err, "big.png: image of 8200x8200"), "%s", err);
	cr_assert_eq(sh(err, sizeof err, "img2stream -t 1 --size 28x28 big.png one.png | "
					 "stream-info --tsv | grep -qx 'records\t2'", ""), 0, "%s", err);
}

/* Lossless WebP of RGBA: every pixel with alpha > 0 comes back exact; the
 * colour of fully transparent ones comes back 0 (stream2img(1) says so). */
Test(img_formats, lossless_webp_rgba)
{
	char err[2048];
	cr_assert_eq(sh(err, sizeof err,
			"awk 'BEGIN{for(i=0;i<16;i++) printf \"%%d %%d 7 %%d \", i*16, 255-i*16, "
			"i%%4 ? i*10+5 : 0; print \"\"}' | txt2stream -t u8 --shape 4x4x4 -o rgba.ts && "
			"stream2img -o 'w.webp[lossless]' rgba.ts && stream2img -o p.png rgba.ts && "
			"stream2txt rgba.ts > rgba.txt && img2stream -t 1 --rgba p.png | stream2txt | "
			"cmp - rgba.txt", ""),
		     0, "%s", err);
	cr_assert_eq(sh(err, sizeof err,
			"stream2txt rgba.ts | tr '\\t' '\\n' | paste - - - - | "
			"awk '{ if ($4 == 0) $1 = $2 = $3 = 0; $1 = $1; print }' > want && "
			"img2stream -t 1 --rgba w.webp | stream2txt | tr '\\t' '\\n' | paste - - - - | "
			"tr '\\t' ' ' | cmp - want", ""), 0, "%s", err);
}

Test(img_formats, cannot_open_file_first)
{
	char err[2048];
	cr_assert_eq(sh(err, sizeof err, "img2stream nothere.png > out.ts", ""), 1);
	cr_assert(!strncmp(err, "img2stream: cannot open nothere.png: No such file", 49), "%s",
		  err);
	cr_assert_eq(sh(err, sizeof err, "img2stream --files-from nolist > out.ts", ""), 1);
	cr_assert(!strncmp(err, "img2stream: cannot open nolist: No such file", 44), "%s", err);
	cr_assert_eq(sh(err, sizeof err, "img2stream -k nothere.png one.png | stream2txt | "
					 "cmp - one.txt", ""), 0, "%s", err);
	cr_assert(strstr(err, "img2stream: cannot open nothere.png: No such file or directory; "
			      "skipped"), "%s", err);
}
