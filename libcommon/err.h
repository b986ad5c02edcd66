/* Errors: one line on stderr, prefixed with the program's name.
 *
 * Exit statuses (documented in every man page):
 *   0  success
 *   1  bad input data, I/O failure, or any runtime error
 *   2  bad usage: unknown option, bad option value, wrong arguments
 *
 * Library code never prints or exits: it fills a vk_error and returns -1,
 * so the failure paths can be tested. Only tools call vk_die*. */
#ifndef VK_ERR_H
#define VK_ERR_H

#include <stdarg.h>
#include <stddef.h>

#define VK_EXIT_FAIL 1
#define VK_EXIT_USAGE 2

typedef struct {
	char msg[512];
} vk_error;

extern const char *vk_progname;

/* Set the program name, restore default SIGPIPE so `| head` ends us quietly. */
void vk_init(int argc, char **argv);

/* Format a message into e; a format ending in ':' appends strerror(errno).
 * Always returns -1, so `return vk_fail(e, ...)` reads naturally. */
int vk_fail(vk_error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print "prog: message" and exit 1 (or status for vk_ndie). Trailing ':' adds strerror. */
void vk_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void vk_ndie(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
void vk_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print e's message and exit 1. */
void vk_die_error(const vk_error *e) __attribute__((noreturn));

/* Flush and check stdout; on failure print a message and exit 1 (sbase fshut). */
void vk_close_stdout(void);

/* Allocation that dies with a message on failure (sizes are checked beforehand). */
void *vk_xmalloc(size_t n);
void *vk_xcalloc(size_t n, size_t size);

#endif
