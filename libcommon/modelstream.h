/* Glue between models and tensor streams: the headers a model's tools write,
 * and the checks that a stream fits a model. */
#ifndef VK_MODELSTREAM_H
#define VK_MODELSTREAM_H

#include "model.h"
#include "stream.h"

/* A stream of images shaped like the model's input (f32, or u8 when u8). */
int vk_image_header(ts_header *h, const vk_model *m, int u8, int labels, vk_error *e);
/* A stream of rank-1 vectors of width (f32). */
int vk_vector_header(ts_header *h, int width, int labels, vk_error *e);
/* Copy metadata from src and record the model's file name and the kind. */
int vk_stamp_meta(ts_header *h, const ts_header *src, const char *model_path,
		  const char *kind, vk_error *e);

/* The stream's records have the model's input size (any shape of that size). */
int vk_check_input(const vk_model *m, const ts_header *h, const char *name, vk_error *e);
/* For a cvae: labels of a batch are in the model's classes. first is the
 * index of the batch's first record, for the message. */
int vk_check_labels(const vk_model *m, const int32_t *labels, int n, uint64_t first,
		    const char *name, vk_error *e);

/* A model program's model: load MODEL and check its --label K against it
 * (K < 0: not given; only a cvae takes one, and K must be one of its
 * classes). On any error, print it and exit 1. */
void vk_load_tool_model(const char *path, int label, vk_model *m);

#endif
