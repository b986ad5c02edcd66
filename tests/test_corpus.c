/* Replays every kept fuzzer input (tests/corpus/KIND/, fuzz/seeds/KIND/)
 * through the very harness that found it: fuzz/fuzz_KIND.c is compiled in
 * here under another name. An input that crashes the parser crashes its
 * Criterion test; under `make check SANITIZE=1` memory errors do too. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include "testutil.h"

#define LLVMFuzzerTestOneInput corpus_stream_one
#include "../fuzz/fuzz_stream.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput corpus_idx_one
#include "../fuzz/fuzz_idx.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput corpus_npy_one
#include "../fuzz/fuzz_npy.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput corpus_model_one
#include "../fuzz/fuzz_model.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput corpus_txt_one
#include "../fuzz/fuzz_txt.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput corpus_layers_one
#include "../fuzz/fuzz_layers.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput corpus_pipe_one
#include "../fuzz/fuzz_pipe.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput corpus_npz_one
#include "../fuzz/fuzz_npz.c"
#undef LLVMFuzzerTestOneInput

typedef int (*harness)(const unsigned char *, size_t);

/* Feed every regular file in rel to h; returns how many there were. */
static int replay_dir(const char *rel, harness h)
{
	const char *dir = repo_path(rel);
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char path[2048];
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		size_t len;
		unsigned char *data = slurp(path, &len);
		cr_assert(data, "cannot read %s", path);
		h(data, len);
		free(data);
		n++;
	}
	closedir(d);
	return n;
}

static void replay(const char *kind, harness h)
{
	char rel[64];
	snprintf(rel, sizeof rel, "fuzz/seeds/%s", kind);
	int n = replay_dir(rel, h);
	snprintf(rel, sizeof rel, "tests/corpus/%s", kind);
	n += replay_dir(rel, h);
	cr_assert(n > 0, "no inputs for %s", kind);
}

Test(fuzz_corpus, stream) { replay("stream", corpus_stream_one); }
Test(fuzz_corpus, idx) { replay("idx", corpus_idx_one); }
Test(fuzz_corpus, npy) { replay("npy", corpus_npy_one); }
Test(fuzz_corpus, model) { replay("model", corpus_model_one); }
Test(fuzz_corpus, txt) { replay("txt", corpus_txt_one); }
Test(fuzz_corpus, layers) { replay("layers", corpus_layers_one); }
Test(fuzz_corpus, pipe) { replay("pipe", corpus_pipe_one); }
Test(fuzz_corpus, npz) { replay("npz", corpus_npz_one); }
