/*
 * pairrm.h — the stable C ABI of PairRM-Swift (libpairrm).
 *
 * This header is the single source of truth: the Swift implementation
 * (Sources/PairRMCABI) implements every function with `@c @implementation`, so the
 * compiler rejects any implementation whose signature differs from the
 * declaration below.
 *
 * Conventions
 *   - Every function that can fail returns a pairrm_status (PAIRRM_OK == 0).
 *     On failure, pairrm_last_error() returns a message for the calling thread;
 *     every call that returns a pairrm_status clears it on success.
 *   - Outputs are written only on success, and only through non-NULL pointers,
 *     and never past the capacity the caller states. The exceptions are the
 *     "required size" outputs (out_count / out_required), which are also
 *     written when the status is PAIRRM_ERR_BUFFER_TOO_SMALL.
 *   - Counts and sizes are size_t (never negative); values are sized ints.
 *   - Text is NUL-terminated UTF-8. Invalid UTF-8 -> PAIRRM_ERR_INVALID_UTF8.
 *     One text may be at most PAIRRM_MAX_TEXT_BYTES bytes; one call takes at
 *     most PAIRRM_MAX_CANDIDATES candidates / PAIRRM_MAX_TURNS turns.
 *   - Parameter structs start with a `size` field: fill them from
 *     *_default_params() (which sets size = sizeof(struct)) and change fields.
 *     The library reads only the first `size` bytes (older callers get
 *     defaults for newer fields), and rejects a larger struct whose unknown
 *     trailing bytes are not zero (a newer caller asking for something this
 *     library cannot do).
 *   - Handles are opaque. A freed handle is detected when passed again
 *     (PAIRRM_ERR_INVALID_HANDLE): handles are never-reused ids, not pointers.
 *
 * Thread safety (summary; each function repeats its own)
 *   - A pairrm_model is immutable after loading and may be used by any number
 *     of threads at once, with no locking by the caller.
 *   - pairrm_model_free may be called while other threads are still inside
 *     calls on that model: those calls complete normally, later calls get
 *     PAIRRM_ERR_INVALID_HANDLE, and memory is released when the last call
 *     returns.
 *   - pairrm_last_error() is per thread.
 *
 * Runtime dependencies: a library installed with Tools/install.sh links the
 * Swift runtime statically; it needs only libc, libm, libstdc++, libgcc_s and
 * libzstd.so.1 (see README, "C ABI").
 */
#ifndef PAIRRM_H
#define PAIRRM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#  define PAIRRM_API
#else
#  define PAIRRM_API __attribute__((visibility("default")))
#endif

/* ABI version of this header. MAJOR changes break binary compatibility;
 * MINOR adds functions or trailing struct fields; PATCH fixes behaviour. */
#define PAIRRM_ABI_VERSION_MAJOR 1
#define PAIRRM_ABI_VERSION_MINOR 1
#define PAIRRM_ABI_VERSION_PATCH 0
#define PAIRRM_ABI_VERSION \
    ((PAIRRM_ABI_VERSION_MAJOR << 16) | (PAIRRM_ABI_VERSION_MINOR << 8) | PAIRRM_ABI_VERSION_PATCH)

/* Input limits (anything larger -> PAIRRM_ERR_INVALID_ARGUMENT). */
#define PAIRRM_MAX_TEXT_BYTES (64u << 20) /* 64 MiB per text */
#define PAIRRM_MAX_CANDIDATES 4096u
#define PAIRRM_MAX_TURNS 4096u

/* ---------------------------------------------------------------- types */

/* Status codes (int32_t so the ABI does not depend on enum width). */
typedef int32_t pairrm_status;
enum {
    PAIRRM_OK = 0,
    PAIRRM_ERR_INVALID_ARGUMENT = 1,     /* NULL pointer, zero/huge count, bad enum value, bad params */
    PAIRRM_ERR_INVALID_UTF8 = 2,         /* a text is not valid UTF-8 */
    PAIRRM_ERR_BUFFER_TOO_SMALL = 3,     /* a caller buffer is too small; the required size is reported */
    PAIRRM_ERR_INVALID_HANDLE = 4,       /* NULL, freed or never-issued pairrm_model */
    PAIRRM_ERR_IO = 5,                   /* a file cannot be opened, read or mapped */
    PAIRRM_ERR_INVALID_MODEL = 6,        /* the .prm container is corrupt or unsupported */
    PAIRRM_ERR_INPUT_TOO_LONG = 7,       /* a text exceeds its token budget and truncation is rejected */
    PAIRRM_ERR_INVALID_CONVERSATION = 8, /* compare_conversations rules broken (roles, lengths...) */
    PAIRRM_ERR_NOT_FOUND = 9,            /* metadata key absent */
    PAIRRM_ERR_INTERNAL = 100            /* a bug: please report the message */
};

