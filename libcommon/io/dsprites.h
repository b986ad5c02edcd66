/* dSprites (Matthey et al. 2017) as its README defines it: 737,280 64x64
 * binary images of a square, an ellipse or a heart at every combination of 6
 * scales, 40 orientations and 32x32 positions, in the original's order
 * (color, shape, scale, orientation, posX, posY; the last varies fastest).
 * The rasterisation is our own: the original does not give sprite sizes. */
#ifndef VK_DSPRITES_H
#define VK_DSPRITES_H

#include <stdint.h>

#include "factors.h"

#define VK_DSPRITES_SIDE 64
#define VK_DSPRITES_PIXELS (VK_DSPRITES_SIDE * VK_DSPRITES_SIDE)
#define VK_DSPRITES_FACTORS 6
#define VK_DSPRITES_COUNT 737280u

/* The six factors: names, sizes and value ranges (formats/factors.md). */
void vk_dsprites_factors(vk_factors *f);
/* Record index (0 ... VK_DSPRITES_COUNT-1) to its six class indices. */
void vk_dsprites_classes(uint64_t index, int cls[VK_DSPRITES_FACTORS]);
/* Draw the image of classes cls into img (64x64 bytes): on inside, 0 outside. */
void vk_dsprites_render(const int cls[VK_DSPRITES_FACTORS], unsigned char *img,
			unsigned char on);

#endif
