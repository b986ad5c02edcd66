/* vae-train — train an autoencoder, a VAE or a conditional VAE on a tensor stream. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "afile.h"
#include "dataset.h"
#include "dist.h"
#include "err.h"
#include "evaluate.h"
#include "guard.h"
#include "kinds.h"
#include "modelfile.h"
#include "modelstream.h"
#include "opts.h"
#include "progress.h"
#include "train.h"

static const char USAGE[] =
	"Usage: vae-train -o MODEL [OPTION]... [TRAIN]\n"
	"Train an autoencoder (ae), variational autoencoder (vae) or conditional VAE (cvae)\n"
	"on the tensor stream TRAIN (standard input when absent or -) and save it to MODEL.\n"
	"The model is checkpointed after every epoch, and mid-epoch on SIGINT or SIGTERM.\n\n"
	"  -o, --output MODEL     model file to write (required)\n"
	"  -m, --model KIND       ae, vae or cvae (default vae)\n"
	"  -z, --latent N         latent size (default 20)\n"
	"      --encoder SPEC     encoder layers: a comma list of these kinds, each with an\n"
	"                         optional /ACT:\n"
	"%s"
	"      --decoder SPEC     decoder layers (default: the encoder's mirror)\n"
	"      --hidden LIST      shorthand for --encoder dense:N,... (default 400; 0 for none)\n"
	"      --arch NAME        mlp (default: --hidden 400) or conv (Keras' conv VAE)\n"
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
	"      --lr-schedule S    constant (default), cosine, step:E:G (times G every E\n"
	"                         epochs) or plateau:P:G (times G after P epochs without\n"
	"                         --test improvement)\n"
	"      --early-stop P     stop after P epochs without --test improvement; MODEL\n"
	"                         holds the best epoch, MODEL.last the last one\n"
	"      --classes N        number of classes for a cvae (default: from the data)\n"
	"  -s, --seed N           seed for initialisation, shuffling and noise (default 1)\n"
	"  -t, --threads N        training threads (default: all processors)\n"
	"      --test FILE        evaluate on the stream FILE after every epoch\n"
	"      --log FILE         write a TSV line per epoch to FILE\n"
	"      --resume           continue training the checkpoint in MODEL\n"
	"      --max-memory SIZE  refuse data needing more (e.g. 2G; default half of RAM)\n"
	"  -q, --quiet            no per-epoch summary lines\n"
	"  -h, --help             show this help and exit\n"
	"      --version          show the version and exit\n";

struct cmdline {
	int argc;
	char **argv;
	const char *output, *train, *test, *log;
	const char *encoder, *decoder, *hidden, *arch_name;
	int act, arch_given, recipe_given, beta_given, sigma_given;
	vk_arch arch;
	int epochs, batch, optimizer, threads, resume, quiet;
	float lr, beta;
	uint64_t seed;
	size_t max_memory;
	vk_trainrec recipe;   /* the new options' fields */
	int sigma_learned;
	char last[4200];      /* --early-stop: MODEL.last */
};

enum { OPT_HIDDEN = VK_OPT_FIRST_LONG, OPT_ENCODER, OPT_DECODER, OPT_ARCH, OPT_ACT, OPT_LR, OPT_OPTIMIZER, OPT_LOSS, OPT_SIGMA,
       OPT_BETA, OPT_CLASSES, OPT_TEST, OPT_LOG, OPT_RESUME, OPT_MAXMEM, OPT_WARMUP, OPT_CYCLES,
       OPT_FREEBITS, OPT_IW, OPT_LRSCHED, OPT_EARLY };

