/* libFuzzer harness: the small text tables vaekit reads back — record-number
 * sets (stream-cat --index), kl-eval summaries (--merge) and manifests
 * (img2stream --manifest). The first byte picks the reader. A set that
 * parses is queried in order and must agree with its own size; a summary
 * that merges is written again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "evaltsv.h"
#include "indexset.h"
#include "manifest.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	if (!size)
		return 0;
	int which = data[0] % 3;
	data++, size--;
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = 0;
	vk_error e;
	if (which == 0) {
		vk_index_set s;
		vk_index_set_init(&s);
		if (vk_index_set_parse(&s, text, "fuzz", &e) == 0) {
			vk_index_set_finish(&s);
			uint64_t n = 0, end = vk_index_set_end(&s);
			/* walk the ranges' edges only: the set may span 2^40 numbers */
			for (size_t i = 0; i < s.n; i++) {
				if (s.r[i].lo >= s.r[i].hi || (i && s.r[i].lo <= s.r[i - 1].hi))
					abort();  /* not sorted, disjoint and non-empty */
				n += s.r[i].hi - s.r[i].lo;
			}
			if (n != vk_index_set_size(&s) || (s.n && end != s.r[s.n - 1].hi))
				abort();
			s.cursor = 0;
			for (size_t i = 0; i < s.n; i++)
				if (!vk_index_set_next(&s, s.r[i].lo) || vk_index_set_next(&s, s.r[i].hi))
					abort();
		}
		vk_index_set_free(&s);
	} else if (which == 1) {
		FILE *f = fmemopen(text, size ? size : 1, "r");
		vk_evalrow rows[4];
		int n = 0;
		if (f && vk_evaltsv_merge(f, "fuzz", rows, &n, 4, &e) == 0) {
			const vk_evalrow *p[4];
			for (int k = 0; k < n; k++)
				p[k] = &rows[k];
			FILE *out = fopen("/dev/null", "w");
			vk_evaltsv_write(out, p, n);
			fclose(out);
		}
		for (int k = 0; k < n; k++) {
			vk_evalsum_free(&rows[k].sum);
			free((char *)rows[k].name);
		}
		if (f)
			fclose(f);
	} else {
		char path[] = "/tmp/fuzz-manifest-XXXXXX";
		int fd = mkstemp(path);
		if (fd >= 0) {
			if (write(fd, data, size) == (ssize_t)size) {
				vk_manifest m;
				if (vk_manifest_load(&m, path, &e) == 0)
					vk_manifest_free(&m);
			}
			close(fd);
			unlink(path);
		}
	}
	free(text);
	return 0;
}
