#include "run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "afile.h"
#include "dist.h"
#include "guard.h"
#include "latents.h"
#include "modelstream.h"
#include "objective.h"

void vk_recipe_default(vk_recipe *r)
{
	memset(r, 0, sizeof *r);
	r->arch = (vk_arch){.kind = VK_VAE, .latent = 20, .likelihood = VK_BERNOULLI, .sigma = 0.1f};
	r->arch.enc[0] = vk_dense_spec(400, (vk_shape){0}, VK_RELU);
	r->arch.n_enc = 1;
	r->train = (vk_trainrec){.seed = 1, .batch = 128, .optimizer = VK_OPT_ADAM, .lr = 1e-3f,
				 .beta = 1.0f};
	r->epochs = 10;
	r->threads = 1;
}

/* ---- the model ---- */

/* A PixelCNN over the stream's code maps: the codebook size from --codes or
 * the stream's codebook key; the default layers embed each one-hot code by a
 * 1×1 type B convolution (cheaper than a wide kernel on K channels), then a
 * 7×7 type A and five 3×3 type B layers (a receptive field over the whole of
 * a map up to 11×11 above and to the left); the model adds the output layer,
 * mconv:K:1:B to the logits. */
static int build_prior_arch(vk_arch *a, const vk_recipe *r, const vk_dataset *d, vk_error *e)
{
	char buf[32], sh[64];
	const char *meta = ts_meta_get(&d->h, "codebook", buf, sizeof buf);
	if (meta) {
		char *end;
		long k = strtol(meta, &end, 10);
		if (*end || k < 2 || k > VK_MAX_CODES)
			return vk_fail(e, "training data: codebook=%s is not a codebook size 2 to %d",
				       meta, VK_MAX_CODES);
		if (a->codes && a->codes != k)
			return vk_fail(e, "--codes %d, but the training data's codebook size is %ld",
				       a->codes, k);
		a->codes = (int)k;
	}
	if (!a->codes)
		return vk_fail(e, "cannot tell the codebook size: the training data has no "
				  "codebook= key; use --codes K");
	if (d->h.rank != 2 && (d->h.rank != 3 || d->h.dims[2] != 1))
		return vk_fail(e, "a pixelcnn models H×W code maps; the data's records are %s",
			       ts_shape_str(&d->h, sh, sizeof sh));
	a->latent = 0;
	a->n_enc = 0;
	vk_error why;
	if (!r->decoder_given &&
	    vk_layers_parse("mconv:64:1:B/identity,mconv:64:7:A,mconv:64:3:B,mconv:64:3:B,"
			    "mconv:64:3:B,mconv:64:3:B,mconv:64:3:B",
			    VK_RELU, a->dec, VK_MAX_LAYERS, &a->n_dec, &why))
		return vk_fail(e, "pixelcnn: %s", why.msg);
	return 0;
}

