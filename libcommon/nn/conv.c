#include "conv.h"

#include <cblas.h>
#include <immintrin.h>
#include <limits.h>
#include <string.h>

#include "nn.h"

/* Floats of column buffer per chunk: 512 KB, so the buffer the im2col pass
 * writes is still in L2 when the GEMM packs it (and col2im reads what the
 * GEMM just wrote), beside the GEMM's own packed panels, while each GEMM
 * still has hundreds of rows. Measured with bench/conv_bench on a 2 MB L2
 * (all five layers): 384 to 768 KB within noise of 512 KB, 256 KB and 1 MB
 * 3% slower, 2 MB 12% slower. */
#ifndef CHUNK_FLOATS
#define CHUNK_FLOATS (1 << 17)
#endif
/* But never fewer rows than this, whatever the column width: a GEMM of a
 * few rows runs at GEMV speed. */
#define MIN_CHUNK_ROWS 32

/* Bias and activation with few channels (the decoder's last layer has
 * F = 1): a row of F floats is too short for the pass's vector loop, so
 * groups of R rows pass as rows of R·F ≤ TILE floats against the bias tiled
 * R times (and the bias gradient folded back). */
#define TILE 256

static int tile_rows(int F) { return F < TILE / 4 ? TILE / F : 1; }

/* y (rows,F) = act(y + b (F)); tile (TILE) scratch */
static void bias_act_forward(float *y, const float *b, float *tile, size_t rows, int F, int act)
{
	int R = tile_rows(F);
	if (R > 1 && rows >= (size_t)R) {
		for (int i = 0; i < R * F; i++)
			tile[i] = b[i % F];
		size_t groups = rows / R;
		vk_bias_act_forward(y, tile, (int)groups, R * F, act);
		y += groups * R * F;
		rows -= groups * R;
	}
	if (rows)
		vk_bias_act_forward(y, b, (int)rows, F, act);
}

/* dy (rows,F) through the activation's derivative (from y (rows,F));
 * db (F) += Σ_rows dy; dbt (max(TILE, F)) scratch */
static void bias_act_backward(float *dy, float *db, const float *y, float *dbt, size_t rows,
			      int F, int act)
{
	int R = tile_rows(F);
	if (R > 1 && rows >= (size_t)R) {
		size_t groups = rows / R;
		vk_bias_act_backward(dy, dbt, y, (int)groups, R * F, act);
		for (int i = 0; i < R * F; i++)
			db[i % F] += dbt[i];
		dy += groups * R * F;
		y += groups * R * F;
		rows -= groups * R;
	}
	if (rows) {
		vk_bias_act_backward(dy, dbt, y, (int)rows, F, act);
		for (int j = 0; j < F; j++)
			db[j] += dbt[j];
	}
}

/* Runs of n floats: copy, zero, add. A run is K·C floats (one window row),
 * often shorter than a vector (C = 1: 3 floats), where a memcpy call or a
 * vectorised loop's scalar tail costs more than the data; AVX-512's masked
 * loads and stores do a short run or a loop's tail in one step (masked-off
 * lanes never fault). Plain loops elsewhere, e.g. ARCH= builds for valgrind. */
#ifdef __AVX512F__
static inline __mmask16 tail_mask(int n) { return (__mmask16)((1u << n) - 1); }

static inline void copy_run(float *restrict d, const float *restrict s, int n)
{
	for (; n >= 16; n -= 16, d += 16, s += 16)
		_mm512_storeu_ps(d, _mm512_loadu_ps(s));
	if (n)
		_mm512_mask_storeu_ps(d, tail_mask(n), _mm512_maskz_loadu_ps(tail_mask(n), s));
}

static inline void zero_run(float *d, int n)
{
	for (; n >= 16; n -= 16, d += 16)
		_mm512_storeu_ps(d, _mm512_setzero_ps());
	if (n)
		_mm512_mask_storeu_ps(d, tail_mask(n), _mm512_setzero_ps());
}

static inline void add_run(float *restrict d, const float *restrict s, int n)
{
	for (; n >= 16; n -= 16, d += 16, s += 16)
		_mm512_storeu_ps(d, _mm512_add_ps(_mm512_loadu_ps(d), _mm512_loadu_ps(s)));
	if (n) {
		__mmask16 m = tail_mask(n);
		__m512 v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, d), _mm512_maskz_loadu_ps(m, s));
		_mm512_mask_storeu_ps(d, m, v);
	}
}
#else
static inline void copy_run(float *restrict d, const float *restrict s, int n)
{
	memcpy(d, s, sizeof *d * n);
}

