/*
 * C ABI test of libpairrm: golden values (LLM-Blender on the tiny checkpoint), many threads on
 * one model, and bad input. Built by Tests/CABI/run.sh against pairrm.h and the library.
 *
 * usage: test_pairrm golden  MODEL.prm
 *        test_pairrm threads MODEL.prm [N_THREADS] [ROUNDS]
 *        test_pairrm bad     MODEL.prm
 * PAIRRM_TEST_QUICK=1 skips the golden cases with texts over 1000 bytes (sanitizer runs).
 * Prints one line per failed check and "N passed, M failed"; exits 1 on any failure.
 */
#include "pairrm.h"
#include "golden.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed, failed;
static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;

static void check(int ok, const char *what, ...) __attribute__((format(printf, 2, 3)));
#include <stdarg.h>
static void check(int ok, const char *what, ...) {
    pthread_mutex_lock(&count_lock);
    if (ok) {
        passed++;
    } else {
        failed++;
        va_list ap;
        va_start(ap, what);
        fprintf(stderr, "FAIL: ");
        vfprintf(stderr, what, ap);
        fprintf(stderr, " (last error: %s)\n", pairrm_last_error());
        va_end(ap);
    }
    pthread_mutex_unlock(&count_lock);
}

#define TOL 1e-4f
static int close_to(float a, float b) { return fabsf(a - b) <= TOL; }

/* quick mode (sanitizer runs, threads): skip golden cases with a text over 1000 bytes (they run
 * ~1600-token forward passes, slow in a debug build) */
static int quick;
static int is_long(const char *s) { return s && strlen(s) > 1000; }
static int long_candidates(const char *const *c, size_t n) {
    for (size_t i = 0; i < n; i++) if (is_long(c[i])) return 1;
    return 0;
}

static pairrm_model *load(const char *path, int32_t source_max_length, int32_t candidate_max_length) {
    pairrm_model_params params = pairrm_model_default_params();
    params.source_max_length = source_max_length;
    params.candidate_max_length = candidate_max_length;
    pairrm_model *model = NULL;
    pairrm_status st = pairrm_model_load_from_file(path, &params, &model);
    if (st != PAIRRM_OK) {
        fprintf(stderr, "cannot load %s: %s: %s\n", path, pairrm_status_name(st), pairrm_last_error());
        exit(2);
    }
    return model;
}

static pairrm_verdict expected_verdict(pairrm_compare_mode mode, float logit) {
    if (logit == 0) return PAIRRM_VERDICT_TIE;
    if (mode == PAIRRM_COMPARE_BA) return logit > 0 ? PAIRRM_VERDICT_B : PAIRRM_VERDICT_A;
    return logit > 0 ? PAIRRM_VERDICT_A : PAIRRM_VERDICT_B;
}

static const pairrm_compare_mode MODES[3] = {PAIRRM_COMPARE_AB, PAIRRM_COMPARE_BA, PAIRRM_COMPARE_BOTH};
static const char *const MODE_NAMES[3] = {"AB", "BA", "BOTH"};

static float expected_logit(const golden_compare *g, int m) { return m == 0 ? g->ab : m == 1 ? g->ba : g->both; }

/* ------------------------------------------------------------------ golden */