/* The layer lists of the recipe, once the data's shape is known. */
static int build_arch(vk_arch *a, const vk_recipe *r, const vk_dataset *d, vk_error *e)
{
	*a = r->arch;
	vk_arch_set_input(a, d->h.rank, d->h.dims);
	if (a->input_size < 0)
		return vk_fail(e, "records of %zu values are too large (limit %d)", d->dim,
			       VK_MAX_VALUES);
	vk_shape in = vk_arch_input_shape(a);
	char dec[256];
	int vq = vk_latent_of(a)->map;
	if (vk_autoregressive(a)) {
		if (build_prior_arch(a, r, d, e))
			return -1;
	} else if (r->conv) {
		/* Keras' VAE example (keras-io examples/generative/vae.py) for any H×W×C
		 * with sides divisible by 4; the output deconv:C:3:1 is the model's own. */
		if (!vk_shape_is_image(in) || in.h % 4 || in.w % 4)
			return vk_fail(e, "--arch conv needs images whose sides are divisible by 4; "
					  "the data's records are %s",
				       ts_shape_str(&d->h, dec, sizeof dec));
		snprintf(dec, sizeof dec, "dense:%dx%dx64,deconv:64:3:2,deconv:32:3:2", in.h / 4,
			 in.w / 4);
		vk_error why;
		char enc[96];
		/* a vqvae's code is the 7x7xD map of a 1x1 conv, decoded from there */
		snprintf(enc, sizeof enc, vq ? "conv:32:3:2,conv:64:3:2,conv:%d:1:1/identity"
					     : "conv:32:3:2,conv:64:3:2,dense:16", a->latent);
		if (vq)
			snprintf(dec, sizeof dec, "deconv:64:3:2,deconv:32:3:2");
		if (vk_layers_parse(enc, VK_RELU, a->enc, VK_MAX_LAYERS, &a->n_enc, &why) ||
		    vk_layers_parse(dec, VK_RELU, a->dec, VK_MAX_LAYERS, &a->n_dec, &why))
			return vk_fail(e, "--arch conv: %s", why.msg);
	} else if (r->resnet) {
		/* pythae's MNIST ResNet VAE (Encoder_ResNet_VAE_MNIST,
		 * Decoder_ResNet_AE_MNIST), for any H×W×C: three stride-2 convs
		 * (sides ⌈H/2⌉, ⌈H/4⌉, ⌈H/8⌉), two residual blocks; the decoder
		 * back through the same sides, its last deconv:C:3:2:HxW the
		 * model's output layer. Without activations where pythae has none. */
		if (!vk_shape_is_image(in) || in.h < 8 || in.w < 8)
			return vk_fail(e, "--arch resnet needs images of at least 8x8; the data's "
					  "records are %s",
				       ts_shape_str(&d->h, dec, sizeof dec));
		int h1 = (in.h + 1) / 2, w1 = (in.w + 1) / 2, h2 = (h1 + 1) / 2, w2 = (w1 + 1) / 2;
		int h3 = (h2 + 1) / 2, w3 = (w2 + 1) / 2;
		/* A vqvae: pythae's Encoder_ResNet_VQVAE_MNIST and
		 * Decoder_ResNet_VQVAE_MNIST, the same but for a 1x1 conv to the
		 * code's D channels (pre_qantized) and a 1x1 deconv back from it. */
		char first[48], enc[160];
		if (vq)
			snprintf(first, sizeof first, "deconv:128:1:1/identity");
		else
			snprintf(first, sizeof first, "dense:%dx%dx128/identity", h3, w3);
		snprintf(dec, sizeof dec,
			 "%s,deconv:128:3:2:%dx%d/identity,res:32:3/identity,"
			 "res:32:3/relu,deconv:64:3:2:%dx%d/relu",
			 first, h2, w2, h1, w1);
		snprintf(enc, sizeof enc, "conv:64:4:2/identity,conv:128:4:2/identity,"
			 "conv:128:3:2/identity,res:32:3/identity,res:32:3/identity%s", vq ? "," : "");
		if (vq)
			snprintf(enc + strlen(enc), sizeof enc - strlen(enc), "conv:%d:1:1/identity",
				 a->latent);
		vk_error why;
		if (vk_layers_parse(enc, VK_RELU, a->enc, VK_MAX_LAYERS, &a->n_enc, &why) ||
		    vk_layers_parse(dec, VK_RELU, a->dec, VK_MAX_LAYERS, &a->n_dec, &why))
			return vk_fail(e, "--arch resnet: %s", why.msg);
	} else if (!r->decoder_given) {
		vk_error why;
		if (vk_layers_mirror(a->enc, a->n_enc, in, a->dec, &a->n_dec, &why))
			return vk_fail(e, "--encoder: %s", why.msg);
		/* a vqvae's decoder starts from the code map itself: no dense layer
		 * back to the encoder's last image */
		if (vq && a->n_dec > 0 && a->n_enc > 0 && !vk_layer_ops_of(&a->enc[a->n_enc - 1])->flat)
			memmove(a->dec, a->dec + 1, sizeof *a->dec * --a->n_dec);
	}
	if (vq && r->vq_head) {
		/* --hidden (mlp): the code is a dense layer of D after the user's */
		if (a->n_enc == VK_MAX_LAYERS)
			return vk_fail(e, "--hidden: a vqvae's code layer makes more than %d layers",
				       VK_MAX_LAYERS);
		a->enc[a->n_enc++] = vk_dense_spec(a->latent, (vk_shape){0}, VK_IDENTITY);
	}
	if (vq) {
		/* the code: the encoder's output map, H'xW'xD */
		vk_shape map;
		if (vk_arch_encoder_out(a, &map, e))
			return -1;
		if (vk_shape_size(map) > 4096)
			return vk_fail(e, "the encoder's output map %s holds %zu values; a vqvae's "
					  "code map may hold at most 4096", vk_shape_str(map, dec, sizeof dec),
				       vk_shape_size(map));
		a->latent = (int)vk_shape_size(map);
	}
	if (vk_conditional(a) && vk_dataset_require_labels(d, "training data", e))
		return -1;
	if (vk_conditional(a) && !a->classes) {
		char buf[32];
		const char *meta = ts_meta_get(&d->h, "classes", buf, sizeof buf);
		a->classes = meta ? atoi(meta) : vk_dataset_classes(d);
		if (a->classes < 1 || a->classes > VK_MAX_CLASSES)
			return vk_fail(e, "cannot tell the number of classes from the data; use "
					  "--classes");
	}
	a->label_scaled = vk_conditional(a); /* see vk_label_value */
	return 0;
}

