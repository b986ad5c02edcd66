#include "model.h"

#include "objective.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PARAMS (1u << 28)
#define MAX_LATENT_PARAMS (1u << 22)

const char *vk_kind_name(int kind)
{
	const vk_model_kind *k = vk_model_kind_get(kind);
	return k ? k->name : "?";
}

int vk_kind_parse(const char *name)
{
	const vk_model_kind *k = vk_model_kind_named(name);
	return k ? k->id : -1;
}

const char *vk_likelihood_name(int lik)
{
	const vk_lik_kind *l = vk_lik_get(lik);
	return l ? l->name : "?";
}

int vk_head_width(const vk_arch *a)
{
	return vk_latent_of(a)->head_per_dim * a->latent;
}

vk_shape vk_arch_input_shape(const vk_arch *a)
{
	if (a->input_rank == 2)
		return (vk_shape){(int)a->input_dims[0], (int)a->input_dims[1], 1};
	if (a->input_rank == 3)
		return (vk_shape){(int)a->input_dims[0], (int)a->input_dims[1], (int)a->input_dims[2]};
	return (vk_shape){0, 0, a->input_size};
}

void vk_arch_set_input(vk_arch *a, int rank, const uint32_t *dims)
{
	a->input_rank = rank;
	memset(a->input_dims, 0, sizeof a->input_dims);
	uint64_t d = 1;
	for (int i = 0; i < rank && i < 4; i++) {
		a->input_dims[i] = dims[i];
		d *= dims[i];
	}
	a->input_size = d > VK_MAX_VALUES ? -1 : (int)d;
}

void vk_arch_mlp(vk_arch *a, const int *widths, int n, int act)
{
	for (int i = 0; i < n; i++) {
		a->enc[i] = vk_dense_spec(widths[i], (vk_shape){0}, act);
		a->dec[n - 1 - i] = a->enc[i];
	}
	a->n_enc = a->n_dec = n;
}

static int check_specs(const vk_layer_spec *s, int n, const char *list, vk_error *e)
{
	if (n < 0 || n > VK_MAX_LAYERS)
		return vk_fail(e, "%d %s layers (at most %d)", n, list, VK_MAX_LAYERS);
	vk_error le;
	for (int i = 0; i < n; i++)
		if (vk_layer_check(&s[i], &le))
			return vk_fail(e, "%s layer %d: %s", list, i + 1, le.msg);
	return 0;
}

int vk_arch_check(const vk_arch *a, vk_error *e)
{
	if (!vk_model_kind_get(a->kind))
		return vk_fail(e, "unknown model kind %d", a->kind);
	if (a->input_rank < 1 || a->input_rank > 4)
		return vk_fail(e, "input rank %d is out of range (1 to 4)", a->input_rank);
	uint64_t d = 1;
	for (int i = 0; i < a->input_rank; i++) {
		if (a->input_dims[i] < 1 || a->input_dims[i] > VK_MAX_WIDTH)
			return vk_fail(e, "input dimension %u is out of range", a->input_dims[i]);
		d *= a->input_dims[i];
	}
	if (d > VK_MAX_VALUES || (int)d != a->input_size)
		return vk_fail(e, "input size %d does not match its shape or exceeds %d",
			       a->input_size, VK_MAX_VALUES);
	if (check_specs(a->enc, a->n_enc, "encoder", e) ||
	    check_specs(a->dec, a->n_dec, "decoder", e))
		return -1;
	if (vk_autoregressive(a)) {
		if (a->latent || a->n_enc)
			return vk_fail(e, "a %s model has no latent (%d) and no encoder (%d layers)",
				       vk_kind_name(a->kind), a->latent, a->n_enc);
		if (a->input_rank != 2 && (a->input_rank != 3 || a->input_dims[2] != 1))
			return vk_fail(e, "a %s model reads H×W maps, not rank-%d records",
				       vk_kind_name(a->kind), a->input_rank);
		if (!vk_lik_of(a) || !vk_lik_of(a)->expand)
			return vk_fail(e, "a %s model needs a categorical likelihood, not %s",
				       vk_kind_name(a->kind), vk_likelihood_name(a->likelihood));
	} else if (a->latent < 1 || a->latent > 4096)
		return vk_fail(e, "latent size %d is out of range (1 to 4096)", a->latent);
	int cond = vk_conditional(a);
	if (cond ? (a->classes < 1 || a->classes > VK_MAX_CLASSES) : a->classes)
		return vk_fail(e, "%d classes for a %s model", a->classes, vk_kind_name(a->kind));
	if (a->label_scaled != 0 && (a->label_scaled != 1 || !cond))
		return vk_fail(e, "a scaled one-hot label (%d) in a %s model", a->label_scaled,
			       vk_kind_name(a->kind));
	const vk_latent_kind *L = vk_latent_of(a);
	if (L->check ? L->check(a, e)
		     : ((a->codes && !vk_autoregressive(a)) || a->codebook_ema || a->commitment != 0 ||
				 a->decay != 0) &&
			       vk_fail(e, "codebook settings in a %s model", vk_kind_name(a->kind)))
		return -1;
	const vk_lik_kind *lik = vk_lik_of(a);
	if (!lik)
		return vk_fail(e, "unknown decoder likelihood %d", a->likelihood);
	return lik->check(a, e);
}