static inline void zero_run(float *d, int n) { memset(d, 0, sizeof *d * n); }

static inline void add_run(float *restrict d, const float *restrict s, int n)
{
#pragma omp simd
	for (int i = 0; i < n; i++)
		d[i] += s[i];
}
#endif

/* One lowering: a grid of GH×GW positions over an image IH×IW×IC; grid
 * position (gy,gx) sees the K×K window whose top-left pixel is
 * (gy·S−pad, gx·S−pad). For conv the image is the input and the grid the
 * output; for deconv the image is the output and the grid the input. The
 * lowered matrix has one row per (b,gy,gx) and K·K·IC columns (ky,kx,c). */
typedef struct {
	int IH, IW, IC, GH, GW, K, S, pad;
} lowering;

static lowering lowering_of(const vk_conv_geom *g)
{
	if (g->kind == VK_CONV_TRANSPOSED)
		return (lowering){g->OH, g->OW, g->F, g->H, g->W, g->K, g->S, g->pad};
	return (lowering){g->H, g->W, g->C, g->OH, g->OW, g->K, g->S, g->pad};
}

/* A 1×1 kernel at stride 1 lowers to the image itself: no im2col. */
static int is_direct(const vk_conv_geom *g) { return g->K == 1 && g->S == 1; }

int vk_conv_geom_init(vk_conv_geom *g, int kind, int H, int W, int C, int F, int K, int S,
		      vk_error *e)
{
	const char *name = kind == VK_CONV_SAME ? "conv" : kind == VK_CONV_TRANSPOSED ? "deconv" : NULL;
	if (!name)
		return vk_fail(e, "unknown convolution kind %d", kind);
	if (K < 1 || K > VK_MAX_KERNEL)
		return vk_fail(e, "%s: kernel size %d out of range [1, %d]", name, K,
			       VK_MAX_KERNEL);
	if (S < 1 || S > VK_MAX_STRIDE)
		return vk_fail(e, "%s: stride %d out of range [1, %d]", name, S,
			       VK_MAX_STRIDE);
	if (C < 1 || C > VK_MAX_WIDTH)
		return vk_fail(e, "%s: input channels %d out of range [1, %d]", name, C,
			       VK_MAX_WIDTH);
	if (F < 1 || F > VK_MAX_WIDTH)
		return vk_fail(e, "%s: filters %d out of range [1, %d]", name, F,
			       VK_MAX_WIDTH);
	if (H < 1 || W < 1 || H > VK_MAX_WIDTH || W > VK_MAX_WIDTH)
		return vk_fail(e, "%s: input size %dx%d out of range [1, %d] per side", name, H, W,
			       VK_MAX_WIDTH);
	int pad = (K - 1) / 2;
	long long OH, OW;
	if (kind == VK_CONV_SAME) {
		OH = (H + S - 1) / S;
		OW = (W + S - 1) / S;
	} else {
		OH = (long long)H * S;
		OW = (long long)W * S;
		if (OH > VK_MAX_WIDTH || OW > VK_MAX_WIDTH)
			return vk_fail(e, "%s: output size %lldx%lld (input %dx%d, stride %d) "
				       "beyond %d per side", name, OH, OW, H, W, S,
				       VK_MAX_WIDTH);
	}
	/* The image the kernel slides over: the input for conv, the output for
	 * deconv (its adjoint). Padded by pad on both sides, it must hold one
	 * whole kernel window. */
	long long IH = kind == VK_CONV_SAME ? H : OH, IW = kind == VK_CONV_SAME ? W : OW;
	if (K > IH + 2 * pad || K > IW + 2 * pad)
		return vk_fail(e, "%s: kernel %dx%d larger than the padded %s %lldx%lld "
			       "(padding %d per side)", name, K, K,
			       kind == VK_CONV_SAME ? "input" : "output", IH + 2 * pad,
			       IW + 2 * pad, pad);
	/* Every per-image count and the weights fit an int, as callers and the
	 * GEMMs' dimensions count them. */
	long long in = (long long)H * W * C, out = OH * OW * F;
	long long wts = (long long)K * K * C * F;
	if (in > INT_MAX || out > INT_MAX || wts > INT_MAX)
		return vk_fail(e, "%s: layer too large (input %lld, output %lld, weights %lld "
			       "floats; limit %d)", name, in, out, wts, INT_MAX);
	*g = (vk_conv_geom){.kind = kind, .H = H, .W = W, .C = C, .F = F, .K = K, .S = S,
			    .OH = (int)OH, .OW = (int)OW, .pad = pad};
	lowering l = lowering_of(g);
	long long width = is_direct(g) ? (C > F ? C : F) : (long long)K * K * l.IC;
	long long rows = CHUNK_FLOATS / width;
	g->chunk = (int)(rows < MIN_CHUNK_ROWS ? MIN_CHUNK_ROWS : rows);
	return 0;
}

