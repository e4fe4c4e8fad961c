// XXH64 after the public xxHash specification (doc/xxhash_spec.md), written for this project.
#include "pairrm_hash.h"
#include <string.h>

static const uint64_t P1 = 0x9E3779B185EBCA87ULL;
static const uint64_t P2 = 0xC2B2AE3D27D4EB4FULL;
static const uint64_t P3 = 0x165667B19E3779F9ULL;
static const uint64_t P4 = 0x85EBCA77C2B2AE63ULL;
static const uint64_t P5 = 0x27D4EB2F165667C5ULL;

static inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

// Unaligned little-endian loads: memcpy compiles to one mov; the byte order is fixed by the spec,
// so big-endian hosts swap.
static inline uint64_t read64(const uint8_t *p) {
    uint64_t v; memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}
static inline uint32_t read32(const uint8_t *p) {
    uint32_t v; memcpy(&v, p, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    return v;
}

static inline uint64_t round64(uint64_t acc, uint64_t lane) {
    acc += lane * P2;
    acc = rotl64(acc, 31);
    return acc * P1;
}
static inline uint64_t merge64(uint64_t acc, uint64_t v) {
    acc ^= round64(0, v);
    return acc * P1 + P4;
}

void prm_xxh64_init(prm_xxh64_state *s, uint64_t seed) {
    memset(s, 0, sizeof *s);
    s->seed = seed;
    s->v[0] = seed + P1 + P2;
    s->v[1] = seed + P2;
    s->v[2] = seed;
    s->v[3] = seed - P1;
}

static const uint8_t *consume_stripes(uint64_t v[4], const uint8_t *p, const uint8_t *end) {
    uint64_t a = v[0], b = v[1], c = v[2], d = v[3];
    while (p + 32 <= end) {
        a = round64(a, read64(p));
        b = round64(b, read64(p + 8));
        c = round64(c, read64(p + 16));
        d = round64(d, read64(p + 24));
        p += 32;
    }
    v[0] = a; v[1] = b; v[2] = c; v[3] = d;
    return p;
}

void prm_xxh64_update(prm_xxh64_state *s, const void *data, size_t length) {
    const uint8_t *p = (const uint8_t *)data;
    const uint8_t *end = p + length;
    s->total_len += length;
    if (s->buffered + length < 32) {
        if (length) memcpy(s->buffer + s->buffered, p, length);
        s->buffered += (uint32_t)length;
        return;
    }
    if (s->buffered) {
        size_t fill = 32 - s->buffered;
        memcpy(s->buffer + s->buffered, p, fill);
        consume_stripes(s->v, s->buffer, s->buffer + 32);
        p += fill;
        s->buffered = 0;
    }
    p = consume_stripes(s->v, p, end);
    if (p < end) {
        memcpy(s->buffer, p, (size_t)(end - p));
        s->buffered = (uint32_t)(end - p);
    }
}

uint64_t prm_xxh64_digest(const prm_xxh64_state *s) {
    uint64_t h;
    if (s->total_len >= 32) {
        h = rotl64(s->v[0], 1) + rotl64(s->v[1], 7) + rotl64(s->v[2], 12) + rotl64(s->v[3], 18);
        h = merge64(h, s->v[0]);
        h = merge64(h, s->v[1]);
        h = merge64(h, s->v[2]);
        h = merge64(h, s->v[3]);
    } else {
        h = s->seed + P5;
    }
    h += s->total_len;
    const uint8_t *p = s->buffer;
    const uint8_t *end = s->buffer + s->buffered;
    while (p + 8 <= end) {
        h ^= round64(0, read64(p));
        h = rotl64(h, 27) * P1 + P4;
        p += 8;
    }
    if (p + 4 <= end) {
        h ^= (uint64_t)read32(p) * P1;
        h = rotl64(h, 23) * P2 + P3;
        p += 4;
    }
    while (p < end) {
        h ^= (*p) * P5;
        h = rotl64(h, 11) * P1;
        p++;
    }
    h ^= h >> 33;
    h *= P2;
    h ^= h >> 29;
    h *= P3;
    h ^= h >> 32;
    return h;
}

uint64_t prm_xxh64(const void *data, size_t length, uint64_t seed) {
    prm_xxh64_state s;
    prm_xxh64_init(&s, seed);
    prm_xxh64_update(&s, data, length);
    return prm_xxh64_digest(&s);
}
