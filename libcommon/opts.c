#include "opts.h"
#include "afile.h"
#include "err.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void vk_help(const char *usage)
{
	fputs(usage, stdout);
	vk_close_stdout();
	exit(0);
}

void vk_version(void)
{
	printf("%s (vaekit) %s\n", vk_progname, VK_VERSION);
	vk_close_stdout();
	exit(0);
}

void vk_usage_error(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s\nTry '%s --help' for more information.\n", vk_progname, buf,
		vk_progname);
	exit(VK_EXIT_USAGE);
}

int vk_common_option(int c, const char *usage)
{
	switch (c) {
	case 'h':
		vk_help(usage);
	case VK_OPT_VERSION:
		vk_version();
	case '?':
	case ':':
		/* getopt already printed "prog: unrecognized option" */
		fprintf(stderr, "Try '%s --help' for more information.\n", vk_progname);
		exit(VK_EXIT_USAGE);
	}
	return 0;
}

long vk_parse_long(const char *opt, const char *s, long min, long max)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (!*s || *end || errno == ERANGE)
		vk_usage_error("%s: '%s' is not an integer", opt, s);
	if (v < min || v > max)
		vk_usage_error("%s: %ld is out of range (%ld to %ld)", opt, v, min, max);
	return v;
}

double vk_parse_double(const char *opt, const char *s, double min, double max)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (!*s || *end || errno == ERANGE || !isfinite(v))
		vk_usage_error("%s: '%s' is not a number", opt, s);
	if (v < min || v > max)
		vk_usage_error("%s: %g is out of range (%g to %g)", opt, v, min, max);
	return v;
}

int vk_parse_shape(const char *opt, const char *s, unsigned dims[4])
{
	int rank = 0;
	const char *p = s;
	while (*p) {
		char *end;
		errno = 0;
		long v = strtol(p, &end, 10);
		if (end == p || v < 1 || v > 65536 || errno || rank == 4)
			vk_usage_error("%s: '%s' is not a shape like 28x28 or 32x32x3", opt, s);
		dims[rank++] = (unsigned)v;
		if (*end == 'x' && end[1])
			end++;
		else if (*end)
			vk_usage_error("%s: '%s' is not a shape like 28x28 or 32x32x3", opt, s);
		p = end;
	}
	if (!rank)
		vk_usage_error("%s: empty shape", opt);
	for (int i = rank; i < 4; i++)
		dims[i] = 0;
	return rank;
}

int vk_parse_list(const char *opt, const char *s, int *out, int max, long min, long maxv)
{
	int n = 0;
	char buf[256];
	if (strlen(s) >= sizeof buf)
		vk_usage_error("%s: list too long", opt);
	strcpy(buf, s);
	if (!*s)
		vk_usage_error("%s: empty list", opt);
	/* Every value between commas: "5,,5", ",5" and "5," have an empty one. */
	for (char *tok = buf, *next; tok; tok = next) {
		next = strchr(tok, ',');
		if (next)
			*next++ = 0;
		if (!*tok)
			vk_usage_error("%s: '%s' has an empty value (give a comma list like 512,256)",
				       opt, s);
		if (n == max)
			vk_usage_error("%s: at most %d values", opt, max);
		out[n++] = (int)vk_parse_long(opt, tok, min, maxv);
	}
	return n;
}

void vk_stdin_once(int n, const char *const *what, const char *const *paths)
{
	const char *first = NULL;
	for (int i = 0; i < n; i++) {
		if (paths[i] && strcmp(paths[i], "-"))
			continue;
		if (first)
			vk_usage_error("%s and %s cannot both be standard input", first, what[i]);
		first = what[i];
	}
}

void vk_option_has_no_effect(const char *opt, const char *why)
{
	vk_usage_error("%s has no effect %s", opt, why);
}

size_t vk_shell_command(char *buf, size_t len, int argc, char *const *argv)
{
	size_t used = 0;
	buf[0] = 0;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		int plain = *a != 0;
		for (const char *p = a; *p; p++)
			if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
				    "_-+=/.,:@%", *p))
				plain = 0;
		char word[4200];
		size_t w = 0;
		if (plain) {
			w = (size_t)snprintf(word, sizeof word, "%s", a);
		} else { /* 'it'\''s' */
			word[w++] = '\'';
			for (const char *p = a; *p && w + 6 < sizeof word; p++) {
				if (*p == '\'') {
					memcpy(word + w, "'\\''", 4);
					w += 4;
				} else {
					word[w++] = *p;
				}
			}
			word[w++] = '\'';
			word[w] = 0;
		}
		if (used + (i > 0) + w + 1 > len)
			return 0;
		if (i > 0)
			buf[used++] = ' ';
		memcpy(buf + used, word, w + 1);
		used += w;
	}
	return used;
}

const char *vk_input_arg(int argc, char **argv, int optind_)
{
	if (optind_ < argc - 1)
		vk_usage_error("too many operands (at most one input file)");
	if (optind_ == argc - 1 && strcmp(argv[optind_], "-") != 0)
		return argv[optind_];
	return NULL;
}

void vk_refuse_output_is_input(const char *output, const char *const *inputs, int n)
{
	vk_error e;
	if (vk_output_is_input(output, inputs, n, &e))
		vk_die_error(&e);
}
