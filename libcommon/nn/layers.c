#include "layers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"

char *vk_shape_str(vk_shape s, char *buf, size_t n)
{
	if (s.h > 0)
		snprintf(buf, n, "%dx%dx%d", s.h, s.w, s.c);
	else
		snprintf(buf, n, "%d", s.c);
	return buf;
}

const char *vk_layer_kind_name(int kind)
{
	switch (kind) {
	case VK_DENSE: return "dense";
	case VK_CONV: return "conv";
	case VK_DECONV: return "deconv";
	}
	return "?";
}

char *vk_layer_spec_str(const vk_layer_spec *s, char *buf, size_t n)
{
	char shape[48];
	if (s->kind == VK_DENSE)
		snprintf(buf, n, "dense:%s/%s",
			 s->reshape.h ? vk_shape_str(s->reshape, shape, sizeof shape)
				      : (snprintf(shape, sizeof shape, "%d", s->units), shape),
			 vk_act_name(s->act));
	else
		snprintf(buf, n, "%s:%d:%d:%d/%s", vk_layer_kind_name(s->kind), s->units, s->k, s->s,
			 vk_act_name(s->act));
	return buf;
}

/* A positive decimal integer of at most max, the whole of [p, end). */
static int parse_int(const char *p, const char *end, int max, int *v)
{
	if (p == end || *p < '0' || *p > '9')
		return -1;
	long x = 0;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		x = x * 10 + (*p - '0');
		if (x > max)
			return -1;
	}
	*v = (int)x;
	return x > 0 ? 0 : -1;
}

/* Split [p, end) at sep into at most max fields; returns the count. */
static int split(const char *p, const char *end, char sep, const char **start,
		 const char **stop, int max)
{
	int n = 0;
	for (;;) {
		const char *q = memchr(p, sep, end - p);
		if (n == max)
			return max + 1;
		start[n] = p;
		stop[n] = q ? q : end;
		n++;
		if (!q)
			return n;
		p = q + 1;
	}
}

static int parse_one(const char *p, const char *end, int default_act, vk_layer_spec *s,
		     vk_error *e)
{
	char text[128];
	snprintf(text, sizeof text, "%.*s", (int)(end - p < 100 ? end - p : 100), p);
	memset(s, 0, sizeof *s);
	s->act = default_act;
	const char *slash = memchr(p, '/', end - p);
	if (slash) {
		char act[32];
		snprintf(act, sizeof act, "%.*s", (int)(end - slash - 1 < 31 ? end - slash - 1 : 31),
			 slash + 1);
		if ((s->act = vk_act_parse(act)) < 0)
			return vk_fail(e, "layer '%s': unknown activation '%s' (relu, leaky, tanh, "
					  "sigmoid or identity)", text, act);
		end = slash;
	}
	const char *fs[5], *fe[5];
	int nf = split(p, end, ':', fs, fe, 4);
	size_t klen = fe[0] - fs[0];
	if (klen == 5 && !memcmp(p, "dense", 5)) {
		s->kind = VK_DENSE;
		if (nf != 2)
			return vk_fail(e, "layer '%s': dense takes one argument, N or HxWxC", text);
		const char *ds[4], *de[4];
		int nd = split(fs[1], fe[1], 'x', ds, de, 3);
		if (nd == 1) {
			if (parse_int(ds[0], de[0], VK_MAX_WIDTH, &s->units))
				return vk_fail(e, "layer '%s': the width must be 1 to %d", text,
					       VK_MAX_WIDTH);
			return 0;
		}
		vk_shape r;
		if (nd != 3 || parse_int(ds[0], de[0], VK_MAX_WIDTH, &r.h) ||
		    parse_int(ds[1], de[1], VK_MAX_WIDTH, &r.w) ||
		    parse_int(ds[2], de[2], VK_MAX_WIDTH, &r.c))
			return vk_fail(e, "layer '%s': an image shape is HxWxC, each 1 to %d", text,
				       VK_MAX_WIDTH);
		if (vk_shape_size(r) > VK_MAX_WIDTH)
			return vk_fail(e, "layer '%s': %zu outputs (at most %d)", text,
				       vk_shape_size(r), VK_MAX_WIDTH);
		s->reshape = r;
		s->units = (int)vk_shape_size(r);
		return 0;
	}
	if ((klen == 4 && !memcmp(p, "conv", 4)) || (klen == 6 && !memcmp(p, "deconv", 6))) {
		s->kind = klen == 4 ? VK_CONV : VK_DECONV;
		if (nf != 4)
			return vk_fail(e, "layer '%s': %s takes FILTERS:KERNEL:STRIDE", text,
				       vk_layer_kind_name(s->kind));
		if (parse_int(fs[1], fe[1], VK_MAX_FILTERS, &s->units))
			return vk_fail(e, "layer '%s': the filter count must be 1 to %d", text, VK_MAX_FILTERS);
		if (parse_int(fs[2], fe[2], VK_MAX_KERNEL, &s->k))
			return vk_fail(e, "layer '%s': the kernel size must be 1 to %d", text,
				       VK_MAX_KERNEL);
		if (parse_int(fs[3], fe[3], VK_MAX_STRIDE, &s->s))
			return vk_fail(e, "layer '%s': the stride must be 1 to %d", text,
				       VK_MAX_STRIDE);
		return 0;
	}
	return vk_fail(e, "layer '%s': unknown kind '%.*s' (dense, conv or deconv)", text,
		       (int)(klen < 32 ? klen : 32), p);
}