int vk_arch_encoder_out(const vk_arch *a, vk_shape *out, vk_error *e)
{
	vk_shape in = vk_arch_input_shape(a);
	for (int i = 0; i < a->n_enc; i++) {
		vk_error le;
		if (vk_layer_out_shape(&a->enc[i], in, &in, &le))
			return vk_fail(e, "encoder layer %d: %s", i + 1, le.msg);
	}
	*out = in;
	return 0;
}

/* Entry i of a list (its body, if any, after the list's layers): shapes and
 * parameter and state offsets. */
static int add_layer(vk_layer *L, int i, int *end, const vk_layer_spec *s, vk_shape in,
		     int label, size_t *at, size_t *st, const char *list, int index, vk_error *e)
{
	vk_error le;
	if (vk_list_add(L, i, end, VK_MAX_ENTRIES, s, in, label, at, st, &le))
		return vk_fail(e, "%s layer %d: %s", list, index, le.msg);
	if (*at > MAX_PARAMS || *st > MAX_PARAMS)
		return vk_fail(e, "%s layer %d: the model would have more than %u parameters", list,
			       index, MAX_PARAMS);
	return 0;
}

/* Build the user's layers of one list from input shape in. label: the
 * CVAE's one-hot joins the encoder at its first layer that reads its input
 * flat (*label is cleared once placed). tail: a head or output layer follows. */
static int build_layers(vk_layer *L, int *end, const vk_layer_spec *specs, int n, vk_shape *in,
			int *label, size_t *at, size_t *st, const char *list, int tail,
			vk_error *e)
{
	*end = n + tail; /* the layers, the head or output layer, then bodies */
	for (int i = 0; i < n; i++) {
		const vk_layer_ops *k = vk_layer_ops_of(&specs[i]);
		int here = *label && k->flat ? *label : 0;
		if (i == 0 && k->follows) {
			char b[64];
			return vk_fail(e, "%s layer 1 (%s) must follow a dense or conv layer, not "
					  "start the %s", list, vk_layer_spec_str(&specs[i], b, sizeof b),
				       list);
		}
		if (i > 0 && k->follows && vk_layer_ops_of(&specs[i - 1])->follows) {
			char b[64], p[64];
			return vk_fail(e, "%s layer %d (%s) must follow a dense or conv layer, not "
					  "layer %d (%s): it would normalise what is normalised", list,
				       i + 1, vk_layer_spec_str(&specs[i], b, sizeof b), i,
				       vk_layer_spec_str(&specs[i - 1], p, sizeof p));
		}
		if (add_layer(L, i, end, &specs[i], *in, here, at, st, list, i + 1, e))
			return -1;
		if (here)
			*label = 0;
		*in = L[i].out;
	}
	return 0;
}

/* An autoregressive model: no encoder; the decoder's list from the input
 * in its likelihood's layout (H×W×K, a one-hot of each code), then its
 * output layer, a 1×1 type B masked convolution to the likelihood's K
 * values per position (the logits). */