/* Which orders compare() runs (LLM-Blender's `mode`). */
typedef int32_t pairrm_compare_mode;
enum {
    PAIRRM_COMPARE_BOTH = 0, /* "[A,B]+[B,A]" (default): logit = L(x,a,b) - L(x,b,a); 2 forward passes */
    PAIRRM_COMPARE_AB = 1,   /* "[A,B]": logit = L(x,a,b); 1 forward pass */
    PAIRRM_COMPARE_BA = 2    /* "[B,A]": logit = L(x,b,a), NOT negated (Blender's raw value) */
};

/* Which candidate the model prefers (always about A versus B, in every mode). */
typedef int32_t pairrm_verdict;
enum {
    PAIRRM_VERDICT_TIE = 0, /* logit exactly 0 (or NaN) */
    PAIRRM_VERDICT_A = 1,
    PAIRRM_VERDICT_B = 2
};

/* How rank() orders n candidates. */
typedef int32_t pairrm_rank_strategy;
enum {
    PAIRRM_RANK_FULL = 0,      /* Blender's rank: all n(n-1) ordered pairs, max_logits scores */
    PAIRRM_RANK_MERGE_SORT = 1 /* merge sort on [A,B]+[B,A]; no scores (written as NaN) */
};

/* How best_of_n() / worst_of_n() choose (Blender's pairrm_cmp_type). */
typedef int32_t pairrm_select_strategy;
enum {
    PAIRRM_SELECT_BUBBLE = 0, /* one bubble pass from a start order: 2(n-1) forward passes */
    PAIRRM_SELECT_FULL = 1    /* full rank, then stable argsort of the ranks */
};

/* A loaded model (opaque). */
typedef struct pairrm_model pairrm_model;

/* Load-time settings; also the defaults of every call on the model. */
typedef struct pairrm_model_params {
    uint32_t size;                      /* = sizeof(pairrm_model_params); set by pairrm_model_default_params.
                                           Smaller (an older caller): the missing fields keep their defaults.
                                           Larger than this library's struct: PAIRRM_ERR_INVALID_ARGUMENT
                                           (never read past what the library knows). */
    int32_t threads;                    /* worker threads inside one forward pass (default 1; >= 1) */
    int32_t batch_size;                 /* forward passes in flight per call (default 1; >= 1) */
    int32_t source_max_length;          /* 0 = the model file's value (PairRM: 1224) */
    int32_t candidate_max_length;       /* 0 = the model file's value (PairRM: 412) */
    int32_t replace_separator_literals; /* 1 (default): Blender's "[SEP]" -> " " rewrite; 0: off */
    int32_t reject_truncation;          /* 0 (default): truncate like Blender; 1: PAIRRM_ERR_INPUT_TOO_LONG */
    int32_t verify_tensors;             /* 1: check every tensor checksum while loading (default 0) */
    int32_t max_pooled_contexts;        /* idle inference contexts kept (default 16; >= 1) */
    int32_t buffer_no_copy;             /* load_from_buffer only. 0 (default): the bytes are copied and the
                                           caller's buffer may be freed after the call. 1: used in place; the
                                           buffer must stay valid and unchanged until pairrm_model_free and
                                           should be 64-byte aligned. */
    int32_t read_into_memory;           /* (ABI 1.1) load_from_file / load: 0 (default) memory-maps the file;
                                           1 reads it into memory, so truncating or rewriting the file in
                                           place while loaded cannot crash the process (a mapped file that
                                           shrinks raises SIGBUS; replacing it by rename is always safe). */
} pairrm_model_params;

/* Model description (pairrm_model_get_info). */
typedef struct pairrm_model_info {
    uint32_t size;                /* caller sets sizeof(pairrm_model_info); only that many bytes are written */
    int32_t hidden_size;
    int32_t num_layers;
    int32_t num_heads;
    int32_t intermediate_size;
    int32_t vocab_size;
    int32_t max_tokens;           /* longest encoder input (2048) */
    int32_t source_max_length;    /* effective defaults of this model handle */
    int32_t candidate_max_length;
    int32_t tensors_zero_copy;    /* 1: tensors are read in place from the mapping/buffer */
    uint64_t tensor_count;
} pairrm_model_info;

/* One conversation turn for compare_conversations. */
typedef struct pairrm_turn {
    const char *role;    /* exactly "USER" (even turns) or "ASSISTANT" (odd turns) */
    const char *content;
} pairrm_turn;