/* A categorical model's codes: the stream's codebook size (metadata
 * codebook=K, when it has one) is the model's, and every value a code in
 * [0, K) (u8 values as the integers they are). */
static int check_codes(const vk_model *m, const vk_dataset *d, const char *what, vk_error *e)
{
	const vk_lik_kind *lik = vk_lik_of(&m->a);
	char buf[32];
	const char *meta = m->a.codes ? ts_meta_get(&d->h, "codebook", buf, sizeof buf) : NULL;
	if (meta && atol(meta) != m->a.codes)
		return vk_fail(e, "%s: codes of a codebook of %s, but the model's codebook size is %d",
			       what, meta, m->a.codes);
	if (!lik->check_rows)
		return 0;
	if (!d->is_u8)
		return lik->check_rows(&m->a, d->f32, d->n, d->dim, 0, what, e);
	float *row = malloc(sizeof(float) * d->dim + 1);
	if (!row)
		return vk_fail(e, "out of memory");
	int rc = 0;
	for (size_t r = 0; r < d->n && !rc; r++) {
		for (size_t j = 0; j < d->dim; j++)
			row[j] = d->u8[r * d->dim + j];
		rc = lik->check_rows(&m->a, row, 1, d->dim, r, what, e);
	}
	free(row);
	return rc;
}

/* The data fits the model (the library's one rule), its labels its classes,
 * a Bernoulli decoder's targets lie in [0, 1], a categorical one's are codes. */
static int check_data(const vk_model *m, const vk_dataset *d, const char *what, vk_error *e)
{
	if (vk_check_input(m, &d->h, what, e) ||
	    (d->labels && vk_check_labels(m, d->labels, d->n, 0, what, e)) ||
	    check_codes(m, d, what, e))
		return -1;
	return vk_lik_of(&m->a)->unit_targets ? vk_check_unit_targets(d, what, e) : 0;
}

/* ---- resume: the checkpoint's recipe against the options given ---- */

/* opt given as `given` where the checkpoint had `had` (NULL: trained without it). */
static int refuse(vk_error *e, const char *path, const char *opt, const char *given,
		  const char *had)
{
	char was[96];
	if (had)
		snprintf(was, sizeof was, "with %s %s", opt, had);
	else
		snprintf(was, sizeof was, "without %s", opt);
	vk_fail(e, "%s %s: %s was trained %s; on --resume the options that define the model or "
		   "the schedule come from the checkpoint (leave %s out)",
		opt, given, path, was, opt);
	return VK_RUN_USAGE;
}

static const char *fmt_g(char *buf, double v)
{
	snprintf(buf, 32, "%g", v);
	return buf;
}

static const char *fmt_u(char *buf, unsigned long long v)
{
	snprintf(buf, 32, "%llu", v);
	return buf;
}

static const char *sigma_str(char *buf, int learned, float sigma)
{
	return learned ? "learned" : fmt_g(buf, sigma);
}

static const char *schedule_str(char *buf, size_t n, const vk_trainrec *t)
{
	static const char *const names[] = {"constant", "cosine", "step", "plateau"};
	if (t->lr_schedule == VK_LR_STEP || t->lr_schedule == VK_LR_PLATEAU)
		snprintf(buf, n, "%s:%u:%g", names[t->lr_schedule], t->lr_every, t->lr_gamma);
	else
		snprintf(buf, n, "%s", names[t->lr_schedule == VK_LR_COSINE]);
	return buf;
}

/* "infovae (alpha 0, lambda 1000)" */
static const char *objective_str(char *buf, size_t n, const vk_trainrec *t)
{
	const vk_objective_kind *k = vk_objective_at((int)t->objective);
	const char *name = k ? k->name : "?";
	if (t->objective == 0)
		snprintf(buf, n, "%s", name);
	else if (k == &vk_objective_infovae)
		snprintf(buf, n, "%s (alpha %g, lambda %g)", name, t->obj_alpha, t->obj_lambda);
	else if (k == &vk_objective_tcvae)
		snprintf(buf, n, "%s (alpha %g, beta %g, gamma %g)", name, t->obj_alpha,
			 t->obj_beta, t->obj_gamma);
	else
		snprintf(buf, n, "%s (lambda %g)", name, t->obj_lambda);
	return buf;
}

/* "dense:400/relu,dense:16/relu" */
static void layers_str(char *buf, size_t n, const vk_layer_spec *s, int count)
{
	size_t at = 0;
	buf[0] = 0;
	for (int i = 0; i < count && at < n; i++) {
		char one[64];
		at += snprintf(buf + at, n - at, "%s%s", i ? "," : "",
			       vk_layer_spec_str(&s[i], one, sizeof one));
	}
	if (!count)
		snprintf(buf, n, "none");
}

