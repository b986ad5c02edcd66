#include "afile.h"

#include <dirent.h>
#include <libgen.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int vk_stdout_is_tty(void)
{
	return isatty(STDOUT_FILENO);
}

/* Temporary files still open when a signal kills us are removed by this list. */
static vk_afile *open_files[8];

static void remember(vk_afile *a)
{
	for (int i = 0; i < 8; i++)
		if (!open_files[i]) {
			open_files[i] = a;
			return;
		}
}

static void forget(vk_afile *a)
{
	for (int i = 0; i < 8; i++)
		if (open_files[i] == a)
			open_files[i] = NULL;
}

/* Runs at exit: a program that dies midway leaves no temporary file behind. */
static void cleanup_all(void)
{
	for (int i = 0; i < 8; i++)
		if (open_files[i] && open_files[i]->tmp[0])
			unlink(open_files[i]->tmp);
}

int vk_afile_open(vk_afile *a, const char *path, int binary, vk_error *e)
{
	memset(a, 0, sizeof *a);
	if (!path || strcmp(path, "-") == 0) {
		if (binary && vk_stdout_is_tty())
			return vk_fail(e, "refusing to write binary data to a terminal; "
					  "redirect it to a file or pipe it to another program");
		a->f = stdout;
		a->is_stdout = 1;
		return 0;
	}
	if (strlen(path) >= sizeof a->path)
		return vk_fail(e, "%s: file name too long", "output");
	strcpy(a->path, path);
	/* A device or FIFO (-o /dev/null) is written in place: renaming a temporary
	 * file over it would replace the device with a regular file. */
	struct stat st;
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		a->f = fopen(path, "wb");
		if (!a->f)
			return vk_fail(e, "cannot open %s:", path);
		a->in_place = 1;
		return 0;
	}
	snprintf(a->tmp, sizeof a->tmp, "%s.tmpXXXXXX", path);
	int fd = mkstemp(a->tmp);
	if (fd < 0) {
		a->tmp[0] = 0;
		return vk_fail(e, "cannot create %s:", path);
	}
	fchmod(fd, 0644);
	a->f = fdopen(fd, "wb");
	if (!a->f) {
		close(fd);
		unlink(a->tmp);
		a->tmp[0] = 0;
		return vk_fail(e, "cannot open %s:", path);
	}
	static int registered;
	if (!registered && atexit(cleanup_all) == 0)
		registered = 1;
	remember(a);
	return 0;
}

int vk_afile_commit(vk_afile *a, vk_error *e)
{
	if (a->is_stdout) {
		if (fflush(stdout) != 0 || ferror(stdout))
			return vk_fail(e, "error writing standard output:");
		return 0;
	}
	if (!a->f)
		return vk_fail(e, "%s: not open", a->path);
	if (a->in_place) {
		int bad = fflush(a->f) != 0 || ferror(a->f);
		bad = (fclose(a->f) != 0) || bad;
		a->f = NULL;
		return bad ? vk_fail(e, "error writing %s:", a->path) : 0;
	}
	int bad = fflush(a->f) != 0 || ferror(a->f);
	bad = bad || fsync(fileno(a->f)) != 0;
	int saved = errno;
	bad = (fclose(a->f) != 0) || bad;
	a->f = NULL;
	if (bad) {
		errno = saved;
		vk_fail(e, "error writing %s:", a->path);
		unlink(a->tmp);
		a->tmp[0] = 0;
		forget(a);
		return -1;
	}
	if (rename(a->tmp, a->path) != 0) {
		vk_fail(e, "cannot rename %s to %s:", a->tmp, a->path);
		unlink(a->tmp);
		a->tmp[0] = 0;
		forget(a);
		return -1;
	}
	a->tmp[0] = 0;
	forget(a);
	return 0;
}

void vk_afile_abort(vk_afile *a)
{
	if (a->is_stdout)
		return;
	if (a->f)
		fclose(a->f);
	a->f = NULL;
	if (a->tmp[0])
		unlink(a->tmp);
	a->tmp[0] = 0;
	forget(a);
}

void vk_afile_remove_stale(const char *path)
{
	char dirbuf[4096], basebuf[4096];
	snprintf(dirbuf, sizeof dirbuf, "%s", path);
	snprintf(basebuf, sizeof basebuf, "%s", path);
	const char *dir = dirname(dirbuf), *base = basename(basebuf);
	size_t len = strlen(base);
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *n = de->d_name;
		/* the names vk_afile_open's mkstemp makes: PATH.tmp and six characters */
		if (strncmp(n, base, len) || strncmp(n + len, ".tmp", 4) || strlen(n + len) != 10)
			continue;
		char victim[8192];
		snprintf(victim, sizeof victim, "%s/%s", dir, n);
		unlink(victim);
	}
	closedir(d);
}