static int build_autoregressive(vk_model *m, const vk_arch *a, vk_error *e)
{
	vk_shape input = vk_arch_input_shape(a);
	int K = vk_lik_of(a)->out_width(a) / a->input_size;
	vk_shape in = {input.h, input.w, K};
	size_t at = 0, st = 0;
	m->end_enc = m->n_enc = 0;
	m->end_dec = a->n_dec + 1; /* the layers, the output layer, then bodies */
	/* Each position's logits from the codes before it alone: every layer
	 * ordered, one at least strictly (a type A mask). A conditional model's
	 * class is a bias of each class in every layer that takes one so
	 * (mconv), at every position. */
	int strict = 0;
	char b[64];
	for (int i = 0; i < a->n_dec; i++) {
		const vk_layer_ops *k = vk_layer_ops_of(&a->dec[i]);
		if (!k->order)
			return vk_fail(e, "layer %d (%s) is not a masked convolution: in a %s each "
					  "position may see only the codes before it", i + 1,
				       vk_layer_spec_str(&a->dec[i], b, sizeof b), vk_kind_name(a->kind));
		strict |= k->order(&a->dec[i]);
		if (add_layer(m->dec, i, &m->end_dec, &a->dec[i], in, k->label_bias ? a->classes : 0,
			      &at, &st, "decoder", i + 1, e))
			return -1;
		in = m->dec[i].out;
	}
	if (!strict)
		return vk_fail(e, "no layer has a type A mask (mconv:F:K:A): every position would "
				  "see its own code");
	vk_layer_spec out = vk_mconv_spec(K, 1, 1, VK_IDENTITY);
	if (add_layer(m->dec, a->n_dec, &m->end_dec, &out, in, a->classes, &at, &st, "decoder",
		      a->n_dec + 1, e))
		return -1;
	m->n_dec = a->n_dec + 1;
	m->n_params = at;
	m->n_state = st;
	return 0;
}

int vk_model_build(vk_model *m, const vk_arch *a, vk_error *e)
{
	memset(m, 0, sizeof *m);
	if (vk_arch_check(a, e))
		return -1;
	m->a = *a;
	vk_shape input = vk_arch_input_shape(a), in = input;
	char s1[64], s2[48], s3[48];
	size_t at = 0, st = 0;
	int label = a->classes;
	if (vk_autoregressive(a))
		return build_autoregressive(m, a, e);
	const vk_latent_kind *L = vk_latent_of(a);
	/* Encoder, then its head: a dense layer to μ | log σ² (or the AE's code);
	 * none for a map kind, whose code is the encoder's output itself. */
	vk_layer_spec head = vk_dense_spec(vk_head_width(a), (vk_shape){0}, VK_IDENTITY);
	if (build_layers(m->enc, &m->end_enc, a->enc, a->n_enc, &in, &label, &at, &st, "encoder",
			 !L->map, e))
		return -1;
	if (L->map) {
		if (a->n_enc < 1)
			return vk_fail(e, "a %s model needs encoder layers: its code is the "
					  "encoder's output map", vk_kind_name(a->kind));
		if (vk_shape_size(in) != (size_t)a->latent)
			return vk_fail(e, "the encoder's output %s holds %zu values, but the latent "
					  "size is %d", vk_shape_str(in, s2, sizeof s2),
				       vk_shape_size(in), a->latent);
		m->code = in;
		m->n_enc = a->n_enc;
	} else {
		if (add_layer(m->enc, a->n_enc, &m->end_enc, &head, in, label, &at, &st, "encoder",
			      a->n_enc + 1, e))
			return -1;
		m->code = (vk_shape){0, 0, a->latent};
		m->n_enc = a->n_enc + 1;
	}
	/* Decoder from z (with the one-hot for a CVAE; a map kind's in its
	 * shape), then its output layer: a dense layer to the input's values,
	 * or, after an image-shaped layer, a 3×3 deconv to the input's channels:
	 * stride 1 from the input's size, stride 2 from half of it, rounded up
	 * (pythae's ResNet decoder). */
	in = L->map ? m->code : (vk_shape){0, 0, a->latent + a->classes};
	label = 0;
	if (build_layers(m->dec, &m->end_dec, a->dec, a->n_dec, &in, &label, &at, &st, "decoder",
			 1, e))
		return -1;
	vk_layer_spec out = vk_dense_spec(vk_lik_of(a)->out_width(a), input, VK_IDENTITY);
	if (vk_shape_is_image(in)) {
		int half = vk_shape_is_image(input) && (in.h != input.h || in.w != input.w) &&
			   in.h == (input.h + 1) / 2 && in.w == (input.w + 1) / 2;
		if (!half && (!vk_shape_is_image(input) || in.h != input.h || in.w != input.w))
			return vk_fail(e, "decoder layer %d (%s) ends at %s, but the input is %s",
				       a->n_dec, vk_layer_spec_str(&a->dec[a->n_dec - 1], s1, sizeof s1),
				       vk_shape_str(in, s2, sizeof s2), vk_shape_str(input, s3, sizeof s3));
		out = vk_deconv_spec(input.c, 3, half ? 2 : 1, VK_IDENTITY);
		if (half)
			out.reshape = input;
	}
	if (add_layer(m->dec, a->n_dec, &m->end_dec, &out, in, 0, &at, &st, "decoder",
		      a->n_dec + 1, e))
		return -1;
	m->n_dec = a->n_dec + 1;
	/* The latent kind's own parameters and state, after the layers'. */
	m->lat_p = at;
	m->lat_s = st;
	size_t own = L->n_params ? L->n_params(a, m->code) : 0;
	if (own > MAX_LATENT_PARAMS) /* its sums over a batch are reduced every step */
		return vk_fail(e, "the %s latent would have %zu parameters (at most %u: fewer "
				  "codes or a smaller code)", L->name, own, MAX_LATENT_PARAMS);
	at += own;
	st += L->n_state ? L->n_state(a, m->code) : 0;
	if (at > MAX_PARAMS || st > MAX_PARAMS)
		return vk_fail(e, "the %s latent would take the model past %u parameters",
			       L->name, MAX_PARAMS);
	m->n_params = at;
	m->n_state = st;
	return 0;
}

