// See pairrm_attention.h. Plain C: the gathers dominate and vectorize poorly on AVX2; the tiling
// is what matters (64 key rows of p2c stay in L2 while every query row visits them).
#include "include/pairrm_attention.h"

void prm_attention_add_relative(float *scores, const float *c2p, const float *p2c, int64_t t, int64_t positions,
                                const int32_t *row_of_distance, float scale, int64_t row_begin, int64_t row_end) {
    const int64_t tile = 64;
    for (int64_t tile_start = 0; tile_start < t; tile_start += tile) {
        int64_t tile_end = tile_start + tile < t ? tile_start + tile : t;
        for (int64_t i = row_begin; i < row_end; i++) {
            float *score_row = scores + i * t;
            const float *c2p_row = c2p + i * positions;
            const int32_t *buckets = row_of_distance + i;  // buckets[-j] = row of distance i - j
            for (int64_t j = tile_start; j < tile_end; j++) {
                int32_t b = buckets[-j];
                score_row[j] += (c2p_row[b] + p2c[j * positions + b]) * scale;
            }
        }
    }
}
