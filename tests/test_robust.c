/* Issue 13, "no silent failure": outputs that are inputs, temporaries left by
 * signals, streams joined by the shell, binary input from a terminal, and the
 * other defects of its catalogue, run against the real programs. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "afile.h"
#include "dataset.h"
#include "guard.h"
#include "opts.h"
#include "progress.h"
#include "stream.h"
#include "testutil.h"

static char dir[512];

/* A directory with a.ts (u8 0..9), b.ts (a copy), f.ts (f32 8x8 images),
 * a .npy and a text file, and links to a.ts. */
static void setup(void)
{
	snprintf(dir, sizeof dir, "%s", tmp_path("robust"));
	cr_assert_eq(run("mkdir -p %s && cd %s && seq 0 9 | txt2stream -t u8 -o a.ts && "
			 "cp a.ts b.ts && ln -sf a.ts sym.ts && ln -f a.ts hard.ts && "
			 "seq 0 9 > a.txt && stream2npy -o a.npy a.ts && "
			 "awk 'BEGIN{for(i=0;i<6;i++){for(j=0;j<64;j++)printf \"%%s%%g\", j?\"\\t\":\"\", "
			 "(i*64+j)%%17/16; print \"\"}}' | txt2stream --shape 8x8 -o f.ts",
			 dir, dir), 0);
}

TestSuite(robust, .init = setup, .timeout = 120);

/* Run cmd in dir: exit status want, one line on stderr starting "prog: " and
 * containing what. */
static void expect(const char *prog, int want, const char *what, const char *cmd)
{
	char err[4096];
	int rc = run_err(err, sizeof err, "cd %s && %s", dir, cmd);
	cr_assert_eq(rc, want, "%s: exit %d, expected %d (stderr: %s)", cmd, rc, want, err);
	char head[64];
	snprintf(head, sizeof head, "%s: ", prog);
	cr_assert(!strncmp(err, head, strlen(head)), "%s: stderr does not start '%s': %s", cmd,
		  head, err);
	char *nl = strchr(err, '\n');
	cr_assert(nl && nl[1] == 0, "%s: not one line on stderr: %s", cmd, err);
	cr_assert(strstr(err, what), "%s: message '%s' lacks '%s'", cmd, err, what);
}

static void assert_intact(void)
{
	cr_assert_eq(run("cd %s && cmp -s a.ts b.ts", dir), 0, "a.ts was changed");
	cr_assert_neq(run("cd %s && ls *.tmp* >/dev/null 2>&1", dir), 0, "temporary file left");
}