/* --lr-schedule constant | cosine | step:E:G | plateau:P:G */
/* USAGE with the layer kinds the registry lists. */
static const char *usage(void)
{
	static char text[sizeof USAGE + 1024];
	char kinds[1024];
	snprintf(text, sizeof text, USAGE, vk_layer_kinds_usage(kinds, sizeof kinds, 25, 79));
	return text;
}

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
		{"quiet", no_argument, 0, 'q'}, {"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, VK_OPT_VERSION}, {0, 0, 0, 0}};
	memset(c, 0, sizeof *c);
	c->argc = argc, c->argv = argv;
	c->arch = (vk_arch){.kind = VK_VAE, .latent = 20, .likelihood = VK_BERNOULLI, .sigma = 0.1f};
	c->act = VK_RELU;
	c->epochs = 10;
	c->batch = 128;
	c->lr = 1e-3f;
	c->beta = 1.0f;
	c->seed = 1;
	c->optimizer = VK_OPT_ADAM;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	c->threads = cpus > 0 ? (int)cpus : 1;
	c->max_memory = vk_default_max_memory();
	int ch;
	while ((ch = getopt_long(argc, argv, "o:m:z:e:b:s:t:qh", longopts, NULL)) != -1) {
		if (vk_common_option(ch, usage()))
			continue;
		switch (ch) {
		case 'o': c->output = optarg; break;
		case 'm':
			if ((c->arch.kind = vk_kind_parse(optarg)) < 0)
				vk_usage_error("--model: '%s' is not ae, vae or cvae", optarg);
			break;
		case 'z': c->arch.latent = (int)vk_parse_long("--latent", optarg, 1, 4096); break;
		case OPT_HIDDEN: c->hidden = optarg, c->arch_given = 1; break;
		case OPT_ENCODER: c->encoder = optarg, c->arch_given = 1; break;
		case OPT_DECODER: c->decoder = optarg, c->arch_given = 1; break;
		case OPT_ARCH:
			if (strcmp(optarg, "mlp") && strcmp(optarg, "conv"))
				vk_usage_error("--arch: '%s' is not mlp or conv", optarg);
			c->arch_name = optarg, c->arch_given = 1;
			break;
		case OPT_ACT:
			if ((c->act = vk_act_parse(optarg)) < 0)
				vk_usage_error("--activation: '%s' is not relu, leaky, tanh, sigmoid or "
					       "identity", optarg);
			c->arch_given = 1;
			break;
		case 'e': c->epochs = (int)vk_parse_long("--epochs", optarg, 1, 1000000); break;
		case 'b':
			c->batch = (int)vk_parse_long("--batch", optarg, 1, 65536);
			c->recipe_given = 1;
			break;
		case OPT_LR:
			c->lr = (float)vk_parse_double("--lr", optarg, 1e-12, 100);
			c->recipe_given = 1;
			break;
		case OPT_OPTIMIZER:
			c->recipe_given = 1;
			if (!strcmp(optarg, "adam"))
				c->optimizer = VK_OPT_ADAM;
			else if (!strcmp(optarg, "sgd"))
				c->optimizer = VK_OPT_SGD;
			else
				vk_usage_error("--optimizer: '%s' is not adam or sgd", optarg);
			break;
		case OPT_LOSS:
			if (!strcmp(optarg, "bce"))
				c->arch.likelihood = VK_BERNOULLI;
			else if (!strcmp(optarg, "gaussian"))
				c->arch.likelihood = VK_GAUSSIAN;
			else
				vk_usage_error("--loss: '%s' is not bce or gaussian", optarg);
			break;
		case OPT_SIGMA:
			if (!strcmp(optarg, "learned"))
				c->sigma_learned = 1, c->arch.sigma = 1.0f; /* log σ starts at 0 */
			else
				c->sigma_learned = 0,
				c->arch.sigma = (float)vk_parse_double("--sigma", optarg, 1e-6, 1e6);
			c->sigma_given = 1;
			break;
		case OPT_WARMUP:
			c->recipe.kl_warmup = (uint32_t)vk_parse_long("--kl-warmup", optarg, 0, 1000000);
			c->recipe_given = 1;
			break;
		case OPT_CYCLES:
			c->recipe.kl_cycles = (uint32_t)vk_parse_long("--kl-cycles", optarg, 0, 1000000);
			c->recipe_given = 1;
			break;
		case OPT_FREEBITS:
			c->recipe.free_bits = (float)vk_parse_double("--free-bits", optarg, 0, 1000);
			c->recipe_given = 1;
			break;
		case OPT_IW:
			c->recipe.iw_train = (uint32_t)vk_parse_long("--iw-train", optarg, 1, 1000);
			c->recipe_given = 1;
			break;
		case OPT_LRSCHED:
			parse_schedule(optarg, &c->recipe);
			c->recipe_given = 1;
			break;
		case OPT_EARLY:
			c->recipe.early_stop = (uint32_t)vk_parse_long("--early-stop", optarg, 1, 1000000);
			break;
		case OPT_BETA:
			c->beta = (float)vk_parse_double("--beta", optarg, 0, 1e6);
			c->beta_given = c->recipe_given = 1;
			break;
		case OPT_CLASSES:
			c->arch.classes = (int)vk_parse_long("--classes", optarg, 1, VK_MAX_CLASSES);
			break;
		case 's':
			c->seed = (uint64_t)vk_parse_long("--seed", optarg, 0, 0x7fffffffffffffffL);
			c->recipe_given = 1;
			break;
		case 't': c->threads = (int)vk_parse_long("--threads", optarg, 1, 1024); break;
		case OPT_TEST: c->test = optarg; break;
		case OPT_LOG: c->log = optarg; break;
		case OPT_RESUME: c->resume = 1; break;
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
	if (!c->output)
		vk_usage_error("an output model is required (-o MODEL)");
	vk_trainrec *r = &c->recipe;
	if (r->kl_warmup && r->kl_cycles)
		vk_usage_error("--kl-warmup and --kl-cycles are two KL schedules; use one");
	if (r->kl_cycles > (uint32_t)c->epochs)
		vk_usage_error("--kl-cycles %u: more cycles than the %d epochs", r->kl_cycles,
			       c->epochs);
	if (r->lr_schedule == VK_LR_PLATEAU && !c->test)
		vk_usage_error("--lr-schedule plateau needs --test: it watches the test loss");
	if (r->early_stop && !c->test)
		vk_usage_error("--early-stop needs --test: it watches the test loss");
	if (c->sigma_learned && c->arch.likelihood != VK_GAUSSIAN)
		vk_usage_error("--sigma learned needs --loss gaussian");
	if (c->arch.kind == VK_AE && (r->free_bits > 0 || r->iw_train > 1 || r->kl_warmup ||
				      r->kl_cycles))
		vk_usage_error("--free-bits, --iw-train, --kl-warmup and --kl-cycles act on the KL "
			       "term, which an autoencoder (-m ae) does not have");
	if (r->iw_train > 1 && (r->free_bits > 0 || r->kl_warmup || r->kl_cycles ||
				c->beta != 1.0f || c->sigma_learned))
		vk_usage_error("--iw-train trains on the importance-weighted bound itself; it does "
			       "not combine with --beta, --kl-warmup, --kl-cycles, --free-bits or "
			       "--sigma learned");
	if (r->iw_train > 1 && (long)r->iw_train * c->batch > 1 << 20)
		vk_usage_error("--iw-train %u with --batch %d: %ld samples a step is too many "
			       "(limit %d); lower one of them", r->iw_train, c->batch,
			       (long)r->iw_train * c->batch, 1 << 20);
	if (r->early_stop)
		snprintf(c->last, sizeof c->last, "%s.last", c->output);
	if (c->arch.classes && c->arch.kind != VK_CVAE)
		vk_usage_error("--classes applies only to --model cvae");
	if (c->encoder && c->hidden)
		vk_usage_error("--encoder and --hidden both give the encoder; use one");
	if (c->arch_name && (c->encoder || c->decoder || c->hidden))
		vk_usage_error("--arch %s names a whole network; drop --encoder, --decoder and "
			       "--hidden, or --arch", c->arch_name);
	/* Layer lists are checked now, before any data is read. */
	vk_error e;
	if (c->encoder && vk_layers_parse(c->encoder, c->act, c->arch.enc, VK_MAX_LAYERS,
					  &c->arch.n_enc, &e))
		vk_usage_error("--encoder: %s", e.msg);
	if (c->decoder && vk_layers_parse(c->decoder, c->act, c->arch.dec, VK_MAX_LAYERS,
					  &c->arch.n_dec, &e))
		vk_usage_error("--decoder: %s", e.msg);
	int conv_arch = c->arch_name && !strcmp(c->arch_name, "conv");
	if (!c->encoder && !conv_arch) {
		/* --hidden 400,200 is --encoder dense:400,dense:200; 0 or none: no layers */
		const char *h = c->hidden ? c->hidden : "400";
		int w[VK_MAX_LAYERS], n = 0;
		if (strcmp(h, "0") && strcmp(h, "none"))
			n = vk_parse_list("--hidden", h, w, VK_MAX_LAYERS, 1, VK_MAX_WIDTH);
		for (int i = 0; i < n; i++)
			c->arch.enc[i] = vk_dense_spec(w[i], (vk_shape){0}, c->act);
		c->arch.n_enc = n;
	}
	c->train = vk_input_arg(argc, argv, optind);
	if (c->test)
		vk_stdin_once(2, (const char *const[]){"TRAIN", "--test"},
			      (const char *const[]){c->train, c->test});
	if (c->resume && c->arch_given)
		vk_warn("--resume continues the network in %s; the architecture options are "
			"ignored", c->output);
	if (c->resume && c->recipe_given)
		vk_warn("--resume continues with the checkpoint's --batch, --lr, --beta, --seed, "
			"--optimizer, --kl-warmup, --kl-cycles, --free-bits, --iw-train and "
			"--lr-schedule; the ones given are ignored");
	if (c->beta_given && c->arch.kind == VK_AE && !c->resume)
		vk_option_has_no_effect("--beta", "with --model ae (an autoencoder has no KL term)");
	if (c->sigma_given && c->arch.likelihood != VK_GAUSSIAN && !c->resume)
		vk_option_has_no_effect("--sigma", "without --loss gaussian");
}

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig) { (void)sig; stop_requested = 1; }

/* Say where training stopped and how to go on; the checkpoint is saved. */
static void interrupted(const struct cmdline *c, int epoch, size_t done, size_t n)
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
	       "continue with: %s", epoch, done, n, c->last[0] ? c->last : c->output, cmd);
}

