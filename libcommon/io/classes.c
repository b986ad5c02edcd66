#include "classes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *vk_class_encode(const char *name, char *out, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)name; *p && o + 4 <= len; p++) {
		if (*p < 0x20 || *p == 0x7f || *p == '%') {
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		} else {
			out[o++] = (char)*p;
		}
	}
	if (len)
		out[o < len ? o : len - 1] = 0;
	return out;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

char *vk_class_decode(const char *enc, char *out, size_t len)
{
	size_t o = 0;
	for (const char *p = enc; *p && o + 1 < len; p++) {
		int hi, lo;
		if (*p == '%' && (hi = hexval(p[1])) >= 0 && (lo = hexval(p[2])) >= 0 &&
		    (hi || lo)) {
			out[o++] = (char)(hi << 4 | lo);
			p += 2;
		} else {
			out[o++] = *p;
		}
	}
	if (len)
		out[o] = 0;
	return out;
}

/* No allocation here: the buffers are on the stack (3 KiB and 16 KiB), so
 * the library neither exits nor fails for memory in these helpers. */
int vk_classes_set(ts_header *h, char *const *names, int n, vk_error *e)
{
	char key[32], num[32], enc[3 * VK_CLASS_NAME_MAX + 1];
	snprintf(num, sizeof num, "%d", n);
	int rc = ts_meta_set(h, "classes", num, e);
	for (int i = 0; rc == 0 && i < n; i++) {
		snprintf(key, sizeof key, "class.%d", i);
		vk_class_encode(names[i], enc, sizeof enc);
		if (ts_meta_set(h, key, enc, e))
			rc = vk_fail(e, "%d class names do not fit the stream's metadata (limit %u "
				     "bytes; %d fitted)", n, TS_MAX_META, i);
	}
	return rc;
}

const char *vk_class_name(const ts_header *h, int i, char *buf, size_t len)
{
	char key[32], enc[TS_MAX_META + 1];
	snprintf(key, sizeof key, "class.%d", i);
	if (i >= 0 && ts_meta_get(h, key, enc, sizeof enc))
		return vk_class_decode(enc, buf, len);
	return NULL;
}

int vk_class_find(const ts_header *h, const char *name)
{
	char num[32], buf[VK_CLASS_NAME_MAX];
	if (!ts_meta_get(h, "classes", num, sizeof num))
		return -1;
	int n = atoi(num);
	for (int i = 0; i < n; i++)
		if (vk_class_name(h, i, buf, sizeof buf) && strcmp(buf, name) == 0)
			return i;
	return -1;
}

/* Classes named, 0 when some class has no name (or there are too many). */
static int all_named(const ts_header *h)
{
	char num[32], key[32], val[8];
	if (!ts_meta_get(h, "classes", num, sizeof num))
		return 0;
	int n = atoi(num);
	if (n < 1 || n > VK_CLASS_MAP_MAX)
		return 0;
	for (int i = 0; i < n; i++) {
		snprintf(key, sizeof key, "class.%d", i);
		if (!ts_meta_get(h, key, val, sizeof val))
			return 0;
	}
	return n;
}

/* "a, b, c" (as far as it fits in len), for messages. */
static void list_names(const ts_header *h, int n, char *out, size_t len)
{
	char name[VK_CLASS_NAME_MAX];
	size_t o = 0;
	out[0] = 0;
	for (int i = 0; i < n; i++) {
		vk_class_name(h, i, name, sizeof name);
		int w = snprintf(out + o, len - o, "%s%s", i ? ", " : "", name);
		if (w < 0 || (size_t)w >= len - o) { /* cut: end with "..." */
			memcpy(out + len - 4, "...", 4);
			return;
		}
		o += w;
	}
}

int vk_class_map(const ts_header *want, const char *want_name, const ts_header *have,
		 const char *have_name, int32_t *map, int *n, vk_error *e)
{
	int nw = all_named(want), nh = all_named(have);
	*n = 0;
	if (!nw || !nh)
		return 0;
	int identity = 1;
	char name[VK_CLASS_NAME_MAX];
	for (int i = 0; i < nh; i++) {
		vk_class_name(have, i, name, sizeof name);
		int j = vk_class_find(want, name);
		if (j < 0) {
			char a[160], b[160];
			list_names(have, nh, a, sizeof a);
			list_names(want, nw, b, sizeof b);
			return vk_fail(e, "%s has class '%s' (label %d), which is not a class of %s "
					  "(%s: %s; %s: %s); make the data with img2stream "
					  "--classes-from", have_name, name, i, want_name, have_name, a,
				       want_name, b);
		}
		map[i] = j;
		identity &= j == i;
	}
	*n = nh;
	return identity ? 2 : 1;
}

int vk_classes_copy(ts_header *dst, const ts_header *src, vk_error *e)
{
	char num[32], key[32], enc[TS_MAX_META + 1];
	int old = ts_meta_get(dst, "classes", num, sizeof num) ? atoi(num) : 0;
	for (int i = 0; i < old && i < VK_CLASS_MAP_MAX; i++) {
		snprintf(key, sizeof key, "class.%d", i);
		ts_meta_unset(dst, key);
	}
	ts_meta_unset(dst, "classes");
	if (!ts_meta_get(src, "classes", num, sizeof num))
		return 0;
	if (ts_meta_set(dst, "classes", num, e))
		return -1;
	int n = atoi(num);
	for (int i = 0; i < n && i < VK_CLASS_MAP_MAX; i++) {
		snprintf(key, sizeof key, "class.%d", i);
		if (ts_meta_get(src, key, enc, sizeof enc) && ts_meta_set(dst, key, enc, e))
			return -1;
	}
	return 0;
}
