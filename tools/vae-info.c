/* vae-info — what a model file holds: its network layer by layer, and how it was trained. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "blascore.h"
#include "classes.h"
#include "modelfile.h"
#include "modelstream.h"
#include "objective.h"
#include "opts.h"

static const char USAGE[] =
	"Usage: vae-info [OPTION]... MODEL...\n"
	"  or:  vae-info --system\n"
	"Describe each trained MODEL: its kind, likelihood and input shape, every layer\n"
	"of its encoder and decoder with its output shape, activation and parameter\n"
	"count, the latent size, the classes, the model's identity (recorded by the\n"
	"priors fitted on it), and the training record.\n\n"
	"      --system        describe this machine as vaekit uses it: the CPU, its\n"
	"                      flags that matter, this build's instruction set, the BLAS\n"
	"                      and the kernels (core) it runs; no MODEL needed\n"
	"      --tsv           one 'model<TAB>key<TAB>value' line per fact, for scripts\n"
	"  -h, --help          show this help and exit\n"
	"      --version       show the version and exit\n";

struct cmdline {
	int tsv, system, n_models;
	char **models;
};

enum { OPT_TSV = VK_OPT_FIRST_LONG, OPT_SYSTEM };

static void parse_cmdline(int argc, char **argv, struct cmdline *c)
{
	static const struct option longopts[] = {{"tsv", no_argument, 0, OPT_TSV},
						 {"system", no_argument, 0, OPT_SYSTEM},
						 {"help", no_argument, 0, 'h'},
						 {"version", no_argument, 0, VK_OPT_VERSION},
						 {0, 0, 0, 0}};
	memset(c, 0, sizeof *c);
	int ch;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (vk_common_option(ch, USAGE))
			continue;
		if (ch == OPT_TSV)
			c->tsv = 1;
		if (ch == OPT_SYSTEM)
			c->system = 1;
	}
	if (optind == argc && !c->system)
		vk_usage_error("no model given");
	c->models = argv + optind;
	c->n_models = argc - optind;
}

/* One fact: a "key: value" line for people, a TSV row for scripts. */
static void fact(const struct cmdline *c, const char *model, const char *key, const char *fmt,
		 ...) __attribute__((format(printf, 4, 5)));
static void fact(const struct cmdline *c, const char *model, const char *key, const char *fmt,
		 ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (c->tsv)
		printf("%s\t%s\t", model, key);
	else
		printf("%-18s ", key);
	vprintf(fmt, ap);
	putchar('\n');
	va_end(ap);
}

static size_t layer_params(const vk_layer *l) { return vk_layer_params_all(l); }

static void print_layers(const struct cmdline *c, const char *model, const char *part,
			 const vk_layer *L, int n, const char *last_role)
{
	char spec[96], shape[48], key[64];
	if (!c->tsv)
		printf("%s\n  %-3s %-26s %-12s %-10s %10s\n", part, "#", "layer", "output",
		       "activation", "params");
	for (int i = 0; i < n; i++) {
		const vk_layer *l = &L[i];
		vk_layer_spec_str(&l->spec, spec, sizeof spec);
		*strrchr(spec, '/') = 0; /* the activation has its own column */
		vk_shape_str(l->out, shape, sizeof shape);
		const char *act = vk_act_name(l->spec.act);
		if (c->tsv) {
			snprintf(key, sizeof key, "%s.%d", part, i + 1);
			printf("%s\t%s\t%s%s%s%s\t%s\t%s\t%zu\n", model, key, spec,
			       l->label_in ? "+label" : "", i == n - 1 ? " " : "",
			       i == n - 1 ? last_role : "", shape, act, layer_params(l));
			continue;
		}
		char name[128];
		snprintf(name, sizeof name, "%s%s%s%s%s", spec, l->label_in ? " +label" : "",
			 i == n - 1 ? " (" : "", i == n - 1 ? last_role : "", i == n - 1 ? ")" : "");
		printf("  %-3d %-26s %-12s %-10s %10zu\n", i + 1, name, shape, act, layer_params(l));
	}
}

/* The class count, with the training data's class names when it gave them. */
static void class_fact(const struct cmdline *c, const char *path, int classes,
		       const vk_trainrec *t)
{
	static ts_header h;
	vk_trainrec_meta(t, &h);
	char names[512] = "", buf[VK_CLASS_NAME_MAX];
	size_t len = 0;
	for (int i = 0; i < classes && len < sizeof names - 8; i++) {
		if (!vk_class_name(&h, i, buf, sizeof buf))
			break;
		len += snprintf(names + len, sizeof names - len, "%s%s", i ? ", " : " (", buf);
	}
	if (len >= sizeof names - 8)
		snprintf(names + sizeof names - 8, 8, ", ...");
	fact(c, path, "classes", "%d%s%s", classes, names, *names ? ")" : "");
}