static void test_golden(const char *path) {
    check(pairrm_abi_version() >> 16 == PAIRRM_ABI_VERSION_MAJOR && pairrm_abi_version() >= PAIRRM_ABI_VERSION,
          "abi version %u vs header %u", pairrm_abi_version(), (unsigned)PAIRRM_ABI_VERSION);
    check(pairrm_version() != NULL && strlen(pairrm_version()) > 0, "version string");
    pairrm_model *model = load(path, 0, 0);

    pairrm_model_info info;
    memset(&info, 0xAB, sizeof info);
    info.size = sizeof info;
    check(pairrm_model_get_info(model, &info) == PAIRRM_OK && info.hidden_size == 32 && info.num_layers == 2 &&
              info.num_heads == 4 && info.vocab_size == 1005 && info.max_tokens == 2048 &&
              info.source_max_length == 1224 && info.candidate_max_length == 412 && info.tensor_count > 0,
          "model info");
    char weights[16];
    size_t need = 0;
    check(pairrm_model_get_metadata(model, "general.weights", NULL, 0, &need) == PAIRRM_OK && need == 4, "metadata size query (%zu)", need);
    check(pairrm_model_get_metadata(model, "general.weights", weights, sizeof weights, &need) == PAIRRM_OK &&
              strcmp(weights, "f32") == 0, "metadata general.weights");

    for (size_t k = 0; k < N_GOLDEN(GOLDEN_COMPARE); k++) {
        const golden_compare *g = &GOLDEN_COMPARE[k];
        if (quick && (is_long(g->prompt) || is_long(g->a) || is_long(g->b))) continue;
        for (int m = 0; m < 3; m++) {
            float logit = NAN;
            pairrm_verdict verdict = -1;
            pairrm_status st = pairrm_model_compare(model, g->prompt, g->a, g->b, g->instruction, MODES[m], &logit, &verdict);
            float want = expected_logit(g, m);
            check(st == PAIRRM_OK && close_to(logit, want), "compare[%zu] %s logit %.7f, expected %.7f", k, MODE_NAMES[m], logit, want);
            check(st == PAIRRM_OK && verdict == expected_verdict(MODES[m], want), "compare[%zu] %s verdict %d", k, MODE_NAMES[m], verdict);
        }
    }

    for (size_t k = 0; k < N_GOLDEN(GOLDEN_RANK); k++) {
        const golden_rank *g = &GOLDEN_RANK[k];
        if (quick && (is_long(g->prompt) || long_candidates(g->cands, g->n))) continue;
        pairrm_model *m = (g->source_max_length || g->candidate_max_length)
                              ? load(path, g->source_max_length, g->candidate_max_length) : model;
        float scores[32];
        int32_t ranks[32];
        pairrm_status st = pairrm_model_rank(m, g->prompt, g->instruction, g->cands, g->n, PAIRRM_RANK_FULL, scores, ranks, 32);
        int ok = st == PAIRRM_OK;
        for (size_t i = 0; ok && i < g->n; i++) ok = close_to(scores[i], g->scores[i]) && ranks[i] == g->ranks[i];
        check(ok, "rank[%zu] (n=%zu) scores/ranks", k, g->n);
        /* merge sort: ranks only, scores NaN; agrees with the full order on these cases' winners */
        st = pairrm_model_rank(m, g->prompt, g->instruction, g->cands, g->n, PAIRRM_RANK_MERGE_SORT, scores, ranks, 32);
        ok = st == PAIRRM_OK;
        for (size_t i = 0; ok && i < g->n; i++) ok = isnan(scores[i]) && ranks[i] >= 1 && ranks[i] <= (int32_t)g->n;
        check(ok, "rank[%zu] merge sort", k);
        if (m != model) check(pairrm_model_free(m) == PAIRRM_OK, "free custom-length model");
    }

    for (size_t k = 0; k < N_GOLDEN(GOLDEN_CONV); k++) {
        const golden_conv *g = &GOLDEN_CONV[k];
        for (int m = 0; m < 3; m++) {
            float logit = NAN;
            pairrm_verdict verdict = -1;
            pairrm_status st = pairrm_model_compare_conversations(model, g->a, g->n_a, g->b, g->n_b, MODES[m], &logit, &verdict);
            if (g->is_error) {
                check(st == PAIRRM_ERR_INVALID_CONVERSATION && strlen(pairrm_last_error()) > 0,
                      "compare_conversations error case %zu: status %s", k, pairrm_status_name(st));
            } else {
                float want = m == 0 ? g->ab : m == 1 ? g->ba : g->both;
                check(st == PAIRRM_OK && close_to(logit, want) && verdict == expected_verdict(MODES[m], want),
                      "compare_conversations[%zu] %s logit %.7f expected %.7f", k, MODE_NAMES[m], logit, want);
            }
        }
    }

    for (size_t k = 0; k < N_GOLDEN(GOLDEN_SELECT); k++) {
        const golden_select *g = &GOLDEN_SELECT[k];
        int32_t index = -1, order[32];
        pairrm_status st = (g->worst ? pairrm_model_worst_of_n : pairrm_model_best_of_n)(
            model, g->prompt, g->instruction, g->cands, g->n, g->strategy, g->start, &index, order, 32);
        int ok = st == PAIRRM_OK && index >= 0 && (size_t)index < g->n && strcmp(g->cands[index], g->choice) == 0;
        for (size_t i = 0; ok && i < g->n; i++) ok = order[i] >= 0 && (size_t)order[i] < g->n && strcmp(g->cands[order[i]], g->all[i]) == 0;
        check(ok, "%s_of_n[%zu] %s", g->worst ? "worst" : "best", k, g->strategy == PAIRRM_SELECT_FULL ? "full" : "bubble");
    }

    /* tokenize: size query, exact buffer, the same ids as a larger buffer */
    size_t count = 0;
    check(pairrm_model_tokenize(model, "What did the boy do when he was a child?", NULL, 0, &count) == PAIRRM_OK && count > 0,
          "tokenize size query");
    int32_t *ids = malloc(count * sizeof *ids);
    size_t count2 = 0;
    check(pairrm_model_tokenize(model, "What did the boy do when he was a child?", ids, count, &count2) == PAIRRM_OK && count2 == count,
          "tokenize exact buffer");
    /* golden: ids_ab of compare[0] holds the prompt's ids after [CLS] <|source|> */
    int ok = 1;
    for (size_t i = 0; i < count; i++) ok = ok && ids[i] > 2 && ids[i] < 1005;
    check(ok, "tokenize ids in range");
    free(ids);

    /* load from a caller buffer (copied, then freed by the caller before use) */
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *bytes = malloc((size_t)size);
    check(fread(bytes, 1, (size_t)size, f) == (size_t)size, "read model file");
    fclose(f);
    pairrm_model *from_buffer = NULL;
    check(pairrm_model_load_from_buffer(bytes, (size_t)size, NULL, &from_buffer) == PAIRRM_OK && from_buffer != NULL, "load_from_buffer");
    memset(bytes, 0, (size_t)size);
    free(bytes);
    const golden_compare *g = &GOLDEN_COMPARE[0];
    float logit = NAN;
    check(pairrm_model_compare(from_buffer, g->prompt, g->a, g->b, g->instruction, PAIRRM_COMPARE_BOTH, &logit, NULL) == PAIRRM_OK &&
              close_to(logit, g->both), "compare on a model loaded from a buffer");
    check(pairrm_model_free(from_buffer) == PAIRRM_OK, "free buffer model");
    check(pairrm_model_free(model) == PAIRRM_OK, "free model");
}