int vk_conv_geom_set_out(vk_conv_geom *g, int OH, int OW, vk_error *e)
{
	int S = g->S;
	/* the adjoint of a "same" conv on OH×OW, whose output is H×W */
	if (g->kind != VK_CONV_TRANSPOSED || OH < 1 || OW < 1 || (OH + S - 1) / S != g->H ||
	    (OW + S - 1) / S != g->W)
		return vk_fail(e, "deconv: output %dx%d cannot be reached from %dx%d at stride %d "
			       "(sides %d to %d and %d to %d)", OH, OW, g->H, g->W, S,
			       (g->H - 1) * S + 1, g->H * S, (g->W - 1) * S + 1, g->W * S);
	if (g->K > OH + 2 * g->pad || g->K > OW + 2 * g->pad)
		return vk_fail(e, "deconv: kernel %dx%d larger than the padded output %dx%d "
			       "(padding %d per side)", g->K, g->K, OH + 2 * g->pad,
			       OW + 2 * g->pad, g->pad);
	g->OH = OH;
	g->OW = OW;
	return 0;
}

size_t vk_conv_weights(const vk_conv_geom *g) { return (size_t)g->K * g->K * g->C * g->F; }

/* Rows per chunk for a batch of B: never more than the batch has. */
static size_t chunk_rows(const vk_conv_geom *g, int B)
{
	lowering l = lowering_of(g);
	size_t total = (size_t)B * l.GH * l.GW;
	return total < (size_t)g->chunk ? total : (size_t)g->chunk;
}

/* Floats of the column buffer; the workspace holds it, then the bias tile
 * (TILE), then a bias gradient (max(TILE, F)). */
static int is_thin(const vk_conv_geom *g);

static size_t col_floats(const vk_conv_geom *g, int B)
{
	lowering l = lowering_of(g);
	if (is_thin(g)) /* no columns: W by taps, dW's two accumulators */
		return (size_t)3 * g->K * g->K * (g->kind == VK_CONV_TRANSPOSED ? g->C : g->F);
	return is_direct(g) ? 0 : chunk_rows(g, B) * l.K * l.K * l.IC;
}

size_t vk_conv_workspace(const vk_conv_geom *g, int B)
{
	return col_floats(g, B) + TILE + (g->F > TILE ? g->F : TILE);
}

/* col (n, K·K·IC) = the lowered rows r0..r0+n of img (B,IH,IW,IC). Each
 * (row, ky) is one run of up to K·IC contiguous floats, zero where the
 * window leaves the image. */
static void im2col(float *restrict col, const float *restrict img, const lowering *l, size_t r0,
		   size_t n)
{
	const int K = l->K, C = l->IC, KC = K * C;
	const size_t grid = (size_t)l->GH * l->GW, img_size = (size_t)l->IH * l->IW * C;
	size_t b = r0 / grid;
	int gy = (int)(r0 % grid / l->GW), gx = (int)(r0 % l->GW);
	const size_t row_stride = (size_t)l->IW * C; /* floats from one image row to the next */
	for (size_t r = 0; r < n; r++) {
		float *dst = col + r * K * KC;
		const float *im = img + b * img_size;
		int iy0 = gy * l->S - l->pad, ix0 = gx * l->S - l->pad;
		if (iy0 >= 0 && iy0 + K <= l->IH && ix0 >= 0 && ix0 + K <= l->IW) {
			/* Inside the image (most windows): K whole runs, no checks. */
			const float *s = im + (size_t)iy0 * row_stride + (size_t)ix0 * C;
#ifdef __AVX512F__
			if (KC <= 16) { /* one masked move per run, the mask made once */
				__mmask16 m = tail_mask(KC);
				for (int ky = 0; ky < K; ky++)
					_mm512_mask_storeu_ps(dst + ky * KC, m,
							      _mm512_maskz_loadu_ps(m, s + ky * row_stride));
			} else
#endif
				for (int ky = 0; ky < K; ky++)
					copy_run(dst + ky * KC, s + ky * row_stride, KC);
			goto next;
		}
		/* the window's columns inside the image: kx in [kx0, kx1) */
		int kx0 = ix0 < 0 ? -ix0 : 0, kx1 = l->IW - ix0 < K ? l->IW - ix0 : K;
		for (int ky = 0; ky < K; ky++) {
			float *d = dst + (size_t)ky * KC;
			int iy = iy0 + ky;
			if (iy < 0 || iy >= l->IH || kx1 <= kx0) {
				zero_run(d, KC);
				continue;
			}
			if (kx0 > 0)
				zero_run(d, kx0 * C);
			copy_run(d + kx0 * C, im + ((size_t)iy * l->IW + ix0 + kx0) * C,
				 (kx1 - kx0) * C);
			if (kx1 < K)
				zero_run(d + kx1 * C, (K - kx1) * C);
		}
	next:
		if (++gx == l->GW) {
			gx = 0;
			if (++gy == l->GH)
				gy = 0, b++;
		}
	}
}

