#include "layers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kinds.h"
#include "nn.h"

char *vk_shape_str(vk_shape s, char *buf, size_t n)
{
	if (s.h > 0)
		snprintf(buf, n, "%dx%dx%d", s.h, s.w, s.c);
	else
		snprintf(buf, n, "%d", s.c);
	return buf;
}

const vk_layer_ops *vk_layer_ops_of(const vk_layer_spec *s) { return vk_layer_kind_by_id(s->kind); }

const char *vk_layer_kind_name(int kind)
{
	const vk_layer_ops *k = vk_layer_kind_by_id(kind);
	return k ? k->name : "?";
}

char *vk_layer_spec_str(const vk_layer_spec *s, char *buf, size_t n)
{
	const vk_layer_ops *k = vk_layer_ops_of(s);
	char body[96];
	if (k)
		k->print(s, body, sizeof body);
	else
		snprintf(body, sizeof body, "?%d", s->kind);
	snprintf(buf, n, "%s/%s", body, vk_act_name(s->act));
	return buf;
}

int vk_parse_int(const char *p, const char *end, int max, int *v)
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

int vk_split(const char *p, const char *end, char sep, const char **start, const char **stop,
	     int max)
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

enum { MAX_ARGS = 6 };

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
	const char *fs[MAX_ARGS + 2], *fe[MAX_ARGS + 2];
	int nf = vk_split(p, end, ':', fs, fe, MAX_ARGS + 1);
	size_t klen = fe[0] - fs[0];
	char name[32];
	snprintf(name, sizeof name, "%.*s", (int)(klen < 31 ? klen : 31), p);
	const vk_layer_ops *k = klen < 31 ? vk_layer_kind_by_name(name) : NULL;
	if (!k)
		return vk_fail(e, "layer '%s': unknown kind '%s' (%s)", text, name,
			       vk_layer_kinds_names());
	s->kind = k->id;
	return k->parse(s, nf - 1, fs + 1, fe + 1, text, e);
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

int vk_layer_check(const vk_layer_spec *s, vk_error *e)
{
	const vk_layer_ops *k = vk_layer_ops_of(s);
	if (!k)
		return vk_fail(e, "unknown kind %d", s->kind);
	if (s->act < VK_IDENTITY || s->act > VK_LEAKY)
		return vk_fail(e, "unknown activation %d", s->act);
	return k->check(s, e);
}

int vk_layer_out_shape(const vk_layer_spec *s, vk_shape in, vk_shape *out, vk_error *e)
{
	const vk_layer_ops *k = vk_layer_ops_of(s);
	if (!k)
		return vk_fail(e, "unknown layer kind %d", s->kind);
	return k->shape(s, in, out, e);
}

int vk_layers_mirror(const vk_layer_spec *enc, int n, vk_shape in, vk_layer_spec *dec,
		     int *n_dec, vk_error *e)
{
	vk_shape shapes[VK_MAX_LAYERS + 1];
	if (n > VK_MAX_LAYERS)
		return vk_fail(e, "%d encoder layers (at most %d)", n, VK_MAX_LAYERS);
	shapes[0] = in;
	for (int i = 0; i < n; i++)
		if (vk_layer_out_shape(&enc[i], shapes[i], &shapes[i + 1], e))
			return -1;
	int m = 0;
	for (int i = n - 1; i >= 0; i--) {
		if (m == VK_MAX_LAYERS)
			return vk_fail(e, "the mirrored decoder has more than %d layers", VK_MAX_LAYERS);
		vk_layer_spec two[2] = {enc[i]};
		const vk_layer_ops *k = vk_layer_ops_of(&enc[i]);
		int got = k->mirror ? k->mirror(&enc[i], shapes[i], i ? &enc[i - 1] : NULL, two) : 1;
		dec[m++] = two[0];
		if (got > 1 && m < VK_MAX_LAYERS) /* as before: a full list drops the reshape */
			dec[m++] = two[1];
	}
	/* An encoder that ends on an image: the decoder starts from z by a dense
	 * layer shaped as that image. */
	if (n > 0 && !vk_layer_ops_of(&enc[n - 1])->flat) {
		if (m == VK_MAX_LAYERS)
			return vk_fail(e, "the mirrored decoder has more than %d layers", VK_MAX_LAYERS);
		memmove(dec + 1, dec, sizeof *dec * m++);
		dec[0] = vk_dense_spec((int)vk_shape_size(shapes[n]), shapes[n], enc[n - 1].act);
	}
	*n_dec = m;
	return 0;
}

int vk_list_add(vk_layer *L, int i, int *end, int cap, const vk_layer_spec *s, vk_shape in,
		int label, size_t *at, size_t *st, vk_error *e)
{
	vk_layer *l = &L[i];
	memset(l, 0, sizeof *l);
	l->spec = *s;
	l->in = in;
	if (!(l->ops = vk_layer_ops_of(s)))
		return vk_fail(e, "unknown layer kind %d", s->kind);
	if (l->ops->shape(s, in, &l->out, e))
		return -1;
	l->label_in = label;
	l->n_in = (int)vk_shape_size(in) + (l->ops->label_bias ? 0 : label);
	l->n_out = (int)vk_shape_size(l->out);
	if (l->ops->build && l->ops->build(l, e))
		return -1;
	l->w = *at;
	l->b = l->w + l->n_w;
	*at = l->w + l->n_params;
	l->st = *st;
	*st += l->n_st;
	if (!l->ops->body)
		return 0;
	vk_layer_spec body[VK_MAX_BODY];
	int nb = l->ops->body(s, in, body);
	if (*end + nb > cap)
		return vk_fail(e, "more than %d layers with the blocks' own", cap);
	l->body = *end - i;
	l->n_body = nb;
	int first = *end;
	*end += nb;
	vk_shape x = in;
	for (int j = 0; j < nb; j++) {
		if (vk_list_add(L, first + j, end, cap, &body[j], x, 0, at, st, e))
			return -1;
		x = L[first + j].out;
	}
	return 0;
}

