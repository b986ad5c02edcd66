#include "err.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *vk_progname = "vaekit";

void vk_init(int argc, char **argv)
{
	(void)argc;
	if (argv && argv[0]) {
		const char *slash = strrchr(argv[0], '/');
		vk_progname = slash ? slash + 1 : argv[0];
	}
	/* A closed pipe ends a filter quietly, as for cat or head. */
	signal(SIGPIPE, SIG_DFL);
}

static void vformat(char *buf, size_t len, const char *fmt, va_list ap)
{
	int saved = errno;
	vsnprintf(buf, len, fmt, ap);
	size_t n = strlen(fmt);
	if (n && fmt[n - 1] == ':') {
		size_t used = strlen(buf);
		snprintf(buf + used, len - used, " %s", strerror(saved));
	}
}

int vk_fail(vk_error *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (e)
		vformat(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	return -1;
}

static void vprint(const char *fmt, va_list ap)
{
	char buf[1024];
	vformat(buf, sizeof buf, fmt, ap);
	fflush(stdout);
	fprintf(stderr, "%s: %s\n", vk_progname, buf);
}

void vk_die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprint(fmt, ap);
	va_end(ap);
	exit(VK_EXIT_FAIL);
}

void vk_ndie(int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprint(fmt, ap);
	va_end(ap);
	exit(status);
}

void vk_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprint(fmt, ap);
	va_end(ap);
}

void vk_die_error(const vk_error *e)
{
	vk_die("%s", e->msg);
}

void vk_close_stdout(void)
{
	if (fflush(stdout) != 0 || ferror(stdout) || fclose(stdout) != 0) {
		if (errno == EPIPE)
			exit(VK_EXIT_FAIL);
		vk_die("error writing standard output:");
	}
}

void *vk_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		vk_die("out of memory (%zu bytes)", n);
	return p;
}

void *vk_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		vk_die("out of memory (%zu x %zu bytes)", n, size);
	return p;
}
