/* LD_PRELOAD shim for `make check-fault`: fail the Nth call of one libc
 * function, so that every call a writer makes can be failed in turn.
 *   VK_FAULT=fwrite VK_FAULT_N=3 VK_FAULT_ERRNO=28 prog ...
 * fails the third fwrite with ENOSPC (errno 28, the default is EIO). When the
 * Nth call happened, the shim appends "hit" to $VK_FAULT_LOG, so the driver
 * knows when N has passed the number of calls and stops. With
 * VK_FAULT_SIGNAL=9 the Nth call is not failed: the process gets that signal
 * just before it (the crash test kills training inside a checkpoint write).
 * VK_FAULT_PATH=NAME counts only the renames to a file named NAME, and
 * VK_FAULT_COUNT=FILE gets the number of calls counted when the program ends.
 * libfiu (fiu-run -x) covers "every call" and "at random"; this covers "the
 * Nth", which libfiu cannot say. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *which;
static long target, count;
static int err = EIO, sig;
static const char *only_path;

__attribute__((constructor)) static void init(void)
{
	which = getenv("VK_FAULT");
	const char *n = getenv("VK_FAULT_N"), *en = getenv("VK_FAULT_ERRNO");
	const char *sg = getenv("VK_FAULT_SIGNAL");
	target = n ? atol(n) : 0;
	if (en)
		err = atoi(en);
	if (sg)
		sig = atoi(sg);
	only_path = getenv("VK_FAULT_PATH");
}

__attribute__((destructor)) static void report_count(void)
{
	const char *path = getenv("VK_FAULT_COUNT");
	if (!path)
		return;
	char buf[32];
	int fd = open(path, O_WRONLY | O_TRUNC | O_CREAT, 0644), n;
	if (fd >= 0) {
		n = snprintf(buf, sizeof buf, "%ld\n", count);
		if (write(fd, buf, (size_t)n) < 0) {
		}
		close(fd);
	}
}

/* A rename to b counts (VK_FAULT_PATH: only when b's file name is that). */
static int rename_counts(const char *b)
{
	if (!only_path)
		return 1;
	const char *slash = strrchr(b, '/');
	return !strcmp(slash ? slash + 1 : b, only_path);
}

/* Is this call of name the one to fail? */
static int fail_now(const char *name)
{
	if (!which || strcmp(which, name) || ++count != target)
		return 0;
	const char *log = getenv("VK_FAULT_LOG");
	if (log) {
		int fd = open(log, O_WRONLY | O_APPEND | O_CREAT, 0644);
		if (fd >= 0) {
			if (write(fd, "hit\n", 4) < 0) {
			}
			close(fd);
		}
	}
	if (sig)
		raise(sig);
	errno = err;
	return 1;
}

#define REAL(ret, name, args) \
	static ret(*real) args; \
	if (!real) \
		real = (ret(*) args)dlsym(RTLD_NEXT, #name)

size_t fwrite(const void *p, size_t size, size_t n, FILE *f)
{
	REAL(size_t, fwrite, (const void *, size_t, size_t, FILE *));
	if (f != stderr && fail_now("fwrite")) {
		f->_flags |= 0x20; /* _IO_ERR_SEEN: ferror() sees it, as after a real failure */
		return 0;
	}
	return real(p, size, n, f);
}

int fflush(FILE *f)
{
	REAL(int, fflush, (FILE *));
	if (f != stderr && fail_now("fflush")) {
		if (f)
			f->_flags |= 0x20;
		return EOF;
	}
	return real(f);
}

int fclose(FILE *f)
{
	REAL(int, fclose, (FILE *));
	if (f != stderr && fail_now("fclose")) {
		real(f); /* the stream is gone either way, as after a real failure */
		errno = err;
		return EOF;
	}
	return real(f);
}

int fsync(int fd)
{
	REAL(int, fsync, (int));
	return fail_now("fsync") ? -1 : real(fd);
}

int rename(const char *a, const char *b)
{
	REAL(int, rename, (const char *, const char *));
	return rename_counts(b) && fail_now("rename") ? -1 : real(a, b);
}

int renameat2(int da, const char *a, int db, const char *b, unsigned flags)
{
	REAL(int, renameat2, (int, const char *, int, const char *, unsigned));
	return rename_counts(b) && fail_now("rename") ? -1 : real(da, a, db, b, flags);
}

FILE *fopen(const char *path, const char *mode)
{
	REAL(FILE *, fopen, (const char *, const char *));
	return fail_now("fopen") ? NULL : real(path, mode);
}

FILE *fopen64(const char *path, const char *mode)
{
	REAL(FILE *, fopen64, (const char *, const char *));
	return fail_now("fopen") ? NULL : real(path, mode);
}

FILE *fdopen(int fd, const char *mode)
{
	REAL(FILE *, fdopen, (int, const char *));
	return fail_now("fdopen") ? NULL : real(fd, mode);
}

int mkstemp(char *tmpl)
{
	REAL(int, mkstemp, (char *));
	return fail_now("mkstemp") ? -1 : real(tmpl);
}

int mkstemp64(char *tmpl)
{
	REAL(int, mkstemp64, (char *));
	return fail_now("mkstemp") ? -1 : real(tmpl);
}

int fseek(FILE *f, long off, int whence)
{
	REAL(int, fseek, (FILE *, long, int));
	return fail_now("fseek") ? -1 : real(f, off, whence);
}

int fseeko(FILE *f, off_t off, int whence)
{
	REAL(int, fseeko, (FILE *, off_t, int));
	return fail_now("fseek") ? -1 : real(f, off, whence);
}

FILE *tmpfile(void)
{
	REAL(FILE *, tmpfile, (void));
	return fail_now("tmpfile") ? NULL : real();
}

FILE *tmpfile64(void)
{
	REAL(FILE *, tmpfile64, (void));
	return fail_now("tmpfile") ? NULL : real();
}

int fputc(int c, FILE *f)
{
	REAL(int, fputc, (int, FILE *));
	if (f != stderr && fail_now("fputc")) {
		f->_flags |= 0x20;
		return EOF;
	}
	return real(c, f);
}

int fputs(const char *s, FILE *f)
{
	REAL(int, fputs, (const char *, FILE *));
	if (f != stderr && fail_now("fputs")) {
		f->_flags |= 0x20;
		return EOF;
	}
	return real(s, f);
}

int fprintf(FILE *f, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc;
	if (f != stderr && fail_now("fprintf")) {
		f->_flags |= 0x20;
		rc = -1;
	} else {
		rc = vfprintf(f, fmt, ap);
	}
	va_end(ap);
	return rc;
}
