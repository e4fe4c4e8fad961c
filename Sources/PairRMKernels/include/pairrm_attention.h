// DeBERTa's disentangled attention terms (no model knowledge beyond "a relative-position index
// per distance"): adds the content-to-position and position-to-content scores to a score block.
#ifndef PAIRRM_ATTENTION_H
#define PAIRRM_ATTENTION_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// scores[i][j] += (c2p[i][b] + p2c_t[b][j]) * scale, b = row_of_distance[i - j] (a pointer into a
/// table centred on distance 0), for i in [row_begin, row_end), j in [0, t).
/// c2p: [t][positions] (query rows × relative rows), p2c_t: [positions][t] (relative rows × key
/// rows: the position-to-content scores transposed), scores: [t][t]. Rows are independent:
/// callers may split [0, t) across threads without changing a bit.
void prm_attention_add_relative(float *scores, const float *c2p, const float *p2c_t, int64_t t, int64_t positions,
                                const int32_t *row_of_distance, float scale, int64_t row_begin, int64_t row_end);

#ifdef __cplusplus
}
#endif
#endif
