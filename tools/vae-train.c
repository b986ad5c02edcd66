/* vae-train — train an autoencoder, a VAE or a conditional VAE on a tensor
 * stream, or a PixelCNN prior on a stream of code maps. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blascore.h"
#include "dataset.h"
#include "dist.h"
#include "err.h"
#include "guard.h"
#include "kinds.h"
#include "objective.h"
#include "opts.h"
#include "run.h"

static const char USAGE[] =
	"Usage: vae-train -o MODEL [OPTION]... [TRAIN]\n"
	"Train an autoencoder (ae), variational autoencoder (vae), conditional VAE (cvae)\n"
	"or vector-quantised VAE (vqvae) on the tensor stream TRAIN (standard input when\n"
	"absent or -), or a PixelCNN prior (pixelcnn) on a stream of code maps, and save\n"
	"it to MODEL.\n"
	"The model is checkpointed after every epoch, and mid-epoch on SIGINT or SIGTERM.\n\n"
	"  -o, --output MODEL     model file to write (required)\n"
	"  -m, --model KIND       ae, vae, cvae, vqvae, pixelcnn or cpixelcnn (a pixelcnn\n"
	"                         conditioned on the records' labels) (default vae)\n"
	"  -z, --latent N         latent size (default 20); a vqvae's code dimension D\n"
	"                         with --arch or --hidden (default 16)\n"
	"      --codes K          a vqvae's codebook size (default 512); a pixelcnn's\n"
	"                         (default: the code stream's codebook key)\n"
	"      --codebook MODE    loss (the codebook loss, default) or ema (moving-average\n"
	"                         updates with dead-code restarts)\n"
	"      --commitment B     the commitment term's weight (default 0.25)\n"
	"      --ema-decay G      the EMA's decay (default 0.99)\n"
	"      --encoder SPEC     encoder layers: a comma list of these kinds, each with an\n"
	"                         optional /ACT:\n"
	"%s"
	"      --decoder SPEC     decoder layers (default: the encoder's mirror)\n"
	"      --hidden LIST      shorthand for --encoder dense:N,... (default 400; 0 for none)\n"
	"      --layers SPEC      a pixelcnn's masked convolutions (default mconv:64:1:B/\n"
	"                         identity,mconv:64:7:A, five mconv:64:3:B)\n"
	"      --arch NAME        mlp (default: --hidden 400), conv (Keras' conv VAE) or\n"
	"                         resnet (pythae's ResNet VAE)\n"
	"      --activation ACT   relu, leaky, tanh, sigmoid or identity (default relu)\n"
	"  -e, --epochs N         train until N epochs in all (default 10)\n"
	"  -b, --batch N          minibatch size (default 128)\n"
	"      --lr RATE          learning rate (default 1e-3)\n"
	"      --optimizer NAME   adam or sgd (default adam)\n"
	"      --loss NAME        bce (Bernoulli decoder, default) or gaussian\n"
	"      --sigma S          the Gaussian decoder's fixed sigma (default 0.1), or\n"
	"                         'learned': one sigma trained with the network\n"
	"      --beta B           weight of the KL term (default 1: the VAE)\n"
	"      --kl-warmup N      raise the KL weight from 0 to --beta over N epochs\n"
	"      --kl-cycles K      K cycles of KL annealing over the run (Fu et al. 2019)\n"
	"      --free-bits L      no KL gradient for a latent dimension whose KL, averaged\n"
	"                         over the batch, is below L nats\n"
	"      --iw-train K       train on the importance-weighted bound, K samples\n"
	"      --objective NAME   elbo (default), wae-mmd (reconstruction + lambda MMD to the\n"
	"                         prior), infovae (KL weight 1 - alpha, MMD weight\n"
	"                         alpha + lambda - 1) or tcvae (the KL as alpha MI +\n"
	"                         beta TC + gamma dimension-wise KL over the batch)\n"
	"      --mmd-lambda L     the MMD's lambda (default 10 for wae-mmd, 1000 for infovae)\n"
	"      --info-alpha A     infovae's alpha, 0 to 1 (default 0)\n"
	"      --tc-alpha A, --tc-beta B, --tc-gamma G\n"
	"                         tcvae's weights, 0 to 1e6 (default 1, 6, 1)\n"
	"      --lr-schedule S    constant (default), cosine, step:E:G (times G every E\n"
	"                         epochs) or plateau:P:G (times G after P epochs without\n"
	"                         --test improvement)\n"
	"      --early-stop P     stop after P epochs without --test improvement; MODEL\n"
	"                         holds the best epoch, MODEL.last the last one (with\n"
	"                         --resume, a larger P continues a run that stopped)\n"
	"      --classes N        number of classes for a cvae or cpixelcnn (default: from\n"
	"                         the data)\n"
	"  -s, --seed N           seed for initialisation, shuffling and noise (default 1)\n"
	"  -t, --threads N        training threads (default: all processors)\n"
	"      --test FILE        evaluate on the stream FILE after every epoch\n"
	"      --log FILE         write a TSV line per epoch to FILE\n"
	"      --resume           continue training the checkpoint in MODEL, with its\n"
	"                         model and schedule (options given must agree)\n"
	"      --max-memory SIZE  refuse data needing more (e.g. 2G; default half of RAM)\n"
	"  -q, --quiet            no per-epoch summary lines\n"
	"  -h, --help             show this help and exit\n"
	"      --version          show the version and exit\n";

struct cmdline {
	int argc;
	char **argv;
	const char *train, *test, *log;
	int quiet;
	size_t max_memory;
	vk_recipe r;
};

enum { OPT_HIDDEN = VK_OPT_FIRST_LONG, OPT_ENCODER, OPT_DECODER, OPT_ARCH, OPT_ACT, OPT_LR, OPT_OPTIMIZER, OPT_LOSS, OPT_SIGMA,
       OPT_BETA, OPT_CLASSES, OPT_TEST, OPT_LOG, OPT_RESUME, OPT_MAXMEM, OPT_WARMUP, OPT_CYCLES,
       OPT_FREEBITS, OPT_IW, OPT_LRSCHED, OPT_EARLY,
       OPT_OBJECTIVE, OPT_MMD_LAMBDA, OPT_INFO_ALPHA, OPT_TC_ALPHA, OPT_TC_BETA, OPT_TC_GAMMA,
       OPT_CODES, OPT_CODEBOOK, OPT_COMMITMENT, OPT_EMA_DECAY, OPT_LAYERS };

/* USAGE with the layer kinds the registry lists. */
static const char *usage(void)
{
	static char text[sizeof USAGE + 1024];
	char kinds[1024];
	snprintf(text, sizeof text, USAGE, vk_layer_kinds_usage(kinds, sizeof kinds, 25, 79));
	return text;
}

