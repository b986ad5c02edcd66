#include "model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PARAMS (1u << 28)

const char *vk_kind_name(int kind)
{
	switch (kind) {
	case VK_AE: return "ae";
	case VK_VAE: return "vae";
	case VK_CVAE: return "cvae";
	}
	return "?";
}

int vk_kind_parse(const char *name)
{
	for (int k = VK_AE; k <= VK_CVAE; k++)
		if (!strcmp(name, vk_kind_name(k)))
			return k;
	return -1;
}

const char *vk_likelihood_name(int lik)
{
	return lik == VK_BERNOULLI ? "bernoulli" : lik == VK_GAUSSIAN ? "gaussian" : "?";
}

int vk_head_width(const vk_arch *a)
{
	return a->kind == VK_AE ? a->latent : 2 * a->latent;
}

int vk_arch_check(const vk_arch *a, vk_error *e)
{
	if (a->kind < VK_AE || a->kind > VK_CVAE)
		return vk_fail(e, "unknown model kind %d", a->kind);
	if (a->input_rank < 1 || a->input_rank > 4)
		return vk_fail(e, "input rank %d is out of range (1 to 4)", a->input_rank);
	uint64_t d = 1;
	for (int i = 0; i < a->input_rank; i++) {
		if (a->input_dims[i] < 1 || a->input_dims[i] > VK_MAX_WIDTH)
			return vk_fail(e, "input dimension %u is out of range", a->input_dims[i]);
		d *= a->input_dims[i];
	}
	if (d > VK_MAX_WIDTH || (int)d != a->input_size)
		return vk_fail(e, "input size %d does not match its shape or exceeds %d",
			       a->input_size, VK_MAX_WIDTH);
	if (a->n_hidden < 0 || a->n_hidden > VK_MAX_HIDDEN)
		return vk_fail(e, "%d hidden layers (at most %d)", a->n_hidden, VK_MAX_HIDDEN);
	for (int i = 0; i < a->n_hidden; i++)
		if (a->hidden[i] < 1 || a->hidden[i] > VK_MAX_WIDTH)
			return vk_fail(e, "hidden width %d is out of range", a->hidden[i]);
	if (a->act < VK_IDENTITY || a->act > VK_LEAKY)
		return vk_fail(e, "unknown activation %d", a->act);
	if (a->latent < 1 || a->latent > 4096)
		return vk_fail(e, "latent size %d is out of range (1 to 4096)", a->latent);
	if (a->kind == VK_CVAE ? (a->classes < 1 || a->classes > VK_MAX_CLASSES) : a->classes)
		return vk_fail(e, "%d classes for a %s model", a->classes, vk_kind_name(a->kind));
	if (a->likelihood != VK_BERNOULLI && a->likelihood != VK_GAUSSIAN)
		return vk_fail(e, "unknown decoder likelihood %d", a->likelihood);
	if (a->likelihood == VK_GAUSSIAN && !(a->sigma > 0 && isfinite(a->sigma)))
		return vk_fail(e, "Gaussian decoder sigma %g must be positive", a->sigma);
	return 0;
}

static size_t add_layer(vk_layer *l, int in, int out, int act, size_t at)
{
	l->in = in;
	l->out = out;
	l->act = act;
	l->w = at;
	l->b = at + (size_t)in * out;
	return l->b + out;
}

int vk_model_alloc(vk_model *m, const vk_arch *a, vk_error *e)
{
	memset(m, 0, sizeof *m);
	if (vk_arch_check(a, e))
		return -1;
	m->a = *a;
	int C = a->classes, H = a->n_hidden;
	size_t at = 0;
	int in = a->input_size + C;
	for (int i = 0; i < H; i++) {
		at = add_layer(&m->enc[i], in, a->hidden[i], a->act, at);
		in = a->hidden[i];
	}
	at = add_layer(&m->enc[H], in, vk_head_width(a), VK_IDENTITY, at);
	in = a->latent + C;
	for (int i = 0; i < H; i++) {
		int width = a->hidden[H - 1 - i];
		at = add_layer(&m->dec[i], in, width, a->act, at);
		in = width;
	}
	at = add_layer(&m->dec[H], in, a->input_size, VK_IDENTITY, at);
	m->n_enc = m->n_dec = H + 1;
	if (at > MAX_PARAMS)
		return vk_fail(e, "model has %zu parameters (limit %u)", at, MAX_PARAMS);
	m->n_params = at;
	m->params = vk_alloc_floats(at);
	m->grads = vk_alloc_floats(at);
	if (!m->params || !m->grads) {
		vk_model_free(m);
		return vk_fail(e, "out of memory for %zu parameters", at);
	}
	return 0;
}

