#include "modelstream.h"

#include "modelfile.h"

#include <string.h>

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

int vk_stamp_meta(ts_header *h, const ts_header *src, const char *model_path,
		  const char *kind, vk_error *e)
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
	return 0;
}

int vk_check_input(const vk_model *m, const ts_header *h, const char *name, vk_error *e)
{
	char shape[64];
	if (ts_elems(h) != (size_t)m->a.input_size)
		return vk_fail(e, "%s: records of shape %s (%zu values) do not match the model's "
				  "input of %d values",
			       name, ts_shape_str(h, shape, sizeof shape), ts_elems(h),
			       m->a.input_size);
	if (m->a.kind == VK_CVAE && !h->has_labels)
		return vk_fail(e, "%s: the stream has no labels, which a conditional model needs",
			       name);
	return 0;
}

int vk_check_labels(const vk_model *m, const int32_t *labels, int n, uint64_t first,
		    const char *name, vk_error *e)
{
	if (m->a.kind != VK_CVAE)
		return 0;
	for (int i = 0; i < n; i++)
		if (labels[i] < 0 || labels[i] >= m->a.classes)
			return vk_fail(e, "%s: record %llu has label %d, outside the model's "
					  "classes 0..%d",
				       name, (unsigned long long)(first + i), labels[i],
				       m->a.classes - 1);
	return 0;
}

static int check_label_option(const vk_model *m, int label, const char *model_path, vk_error *e)
{
	if (label < 0)
		return 0;
	if (m->a.kind != VK_CVAE)
		return vk_fail(e, "--label: %s is not a conditional model", model_path);
	if (label >= m->a.classes)
		return vk_fail(e, "--label: %d is outside the model's classes 0..%d", label,
			       m->a.classes - 1);
	return 0;
}

void vk_load_tool_model(const char *path, int label, vk_model *m)
{
	vk_error e;
	if (vk_model_load(path, m, NULL, NULL, &e) || check_label_option(m, label, path, &e))
		vk_die_error(&e);
}