/* The loss of a batch was not finite: say so, keep the last good checkpoint. */
static void diverged(const struct cmdline *c, int epoch, uint64_t batch, int saved_epochs)
{
	char keep[8400];
	if (saved_epochs > 0)
		snprintf(keep, sizeof keep, "%s keeps the last good checkpoint (epoch %d)",
			 c->last[0] ? c->last : c->output, saved_epochs);
	else
		snprintf(keep, sizeof keep, "nothing was saved");
	vk_die("epoch %d, batch %llu: the loss is not finite: training diverged; %s; try a lower "
	       "--lr than %g%s", epoch, (unsigned long long)batch, keep, c->lr,
	       c->arch.likelihood == VK_GAUSSIAN ? " or a larger --sigma" : "");
}

/* The layer lists from the options, once the data's shape is known. */
static void build_arch(struct cmdline *c, const vk_dataset *d)
{
	vk_arch *a = &c->arch;
	vk_error e;
	vk_arch_set_input(a, d->h.rank, d->h.dims);
	if (a->input_size < 0)
		vk_die("records of %zu values are too large (limit %d)", d->dim, VK_MAX_VALUES);
	vk_shape in = vk_arch_input_shape(a);
	char enc[256], dec[256];
	if (c->arch_name && !strcmp(c->arch_name, "conv")) {
		/* Keras' VAE example (keras-io examples/generative/vae.py) for any H×W×C
		 * with sides divisible by 4; the output deconv:C:3:1 is the model's own. */
		if (!vk_shape_is_image(in) || in.h % 4 || in.w % 4)
			vk_die("--arch conv needs images whose sides are divisible by 4; the data's "
			       "records are %s", ts_shape_str(&d->h, enc, sizeof enc));
		snprintf(dec, sizeof dec, "dense:%dx%dx64,deconv:64:3:2,deconv:32:3:2", in.h / 4,
			 in.w / 4);
		if (vk_layers_parse("conv:32:3:2,conv:64:3:2,dense:16", VK_RELU, a->enc,
				    VK_MAX_LAYERS, &a->n_enc, &e) ||
		    vk_layers_parse(dec, VK_RELU, a->dec, VK_MAX_LAYERS, &a->n_dec, &e))
			vk_die("--arch conv: %s", e.msg);
	} else if (!c->decoder && vk_layers_mirror(a->enc, a->n_enc, in, a->dec, &a->n_dec, &e)) {
		vk_die("--encoder: %s", e.msg);
	}
	if (a->kind == VK_CVAE && vk_dataset_require_labels(d, "training data", &e))
		vk_die_error(&e);
	if (a->kind == VK_CVAE && !a->classes) {
		char buf[32];
		const char *meta = ts_meta_get(&d->h, "classes", buf, sizeof buf);
		a->classes = meta ? atoi(meta) : vk_dataset_classes(d);
		if (a->classes < 1 || a->classes > VK_MAX_CLASSES)
			vk_die("cannot tell the number of classes from the data; use --classes");
	}
	a->label_scaled = a->kind == VK_CVAE; /* see vk_label_value */
}

