/* Helpers shared by the test suites: run real programs, temporary files. */
#ifndef VK_TESTUTIL_H
#define VK_TESTUTIL_H

#include <stddef.h>

/* Run a shell command (formatted); returns its exit status, or -1 if killed by a signal. */
int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Run a command and capture its stderr into buf (NUL-terminated); returns exit status. */
int run_err(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A fresh per-process temporary directory, created once; path of NAME inside it. */
const char *tmp_path(const char *name);
/* Read a whole file; returns malloc'd bytes and sets *len, or NULL. */
unsigned char *slurp(const char *path, size_t *len);
/* Write bytes to a file; returns 0 on success. */
int spit(const char *path, const void *data, size_t len);
/* The repository root (for shipped data): $VAEKIT_ROOT or "..". */
const char *repo_path(const char *rel);
/* The first n shipped digits of which ("train" or "test") as a stream in the
 * temporary directory, made by idx2stream on the first call with these
 * arguments; the returned path stays valid. */
const char *digits_stream(const char *which, int n);

/* How many samples (per_class of each class in turn, 28x28 digits) lie
 * nearest to the mean image of their own class among data's class means;
 * *total gets the sample count. -1 when a stream cannot be read or the
 * samples do not come class by class. */
int class_mean_hits(const char *data, const char *samples, int per_class, int *total);

#endif
