/* The registry of layer kinds: every kind the library knows, by its number
 * in model files and by its name in the layer text. A new kind is one file
 * (its vk_layer_ops) and one line in kinds.c. */
#ifndef VK_KINDS_H
#define VK_KINDS_H

#include "layers.h"

/* The kind with this model-file id or text name, or NULL. */
const vk_layer_ops *vk_layer_kind_by_id(int id);
const vk_layer_ops *vk_layer_kind_by_name(const char *name);
/* The i-th registered kind (0 ≤ i < vk_layer_kind_count()). */
int vk_layer_kind_count(void);
const vk_layer_ops *vk_layer_kind_at(int i);
/* The listed kinds' names ("dense, conv or deconv"), for messages. */
const char *vk_layer_kinds_names(void);
/* Their usage ("dense:N, dense:HxWxC, conv:C:K:S, ..."), for help: lines of
 * at most width columns, each indented by indent, the last ending in a
 * newline; returns buf. */
char *vk_layer_kinds_usage(char *buf, size_t n, int indent, int width);

#endif