/* Item 2: an output that is one of the inputs is refused before it is opened. */
Test(robust, output_that_is_an_input_is_refused)
{
	static const char *cases[][2] = {
		{"stream-cat", "stream-cat -o a.ts b.ts a.ts"},
		{"stream-cat", "stream-cat -o sym.ts a.ts"},
		{"stream-cat", "stream-cat -o hard.ts - < a.ts"},
		{"stream-cat", "stream-cat a.ts >> a.ts"},
		{"stream-split", "stream-split -k 2 -p x x0001.ts 2>/dev/null; cp a.ts x0001.ts && "
				 "stream-split -k 2 -p x x0001.ts"},
		{"stream2txt", "stream2txt -o a.ts a.ts"},
		{"stream2npy", "stream2npy -o sym.ts a.ts"},
		{"stream2npy", "stream2npy -o out.npy -l hard.ts a.ts"},
		{"npy2stream", "npy2stream -o a.npy a.npy"},
		{"txt2stream", "txt2stream -o a.txt a.txt"},
		{"idx2stream", "idx2stream -o a.ts a.ts"},
		{"png-grid", "png-grid -o a.ts a.ts"},
		{"png-grid", "png-grid -o a.ts --pair a.ts b.ts"},
		{"latent-plot", "latent-plot -o hard.ts a.ts"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		expect(cases[i][0], 1, "would destroy the input", cases[i][1]);
		assert_intact();
	}
	char err[1024];
	cr_assert_eq(run_err(err, sizeof err, "cd %s && stream2npy -o same.npy -l same.npy a.ts",
			     dir), 2, "%s", err);
	cr_assert(strstr(err, "--labels and --output name the same file"), "%s", err);
	cr_assert_eq(run("cd %s && cmp -s x0001.ts a.ts && ! ls x0000.ts 2>/dev/null", dir), 0,
		     "stream-split wrote a shard");
	/* Not a clash: different files, devices, pipes. */
	cr_assert_eq(run("cd %s && stream-cat -o /dev/null a.ts && stream-cat a.ts > /dev/null && "
			 "stream-cat < a.ts | stream-cat -o c.ts && stream-cat a.ts b.ts -o c.ts",
			 dir), 0);
}

Test(robust, output_is_input_library)
{
	vk_error e;
	const char *a = tmp_path("lib-a"), *b = tmp_path("lib-b");
	cr_assert_eq(spit(a, "x", 1), 0);
	cr_assert_eq(spit(b, "x", 1), 0);
	const char *ins[] = {b, a};
	cr_assert_eq(vk_output_is_input(a, ins, 1, &e), 0);
	cr_assert_eq(vk_output_is_input(a, ins, 2, &e), -1);
	cr_assert(strstr(e.msg, "would destroy the input"), "%s", e.msg);
	cr_assert_eq(vk_output_is_input(tmp_path("lib-none"), ins, 2, &e), 0);
	cr_assert_eq(vk_output_is_input("/dev/null", (const char *[]){"/dev/null"}, 1, &e), 0);
}

/* Start prog (argv, run in dir) with default signal actions and standard
 * input from a pipe; *in is the pipe's write end. */
static pid_t spawn(char *const argv[], int *in)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
		for (int i = 0; i < 4; i++)
			signal(sigs[i], SIG_DFL);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		dup2(p[0], 0);
		close(p[0]);
		close(p[1]);
		if (chdir(dir) != 0)
			_exit(127);
		int devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(p[0]);
	*in = p[1];
	return pid;
}

static int temporaries_in_dir(void)
{
	return run("cd %s && ls | grep -q 'tmp......$'", dir) == 0;
}

/* Item 3: a writer killed by SIGINT, SIGTERM or SIGHUP midway leaves no
 * temporary file and no output, and dies of that signal. */
Test(robust, signals_remove_temporaries)
{
	static char *progs[][8] = {
		{"stream-cat", "-o", "sig.ts", NULL},
		{"stream2npy", "-o", "sig.npy", NULL},
		{"stream-split", "-k", "3", "-p", "sig", NULL},
		{"stream2txt", "-o", "sig.txt", NULL},
		{"txt2stream", "-o", "sig.ts", NULL},
	};
	int sigs[] = {SIGINT, SIGTERM, SIGHUP};
	size_t n;
	unsigned char *head = slurp(tmp_path("robust/f.ts"), &n);
	cr_assert(head);
	for (size_t i = 0; i < sizeof progs / sizeof *progs; i++)
		for (int s = 0; s < 3; s++) {
			int in;
			pid_t pid = spawn(progs[i], &in);
			/* The header and a record, then the writer waits for more. */
			if (!strcmp(progs[i][0], "txt2stream"))
				cr_assert_eq(write(in, "1\t2\n3\t4\n", 8), 8);
			else
				cr_assert_eq(write(in, head, n - 64 * 4), (ssize_t)(n - 64 * 4));
			for (int t = 0; t < 500 && !temporaries_in_dir(); t++)
				usleep(10000);
			cr_assert(temporaries_in_dir(), "%s made no temporary file", progs[i][0]);
			usleep(50000);
			kill(pid, sigs[s]);
			int status;
			cr_assert_eq(waitpid(pid, &status, 0), pid);
			close(in);
			cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == sigs[s],
				  "%s: status 0x%x after signal %d", progs[i][0], status, sigs[s]);
			cr_assert(!temporaries_in_dir(), "%s left a temporary file after signal %d",
				  progs[i][0], sigs[s]);
			cr_assert_neq(run("cd %s && ls sig* >/dev/null 2>&1", dir), 0,
				      "%s left an output after signal %d", progs[i][0], sigs[s]);
		}
	free(head);
}

/* Item 4: two streams joined byte for byte are refused by every reader, with
 * the record after which the second starts, never read as records. */