/* The network the layer options describe for this data, against the checkpoint's. */
static int check_layers(const vk_recipe *r, const vk_model *m, const vk_dataset *d,
			vk_error *e)
{
	vk_arch a;
	vk_recipe own = *r;
	if (!own.arch.codes) /* a pixelcnn's codebook: the checkpoint's */
		own.arch.codes = m->a.codes;
	if (build_arch(&a, &own, d, e))
		return -1;
	char mine[200], theirs[200];
	for (int dec = 0; dec < 2; dec++) {
		layers_str(mine, sizeof mine, dec ? a.dec : a.enc, dec ? a.n_dec : a.n_enc);
		layers_str(theirs, sizeof theirs, dec ? m->a.dec : m->a.enc,
			   dec ? m->a.n_dec : m->a.n_enc);
		if (strcmp(mine, theirs)) {
			vk_fail(e, "the layer options give the %s %s: %s was trained with %s; on "
				   "--resume the network comes from the checkpoint (leave --hidden, "
				   "--encoder, --decoder, --layers, --arch and --activation out)",
				dec ? "decoder" : "encoder", mine, r->output, theirs);
			return VK_RUN_USAGE;
		}
	}
	return 0;
}

/* The run's planned --epochs, which a cosine schedule and KL cycles are
 * shaped over: TRAN's planned epochs. A file from before it (0) has it
 * recovered for a cosine schedule, as the one E whose rate for the epoch last
 * begun is the one the checkpoint ran at; before epoch 2 no rate depended on E
 * yet, so any E continues that run exactly. KL cycles cannot be recovered:
 * 0, not checked. */
static int planned_epochs(const vk_trainrec *t, int begun, int epochs)
{
	if (t->planned_epochs)
		return (int)t->planned_epochs;
	if (t->lr_schedule != VK_LR_COSINE)
		return 0;
	if (begun < 2 || vk_lr_at(t, begun, epochs) == t->lr_now)
		return epochs;
	for (int E = begun; E <= 1000000; E++)
		if (vk_lr_at(t, begun, E) == t->lr_now)
			return E;
	return -1;
}