/* The adjoint: img (B,IH,IW,IC) += the lowered rows r0..r0+n in col
 * (n, K·K·IC), each (row, ky) run added where it lies inside the image. */
static void col2im_add(float *restrict img, const float *restrict col, const lowering *l,
		       size_t r0, size_t n)
{
	const int K = l->K, C = l->IC, KC = K * C;
	const size_t grid = (size_t)l->GH * l->GW, img_size = (size_t)l->IH * l->IW * C;
	size_t b = r0 / grid;
	int gy = (int)(r0 % grid / l->GW), gx = (int)(r0 % l->GW);
	const size_t row_stride = (size_t)l->IW * C;
	for (size_t r = 0; r < n; r++) {
		const float *src = col + r * K * KC;
		float *im = img + b * img_size;
		int iy0 = gy * l->S - l->pad, ix0 = gx * l->S - l->pad;
		int kx0 = ix0 < 0 ? -ix0 : 0, kx1 = l->IW - ix0 < K ? l->IW - ix0 : K;
		int ky0 = iy0 < 0 ? -iy0 : 0, ky1 = l->IH - iy0 < K ? l->IH - iy0 : K;
		int len = (kx1 - kx0) * C;
		float *d = im + ((size_t)(iy0 + ky0) * l->IW + ix0 + kx0) * C;
		const float *s = src + (size_t)ky0 * KC + kx0 * C;
#ifdef __AVX512F__
		if (len <= 16) { /* one masked add per run, the mask made once */
			__mmask16 m = tail_mask(len);
			for (int ky = ky0; ky < ky1; ky++, d += row_stride, s += KC)
				_mm512_mask_storeu_ps(d, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, d),
									  _mm512_maskz_loadu_ps(m, s)));
		} else
#endif
			for (int ky = ky0; ky < ky1; ky++, d += row_stride, s += KC)
				add_run(d, s, len);
		if (++gx == l->GW) {
			gx = 0;
			if (++gy == l->GH)
				gy = 0, b++;
		}
	}
}

/* Conv forward, chunk by chunk of output pixels: col = im2col(x), y = col·W,
 * then bias and activation while the chunk of y is still in cache.
 * y (B,OH,OW,F), x (B,H,W,C), Wt (K·K·C,F), b (F), work (chunk·K·K·C) */
static void conv_forward(float *y, const float *x, const float *Wt, const float *b,
			 float *work, const vk_conv_geom *g, int B, int act)
{
	lowering l = lowering_of(g);
	const int F = g->F, KKC = g->K * g->K * g->C;
	const size_t rows = (size_t)B * g->OH * g->OW, chunk = chunk_rows(g, B);
	float *tile = work + col_floats(g, B); /* (TILE) */
	for (size_t r0 = 0; r0 < rows; r0 += chunk) {
		int n = (int)(rows - r0 < chunk ? rows - r0 : chunk);
		const float *col = x + r0 * g->C; /* (n, KKC) */
		if (!is_direct(g)) {
			im2col(work, x, &l, r0, n);
			col = work;
		}
		float *yc = y + r0 * F; /* (n, F) */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, F, KKC, 1.0f, col, KKC,
			    Wt, F, 0.0f, yc, F);
		bias_act_forward(yc, b, tile, n, F, act);
	}
}

/* Conv backward, chunk by chunk of output pixels: the activation's
 * derivative and db on the chunk of dy, dW += colᵀ·dy, dcol = dy·Wᵀ
 * scattered back into dx (col2im), which is zeroed image by image just
 * before the first chunk that touches it.
 * dx, x (B,H,W,C); dW, Wt (K·K·C,F); db (F); dy, y (B,OH,OW,F);
 * work (chunk·K·K·C + F) */
