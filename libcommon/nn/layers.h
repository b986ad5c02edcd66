/* Layer lists: the typed layers a network is made of, their text form
 * (`dense:400/relu,conv:32:3:2`), the shape rule, the built layer with its
 * parameter and state offsets, and the one forward and one backward walk
 * over a list. What each kind does lives in its own file (layer_dense.c,
 * layer_conv.c, ...) behind one ops struct, vk_layer_ops; the registry
 * (kinds.h, kinds.c) lists the kinds. Nothing here or above tests a kind.
 *
 * A kind may wrap a sub-list (its body, e.g. a residual block): the body's
 * layers are built into the same array after the list's own layers (at
 * l + l->body), their outputs and private buffers likewise, and the kind
 * walks its body with vk_list_forward/vk_list_backward. */
#ifndef VK_LAYERS_H
#define VK_LAYERS_H

#include <stddef.h>
#include <stdint.h>

#include "conv.h"
#include "err.h"
#include "reduce.h"
#include "rng.h"
#include "shape.h"

/* Entries one built list may hold: its layers, the model's head or output
 * layer, and the bodies of the layers that wrap a sub-list. */
#define VK_MAX_BODY 4
#define VK_MAX_ENTRIES ((VK_MAX_LAYERS + 1) * (1 + VK_MAX_BODY))
#define VK_LAYER_ROW_WORDS 8

/* One layer as the user writes it. */
typedef struct {
	int kind;          /* the kind's id (vk_layer_ops.id): its number in model files */
	int act;           /* enum vk_act, applied to the layer's output */
	int units;         /* dense: outputs; conv, deconv: filters */
	int k, s;          /* conv, deconv: kernel side and stride */
	vk_shape reshape;  /* dense:HxWxC: the output is an image (h > 0), else h = 0 */
	float f[2];        /* a kind's real-valued arguments (scale:A) */
	int norm;          /* res:F:K:bn: 1, batch norm after each of the block's convs */
} vk_layer_spec;

struct vk_layer_ops;

/* A layer of a built list: its spec, shapes, and where its parameters and
 * state lie in the model's blocks. */
typedef struct vk_layer {
	vk_layer_spec spec;
	const struct vk_layer_ops *ops;
	vk_shape in, out;             /* in excludes the label columns */
	int label_in;                 /* the CVAE's one-hot is appended to the input (or,
				       * for a label_bias kind, its classes' biases) */
	int n_in, n_out;              /* values in (with the label) and out, per record */
	size_t w, b, n_w;             /* offsets of the weights and bias in params; weights */
	size_t n_params;              /* parameters in all, from w (its body's not counted) */
	size_t st, n_st;              /* offset and size of its state (running statistics) */
	int body, n_body;             /* a wrapper's body: entries l + body .. l + body + n_body */
	vk_conv_geom g;               /* conv and deconv: the lowering's geometry */
} vk_layer;

/* One pass over a list: the model's blocks and the mode. */
typedef struct vk_pass {
	const float *P;               /* parameters */
	float *G;                     /* parameter gradients (backward: written, not added) */
	float *S;                     /* layer state: running statistics */
	float *scratch;               /* shared workspace (the largest ops->workspace) */
	int train;                    /* 1: training (batch statistics); 0: eval (running ones) */
	int update_state;             /* training: move the running statistics in S */
	/* A training batch cut into slices (threads, ranks): a kind that needs
	 * the whole batch's sums (batchnorm) gets them by vk_reduce(red, slice,
	 * ...), at most its n_st + 1 values a call; red NULL: this pass is the
	 * whole batch. Every slice runs every pass, rows or none. */
	vk_reducer *red;
	int slice;
	/* The CVAE's one-hot: the layer with label_in reads cat = [x | label]. */
	float *cat;
	void (*put_label)(const struct vk_pass *p, float *dst, int ld, int col, int n);
	const void *label_ctx;
	const int32_t *labels;
} vk_pass;

