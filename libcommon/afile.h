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
/* Drop a temporary file (on error paths); harmless after commit. */
void vk_afile_abort(vk_afile *a);

/* Remove the temporaries (PATH.tmpXXXXXX) that writers of path killed while
 * saving left behind, so kills do not pile them up. Only for outputs that
 * one process at a time writes (a model under training). */
void vk_afile_remove_stale(const char *path);

/* 1 when FILE is stdout and stdout is a terminal. */
int vk_stdout_is_tty(void);

#endif