/* ------------------------------------------------------------------ threads */

typedef struct {
    pairrm_model *model;
    int rounds;
    int thread_index;
    const float *reference; /* [case][mode] logits from one thread */
    const int32_t *reference_ranks;
    int mismatches;
    int errors;
} worker;

static void *work(void *arg) {
    worker *w = arg;
    size_t nc = N_GOLDEN(GOLDEN_COMPARE);
    for (int r = 0; r < w->rounds; r++) {
        for (size_t j = 0; j < nc; j++) {
            size_t k = (j + (size_t)w->thread_index) % nc; /* threads start on different cases */
            const golden_compare *g = &GOLDEN_COMPARE[k];
            if (is_long(g->prompt) || is_long(g->a) || is_long(g->b)) continue;
            for (int m = 0; m < 3; m++) {
                float logit;
                if (pairrm_model_compare(w->model, g->prompt, g->a, g->b, g->instruction, MODES[m], &logit, NULL) != PAIRRM_OK) {
                    w->errors++;
                    fprintf(stderr, "thread %d: %s\n", w->thread_index, pairrm_last_error());
                } else if (memcmp(&logit, &w->reference[k * 3 + m], sizeof logit) != 0) {
                    w->mismatches++;
                }
            }
        }
        const golden_rank *g = &GOLDEN_RANK[5];
        int32_t ranks[32];
        if (pairrm_model_rank(w->model, g->prompt, g->instruction, g->cands, g->n, PAIRRM_RANK_FULL, NULL, ranks, 32) != PAIRRM_OK) {
            w->errors++;
        } else if (memcmp(ranks, w->reference_ranks, g->n * sizeof ranks[0]) != 0) {
            w->mismatches++;
        }
        /* the thread's own error slot: a failing call here must not disturb other threads */
        if (pairrm_model_compare(w->model, NULL, "a", "b", NULL, PAIRRM_COMPARE_AB, NULL, NULL) != PAIRRM_ERR_INVALID_ARGUMENT ||
            strstr(pairrm_last_error(), "prompt") == NULL) {
            w->errors++;
        }
    }
    return NULL;
}