vk_latent_ctx vk_latent_ctx_of(const vk_model *m, const vk_work *w)
{
	int own = m->lat_p < m->n_params, state = m->lat_s < m->n_state;
	return (vk_latent_ctx){.a = &m->a, .map = m->code,
			       .P = own && m->params ? m->params + m->lat_p : NULL,
			       .S = state && m->state ? m->state + m->lat_s : NULL,
			       .buf = w ? w->lat_buf : NULL};
}

void vk_latent_sample(const vk_model *m, const vk_work *w, float *z, int ldz,
		      const float *head, const float *eps, float *reg, int n)
{
	vk_latent_ctx c = vk_latent_ctx_of(m, w);
	vk_latent_of(&m->a)->sample(&c, z, ldz, head, eps, reg, n, m->a.latent);
}

int vk_model_alloc(vk_model *m, const vk_arch *a, vk_error *e)
{
	if (vk_model_build(m, a, e))
		return -1;
	size_t at = m->n_params;
	m->params = vk_alloc_floats(at);
	m->grads = vk_alloc_floats(at);
	m->state = m->n_state ? calloc(m->n_state, sizeof(float)) : NULL;
	if (!m->params || !m->grads || (m->n_state && !m->state)) {
		vk_model_free(m);
		return vk_fail(e, "out of memory for %zu parameters", at);
	}
	return 0;
}

void vk_model_init_params(vk_model *m, vk_rng *rng)
{
	vk_list_init(m->enc, m->n_enc, m->params, m->state, rng);
	vk_list_init(m->dec, m->n_dec, m->params, m->state, rng);
	const vk_latent_kind *L = vk_latent_of(&m->a);
	if (L->init) {
		vk_latent_ctx c = vk_latent_ctx_of(m, NULL);
		L->init(&c, rng);
	}
}

void vk_model_free(vk_model *m)
{
	free(m->params);
	free(m->grads);
	free(m->state);
	m->params = m->grads = m->state = NULL;
}

static size_t widest(const vk_model *m)
{
	size_t w = (size_t)m->a.input_size + m->a.classes;
	for (int i = 0; i < m->end_enc; i++) {
		w = (size_t)m->enc[i].n_in > w ? (size_t)m->enc[i].n_in : w;
		w = (size_t)m->enc[i].n_out > w ? (size_t)m->enc[i].n_out : w;
	}
	for (int i = 0; i < m->end_dec; i++) {
		w = (size_t)m->dec[i].n_in > w ? (size_t)m->dec[i].n_in : w;
		w = (size_t)m->dec[i].n_out > w ? (size_t)m->dec[i].n_out : w;
	}
	return w;
}

static const vk_layer *label_layer(const vk_model *m)
{
	for (int i = 0; i < m->n_enc; i++)
		if (m->enc[i].label_in)
			return &m->enc[i];
	return NULL;
}