static int check_recipe(const vk_recipe *r, const vk_model *m, const vk_trainrec *t,
			const vk_epoch_pos *pos, const vk_dataset *d, vk_error *e)
{
	const char *path = r->output;
	const vk_arch *a = &r->arch, *had = &m->a;
	const vk_trainrec *o = &r->train;
	unsigned g = r->given;
	char x[64], y[64];
	if ((g & VK_SET_KIND) && a->kind != had->kind)
		return refuse(e, path, "--model", vk_kind_name(a->kind), vk_kind_name(had->kind));
	/* a vqvae's -z is its code's D */
	int had_latent = vk_latent_of(had)->map ? m->code.c : had->latent;
	if ((g & VK_SET_LATENT) && a->latent != had_latent)
		return refuse(e, path, "--latent", fmt_u(x, a->latent), fmt_u(y, had_latent));
	unsigned cg = g & VK_SET_CODEBOOK ? r->codebook_given : 0;
	if ((cg & 1) && a->codes != had->codes)
		return refuse(e, path, "--codes", fmt_u(x, a->codes),
			      had->codes ? fmt_u(y, had->codes) : NULL);
	if ((cg & 2) && a->codebook_ema != had->codebook_ema)
		return refuse(e, path, "--codebook", a->codebook_ema ? "ema" : "loss",
			      had->codes ? had->codebook_ema ? "ema" : "loss" : NULL);
	if ((cg & 4) && a->commitment != had->commitment)
		return refuse(e, path, "--commitment", fmt_g(x, a->commitment),
			      had->codes ? fmt_g(y, had->commitment) : NULL);
	if ((cg & 8) && a->decay != had->decay)
		return refuse(e, path, "--ema-decay", fmt_g(x, a->decay),
			      had->codes ? fmt_g(y, had->decay) : NULL);
	if ((g & VK_SET_LOSS) && a->likelihood != had->likelihood)
		return refuse(e, path, "--loss", vk_likelihood_name(a->likelihood),
			      vk_likelihood_name(had->likelihood));
	int learned = (o->flags & VK_TRAIN_SIGMA_LEARNED) != 0;
	int had_learned = (t->flags & VK_TRAIN_SIGMA_LEARNED) != 0;
	if ((g & VK_SET_SIGMA) &&
	    (learned != had_learned || (!learned && a->sigma != had->sigma)))
		return refuse(e, path, "--sigma", sigma_str(x, learned, a->sigma),
			      vk_lik_of(had)->has_sigma ? sigma_str(y, had_learned, had->sigma)
							     : NULL);
	if ((g & VK_SET_CLASSES) && a->classes != had->classes)
		return refuse(e, path, "--classes", fmt_u(x, a->classes), fmt_u(y, had->classes));
	if ((g & VK_SET_LAYERS) && check_layers(r, m, d, e))
		return VK_RUN_USAGE;
	if ((g & VK_SET_BATCH) && o->batch != t->batch)
		return refuse(e, path, "--batch", fmt_u(x, o->batch), fmt_u(y, t->batch));
	if ((g & VK_SET_LR) && o->lr != t->lr)
		return refuse(e, path, "--lr", fmt_g(x, o->lr), fmt_g(y, t->lr));
	if ((g & VK_SET_OPTIMIZER) && o->optimizer != t->optimizer)
		return refuse(e, path, "--optimizer", o->optimizer == VK_OPT_SGD ? "sgd" : "adam",
			      t->optimizer == VK_OPT_SGD ? "sgd" : "adam");
	if ((g & VK_SET_BETA) && o->beta != t->beta)
		return refuse(e, path, "--beta", fmt_g(x, o->beta), fmt_g(y, t->beta));
	if ((g & VK_SET_SEED) && o->seed != t->seed)
		return refuse(e, path, "--seed", fmt_u(x, o->seed), fmt_u(y, t->seed));
	if ((g & VK_SET_WARMUP) && o->kl_warmup != t->kl_warmup)
		return refuse(e, path, "--kl-warmup", fmt_u(x, o->kl_warmup),
			      t->kl_warmup ? fmt_u(y, t->kl_warmup) : NULL);
	if ((g & VK_SET_CYCLES) && o->kl_cycles != t->kl_cycles)
		return refuse(e, path, "--kl-cycles", fmt_u(x, o->kl_cycles),
			      t->kl_cycles ? fmt_u(y, t->kl_cycles) : NULL);
	if ((g & VK_SET_FREE_BITS) && o->free_bits != t->free_bits)
		return refuse(e, path, "--free-bits", fmt_g(x, o->free_bits),
			      t->free_bits > 0 ? fmt_g(y, t->free_bits) : NULL);
	/* 0 and 1 are both the ELBO */
	if ((g & VK_SET_IW) && (o->iw_train > 1 ? o->iw_train : 1) != (t->iw_train > 1 ? t->iw_train : 1))
		return refuse(e, path, "--iw-train", fmt_u(x, o->iw_train),
			      t->iw_train > 1 ? fmt_u(y, t->iw_train) : NULL);
	if ((g & VK_SET_OBJECTIVE) &&
	    (o->objective != t->objective || o->obj_alpha != t->obj_alpha ||
	     o->obj_lambda != t->obj_lambda || o->obj_beta != t->obj_beta ||
	     o->obj_gamma != t->obj_gamma))
		return refuse(e, path, "--objective", objective_str(x, sizeof x, o),
			      objective_str(y, sizeof y, t));
	if ((g & VK_SET_SCHEDULE) &&
	    (o->lr_schedule != t->lr_schedule ||
	     (o->lr_schedule >= VK_LR_STEP &&
	      (o->lr_every != t->lr_every || o->lr_gamma != t->lr_gamma))))
		return refuse(e, path, "--lr-schedule", schedule_str(x, sizeof x, o),
			      schedule_str(y, sizeof y, t));
	/* A schedule shaped over the run's epochs keeps them (vae-train(1)). */
	const char *shape = t->lr_schedule == VK_LR_COSINE ? "the cosine learning-rate schedule"
			    : t->kl_cycles ? "the KL cycles" : NULL;
	if (shape) {
		int begun = (int)t->epochs + (pos->batches > 0);
		int E = planned_epochs(t, begun, r->epochs);
		if (E && E != r->epochs) {
			if (E > 0)
				snprintf(y, sizeof y, "over %d epochs", E);
			vk_fail(e, "--epochs %d: %s of %s runs %s; on --resume the schedule comes "
				   "from the checkpoint (give its --epochs)",
				r->epochs, shape, path, E > 0 ? y : "over another number of epochs");
			return VK_RUN_USAGE;
		}
	}
	return 0;
}

/* Without -e, a run whose schedule is shaped over its epochs (cosine, KL
 * cycles) resumes to the end of that schedule, not to the default 10. */
static void keep_planned_epochs(vk_recipe *r, const vk_trainrec *t)
{
	if (!(r->given & VK_SET_EPOCHS) && t->planned_epochs &&
	    (t->lr_schedule == VK_LR_COSINE || t->kl_cycles))
		r->epochs = (int)t->planned_epochs;
}