static void conv_backward(float *dx, float *dW, float *db, float *dy, const float *x,
			  const float *y, const float *Wt, float *work, const vk_conv_geom *g,
			  int B, int act)
{
	lowering l = lowering_of(g);
	const int F = g->F, KKC = g->K * g->K * g->C, direct = is_direct(g);
	const size_t rows = (size_t)B * g->OH * g->OW, chunk = chunk_rows(g, B);
	const size_t grid = (size_t)g->OH * g->OW, img = (size_t)g->H * g->W * g->C;
	float *col = work;                                  /* (chunk, KKC) */
	float *dbt = work + col_floats(g, B) + TILE;        /* (max(TILE, F)) */
	size_t zeroed = 0; /* images of dx zeroed so far */
	memset(db, 0, sizeof *db * F);
	if (!rows)
		memset(dW, 0, sizeof *dW * vk_conv_weights(g));
	for (size_t r0 = 0; r0 < rows; r0 += chunk) {
		int n = (int)(rows - r0 < chunk ? rows - r0 : chunk);
		float *dyc = dy + r0 * F; /* (n, F) */
		bias_act_backward(dyc, db, y + r0 * F, dbt, n, F, act);
		const float *xc = x + r0 * g->C; /* (n, KKC) */
		if (!direct) {
			im2col(col, x, &l, r0, n);
			xc = col;
		}
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, KKC, F, n, 1.0f, xc, KKC, dyc,
			    F, r0 ? 1.0f : 0.0f, dW, F);
		if (!dx)
			continue;
		if (direct) {
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, KKC, F, 1.0f, dyc, F,
				    Wt, F, 0.0f, dx + r0 * g->C, KKC);
			continue;
		}
		size_t last = (r0 + n - 1) / grid; /* last image this chunk touches */
		if (zeroed <= last) {
			memset(dx + zeroed * img, 0, sizeof *dx * (last + 1 - zeroed) * img);
			zeroed = last + 1;
		}
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, KKC, F, 1.0f, dyc, F, Wt,
			    F, 0.0f, col, KKC);
		col2im_add(dx, col, &l, r0, n);
	}
}

/* Deconv forward, chunk by chunk of input pixels: col = x·W, scattered into
 * y (col2im). Each image of y is zeroed before its first chunk and gets its
 * bias and activation as soon as its last chunk is in, while still cached.
 * y (B,OH,OW,F), x (B,H,W,C), Wt (C,K·K·F), b (F), work (chunk·K·K·F) */
static void deconv_forward(float *y, const float *x, const float *Wt, const float *b,
			   float *work, const vk_conv_geom *g, int B, int act)
{
	lowering l = lowering_of(g);
	const int C = g->C, F = g->F, KKF = g->K * g->K * g->F, direct = is_direct(g);
	const size_t rows = (size_t)B * g->H * g->W, chunk = chunk_rows(g, B);
	const size_t grid = (size_t)g->H * g->W, img = (size_t)g->OH * g->OW * F;
	size_t zeroed = 0, done = 0; /* images of y zeroed, finished */
	float *tile = work + col_floats(g, B); /* (TILE) */
	for (size_t r0 = 0; r0 < rows; r0 += chunk) {
		int n = (int)(rows - r0 < chunk ? rows - r0 : chunk);
		if (direct) { /* y is the lowered matrix itself */
			float *yc = y + r0 * F; /* (n, F) */
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, F, C, 1.0f,
				    x + r0 * C, C, Wt, F, 0.0f, yc, F);
			bias_act_forward(yc, b, tile, n, F, act);
			continue;
		}
		size_t last = (r0 + n - 1) / grid;
		if (zeroed <= last) {
			memset(y + zeroed * img, 0, sizeof *y * (last + 1 - zeroed) * img);
			zeroed = last + 1;
		}
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, KKF, C, 1.0f, x + r0 * C,
			    C, Wt, KKF, 0.0f, work, KKF);
		col2im_add(y, work, &l, r0, n);
		size_t complete = (r0 + n) / grid; /* images with all their rows in */
		if (complete > done) {
			bias_act_forward(y + done * img, b, tile, (complete - done) * g->OH * g->OW, F,
					 act);
			done = complete;
		}
	}
}

/* Deconv backward, chunk by chunk of input pixels: the activation's
 * derivative and db on each image of dy before its first chunk, then
 * dcol = im2col(dy), dW += xᵀ·dcol, dx = dcol·Wᵀ.
 * dx, x (B,H,W,C); dW, Wt (C,K·K·F); db (F); dy, y (B,OH,OW,F);
 * work (chunk·K·K·F + F) */