static void test_threads(const char *path, int n_threads, int rounds) {
    pairrm_model *model = load(path, 0, 0);
    size_t nc = N_GOLDEN(GOLDEN_COMPARE);
    float *reference = calloc(nc * 3, sizeof *reference);
    for (size_t k = 0; k < nc; k++) {
        const golden_compare *g = &GOLDEN_COMPARE[k];
        if (is_long(g->prompt) || is_long(g->a) || is_long(g->b)) continue;
        for (int m = 0; m < 3; m++) {
            pairrm_status st = pairrm_model_compare(model, g->prompt, g->a, g->b, g->instruction, MODES[m], &reference[k * 3 + m], NULL);
            check(st == PAIRRM_OK && close_to(reference[k * 3 + m], expected_logit(g, m)), "single-thread reference %zu %s", k, MODE_NAMES[m]);
        }
    }
    int32_t reference_ranks[32];
    const golden_rank *gr = &GOLDEN_RANK[5];
    check(pairrm_model_rank(model, gr->prompt, gr->instruction, gr->cands, gr->n, PAIRRM_RANK_FULL, NULL, reference_ranks, 32) == PAIRRM_OK,
          "single-thread rank");

    pthread_t threads[64];
    worker workers[64];
    if (n_threads > 64) n_threads = 64;
    for (int t = 0; t < n_threads; t++) {
        workers[t] = (worker){model, rounds, t, reference, reference_ranks, 0, 0};
        check(pthread_create(&threads[t], NULL, work, &workers[t]) == 0, "pthread_create %d", t);
    }
    for (int t = 0; t < n_threads; t++) {
        pthread_join(threads[t], NULL);
        check(workers[t].errors == 0, "thread %d: %d calls failed", t, workers[t].errors);
        check(workers[t].mismatches == 0, "thread %d: %d results differ from the single-thread run", t, workers[t].mismatches);
    }
    check(pairrm_model_free(model) == PAIRRM_OK, "free shared model");
    free(reference);
}

/* ------------------------------------------------------------------ bad input */

static void expect(pairrm_status got, pairrm_status want, const char *what) {
    check(got == want, "%s: got %s, expected %s", what, pairrm_status_name(got), pairrm_status_name(want));
    if (got != PAIRRM_OK) check(strlen(pairrm_last_error()) > 0, "%s: has a message", what);
}

