#include "progress.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

double vk_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

void vk_progress_start(vk_progress *p, const char *what, uint64_t total)
{
	p->active = isatty(STDERR_FILENO);
	p->what = what;
	p->total = total;
	p->start = vk_now();
	p->last_draw = 0;
}

void vk_progress_update(vk_progress *p, uint64_t done)
{
	if (!p->active)
		return;
	double now = vk_now();
	if (now - p->last_draw < 0.1 && done != p->total)
		return;
	p->last_draw = now;
	double rate = done / (now - p->start + 1e-9);
	if (p->total) {
		int width = 30, fill = (int)(width * (double)done / p->total);
		char bar[31];
		for (int i = 0; i < width; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[width] = 0;
		double eta = rate > 0 ? (p->total - done) / rate : 0;
		fprintf(stderr, "\r[%s] %llu/%llu %s  %.0f/s  ETA %.0fs \033[K", bar,
			(unsigned long long)done, (unsigned long long)p->total, p->what, rate, eta);
	} else {
		fprintf(stderr, "\r%llu %s  %.0f/s\033[K", (unsigned long long)done, p->what, rate);
	}
}

void vk_progress_end(vk_progress *p)
{
	if (p->active)
		fputs("\r\033[K", stderr);
	p->active = 0;
}