/* The data fits the model (the library's one rule) and its labels its classes. */
static void check_fits(const vk_model *m, const vk_dataset *d, const char *what)
{
	vk_error e;
	if (vk_check_input(m, &d->h, what, &e) ||
	    (d->labels && vk_check_labels(m, d->labels, d->n, 0, what, &e)))
		vk_die_error(&e);
}

/* The trainer's state that the training record keeps (learned σ). */
static void sync_rec(vk_trainrec *rec, const vk_trainer *t)
{
	if (t->learn_sigma) {
		rec->log_sigma = t->log_sigma;
		rec->log_sigma_m = t->ls_m;
		rec->log_sigma_v = t->ls_v;
	}
}

static FILE *open_log(const char *path, int resume)
{
	if (!path)
		return NULL;
	FILE *f = fopen(path, resume ? "a" : "w");
	if (!f)
		vk_die("cannot open log %s:", path);
	if (!resume)
		fputs("epoch\tseconds\ttrain_rec\ttrain_kl\ttrain_nelbo\ttest_rec\ttest_kl\t"
		      "test_nelbo\tbeta\tlr\tsigma\n", f);
	return f;
}

int main(int argc, char **argv)
{
	struct cmdline c;
	vk_error e;
	vk_init(argc, argv);
	/* Under mpirun every rank trains on its share of each batch; rank 0
	 * alone writes the model, the log and the summaries. */
	int lead = vk_dist_init(&argc, &argv) == 1 || vk_dist_rank() == 0;
	parse_cmdline(argc, argv, &c);
	/* Before anything is opened for writing: the model and the log may not
	 * be the data (the model is read back only by --resume, as itself). */
	vk_refuse_output_is_input(c.output, (const char *const[]){c.train, c.test}, c.test ? 2 : 1);
	if (c.log)
		vk_refuse_output_is_input(c.log, (const char *const[]){c.train, c.test, c.output},
					  3);

	vk_dataset train, test;
	size_t budget = c.max_memory; /* one --max-memory for both streams */
	if (vk_dataset_load_within(&train, c.train, &budget, c.max_memory, &e))
		vk_die_error(&e);
	if (c.test && vk_dataset_load_within(&test, c.test, &budget, c.max_memory, &e))
		vk_die_error(&e);

	vk_model model;
	vk_trainrec rec = {0};
	vk_optstate saved = {0};
	vk_epoch_pos pos = {0};
	if (c.resume) {
		if (vk_checkpoint_load(c.output, &model, &rec, &saved, &pos, &e))
			vk_die_error(&e);
		if (rec.early_stop) {
			/* MODEL holds the best epoch; the run goes on from MODEL.last. */
			snprintf(c.last, sizeof c.last, "%s.last", c.output);
			free(saved.m);
			free(saved.v);
			vk_model_free(&model);
			if (vk_checkpoint_load(c.last, &model, &rec, &saved, &pos, &e))
				vk_die_error(&e);
			if (!c.test)
				vk_die("%s was trained with --early-stop, which needs --test", c.output);
			if (rec.best_epoch && rec.epochs - rec.best_epoch >= rec.early_stop)
				vk_die("%s stopped early after epoch %llu (no test improvement since epoch "
				       "%u); it holds the best epoch, %s the last", c.output,
				       (unsigned long long)rec.epochs, rec.best_epoch, c.last);
		}
		if (rec.lr_schedule == VK_LR_PLATEAU && !c.test)
			vk_die("%s was trained with --lr-schedule plateau, which needs --test",
			       c.output);
		if (!saved.present)
			vk_die("%s holds no optimiser state to resume from", c.output);
		c.batch = rec.batch, c.lr = rec.lr, c.beta = rec.beta, c.seed = rec.seed;
		c.optimizer = rec.optimizer;
		if (rec.epochs >= (uint64_t)c.epochs)
			vk_die("%s already has %llu epochs; ask for more with --epochs", c.output,
			       (unsigned long long)rec.epochs);
	} else {
		build_arch(&c, &train);
		if (vk_model_alloc(&model, &c.arch, &e))
			vk_die_error(&e);
	}
	check_fits(&model, &train, "training data");
	if (model.a.likelihood == VK_BERNOULLI && vk_check_unit_targets(&train, "training data", &e))
		vk_die_error(&e);
	if (c.test) {
		check_fits(&model, &test, "test data");
		if (model.a.likelihood == VK_BERNOULLI && vk_check_unit_targets(&test, "test data", &e))
			vk_die_error(&e);
	}

	if (!c.resume) {
		/* The recipe's options and their starting state. */
		const vk_trainrec *o = &c.recipe;
		rec = (vk_trainrec){.seed = c.seed, .batch = c.batch, .optimizer = c.optimizer,
				    .lr = c.lr, .beta = c.beta, .kl_warmup = o->kl_warmup,
				    .kl_cycles = o->kl_cycles, .free_bits = o->free_bits,
				    .iw_train = o->iw_train, .lr_schedule = o->lr_schedule,
				    .lr_every = o->lr_every, .lr_gamma = o->lr_gamma,
				    .early_stop = o->early_stop,
				    .flags = c.sigma_learned ? VK_TRAIN_SIGMA_LEARNED : 0,
				    .best_test = NAN};
	}
	vk_trainer t;
	if (vk_trainer_init2(&t, &model, train.n, c.batch, c.optimizer, c.lr, c.beta, c.seed,
			     c.threads, &rec, &e))
		vk_die_error(&e);
	if (c.resume) {
		if (vk_trainer_resume(&t, &saved, &pos, &e))
			vk_die("%s: %s", c.output, e.msg);
		free(saved.m);
		free(saved.v);
	} else {
		vk_model_init_params(&model, &t.opt.rng);
		/* The data's metadata, cut at a line boundary if it is long. */
		size_t len = train.h.meta_len < VK_DESC_MAX ? train.h.meta_len : VK_DESC_MAX;
		while (len && train.h.meta[len - 1] != '\n')
			len--;
		memcpy(rec.desc, train.h.meta, len);
		rec.desc[len] = 0;
	}

	/* Only one vae-train may write a given MODEL at a time. */
	vk_afile_remove_stale(c.output);
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	FILE *log = lead ? open_log(c.log, c.resume) : NULL;
	vk_work eval_work;
	if (c.test && vk_work_alloc(&eval_work, &model, 512, &e))
		vk_die_error(&e);
	int vae = model.a.kind != VK_AE;

	/* Where the last epoch's checkpoint goes: MODEL.last under --early-stop. */
	const char *ckpt = c.last[0] ? c.last : c.output;
	for (int epoch = (int)rec.epochs + 1; epoch <= c.epochs; epoch++) {
		if (stop_requested)
			interrupted(&c, epoch, 0, train.n);
		t.epoch = epoch, t.epochs = c.epochs;
		t.opt.adam.lr = rec.lr_now = vk_lr_at(&rec, epoch, c.epochs);
		size_t start = vk_epoch_records(&t, t.pos.batches);
		vk_progress p;
		char label[64];
		snprintf(label, sizeof label, "epoch %d/%d", epoch, c.epochs);
		vk_progress_start(&p, "records", train.n);
		vk_progress_label(&p, label);
		double t0 = vk_now(), tr_rec, tr_kl, te_rec = NAN, te_kl = NAN;
		int stopped = vk_train_epoch(&t, &train, &tr_rec, &tr_kl, &p, &stop_requested);
		double secs = vk_now() - t0;
		vk_progress_end(&p);
		if (stopped == VK_EPOCH_DIVERGED)
			diverged(&c, epoch, t.diverged_batch, epoch - 1);
		if (stopped) {
			size_t done = vk_epoch_records(&t, t.pos.batches);
			rec.records_seen += done - start;
			sync_rec(&rec, &t);
			if (lead && vk_checkpoint_save(ckpt, &t, &rec, &e))
				vk_die_error(&e);
			interrupted(&c, epoch, done, train.n);
		}
		/* The run's seed for the evaluation noise, every epoch the same, as
		 * kl-eval --seed draws it: the last test -ELBO is kl-eval's. */
		if (c.test && vk_evaluate(&model, &eval_work, &test, c.seed, &te_rec, &te_kl, &e))
			vk_die_error(&e);
		for (size_t i = 0; i < model.n_params; i++)
			if (!isfinite(model.params[i]))
				diverged(&c, epoch, t.pos.batches, epoch - 1);
		rec.epochs = epoch;
		rec.records_seen += train.n - start;
		rec.train_rec = tr_rec, rec.train_kl = tr_kl;
		rec.test_rec = te_rec, rec.test_kl = te_kl;
		sync_rec(&rec, &t);
		/* The test loss watched by --early-stop and the plateau schedule. */
		int improved = 0;
		if (c.test) {
			float loss = (float)(te_rec + (vae ? te_kl : 0));
			improved = !(rec.best_test <= loss);
			if (improved) {
				rec.best_test = loss;
				rec.best_epoch = (uint32_t)epoch;
				rec.plateau_bad = 0;
			} else if (++rec.plateau_bad >= rec.lr_every &&
				   rec.lr_schedule == VK_LR_PLATEAU) {
				rec.lr_now *= rec.lr_gamma; /* from the next epoch */
				rec.plateau_bad = 0;
			}
		}
		if (lead && vk_model_save(ckpt, &model, &rec, &t.opt, &e))
			vk_die_error(&e);
		if (lead && c.last[0] && improved && vk_model_save(c.output, &model, &rec, &t.opt, &e))
			vk_die_error(&e);
		int early = rec.early_stop && (uint32_t)epoch - rec.best_epoch >= rec.early_stop;
		if (lead && !c.quiet) {
			fprintf(stderr, "%s: epoch %d/%d %.2fs train rec %.3f kl %.3f", vk_progname,
				epoch, c.epochs, secs, tr_rec, tr_kl);
			if (vae)
				fprintf(stderr, " -elbo %.3f", tr_rec + tr_kl);
			if (c.test)
				fprintf(stderr, vae ? " | test rec %.3f kl %.3f -elbo %.3f"
						    : " | test rec %.3f", te_rec, te_kl, te_rec + te_kl);
			if (vae && (rec.kl_warmup || rec.kl_cycles))
				fprintf(stderr, " beta %g", t.beta_now);
			if (rec.lr_schedule != VK_LR_CONSTANT)
				fprintf(stderr, " lr %g", t.opt.adam.lr);
			if (t.learn_sigma)
				fprintf(stderr, " sigma %.4g", model.a.sigma);
			fputc('\n', stderr);
		}
		if (log) {
			fprintf(log, "%d\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.6g\t%.6g\t%.6g\n",
				epoch, secs, tr_rec, tr_kl, vae ? tr_rec + tr_kl : NAN, te_rec, te_kl,
				vae ? te_rec + te_kl : NAN, vae ? t.beta_now : NAN, t.opt.adam.lr,
				model.a.likelihood == VK_GAUSSIAN ? model.a.sigma : NAN);
			if (vk_check_written(log, c.log, &e))
				vk_die_error(&e);
		}
		if (early) {
			if (lead && !c.quiet)
				fprintf(stderr, "%s: early stop after epoch %d: no test improvement for %u "
					"epochs; %s holds epoch %u (test loss %.4f), %s the last epoch\n",
					vk_progname, epoch, rec.early_stop, c.output, rec.best_epoch,
					rec.best_test, c.last);
			break;
		}
	}
	if (log && fclose(log) != 0)
		vk_die("error writing log %s:", c.log);
	/* Released so that LeakSanitizer (make SANITIZE=1) and valgrind stay quiet. */
	if (c.test) {
		vk_work_free(&eval_work);
		vk_dataset_free(&test);
	}
	vk_trainer_free(&t);
	vk_model_free(&model);
	vk_dataset_free(&train);
	vk_dist_finalize();
	return 0;
}
