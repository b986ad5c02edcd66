#include "afile.h"

#include <dirent.h>
#include <libgen.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int vk_stdout_is_tty(void)
{
	return isatty(STDOUT_FILENO);
}

int vk_refuse_terminal_input(vk_error *e)
{
	if (isatty(STDIN_FILENO))
		return vk_fail(e, "refusing to read binary data from a terminal; give a file "
				  "name, or redirect or pipe the data into standard input");
	return 0;
}

/* Temporary files that exist now, for the exit and signal cleanups: pointers
 * to vk_afile.tmp, published once the name is complete (signals blocked from
 * mkstemp to here) and withdrawn before it changes, so a signal handler never
 * reads a half-written name. */
#define MAX_TEMPS 1100 /* stream-split keeps up to 1000 shards open */
static const char *volatile temps[MAX_TEMPS];

/* a->tmp stays where it is, complete, until forget(a). */
static int remember(vk_afile *a)
{
	for (int i = 0; i < MAX_TEMPS; i++)
		if (!temps[i]) {
			temps[i] = a->tmp;
			return i;
		}
	return -1;
}

static void forget(vk_afile *a)
{
	for (int i = 0; i < MAX_TEMPS; i++)
		if (temps[i] == a->tmp)
			temps[i] = NULL;
}

void vk_afile_remove_temporaries(void)
{
	for (int i = 0; i < MAX_TEMPS; i++) {
		const char *name = temps[i];
		if (name) {
			temps[i] = NULL;
			unlink(name);
		}
	}
}

static const int CLEANUP_SIGNALS[] = {SIGINT, SIGTERM, SIGHUP};

/* Remove the temporaries, then die of the same signal, so the shell sees it. */
static void on_fatal_signal(int sig)
{
	int saved = errno;
	vk_afile_remove_temporaries();
	signal(sig, SIG_DFL);
	raise(sig);
	errno = saved;
}

/* Once: at exit and on SIGINT, SIGTERM and SIGHUP, no temporary file stays. */
static void install_cleanup(void)
{
	static int done;
	if (done)
		return;
	done = 1;
	atexit(vk_afile_remove_temporaries);
	for (size_t i = 0; i < sizeof CLEANUP_SIGNALS / sizeof *CLEANUP_SIGNALS; i++) {
		struct sigaction old, sa;
		if (sigaction(CLEANUP_SIGNALS[i], NULL, &old) != 0)
			continue;
		if ((old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL)
			continue; /* the program's own handler, or ignored (nohup) */
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_fatal_signal;
		sigfillset(&sa.sa_mask);
		sigaction(CLEANUP_SIGNALS[i], &sa, NULL);
	}
}

static int same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

int vk_output_is_input(const char *output, const char *const *inputs, int n_inputs,
		       vk_error *e)
{
	struct stat out;
	int to_stdout = !output || !strcmp(output, "-");
	if ((to_stdout ? fstat(STDOUT_FILENO, &out) : stat(output, &out)) != 0 ||
	    !S_ISREG(out.st_mode))
		return 0;
	const char *oname = to_stdout ? "standard output" : output;
	for (int i = 0; i < n_inputs; i++) {
		struct stat in;
		int from_stdin = !inputs[i] || !strcmp(inputs[i], "-");
		if ((from_stdin ? fstat(STDIN_FILENO, &in) : stat(inputs[i], &in)) != 0)
			continue;
		if (!same_file(&out, &in))
			continue;
		if (from_stdin)
			return vk_fail(e, "%s is also the input (standard input); writing it "
					  "would destroy the input", oname);
		if (to_stdout || strcmp(inputs[i], output))
			return vk_fail(e, "%s is also the input %s (the same file); writing "
					  "it would destroy the input", oname, inputs[i]);
		return vk_fail(e, "%s is also an input; writing it would destroy the input",
			       oname);
	}
	return 0;
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
	install_cleanup();
	sigset_t all, old;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	int fd = mkstemp(a->tmp);
	int slot = fd < 0 ? -1 : remember(a);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (fd < 0) {
		a->tmp[0] = 0;
		return vk_fail(e, "cannot create %s:", path);
	}
	if (slot < 0) {
		close(fd);
		unlink(a->tmp);
		a->tmp[0] = 0;
		return vk_fail(e, "%s: too many output files open at once", path);
	}
	fchmod(fd, 0644);
	a->f = fdopen(fd, "wb");
	if (!a->f) {
		close(fd);
		vk_fail(e, "cannot open %s:", path);
		vk_afile_abort(a);
		return -1;
	}
	return 0;
}

int vk_afile_write(const char *path, const void *buf, size_t len, vk_error *e)
{
	vk_afile f;
	if (vk_afile_open(&f, path, 1, e))
		return -1;
	if (fwrite(buf, 1, len, f.f) != len) {
		vk_afile_abort(&f);
		return vk_fail(e, "error writing %s:", f.is_stdout ? "standard output" : path);
	}
	return vk_afile_commit(&f, e);
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
		forget(a);
		unlink(a->tmp);
		a->tmp[0] = 0;
		return -1;
	}
	if (rename(a->tmp, a->path) != 0) {
		vk_fail(e, "cannot rename %s to %s:", a->tmp, a->path);
		forget(a);
		unlink(a->tmp);
		a->tmp[0] = 0;
		return -1;
	}
	forget(a);
	a->tmp[0] = 0;
	return 0;
}