/* A layer kind. Shapes in comments are per batch of n records. */
typedef struct vk_layer_ops {
	const char *name;             /* KIND in the text form */
	int id;                       /* its number in model files; never reused */
	const char *usage;            /* "dense:N, dense:HxWxC"; NULL: not listed (test kinds) */
	/* One or two specs with smooth activations that fit a small image
	 * (5×4×3): every kind's gradient is checked on them (tests/test_kinds.c). */
	const char *example;
	/* 1: reads its input as one flat vector (an image is flattened, no copy),
	 * so it takes the CVAE's label columns and any input of the right size. */
	int flat;
	/* 1: normalises the layer before it, so a model's list may not start
	 * with it (model.c refuses that). */
	int follows;
	/* 1: takes a conditional model's class as a learned bias of each class
	 * (C·F parameters of its own, after its bias) added to every output
	 * position before the activation, not as input columns: label_in is
	 * then C, n_in the input's size alone, and the pass's labels are read
	 * by forward and backward both (conditional PixelCNN's V·h). */
	int label_bias;
	/* An image layer's causal order in raster order (NULL: none, it sees
	 * later positions too): 0, output position p sees input positions up to
	 * p; 1, only those before p. An autoregressive model's list must be all
	 * ordered and hold at least one 1 (model.c). */
	int (*order)(const vk_layer_spec *s);
	/* args[0..nargs) are the ':'-separated fields after KIND in text. */
	int (*parse)(vk_layer_spec *s, int nargs, const char *const *arg, const char *const *end,
		     const char *text, vk_error *e);
	/* "dense:400" (without the activation). */
	void (*print)(const vk_layer_spec *s, char *buf, size_t n);
	/* Every field in range (a spec read from a file); a message without prefix. */
	int (*check)(const vk_layer_spec *s, vk_error *e);
	/* The output shape on input in, or -1 with a message. */
	int (*shape)(const vk_layer_spec *s, vk_shape in, vk_shape *out, vk_error *e);
	/* The decoder's counterpart of an encoder layer on input in, prev the
	 * encoder layer before it (NULL for the first): 1 or 2 specs into dec.
	 * NULL: the layer itself. */
	int (*mirror)(const vk_layer_spec *s, vk_shape in, const vk_layer_spec *prev,
		      vk_layer_spec *dec);
	/* A wrapper's body on input in: up to VK_MAX_BODY specs; NULL: none. */
	int (*body)(const vk_layer_spec *s, vk_shape in, vk_layer_spec *body);
	/* With spec, in, out, n_in, n_out set: n_w, n_params, n_st, geometry
	 * (NULL: no parameters, no state). */
	int (*build)(vk_layer *l, vk_error *e);
	/* Floats of shared workspace for batches of cap (NULL: none). */
	size_t (*workspace)(const vk_layer *l, int cap);
	/* Floats of private buffers kept from forward to backward (NULL: none). */
	size_t (*priv)(const vk_layer *l, int cap);
	/* Initial parameters at P + l->w and state at S + l->st (NULL: none). */
	void (*init)(const vk_layer *l, float *P, float *S, vk_rng *rng);
	/* y[0] (n, n_out) = layer(x (n, n_in)); y[l->body..] its body's outputs,
	 * priv[0] its private buffer. */
	void (*forward)(const vk_layer *l, float *const *y, float *const *priv, const float *x,
			int n, const vk_pass *p);
	/* Given dy (n, n_out), overwritten: parameter gradients into p->G at the
	 * layer's offsets, dx (n, n_in) unless NULL. x, y, priv as forward left them. */
	void (*backward)(const vk_layer *l, float *dx, float *dy, const float *x, float *const *y,
			 float *const *priv, int n, const vk_pass *p);
	/* The model file's row (eight u32): words 0, 1 and 5-7 (id, activation,
	 * output h, w, c) are written and checked by the list; the kind fills
	 * and reads words 2-4, -1 when a word is out of its range. */
	void (*put_row)(const vk_layer_spec *s, uint32_t row[VK_LAYER_ROW_WORDS]);
	int (*get_row)(const uint32_t row[VK_LAYER_ROW_WORDS], vk_layer_spec *s);
} vk_layer_ops;

/* The kind of a spec, or NULL when its id is unknown. */
const vk_layer_ops *vk_layer_ops_of(const vk_layer_spec *s);
const char *vk_layer_kind_name(int kind);
/* "dense:400/relu", "conv:32:3:2/relu", "dense:7x7x64/relu". */
char *vk_layer_spec_str(const vk_layer_spec *s, char *buf, size_t n);

/* Parse a comma list of KIND:ARGS[/ACT] into out (at most max layers), the
 * kinds as the registry lists them; ACT relu, leaky, tanh, sigmoid or
 * identity, default_act when absent. */