/* --lr-schedule constant | cosine | step:E:G | plateau:P:G */
static void parse_schedule(const char *s, vk_trainrec *r)
{
	char name[16];
	long every;
	double gamma;
	int used = 0;
	if (!strcmp(s, "constant") || !strcmp(s, "cosine")) {
		r->lr_schedule = strcmp(s, "cosine") ? VK_LR_CONSTANT : VK_LR_COSINE;
		return;
	}
	if (sscanf(s, "%15[a-z]:%ld:%lf%n", name, &every, &gamma, &used) != 3 || s[used] ||
	    (strcmp(name, "step") && strcmp(name, "plateau")))
		vk_usage_error("--lr-schedule: '%s' is not constant, cosine, step:E:G or plateau:P:G",
			       s);
	if (every < 1 || every > 1000000)
		vk_usage_error("--lr-schedule: '%s': %s must be 1 to 1000000 epochs", s,
			       name[0] == 's' ? "E" : "P");
	if (!(gamma > 0 && gamma <= 1))
		vk_usage_error("--lr-schedule: '%s': the factor G must be in (0, 1]", s);
	r->lr_schedule = name[0] == 's' ? VK_LR_STEP : VK_LR_PLATEAU;
	r->lr_every = (uint32_t)every;
	r->lr_gamma = (float)gamma;
}

/* The layer options: checked now, before any data is read; the network is
 * built for the data's shape when the run opens. */
static void parse_layers(vk_recipe *r, const char *encoder, const char *decoder,
			 const char *hidden, const char *arch, const char *layers, int act)
{
	vk_arch *a = &r->arch;
	vk_error e;
	if (vk_autoregressive(a)) {
		if (encoder || decoder || hidden || arch)
			vk_usage_error("a pixelcnn's network is --layers; drop %s",
				       encoder ? "--encoder" : decoder ? "--decoder" : hidden ? "--hidden"
												: "--arch");
		r->decoder_given = layers != NULL;
		a->n_enc = 0;
		if (layers && vk_layers_parse(layers, act, a->dec, VK_MAX_LAYERS, &a->n_dec, &e))
			vk_usage_error("--layers: %s", e.msg);
		return;
	}
	if (layers)
		vk_usage_error("--layers gives a pixelcnn's network (-m pixelcnn); use --encoder "
			       "and --decoder");
	if (encoder && hidden)
		vk_usage_error("--encoder and --hidden both give the encoder; use one");
	if (arch && (encoder || decoder || hidden))
		vk_usage_error("--arch %s names a whole network; drop --encoder, --decoder and "
			       "--hidden, or --arch", arch);
	r->conv = arch && !strcmp(arch, "conv");
	r->resnet = arch && !strcmp(arch, "resnet");
	r->decoder_given = decoder != NULL;
	if (encoder && vk_layers_parse(encoder, act, a->enc, VK_MAX_LAYERS, &a->n_enc, &e))
		vk_usage_error("--encoder: %s", e.msg);
	if (decoder && vk_layers_parse(decoder, act, a->dec, VK_MAX_LAYERS, &a->n_dec, &e))
		vk_usage_error("--decoder: %s", e.msg);
	if (!encoder && !r->conv && !r->resnet) {
		/* --hidden 400,200 is --encoder dense:400,dense:200; 0 or none: no layers */
		const char *h = hidden ? hidden : "400";
		int w[VK_MAX_LAYERS], n = 0;
		if (strcmp(h, "0") && strcmp(h, "none"))
			n = vk_parse_list("--hidden", h, w, VK_MAX_LAYERS, 1, VK_MAX_WIDTH);
		for (int i = 0; i < n; i++)
			a->enc[i] = vk_dense_spec(w[i], (vk_shape){0}, act);
		a->n_enc = n;
	}
}