static const char *optimizer_name(int o)
{
	return o == VK_OPT_ADAM ? "adam" : o == VK_OPT_SGD ? "sgd" : "?";
}

/* Describe one model file; -1 (with e) when it cannot be read. */
static int vae_info(const struct cmdline *c, const char *path, vk_error *e)
{
	vk_model m;
	vk_trainrec t;
	vk_optstate o;
	if (vk_model_load(path, &m, &t, &o, e))
		return -1;
	const vk_arch *a = &m.a;
	char shape[48];
	if (!c->tsv)
		printf("%s\n", path);
	fact(c, path, "kind", "%s", vk_kind_name(a->kind));
	fact(c, path, "likelihood", "%s", vk_likelihood_name(a->likelihood));
	if (vk_lik_of(a)->has_sigma)
		fact(c, path, "sigma", "%g%s", a->sigma,
		     t.flags & VK_TRAIN_SIGMA_LEARNED ? " (learned)" : "");
	fact(c, path, "input", "%s (%d values)",
	     vk_shape_str(vk_arch_input_shape(a), shape, sizeof shape), a->input_size);
	if (a->codes)
		fact(c, path, "codes", "%d", a->codes);
	if (!vk_autoregressive(a))
		fact(c, path, "latent", "%d", a->latent);
	if (a->classes) {
		class_fact(c, path, a->classes, &t);
		if (!vk_autoregressive(a)) /* a cpixelcnn's class is a bias, not a one-hot */
			fact(c, path, "label_value", "%.6g%s", vk_label_value(a),
			     a->label_scaled ? " (sqrt of the classes)"
					     : " (a model before format 2.1)");
	}
	const vk_latent_kind *L = vk_latent_of(a);
	if (a->codes && !vk_autoregressive(a)) {
		/* a discrete code: its codebook, map and the usage its state keeps */
		vk_shape map = m.code;
		fact(c, path, "code_dim", "%d", map.c);
		fact(c, path, "code_map", "%dx%d", map.h > 0 ? map.h : 1, map.h > 0 ? map.w : 1);
		fact(c, path, "codebook", "%s", a->codebook_ema ? "ema" : "loss");
		fact(c, path, "commitment", "%g", a->commitment);
		if (a->codebook_ema)
			fact(c, path, "ema_decay", "%g", a->decay);
		if (L->usage) {
			double *u = vk_xcalloc((size_t)a->codes, sizeof(double));
			vk_latent_ctx lc = vk_latent_ctx_of(&m, NULL);
			L->usage(&lc, u);
			int unused = 0, rare = 0;
			for (int k = 0; k < a->codes; k++)
				rare += u[k] < 1;
			double ppl = vk_code_perplexity(u, a->codes, &unused);
			if (unused < a->codes)
				fact(c, path, "code_usage", "perplexity %.1f, %d codes used less than once a "
				     "batch (the last batches' moving average)", ppl, rare);
			free(u);
		}
	}
	if (vk_autoregressive(a)) { /* one list: the masked network */
		print_layers(c, path, "network", m.dec, m.n_dec, "output");
	} else {
		print_layers(c, path, "encoder", m.enc, m.n_enc, L->map ? "code" : "head");
		print_layers(c, path, "decoder", m.dec, m.n_dec, "output");
	}
	fact(c, path, "parameters", "%zu", m.n_params);
	if (m.n_state) /* batchnorm's running statistics, a codebook's moving averages */
		fact(c, path, "layer_state", "%zu (%s)", m.n_state,
		     m.lat_s < m.n_state ? "running statistics and the codebook's moving averages"
					 : "running statistics");
	fact(c, path, "identity", "%016llx", (unsigned long long)vk_model_identity(&m));
	fact(c, path, "epochs", "%llu", (unsigned long long)t.epochs);
	fact(c, path, "records_seen", "%llu", (unsigned long long)t.records_seen);
	fact(c, path, "seed", "%llu", (unsigned long long)t.seed);
	fact(c, path, "batch", "%d", t.batch);
	fact(c, path, "optimizer", "%s", optimizer_name(t.optimizer));
	fact(c, path, "lr", "%g", t.lr);
	if (t.lr_schedule == VK_LR_COSINE)
		fact(c, path, "lr_schedule", "cosine");
	else if (t.lr_schedule == VK_LR_STEP)
		fact(c, path, "lr_schedule", "step:%u:%g", t.lr_every, t.lr_gamma);
	else if (t.lr_schedule == VK_LR_PLATEAU)
		fact(c, path, "lr_schedule", "plateau:%u:%g", t.lr_every, t.lr_gamma);
	else
		fact(c, path, "lr_schedule", "constant");
	if (t.lr_schedule != VK_LR_CONSTANT && t.lr_now > 0)
		fact(c, path, "lr_last", "%g", t.lr_now);
	const vk_objective_kind *obj = vk_objective_at((int)t.objective);
	fact(c, path, "objective", "%s", obj ? obj->name : "?");
	if (obj == &vk_objective_infovae)
		fact(c, path, "info_alpha", "%g", t.obj_alpha);
	if (obj == &vk_objective_tcvae) {
		fact(c, path, "tc_alpha", "%g", t.obj_alpha);
		fact(c, path, "tc_beta", "%g", t.obj_beta);
		fact(c, path, "tc_gamma", "%g", t.obj_gamma);
	} else if (t.objective)
		fact(c, path, "mmd_lambda", "%g", t.obj_lambda);
	if (!vk_autoregressive(a))
		fact(c, path, "beta", "%g", t.beta);
	if (t.kl_warmup)
		fact(c, path, "kl_warmup", "%u", t.kl_warmup);
	if (t.kl_cycles)
		fact(c, path, "kl_cycles", "%u", t.kl_cycles);
	if (t.free_bits > 0)
		fact(c, path, "free_bits", "%g", t.free_bits);
	if (t.iw_train > 1)
		fact(c, path, "iw_train", "%u", t.iw_train);
	if (t.early_stop) {
		fact(c, path, "early_stop", "%u", t.early_stop);
		fact(c, path, "best_epoch", "%u", t.best_epoch);
		fact(c, path, "best_test_loss", "%.4f", t.best_test);
	}
	if (vk_autoregressive(a)) { /* the exact NLL per code map, nats */
		fact(c, path, "train_nll", "%.4f", t.train_rec);
		fact(c, path, "test_nll", "%.4f", t.test_rec);
	} else {
		fact(c, path, "train_rec", "%.4f", t.train_rec);
		fact(c, path, "train_kl", "%.4f", t.train_kl);
		fact(c, path, "test_rec", "%.4f", t.test_rec);
		fact(c, path, "test_kl", "%.4f", t.test_kl);
	}
	if (o.present)
		fact(c, path, "optimizer_state", "present (step %llu)", (unsigned long long)o.adam.t);
	else
		fact(c, path, "optimizer_state", "absent");
	/* The training data's metadata, one fact per key=value line. */
	for (const char *line = t.desc; *line;) {
		size_t len = strcspn(line, "\n");
		const char *eq = memchr(line, '=', len);
		if (eq) {
			char key[128];
			snprintf(key, sizeof key, "data.%.*s", (int)(eq - line), line);
			fact(c, path, key, "%.*s", (int)(line + len - eq - 1), eq + 1);
		}
		line += len + (line[len] == '\n');
	}
	free(o.m);
	free(o.v);
	vk_model_free(&m);
	return 0;
}