void vk_list_init(const vk_layer *L, int nl, float *P, float *S, vk_rng *rng)
{
	for (int i = 0; i < nl; i++) {
		if (L[i].ops->init)
			L[i].ops->init(&L[i], P, S, rng);
		if (L[i].n_body)
			vk_list_init(&L[i] + L[i].body, L[i].n_body, P, S, rng);
	}
}

size_t vk_layer_params_all(const vk_layer *l)
{
	size_t n = l->n_params;
	for (int i = 0; i < l->n_body; i++)
		n += vk_layer_params_all(l + l->body + i);
	return n;
}

size_t vk_layer_state_all(const vk_layer *l)
{
	size_t n = l->n_st;
	for (int i = 0; i < l->n_body; i++)
		n += vk_layer_state_all(l + l->body + i);
	return n;
}

size_t vk_layer_workspace(const vk_layer *l, int cap)
{
	return l->ops->workspace ? l->ops->workspace(l, cap) : 0;
}

size_t vk_layer_priv(const vk_layer *l, int cap)
{
	return l->ops->priv ? l->ops->priv(l, cap) : 0;
}

/* cat (n, in+C) = [x (n, in) | one-hot(labels)] */
static const float *with_label(const vk_pass *p, const vk_layer *l, const float *x, int n)
{
	int in = l->n_in - l->label_in;
	for (int r = 0; r < n; r++)
		memcpy(p->cat + (size_t)r * l->n_in, x + (size_t)r * in, sizeof(float) * in);
	p->put_label(p, p->cat, l->n_in, in, n);
	return p->cat;
}

const float *vk_list_forward(const vk_layer *L, int nl, float *const *acts,
			     float *const *priv, const float *x, int n, const vk_pass *p)
{
	const float *in = x;
	for (int i = 0; i < nl; i++) {
		if (L[i].label_in && !L[i].ops->label_bias)
			in = with_label(p, &L[i], in, n);
		L[i].ops->forward(&L[i], acts + i, priv + i, in, n, p);
		in = acts[i];
	}
	return in;
}

float *vk_list_backward(const vk_layer *L, int nl, float *const *acts, float *const *priv,
			const float *x, float *g, float *other, int want_dx, int n,
			const vk_pass *p)
{
	for (int i = nl - 1; i >= 0; i--) {
		const vk_layer *l = &L[i];
		int cat = l->label_in && !l->ops->label_bias;
		const float *in = cat ? p->cat : i ? acts[i - 1] : x;
		int need_dx = i > 0 || want_dx;
		l->ops->backward(l, need_dx ? other : NULL, g, in, acts + i, priv + i, n, p);
		if (need_dx && cat) {
			/* Drop the label's columns: they are inputs, not learned. */
			int keep = l->n_in - l->label_in;
			for (int r = 1; r < n; r++)
				memmove(other + (size_t)r * keep, other + (size_t)r * l->n_in,
					sizeof(float) * keep);
		}
		float *t = g;
		g = other, other = t;
	}
	return want_dx ? g : NULL;
}

void vk_layer_put_row(const vk_layer *l, uint32_t row[VK_LAYER_ROW_WORDS])
{
	memset(row, 0, sizeof(uint32_t) * VK_LAYER_ROW_WORDS);
	row[0] = (uint32_t)l->spec.kind;
	row[1] = (uint32_t)l->spec.act;
	l->ops->put_row(&l->spec, row);
	row[5] = (uint32_t)l->out.h;
	row[6] = (uint32_t)l->out.w;
	row[7] = (uint32_t)l->out.c;
}

int vk_layer_get_row(const uint32_t row[VK_LAYER_ROW_WORDS], vk_layer_spec *s, vk_error *e)
{
	memset(s, 0, sizeof *s);
	const vk_layer_ops *k = row[0] <= 0xffff ? vk_layer_kind_by_id((int)row[0]) : NULL;
	if (!k)
		return vk_fail(e, "unknown kind %u", row[0]);
	if (row[1] > 0xffff)
		return vk_fail(e, "a field out of range");
	s->kind = k->id;
	s->act = (int)row[1];
	if (k->get_row(row, s))
		return vk_fail(e, "a field out of range");
	return 0;
}

int vk_layer_needs_image(const vk_layer_spec *s, vk_shape in, int k, vk_error *e)
{
	char a[48], b[128];
	vk_layer_spec_str(s, b, sizeof b);
	if (!vk_shape_is_image(in))
		return vk_fail(e, "%s needs an image input, not a flat vector of %s values", b,
			       vk_shape_str(in, a, sizeof a));
	/* "same" padding: (K−1)/2 before, whatever is needed after */
	int pad = (k - 1) / 2;
	if (k > 0 && (k > in.h + pad || k > in.w + pad))
		return vk_fail(e, "%s: the %dx%d kernel is larger than its %s input", b, k, k,
			       vk_shape_str(in, a, sizeof a));
	return 0;
}
