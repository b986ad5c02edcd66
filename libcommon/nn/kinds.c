#include "kinds.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* The kinds, one line each: X(name) refers to vk_layer_NAME, defined in
 * layer_NAME.c. Ids are fixed in each kind's file, not by this order. */
#define VK_LAYER_KINDS \
	X(dense)       \
	X(conv)        \
	X(deconv)      \
	X(upsample)    \
	X(res)         \
	X(batchnorm)   \
	X(scale)       \
	X(mconv)

#define X(k) extern const vk_layer_ops vk_layer_##k;
VK_LAYER_KINDS
#undef X

static const vk_layer_ops *const kinds[] = {
#define X(k) &vk_layer_##k,
	VK_LAYER_KINDS
#undef X
};
enum { N_KINDS = sizeof kinds / sizeof *kinds };

int vk_layer_kind_count(void) { return N_KINDS; }
const vk_layer_ops *vk_layer_kind_at(int i) { return i >= 0 && i < N_KINDS ? kinds[i] : NULL; }

const vk_layer_ops *vk_layer_kind_by_id(int id)
{
	for (int i = 0; i < N_KINDS; i++)
		if (kinds[i]->id == id)
			return kinds[i];
	return NULL;
}

const vk_layer_ops *vk_layer_kind_by_name(const char *name)
{
	for (int i = 0; i < N_KINDS; i++)
		if (!strcmp(kinds[i]->name, name))
			return kinds[i];
	return NULL;
}

static char names[256];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void make_names(void)
{
	size_t v = 0;
	int listed = 0, n = 0;
	for (int i = 0; i < N_KINDS; i++)
		listed += kinds[i]->usage != NULL;
	for (int i = 0; i < N_KINDS && v < sizeof names; i++)
		if (kinds[i]->usage)
			n++, v += snprintf(names + v, sizeof names - v, "%s%s",
					   n == 1 ? "" : n == listed ? " or " : ", ", kinds[i]->name);
}

const char *vk_layer_kinds_names(void)
{
	pthread_once(&once, make_names);
	return names;
}

char *vk_layer_kinds_usage(char *buf, size_t n, int indent, int width)
{
	size_t at = 0;
	int col = width; /* start a line at the first item */
	buf[0] = 0;
	for (int i = 0; i < N_KINDS && at < n; i++) {
		const char *u = kinds[i]->usage;
		if (!u)
			continue;
		int len = (int)strlen(u) + 1;
		if (col + 1 + len > width) {
			at += snprintf(buf + at, n - at, "%s%*s%s", at ? ",\n" : "", indent, "", u);
			col = indent + len - 1;
		} else {
			at += snprintf(buf + at, n - at, ", %s", u);
			col += 2 + len - 1;
		}
	}
	if (at < n)
		snprintf(buf + at, n - at, "\n");
	return buf;
}