/* ---------------------------------------------------------------- library */

/* Runtime library version "MAJOR.MINOR.PATCH" (static string; never NULL).
 * Thread-safe: yes. */
PAIRRM_API const char *pairrm_version(void);

/* Runtime ABI version, encoded like PAIRRM_ABI_VERSION. A caller built against
 * this header should check (pairrm_abi_version() >> 16) == PAIRRM_ABI_VERSION_MAJOR
 * and pairrm_abi_version() >= PAIRRM_ABI_VERSION.
 * Thread-safe: yes. */
PAIRRM_API uint32_t pairrm_abi_version(void);

/* Short static name of a status code, e.g. "PAIRRM_ERR_INVALID_UTF8" (never NULL;
 * "PAIRRM_ERR_UNKNOWN" for values not listed above).
 * Thread-safe: yes. */
PAIRRM_API const char *pairrm_status_name(pairrm_status status);

/* The message of the calling thread's most recent failed call ("" when its most
 * recent call succeeded). Never NULL. Valid until the thread's next pairrm_* call
 * that returns a status, or until the thread exits; copy it to keep it.
 * Thread-safe: yes (thread-local). */
PAIRRM_API const char *pairrm_last_error(void);

/* ---------------------------------------------------------------- models */

/* Defaults (size set, threads 1, batch_size 1, lengths from the file, separator
 * rewrite on, truncation allowed, no tensor verification, 16 pooled contexts, copy).
 * Thread-safe: yes. */
PAIRRM_API pairrm_model_params pairrm_model_default_params(void);

/* Loads a model by what users call it (ABI 1.1): a .prm file; a checkpoint folder
 * in the published llm-blender/PairRM(-hf) layout; or a hub id "org/name" or
 * "org/name@revision" found in the Hugging Face cache ($HF_HUB_CACHE, else
 * $HF_HOME/hub, else ~/.cache/huggingface/hub) or LLM-Blender's download folder.
 * model NULL or "" means $PAIRRM_MODEL, else "llm-blender/PairRM". A checkpoint is
 * converted with `recipe` ("q8" when NULL; also "q8a8", "q4", "f16", "f32") on
 * first use and the result cached in $PAIRRM_CACHE (else $XDG_CACHE_HOME/pairrm,
 * else ~/.cache/pairrm), so later loads map the cached file. The library never
 * uses the network: a hub id that is not cached fails with PAIRRM_ERR_IO and a
 * message saying how to fetch it (`pairrm download org/name`). The first load of
 * a checkpoint takes as long as a conversion (about a minute for PairRM).
 * Thread-safe: yes (two processes or threads converting the same checkpoint
 * convert it once). */
PAIRRM_API pairrm_status pairrm_model_load(const char *model, const char *recipe, const pairrm_model_params *params,
                                           pairrm_model **out_model);

/* Loads a .prm file (memory-mapped). params may be NULL (defaults).
 * On success *out_model is a new handle; on failure it is set to NULL
 * (when out_model is not NULL).
 * Thread-safe: yes (any number of loads at once). */
PAIRRM_API pairrm_status pairrm_model_load_from_file(const char *path, const pairrm_model_params *params,
                                                     pairrm_model **out_model);

/* Loads a .prm container from caller memory (data, size bytes). Copies it unless
 * params->buffer_no_copy is 1 (see pairrm_model_params). params may be NULL.
 * Thread-safe: yes. */
PAIRRM_API pairrm_status pairrm_model_load_from_buffer(const void *data, size_t size,
                                                       const pairrm_model_params *params,
                                                       pairrm_model **out_model);

/* Releases a model. NULL is a no-op returning PAIRRM_OK. A handle that was
 * already freed (or never issued) -> PAIRRM_ERR_INVALID_HANDLE, nothing else
 * happens. Calls already running on the model on other threads finish normally;
 * memory is released after the last one returns.
 * Thread-safe: yes (also against concurrent use of the same model). */
PAIRRM_API pairrm_status pairrm_model_free(pairrm_model *model);

/* Fills *info (at most info->size bytes; info->size must be >= 8).
 * Thread-safe: yes. */
PAIRRM_API pairrm_status pairrm_model_get_info(const pairrm_model *model, pairrm_model_info *info);

/* Copies the container metadata value of `key` as text (strings unquoted, numbers
 * in decimal, arrays one element per line) into buf, NUL-terminated.
 * *out_required (if not NULL) receives the bytes needed including the NUL; with
 * buf == NULL and capacity == 0 this is a size query returning PAIRRM_OK.
 * capacity < required -> PAIRRM_ERR_BUFFER_TOO_SMALL, buf untouched.
 * Absent key -> PAIRRM_ERR_NOT_FOUND. E.g. key "general.weights" -> "q8".
 * Thread-safe: yes. */