int vk_layers_parse(const char *text, int default_act, vk_layer_spec *out, int max, int *n,
		    vk_error *e);
/* Check a spec's fields (from a file): the kind known, every field in range. */
int vk_layer_check(const vk_layer_spec *s, vk_error *e);

/* For the image kinds' shape rules: -1 with a message naming the layer
 * unless in is an image and, when k > 0, a k×k "same"-padded kernel fits it. */
int vk_layer_needs_image(const vk_layer_spec *s, vk_shape in, int k, vk_error *e);

/* The output shape of one layer on input shape in, or -1 with a message. */
int vk_layer_out_shape(const vk_layer_spec *s, vk_shape in, vk_shape *out, vk_error *e);

/* The decoder that mirrors an encoder on input shape in: each kind gives its
 * counterpart in reverse order (conv:C:K:S becomes deconv:C:K:S, a dense
 * layer stays, and where it flattened an image a dense:HxWxC goes back to
 * it); an encoder ending on an image starts the decoder with a dense layer
 * shaped as that image. */
int vk_layers_mirror(const vk_layer_spec *enc, int n, vk_shape in, vk_layer_spec *dec,
		     int *n_dec, vk_error *e);

/* Build entry L[i] of spec s on input shape in (label columns appended),
 * its parameters at *at and state at *st (both advanced), and its body,
 * if any, at L[*end..] (*end advanced; at most cap entries in all). A
 * message without prefix on failure. */
int vk_list_add(vk_layer *L, int i, int *end, int cap, const vk_layer_spec *s, vk_shape in,
		int label, size_t *at, size_t *st, vk_error *e);
/* Initial parameters and state of a list's nl layers and their bodies. */
void vk_list_init(const vk_layer *L, int nl, float *P, float *S, vk_rng *rng);
/* Parameters and state floats of a layer with its body's. */
size_t vk_layer_params_all(const vk_layer *l);
size_t vk_layer_state_all(const vk_layer *l);
/* Largest shared workspace and the private floats of entry i, for batches of cap. */
size_t vk_layer_workspace(const vk_layer *l, int cap);
size_t vk_layer_priv(const vk_layer *l, int cap);

/* The one forward walk: acts[i] (n, L[i].n_out) = layer i of its input, the
 * first layer's input x (n, L[0].n_in less any label); returns acts[nl−1]. */
const float *vk_list_forward(const vk_layer *L, int nl, float *const *acts,
			     float *const *priv, const float *x, int n, const vk_pass *p);
/* The one backward walk: from g (n, L[nl−1].n_out), the gradient w.r.t. the
 * list's output, each layer's parameter gradients into p->G; returns the
 * gradient w.r.t. x (n, L[0].n_in less any label) when want_dx, else NULL.
 * g and other (each as wide as the widest entry) are ping-pong buffers,
 * both overwritten; the result is one of them. */
float *vk_list_backward(const vk_layer *L, int nl, float *const *acts, float *const *priv,
			const float *x, float *g, float *other, int want_dx, int n,
			const vk_pass *p);

/* The eight-u32 row of a built layer in a model file, and a spec from one
 * (-1 with a message when the kind is unknown or a field out of range). */
void vk_layer_put_row(const vk_layer *l, uint32_t row[VK_LAYER_ROW_WORDS]);
int vk_layer_get_row(const uint32_t row[VK_LAYER_ROW_WORDS], vk_layer_spec *s, vk_error *e);

/* For the kinds: a positive decimal integer of at most max, the whole of
 * [p, end); split [p, end) at sep into at most max fields (max + 1 when
 * more). */
int vk_parse_int(const char *p, const char *end, int max, int *v);
int vk_split(const char *p, const char *end, char sep, const char **start, const char **stop,
	     int max);

/* Specs the model builds itself and vae-train's --hidden: a dense layer
 * (reshape h = 0 for a flat output), a deconv. */
vk_layer_spec vk_dense_spec(int units, vk_shape reshape, int act);
vk_layer_spec vk_deconv_spec(int filters, int k, int s, int act);
/* A masked convolution (layer_mconv.c): type A (type_b 0) or B. */
vk_layer_spec vk_mconv_spec(int filters, int k, int type_b, int act);

#endif