Test(robust, concatenated_streams_are_refused)
{
	/* Unknown count, 1-byte records (looked at across records). */
	expect("stream2txt", 1, "a second stream's header follows record 10",
	       "(txt2stream -t u8 < a.txt; txt2stream -t u8 < a.txt) | stream2txt > /dev/null");
	/* Known count: after the last record. */
	expect("stream-cat", 1, "a second stream's header follows record 10",
	       "cat a.ts b.ts | stream-cat > /dev/null");
	expect("stream2npy", 1, "join them with stream-cat",
	       "cat a.ts b.ts | stream2npy > /dev/null");
	/* Unknown count, 256-byte records. */
	expect("png-grid", 1, "a second stream's header follows record 6",
	       "(stream-cat f.ts; stream-cat f.ts) | png-grid -o out.png");
	expect("latent-plot", 1, "a second stream's header follows record 6",
	       "(stream-cat f.ts; stream-cat f.ts) | latent-plot -o out.png");
	expect("stream-split", 1, "a second stream's header follows record 6",
	       "(stream-cat f.ts; stream-cat f.ts) | stream-split -k 2 -p out");
	cr_assert_neq(run("cd %s && ls out* >/dev/null 2>&1", dir), 0, "left an output");
	/* Labelled records: the header's magic spans the label and the data. */
	expect("stream2txt", 1, "follows record 3",
	       "(printf '1\\t2\\n3\\t4\\n5\\t6\\n' | txt2stream -l; "
	       "printf '1\\t2\\n' | txt2stream -l) | stream2txt > /dev/null");
	/* stream-cat joins them. */
	cr_assert_eq(run("cd %s && stream-cat a.ts b.ts | stream2txt | wc -l | grep -qx 20", dir),
		     0);
}

/* The other side: a writer into a pipe never writes a record that begins
 * with the magic; a file (declared count) holds it. */
Test(robust, record_that_looks_like_a_header)
{
	const char *magic = "147\\n86\\n75\\n84\\n83\\n13\\n10\\n26\\n";
	char cmd[512];
	snprintf(cmd, sizeof cmd, "printf '1\\n%s' | txt2stream -t u8 -o /dev/null", magic);
	expect("txt2stream", 1, "record 1 begins with the 8 bytes of a stream header", cmd);
	snprintf(cmd, sizeof cmd, "printf '%s' | tr '\\n' '\\t' | sed 's/\\t$/\\n/' | "
		 "txt2stream -t u8 -o /dev/null", magic);
	expect("txt2stream", 1, "record 0 begins with the 8 bytes of a stream header", cmd);
	cr_assert_eq(run("cd %s && printf '1\\n%s' | txt2stream -t u8 -o m.ts && "
			 "stream2txt m.ts | wc -l | grep -qx 9", dir, magic), 0);
	/* Almost the magic is fine. */
	cr_assert_eq(run("cd %s && printf '147\\n86\\n75\\n84\\n83\\n13\\n10\\n27\\n' | "
			 "txt2stream -t u8 | stream2txt | wc -l | grep -qx 8", dir), 0);
}

/* Run cmd under script(1), its standard input and output a terminal; the
 * terminal's text into buf; returns the exit status. */
static int on_terminal(const char *cmd, char *buf, size_t len)
{
	const char *out = tmp_path("robust/tty.txt");
	int rc = run("cd %s && timeout 20 script -qec \"%s\" /dev/null < /dev/null > %s 2>&1", dir,
		     cmd, out);
	size_t n = 0;
	unsigned char *s = slurp(out, &n);
	if (n >= len)
		n = len - 1;
	if (s)
		memcpy(buf, s, n);
	buf[n] = 0;
	free(s);
	return rc;
}

/* Item 13: binary input from a terminal is refused at once, with a hint, and
 * the same status (1) as binary output to a terminal. */