static void deconv_backward(float *dx, float *dW, float *db, float *dy, const float *x,
			    const float *y, const float *Wt, float *work, const vk_conv_geom *g,
			    int B, int act)
{
	lowering l = lowering_of(g);
	const int C = g->C, F = g->F, KKF = g->K * g->K * g->F, direct = is_direct(g);
	const size_t rows = (size_t)B * g->H * g->W, chunk = chunk_rows(g, B);
	const size_t grid = (size_t)g->H * g->W, img = (size_t)g->OH * g->OW * F;
	const int opix = g->OH * g->OW;
	float *col = work;                               /* (chunk, KKF) */
	float *dbt = work + col_floats(g, B) + TILE;      /* (max(TILE, F)) */
	size_t ready = 0; /* images of dy through the activation's derivative */
	memset(db, 0, sizeof *db * F);
	if (!rows)
		memset(dW, 0, sizeof *dW * vk_conv_weights(g));
	for (size_t r0 = 0; r0 < rows; r0 += chunk) {
		int n = (int)(rows - r0 < chunk ? rows - r0 : chunk);
		const float *dcol = dy + r0 * F; /* (n, KKF) */
		if (direct) {
			bias_act_backward(dy + r0 * F, db, y + r0 * F, dbt, n, F, act);
		} else {
			size_t last = (r0 + n - 1) / grid;
			if (ready <= last) {
				bias_act_backward(dy + ready * img, db, y + ready * img, dbt,
						  (last + 1 - ready) * opix, F, act);
				ready = last + 1;
			}
			im2col(col, dy, &l, r0, n);
			dcol = col;
		}
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, C, KKF, n, 1.0f, x + r0 * C, C,
			    dcol, KKF, r0 ? 1.0f : 0.0f, dW, KKF);
		if (dx)
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, C, KKF, 1.0f, dcol,
				    KKF, Wt, KKF, 0.0f, dx + r0 * C, C);
	}
}

/* Thin layers: conv with one input channel (an encoder's first layer on
 * grey images) and deconv with one filter (the decoder's last layer). Their
 * GEMMs degenerate (K·K inner terms or K·K output columns) and run at a
 * fraction of the others' speed, memory-bound on the wide side. Direct loops
 * over pixels instead, the wide side's V channels (F for conv, C for
 * deconv; a multiple of 16 up to 64) held in zmm registers, the narrow side
 * one scalar per pixel. Two kernels serve both layers, each over one image,
 * in the lowering's terms (a grid GH×GW of K×K windows over an image IH×IW,
 * window pixel (gy·S−pad+ky, gx·S−pad+kx)):
 *   window: for each grid position p and tap t inside the image,
 *           out[p] (V) = Σ_t img[pixel]·Wrow[t]   and   dWrow[t] (V) += img[pixel]·v[p]
 *   gather: for each image pixel d, out[d] = Σ over the (p, t) reaching d of
 *           v[p]·Wrow[t] (a dot product over V)
 * conv (C = 1): forward = window(y ← x), backward = window(dW ← x, dy) and
 *   gather(dx ← dy). deconv (F = 1), whose image is its output: forward =
 *   gather(y ← x), backward = window(dx, dW ← dy, x). Wrow (K·K, V) is conv's
 *   W as it is and deconv's W transposed. Other shapes, and builds without
 *   AVX-512, take the GEMM path. */
#ifdef __AVX512F__
static int is_thin(const vk_conv_geom *g)
{
	int V = g->kind == VK_CONV_TRANSPOSED ? g->C : g->F;
	int narrow = g->kind == VK_CONV_TRANSPOSED ? g->F : g->C;
	return narrow == 1 && V % 16 == 0 && V <= 64 && !is_direct(g);
}

/* One image's window kernel: out (GH,GW,V) unless NULL; dWrow (K·K, V) +=
 * unless NULL, with v (GH,GW,V); img (IH,IW) scalars; Wrow (K·K, V).
 * NV = V/16 is a constant in each inlined copy, so the accumulators stay in
 * registers. */
