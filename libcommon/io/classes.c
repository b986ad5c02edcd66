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

int vk_classes_set(ts_header *h, char *const *names, int n, vk_error *e)
{
	char key[32], num[32], *enc = vk_xmalloc(3 * VK_CLASS_NAME_MAX + 1);
	snprintf(num, sizeof num, "%d", n);
	int rc = ts_meta_set(h, "classes", num, e);
	for (int i = 0; rc == 0 && i < n; i++) {
		snprintf(key, sizeof key, "class.%d", i);
		vk_class_encode(names[i], enc, 3 * VK_CLASS_NAME_MAX + 1);
		if (ts_meta_set(h, key, enc, e))
			rc = vk_fail(e, "%d class names do not fit the stream's metadata (limit %u "
				     "bytes; %d fitted)", n, TS_MAX_META, i);
	}
	free(enc);
	return rc;
}

const char *vk_class_name(const ts_header *h, int i, char *buf, size_t len)
{
	char key[32], *enc = vk_xmalloc(TS_MAX_META + 1);
	snprintf(key, sizeof key, "class.%d", i);
	const char *r = NULL;
	if (i >= 0 && ts_meta_get(h, key, enc, TS_MAX_META + 1))
		r = vk_class_decode(enc, buf, len);
	free(enc);
	return r;
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