/* The objective's weights, defaulted from the papers (vae-train(1)), and the
 * combinations it refuses. */
static void set_objective(struct cmdline *c, int lambda_given, int alpha_given,
			  const char *tc_given, const float tc_w[3])
{
	vk_recipe *rc = &c->r;
	vk_trainrec *t = &rc->train;
	const vk_objective_kind *k = vk_objective_at((int)t->objective);
	int info = k == &vk_objective_infovae, tc = k == &vk_objective_tcvae;
	if (tc_given && !tc)
		vk_usage_error("%s applies only to --objective tcvae", tc_given);
	if (t->objective == 0 && (lambda_given || alpha_given))
		vk_usage_error("%s applies only to --objective wae-mmd or infovae",
			       lambda_given ? "--mmd-lambda" : "--info-alpha");
	if (alpha_given && !info)
		vk_usage_error("--info-alpha applies only to --objective infovae");
	if (lambda_given && tc)
		vk_usage_error("--mmd-lambda applies only to --objective wae-mmd or infovae");
	if (t->objective == 0)
		return;
	if (tc) {
		/* Chen et al.'s β-TCVAE: α = γ = 1 and their β; a weight not given
		 * (negative) takes its default */
		static const float def[3] = {1.0f, 6.0f, 1.0f};
		t->obj_alpha = tc_w[0] < 0 ? def[0] : tc_w[0];
		t->obj_beta = tc_w[1] < 0 ? def[1] : tc_w[1];
		t->obj_gamma = tc_w[2] < 0 ? def[2] : tc_w[2];
	} else if (!lambda_given)
		t->obj_lambda = info ? 1000.0f : 10.0f; /* Zhao et al.; Tolstikhin et al. (MNIST) */
	if (info && t->obj_alpha + t->obj_lambda < 1.0f)
		vk_usage_error("--objective infovae: --info-alpha %g plus --mmd-lambda %g is below 1 "
			       "(the MMD's weight alpha + lambda - 1 would be negative)",
			       t->obj_alpha, t->obj_lambda);
	if (rc->resume)
		return;
	if (!vk_latent_of(&rc->arch)->has_kl)
		vk_usage_error("--objective %s needs a VAE's codes: not with --model ae", k->name);
	if (t->iw_train > 1)
		vk_usage_error("--objective %s does not combine with --iw-train", k->name);
	if (rc->given & VK_SET_BETA)
		vk_usage_error("--beta weighs the elbo's KL term; --objective %s sets its own "
			       "(leave --beta out%s)", k->name, tc ? "; the TC's weight is --tc-beta" : "");
	if (!info && (t->free_bits > 0 || t->kl_warmup || t->kl_cycles))
		vk_option_has_no_effect(t->kl_warmup ? "--kl-warmup" : t->kl_cycles ? "--kl-cycles"
										      : "--free-bits",
					tc ? "with --objective tcvae (its KL is three terms with "
					     "weights of their own)"
					   : "with --objective wae-mmd (it has no KL term)");
	if (t->batch < 2)
		vk_usage_error("--objective %s needs batches of at least 2 records (-b %d)", k->name,
			       t->batch);
}