static inline __attribute__((always_inline)) void
window_image(float *out, float *dWrow, const float *img, const float *v, const float *Wrow,
	     const lowering *l, const int NV)
{
	const int K = l->K, S = l->S, pad = l->pad, V = 16 * NV;
	for (int gy = 0; gy < l->GH; gy++)
		for (int gx = 0; gx < l->GW; gx++) {
			size_t p = (size_t)gy * l->GW + gx;
			__m512 vv[4], acc[4];
			for (int k = 0; k < NV; k++) {
				if (dWrow)
					vv[k] = _mm512_loadu_ps(v + p * V + 16 * k);
				acc[k] = _mm512_setzero_ps();
			}
			int iy0 = gy * S - pad, ix0 = gx * S - pad;
			int ky0 = iy0 < 0 ? -iy0 : 0, kx0 = ix0 < 0 ? -ix0 : 0;
			for (int ky = ky0; ky < K && iy0 + ky < l->IH; ky++)
				for (int kx = kx0; kx < K && ix0 + kx < l->IW; kx++) {
					__m512 d = _mm512_set1_ps(
						img[(size_t)(iy0 + ky) * l->IW + ix0 + kx]);
					const float *wp = Wrow + (size_t)(ky * K + kx) * V;
					float *dwp = dWrow ? dWrow + (size_t)(ky * K + kx) * V : NULL;
					for (int k = 0; k < NV; k++) {
						if (out)
							acc[k] = _mm512_fmadd_ps(
								d, _mm512_loadu_ps(wp + 16 * k), acc[k]);
						if (dWrow)
							_mm512_storeu_ps(
								dwp + 16 * k,
								_mm512_fmadd_ps(d, vv[k],
										_mm512_loadu_ps(dwp + 16 * k)));
					}
				}
			if (out)
				for (int k = 0; k < NV; k++)
					_mm512_storeu_ps(out + p * V + 16 * k, acc[k]);
		}
}

/* One image's gather kernel: out (IH,IW) = Σ over the (p, t) reaching each
 * pixel of v[p]·Wrow[t]; v (GH,GW,V), Wrow (K·K, V). */
static inline __attribute__((always_inline)) void
gather_image(float *out, const float *v, const float *Wrow, const lowering *l, const int NV)
{
	const int K = l->K, S = l->S, pad = l->pad, V = 16 * NV;
	for (int iy = 0; iy < l->IH; iy++) {
		/* Grid row gy reaches iy through tap ky when gy·S − pad + ky = iy:
		 * ky = ry + m·S gives gy = qy − m. Likewise columns, with rx, qx
		 * stepped along ix (no division per pixel). */
		int ry = (iy + pad) % S, qy = (iy + pad) / S, rx = pad % S, qx = pad / S;
		for (int ix = 0; ix < l->IW; ix++) {
			__m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
					 _mm512_setzero_ps()};
			for (int ky = ry, gy = qy; ky < K && gy >= 0; ky += S, gy--) {
				if (gy >= l->GH)
					continue;
				for (int kx = rx, gx = qx; kx < K && gx >= 0; kx += S, gx--) {
					if (gx >= l->GW)
						continue;
					const float *vp = v + ((size_t)gy * l->GW + gx) * V;
					const float *wp = Wrow + (size_t)(ky * K + kx) * V;
					for (int k = 0; k < NV; k++)
						acc[k] = _mm512_fmadd_ps(_mm512_loadu_ps(vp + 16 * k),
									 _mm512_loadu_ps(wp + 16 * k), acc[k]);
				}
			}
			for (int k = 1; k < NV; k++)
				acc[0] = _mm512_add_ps(acc[0], acc[k]);
			out[(size_t)iy * l->IW + ix] = _mm512_reduce_add_ps(acc[0]);
			if (++rx == S)
				rx = 0, qx++;
		}
	}
}

/* The kernels with NV made a constant: one inlined copy per width. */
static void window_any(float *out, float *dWrow, const float *img, const float *v,
		       const float *Wrow, const lowering *l, int NV)
{
	switch (NV) {
	case 1: window_image(out, dWrow, img, v, Wrow, l, 1); break;
	case 2: window_image(out, dWrow, img, v, Wrow, l, 2); break;
	case 3: window_image(out, dWrow, img, v, Wrow, l, 3); break;
	default: window_image(out, dWrow, img, v, Wrow, l, 4);
	}
}

static void gather_any(float *out, const float *v, const float *Wrow, const lowering *l, int NV)
{
	switch (NV) {
	case 1: gather_image(out, v, Wrow, l, 1); break;
	case 2: gather_image(out, v, Wrow, l, 2); break;
	case 3: gather_image(out, v, Wrow, l, 3); break;
	default: gather_image(out, v, Wrow, l, 4);
	}
}

/* Wrow (K·K, C) = deconv's Wt (C, K·K) transposed: each tap's C weights
 * contiguous. */
static void transpose(float *restrict Wrow, const float *restrict Wt, int C, int KK)
{
	for (int c = 0; c < C; c++)
		for (int t = 0; t < KK; t++)
			Wrow[(size_t)t * C + c] = Wt[(size_t)c * KK + t];
}

/* y (B,OH,OW,F), x (B,H,W,C), Wt as the layer's, b (F),
 * work (3·K·K·V + TILE + max(TILE, F)) */