static void init_layer(float *p, const vk_layer *l, vk_rng *rng)
{
	double bound = l->act == VK_RELU ? sqrt(6.0 / l->in) : sqrt(6.0 / (l->in + l->out));
	size_t n = (size_t)l->in * l->out;
	for (size_t i = 0; i < n; i++)
		p[l->w + i] = (float)((2.0 * vk_rng_uniform(rng) - 1.0) * bound);
	memset(p + l->b, 0, sizeof(float) * l->out);
}

void vk_model_init_params(vk_model *m, vk_rng *rng)
{
	for (int i = 0; i < m->n_enc; i++)
		init_layer(m->params, &m->enc[i], rng);
	for (int i = 0; i < m->n_dec; i++)
		init_layer(m->params, &m->dec[i], rng);
}

void vk_model_free(vk_model *m)
{
	free(m->params);
	free(m->grads);
	m->params = m->grads = NULL;
}

static int widest(const vk_model *m)
{
	int w = m->a.input_size + m->a.classes;
	for (int i = 0; i < m->n_enc; i++)
		w = m->enc[i].out > w ? m->enc[i].out : w;
	for (int i = 0; i < m->n_dec; i++)
		w = m->dec[i].in > w ? m->dec[i].in : w;
	return w;
}

int vk_work_alloc(vk_work *w, const vk_model *m, int cap, vk_error *e)
{
	memset(w, 0, sizeof *w);
	const vk_arch *a = &m->a;
	size_t c = cap;
	int ok = 1;
#define ALLOC(p, n) ok = ok && ((p) = malloc(sizeof(float) * (n) + 1)) != NULL
	w->cap = cap;
	if (a->classes)
		ALLOC(w->xin, c * (a->input_size + a->classes));
	for (int i = 0; i < m->n_enc; i++)
		ALLOC(w->act_enc[i], c * m->enc[i].out);
	ALLOC(w->z, c * (a->latent + a->classes));
	ALLOC(w->eps, c * a->latent);
	for (int i = 0; i < m->n_dec; i++)
		ALLOC(w->act_dec[i], c * m->dec[i].out);
	ALLOC(w->grad[0], c * widest(m));
	ALLOC(w->grad[1], c * widest(m));
	ALLOC(w->rec, c);
	ALLOC(w->kl, c);
#undef ALLOC
	if (!ok) {
		vk_work_free(w);
		return vk_fail(e, "out of memory for batch buffers (batch %d)", cap);
	}
	return 0;
}

void vk_work_free(vk_work *w)
{
	free(w->xin);
	for (int i = 0; i <= VK_MAX_HIDDEN; i++) {
		free(w->act_enc[i]);
		free(w->act_dec[i]);
	}
	free(w->z);
	free(w->eps);
	free(w->grad[0]);
	free(w->grad[1]);
	free(w->rec);
	free(w->kl);
	memset(w, 0, sizeof *w);
}

/* Write a one-hot block of width C at column `col` of rows with stride ld. */
static void put_onehot(float *dst, int ld, int col, const int32_t *labels, int n, int C)
{
	for (int r = 0; r < n; r++) {
		float *row = dst + (size_t)r * ld + col;
		memset(row, 0, sizeof(float) * C);
		row[labels[r]] = 1.0f;
	}
}

static const float *encoder_input(vk_model *m, vk_work *w, const float *x,
				  const int32_t *labels, int n)
{
	int D = m->a.input_size, C = m->a.classes;
	if (!C)
		return x;
	for (int r = 0; r < n; r++)
		memcpy(w->xin + (size_t)r * (D + C), x + (size_t)r * D, sizeof(float) * D);
	put_onehot(w->xin, D + C, D, labels, n, C);
	return w->xin;
}

const float *vk_encode(vk_model *m, vk_work *w, const float *x, const int32_t *labels, int n)
{
	const float *in = encoder_input(m, w, x, labels, n);
	for (int i = 0; i < m->n_enc; i++) {
		const vk_layer *l = &m->enc[i];
		vk_dense_forward(w->act_enc[i], in, m->params + l->w, m->params + l->b, n, l->in,
				 l->out, l->act);
		in = w->act_enc[i];
	}
	return in;
}