/* Load the checkpoint in run->r.output (MODEL.last under --early-stop) into run. */
static int open_checkpoint(vk_run *run, vk_error *e)
{
	vk_recipe *r = &run->r;
	vk_optstate saved = {0};
	vk_epoch_pos pos = {0};
	vk_trainrec *t = &run->rec;
	if (vk_checkpoint_load(r->output, &run->model, t, &saved, &pos, e))
		return -1;
	const char *from = r->output;
	if (t->early_stop) {
		/* MODEL holds the best epoch; the run goes on from MODEL.last. */
		snprintf(run->last, sizeof run->last, "%s.last", r->output);
		if (access(run->last, F_OK) == 0) {
			free(saved.m);
			free(saved.v);
			vk_model_free(&run->model);
			if (vk_checkpoint_load(run->last, &run->model, t, &saved, &pos, e))
				return -1;
			from = run->last;
		}
		/* else killed after the first epoch's MODEL: it is the last epoch too */
	}
	int rc = 0;
	if (!saved.present) {
		rc = vk_fail(e, "%s holds no optimiser state to resume from", from);
	} else if (t->early_stop && !run->test) {
		rc = vk_fail(e, "%s was trained with --early-stop, which needs --test", r->output);
	} else if (t->lr_schedule == VK_LR_PLATEAU && !run->test) {
		rc = vk_fail(e, "%s was trained with --lr-schedule plateau, which needs --test",
			     r->output);
	} else if ((r->given & VK_SET_EARLY_STOP) && !t->early_stop) {
		rc = vk_fail(e, "--early-stop %u: %s was trained without it; on --resume a run "
				"keeps its files (early stopping writes the best epoch to MODEL "
				"and the last to MODEL.last)", r->train.early_stop, r->output);
		rc = VK_RUN_USAGE;
	} else if ((rc = (keep_planned_epochs(r, t), check_recipe(r, &run->model, t, &pos, run->train,
								 e)))) {
		/* refused */
	} else {
		/* More patience continues a run that stopped early (vae-train(1)). */
		if (r->given & VK_SET_EARLY_STOP)
			t->early_stop = r->train.early_stop;
		t->planned_epochs = (uint32_t)r->epochs; /* more, for a schedule not shaped over them */
		if (t->best_epoch && t->epochs - t->best_epoch >= t->early_stop && t->early_stop)
			rc = vk_fail(e, "%s stopped early after epoch %llu (no test improvement since "
					"epoch %u); it holds the best epoch, %s the last; to go on, "
					"give a larger --early-stop than %u",
				     r->output, (unsigned long long)t->epochs, t->best_epoch, run->last,
				     t->early_stop);
		else if (t->epochs >= (uint64_t)r->epochs && t->lr_schedule == VK_LR_COSINE)
			rc = vk_fail(e, "%s already has %llu epochs, the whole of its cosine "
					"learning-rate schedule", r->output, (unsigned long long)t->epochs);
		else if (t->epochs >= (uint64_t)r->epochs)
			rc = vk_fail(e, "%s already has %llu epochs; ask for more with --epochs",
				     r->output, (unsigned long long)t->epochs);
	}
	if (!rc && check_data(&run->model, run->train, "training data", e))
		rc = -1;
	if (!rc && run->test && check_data(&run->model, run->test, "test data", e))
		rc = -1;
	if (!rc && vk_trainer_init(&run->t, &run->model, run->train->n, t, r->threads, e))
		rc = -1;
	if (!rc && vk_trainer_resume(&run->t, &saved, &pos, e)) {
		char msg[sizeof e->msg];
		snprintf(msg, sizeof msg, "%s", e->msg);
		vk_trainer_free(&run->t);
		rc = vk_fail(e, "%s: %s", r->output, msg);
	}
	free(saved.m);
	free(saved.v);
	/* The recipe in force is the checkpoint's. */
	run->r.arch = run->model.a;
	run->r.train = *t;
	return rc;
}