PAIRRM_API pairrm_status pairrm_model_get_metadata(const pairrm_model *model, const char *key, char *buf,
                                                   size_t capacity, size_t *out_required);

/* ---------------------------------------------------------------- scoring */

/* LLM-Blender's compare(): which of a and b answers instruction+prompt better.
 * instruction may be NULL (""). out_logit / out_verdict may each be NULL.
 * The logit's meaning depends on mode (see pairrm_compare_mode); the verdict is
 * always about A versus B.
 * Thread-safe: yes (one model, any number of threads). */
PAIRRM_API pairrm_status pairrm_model_compare(const pairrm_model *model, const char *prompt, const char *a,
                                              const char *b, const char *instruction, pairrm_compare_mode mode,
                                              float *out_logit, pairrm_verdict *out_verdict);

/* LLM-Blender's rank(): n_candidates (1..PAIRRM_MAX_CANDIDATES) texts.
 * out_scores[i] (higher is better; NaN for PAIRRM_RANK_MERGE_SORT) and
 * out_ranks[i] (1 = best, ties share the best rank) for each candidate; either
 * may be NULL. capacity is the element count of each non-NULL output array;
 * capacity < n_candidates -> PAIRRM_ERR_BUFFER_TOO_SMALL (nothing written).
 * Thread-safe: yes. */
PAIRRM_API pairrm_status pairrm_model_rank(const pairrm_model *model, const char *prompt, const char *instruction,
                                           const char *const *candidates, size_t n_candidates,
                                           pairrm_rank_strategy strategy, float *out_scores, int32_t *out_ranks,
                                           size_t capacity);

/* LLM-Blender's get_best_of_n(): *out_index (may be NULL) is the chosen
 * candidate. out_order (may be NULL; capacity elements) receives Blender's
 * return_all order as indices: BUBBLE -> the winner then the eliminated one of
 * each step; FULL -> best first. start_order (BUBBLE only; may be NULL = a
 * random permutation) is a permutation of 0..n_candidates-1 of n_candidates
 * elements; it must be NULL for FULL.
 * Thread-safe: yes. */
PAIRRM_API pairrm_status pairrm_model_best_of_n(const pairrm_model *model, const char *prompt,
                                                const char *instruction, const char *const *candidates,
                                                size_t n_candidates, pairrm_select_strategy strategy,
                                                const int32_t *start_order, int32_t *out_index,
                                                int32_t *out_order, size_t capacity);

/* LLM-Blender's get_worst_of_n(): the mirror image of pairrm_model_best_of_n
 * (FULL order is worst first).
 * Thread-safe: yes. */
PAIRRM_API pairrm_status pairrm_model_worst_of_n(const pairrm_model *model, const char *prompt,
                                                 const char *instruction, const char *const *candidates,
                                                 size_t n_candidates, pairrm_select_strategy strategy,
                                                 const int32_t *start_order, int32_t *out_index,
                                                 int32_t *out_order, size_t capacity);

/* LLM-Blender's compare_conversations(): two conversations of the same even
 * number of turns (1..PAIRRM_MAX_TURNS), USER on even and ASSISTANT on odd
 * turns, identical USER turns. Broken rules -> PAIRRM_ERR_INVALID_CONVERSATION.
 * out_logit / out_verdict as in pairrm_model_compare.
 * Thread-safe: yes. */
PAIRRM_API pairrm_status pairrm_model_compare_conversations(const pairrm_model *model, const pairrm_turn *a,
                                                            size_t n_a, const pairrm_turn *b, size_t n_b,
                                                            pairrm_compare_mode mode, float *out_logit,
                                                            pairrm_verdict *out_verdict);

/* ---------------------------------------------------------------- tokenizer */

/* Token ids of text (PairRM's DeBERTa-v3 tokenizer, no [CLS]/[SEP] added).
 * *out_count (required, not NULL) always receives the number of ids the text
 * needs (on PAIRRM_OK and on PAIRRM_ERR_BUFFER_TOO_SMALL). out_ids == NULL with
 * capacity == 0 is a size query returning PAIRRM_OK; otherwise capacity <
 * *out_count -> PAIRRM_ERR_BUFFER_TOO_SMALL with out_ids untouched.
 * Thread-safe: yes. */
PAIRRM_API pairrm_status pairrm_model_tokenize(const pairrm_model *model, const char *text, int32_t *out_ids,
                                               size_t capacity, size_t *out_count);

#ifdef __cplusplus
}
#endif

#endif /* PAIRRM_H */