/* Floats of shared workspace the layers need for cap records. */
static size_t scratch_floats(const vk_model *m, int cap)
{
	size_t s = 0;
	for (int i = 0; i < m->end_enc + m->end_dec; i++) {
		const vk_layer *l = i < m->end_enc ? &m->enc[i] : &m->dec[i - m->end_enc];
		size_t need = vk_layer_workspace(l, cap);
		s = need > s ? need : s;
	}
	return s;
}

int vk_work_alloc(vk_work *w, const vk_model *m, int cap, vk_error *e)
{
	memset(w, 0, sizeof *w);
	const vk_arch *a = &m->a;
	size_t c = cap, scratch = scratch_floats(m, cap);
	const vk_layer *lab = label_layer(m);
	int ok = 1;
#define ALLOC(p, n) ok = ok && ((p) = malloc(sizeof(float) * (n) + 1)) != NULL
	w->cap = cap;
	w->state_update = 1;
	if (lab)
		ALLOC(w->cat, c * lab->n_in);
	for (int i = 0; i < m->end_enc; i++) {
		ALLOC(w->act_enc[i], c * m->enc[i].n_out);
		if (vk_layer_priv(&m->enc[i], cap))
			ALLOC(w->priv_enc[i], vk_layer_priv(&m->enc[i], cap));
	}
	ALLOC(w->z, c * (a->latent + a->classes));
	ALLOC(w->eps, c * a->latent);
	for (int i = 0; i < m->end_dec; i++) {
		ALLOC(w->act_dec[i], c * m->dec[i].n_out);
		if (vk_layer_priv(&m->dec[i], cap))
			ALLOC(w->priv_dec[i], vk_layer_priv(&m->dec[i], cap));
	}
	ALLOC(w->grad[0], c * widest(m));
	ALLOC(w->grad[1], c * widest(m));
	if (scratch)
		ALLOC(w->scratch, scratch);
	ALLOC(w->rec, c);
	ALLOC(w->kl, c);
	if (vk_autoregressive(a))
		ALLOC(w->in, c * vk_lik_of(a)->out_width(a));
	const vk_latent_kind *L = vk_latent_of(a);
	size_t lat = L->scratch(a->latent);
	ok = ok && (w->lat.scratch = malloc(sizeof(double) * lat + 1)) != NULL;
	if (L->work)
		ok = ok && (w->lat_buf = malloc(L->work(a, m->code, cap) + 1)) != NULL;
	if (L->codes) /* a discrete latent's code counts (not a pixelcnn's classes) */
		ok = ok && (w->counts = calloc((size_t)a->codes, sizeof(double))) != NULL;
#undef ALLOC
	if (!ok) {
		vk_work_free(w);
		return vk_fail(e, "out of memory for batch buffers (batch %d)", cap);
	}
	return 0;
}

void vk_work_free(vk_work *w)
{
	free(w->cat);
	for (int i = 0; i < VK_MAX_ENTRIES; i++) {
		free(w->act_enc[i]);
		free(w->act_dec[i]);
		free(w->priv_enc[i]);
		free(w->priv_dec[i]);
	}
	free(w->z);
	free(w->eps);
	free(w->grad[0]);
	free(w->grad[1]);
	free(w->scratch);
	free(w->rec);
	free(w->kl);
	free(w->in);
	free(w->lat.scratch);
	free(w->lat_buf);
	free(w->counts);
	memset(w, 0, sizeof *w);
}

float vk_label_value(const vk_arch *a)
{
	return a->label_scaled ? sqrtf((float)a->classes) : 1.0f;
}

void vk_put_onehot(const vk_arch *a, float *dst, int ld, int col, const int32_t *labels, int n)
{
	float v = vk_label_value(a);
	for (int r = 0; r < n; r++) {
		float *row = dst + (size_t)r * ld + col;
		memset(row, 0, sizeof(float) * a->classes);
		row[labels[r]] = v;
	}
}

static void put_label(const vk_pass *p, float *dst, int ld, int col, int n)
{
	vk_put_onehot(p->label_ctx, dst, ld, col, p->labels, n);
}

/* The pass over m's blocks in w's mode. */
static vk_pass pass_of(const vk_model *m, vk_work *w, float *G, const int32_t *labels)
{
	return (vk_pass){.P = m->params, .G = G, .S = m->state, .scratch = w->scratch,
			 .train = w->train, .update_state = w->state_update, .red = w->lat.red,
			 .slice = w->lat.slice, .cat = w->cat, .put_label = put_label,
			 .label_ctx = &m->a, .labels = labels};
}

