/* Reading numbers as text: tab- or space-separated fields, one record a line.
 * Fields are read one at a time into a small fixed buffer, so a hostile line
 * (no newline for gigabytes) costs no memory; errors name the line and field. */
#ifndef VK_TSV_H
#define VK_TSV_H

#include <stdint.h>
#include <stdio.h>
#include "err.h"

#define TSV_MAX_FIELD 64  /* longest field, with its NUL */

enum { TSV_FIELD = 1, TSV_EOL = 2, TSV_EOF = 0 };

typedef struct {
	FILE *f;
	char name[256];             /* for messages */
	unsigned long long line;    /* 1-based line of the current field */
	unsigned long field;        /* 1-based field number within the line */
	char tok[TSV_MAX_FIELD];    /* the current field */
	int csv;                    /* CSV: fields separated by commas, # comments */
	int sep;                    /* CSV: a comma was read, a field must follow */
	int allow_empty;            /* CSV: an empty field is a field "" (a missing value),
				     * not an error */
} tsv_reader;

void tsv_init(tsv_reader *t, FILE *f, const char *name);
/* Read CSV instead: fields separated by commas (blanks around them ignored),
 * an empty field an error; lines that are blank or start with '#' are
 * skipped, and '#' after the fields starts a comment to the end of the line. */
void tsv_init_csv(tsv_reader *t, FILE *f, const char *name);
/* Skip the rest of the current line (a CSV header); the next item starts the
 * next line. */
int tsv_skip_line(tsv_reader *t, vk_error *e);
/* Next item: TSV_FIELD (text in t->tok), TSV_EOL after each line (also the
 * last one without a newline), TSV_EOF, or -1 on a read error or an overlong
 * field. A line of only blanks gives TSV_EOL with no field before it. */
int tsv_next(tsv_reader *t, vk_error *e);
/* Convert t->tok to one element of stream dtype (stream.h TS_*) at out:
 * u8 an integer 0..255, f32/f64 a finite number (subnormals kept). */
int tsv_value(const tsv_reader *t, int dtype, void *out, vk_error *e);
/* Convert t->tok to a label: an integer -1 .. 2^31-1. */
int tsv_label(const tsv_reader *t, int32_t *label, vk_error *e);

/* getline(3) with a limit, for text tables read back whole lines at a time
 * (summaries, manifests, scores): reads one line into *buf (grown as
 * needed, NUL-terminated, the newline kept) and returns its length, 0 at the
 * end of the input, or −1 when the line is longer than max bytes (so a
 * hostile line of gigabytes costs at most max) or on a read error (ferror). */
#define TSV_MAX_LINE (1u << 20)
long tsv_getline(char **buf, size_t *cap, FILE *f, size_t max);
/* Cut line (its end of line, \n or \r\n, dropped) at its tabs, in place:
 * f[0..max) get the first fields; returns how many there are (more than
 * max when the line has more). */
int tsv_split_tabs(char *line, char **f, int max);

#endif
