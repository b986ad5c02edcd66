/* Crash safety of vae-train: SIGKILL at any moment leaves the previous whole
 * model or none; --resume, after a kill or a SIGINT/SIGTERM checkpoint taken
 * mid-epoch, ends with the same bytes as an uninterrupted run (one thread,
 * same seed); --max-memory refuses data that would not fit. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "modelfile.h"
#include "testutil.h"
#include "train.h"

/* The first n shipped digits, with labels. */
static const char *digits(int n)
{
	const char *out = tmp_path("digits.ts");
	cr_assert_eq(run("idx2stream -n %d %s %s > %s", n,
			 repo_path("examples/data/digits-test-images-idx3-ubyte.gz"),
			 repo_path("examples/data/digits-test-labels-idx1-ubyte.gz"), out), 0);
	return out;
}

/* Start a shell command (exec'ing the program, so the pid is the program's). */
static pid_t spawn(const char *cmd)
{
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static int wait_status(pid_t pid)
{
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, ms % 1000 * 1000000L};
	nanosleep(&ts, NULL);
}

/* Epochs in the model at path: -1 when absent, -2 when present but unloadable. */
static int model_epochs(const char *path, vk_epoch_pos *pos)
{
	if (access(path, F_OK))
		return -1;
	vk_model m;
	vk_trainrec t;
	vk_optstate opt;
	vk_epoch_pos p;
	vk_error e;
	if (vk_checkpoint_load(path, &m, &t, &opt, pos ? pos : &p, &e))
		return -2;
	free(opt.m);
	free(opt.v);
	vk_model_free(&m);
	return (int)t.epochs;
}

/* Files in dir whose name contains ".tmp". */
static int count_temps(const char *dir)
{
	DIR *d = opendir(dir);
	cr_assert(d);
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		n += strstr(de->d_name, ".tmp") != NULL;
	closedir(d);
	return n;
}

static const char *fresh_dir(const char *name)
{
	const char *dir = tmp_path(name);
	cr_assert_eq(run("rm -rf %s && mkdir -p %s", dir, dir), 0);
	return dir;
}

/* Wait until the model at path has at least epochs epochs (or pid ends). */
static void wait_for_epoch(const char *path, int epochs, pid_t pid)
{
	for (int i = 0; i < 20000; i++) {
		if (model_epochs(path, NULL) >= epochs || waitpid(pid, NULL, WNOHANG) == pid)
			return;
		sleep_ms(1);
	}
	cr_assert_fail("no epoch %d in %s after 20 s", epochs, path);
}

Test(crashsafe_train, kill9_leaves_a_whole_model_or_none)
{
	const char *data = digits(300), *dir = fresh_dir("kill");
	char model[600], cmd[1600];
	snprintf(model, sizeof model, "%s/m.vkm", dir);
	srand(7);
	int loaded = 0;
	for (int i = 0; i < 14; i++) {
		/* Many tiny epochs, so most kills land near a save; later runs resume. */
		int have = model_epochs(model, NULL) >= 0;
		snprintf(cmd, sizeof cmd,
			 "exec vae-train -q -t 1 -z 2 --hidden 16 -b 16 -e 1000000 %s -o %s %s "
			 "2>/dev/null", have ? "--resume" : "", model, data);
		pid_t pid = spawn(cmd);
		sleep_ms(20 + rand() % 250);
		kill(pid, SIGKILL);
		cr_assert_eq(wait_status(pid), -SIGKILL, "run %d ended before the kill", i);
		int ep = model_epochs(model, NULL);
		cr_assert_neq(ep, -2, "run %d: SIGKILL left a model that does not load", i);
		loaded += ep >= 0;
		cr_assert_leq(count_temps(dir), 1, "run %d: temporary files pile up", i);
	}
	cr_assert_gt(loaded, 0, "no kill came after a save: the test proves nothing");
}

/* Options shared by the runs that must end in the same bytes. */
#define SAME "-t 1 -s 5 -z 4 --hidden 64 -b 10 -q"

/* The files of one comparison: data, a test set, the uninterrupted run's
 * model and log, and the interrupted run's (copied: tmp_path's are reused). */
struct runs {
	char data[512], test[512], ref[512], reflog[512], m[512], log[512];
};

#define KEEP(field, path) snprintf(r->field, sizeof r->field, "%s", path)

/* n digits, 50 of them as the test set, and 4 uninterrupted epochs. */
static void prepare(struct runs *r, int n)
{
	KEEP(data, digits(n));
	KEEP(test, tmp_path("test.ts"));
	KEEP(ref, tmp_path("ref.vkm"));
	KEEP(reflog, tmp_path("ref.log"));
	KEEP(m, tmp_path("m.vkm"));
	KEEP(log, tmp_path("m.log"));
	cr_assert_eq(run("stream-cat -n 50 %s > %s", r->data, r->test), 0);
	cr_assert_eq(run("vae-train " SAME " -e 4 --test %s --log %s -o %s %s", r->test,
			 r->reflog, r->ref, r->data), 0);
}

/* The vae-train command for the interrupted side, to e epochs. */
static void command(const struct runs *r, char *cmd, size_t len, int e, const char *extra)
{
	snprintf(cmd, len, "vae-train " SAME " -e %d --test %s --log %s -o %s %s %s", e, r->test,
		 r->log, r->m, r->data, extra);
}

