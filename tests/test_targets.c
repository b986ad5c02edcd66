/* One rule for Bernoulli targets (issue 27 item 4): vae-train refuses data
 * outside [0, 1] for the Bernoulli decoder, and kl-eval, measuring such a
 * model on such data, refuses it the same way instead of printing a
 * reconstruction term and an ELBO that mean nothing. */
#include <criterion/criterion.h>
#include <string.h>

#include "testutil.h"

Test(bernoulli_targets, kl_eval_and_vae_train_apply_one_rule)
{
	const char *d = tmp_path("targets");
	char err[2048];
	/* one.ts in [0, 1]; two.ts the same rows with values up to 2. */
	cr_assert_eq(run("mkdir -p %s && cd %s && "
			 "seq 1 40 | awk '{print ($1%%3)/2, ($1%%5)/4, 0.5, 1}' | txt2stream -o one.ts && "
			 "seq 1 40 | awk '{print ($1%%3), ($1%%5)/2, 0.5, 1}' | txt2stream -o two.ts && "
			 "vae-train -q -t 1 -z 1 --hidden 4 -e 1 -o b.vkm one.ts && "
			 "vae-train -q -t 1 -z 1 --hidden 4 -e 1 --loss gaussian -o g.vkm two.ts",
			 d, d), 0);
	const char *msg = "two.ts: record 1 has the value 2 at element 0, outside the [0, 1] that "
			  "the Bernoulli decoder fits";
	cr_assert_eq(run_err(err, sizeof err, "cd %s && vae-train -q -t 1 -z 1 --hidden 4 -e 1 "
					      "-o x.vkm two.ts", d), 1);
	cr_assert(strstr(err, "vae-train: training data: record 1 has the value 2"), "%s", err);
	cr_assert_eq(run_err(err, sizeof err, "cd %s && kl-eval -t 1 -m b.vkm two.ts", d), 1,
		     "%s", err);
	cr_assert(!strncmp(err, "kl-eval: ", 9) && strstr(err, msg), "%s", err);
	cr_assert(strstr(err, "(model b.vkm)"), "%s", err);
	cr_assert_eq(run_err(err, sizeof err, "cd %s && kl-eval -t 1 -m b.vkm one.ts >/dev/null && "
					      "kl-eval -t 1 -m g.vkm two.ts >/dev/null", d), 0,
		     "%s", err);
}