static int open_fresh(vk_run *run, const vk_recipe *r, vk_error *e)
{
	vk_arch a;
	if (build_arch(&a, r, run->train, e) || vk_model_alloc(&run->model, &a, e))
		return -1;
	if (check_data(&run->model, run->train, "training data", e) ||
	    (run->test && check_data(&run->model, run->test, "test data", e)))
		return -1;
	/* The recipe's options and their starting state. */
	const vk_trainrec *o = &r->train;
	vk_trainrec *t = &run->rec;
	*t = (vk_trainrec){.seed = o->seed, .batch = o->batch, .optimizer = o->optimizer,
			   .lr = o->lr, .beta = o->beta, .kl_warmup = o->kl_warmup,
			   .kl_cycles = o->kl_cycles, .free_bits = o->free_bits,
			   .iw_train = o->iw_train, .lr_schedule = o->lr_schedule,
			   .lr_every = o->lr_every, .lr_gamma = o->lr_gamma,
			   .early_stop = o->early_stop, .flags = o->flags, .best_test = NAN,
			   .planned_epochs = (uint32_t)r->epochs, .objective = o->objective,
			   .obj_alpha = o->obj_alpha, .obj_lambda = o->obj_lambda,
			   .obj_beta = o->obj_beta, .obj_gamma = o->obj_gamma};
	if (t->early_stop)
		snprintf(run->last, sizeof run->last, "%s.last", r->output);
	if (vk_trainer_init(&run->t, &run->model, run->train->n, t, r->threads, e))
		return -1;
	vk_model_init_params(&run->model, &run->t.opt.rng);
	/* The data's metadata, cut at a line boundary if it is long. */
	const ts_header *h = &run->train->h;
	size_t len = h->meta_len < VK_DESC_MAX ? h->meta_len : VK_DESC_MAX;
	while (len && h->meta[len - 1] != '\n')
		len--;
	memcpy(t->desc, h->meta, len);
	t->desc[len] = 0;
	run->r.arch = run->model.a;
	run->r.train = *t;
	return 0;
}

/* A cvae's labels are its classes: the data's are matched to the model's by
 * name (the checkpoint's training data on --resume, the training stream for
 * --test) when both name them (issue 27). */
static int match_classes(const vk_run *run, vk_dataset *train, vk_dataset *test, vk_error *e)
{
	static ts_header names;
	if (!run->model.a.classes)
		return 0;
	if (run->r.resume) {
		vk_trainrec_meta(&run->rec, &names);
		if (vk_dataset_match_classes(train, "training data", &names, run->r.output, e))
			return -1;
	}
	return test && vk_dataset_match_classes(test, "test data", &train->h, "training data", e);
}

int vk_run_open(vk_run *run, const vk_recipe *r, vk_dataset *train, vk_dataset *test,
		vk_error *e)
{
	memset(run, 0, sizeof *run);
	run->r = *r;
	run->train = train;
	run->test = test;
	run->lead = vk_dist_size() == 1 || vk_dist_rank() == 0;
	int rc = r->resume ? open_checkpoint(run, e) : open_fresh(run, r, e);
	/* A code stream of u8 holds codes, not intensities: read as integers. */
	if (!rc && vk_lik_of(&run->model.a)->check_rows &&
	    (vk_dataset_as_integers(train, e) || (test && vk_dataset_as_integers(test, e)))) {
		vk_trainer_free(&run->t);
		rc = -1;
	}
	if (!rc && match_classes(run, train, test, e)) {
		vk_trainer_free(&run->t);
		rc = -1;
	}
	if (!rc && test && vk_work_alloc(&run->eval, &run->model, VK_EVAL_BATCH, e)) {
		vk_trainer_free(&run->t);
		rc = -1;
	}
	if (rc) {
		vk_model_free(&run->model);
		return rc;
	}
	run->ckpt = run->last[0] ? run->last : r->output;
	run->epoch = (int)run->rec.epochs + 1;
	/* Only one vae-train may write a given MODEL at a time: a temporary file
	 * of MODEL or MODEL.last is a killed run's. */
	vk_afile_remove_stale(r->output);
	if (run->last[0])
		vk_afile_remove_stale(run->last);
	return 0;
}

/* ---- the epochs ---- */

/* The trainer's state that the training record keeps (learned σ). */
static void sync_rec(vk_trainrec *rec, const vk_trainer *t)
{
	if (t->learn_sigma) {
		rec->log_sigma = t->log_sigma;
		rec->log_sigma_m = t->ls_m;
		rec->log_sigma_v = t->ls_v;
	}
}

/* The loss of a batch was not finite: the last good checkpoint stays. */
static int diverged(vk_run *run, int epoch, unsigned long long batch, vk_error *e)
{
	char keep[4400];
	if (epoch > 1)
		snprintf(keep, sizeof keep, "%s keeps the last good checkpoint (epoch %d)", run->ckpt,
			 epoch - 1);
	else
		snprintf(keep, sizeof keep, "nothing was saved");
	return vk_fail(e, "epoch %d, batch %llu: the loss is not finite: training diverged; %s; "
			  "try a lower --lr than %g%s", epoch, batch, keep, run->rec.lr,
		       vk_lik_of(&run->model.a)->has_sigma ? " or a larger --sigma" : "");
}

