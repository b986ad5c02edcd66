/* Command-line options: getopt_long plus checked number parsing.
 * Every bad value is a usage error (exit 2) naming the option and the value. */
#ifndef VK_OPTS_H
#define VK_OPTS_H

#include <getopt.h>
#include <stddef.h>

#define VK_VERSION "0.1.0"

/* Long-option ids for the two options every program has. */
enum { VK_OPT_VERSION = 0x1000, VK_OPT_FIRST_LONG = 0x1001 };

/* Print usage (the tool's help text) to stdout and exit 0. */
void vk_help(const char *usage) __attribute__((noreturn));
/* Print "prog (vaekit) VERSION" and exit 0. */
void vk_version(void) __attribute__((noreturn));
/* "prog: <msg>\nTry 'prog --help'." and exit 2. */
void vk_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Handle the options all tools share: 'h' and VK_OPT_VERSION; '?' is a usage error.
 * Returns 0 when c was not one of them. */
int vk_common_option(int c, const char *usage);

long vk_parse_long(const char *opt, const char *s, long min, long max);
double vk_parse_double(const char *opt, const char *s, double min, double max);
/* Parse "28x28" or "28x28x3" (1..4 positive dims). Returns rank. */
int vk_parse_shape(const char *opt, const char *s, unsigned dims[4]);
/* Parse a comma list of positive ints ("400" or "512,256") into out, returns count. */
int vk_parse_list(const char *opt, const char *s, int *out, int max, long min, long maxv);

/* Before opening anything for writing: die (exit 1) when output (NULL or "-":
 * standard output) is one of the n inputs (NULL or "-": standard input), the
 * way cat(1) refuses "input file is output". See vk_output_is_input. */
void vk_refuse_output_is_input(const char *output, const char *const *inputs, int n);

/* Standard input can be read once: a usage error "A and B cannot both be
 * standard input" when two of the n paths (NULL or "-") are; what names each
 * ("FILE", "--test"). vae-train: vk_stdin_once(2, (const char *[]){"FILE",
 * "--test"}, (const char *[]){train, test}) when --test is given. */
void vk_stdin_once(int n, const char *const *what, const char *const *paths);

/* The one way every program treats an option that would do nothing (issue 13
 * item 12): a usage error (exit 2) "OPT has no effect WHY", e.g.
 * vk_option_has_no_effect("--beta", "with --model ae (an autoencoder has no KL term)"). */
void vk_option_has_no_effect(const char *opt, const char *why) __attribute__((noreturn));

/* argv[0..argc) as one shell command line, each word quoted when it needs it,
 * so a printed hint can be pasted back ("continue with: ..."). Returns its
 * length, or 0 when buf (len bytes) is too small. */
size_t vk_shell_command(char *buf, size_t len, int argc, char *const *argv);

/* The operand after options: NULL (stdin) when none, "-" means stdin too. */
const char *vk_input_arg(int argc, char **argv, int optind_);

#endif