static void test_bad(const char *path) {
    pairrm_model *model = NULL;
    const char *cands[3] = {"one", "two", "three"};

    /* loading */
    expect(pairrm_model_load_from_file(NULL, NULL, &model), PAIRRM_ERR_INVALID_ARGUMENT, "load NULL path");
    check(model == NULL, "out_model NULL after failure");
    expect(pairrm_model_load_from_file(path, NULL, NULL), PAIRRM_ERR_INVALID_ARGUMENT, "load NULL out_model");
    expect(pairrm_model_load_from_file("/nonexistent/model.prm", NULL, &model), PAIRRM_ERR_IO, "load missing file");
    expect(pairrm_model_load_from_file("\xff\xfe", NULL, &model), PAIRRM_ERR_INVALID_UTF8, "load invalid UTF-8 path");
    expect(pairrm_model_load_from_file("/etc/hostname", NULL, &model), PAIRRM_ERR_INVALID_MODEL, "load a non-.prm file");
    expect(pairrm_model_load_from_buffer(NULL, 10, NULL, &model), PAIRRM_ERR_INVALID_ARGUMENT, "buffer NULL");
    char junk[256] = {0};
    expect(pairrm_model_load_from_buffer(junk, 0, NULL, &model), PAIRRM_ERR_INVALID_ARGUMENT, "buffer size 0");
    expect(pairrm_model_load_from_buffer(junk, (size_t)-1, NULL, &model), PAIRRM_ERR_INVALID_ARGUMENT, "buffer size SIZE_MAX");
    expect(pairrm_model_load_from_buffer(junk, sizeof junk, NULL, &model), PAIRRM_ERR_INVALID_MODEL, "buffer of zeros");
    pairrm_model_params params = pairrm_model_default_params();
    check(params.size == sizeof params && params.threads == 1, "default params");
    params.threads = 0;
    expect(pairrm_model_load_from_file(path, &params, &model), PAIRRM_ERR_INVALID_ARGUMENT, "threads 0");
    params = pairrm_model_default_params();
    params.size = 0;
    expect(pairrm_model_load_from_file(path, &params, &model), PAIRRM_ERR_INVALID_ARGUMENT, "params size 0");
    params.size = 0xFFFFFFFFu;
    expect(pairrm_model_load_from_file(path, &params, &model), PAIRRM_ERR_INVALID_ARGUMENT, "params size garbage");
    struct { pairrm_model_params p; int32_t future_field; } newer;
    newer.p = pairrm_model_default_params();
    newer.p.size = sizeof newer;
    newer.future_field = 0;
    /* A size beyond what this library knows is refused (reading it would read past the caller's
     * struct when the size is garbage, e.g. 4096 in an uninitialized struct). */
    expect(pairrm_model_load_from_file(path, &newer.p, &model), PAIRRM_ERR_INVALID_ARGUMENT, "params struct larger than this library knows");
    check(strstr(pairrm_last_error(), "newer pairrm.h") != NULL, "larger params: the message names the cause");
    params = pairrm_model_default_params();
    params.size = 4096;
    expect(pairrm_model_load_from_file(path, &params, &model), PAIRRM_ERR_INVALID_ARGUMENT, "params size 4096 (uninitialized)");
    params = pairrm_model_default_params();
    params.size = 8; /* an "older" caller that only knew `threads` */
    params.batch_size = -5; /* beyond size: must be ignored */
    expect(pairrm_model_load_from_file(path, &params, &model), PAIRRM_OK, "older (shorter) params struct");
    check(pairrm_model_free(model) == PAIRRM_OK, "free");
    params = pairrm_model_default_params();
    params.source_max_length = 2000; /* 2000 + 2*412 > 2048 */
    expect(pairrm_model_load_from_file(path, &params, &model), PAIRRM_ERR_INVALID_ARGUMENT, "lengths over 2048 tokens");

    model = load(path, 0, 0);
    float logit = 42;
    pairrm_verdict verdict = 42;

    /* handles */
    expect(pairrm_model_compare(NULL, "p", "a", "b", NULL, PAIRRM_COMPARE_AB, &logit, &verdict), PAIRRM_ERR_INVALID_HANDLE, "NULL model");
    expect(pairrm_model_compare((pairrm_model *)(void *)junk, "p", "a", "b", NULL, PAIRRM_COMPARE_AB, &logit, NULL),
           PAIRRM_ERR_INVALID_HANDLE, "a pointer that is not a handle");
    check(logit == 42 && verdict == 42, "outputs untouched on failure");

    /* compare */
    expect(pairrm_model_compare(model, NULL, "a", "b", NULL, PAIRRM_COMPARE_AB, &logit, NULL), PAIRRM_ERR_INVALID_ARGUMENT, "NULL prompt");
    check(strstr(pairrm_last_error(), "prompt") != NULL, "message names the argument: %s", pairrm_last_error());
    expect(pairrm_model_compare(model, "p", NULL, "b", NULL, PAIRRM_COMPARE_AB, &logit, NULL), PAIRRM_ERR_INVALID_ARGUMENT, "NULL a");
    expect(pairrm_model_compare(model, "p", "a", NULL, NULL, PAIRRM_COMPARE_AB, &logit, NULL), PAIRRM_ERR_INVALID_ARGUMENT, "NULL b");
    expect(pairrm_model_compare(model, "p", "a\xc3(", "b", NULL, PAIRRM_COMPARE_AB, &logit, NULL), PAIRRM_ERR_INVALID_UTF8, "invalid UTF-8 a");
    expect(pairrm_model_compare(model, "p", "a", "b", "\xed\xa0\x80", PAIRRM_COMPARE_AB, &logit, NULL), PAIRRM_ERR_INVALID_UTF8,
           "surrogate in instruction");
    expect(pairrm_model_compare(model, "p", "a", "b", NULL, 7, &logit, NULL), PAIRRM_ERR_INVALID_ARGUMENT, "bad mode");
    expect(pairrm_model_compare(model, "p", "a", "b", NULL, PAIRRM_COMPARE_AB, NULL, NULL), PAIRRM_OK, "NULL outputs are fine");
    check(strcmp(pairrm_last_error(), "") == 0, "success clears the error");
    expect(pairrm_model_compare(model, "", "", "", "", PAIRRM_COMPARE_BOTH, &logit, &verdict), PAIRRM_OK, "empty texts");
    check(logit == 0 && verdict == PAIRRM_VERDICT_TIE, "identical candidates tie in BOTH mode (logit %g)", logit);
    /* a long text is truncated like Blender, or rejected when asked */
    size_t big = 20000;
    char *longtext = malloc(big + 1);
    for (size_t i = 0; i < big; i++) longtext[i] = (i % 5 == 4) ? ' ' : 'a' + (char)(i % 7);
    longtext[big] = 0;
    expect(pairrm_model_compare(model, longtext, "a", "b", NULL, PAIRRM_COMPARE_AB, &logit, NULL), PAIRRM_OK, "long prompt truncated");
    params = pairrm_model_default_params();
    params.reject_truncation = 1;
    pairrm_model *strict = NULL;
    expect(pairrm_model_load_from_file(path, &params, &strict), PAIRRM_OK, "load strict");
    expect(pairrm_model_compare(strict, longtext, "a", "b", NULL, PAIRRM_COMPARE_AB, &logit, NULL), PAIRRM_ERR_INPUT_TOO_LONG,
           "long prompt rejected");
    check(pairrm_model_free(strict) == PAIRRM_OK, "free strict");
    free(longtext);

    /* rank */
    float scores[3];
    int32_t ranks[3] = {-7, -7, -7};
    expect(pairrm_model_rank(model, "p", NULL, cands, 0, PAIRRM_RANK_FULL, scores, ranks, 3), PAIRRM_ERR_INVALID_ARGUMENT, "rank n=0");
    expect(pairrm_model_rank(model, "p", NULL, NULL, 3, PAIRRM_RANK_FULL, scores, ranks, 3), PAIRRM_ERR_INVALID_ARGUMENT, "rank NULL candidates");
    expect(pairrm_model_rank(model, "p", NULL, cands, (size_t)-1, PAIRRM_RANK_FULL, scores, ranks, 3), PAIRRM_ERR_INVALID_ARGUMENT,
           "rank n=SIZE_MAX");
    expect(pairrm_model_rank(model, "p", NULL, cands, 100000, PAIRRM_RANK_FULL, scores, ranks, 3), PAIRRM_ERR_INVALID_ARGUMENT,
           "rank n huge");
    expect(pairrm_model_rank(model, "p", NULL, cands, 3, PAIRRM_RANK_FULL, scores, ranks, 2), PAIRRM_ERR_BUFFER_TOO_SMALL, "rank capacity 2 < 3");
    check(ranks[0] == -7 && ranks[1] == -7 && ranks[2] == -7, "rank buffer untouched on failure");
    const char *with_null[3] = {"one", NULL, "three"};
    expect(pairrm_model_rank(model, "p", NULL, with_null, 3, PAIRRM_RANK_FULL, scores, ranks, 3), PAIRRM_ERR_INVALID_ARGUMENT,
           "rank NULL candidate");
    check(strstr(pairrm_last_error(), "candidates[1]") != NULL, "message names candidates[1]: %s", pairrm_last_error());
    const char *bad_utf8[3] = {"one", "two", "thr\x80"};
    expect(pairrm_model_rank(model, "p", NULL, bad_utf8, 3, PAIRRM_RANK_FULL, scores, ranks, 3), PAIRRM_ERR_INVALID_UTF8, "rank bad UTF-8");
    expect(pairrm_model_rank(model, "p", NULL, cands, 3, 9, scores, ranks, 3), PAIRRM_ERR_INVALID_ARGUMENT, "rank bad strategy");
    expect(pairrm_model_rank(model, "p", NULL, cands, 3, PAIRRM_RANK_FULL, NULL, ranks, 3), PAIRRM_OK, "rank ranks only");
    expect(pairrm_model_rank(model, "p", NULL, cands, 3, PAIRRM_RANK_FULL, NULL, NULL, 0), PAIRRM_OK, "rank no outputs, capacity 0");

    /* best_of_n */
    int32_t index = -1, order[3];
    int32_t not_perm[3] = {0, 0, 1};
    expect(pairrm_model_best_of_n(model, "p", NULL, cands, 3, PAIRRM_SELECT_BUBBLE, not_perm, &index, order, 3), PAIRRM_ERR_INVALID_ARGUMENT,
           "best_of_n start order not a permutation");
    int32_t out_of_range[3] = {0, 1, 99};
    expect(pairrm_model_best_of_n(model, "p", NULL, cands, 3, PAIRRM_SELECT_BUBBLE, out_of_range, &index, order, 3),
           PAIRRM_ERR_INVALID_ARGUMENT, "best_of_n start order out of range");
    expect(pairrm_model_best_of_n(model, "p", NULL, cands, 3, PAIRRM_SELECT_FULL, not_perm, &index, order, 3), PAIRRM_ERR_INVALID_ARGUMENT,
           "best_of_n FULL with a start order");
    expect(pairrm_model_best_of_n(model, "p", NULL, cands, 3, PAIRRM_SELECT_FULL, NULL, &index, order, 1), PAIRRM_ERR_BUFFER_TOO_SMALL,
           "best_of_n order capacity 1");
    expect(pairrm_model_best_of_n(model, "p", NULL, cands, 3, PAIRRM_SELECT_BUBBLE, NULL, &index, NULL, 0), PAIRRM_OK,
           "best_of_n random start, index only");
    check(index >= 0 && index < 3, "best_of_n index in range");

    /* conversations */
    pairrm_turn a[2] = {{"USER", "hi"}, {"ASSISTANT", "hello"}};
    pairrm_turn b[2] = {{"USER", "hi"}, {"ASSISTANT", "go away"}};
    pairrm_turn bad_role[2] = {{"USER", "hi"}, {NULL, "hello"}};
    expect(pairrm_model_compare_conversations(model, a, 2, b, 2, PAIRRM_COMPARE_BOTH, &logit, &verdict), PAIRRM_OK, "conversations");
    expect(pairrm_model_compare_conversations(model, a, 0, b, 0, PAIRRM_COMPARE_BOTH, &logit, &verdict), PAIRRM_ERR_INVALID_ARGUMENT,
           "conversations of 0 turns");
    expect(pairrm_model_compare_conversations(model, NULL, 2, b, 2, PAIRRM_COMPARE_BOTH, &logit, &verdict), PAIRRM_ERR_INVALID_ARGUMENT,
           "conversations NULL a");
    expect(pairrm_model_compare_conversations(model, bad_role, 2, b, 2, PAIRRM_COMPARE_BOTH, &logit, &verdict), PAIRRM_ERR_INVALID_ARGUMENT,
           "conversations NULL role");
    expect(pairrm_model_compare_conversations(model, a, 2, b, 1, PAIRRM_COMPARE_BOTH, &logit, &verdict),
           PAIRRM_ERR_INVALID_CONVERSATION, "conversations odd turns");

    /* tokenize */
    size_t count = 12345;
    int32_t ids[4] = {-1, -1, -1, -1};
    expect(pairrm_model_tokenize(model, "hello world, this is a longer text", ids, 2, &count), PAIRRM_ERR_BUFFER_TOO_SMALL, "tokenize small buffer");
    check(count > 2 && ids[0] == -1 && ids[1] == -1 && ids[2] == -1, "tokenize reports the required count (%zu) and writes nothing", count);
    expect(pairrm_model_tokenize(model, "hello", NULL, 5, &count), PAIRRM_ERR_INVALID_ARGUMENT, "tokenize NULL ids with capacity");
    expect(pairrm_model_tokenize(model, "hello", ids, 4, NULL), PAIRRM_ERR_INVALID_ARGUMENT, "tokenize NULL out_count");
    expect(pairrm_model_tokenize(model, "\xc0\xaf", ids, 4, &count), PAIRRM_ERR_INVALID_UTF8, "tokenize overlong UTF-8");
    expect(pairrm_model_tokenize(model, "", ids, 4, &count), PAIRRM_OK, "tokenize empty");
    check(count == 0, "empty text has 0 ids");

    /* metadata and info */
    char buf[2];
    size_t need = 0;
    expect(pairrm_model_get_metadata(model, "general.weights", buf, sizeof buf, &need), PAIRRM_ERR_BUFFER_TOO_SMALL, "metadata small buffer");
    check(need == 4, "metadata required size %zu", need);
    expect(pairrm_model_get_metadata(model, "no.such.key", NULL, 0, &need), PAIRRM_ERR_NOT_FOUND, "metadata missing key");
    expect(pairrm_model_get_metadata(model, NULL, NULL, 0, &need), PAIRRM_ERR_INVALID_ARGUMENT, "metadata NULL key");
    pairrm_model_info info = {0};
    expect(pairrm_model_get_info(model, &info), PAIRRM_ERR_INVALID_ARGUMENT, "info size 0");
    expect(pairrm_model_get_info(model, NULL), PAIRRM_ERR_INVALID_ARGUMENT, "info NULL");
    struct { uint32_t size; int32_t hidden_size; int32_t canary; } small_info = {8, 0, 0x7777};
    expect(pairrm_model_get_info(model, (pairrm_model_info *)(void *)&small_info), PAIRRM_OK, "info from an older, shorter struct");
    check(small_info.hidden_size == 32 && small_info.canary == 0x7777, "info writes only `size` bytes");

    /* status names */
    check(strcmp(pairrm_status_name(PAIRRM_ERR_INVALID_UTF8), "PAIRRM_ERR_INVALID_UTF8") == 0, "status name");
    check(strcmp(pairrm_status_name(12345), "PAIRRM_ERR_UNKNOWN") == 0, "unknown status name");

    /* free: NULL is a no-op; a freed handle is detected everywhere */
    expect(pairrm_model_free(NULL), PAIRRM_OK, "free NULL");
    expect(pairrm_model_free(model), PAIRRM_OK, "free");
    expect(pairrm_model_free(model), PAIRRM_ERR_INVALID_HANDLE, "double free");
    check(strstr(pairrm_last_error(), "already freed") != NULL, "double free message: %s", pairrm_last_error());
    expect(pairrm_model_compare(model, "p", "a", "b", NULL, PAIRRM_COMPARE_AB, &logit, NULL), PAIRRM_ERR_INVALID_HANDLE, "use after free");
    expect(pairrm_model_tokenize(model, "p", ids, 4, &count), PAIRRM_ERR_INVALID_HANDLE, "tokenize after free");
    expect(pairrm_model_get_info(model, &info), PAIRRM_ERR_INVALID_HANDLE, "info after free");
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s golden|threads|bad MODEL.prm [N_THREADS] [ROUNDS]\n", argv[0]);
        return 64;
    }
    quick = getenv("PAIRRM_TEST_QUICK") != NULL && strcmp(getenv("PAIRRM_TEST_QUICK"), "1") == 0;
    if (strcmp(argv[1], "golden") == 0) {
        test_golden(argv[2]);
    } else if (strcmp(argv[1], "threads") == 0) {
        test_threads(argv[2], argc > 3 ? atoi(argv[3]) : 8, argc > 4 ? atoi(argv[4]) : 3);
    } else if (strcmp(argv[1], "bad") == 0) {
        test_bad(argv[2]);
    } else {
        fprintf(stderr, "unknown test %s\n", argv[1]);
        return 64;
    }
    printf("%s: %d passed, %d failed\n", argv[1], passed, failed);
    return failed ? 1 : 0;
}