/* Phase 1 of vk_afile_commit_all: everything written and synced. */
static int finish(vk_afile *a, vk_error *e)
{
	if (a->is_stdout) {
		if (fflush(stdout) != 0 || ferror(stdout))
			return vk_fail(e, "error writing standard output:");
		return 0;
	}
	if (!a->f)
		return vk_fail(e, "%s: not open", a->path);
	int bad = fflush(a->f) != 0 || ferror(a->f);
	if (!a->in_place)
		bad = bad || fsync(fileno(a->f)) != 0;
	int saved = errno;
	bad = (fclose(a->f) != 0) || bad;
	a->f = NULL;
	if (bad) {
		errno = saved;
		return vk_fail(e, "error writing %s:", a->path);
	}
	return 0;
}

enum { PLACED_NEW = 1, PLACED_EXCHANGED, PLACED_REPLACED };

/* Phase 2: a->tmp into place; how, for undo. */
static int place(vk_afile *a, int *how, vk_error *e)
{
	struct stat st;
	*how = 0;
	if (a->is_stdout || a->in_place)
		return 0;
	if (lstat(a->path, &st) == 0) {
		if (renameat2(AT_FDCWD, a->tmp, AT_FDCWD, a->path, RENAME_EXCHANGE) == 0) {
			*how = PLACED_EXCHANGED; /* a->tmp now holds the old version */
			return 0;
		}
		if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
			return vk_fail(e, "cannot rename %s to %s:", a->tmp, a->path);
		*how = PLACED_REPLACED;
	} else {
		*how = PLACED_NEW;
	}
	if (rename(a->tmp, a->path) != 0) {
		*how = 0;
		return vk_fail(e, "cannot rename %s to %s:", a->tmp, a->path);
	}
	return 0;
}

int vk_afile_commit_all(vk_afile *const *a, int n, vk_error *e)
{
	int i, bad = 0;
	for (i = 0; i < n && !bad; i++)
		bad = finish(a[i], e) != 0;
	int *how = bad ? NULL : calloc((size_t)(n > 0 ? n : 1), sizeof *how);
	if (!bad && !how)
		bad = vk_fail(e, "out of memory") != 0;
	for (i = 0; i < n && !bad; i++)
		bad = place(a[i], &how[i], e) != 0;
	if (bad) {
		/* Undo, newest first: the old versions back, the new files gone. */
		for (int j = i - 2; how && j >= 0; j--) {
			if (how[j] == PLACED_EXCHANGED)
				renameat2(AT_FDCWD, a[j]->tmp, AT_FDCWD, a[j]->path, RENAME_EXCHANGE);
			else if (how[j] == PLACED_NEW)
				unlink(a[j]->path);
		}
		for (int j = 0; j < n; j++)
			vk_afile_abort(a[j]);
		free(how);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (a[i]->is_stdout || a[i]->in_place)
			continue;
		forget(a[i]);
		if (how[i] == PLACED_EXCHANGED)
			unlink(a[i]->tmp); /* the old version */
		a[i]->tmp[0] = 0;
	}
	free(how);
	return 0;
}

void vk_afile_abort(vk_afile *a)
{
	if (a->is_stdout)
		return;
	if (a->f)
		fclose(a->f);
	a->f = NULL;
	forget(a);
	if (a->tmp[0])
		unlink(a->tmp);
	a->tmp[0] = 0;
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
