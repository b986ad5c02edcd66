#include "progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
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
	p->label[0] = 0;
}

void vk_progress_label(vk_progress *p, const char *label)
{
	snprintf(p->label, sizeof p->label, "%s", label ? label : "");
}

/* The terminal's width: stderr's window, else $COLUMNS, else 80. */
static int term_cols(void)
{
	struct winsize ws;
	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	const char *c = getenv("COLUMNS");
	int n = c ? atoi(c) : 0;
	return n > 0 ? n : 80;
}

/* "1h02m", "3m05s", "42s". */
static void duration(char *buf, size_t len, double s)
{
	long t = (long)(s + 0.5);
	if (t >= 3600)
		snprintf(buf, len, "%ldh%02ldm", t / 3600, t / 60 % 60);
	else if (t >= 60)
		snprintf(buf, len, "%ldm%02lds", t / 60, t % 60);
	else
		snprintf(buf, len, "%lds", t);
}

size_t vk_progress_format(char *buf, size_t len, int cols, const char *label, uint64_t done,
			  uint64_t total, const char *what, double rate, double eta)
{
	char lab[80] = "", count[64], speed[48] = "", left[48] = "";
	size_t room = cols > 1 ? (size_t)cols - 1 : 0; /* the last column would wrap */
	if (room >= len)
		room = len - 1;
	if (label && *label)
		snprintf(lab, sizeof lab, "%s  ", label);
	if (total)
		snprintf(count, sizeof count, "%llu/%llu %s", (unsigned long long)done,
			 (unsigned long long)total, what);
	else
		snprintf(count, sizeof count, "%llu %s", (unsigned long long)done, what);
	snprintf(speed, sizeof speed, "  %.0f/s", rate);
	if (total && eta >= 0) {
		char d[32];
		duration(d, sizeof d, eta);
		snprintf(left, sizeof left, "  ETA %s", d);
	}
	/* Drop the least useful parts until the text fits: the rate first, then
	 * the ETA, then the label; the count stays (cut at the edge if need be). */
	size_t n;
	for (int drop = 0;; drop++) {
		n = strlen(lab) + strlen(count) + strlen(speed) + strlen(left);
		if (n <= room || drop == 3)
			break;
		if (drop == 0)
			speed[0] = 0;
		else if (drop == 1)
			left[0] = 0;
		else
			lab[0] = 0;
	}
	/* A bar of 10 to 30 cells when there is room for it. */
	char bar[40] = "";
	if (total && n + 13 <= room) {
		size_t width = room - n - 3;
		if (width > 30)
			width = 30;
		size_t fill = (size_t)(width * (double)done / total);
		bar[0] = '[';
		for (size_t i = 0; i < width; i++)
			bar[1 + i] = i < fill ? '#' : '.';
		bar[1 + width] = ']';
		bar[2 + width] = ' ';
		bar[3 + width] = 0;
	}
	snprintf(buf, room + 1, "%s%s%s%s%s", lab, bar, count, speed, left);
	return strlen(buf);
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
	double eta = p->total && rate > 0 ? (p->total - done) / rate : -1;
	char line[512];
	vk_progress_format(line, sizeof line, term_cols(), p->label, done, p->total, p->what, rate,
			   eta);
	fprintf(stderr, "\r%s\033[K", line);
}

void vk_progress_end(vk_progress *p)
{
	if (p->active)
		fputs("\r\033[K", stderr);
	p->active = 0;
}