int vk_layers_parse(const char *text, int default_act, vk_layer_spec *out, int max, int *n,
		    vk_error *e)
{
	*n = 0;
	const char *p = text, *end = text + strlen(text);
	if (p == end)
		return vk_fail(e, "empty layer list");
	for (;;) {
		const char *q = memchr(p, ',', end - p), *stop = q ? q : end;
		if (stop == p)
			return vk_fail(e, "empty layer in the list '%s'", text);
		if (*n == max)
			return vk_fail(e, "too many layers in '%s' (at most %d)", text, max);
		if (parse_one(p, stop, default_act, &out[*n], e))
			return -1;
		++*n;
		if (!q)
			return 0;
		p = q + 1;
	}
}

int vk_layer_out_shape(const vk_layer_spec *s, vk_shape in, vk_shape *out, vk_error *e)
{
	char a[48], b[64];
	vk_layer_spec_str(s, b, sizeof b);
	switch (s->kind) {
	case VK_DENSE:
		*out = s->reshape.h ? s->reshape : (vk_shape){0, 0, s->units};
		return 0;
	case VK_CONV:
	case VK_DECONV:
		if (!vk_shape_is_image(in))
			return vk_fail(e, "%s needs an image input, not a flat vector of %s values",
				       b, vk_shape_str(in, a, sizeof a));
		if (s->kind == VK_CONV) {
			/* "same" padding: (K−1)/2 before, whatever is needed after */
			int pad = (s->k - 1) / 2;
			if (s->k > in.h + pad || s->k > in.w + pad)
				return vk_fail(e, "%s: the %dx%d kernel is larger than its %s input",
					       b, s->k, s->k, vk_shape_str(in, a, sizeof a));
			*out = (vk_shape){(in.h + s->s - 1) / s->s, (in.w + s->s - 1) / s->s, s->units};
		} else {
			if ((long)in.h * s->s > VK_MAX_WIDTH || (long)in.w * s->s > VK_MAX_WIDTH)
				return vk_fail(e, "%s: output sides beyond %d", b, VK_MAX_WIDTH);
			*out = (vk_shape){in.h * s->s, in.w * s->s, s->units};
		}
		if (vk_shape_size(*out) > VK_MAX_VALUES)
			return vk_fail(e, "%s: output %s has more than %d values", b,
				       vk_shape_str(*out, a, sizeof a), VK_MAX_VALUES);
		return 0;
	}
	return vk_fail(e, "unknown layer kind %d", s->kind);
}

int vk_layers_mirror(const vk_layer_spec *enc, int n, vk_shape in, vk_layer_spec *dec,
		     int *n_dec, vk_error *e)
{
	vk_shape shapes[VK_MAX_LAYERS + 1];
	shapes[0] = in;
	for (int i = 0; i < n; i++)
		if (vk_layer_out_shape(&enc[i], shapes[i], &shapes[i + 1], e))
			return -1;
	int m = 0;
	for (int i = n - 1; i >= 0; i--) {
		const vk_layer_spec *s = &enc[i];
		if (m == VK_MAX_LAYERS)
			return vk_fail(e, "the mirrored decoder has more than %d layers", VK_MAX_LAYERS);
		if (s->kind == VK_DENSE) {
			dec[m++] = (vk_layer_spec){.kind = VK_DENSE, .act = s->act, .units = s->units};
			/* Where a conv's image was flattened, the decoder reshapes back to it. */
			if (i > 0 && enc[i - 1].kind != VK_DENSE && m < VK_MAX_LAYERS)
				dec[m++] = (vk_layer_spec){.kind = VK_DENSE, .act = s->act,
							   .units = (int)vk_shape_size(shapes[i]),
							   .reshape = shapes[i]};
		} else {
			dec[m++] = (vk_layer_spec){.kind = VK_DECONV, .act = s->act, .units = s->units,
						   .k = s->k, .s = s->s};
		}
	}
	/* An encoder that ends on a conv: the decoder starts from z by a dense
	 * layer shaped as that conv's output. */
	if (n > 0 && enc[n - 1].kind != VK_DENSE) {
		if (m == VK_MAX_LAYERS)
			return vk_fail(e, "the mirrored decoder has more than %d layers", VK_MAX_LAYERS);
		memmove(dec + 1, dec, sizeof *dec * m++);
		dec[0] = (vk_layer_spec){.kind = VK_DENSE, .act = enc[n - 1].act,
					 .units = (int)vk_shape_size(shapes[n]), .reshape = shapes[n]};
	}
	*n_dec = m;
	return 0;
}