Test(robust, binary_input_from_a_terminal_is_refused)
{
	if (run("command -v script >/dev/null") != 0)
		cr_skip_test("no script(1) to provide a terminal");
	static const char *cmds[] = {
		"stream2txt", "stream-cat -o out.ts", "stream-split -k 2 -p out",
		"stream2npy -o out.npy", "stream-info", "npy2stream -o out.ts",
		"idx2stream -o out.ts -", "png-grid -o out.png", "latent-plot -o out.png",
		"stream-cat -o out.ts a.ts -",
	};
	for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
		char buf[2048];
		int rc = on_terminal(cmds[i], buf, sizeof buf);
		cr_assert_eq(rc, 1, "%s on a terminal: exit %d: %s", cmds[i], rc, buf);
		cr_assert(strstr(buf, "refusing to read binary data from a terminal"), "%s: %s",
			  cmds[i], buf);
	}
	cr_assert_neq(run("cd %s && ls out* >/dev/null 2>&1", dir), 0, "left an output");
	/* Text input from a terminal is what txt2stream is for: not refused. */
	static const char *out_cmds[] = {
		"stream-cat a.ts", "stream2npy a.ts", "png-grid f.ts", "latent-plot f.ts",
		"txt2stream a.txt",
	};
	for (size_t i = 0; i < sizeof out_cmds / sizeof *out_cmds; i++) {
		char buf[2048];
		int rc = on_terminal(out_cmds[i], buf, sizeof buf);
		cr_assert_eq(rc, 1, "%s to a terminal: exit %d: %s", out_cmds[i], rc, buf);
		cr_assert(strstr(buf, "refusing to write binary data to a terminal"), "%s: %s",
			  out_cmds[i], buf);
	}
}

/* Item 14: a write error is exit 1 with our own message, in the PNG writers too. */
Test(robust, png_write_errors_name_the_cause)
{
	expect("png-grid", 1, "error writing standard output: No space left on device",
	       "png-grid f.ts > /dev/full");
	expect("png-grid", 1, "error writing /dev/full: No space left on device",
	       "png-grid -o /dev/full f.ts");
	expect("latent-plot", 1, "error writing standard output: No space left on device",
	       "latent-plot f.ts > /dev/full");
}

/* Item 7: stream2npy into a FIFO with the count unknown spools, as for
 * standard output, so the reader gets the real shape. */
Test(robust, stream2npy_into_a_fifo)
{
	cr_assert_eq(run("cd %s && rm -f fifo && mkfifo fifo && "
			 "(stream-cat a.ts | stream2npy -o fifo &) && "
			 "timeout 20 cat fifo > fifo.npy && sleep 0.2 && stream2npy a.ts > ref.npy && "
			 "cmp fifo.npy ref.npy", dir), 0, "the FIFO got another array");
	cr_assert_eq(run("cd %s && stream2npy a.ts | cmp - ref.npy", dir), 0);
}

/* Item 9: --max-memory messages agree with themselves, and one limit covers
 * several streams. 100 records of 100 bytes: 10,000 bytes. */
Test(robust, max_memory_messages_and_total)
{
	const char *file = tmp_path("robust/hundred.ts"), *piped = tmp_path("robust/hundred-u.ts");
	cr_assert_eq(run("awk 'BEGIN{for(i=0;i<100;i++){for(j=0;j<100;j++)printf \"%%s%%d\", "
			 "j?\"\\t\":\"\", (i+j)%%256; print \"\"}}' | txt2stream -t u8 -o %s && "
			 "stream-cat %s > %s", file, file, piped), 0);
	vk_dataset d;
	vk_error e;
	/* Declared count: the exact need. */
	cr_assert_eq(vk_dataset_load(&d, file, 8000, &e), -1);
	cr_assert(strstr(e.msg, "needs 9.8 KB of memory, over the --max-memory limit of 7.8 KB"),
		  "%s", e.msg);
	/* Unknown count: never a need below the limit. */
	cr_assert_eq(vk_dataset_load(&d, piped, 8000, &e), -1);
	cr_assert(strstr(e.msg, "needs more memory than the --max-memory limit of 7.8 KB "
				"(more records follow the first 80"), "%s", e.msg);
	/* Exactly enough fits, both ways. */
	cr_assert_eq(vk_dataset_load(&d, piped, 10000, &e), 0, "%s", e.msg);
	cr_assert_eq(d.n, 100);
	cr_assert_eq(((unsigned char *)d.u8)[99 * 100 + 5], (99 + 5) % 256);
	vk_dataset_free(&d);
	cr_assert_eq(vk_dataset_load(&d, file, 10000, &e), 0, "%s", e.msg);
	vk_dataset_free(&d);
	/* One limit for two streams: each fits alone, both do not. */
	size_t budget = 15000;
	cr_assert_eq(vk_dataset_load_within(&d, file, &budget, 15000, &e), 0, "%s", e.msg);
	cr_assert_eq(budget, 5000);
	vk_dataset d2;
	cr_assert_eq(vk_dataset_load_within(&d2, piped, &budget, 15000, &e), -1);
	cr_assert(strstr(e.msg, "the 4.9 KB left of the --max-memory limit of 14.6 KB"), "%s",
		  e.msg);
	vk_dataset_free(&d);
}