static void thin_forward(float *y, const float *x, const float *Wt, const float *b, float *work,
			 const vk_conv_geom *g, int B, int act)
{
	lowering l = lowering_of(g);
	const int KK = g->K * g->K, deconv = g->kind == VK_CONV_TRANSPOSED;
	const int V = deconv ? g->C : g->F, NV = V / 16;
	const size_t in = (size_t)g->H * g->W * g->C, out = (size_t)g->OH * g->OW * g->F;
	const float *Wrow = Wt;
	float *tile = work + col_floats(g, B); /* (TILE) */
	if (deconv) {
		transpose(work, Wt, V, KK);
		Wrow = work;
	}
	for (int n = 0; n < B; n++) {
		float *yb = y + n * out;
		if (deconv)
			gather_any(yb, x + n * in, Wrow, &l, NV);
		else
			window_any(yb, NULL, x + n * in, NULL, Wrow, &l, NV);
		/* bias and activation while the image is cached */
		bias_act_forward(yb, b, tile, (size_t)g->OH * g->OW, g->F, act);
	}
}

/* dx, x (B,H,W,C); dW, Wt as the layer's; db (F); dy, y (B,OH,OW,F);
 * work as thin_forward's */
static void thin_backward(float *dx, float *dW, float *db, float *dy, const float *x,
			  const float *y, const float *Wt, float *work, const vk_conv_geom *g,
			  int B, int act)
{
	lowering l = lowering_of(g);
	const int KK = g->K * g->K, deconv = g->kind == VK_CONV_TRANSPOSED;
	const int V = deconv ? g->C : g->F, NV = V / 16;
	const size_t in = (size_t)g->H * g->W * g->C, out = (size_t)g->OH * g->OW * g->F;
	/* dW is summed image by image into dWi, then into dWrow: a float sum
	 * over a whole batch's pixels in one accumulator would lose digits. */
	float *Wrow = work, *dWrow = work + KK * V, *dWi = work + 2 * KK * V; /* (KK, V) each */
	float *dbt = work + col_floats(g, B) + TILE;                         /* (max(TILE, F)) */
	if (deconv)
		transpose(Wrow, Wt, V, KK);
	else
		memcpy(Wrow, Wt, sizeof *Wrow * KK * V);
	memset(dWrow, 0, sizeof *dWrow * KK * V);
	memset(db, 0, sizeof *db * g->F);
	for (int n = 0; n < B; n++) {
		float *dyb = dy + n * out, *dxb = dx ? dx + n * in : NULL;
		const float *xb = x + n * in;
		bias_act_backward(dyb, db, y + n * out, dbt, (size_t)g->OH * g->OW, g->F, act);
		memset(dWi, 0, sizeof *dWi * KK * V);
		if (deconv) {
			window_any(dxb, dWi, dyb, xb, Wrow, &l, NV);
		} else {
			window_any(NULL, dWi, xb, dyb, Wrow, &l, NV);
			if (dxb)
				gather_any(dxb, dyb, Wrow, &l, NV);
		}
		for (int k = 0; k < KK * V; k++)
			dWrow[k] += dWi[k];
	}
	if (deconv) /* back to (C, K·K) */
		for (int c = 0; c < V; c++)
			for (int t = 0; t < KK; t++)
				dW[(size_t)c * KK + t] = dWrow[(size_t)t * V + c];
	else
		memcpy(dW, dWrow, sizeof *dW * KK * V);
}
#else
static int is_thin(const vk_conv_geom *g) { (void)g; return 0; }
#endif

void vk_conv_forward(float *y, const float *x, const float *Wt, const float *b, float *work,
		     const vk_conv_geom *g, int B, int act)
{
#ifdef __AVX512F__
	if (is_thin(g)) {
		thin_forward(y, x, Wt, b, work, g, B, act);
		return;
	}
#endif
	if (g->kind == VK_CONV_TRANSPOSED)
		deconv_forward(y, x, Wt, b, work, g, B, act);
	else
		conv_forward(y, x, Wt, b, work, g, B, act);
}

void vk_conv_backward(float *dx, float *dW, float *db, float *dy, const float *x, const float *y,
		      const float *Wt, float *work, const vk_conv_geom *g, int B, int act)
{
#ifdef __AVX512F__
	if (is_thin(g)) {
		thin_backward(dx, dW, db, dy, x, y, Wt, work, g, B, act);
		return;
	}
#endif
	if (g->kind == VK_CONV_TRANSPOSED)
		deconv_backward(dx, dW, db, dy, x, y, Wt, work, g, B, act);
	else
		conv_backward(dx, dW, db, dy, x, y, Wt, work, g, B, act);
}