/* The machine as the programs see it: the same start-up check of the BLAS
 * kernels (vk_blas_init) has run, so the core is the one they would run. */
static void system_info(const struct cmdline *c)
{
	vk_blas_info b;
	char flags[256];
	vk_blas_get_info(&b);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	fact(c, "system", "cpu", "%s (%ld online CPUs)", *vk_cpu_name() ? vk_cpu_name() : "?", cpus);
	fact(c, "system", "cpu_flags", "%s", vk_cpu_flags_str(b.features, flags, sizeof flags));
	fact(c, "system", "vaekit_isa", "%s", vk_build_isa());
	fact(c, "system", "blas", "%s", b.config ? b.config : "?");
	if (b.first)
		fact(c, "system", "blas_core", "%s (chosen by vaekit: OpenBLAS chose %s)", b.core,
		     b.first);
	else if (!strcmp(b.chosen_by, "OPENBLAS_CORETYPE"))
		fact(c, "system", "blas_core", "%s (OPENBLAS_CORETYPE=%s)", b.core,
		     getenv("OPENBLAS_CORETYPE"));
	else
		fact(c, "system", "blas_core", "%s (chosen by OpenBLAS)", b.core);
	fact(c, "system", "blas_best_core", "%s", b.best);
	fact(c, "system", "blas_threads", "%d", b.threads);
	if (vk_blas_note())
		fact(c, "system", "blas_note", "%s", vk_blas_note());
}

int main(int argc, char **argv)
{
	struct cmdline c;
	vk_error e;
	vk_init(argc, argv);
	vk_blas_init(argv);
	parse_cmdline(argc, argv, &c);
	int rc = 0;
	if (c.system) {
		system_info(&c);
		if (c.n_models && !c.tsv)
			putchar('\n');
	}
	for (int i = 0; i < c.n_models; i++) {
		if (i && !c.tsv)
			putchar('\n');
		if (vae_info(&c, c.models[i], &e)) {
			fflush(stdout);
			vk_warn("%s", e.msg);
			rc = 1;
		}
	}
	if (fflush(stdout) || ferror(stdout))
		vk_die("error writing standard output:");
	return rc;
}
