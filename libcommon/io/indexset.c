/* Sets of record numbers as sorted ranges (indexset.h). */
#include "indexset.h"

#include <stdlib.h>
#include <string.h>

void vk_index_set_init(vk_index_set *s)
{
	memset(s, 0, sizeof *s);
	s->sorted = 1;
}

void vk_index_set_free(vk_index_set *s)
{
	free(s->r);
	vk_index_set_init(s);
}

int vk_index_set_add(vk_index_set *s, uint64_t lo, uint64_t hi, vk_error *e)
{
	if (lo >= hi)
		return 0;
	/* Items given in order (the usual case) extend the last range in place. */
	if (s->n && s->r[s->n - 1].lo <= lo && lo <= s->r[s->n - 1].hi) {
		if (hi > s->r[s->n - 1].hi)
			s->r[s->n - 1].hi = hi;
		return 0;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		vk_range *r = realloc(s->r, cap * sizeof *r);
		if (!r)
			return vk_fail(e, "out of memory for %zu index ranges", cap);
		s->r = r;
		s->cap = cap;
	}
	if (s->n && lo < s->r[s->n - 1].lo)
		s->sorted = 0;
	s->r[s->n++] = (vk_range){lo, hi};
	return 0;
}

static int parse_number(const char *tok, const char *name, unsigned long long line,
			uint64_t *v, vk_error *e)
{
	uint64_t x = 0;
	if (!*tok)
		return vk_fail(e, "%s:%llu: an empty record number", name, line);
	for (const char *p = tok; *p; p++) {
		if (*p < '0' || *p > '9')
			return vk_fail(e, "%s:%llu: '%s' is not a record number (a number >= 0, "
				       "or a range A-B)", name, line, tok);
		x = x * 10 + (uint64_t)(*p - '0');
		if (x > VK_INDEX_MAX)
			return vk_fail(e, "%s:%llu: record number %s is too large (at most %llu)",
				       name, line, tok, (unsigned long long)VK_INDEX_MAX);
	}
	*v = x;
	return 0;
}

/* One item: "N" or "A-B" with A <= B. */
static int add_item(vk_index_set *s, char *tok, const char *name, unsigned long long line,
		    vk_error *e)
{
	uint64_t a = 0, b = 0;
	char *dash = strchr(tok, '-');
	if (dash) {
		*dash = 0;
		if (parse_number(tok, name, line, &a, e) || parse_number(dash + 1, name, line, &b, e))
			return -1;
		if (b < a)
			return vk_fail(e, "%s:%llu: range %llu-%llu runs backwards", name, line,
				       (unsigned long long)a, (unsigned long long)b);
	} else {
		if (parse_number(tok, name, line, &a, e))
			return -1;
		b = a;
	}
	return vk_index_set_add(s, a, b + 1, e);
}

int vk_index_set_read(vk_index_set *s, FILE *f, const char *name, vk_error *e)
{
	char tok[64];
	size_t len = 0;
	unsigned long long line = 1, tok_line = 1;
	int comment = 0;
	for (;;) {
		int c = getc(f);
		int sep = c == EOF || c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
			  c == '#';
		if (!sep && !comment) {
			if (len + 1 == sizeof tok) {
				tok[len] = 0;
				return vk_fail(e, "%s:%llu: '%.20s...' is not a record number", name,
					       line, tok);
			}
			if (!len)
				tok_line = line;
			tok[len++] = (char)c;
			continue;
		}
		if (len) {
			tok[len] = 0;
			len = 0;
			if (add_item(s, tok, name, tok_line, e))
				return -1;
		}
		if (c == '#')
			comment = 1;
		if (c == '\n')
			line++, comment = 0;
		if (c == EOF)
			break;
	}
	if (ferror(f))
		return vk_fail(e, "error reading %s:", name);
	return 0;
}

int vk_index_set_parse(vk_index_set *s, const char *text, const char *name, vk_error *e)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	if (!*text)
		return vk_fail(e, "%s: an empty list of record numbers", name);
	if (!f)
		return vk_fail(e, "%s:", name);
	int rc = vk_index_set_read(s, f, name, e);
	fclose(f);
	return rc;
}

static int by_lo(const void *a, const void *b)
{
	const vk_range *x = a, *y = b;
	return (x->lo > y->lo) - (x->lo < y->lo);
}

void vk_index_set_finish(vk_index_set *s)
{
	if (!s->sorted)
		qsort(s->r, s->n, sizeof *s->r, by_lo);
	size_t out = 0;
	for (size_t i = 0; i < s->n; i++) {
		if (out && s->r[i].lo <= s->r[out - 1].hi) {
			if (s->r[i].hi > s->r[out - 1].hi)
				s->r[out - 1].hi = s->r[i].hi;
		} else {
			s->r[out++] = s->r[i];
		}
	}
	s->n = out;
	s->sorted = 1;
	s->cursor = 0;
}

int vk_index_set_next(vk_index_set *s, uint64_t k)
{
	while (s->cursor < s->n && s->r[s->cursor].hi <= k)
		s->cursor++;
	return s->cursor < s->n && s->r[s->cursor].lo <= k;
}

uint64_t vk_index_set_size(const vk_index_set *s)
{
	uint64_t n = 0;
	for (size_t i = 0; i < s->n; i++)
		n += s->r[i].hi - s->r[i].lo;
	return n;
}

uint64_t vk_index_set_end(const vk_index_set *s)
{
	return s->n ? s->r[s->n - 1].hi : 0;
}

int vk_index_is_list(const char *text)
{
	return *text && strspn(text, "0123456789,-") == strlen(text);
}