/* Several outputs appear together or not at all: when the last rename of
 * stream-split's shards fails (the fault shim of check-fault fails the third
 * rename), every old shard is as it was and no temporary file is left. */
Test(robust, outputs_appear_together)
{
	const char *shim = tmp_path("robust/shim.so");
	if (run("cc -shared -fPIC -o %s %s -ldl 2>/dev/null", shim,
		repo_path("tests/fault/shim.c")) != 0)
		cr_skip_test("cannot build the fault shim");
	char pre[1024];
	snprintf(pre, sizeof pre, "env ASAN_OPTIONS=verify_asan_link_order=0 VK_FAULT=rename "
		 "VK_FAULT_N=3 LD_PRELOAD=%s", shim);
	cr_assert_eq(run("cd %s && rm -rf all && mkdir all && cd all && echo OLD > s0000.ts && "
			 "echo OLD > s0001.ts && printf '1\\t2\\n3\\t4\\n' | txt2stream -l -o fl.ts",
			 dir), 0);
	char cmd[2048];
	snprintf(cmd, sizeof cmd, "cd all && %s stream-split -k 3 -p s ../f.ts", pre);
	expect("stream-split", 1, "cannot rename", cmd);
	cr_assert_eq(run("cd %s/all && grep -qx OLD s0000.ts && grep -qx OLD s0001.ts && "
			 "! test -e s0002.ts && ! ls | grep -q tmp", dir), 0, "old shards not kept");
	/* The same with stream2npy's array and labels: the second rename fails. */
	cr_assert_eq(run("cd %s/all && echo OLD > x.npy", dir), 0);
	snprintf(pre, sizeof pre, "env ASAN_OPTIONS=verify_asan_link_order=0 VK_FAULT=rename "
		 "VK_FAULT_N=2 LD_PRELOAD=%s", shim);
	snprintf(cmd, sizeof cmd, "cd all && %s stream2npy -o x.npy -l l.npy fl.ts", pre);
	expect("stream2npy", 1, "cannot rename", cmd);
	cr_assert_eq(run("cd %s/all && grep -qx OLD x.npy && ! test -e l.npy && "
			 "! ls | grep -q tmp", dir), 0);
	/* Without the fault all appear. */
	cr_assert_eq(run("cd %s/all && stream-split -k 3 -p s ../f.ts && "
			 "stream-cat s0000.ts s0001.ts s0002.ts | stream2txt | wc -l | grep -qx 6 && "
			 "stream2npy -o x.npy -l l.npy fl.ts && ! ls | grep -q tmp", dir), 0);
}

/* Item 14: stream-split --contiguous then stream-cat -o gives back the bytes;
 * a finite f64 beyond f32 is named as it is; png-grid counts both streams. */
Test(robust, consistency)
{
	cr_assert_eq(run("cd %s && stream-split -c -k 4 -p rt f.ts && "
			 "stream-cat -o rt.ts rt0000.ts rt0001.ts rt0002.ts rt0003.ts && "
			 "cmp rt.ts f.ts", dir), 0, "split then cat changed the bytes");
	cr_assert_eq(run("cd %s && printf '1e39\\t2\\n' | txt2stream -t f64 -o big.ts", dir), 0);
	expect("vae-train", 1, "has the value 1e+39 at element 0, beyond the f32 range",
	       "vae-train -q -e 1 -o out.vkm big.ts");
	expect("png-grid", 1, ": 2 images make a",
	       "png-grid -s 64 --cols 200 -o out.png --pair f.ts f.ts");
}