/* One forward loop for both lists (layers.c's walk): acts[i] (n, L[i].n_out)
 * = layer i of its input. */
static const float *list_forward(vk_model *m, vk_work *w, const vk_layer *L, int nl,
				 float *const *acts, const float *x, const int32_t *labels, int n)
{
	vk_pass p = pass_of(m, w, NULL, labels);
	float *const *priv = L == m->enc ? w->priv_enc : w->priv_dec;
	return vk_list_forward(L, nl, acts, priv, x, n, &p);
}

/* One backward loop: from g (n, L[nl−1].n_out), the gradient w.r.t. the list's
 * output, write each layer's parameter gradients into G; returns the gradient
 * w.r.t. the list's input x (n, L[0].n_in) when want_dx, else NULL. g and the
 * other ping-pong buffer are overwritten. */
static float *list_backward(vk_model *m, vk_work *w, float *G, const vk_layer *L, int nl,
			    float *const *acts, const float *x, float *g, int want_dx, int n)
{
	vk_pass p = pass_of(m, w, G, NULL);
	float *const *priv = L == m->enc ? w->priv_enc : w->priv_dec;
	float *other = g == w->grad[0] ? w->grad[1] : w->grad[0];
	return vk_list_backward(L, nl, acts, priv, x, g, other, want_dx, n, &p);
}

const float *vk_encode(vk_model *m, vk_work *w, const float *x, const int32_t *labels, int n)
{
	return list_forward(m, w, m->enc, m->n_enc, w->act_enc, x, labels, n);
}

const float *vk_decoder_forward(vk_model *m, vk_work *w, int n)
{
	return list_forward(m, w, m->dec, m->n_dec, w->act_dec, w->z, NULL, n);
}

/* Encoder, latent and decoder; leaves w->kl set. eps NULL means z = μ. */
static const float *forward(vk_model *m, vk_work *w, const float *x, const int32_t *labels,
			    int n, const float *eps)
{
	const vk_arch *a = &m->a;
	int Z = a->latent, ldz = Z + a->classes;
	const float *head = vk_encode(m, w, x, labels, n);
	vk_latent_sample(m, w, w->z, ldz, head, eps, w->kl, n);
	if (a->classes)
		vk_put_onehot(a, w->z, ldz, Z, labels, n);
	return vk_decoder_forward(m, w, n);
}

const float *vk_ar_forward(vk_model *m, vk_work *w, const float *x, const int32_t *labels,
			   int n)
{
	vk_lik_of(&m->a)->expand(&m->a, x, w->in, n);
	return list_forward(m, w, m->dec, m->n_dec, w->act_dec, w->in, labels, n);
}

/* The forward pass and the loss, in the mode w->train says. */
static void batch_forward(vk_model *m, vk_work *w, const float *x, const int32_t *labels, int n,
			  const float *eps, float scale)
{
	if (vk_autoregressive(&m->a)) {
		memset(w->kl, 0, sizeof(float) * n);
		vk_lik_of(&m->a)->nll(&m->a, vk_ar_forward(m, w, x, labels, n), x, w->grad[0],
				      w->rec, n, scale);
		return;
	}
	const float *out = forward(m, w, x, labels, n, eps);
	vk_lik_of(&m->a)->nll(&m->a, out, x, w->grad[0], w->rec, n, scale);
}

void vk_batch_forward(vk_model *m, vk_work *w, const float *x, const int32_t *labels, int n,
		      const float *eps, float scale)
{
	w->train = 1;
	batch_forward(m, w, x, labels, n, eps, scale);
	w->train = 0;
}