const float *vk_decoder_forward(vk_model *m, vk_work *w, int n)
{
	const float *in = w->z;
	for (int i = 0; i < m->n_dec; i++) {
		const vk_layer *l = &m->dec[i];
		vk_dense_forward(w->act_dec[i], in, m->params + l->w, m->params + l->b, n, l->in,
				 l->out, l->act);
		in = w->act_dec[i];
	}
	return in;
}

/* Encoder, latent and decoder; leaves w->kl set. eps NULL means z = μ. */
static const float *forward(vk_model *m, vk_work *w, const float *x, const int32_t *labels,
			    int n, const float *eps)
{
	const vk_arch *a = &m->a;
	int Z = a->latent, ldz = Z + a->classes;
	const float *head = vk_encode(m, w, x, labels, n);
	if (a->kind == VK_AE) {
		for (int r = 0; r < n; r++)
			memcpy(w->z + (size_t)r * ldz, head + (size_t)r * Z, sizeof(float) * Z);
		memset(w->kl, 0, sizeof(float) * n);
	} else {
		vk_reparam(w->z, ldz, head, eps, w->kl, n, Z);
	}
	if (a->classes)
		put_onehot(w->z, ldz, Z, labels, n, a->classes);
	return vk_decoder_forward(m, w, n);
}

static void reconstruction(const vk_model *m, const float *out, const float *x, float *grad,
			   float *rec, int n, float scale)
{
	if (m->a.likelihood == VK_BERNOULLI)
		vk_bce_logits(out, x, grad, rec, n, m->a.input_size, scale);
	else
		vk_gaussian_nll(out, x, grad, rec, n, m->a.input_size, m->a.sigma, scale);
}

void vk_batch_eval(vk_model *m, vk_work *w, const float *x, const int32_t *labels, int n,
		   vk_rng *rng)
{
	if (rng && m->a.kind != VK_AE)
		vk_rng_normals(rng, w->eps, (size_t)n * m->a.latent);
	const float *out = forward(m, w, x, labels, n, rng && m->a.kind != VK_AE ? w->eps : NULL);
	reconstruction(m, out, x, NULL, w->rec, n, 0.0f);
}

void vk_batch_grad(vk_model *m, vk_work *w, float *grads, const float *x,
		   const int32_t *labels, int n, float beta, const float *eps, float scale)
{
	const vk_arch *a = &m->a;
	int Z = a->latent, ldz = Z + a->classes, H = a->n_hidden;
	float *P = m->params, *G = grads;
	int vae = a->kind != VK_AE;
	const float *out = forward(m, w, x, labels, n, vae ? eps : NULL);
	float *g = w->grad[0], *other = w->grad[1], *t;
	reconstruction(m, out, x, g, w->rec, n, scale);

	for (int i = H; i >= 0; i--) {
		const vk_layer *l = &m->dec[i];
		const float *in = i ? w->act_dec[i - 1] : w->z;
		vk_dense_backward(other, G + l->w, G + l->b, g, in, w->act_dec[i], P + l->w, n,
				  l->in, l->out, l->act);
		t = g, g = other, other = t;
	}
	/* g now holds dL/dz (n, Z+C); the one-hot columns are inputs, not learned. */
	const float *head = w->act_enc[H];
	if (vae) {
		vk_reparam_backward(other, g, ldz, head, eps, n, Z, beta, scale);
	} else {
		for (int r = 0; r < n; r++)
			memcpy(other + (size_t)r * Z, g + (size_t)r * ldz, sizeof(float) * Z);
	}
	t = g, g = other, other = t;
	const float *xin = a->classes ? w->xin : x;
	for (int i = H; i >= 0; i--) {
		const vk_layer *l = &m->enc[i];
		const float *in = i ? w->act_enc[i - 1] : xin;
		vk_dense_backward(i ? other : NULL, G + l->w, G + l->b, g, in, w->act_enc[i],
				  P + l->w, n, l->in, l->out, l->act);
		t = g, g = other, other = t;
	}
}

const float *vk_decode(vk_model *m, vk_work *w, const float *z, const int32_t *labels, int n)
{
	int Z = m->a.latent, ldz = Z + m->a.classes;
	for (int r = 0; r < n; r++)
		memcpy(w->z + (size_t)r * ldz, z + (size_t)r * Z, sizeof(float) * Z);
	if (m->a.classes)
		put_onehot(w->z, ldz, Z, labels, n, m->a.classes);
	float *out = (float *)vk_decoder_forward(m, w, n);
	if (m->a.likelihood == VK_BERNOULLI)
		vk_activate(out, (size_t)n * m->a.input_size, VK_SIGMOID);
	return out;
}