/* The options that make no sense together, or do nothing. */
static void check_options(const struct cmdline *c)
{
	const vk_recipe *rc = &c->r;
	const vk_trainrec *r = &rc->train;
	int sigma_learned = (r->flags & VK_TRAIN_SIGMA_LEARNED) != 0;
	int ae = !vk_latent_of(&rc->arch)->has_kl;
	if (!rc->output)
		vk_usage_error("an output model is required (-o MODEL)");
	if (vk_autoregressive(&rc->arch)) {
		unsigned latent_opts = VK_SET_LATENT | VK_SET_LOSS | VK_SET_SIGMA | VK_SET_BETA |
				       VK_SET_WARMUP | VK_SET_CYCLES | VK_SET_FREE_BITS | VK_SET_IW |
				       VK_SET_OBJECTIVE;
		if (rc->given & latent_opts)
			vk_usage_error("a pixelcnn models code maps by their exact likelihood: it has "
				       "no latent, KL term or decoder loss, so -z, --loss, --sigma, "
				       "--beta, --kl-*, --free-bits, --iw-train and --objective do not "
				       "apply");
	}
	if (r->kl_warmup && r->kl_cycles)
		vk_usage_error("--kl-warmup and --kl-cycles are two KL schedules; use one");
	if (r->kl_cycles > (uint32_t)rc->epochs)
		vk_usage_error("--kl-cycles %u: more cycles than the %d epochs", r->kl_cycles,
			       rc->epochs);
	if (r->lr_schedule == VK_LR_PLATEAU && !c->test)
		vk_usage_error("--lr-schedule plateau needs --test: it watches the test loss");
	if (r->early_stop && !c->test)
		vk_usage_error("--early-stop needs --test: it watches the test loss");
	/* On --resume the rest comes from the checkpoint, whose options agreed;
	 * those given are checked against it (vk_run_open). */
	if (rc->resume)
		return;
	if (sigma_learned && !vk_lik_of(&rc->arch)->dlog_sigma)
		vk_usage_error("--sigma learned needs --loss gaussian");
	if (ae && (r->free_bits > 0 || r->iw_train > 1 || r->kl_warmup || r->kl_cycles))
		vk_usage_error("--free-bits, --iw-train, --kl-warmup and --kl-cycles act on the KL "
			       "term, which an autoencoder (-m ae) does not have");
	if (r->iw_train > 1 && (r->free_bits > 0 || r->kl_warmup || r->kl_cycles ||
				r->beta != 1.0f || sigma_learned))
		vk_usage_error("--iw-train trains on the importance-weighted bound itself; it does "
			       "not combine with --beta, --kl-warmup, --kl-cycles, --free-bits or "
			       "--sigma learned");
	if (r->iw_train > 1 && (long)r->iw_train * r->batch > 1 << 20)
		vk_usage_error("--iw-train %u with --batch %d: %ld samples a step is too many "
			       "(limit %d); lower one of them", r->iw_train, r->batch,
			       (long)r->iw_train * r->batch, 1 << 20);
	if (rc->arch.classes && !vk_conditional(&rc->arch))
		vk_usage_error("--classes applies only to --model cvae or cpixelcnn");
	if (r->beta == 0 && (r->kl_warmup || r->kl_cycles || r->free_bits > 0))
		vk_option_has_no_effect(r->kl_warmup ? "--kl-warmup" : r->kl_cycles ? "--kl-cycles"
										      : "--free-bits",
					"with --beta 0 (the KL term has no weight)");
	if ((rc->given & VK_SET_BETA) && ae)
		vk_option_has_no_effect("--beta", "with --model ae (an autoencoder has no KL term)");
	if ((rc->given & VK_SET_SIGMA) && !vk_lik_of(&rc->arch)->has_sigma)
		vk_option_has_no_effect("--sigma", "without --loss gaussian");
}

/* A vqvae's codebook options and code dimension, defaulted; refused with
 * another kind. */
static void set_codebook(vk_recipe *r, int encoder_given, int commitment_given)
{
	vk_arch *a = &r->arch;
	if (vk_latent_of(a)->map && !(r->given & VK_SET_LATENT))
		a->latent = 16; /* pythae's MNIST VQ-VAE (on --resume, to rebuild --arch's layers) */
	r->vq_head = vk_latent_of(a)->map && !encoder_given && !r->conv && !r->resnet;
	if (r->resume)
		return; /* from the checkpoint, checked against the options given */
	if (!vk_latent_of(a)->map) {
		/* a pixelcnn takes --codes (its stream's codebook), not the codebook's training */
		if (vk_autoregressive(a) && (r->codebook_given & ~1u))
			vk_usage_error("--codebook, --commitment and --ema-decay apply only to "
				       "--model vqvae");
		if (!vk_autoregressive(a) && (r->given & VK_SET_CODEBOOK))
			vk_usage_error("--codes, --codebook, --commitment and --ema-decay apply only "
				       "to --model vqvae (and --codes to pixelcnn)");
		return;
	}
	if (!a->codes)
		a->codes = 512;
	if (!commitment_given)
		a->commitment = 0.25f; /* van den Oord et al. 2017 */
	if (a->decay == 0)
		a->decay = 0.99f;
	if (encoder_given && (r->given & VK_SET_LATENT))
		vk_usage_error("--latent: a vqvae's code dimension is its --encoder's last channel "
			       "count (end it with, say, conv:16:1:1/identity); leave -z out");
}

