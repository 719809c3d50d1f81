/* Frame cutter written for the memory system: one memcpy per frame row (two where the
 * row wraps in phi), memset for rows outside the image. The reference for what the access
 * pattern of extract_frames allows on a CPU (benchmarks/ops.py compiles it with ctypes).
 * images [B, H, W, C] float32, seeds [B, S, 2] int32 (row, col), out [B, S, h, w, C]. */
#include <stdint.h>
#include <string.h>

void cut_frames(const float *images, int32_t B, int32_t H, int32_t W, int32_t C,
                const int32_t *seeds, int32_t S, int32_t h, int32_t w,
                int32_t row_offset, int32_t col_offset, float *out)
{
    const size_t row_bytes = (size_t)w * C * sizeof(float);
    for (int32_t b = 0; b < B; b++) {
        const float *image = images + (size_t)b * H * W * C;
        for (int32_t s = 0; s < S; s++) {
            const int32_t *seed = seeds + ((size_t)b * S + s) * 2;
            float *frame = out + ((size_t)b * S + s) * h * w * C;
            int32_t c0 = (seed[1] - col_offset) % W;
            if (c0 < 0) c0 += W;
            const int32_t first = W - c0 < w ? W - c0 : w;  /* columns before the wrap */
            for (int32_t i = 0; i < h; i++) {
                const int32_t r = seed[0] - row_offset + i;
                float *dst = frame + (size_t)i * w * C;
                if (r < 0 || r >= H) {
                    memset(dst, 0, row_bytes);
                    continue;
                }
                const float *src = image + (size_t)r * W * C;
                memcpy(dst, src + (size_t)c0 * C, (size_t)first * C * sizeof(float));
                if (first < w)
                    memcpy(dst + (size_t)first * C, src, (size_t)(w - first) * C * sizeof(float));
            }
        }
    }
}
