// See pairrm_attention.h. Plain C, one loop for every variant. What matters is the memory order:
// each score row is walked once, left to right; c2p is read along its row; p2c is stored
// transposed, so beyond DeBERTa's exact-distance band (where one bucket covers a run of keys)
// consecutive keys read consecutive floats of one p2c row, and the rows one query visits are the
// ones the next query visits too. Key-major p2c read one cache line and one page per key: at 2048
// tokens that gather cost as much as the attention GEMMs (~2.6× slower than this loop).
// Splitting rows into runs of one bucket to vectorize them was slower still: runs average ~15 keys.
#include "include/pairrm_attention.h"

// One expression for both entry points, so a compiler that contracts it into an FMA does so in both.
static inline float relative_term(float score, float c2p, float p2c, float scale) { return score + (c2p + p2c) * scale; }

void prm_attention_add_relative(float *scores, const float *c2p, const float *p2c_t, int64_t t, int64_t positions,
                                const int32_t *row_of_distance, float scale, int64_t row_begin, int64_t row_end) {
    for (int64_t i = row_begin; i < row_end; i++) {
        float *score_row = scores + i * t;
        const float *c2p_row = c2p + i * positions;
        const int32_t *buckets = row_of_distance + i;  // buckets[-j] = row of distance i - j
        for (int64_t j = 0; j < t; j++) {
            int32_t b = buckets[-j];
            score_row[j] = relative_term(score_row[j], c2p_row[b], p2c_t[b * t + j], scale);
        }
    }
}

void prm_attention_add_relative_row(float *score_row, const float *c2p_row, const float *p2c_row, int64_t t,
                                    const int32_t *buckets, float scale) {
    for (int64_t j = 0; j < t; j++) score_row[j] = relative_term(score_row[j], c2p_row[buckets[-j]], p2c_row[j], scale);
}