void vk_batch_grad(vk_model *m, vk_work *w, float *grads, const float *x,
		   const int32_t *labels, int n, float beta, const float *eps, float scale)
{
	const vk_arch *a = &m->a;
	const vk_latent_kind *L = vk_latent_of(a);
	int Z = a->latent, ldz = Z + a->classes;
	vk_latent_step step = w->lat;
	vk_latent_ctx ctx = vk_latent_ctx_of(m, w);
	step.beta = beta;
	step.scale = scale;
	step.ctx = &ctx;
	step.G = ctx.P ? grads + m->lat_p : NULL;
	step.update_state = w->state_update;
	step.counts = w->counts;
	if (n == 0 && !m->n_state) {
		/* a slice without rows still takes part in the batch-wide terms */
		memset(grads, 0, sizeof(float) * m->n_params);
		if (step.mmd_weight != 0)
			w->lat.mmd = vk_mmd_imq(NULL, ldz, 0, step.row0, step.batch, Z, step.prior,
						step.mmd_weight, NULL, step.red, step.slice,
						step.mmd_scratch);
		if (step.tc_scratch)
			vk_tc_mws(NULL, ldz, NULL, 0, step.row0, step.batch, Z, step.tc_n, step.tc_w,
				  scale, 1, NULL, NULL, step.red, step.slice, step.tc_scratch,
				  w->lat.tc);
		L->backward(NULL, NULL, ldz, NULL, NULL, 0, Z, &step);
		return;
	}
	/* Training mode: layers use the batch's statistics and update their
	 * state. With batch-wide layers (batchnorm) an empty slice runs the whole
	 * pass, on no rows, for their sums; its gradient block is zeroed after. */
	w->train = 1;
	batch_forward(m, w, x, labels, n, eps, scale);
	if (vk_autoregressive(a)) { /* no latent: the decoder's parameters alone */
		vk_pass p = pass_of(m, w, grads, labels); /* its class biases read them */
		vk_list_backward(m->dec, m->n_dec, w->act_dec, w->priv_dec, w->in, w->grad[0],
				 w->grad[1], 0, n, &p);
		w->train = 0;
		if (n == 0)
			memset(grads, 0, sizeof(float) * m->n_params);
		return;
	}
	/* dL/dz (n, Z+C); the one-hot columns are inputs, not learned. */
	float *dz = list_backward(m, w, grads, m->dec, m->n_dec, w->act_dec, w->z, w->grad[0], 1, n);
	float *dhead = dz == w->grad[0] ? w->grad[1] : w->grad[0];
	if (step.mmd_weight != 0) /* the batch's term, through z like the decoder's */
		w->lat.mmd = vk_mmd_imq(w->z, ldz, n, step.row0, step.batch, Z, step.prior,
					step.mmd_weight, dz, step.red, step.slice, step.mmd_scratch);
	const float *head = w->act_enc[m->n_enc - 1];
	if (step.tc_scratch) /* through z, and the posteriors' own part after the latent's */
		vk_tc_mws(w->z, ldz, head, n, step.row0, step.batch, Z, step.tc_n, step.tc_w, scale,
			  1, dz, step.tc_dhead, step.red, step.slice, step.tc_scratch, w->lat.tc);
	L->backward(dhead, dz, ldz, head, eps, n, Z, &step);
	if (step.tc_scratch)
		for (size_t i = 0; i < (size_t)n * 2 * Z; i++)
			dhead[i] += step.tc_dhead[i];
	list_backward(m, w, grads, m->enc, m->n_enc, w->act_enc, x, dhead, 0, n);
	w->train = 0;
	if (n == 0)
		memset(grads, 0, sizeof(float) * m->n_params);
}