/* Item 14: man pages cite what is installed: section-5 pages, or the
 * documents `make install` puts in share/doc/vaekit. */
Test(robust, man_pages_cite_installed_documents)
{
	cr_assert_neq(run("grep -l 'formats/' %s/*.1 %s/*.5", repo_path("man"), repo_path("man")),
		      0, "a man page cites formats/*.md, which is not installed");
	/* What they cite in share/doc/vaekit, make install puts there. */
	cr_assert_eq(run("grep -q 'share/doc/vaekit' %s && grep -q 'formats/model.md' %s && "
			 "test -f %s", repo_path("Makefile"), repo_path("Makefile"),
			 repo_path("formats/model.md")), 0);
}

/* Item 10: the progress meter fits the terminal (never wraps) and shows its
 * label (the epoch) while there is room. */
Test(robust, progress_fits_the_terminal)
{
	char buf[512];
	for (int cols = 1; cols <= 200; cols++) {
		size_t n = vk_progress_format(buf, sizeof buf, cols, "epoch 3/10", 41000, 60000,
					      "records", 12345.6, 3725);
		cr_assert_eq(n, strlen(buf));
		cr_assert(n + 1 <= (size_t)cols || (cols == 1 && n == 0), "%d columns: '%s' (%zu)",
			  cols, buf, n);
	}
	vk_progress_format(buf, sizeof buf, 120, "epoch 3/10", 41000, 60000, "records", 12345.6,
			   3725);
	cr_assert(strstr(buf, "epoch 3/10") && strstr(buf, "[") && strstr(buf, "41000/60000") &&
		  strstr(buf, "ETA 1h02m") && strstr(buf, "12346/s"), "%s", buf);
	vk_progress_format(buf, sizeof buf, 40, "epoch 3/10", 41000, 60000, "records", 12345.6, 3725);
	cr_assert(strstr(buf, "41000/60000 records"), "the count went first: %s", buf);
	cr_assert(!strstr(buf, "/s"), "the rate should go first: %s", buf);
	/* Unknown total: no bar, no ETA. */
	vk_progress_format(buf, sizeof buf, 80, NULL, 5, 0, "records", 2, -1);
	cr_assert_str_eq(buf, "5 records  2/s");
}

/* Item 12: an empty value in a comma list is a usage error. */
Test(robust, list_with_an_empty_value, .exit_code = 2)
{
	int v[8];
	cr_assert_eq(vk_parse_list("--hidden", "5,6", v, 8, 1, 100), 2);
	vk_parse_list("--hidden", "5,,5", v, 8, 1, 100);
}

Test(robust, list_with_a_trailing_comma, .exit_code = 2)
{
	int v[8];
	vk_parse_list("--hidden", "5,", v, 8, 1, 100);
}

Test(robust, standard_input_twice, .exit_code = 2)
{
	vk_stdin_once(2, (const char *[]){"FILE", "--test"}, (const char *[]){"a.ts", NULL});
	vk_stdin_once(2, (const char *[]){"FILE", "--test"}, (const char *[]){"-", NULL});
}

Test(robust, option_that_does_nothing, .exit_code = 2)
{
	vk_option_has_no_effect("--beta", "with --model ae");
}

/* Item 5: a command line that can be pasted back into a shell. */
Test(robust, shell_command)
{
	char buf[512];
	char *argv[] = {"vae-train", "--resume", "my model.vkm", "--log", "it's.tsv", "-t", "2",
			"", "a.ts"};
	cr_assert_gt(vk_shell_command(buf, sizeof buf, 9, argv), 0);
	cr_assert_str_eq(buf, "vae-train --resume 'my model.vkm' --log 'it'\\''s.tsv' -t 2 '' a.ts");
	cr_assert_eq(run("test \"$(printf '%%s|' %s)\" = 'vae-train|--resume|my model.vkm|--log|"
			 "it'\\''s.tsv|-t|2||a.ts|'", buf), 0, "the shell reads back other words: %s",
		     buf);
	cr_assert_eq(vk_shell_command(buf, 10, 9, argv), 0);
}

/* Item 1 (library side): data a Bernoulli decoder cannot fit, refused with
 * one line and a hint (a diverged loss: train_safety's divergence test). */
