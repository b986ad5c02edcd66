#include "dsprites.h"

#include <math.h>
#include <string.h>

static const int SIZES[VK_DSPRITES_FACTORS] = {1, 3, 6, 40, 32, 32};
static const char *const NAMES[VK_DSPRITES_FACTORS] = {"color", "shape", "scale",
						       "orientation", "posX", "posY"};
static const double LO[VK_DSPRITES_FACTORS] = {1, 1, 0.5, 0, 0, 0};
static const double HI[VK_DSPRITES_FACTORS] = {1, 3, 1, 2 * M_PI, 1, 1};

void vk_dsprites_factors(vk_factors *f)
{
	memset(f, 0, sizeof *f);
	f->k = VK_DSPRITES_FACTORS;
	for (int i = 0; i < f->k; i++) {
		strcpy(f->name[i], NAMES[i]);
		f->size[i] = SIZES[i];
		f->has_range[i] = 1;
		f->lo[i] = LO[i];
		f->hi[i] = HI[i];
	}
}

void vk_dsprites_classes(uint64_t index, int cls[VK_DSPRITES_FACTORS])
{
	for (int i = VK_DSPRITES_FACTORS - 1; i >= 0; i--) {
		cls[i] = (int)(index % SIZES[i]);
		index /= SIZES[i];
	}
}

static double value(int factor, int c)
{
	return SIZES[factor] == 1 ? LO[factor]
				  : LO[factor] + c * (HI[factor] - LO[factor]) / (SIZES[factor] - 1);
}

/* Our geometry, in pixels at scale 1: the square's half side 9, the ellipse's
 * semi-axes 12 and 6, the heart's unit 10 (the curve (x²+y²−1)³ = x²y³); the
 * centre moves over [16, 48] so that no sprite at any angle leaves the image. */
enum { SHAPE_SQUARE, SHAPE_ELLIPSE, SHAPE_HEART };

static int inside(int shape, float x, float y)
{
	switch (shape) {
	case SHAPE_SQUARE: return fabsf(x) <= 9.0f && fabsf(y) <= 9.0f;
	case SHAPE_ELLIPSE: return x * x * (1.0f / 144.0f) + y * y * (1.0f / 36.0f) <= 1.0f;
	default: {
		float u = x * 0.1f, v = -y * 0.1f + 0.125f; /* upright, centred */
		float a = u * u + v * v - 1.0f;
		return a * a * a - u * u * v * v * v <= 0.0f;
	}
	}
}

void vk_dsprites_render(const int cls[VK_DSPRITES_FACTORS], unsigned char *img,
			unsigned char on)
{
	memset(img, 0, VK_DSPRITES_PIXELS);
	float s = (float)value(2, cls[2]), th = (float)value(3, cls[3]);
	float cx = 16.0f + 32.0f * (float)value(4, cls[4]);
	float cy = 16.0f + 32.0f * (float)value(5, cls[5]);
	/* Pixel offsets rotated by −θ and divided by the scale: shape coordinates. */
	float c = cosf(th) / s, sn = sinf(th) / s;
	int reach = (int)ceilf(14.0f * s);
	int r0 = (int)floorf(cy) - reach, r1 = (int)ceilf(cy) + reach;
	int c0 = (int)floorf(cx) - reach, c1 = (int)ceilf(cx) + reach;
	r0 = r0 < 0 ? 0 : r0;
	c0 = c0 < 0 ? 0 : c0;
	r1 = r1 > VK_DSPRITES_SIDE - 1 ? VK_DSPRITES_SIDE - 1 : r1;
	c1 = c1 > VK_DSPRITES_SIDE - 1 ? VK_DSPRITES_SIDE - 1 : c1;
	int shape = cls[1];
	for (int r = r0; r <= r1; r++) {
		float dy = r + 0.5f - cy;
		for (int col = c0; col <= c1; col++) {
			float dx = col + 0.5f - cx;
			float x = c * dx + sn * dy, y = -sn * dx + c * dy;
			if (inside(shape, x, y))
				img[r * VK_DSPRITES_SIDE + col] = on;
		}
	}
}