int vk_run_epoch(vk_run *run, vk_epoch_report *ep, volatile sig_atomic_t *stop, vk_error *e)
{
	vk_trainer *t = &run->t;
	vk_trainrec *rec = &run->rec;
	vk_model *m = &run->model;
	const vk_dataset *train = run->train, *test = run->test;
	int epoch = run->epoch, epochs = run->r.epochs, vae = vk_latent_of(&m->a)->has_kl;
	if (run->finished || epoch > epochs)
		return 0;
	if (stop && *stop) {
		run->done = 0;
		return VK_RUN_STOPPED;
	}
	t->epoch = epoch, t->epochs = epochs;
	t->opt.adam.lr = rec->lr_now = vk_lr_at(rec, epoch, epochs);
	size_t start = vk_epoch_records(t, t->pos.batches);
	vk_progress p;
	char label[64];
	snprintf(label, sizeof label, "epoch %d/%d", epoch, epochs);
	vk_progress_start(&p, "records", train->n);
	vk_progress_label(&p, label);
	double t0 = vk_now(), tr_rec, tr_kl, te_rec = NAN, te_kl = NAN;
	int stopped = vk_train_epoch(t, train, &tr_rec, &tr_kl, &p, stop);
	double secs = vk_now() - t0;
	vk_progress_end(&p);
	if (stopped == VK_EPOCH_DIVERGED)
		return diverged(run, epoch, (unsigned long long)t->diverged_batch, e);
	if (stopped) {
		run->done = vk_epoch_records(t, t->pos.batches);
		rec->records_seen += run->done - start;
		sync_rec(rec, t);
		if (run->lead && vk_checkpoint_save(run->ckpt, t, rec, e))
			return -1;
		return VK_RUN_STOPPED;
	}
	/* The run's seed for the evaluation noise, every epoch the same, as
	 * kl-eval --seed draws it: the last test -ELBO is kl-eval's. */
	if (test && vk_evaluate(m, &run->eval, test, rec->seed, &te_rec, &te_kl, e))
		return -1;
	for (size_t i = 0; i < m->n_params; i++)
		if (!isfinite(m->params[i]))
			return diverged(run, epoch, (unsigned long long)t->pos.batches, e);
	rec->epochs = epoch;
	rec->records_seen += train->n - start;
	rec->train_rec = tr_rec, rec->train_kl = tr_kl;
	rec->test_rec = te_rec, rec->test_kl = te_kl;
	sync_rec(rec, t);
	/* The test loss watched by --early-stop and the plateau schedule. */
	int improved = 0;
	if (test) {
		float loss = (float)(te_rec + (vae ? te_kl : 0));
		improved = !(rec->best_test <= loss);
		if (improved) {
			rec->best_test = loss;
			rec->best_epoch = (uint32_t)epoch;
			rec->plateau_bad = 0;
		} else if (++rec->plateau_bad >= rec->lr_every && rec->lr_schedule == VK_LR_PLATEAU) {
			rec->lr_now *= rec->lr_gamma; /* from the next epoch */
			rec->plateau_bad = 0;
		}
	}
	/* Under early stopping an improved epoch goes to MODEL before MODEL.last:
	 * killed in between, a resume (which reads MODEL first) redoes the epoch
	 * from MODEL.last and writes both again. The other order would leave
	 * MODEL an epoch behind the best. */
	if (run->lead && run->last[0] && improved &&
	    vk_model_save(run->r.output, m, rec, &t->opt, e))
		return -1;
	if (run->lead && vk_model_save(run->ckpt, m, rec, &t->opt, e))
		return -1;
	int early = rec->early_stop && (uint32_t)epoch - rec->best_epoch >= rec->early_stop;
	*ep = (vk_epoch_report){.epoch = epoch, .epochs = epochs, .seconds = secs,
				.train_rec = tr_rec, .train_kl = tr_kl, .test_rec = te_rec,
				.test_kl = te_kl, .train_mmd = t->epoch_mmd,
				.train_mi = t->epoch_tc[0], .train_tc = t->epoch_tc[1],
				.train_dim_kl = t->epoch_tc[2], .perplexity = t->epoch_perplexity,
				.dead_codes = t->epoch_dead, .beta = t->beta_now, .lr = t->opt.adam.lr,
				.sigma = m->a.sigma, .improved = improved, .early_stop = early};
	run->epoch = epoch + 1;
	run->finished = early || epoch >= epochs;
	return VK_RUN_EPOCH;
}

void vk_run_free(vk_run *run)
{
	if (run->test)
		vk_work_free(&run->eval);
	vk_trainer_free(&run->t);
	vk_model_free(&run->model);
	memset(run, 0, sizeof *run);
}
