/* The F:K:S family shared by the conv and deconv kinds (conv_family.c): their
 * text, checks, geometry, initialisation, kernel calls and model-file row. */
#ifndef VK_CONV_FAMILY_H
#define VK_CONV_FAMILY_H

#include "layers.h"

int vk_fks_parse(vk_layer_spec *s, int nargs, const char *const *arg, const char *const *end,
		 const char *text, vk_error *e);
void vk_fks_print(const vk_layer_spec *s, char *buf, size_t n);
int vk_fks_check(const vk_layer_spec *s, vk_error *e);
int vk_fks_build(vk_layer *l, int kind, vk_error *e);
size_t vk_fks_workspace(const vk_layer *l, int cap);
void vk_fks_init(const vk_layer *l, float *P, float *S, vk_rng *rng);
void vk_fks_forward(const vk_layer *l, float *const *y, float *const *priv, const float *x,
		    int n, const vk_pass *p);
void vk_fks_backward(const vk_layer *l, float *dx, float *dy, const float *x, float *const *y,
		     float *const *priv, int n, const vk_pass *p);
void vk_fks_put_row(const vk_layer_spec *s, uint32_t row[VK_LAYER_ROW_WORDS]);
int vk_fks_get_row(const uint32_t row[VK_LAYER_ROW_WORDS], vk_layer_spec *s);

#endif
