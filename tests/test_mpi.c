/* Data-parallel training under MPI: two ranks give the losses of one process
 * (same global batch and seed) to within float summation order. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <unistd.h>

#include "testutil.h"

static int read_log(const char *path, double nelbo[], int max)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	char line[512];
	int n = 0;
	if (!fgets(line, sizeof line, f)) {
		fclose(f);
		return -1;
	}
	while (n < max && fgets(line, sizeof line, f)) {
		double v[5];
		int epoch;
		if (sscanf(line, "%d %lf %lf %lf %lf", &epoch, &v[0], &v[1], &v[2], &v[3]) == 5)
			nelbo[n++] = v[3];
	}
	fclose(f);
	return n;
}

static void two_ranks_match_one_process(const char *tag, const char *net)
{
	const char *mpi_train = repo_path("build-mpi/bin/vae-train");
	if (access(mpi_train, X_OK) != 0 || run("command -v mpirun >/dev/null") != 0)
		cr_skip_test("no MPI build (make MPI=1) or no mpirun");
	char names[4][64];
	const char *suffix[4] = {"train.ts", "one.tsv", "two.tsv", "one.vae"};
	for (int i = 0; i < 4; i++)
		snprintf(names[i], sizeof names[i], "mpi-%s-%s", tag, suffix[i]);
	char data[512], one[512], two[512], model[512];
	snprintf(data, sizeof data, "%s", tmp_path(names[0]));
	snprintf(one, sizeof one, "%s", tmp_path(names[1]));
	snprintf(two, sizeof two, "%s", tmp_path(names[2]));
	snprintf(model, sizeof model, "%s", tmp_path(names[3]));
	cr_assert_eq(run("idx2stream %s | stream-cat -n 512 > %s",
			 repo_path("examples/data/digits-train-images-idx3-ubyte.gz"), data), 0);
	cr_assert_eq(run("%s -q -o %s -e 3 -t 1 --seed 5 %s --latent 4 --log %s %s",
			 mpi_train, model, net, one, data), 0);
	cr_assert_eq(run("mpirun --allow-run-as-root --oversubscribe -np 2 %s -q -o %s -e 3 -t 1 "
			 "--seed 5 %s --latent 4 --log %s %s",
			 mpi_train, model, net, two, data), 0);
	double a[3], b[3];
	cr_assert_eq(read_log(one, a, 3), 3);
	cr_assert_eq(read_log(two, b, 3), 3);
	for (int i = 0; i < 3; i++)
		cr_assert(fabs(a[i] - b[i]) <= 1e-4 * fabs(a[i]), "epoch %d: %g vs %g", i + 1,
			  a[i], b[i]);
	/* and training did something: the loss falls */
	cr_assert(b[2] < b[0]);
}

Test(mpi, two_ranks_match_one_process, .timeout = 120) { two_ranks_match_one_process("mlp", "--hidden 64"); }

Test(mpi, conv_two_ranks_match_one_process, .timeout = 120)
{
	two_ranks_match_one_process("conv", "--encoder conv:8:3:2,conv:8:3:2,dense:16");
}

/* Free bits' weights come from the whole batch's KL per dimension, summed over
 * the ranks by vk_reduce inside the Gaussian latent. */
Test(mpi, free_bits_two_ranks_match_one_process, .timeout = 120)
{
	two_ranks_match_one_process("freebits", "--hidden 64 --free-bits 0.5");
}

/* Batch norm's statistics are the whole batch's, summed over the ranks by
 * vk_reduce inside the layer. */
Test(mpi, batchnorm_two_ranks_match_one_process, .timeout = 120)
{
	two_ranks_match_one_process("batchnorm", "--encoder conv:8:3:2/identity,batchnorm,dense:16 "
				    "--decoder dense:14x14x8,batchnorm:0.2,deconv:4:3:2");
}

/* β-TCVAE's estimator needs every rank's codes and posteriors, gathered by
 * vk_reduce, and sends each rank its posteriors' share of the gradient. */
Test(mpi, tcvae_two_ranks_match_one_process, .timeout = 120)
{
	two_ranks_match_one_process("tcvae", "--hidden 64 --objective tcvae");
}

Test(mpi, mmd_two_ranks_match_one_process, .timeout = 120)
{
	two_ranks_match_one_process("mmd", "--hidden 64 --objective infovae");
}

/* A vqvae's codebook statistics (its counts, its EMA sums, the dead codes'
 * restart vectors) are the whole batch's, summed over the ranks by vk_reduce
 * inside the latent: two ranks train as one process does. */
Test(mpi, vqvae_two_ranks_match_one_process, .timeout = 120)
{
	const char *mpi_train = repo_path("build-mpi/bin/vae-train");
	if (access(mpi_train, X_OK) != 0 || run("command -v mpirun >/dev/null") != 0)
		cr_skip_test("no MPI build (make MPI=1) or no mpirun");
	char data[512], one[512], two[512], model[512], cmd[1024];
	snprintf(data, sizeof data, "%s", tmp_path("mpi-vq-train.ts"));
	snprintf(one, sizeof one, "%s", tmp_path("mpi-vq-one.tsv"));
	snprintf(two, sizeof two, "%s", tmp_path("mpi-vq-two.tsv"));
	snprintf(model, sizeof model, "%s", tmp_path("mpi-vq.vae"));
	cr_assert_eq(run("idx2stream %s | stream-cat -n 512 > %s",
			 repo_path("examples/data/digits-train-images-idx3-ubyte.gz"), data), 0);
	const char *net = "-m vqvae --codes 32 --codebook ema --encoder conv:8:3:2,conv:4:3:2/identity";
	cr_assert_eq(run("%s -q -o %s -e 3 -t 1 --seed 5 %s --log %s %s", mpi_train, model, net,
			 one, data), 0);
	cr_assert_eq(run("mpirun --allow-run-as-root --oversubscribe -np 2 %s -q -o %s -e 3 -t 1 "
			 "--seed 5 %s --log %s %s", mpi_train, model, net, two, data), 0);
	/* train rec, the VQ loss and the perplexity of the last epoch */
	double a[3], b[3];
	for (int k = 0; k < 2; k++) {
		snprintf(cmd, sizeof cmd, "tail -1 %s | cut -f3,4,16", k ? two : one);
		FILE *f = popen(cmd, "r");
		double *v = k ? b : a;
		cr_assert(f && fscanf(f, "%lf %lf %lf", &v[0], &v[1], &v[2]) == 3);
		pclose(f);
	}
	for (int j = 0; j < 3; j++)
		cr_assert(fabs(a[j] - b[j]) <= 1e-3 * fabs(a[j]) + 1e-4, "column %d: %g vs %g", j, a[j],
			  b[j]);
}
