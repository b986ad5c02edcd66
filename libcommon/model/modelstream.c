#include "modelstream.h"

#include "modelfile.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classes.h"

int vk_image_header(ts_header *h, const vk_model *m, int u8, int labels, vk_error *e)
{
	if (ts_header_init(h, u8 ? TS_U8 : TS_F32, m->a.input_rank, m->a.input_dims, e))
		return -1;
	h->has_labels = labels;
	return 0;
}

int vk_vector_header(ts_header *h, int width, int labels, vk_error *e)
{
	uint32_t dims[1] = {(uint32_t)width};
	if (ts_header_init(h, TS_F32, 1, dims, e))
		return -1;
	h->has_labels = labels;
	return 0;
}

int vk_codes_header(ts_header *h, const vk_model *m, int labels, vk_error *e)
{
	vk_shape c = m->code;
	uint32_t dims[2] = {c.h > 0 ? (uint32_t)c.h : 1, (uint32_t)c.w};
	if (ts_header_init(h, TS_I32, c.h > 0 ? 2 : 1, dims, e))
		return -1;
	h->has_labels = labels;
	return 0;
}

int vk_code_stream(const vk_model *m, const ts_header *h, const char *name, vk_error *e)
{
	char buf[32], shape[64];
	const char *cb = ts_meta_get(h, "codebook", buf, sizeof buf);
	if (!cb || h->dtype != TS_I32)
		return 0;
	if (!m->a.codes)
		return vk_fail(e, "%s: code maps (codebook=%s) need a model with a codebook; the "
				  "model is a %s", name, cb, vk_kind_name(m->a.kind));
	char *end;
	long k = strtol(cb, &end, 10);
	if (end == cb || *end || k != m->a.codes)
		return vk_fail(e, "%s: code maps of a codebook of %s codes; the model's has %d",
			       name, cb, m->a.codes);
	vk_shape c = m->code;
	int fits = c.h > 0 ? h->rank == 2 && h->dims[0] == (uint32_t)c.h && h->dims[1] == (uint32_t)c.w
			   : h->rank == 1 && h->dims[0] == 1;
	if (!fits)
		return vk_fail(e, "%s: code maps of shape %s do not match the decoder's, %dx%d",
			       name, ts_shape_str(h, shape, sizeof shape), c.h > 0 ? c.h : 1,
			       c.h > 0 ? c.w : 1);
	return 1;
}

int vk_stamp_meta(ts_header *h, const ts_header *src, const char *model_path,
		  const vk_model *m, const char *kind, vk_error *e)
{
	if (src) {
		memcpy(h->meta, src->meta, src->meta_len + 1);
		h->meta_len = src->meta_len;
	}
	const char *base = strrchr(model_path, '/');
	if (ts_meta_set(h, "model", base ? base + 1 : model_path, e))
		return -1;
	if (kind && ts_meta_set(h, "kind", kind, e))
		return -1;
	/* Latent vectors say which model made them (latent-gmm records it in a
	 * prior); any other stream drops a model_id its input carried. */
	int codes = kind && !strcmp(kind, "codes");
	if (codes) {
		char k[24];
		snprintf(k, sizeof k, "%d", m->a.codes);
		if (ts_meta_set(h, "codebook", k, e))
			return -1;
	} else
		ts_meta_unset(h, "codebook"); /* only code maps have one */
	if (kind && (!strncmp(kind, "latent", 6) || codes)) {
		char id[24];
		snprintf(id, sizeof id, "%016llx", (unsigned long long)vk_model_identity(m));
		return ts_meta_set(h, "model_id", id, e);
	}
	ts_meta_unset(h, "model_id");
	return 0;
}

