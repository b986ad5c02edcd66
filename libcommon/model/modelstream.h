/* Glue between models and tensor streams: the headers a model's tools write,
 * and the checks that a stream fits a model. */
#ifndef VK_MODELSTREAM_H
#define VK_MODELSTREAM_H

#include "model.h"
#include "modelfile.h"
#include "stream.h"

/* A stream of images shaped like the model's input (f32, or u8 when u8). */
int vk_image_header(ts_header *h, const vk_model *m, int u8, int labels, vk_error *e);
/* A stream of rank-1 vectors of width (f32). */
int vk_vector_header(ts_header *h, int width, int labels, vk_error *e);
/* A stream of code maps of a discrete model (a vqvae): i32, one H'×W' map
 * of code indices a record (a flat code: one index, rank 1); vk_stamp_meta
 * with kind "codes" adds codebook=K and the model's identity. */
int vk_codes_header(ts_header *h, const vk_model *m, int labels, vk_error *e);
/* A stream with a codebook key (i32) is a code-map stream: 1 when h is one
 * and fits m (its codebook size and map shape), 0 when h is no code stream,
 * -1 with a message naming the stream when it is one that does not fit. */
int vk_code_stream(const vk_model *m, const ts_header *h, const char *name, vk_error *e);
/* Copy metadata from src and record the model's file name and the kind; a
 * stream of latent vectors (kind latent or latent+logvar) also gets
 * model_id, the model's identity (vk_model_identity, 16 hex digits), and any
 * other stream loses the one its input had; so do code maps (kind codes),
 * which also get codebook=K, a key no other stream keeps. */
int vk_stamp_meta(ts_header *h, const ts_header *src, const char *model_path,
		  const vk_model *m, const char *kind, vk_error *e);

/* The one rule for "does this stream fit this model", for every program: a
 * model whose first encoder layer is dense takes records of any shape with
 * its input's number of values (they are flattened); a model whose first
 * layer is a convolution needs records of its exact H×W×C (H×W is H×W×1).
 * A cvae needs labelled records. */
int vk_check_input(const vk_model *m, const ts_header *h, const char *name, vk_error *e);
/* For a cvae: labels of a batch are in the model's classes. first is the
 * index of the batch's first record, for the message. */
int vk_check_labels(const vk_model *m, const int32_t *labels, size_t n, uint64_t first,
		    const char *name, vk_error *e);
/* A --label K option (K < 0: not given) against the model: only a cvae takes
 * one, and K must be one of its classes. */
int vk_check_label_option(const vk_model *m, int label, const char *model_path, vk_error *e);

/* What vae-encode, vae-decode, vae-sample and vae-interp open: the model
 * (its --label checked), its batch buffers, and the input stream: none,
 * images (checked by vk_check_input) or latent vectors of the model's latent
 * size (labelled for a cvae unless --label is given), or, for a discrete
 * model, code maps (t->codes set). */
enum { VK_INPUT_NONE, VK_INPUT_IMAGES, VK_INPUT_LATENTS };
typedef struct {
	vk_model m;
	vk_trainrec rec;    /* its training record: the data's metadata, class names */
	vk_work w;
	ts_reader r;        /* when the input is not VK_INPUT_NONE */
	int input;
	int label;          /* --label resolved to a class index, or -1 */
	int codes;          /* VK_INPUT_LATENTS: the input is code maps (vk_code_stream),
			     * each value checked to be one of the model's codes */
} vk_model_tool;

/* label_arg: --label as given (NULL when absent): a class index, or a class
 * name from the training data's metadata (class.I=NAME, tensor-stream(5)). */
int vk_model_tool_open(vk_model_tool *t, const char *model_path, const char *label_arg,
		       int batch, int input, const char *input_path, vk_error *e);
/* The training data's metadata (a model's description) as a header's
 * metadata, for the class-name helpers (classes.h). */
void vk_trainrec_meta(const vk_trainrec *rec, ts_header *h);
/* Copy the class names of t's training data (classes=, class.I=) into h. */
int vk_model_tool_class_names(const vk_model_tool *t, ts_header *h, vk_error *e);
void vk_model_tool_close(vk_model_tool *t);

/* A stream of latent vectors as vae-encode writes them: rank 1, f32 or f64,
 * kind=latent (Z values a record), kind=latent+logvar (μ then log σ²: 2Z) or
 * no kind (Z values). *z gets Z (at most max_z), *logvar whether log σ²
 * follows μ. An error names the stream and what it holds instead. */
int vk_latent_stream(const ts_header *h, const char *name, int max_z, int *z, int *logvar,
		     vk_error *e);
/* Every vector of such a stream (μ alone for latent+logvar): (n, z), malloc'd;
 * NULL on failure (e set). */
float *vk_read_latents(ts_reader *r, int z, int logvar, size_t *n, vk_error *e);

/* The tails of the model's filters, once. */
/* Open the output path (NULL or "-": standard output) with header h, let work
 * write its records, and close it; on any failure the output is abandoned
 * (ts_writer_abort: nothing half-written is left) and -1 returned. */
int vk_write_stream(const char *path, const ts_header *h,
		    int (*work)(ts_writer *w, void *arg, vk_error *e), void *arg, vk_error *e);
/* Every record of t's input (images, or latent vectors), a batch of t's
 * capacity at a time, through map, whose out (n, width) rows are written to w
 * with their labels: t->label replaces the stream's labels when given, and a
 * conditional model's labels are checked first. */
typedef const float *(*vk_map_fn)(vk_model_tool *t, const float *in, const int32_t *labels,
				  int n, void *arg);
int vk_model_tool_map(vk_model_tool *t, size_t width, vk_map_fn map, void *arg,
		      ts_writer *w, vk_error *e);
/* A cvae's labels are its classes: when both its training data (rec) and the
 * stream r name their classes, r's labels are matched to the model's by name
 * (relabelled as they are read, and r's header then names the model's
 * classes, so what is copied from it downstream is true); a class of the
 * stream the model does not have is an error listing both. A second model
 * on the same reader (kl-eval -m A -m B) must number the classes as the
 * first did. Nothing happens for other models or unnamed classes. */
int vk_match_stream_classes(const vk_model *m, const vk_trainrec *rec, const char *model_path,
			    ts_reader *r, vk_error *e);

#endif
