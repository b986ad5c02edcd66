/* libFuzzer harness: the layer-list text (vae-train --encoder/--decoder),
 * the mirror, and building a model from the lists on a small image input,
 * where every shape rule runs. */
#include <stdlib.h>
#include <string.h>
#include "model.h"
#include "nn.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	if (size > 4096)
		return 0;
	/* The input is ENCODER '|' DECODER (the decoder optional: mirrored). */
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = 0;
	char *bar = strchr(text, '|');
	if (bar)
		*bar++ = 0;
	vk_arch a = {.kind = VK_CVAE, .input_rank = 3, .input_dims = {12, 10, 3},
		     .input_size = 360, .latent = 2, .classes = 3, .likelihood = VK_BERNOULLI};
	vk_error e;
	vk_shape in = {12, 10, 3};
	if (vk_layers_parse(text, VK_RELU, a.enc, VK_MAX_LAYERS, &a.n_enc, &e) == 0 &&
	    (bar ? vk_layers_parse(bar, VK_TANH, a.dec, VK_MAX_LAYERS, &a.n_dec, &e)
		 : vk_layers_mirror(a.enc, a.n_enc, in, a.dec, &a.n_dec, &e)) == 0) {
		vk_model m;
		/* The shapes and the layout only: the parameters' size is the
		 * user's to choose (up to the library's limit). */
		if (vk_model_build(&m, &a, &e) == 0) {
			char buf[96];
			for (int i = 0; i < m.n_enc; i++)
				vk_layer_spec_str(&m.enc[i].spec, buf, sizeof buf);
		}
	}
	free(text);
	return 0;
}
