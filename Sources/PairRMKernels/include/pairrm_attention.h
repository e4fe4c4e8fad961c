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

/// The same for one query row i whose position-to-content terms are already gathered:
/// score_row[j] += (c2p_row[b] + p2c_row[j]) * scale, b = buckets[-j] (buckets = row_of_distance + i),
/// j in [0, t). Bit-identical to row i of prm_attention_add_relative when p2c_row[j] = p2c_t[b][j].
void prm_attention_add_relative_row(float *score_row, const float *c2p_row, const float *p2c_row, int64_t t,
                                    const int32_t *buckets, float scale);

#ifdef __cplusplus
}
#endif
#endif