Test(robust, unit_targets)
{
	vk_dataset d;
	vk_error e;
	const char *in = tmp_path("robust/scale.ts");
	cr_assert_eq(run("printf '0\\t0.5\\t1\\n0.2\\t255\\t0\\n' | txt2stream -o %s", in), 0);
	cr_assert_eq(vk_dataset_load(&d, in, 1 << 20, &e), 0, "%s", e.msg);
	cr_assert_eq(vk_check_unit_targets(&d, "scale.ts", &e), -1);
	cr_assert(strstr(e.msg, "scale.ts: record 1 has the value 255 at element 1") &&
		  strstr(e.msg, "--loss gaussian"), "%s", e.msg);
	d.f32[4] = 1.0f;
	cr_assert_eq(vk_check_unit_targets(&d, "scale.ts", &e), 0);
	vk_dataset_free(&d);
}

/* Item 6 (library side): a log that cannot be written is an error. */
Test(robust, log_write_errors)
{
	vk_error e;
	FILE *f = fopen("/dev/full", "w");
	cr_assert(f);
	fprintf(f, "epoch\tloss\n");
	cr_assert_eq(vk_check_written(f, "/dev/full", &e), -1);
	cr_assert(strstr(e.msg, "error writing /dev/full: No space left on device"), "%s", e.msg);
	fclose(f);
	f = fopen(tmp_path("robust/log.tsv"), "w");
	fprintf(f, "ok\n");
	cr_assert_eq(vk_check_written(f, "log.tsv", &e), 0);
	fclose(f);
}

/* Item 14: stream-info puts every value in one column, long keys or not. */
Test(robust, stream_info_aligns_long_keys)
{
	char *out = NULL;
	const char *path = tmp_path("robust/info.txt");
	cr_assert_eq(run("idx2stream -n 20 --binarize=threshold %s %s | stream-info > %s",
			 repo_path("examples/data/digits-test-images-idx3-ubyte.gz"),
			 repo_path("examples/data/digits-test-labels-idx1-ubyte.gz"), path), 0);
	cr_assert_eq(run("awk '{ match($0, /^[^ ]+ +/); if (!col) col = RLENGTH; if (RLENGTH != col) exit 1 }' %s",
			 path), 0, "values in more than one column");
	free(out);
}

/* Item 12: an option that would do nothing is a usage error, the same way
 * everywhere (vk_option_has_no_effect). */
Test(robust, options_that_do_nothing)
{
	char err[1024];
	int rc = run_err(err, sizeof err, "idx2stream -s 5 -o %s %s",
			 tmp_path("robust/out-seed.ts"),
			 repo_path("examples/data/digits-test-images-idx3-ubyte.gz"));
	cr_assert_eq(rc, 2, "%s", err);
	cr_assert(strstr(err, "idx2stream: --seed has no effect without --binarize=stochastic"),
		  "%s", err);
	cr_assert_eq(run("idx2stream -n 3 --binarize=stochastic -s 5 %s > /dev/null",
			 repo_path("examples/data/digits-test-images-idx3-ubyte.gz")), 0);
}

/* Item 11 (library side): a cvae's unlabelled data is named as such first. */
Test(robust, cvae_needs_labels)
{
	vk_dataset d;
	vk_error e;
	cr_assert_eq(vk_dataset_load(&d, tmp_path("robust/a.ts"), 1 << 20, &e), 0, "%s", e.msg);
	cr_assert_eq(vk_dataset_require_labels(&d, "a.ts", &e), -1);
	cr_assert(strstr(e.msg, "a.ts: the stream has no labels, which a conditional model (cvae) "
			  "needs") && strstr(e.msg, "txt2stream -l"), "%s", e.msg);
	vk_dataset_free(&d);
	const char *lab = tmp_path("robust/labelled.ts");
	cr_assert_eq(run("printf '1\t2\n0\t4\n' | txt2stream -l -o %s", lab), 0);
	cr_assert_eq(vk_dataset_load(&d, lab, 1 << 20, &e), 0, "%s", e.msg);
	cr_assert_eq(vk_dataset_require_labels(&d, "labelled.ts", &e), 0);
	vk_dataset_free(&d);
}