/* The epoch column of a log file. */
static void log_epochs(const char *path, char *out, size_t len)
{
	char cmd[700];
	snprintf(cmd, sizeof cmd, "cut -f1 %s | tr '\\n' ' '", path);
	FILE *p = popen(cmd, "r");
	cr_assert(p);
	size_t n = fread(out, 1, len - 1, p);
	out[n] = 0;
	pclose(p);
}

/* Resume to 4 epochs (unless there already) and compare with the reference:
 * the model byte for byte, the log's epochs one line each. */
static void resume_and_compare(const struct runs *r, const char *what)
{
	if (model_epochs(r->m, NULL) < 4)
		cr_assert_eq(run("vae-train --resume -t 1 -q -e 4 --test %s --log %s -o %s %s",
				 r->test, r->log, r->m, r->data), 0);
	cr_assert_eq(run("cmp -s %s %s", r->ref, r->m), 0, "%s: differs from uninterrupted",
		     what);
	char a[200], b[200];
	log_epochs(r->reflog, a, sizeof a);
	log_epochs(r->log, b, sizeof b);
	cr_assert_str_eq(b, a, "%s: log's epochs '%s', uninterrupted '%s'", what, b, a);
}

Test(crashsafe_train, resume_at_an_epoch_boundary_with_test_and_log_is_exact)
{
	struct runs r;
	char cmd[3000];
	prepare(&r, 400);
	command(&r, cmd, sizeof cmd, 2, "");
	cr_assert_eq(run("%s", cmd), 0);
	resume_and_compare(&r, "2 epochs, then resumed to 4");
}

Test(crashsafe_train, kill9_in_epoch_3_then_resume_is_exact)
{
	struct runs r;
	char cmd[3000];
	prepare(&r, 1000);
	command(&r, cmd + 5, sizeof cmd - 5, 4, "");
	memcpy(cmd, "exec ", 5);
	pid_t pid = spawn(cmd);
	wait_for_epoch(r.m, 2, pid);
	sleep_ms(5);
	kill(pid, SIGKILL);
	wait_status(pid);
	int ep = model_epochs(r.m, NULL);
	cr_assert(ep >= 2, "after the kill the model has %d epochs", ep);
	resume_and_compare(&r, "killed after epoch 2 and resumed");
}

/* Signal a run once it is into epoch 2; returns 1 when the checkpoint it
 * left is mid-epoch (the signal can land just as an epoch ends). */
static int interrupt_mid_epoch(int sig, const struct runs *r)
{
	char cmd[3000], err[1024], errfile[512];
	snprintf(errfile, sizeof errfile, "%s", tmp_path("train.err"));
	unlink(r->m);
	unlink(r->log);
	char redirect[600];
	snprintf(redirect, sizeof redirect, "2>%s", errfile);
	command(r, cmd + 5, sizeof cmd - 5, 4, redirect);
	memcpy(cmd, "exec ", 5);
	pid_t pid = spawn(cmd);
	wait_for_epoch(r->m, 1, pid);
	sleep_ms(3);
	kill(pid, sig);
	cr_assert_eq(wait_status(pid), 1, "an interrupted run must exit 1");
	size_t n;
	char *s = (char *)slurp(errfile, &n);
	cr_assert(s);
	snprintf(err, sizeof err, "%.*s", (int)n, s);
	free(s);
	cr_assert(strstr(err, "vae-train: interrupted in epoch"), "stderr: %s", err);
	cr_assert(strstr(err, "--resume"), "the message says how to resume: %s", err);
	vk_epoch_pos pos;
	int ep = model_epochs(r->m, &pos);
	cr_assert(ep >= 1, "no loadable checkpoint after the signal (%d)", ep);
	return pos.batches > 0;
}

static void signal_then_resume(int sig)
{
	struct runs r;
	prepare(&r, 1000);
	int mid = 0;
	for (int tries = 0; tries < 3 && !mid; tries++)
		mid = interrupt_mid_epoch(sig, &r);
	cr_assert(mid, "three signals in a row landed on an epoch boundary");
	resume_and_compare(&r, "mid-epoch checkpoint resumed");
}

Test(crashsafe_train, sigint_mid_epoch_checkpoint_resumes_exactly)
{
	signal_then_resume(SIGINT);
}

Test(crashsafe_train, sigterm_mid_epoch_checkpoint_resumes_exactly)
{
	signal_then_resume(SIGTERM);
}

Test(crashsafe_train, max_memory_refuses_with_the_size_needed)
{
	const char *data = digits(300), *m = tmp_path("m.vkm");
	char err[1024];
	/* 300 records of 784 bytes and a 4-byte label: 236,400 bytes. */
	cr_assert_eq(run_err(err, sizeof err, "vae-train --max-memory 100K -e 1 -o %s %s", m,
			     data), 1);
	cr_assert(strstr(err, "vae-train: ") == err && strstr(err, "needs 230.9 KB") &&
		  strstr(err, "--max-memory"), "%s", err);
	cr_assert_neq(access(m, F_OK), 0, "a refused run left a model");
	cr_assert_eq(run_err(err, sizeof err, "vae-train --max-memory 100K -e 1 -o %s < %s", m,
			     data), 1, "the limit applies to standard input too");
	cr_assert_eq(run("vae-train -q --max-memory 240K -e 1 -z 2 --hidden 8 -o %s %s", m,
			 data), 0, "data that fits is accepted");
}
