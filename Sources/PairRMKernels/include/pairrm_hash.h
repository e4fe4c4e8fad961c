// Checksums used by the .prm container (XXH64) and by the converter's provenance record (SHA-256).
// Plain C, no model knowledge. All functions are thread-safe on distinct state objects.
#ifndef PAIRRM_HASH_H
#define PAIRRM_HASH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// XXH64 (xxHash specification, seed 0 in the container) -- streaming and one-shot.
typedef struct prm_xxh64_state {
    uint64_t total_len;
    uint64_t v[4];
    uint8_t  buffer[32];
    uint32_t buffered;
    uint64_t seed;
} prm_xxh64_state;

void     prm_xxh64_init(prm_xxh64_state *state, uint64_t seed);
void     prm_xxh64_update(prm_xxh64_state *state, const void *data, size_t length);
uint64_t prm_xxh64_digest(const prm_xxh64_state *state);
uint64_t prm_xxh64(const void *data, size_t length, uint64_t seed);

// SHA-256 (FIPS 180-4) -- streaming.
typedef struct prm_sha256_state {
    uint32_t h[8];
    uint64_t total_len;
    uint8_t  buffer[64];
    uint32_t buffered;
} prm_sha256_state;

void prm_sha256_init(prm_sha256_state *state);
void prm_sha256_update(prm_sha256_state *state, const void *data, size_t length);
void prm_sha256_final(prm_sha256_state *state, uint8_t digest[32]);

#ifdef __cplusplus
}
#endif
#endif