void vk_batch_grad_iw(vk_model *m, vk_work *w, float *grads, const float *x,
		      const int32_t *labels, int n, int K, const float *eps, float scale)
{
	const vk_arch *a = &m->a;
	const vk_latent_kind *L = vk_latent_of(a);
	const vk_lik_kind *lik = vk_lik_of(a);
	int Z = a->latent, ldz = Z + a->classes, D = a->input_size, N = n * K;
	int W = lik->out_width(a);
	if (n == 0 && !m->n_state) {
		memset(grads, 0, sizeof(float) * m->n_params);
		return;
	}
	w->train = 1;
	/* The encoder once per record; its head stays in act_enc for the backward pass. */
	const float *head = vk_encode(m, w, x, labels, n);
	/* z of row r·K + k, and log q(z|x) − log p(z) of each row in w->kl. */
	L->iw_sample(w->z, ldz, head, eps, w->kl, n, K, Z);
	if (a->classes)
		for (int row = 0; row < N; row++)
			vk_put_onehot(a, w->z + (size_t)row * ldz, ldz, Z, labels + row / K, 1);
	const float *out = vk_decoder_forward(m, w, N);
	float *g = w->grad[0];
	for (int row = 0; row < N; row++)
		lik->nll(a, out + (size_t)row * W, x + (size_t)(row / K) * D, g + (size_t)row * W,
			 w->rec + row, 1, 1.0f);
	/* Per record: loss = −log (1/K) Σ_k w_k, log w_k = −(rec_k + kl_k); each
	 * row's gradient weighted by its normalised weight w̃_k (kept in w->eps,
	 * which this path does not otherwise use: cap·Z ≥ N values). The record's
	 * rec becomes the mean of its K reconstructions and its kl the rest of
	 * the bound, so rec + kl is the loss. Record r's slots are written after
	 * its K rows are read, and r ≤ r·K: no row still needed is overwritten. */
	float *wt = w->eps;
	for (int r = 0; r < n; r++) {
		double mx = -INFINITY, sum = 0.0, rs = 0.0;
		for (int k = 0; k < K; k++) {
			double lw = -((double)w->rec[r * K + k] + w->kl[r * K + k]);
			mx = lw > mx ? lw : mx;
		}
		for (int k = 0; k < K; k++) {
			double e = exp(-((double)w->rec[r * K + k] + w->kl[r * K + k]) - mx);
			wt[r * K + k] = (float)e;
			sum += e;
			rs += w->rec[r * K + k];
		}
		double loss = -(mx + log(sum)) + log((double)K);
		for (int k = 0; k < K; k++)
			wt[r * K + k] = (float)(wt[r * K + k] / sum);
		w->rec[r] = (float)(rs / K);
		w->kl[r] = (float)(loss - rs / K);
	}
	for (int row = 0; row < N; row++) {
		float s = wt[row] * scale, *gr = g + (size_t)row * W;
		for (int j = 0; j < W; j++)
			gr[j] *= s;
	}
	float *dz = list_backward(m, w, grads, m->dec, m->n_dec, w->act_dec, w->z, g, 1, N);
	float *dhead = dz == w->grad[0] ? w->grad[1] : w->grad[0];
	L->iw_backward(dhead, dz, ldz, w->z, head, eps, wt, n, K, Z, scale);
	list_backward(m, w, grads, m->enc, m->n_enc, w->act_enc, x, dhead, 0, n);
	w->train = 0;
	if (n == 0)
		memset(grads, 0, sizeof(float) * m->n_params);
}

size_t vk_model_reduce_width(const vk_model *m)
{
	size_t w = 0;
	for (int i = 0; i < m->end_enc + m->end_dec; i++) {
		const vk_layer *l = i < m->end_enc ? &m->enc[i] : &m->dec[i - m->end_enc];
		w = l->n_st + 1 > w ? l->n_st + 1 : w;
	}
	const vk_latent_kind *L = vk_latent_of(&m->a);
	size_t lw = L->reduce_width ? L->reduce_width(&m->a, m->code) : 0;
	return lw > w ? lw : w;
}

const float *vk_decode(vk_model *m, vk_work *w, const float *z, const int32_t *labels, int n)
{
	int Z = m->a.latent, ldz = Z + m->a.classes;
	for (int r = 0; r < n; r++)
		memcpy(w->z + (size_t)r * ldz, z + (size_t)r * Z, sizeof(float) * Z);
	if (m->a.classes)
		vk_put_onehot(&m->a, w->z, ldz, Z, labels, n);
	float *out = (float *)vk_decoder_forward(m, w, n);
	vk_lik_of(&m->a)->mean(&m->a, out, n);
	return out;
}

int vk_check_codes(const vk_model *m, const int32_t *idx, size_t n, vk_error *e)
{
	for (size_t i = 0; i < n; i++)
		if (idx[i] < 0 || idx[i] >= m->a.codes)
			return vk_fail(e, "code %ld is not one of the model's %d codes (0 to %d)",
				       (long)idx[i], m->a.codes, m->a.codes - 1);
	return 0;
}

const float *vk_model_decode_codes(vk_model *m, vk_work *w, const int32_t *idx, int n)
{
	vk_latent_ctx c = vk_latent_ctx_of(m, w);
	vk_latent_of(&m->a)->embed(&c, w->z, m->a.latent, idx, n);
	float *out = (float *)vk_decoder_forward(m, w, n);
	vk_lik_of(&m->a)->mean(&m->a, out, n);
	return out;
}

void vk_model_encode_codes(vk_model *m, vk_work *w, const float *x, int32_t *idx, int n)
{
	vk_latent_ctx c = vk_latent_ctx_of(m, w);
	const float *head = vk_encode(m, w, x, NULL, n);
	vk_latent_of(&m->a)->codes(&c, idx, head, n);
}