int vk_check_input(const vk_model *m, const ts_header *h, const char *name, vk_error *e)
{
	char shape[64], want[48];
	vk_shape in = vk_arch_input_shape(&m->a);
	/* the first layer reading the input: an autoregressive model's is its decoder's */
	const vk_layer *first = m->n_enc ? &m->enc[0] : &m->dec[0];
	if (first->ops->flat) { /* reads its input flat: any shape of D values fits */
		if (ts_elems(h) != (size_t)m->a.input_size)
			return vk_fail(e, "%s: records of shape %s (%zu values) do not match the "
					  "model's input, %s (%d values)",
				       name, ts_shape_str(h, shape, sizeof shape), ts_elems(h),
				       vk_shape_str(in, want, sizeof want), m->a.input_size);
	} else {
		int rank2 = h->rank == 2 && in.c == 1;
		if (!((h->rank == 3 || rank2) && h->dims[0] == (uint32_t)in.h &&
		      h->dims[1] == (uint32_t)in.w && (rank2 || h->dims[2] == (uint32_t)in.c)))
			return vk_fail(e, "%s: records of shape %s do not fit the model's "
					  "convolutional input, which needs images of exactly %s",
				       name, ts_shape_str(h, shape, sizeof shape),
				       vk_shape_str(in, want, sizeof want));
	}
	if (vk_conditional(&m->a) && !h->has_labels)
		return vk_fail(e, "%s: the stream has no labels, which a conditional model needs",
			       name);
	return 0;
}

int vk_check_labels(const vk_model *m, const int32_t *labels, size_t n, uint64_t first,
		    const char *name, vk_error *e)
{
	if (!vk_conditional(&m->a))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (labels[i] < 0 || labels[i] >= m->a.classes)
			return vk_fail(e, "%s: record %llu has label %d, outside the model's "
					  "classes 0..%d",
				       name, (unsigned long long)(first + i), labels[i],
				       m->a.classes - 1);
	return 0;
}

int vk_check_label_option(const vk_model *m, int label, const char *model_path, vk_error *e)
{
	if (label < 0)
		return 0;
	if (!vk_conditional(&m->a))
		return vk_fail(e, "--label: %s is not a conditional model", model_path);
	if (label >= m->a.classes)
		return vk_fail(e, "--label: %d is outside the model's classes 0..%d", label,
			       m->a.classes - 1);
	return 0;
}

static int check_latents(const vk_model *m, const ts_header *h, int label, const char *name,
			 vk_error *e)
{
	if (ts_elems(h) != (size_t)m->a.latent)
		return vk_fail(e, "%s: latent vectors of %zu values do not match the model's "
				  "latent size %d",
			       name, ts_elems(h), m->a.latent);
	if (vk_conditional(&m->a) && label < 0 && !h->has_labels)
		return vk_fail(e, "%s: the stream has no labels; a conditional model needs them "
				  "or --label K",
			       name);
	return 0;
}

void vk_trainrec_meta(const vk_trainrec *rec, ts_header *h)
{
	memset(h, 0, sizeof *h);
	size_t n = strlen(rec->desc);
	memcpy(h->meta, rec->desc, n + 1);
	h->meta_len = n;
}

/* --label K or --label NAME to a class index. */
static int resolve_label(const vk_model_tool *t, const char *arg, const char *model_path,
			 int *label, vk_error *e)
{
	*label = -1;
	if (!arg)
		return 0;
	char *end;
	long k = strtol(arg, &end, 10);
	if (*arg && !*end) {
		if (k < 0 || k > VK_MAX_CLASSES)
			return vk_fail(e, "--label: %s is not a class", arg);
		*label = (int)k;
		return 0;
	}
	ts_header h;
	char name[VK_CLASS_NAME_MAX];
	vk_trainrec_meta(&t->rec, &h);
	if ((*label = vk_class_find(&h, arg)) < 0)
		return vk_fail(e, "--label: '%s' is not a class name of %s's training data%s", arg,
			       model_path, vk_class_name(&h, 0, name, sizeof name) ? ""
				       : " (it names none; give a class number)");
	return 0;
}

