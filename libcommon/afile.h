/* Output files that appear whole or not at all: write to a temporary file in
 * the same directory, fsync, then rename over the target. NULL or "-" as the
 * path means stdout (which is refused when it is a terminal). */
#ifndef VK_AFILE_H
#define VK_AFILE_H

#include <stdio.h>
#include "err.h"

typedef struct {
	FILE *f;
	char path[4096];  /* final name; empty for stdout */
	char tmp[4112];   /* temporary name while writing */
	int is_stdout;
	int in_place;     /* a device or FIFO, written directly */
} vk_afile;

/* binary: refuse a terminal on stdout. */
int vk_afile_open(vk_afile *a, const char *path, int binary, vk_error *e);
/* Flush, fsync and rename; reports write errors (a full disk) as failures. */
int vk_afile_commit(vk_afile *a, vk_error *e);
/* Several outputs that appear together or not at all (stream-split's shards,
 * stream2npy's data and labels): all are flushed and synced first, and only
 * when every one is whole are they renamed into place, each over its old
 * version by an atomic exchange, so that a failed rename puts back the ones
 * already moved. On failure every temporary is removed and every output that
 * existed is as it was (where the file system cannot exchange names, an old
 * version already replaced cannot come back). */
int vk_afile_commit_all(vk_afile *const *a, int n, vk_error *e);
/* Drop a temporary file (on error paths); harmless after commit. */
void vk_afile_abort(vk_afile *a);
/* The one-output case whole: open, write the len bytes, commit (a binary
 * file: stdout refused on a terminal). The model and prior files use it. */
int vk_afile_write(const char *path, const void *buf, size_t len, vk_error *e);

/* Remove the temporaries (PATH.tmpXXXXXX) that writers of path killed while
 * saving left behind, so kills do not pile them up. Only for outputs that
 * one process at a time writes (a model under training). */
void vk_afile_remove_stale(const char *path);

/* 1 when FILE is stdout and stdout is a terminal. */
int vk_stdout_is_tty(void);
/* Binary input from standard input: -1 with a message when it is a terminal,
 * where the program would wait silently for bytes nobody types. */
int vk_refuse_terminal_input(vk_error *e);

/* Refuse an output that is one of the inputs, before anything is opened for
 * writing (as cat(1) does): same device and inode, so hard and symbolic links
 * count. output NULL or "-" is standard output; an input NULL or "-" is
 * standard input. Only a regular file can clash (a device, FIFO or pipe is
 * written in place and destroys nothing). Names that do not exist yet are
 * fine. Returns -1 with "OUTPUT is also the input INPUT..." in e. */
int vk_output_is_input(const char *output, const char *const *inputs, int n_inputs,
		       vk_error *e);

/* Temporary files are removed when SIGINT, SIGTERM or SIGHUP kills the
 * program: vk_afile_open installs a handler for those signals that still
 * have the default action (one the program set itself, or SIG_IGN under
 * nohup, is left alone). A program with its own handler for them calls
 * vk_afile_remove_temporaries() from it before it dies: it only calls
 * unlink(2), so it is async-signal-safe. */
void vk_afile_remove_temporaries(void);

#endif