static void parse_cmdline(int argc, char **argv, struct cmdline *c)
{
	static const struct option longopts[] = {
		{"output", required_argument, 0, 'o'}, {"model", required_argument, 0, 'm'},
		{"latent", required_argument, 0, 'z'}, {"hidden", required_argument, 0, OPT_HIDDEN},
		{"encoder", required_argument, 0, OPT_ENCODER},
		{"decoder", required_argument, 0, OPT_DECODER}, {"arch", required_argument, 0, OPT_ARCH},
		{"activation", required_argument, 0, OPT_ACT},
		{"epochs", required_argument, 0, 'e'}, {"batch", required_argument, 0, 'b'},
		{"lr", required_argument, 0, OPT_LR},
		{"optimizer", required_argument, 0, OPT_OPTIMIZER},
		{"loss", required_argument, 0, OPT_LOSS}, {"sigma", required_argument, 0, OPT_SIGMA},
		{"beta", required_argument, 0, OPT_BETA},
		{"classes", required_argument, 0, OPT_CLASSES},
		{"seed", required_argument, 0, 's'}, {"threads", required_argument, 0, 't'},
		{"test", required_argument, 0, OPT_TEST}, {"log", required_argument, 0, OPT_LOG},
		{"resume", no_argument, 0, OPT_RESUME},
		{"max-memory", required_argument, 0, OPT_MAXMEM},
		{"kl-warmup", required_argument, 0, OPT_WARMUP},
		{"kl-cycles", required_argument, 0, OPT_CYCLES},
		{"free-bits", required_argument, 0, OPT_FREEBITS},
		{"iw-train", required_argument, 0, OPT_IW},
		{"lr-schedule", required_argument, 0, OPT_LRSCHED},
		{"early-stop", required_argument, 0, OPT_EARLY},
		{"objective", required_argument, 0, OPT_OBJECTIVE},
		{"mmd-lambda", required_argument, 0, OPT_MMD_LAMBDA},
		{"info-alpha", required_argument, 0, OPT_INFO_ALPHA},
		{"tc-alpha", required_argument, 0, OPT_TC_ALPHA},
		{"tc-beta", required_argument, 0, OPT_TC_BETA},
		{"tc-gamma", required_argument, 0, OPT_TC_GAMMA},
		{"codes", required_argument, 0, OPT_CODES},
		{"codebook", required_argument, 0, OPT_CODEBOOK},
		{"commitment", required_argument, 0, OPT_COMMITMENT},
		{"ema-decay", required_argument, 0, OPT_EMA_DECAY},
		{"layers", required_argument, 0, OPT_LAYERS},
		{"quiet", no_argument, 0, 'q'}, {"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, VK_OPT_VERSION}, {0, 0, 0, 0}};
	memset(c, 0, sizeof *c);
	c->argc = argc, c->argv = argv;
	vk_recipe *r = &c->r;
	vk_trainrec *t = &r->train;
	vk_recipe_default(r);
	const char *encoder = NULL, *decoder = NULL, *hidden = NULL, *arch = NULL, *layers = NULL;
	int act = VK_RELU, lambda_given = 0, alpha_given = 0, commitment_given = 0;
	const char *tc_given = NULL;
	float tc_w[3] = {-1, -1, -1};
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	r->threads = cpus > 0 ? (int)cpus : 1;
	c->max_memory = vk_default_max_memory();
	int ch;
	while ((ch = getopt_long(argc, argv, "o:m:z:e:b:s:t:qh", longopts, NULL)) != -1) {
		if (vk_common_option(ch, usage()))
			continue;
		switch (ch) {
		case 'o': r->output = optarg; break;
		case 'm':
			if ((r->arch.kind = vk_kind_parse(optarg)) < 0)
				vk_usage_error("--model: '%s' is not ae, vae, cvae, vqvae, pixelcnn or "
					       "cpixelcnn", optarg);
			if (vk_autoregressive(&r->arch)) /* no latent; a categorical over codes */
				r->arch.latent = 0, r->arch.likelihood = VK_CATEGORICAL;
			r->given |= VK_SET_KIND;
			break;
		case 'z':
			r->arch.latent = (int)vk_parse_long("--latent", optarg, 1, 4096);
			r->given |= VK_SET_LATENT;
			break;
		case OPT_HIDDEN: hidden = optarg, r->given |= VK_SET_LAYERS; break;
		case OPT_ENCODER: encoder = optarg, r->given |= VK_SET_LAYERS; break;
		case OPT_DECODER: decoder = optarg, r->given |= VK_SET_LAYERS; break;
		case OPT_LAYERS: layers = optarg, r->given |= VK_SET_LAYERS; break;
		case OPT_ARCH:
			if (strcmp(optarg, "mlp") && strcmp(optarg, "conv") && strcmp(optarg, "resnet"))
				vk_usage_error("--arch: '%s' is not mlp, conv or resnet", optarg);
			arch = optarg, r->given |= VK_SET_LAYERS;
			break;
		case OPT_ACT:
			if ((act = vk_act_parse(optarg)) < 0)
				vk_usage_error("--activation: '%s' is not relu, leaky, tanh, sigmoid or "
					       "identity", optarg);
			r->given |= VK_SET_LAYERS;
			break;
		case 'e':
			r->epochs = (int)vk_parse_long("--epochs", optarg, 1, 1000000);
			r->given |= VK_SET_EPOCHS;
			break;
		case 'b':
			t->batch = (int)vk_parse_long("--batch", optarg, 1, 65536);
			r->given |= VK_SET_BATCH;
			break;
		case OPT_LR:
			t->lr = (float)vk_parse_double("--lr", optarg, 1e-12, 100);
			r->given |= VK_SET_LR;
			break;
		case OPT_OPTIMIZER:
			r->given |= VK_SET_OPTIMIZER;
			if (!strcmp(optarg, "adam"))
				t->optimizer = VK_OPT_ADAM;
			else if (!strcmp(optarg, "sgd"))
				t->optimizer = VK_OPT_SGD;
			else
				vk_usage_error("--optimizer: '%s' is not adam or sgd", optarg);
			break;
		case OPT_LOSS:
			if (!strcmp(optarg, "bce"))
				r->arch.likelihood = VK_BERNOULLI;
			else if (!strcmp(optarg, "gaussian"))
				r->arch.likelihood = VK_GAUSSIAN;
			else
				vk_usage_error("--loss: '%s' is not bce or gaussian", optarg);
			r->given |= VK_SET_LOSS;
			break;
		case OPT_SIGMA:
			if (!strcmp(optarg, "learned"))
				t->flags |= VK_TRAIN_SIGMA_LEARNED, r->arch.sigma = 1.0f; /* log σ starts at 0 */
			else
				t->flags &= ~VK_TRAIN_SIGMA_LEARNED,
				r->arch.sigma = (float)vk_parse_double("--sigma", optarg, 1e-6, 1e6);
			r->given |= VK_SET_SIGMA;
			break;
		case OPT_WARMUP:
			t->kl_warmup = (uint32_t)vk_parse_long("--kl-warmup", optarg, 0, 1000000);
			r->given |= VK_SET_WARMUP;
			break;
		case OPT_CYCLES:
			t->kl_cycles = (uint32_t)vk_parse_long("--kl-cycles", optarg, 0, 1000000);
			r->given |= VK_SET_CYCLES;
			break;
		case OPT_FREEBITS:
			t->free_bits = (float)vk_parse_double("--free-bits", optarg, 0, 1000);
			r->given |= VK_SET_FREE_BITS;
			break;
		case OPT_IW:
			t->iw_train = (uint32_t)vk_parse_long("--iw-train", optarg, 1, 1000);
			r->given |= VK_SET_IW;
			break;
		case OPT_LRSCHED:
			parse_schedule(optarg, t);
			r->given |= VK_SET_SCHEDULE;
			break;
		case OPT_EARLY:
			t->early_stop = (uint32_t)vk_parse_long("--early-stop", optarg, 1, 1000000);
			r->given |= VK_SET_EARLY_STOP;
			break;
		case OPT_OBJECTIVE: {
			const vk_objective_kind *k = vk_objective_named(optarg);
			if (!k)
				vk_usage_error("--objective: '%s' is not elbo, wae-mmd, infovae or tcvae",
					       optarg);
			for (int i = 0; vk_objective_at(i); i++)
				if (vk_objective_at(i) == k)
					t->objective = (uint32_t)i;
			r->given |= VK_SET_OBJECTIVE;
			break;
		}
		case OPT_MMD_LAMBDA:
			t->obj_lambda = (float)vk_parse_double("--mmd-lambda", optarg, 0, 1e6);
			if (!(t->obj_lambda > 0))
				vk_usage_error("--mmd-lambda %s: must be above 0 (to 1e6)", optarg);
			lambda_given = 1;
			r->given |= VK_SET_OBJECTIVE;
			break;
		case OPT_INFO_ALPHA:
			t->obj_alpha = (float)vk_parse_double("--info-alpha", optarg, 0, 1);
			alpha_given = 1;
			r->given |= VK_SET_OBJECTIVE;
			break;
		case OPT_TC_ALPHA:
		case OPT_TC_BETA:
		case OPT_TC_GAMMA: {
			static const char *const names[] = {"--tc-alpha", "--tc-beta", "--tc-gamma"};
			int i = ch - OPT_TC_ALPHA;
			tc_w[i] = (float)vk_parse_double(names[i], optarg, 0, 1e6);
			tc_given = names[i];
			r->given |= VK_SET_OBJECTIVE;
			break;
		}
		case OPT_CODES: {
			long k = vk_parse_long("--codes", optarg, 0, VK_MAX_CODES);
			if (k < 2)
				vk_usage_error("--codes %ld: a codebook needs at least 2 codes", k);
			r->arch.codes = (int)k;
			r->given |= VK_SET_CODEBOOK; r->codebook_given |= 1;
			break;
		}
		case OPT_CODEBOOK:
			if (strcmp(optarg, "loss") && strcmp(optarg, "ema"))
				vk_usage_error("--codebook: '%s' is not loss or ema", optarg);
			r->arch.codebook_ema = !strcmp(optarg, "ema");
			r->given |= VK_SET_CODEBOOK; r->codebook_given |= 2;
			break;
		case OPT_COMMITMENT:
			r->arch.commitment = (float)vk_parse_double("--commitment", optarg, 0, 1000);
			commitment_given = 1;
			r->given |= VK_SET_CODEBOOK; r->codebook_given |= 4;
			break;
		case OPT_EMA_DECAY:
			r->arch.decay = (float)vk_parse_double("--ema-decay", optarg, 0, 1);
			if (!(r->arch.decay > 0 && r->arch.decay < 1))
				vk_usage_error("--ema-decay %s: must lie strictly between 0 and 1", optarg);
			r->given |= VK_SET_CODEBOOK; r->codebook_given |= 8;
			break;
		case OPT_BETA:
			t->beta = (float)vk_parse_double("--beta", optarg, 0, 1e6);
			r->given |= VK_SET_BETA;
			break;
		case OPT_CLASSES:
			r->arch.classes = (int)vk_parse_long("--classes", optarg, 1, VK_MAX_CLASSES);
			r->given |= VK_SET_CLASSES;
			break;
		case 's':
			t->seed = (uint64_t)vk_parse_long("--seed", optarg, 0, 0x7fffffffffffffffL);
			r->given |= VK_SET_SEED;
			break;
		case 't': r->threads = (int)vk_parse_long("--threads", optarg, 1, 1024); break;
		case OPT_TEST: c->test = optarg; break;
		case OPT_LOG: c->log = optarg; break;
		case OPT_RESUME: r->resume = 1; break;
		case OPT_MAXMEM: {
			long long v = vk_parse_size(optarg);
			if (v <= 0)
				vk_usage_error("--max-memory: '%s' is not a size like 800M or 2G", optarg);
			c->max_memory = (size_t)v;
			break;
		}
		case 'q': c->quiet = 1; break;
		}
	}
	set_objective(c, lambda_given, alpha_given, tc_given, tc_w);
	check_options(c);
	parse_layers(r, encoder, decoder, hidden, arch, layers, act);
	set_codebook(r, encoder != NULL, commitment_given);
	c->train = vk_input_arg(argc, argv, optind);
	if (c->test)
		vk_stdin_once(2, (const char *const[]){"TRAIN", "--test"},
			      (const char *const[]){c->train, c->test});
}

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig) { (void)sig; stop_requested = 1; }

/* Say where training stopped and how to go on; the checkpoint is saved. */
static void interrupted(const struct cmdline *c, const vk_run *run)
{
	/* The user's own command with --resume: every option an exact resume
	 * needs (--log, --test, -t, ...) kept. */
	char cmd[8192], *argv[512];
	int argn = 0;
	argv[argn++] = c->argv[0];
	argv[argn++] = "--resume";
	for (int i = 1; i < c->argc && argn < 512; i++)
		if (strcmp(c->argv[i], "--resume"))
			argv[argn++] = c->argv[i];
	if (!vk_shell_command(cmd, sizeof cmd, argn, argv))
		snprintf(cmd, sizeof cmd, "vae-train --resume ... (the same options)");
	vk_die("interrupted in epoch %d after %zu of %zu records; %s holds a checkpoint; "
	       "continue with: %s", run->epoch, run->done, run->train->n, run->ckpt, cmd);
}

/* The log's header goes first, also into a file that --resume creates. */
static FILE *open_log(const char *path, int resume)
{
	FILE *f = fopen(path, resume ? "a" : "w");
	if (!f)
		vk_die("cannot open log %s:", path);
	if (fseek(f, 0, SEEK_END) != 0 || ftell(f) == 0)
		fputs("epoch\tseconds\ttrain_rec\ttrain_kl\ttrain_nelbo\ttest_rec\ttest_kl\t"
		      "test_nelbo\tbeta\tlr\tsigma\tmmd\tmi\ttc\tdim_kl\tperplexity\tdead_codes\n", f);
	return f;
}

/* One epoch's line on stderr and in the log. */
static void report(const struct cmdline *c, const vk_run *run, const vk_epoch_report *p,
		   FILE *log)
{
	const vk_trainrec *r = &run->rec;
	int vae = vk_latent_of(&run->model.a)->has_kl;
	int has_sigma = vk_lik_of(&run->model.a)->has_sigma;
	int prior = vk_autoregressive(&run->model.a);
	if (!c->quiet && prior) { /* no latent: the exact NLL per code map, in nats */
		fprintf(stderr, "%s: epoch %d/%d %.2fs train nll %.3f", vk_progname, p->epoch,
			p->epochs, p->seconds, p->train_rec);
		if (c->test)
			fprintf(stderr, " | test nll %.3f", p->test_rec);
		if (r->lr_schedule != VK_LR_CONSTANT)
			fprintf(stderr, " lr %g", p->lr);
		fputc('\n', stderr);
	} else if (!c->quiet) {
		fprintf(stderr, "%s: epoch %d/%d %.2fs train rec %.3f kl %.3f", vk_progname,
			p->epoch, p->epochs, p->seconds, p->train_rec, p->train_kl);
		if (vae)
			fprintf(stderr, " -elbo %.3f", p->train_rec + p->train_kl);
		if (c->test)
			fprintf(stderr, vae ? " | test rec %.3f kl %.3f -elbo %.3f" : " | test rec %.3f",
				p->test_rec, p->test_kl, p->test_rec + p->test_kl);
		if (vae && (r->kl_warmup || r->kl_cycles))
			fprintf(stderr, " beta %g", p->beta);
		if (r->lr_schedule != VK_LR_CONSTANT)
			fprintf(stderr, " lr %g", p->lr);
		if (r->flags & VK_TRAIN_SIGMA_LEARNED && has_sigma)
			fprintf(stderr, " sigma %.4g", p->sigma);
		if (!isnan(p->train_mmd))
			fprintf(stderr, " mmd %.4g", p->train_mmd);
		if (!isnan(p->train_tc))
			fprintf(stderr, " mi %.4g tc %.4g dim-kl %.4g", p->train_mi, p->train_tc,
				p->train_dim_kl);
		if (p->dead_codes >= 0)
			fprintf(stderr, " perplexity %.1f dead %d", p->perplexity, p->dead_codes);
		fputc('\n', stderr);
	}
	if (!c->quiet) {
		if (p->early_stop)
			fprintf(stderr, "%s: early stop after epoch %d: no test improvement for %u "
				"epochs; %s holds epoch %u (test loss %.4f), %s the last epoch\n",
				vk_progname, p->epoch, r->early_stop, c->r.output, r->best_epoch,
				r->best_test, run->last);
	}
	if (log) {
		vk_error e;
		fprintf(log, "%d\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.6g\t%.6g\t%.6g\t%.6g"
			"\t%.6g\t%.6g\t%.6g\t%.6g\t%d\n",
			p->epoch, p->seconds, p->train_rec, p->train_kl,
			vae ? p->train_rec + p->train_kl : NAN, p->test_rec, p->test_kl,
			vae ? p->test_rec + p->test_kl : NAN, vae ? p->beta : NAN, p->lr,
			has_sigma ? p->sigma : NAN, p->train_mmd, p->train_mi, p->train_tc,
			p->train_dim_kl, p->perplexity, p->dead_codes);
		if (vk_check_written(log, c->log, &e))
			vk_die_error(&e);
	}
}

/* Run the recipe on the data, reporting every epoch. */
static void vae_train(const struct cmdline *c, vk_dataset *train, vk_dataset *test)
{
	vk_run run;
	vk_epoch_report ep;
	vk_error e;
	int rc = vk_run_open(&run, &c->r, train, test, &e);
	if (rc == VK_RUN_USAGE)
		vk_usage_error("%s", e.msg);
	if (rc)
		vk_die_error(&e);
	const vk_trainrec *r = &run.rec;
	if (vk_latent_of(&run.model.a)->has_kl && r->kl_warmup > (uint32_t)c->r.epochs)
		vk_warn("--kl-warmup %u outlasts the run (-e %d): the KL weight reaches only %g of "
			"--beta", r->kl_warmup, c->r.epochs, (double)c->r.epochs / r->kl_warmup);
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	FILE *log = run.lead && c->log ? open_log(c->log, c->r.resume) : NULL;
	while ((rc = vk_run_epoch(&run, &ep, &stop_requested, &e)) == VK_RUN_EPOCH)
		if (run.lead)
			report(c, &run, &ep, log);
	if (rc == VK_RUN_STOPPED)
		interrupted(c, &run);
	if (rc)
		vk_die_error(&e);
	if (log && fclose(log) != 0)
		vk_die("error writing log %s:", c->log);
	/* Released so that LeakSanitizer (make SANITIZE=1) and valgrind stay quiet. */
	vk_run_free(&run);
}

int main(int argc, char **argv)
{
	struct cmdline c;
	vk_error e;
	vk_init(argc, argv);
	vk_blas_init(argv); /* first: it may restart the program with better kernels */
	/* Under mpirun every rank trains on its share of each batch; rank 0
	 * alone writes the model, the log and the summaries. */
	vk_dist_init(&argc, &argv);
	parse_cmdline(argc, argv, &c);
	if (vk_dist_rank() == 0 && !c.quiet && vk_blas_note())
		vk_warn("%s", vk_blas_note());
	/* Before anything is opened for writing: the model and the log may not
	 * be the data (the model is read back only by --resume, as itself). */
	const char *const inputs[] = {c.train, c.test, c.r.output};
	vk_refuse_output_is_input(c.r.output, inputs, c.test ? 2 : 1);
	if (c.log)
		vk_refuse_output_is_input(c.log, inputs, 3);

	vk_dataset train, test;
	size_t budget = c.max_memory; /* one --max-memory for both streams */
	if (vk_dataset_load_within(&train, c.train, &budget, c.max_memory, &e))
		vk_die_error(&e);
	if (c.test && vk_dataset_load_within(&test, c.test, &budget, c.max_memory, &e))
		vk_die_error(&e);
	vae_train(&c, &train, c.test ? &test : NULL);
	if (c.test)
		vk_dataset_free(&test);
	vk_dataset_free(&train);
	vk_dist_finalize();
	return 0;
}