int vk_model_tool_class_names(const vk_model_tool *t, ts_header *h, vk_error *e)
{
	ts_header src;
	vk_trainrec_meta(&t->rec, &src);
	char buf[VK_CLASS_NAME_MAX];
	int n = 0;
	while (n < VK_MAX_CLASSES && vk_class_name(&src, n, buf, sizeof buf))
		n++;
	if (!n)
		return 0;
	char **names = malloc(sizeof *names * n);
	if (!names)
		return vk_fail(e, "out of memory for class names");
	int rc = 0;
	for (int i = 0; i < n && !rc; i++)
		if (!(names[i] = strdup(vk_class_name(&src, i, buf, sizeof buf))))
			rc = vk_fail(e, "out of memory for class names");
	if (!rc)
		rc = vk_classes_set(h, names, n, e);
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

int vk_match_stream_classes(const vk_model *m, const vk_trainrec *rec, const char *model_path,
			    ts_reader *r, vk_error *e)
{
	if (!vk_conditional(&m->a) || !r->h.has_labels)
		return 0;
	static ts_header names; /* 16 KiB: not on the stack; tools are single-threaded here */
	static int32_t map[VK_CLASS_MAP_MAX];
	vk_trainrec_meta(rec, &names);
	int n, rc = vk_class_map(&names, model_path, &r->h, r->name, map, &n, e);
	if (rc <= 0)
		return rc;
	/* A map, even the identity, marks the reader as matched to a model. */
	if (rc == 1 && r->relabel)
		return vk_fail(e, "%s numbers the classes of %s otherwise than the model before it; "
				  "evaluate them one at a time", model_path, r->name);
	if (!r->relabel && ts_reader_relabel(r, map, n, e))
		return -1;
	return vk_classes_copy(&r->h, &names, e);
}

int vk_model_tool_open(vk_model_tool *t, const char *model_path, const char *label_arg,
		       int batch, int input, const char *input_path, vk_error *e)
{
	memset(t, 0, sizeof *t);
	if (vk_model_load(model_path, &t->m, &t->rec, NULL, e))
		return -1;
	int label;
	if (input != VK_INPUT_NONE && vk_autoregressive(&t->m.a)) {
		vk_fail(e, "%s is a %s, a prior over code maps: it neither encodes nor decodes "
			   "(vae-sample draws code maps from it, kl-eval measures it)",
			model_path, vk_kind_name(t->m.a.kind));
		goto fail;
	}
	if (resolve_label(t, label_arg, model_path, &label, e) ||
	    vk_check_label_option(&t->m, label, model_path, e) ||
	    vk_work_alloc(&t->w, &t->m, batch, e))
		goto fail;
	if (input != VK_INPUT_NONE) {
		if (ts_reader_open(&t->r, input_path, e))
			goto fail;
		t->input = input;
		if (input == VK_INPUT_LATENTS &&
		    (t->codes = vk_code_stream(&t->m, &t->r.h, t->r.name, e)) < 0)
			goto fail;
		if (input == VK_INPUT_IMAGES ? vk_check_input(&t->m, &t->r.h, t->r.name, e)
		    : t->codes		     ? 0
					     : check_latents(&t->m, &t->r.h, label, t->r.name, e))
			goto fail;
		if (vk_match_stream_classes(&t->m, &t->rec, model_path, &t->r, e))
			goto fail;
	}
	t->label = label;
	return 0;
fail:
	vk_model_tool_close(t);
	return -1;
}

void vk_model_tool_close(vk_model_tool *t)
{
	if (t->input != VK_INPUT_NONE)
		ts_reader_close(&t->r);
	vk_work_free(&t->w);
	vk_model_free(&t->m);
	t->input = VK_INPUT_NONE;
}

int vk_write_stream(const char *path, const ts_header *h,
		    int (*work)(ts_writer *w, void *arg, vk_error *e), void *arg, vk_error *e)
{
	ts_writer w;
	if (ts_writer_open(&w, path, h, e))
		return -1;
	if (work(&w, arg, e)) {
		ts_writer_abort(&w);
		return -1;
	}
	return ts_writer_close(&w, e);
}

int vk_model_tool_map(vk_model_tool *t, size_t width, vk_map_fn map, void *arg,
		      ts_writer *w, vk_error *e)
{
	vk_model *m = &t->m;
	int batch = t->w.cap;
	size_t in = t->codes ? ts_elems(&t->r.h)
		    : t->input == VK_INPUT_LATENTS ? (size_t)m->a.latent : (size_t)m->a.input_size;
	float *x = malloc(sizeof(float) * batch * in);
	int32_t *labels = malloc(sizeof(int32_t) * batch);
	size_t got;
	int rc = 0;
	if (!x || !labels)
		rc = vk_fail(e, "out of memory for a batch of %d records", batch);
	for (uint64_t first = 0; !rc; first += got) {
		if ((rc = ts_read_batch_f32(&t->r, x, labels, batch, &got, e)) || !got)
			break;
		for (size_t i = 0; t->label >= 0 && i < got; i++)
			labels[i] = t->label;
		if ((rc = vk_check_labels(m, labels, got, first, t->r.name, e)))
			break;
		for (size_t i = 0; t->codes && !rc && i < got * in; i++)
			if (!(x[i] >= 0 && x[i] < m->a.codes)) /* i32 values, read exactly */
				rc = vk_fail(e, "%s: record %llu: code %.0f is not one of the model's %d "
					     "codes (0 to %d)", t->r.name,
					     (unsigned long long)(first + i / in + 1), x[i], m->a.codes,
					     m->a.codes - 1);
		if (rc)
			break;
		const float *out = map(t, x, labels, (int)got, arg);
		for (size_t i = 0; i < got && !rc; i++)
			rc = ts_write_f32(w, out + i * width, labels[i], e);
	}
	free(x);
	free(labels);
	return rc;
}

int vk_latent_stream(const ts_header *h, const char *name, int max_z, int *z, int *logvar,
		     vk_error *e)
{
	char kind[64], shape[64];
	*logvar = 0;
	if (ts_meta_get(h, "kind", kind, sizeof kind)) {
		*logvar = !strcmp(kind, "latent+logvar");
		if (!*logvar && strcmp(kind, "latent"))
			return vk_fail(e, "%s: kind=%s is not a stream of latent vectors; encode it "
				       "first with vae-encode -m MODEL", name, kind);
	}
	size_t n = ts_elems(h);
	if (h->rank != 1 || h->dtype == TS_U8)
		return vk_fail(e, "%s: records of shape %s (%s) are not latent vectors (rank 1, "
			       "f32 or f64)", name, ts_shape_str(h, shape, sizeof shape),
			       ts_dtype_name(h->dtype));
	if (*logvar && n % 2)
		return vk_fail(e, "%s: a latent+logvar record has an even number of values, not "
			       "%zu", name, n);
	size_t w = *logvar ? n / 2 : n;
	if (w > (size_t)max_z)
		return vk_fail(e, "%s: latent vectors of %zu values (at most %d)", name, w, max_z);
	*z = (int)w;
	return 0;
}

float *vk_read_latents(ts_reader *r, int z, int logvar, size_t *n, vk_error *e)
{
	size_t cap = 1024, stride = (size_t)z * (logvar ? 2 : 1);
	float *x = malloc(sizeof(float) * cap * z), *rec = malloc(sizeof(float) * stride);
	int rc;
	*n = 0;
	if (!x || !rec) {
		vk_fail(e, "out of memory reading %s", r->name);
		goto bad;
	}
	while ((rc = ts_read_f32(r, rec, NULL, e)) == 1) {
		if (*n == cap) {
			float *g = cap > (SIZE_MAX / 2) / sizeof(float) / z
					   ? NULL : realloc(x, sizeof(float) * 2 * cap * z);
			if (!g) {
				vk_fail(e, "out of memory reading %s (%zu vectors)", r->name, *n);
				goto bad;
			}
			x = g;
			cap *= 2;
		}
		memcpy(x + *n * z, rec, sizeof(float) * z);
		++*n;
	}
	if (rc < 0)
		goto bad;
	free(rec);
	return x;
bad:
	free(x);
	free(rec);
	return NULL;
}
