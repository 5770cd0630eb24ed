/* Sentence-transformers pooling semantics (models/Pooling.py), on small inputs whose expected
 * values are worked out by hand from the definitions:
 *  - cls: token 0 (even when the prompt is masked);
 *  - lasttoken: the last unmasked token;
 *  - max: per-dimension max over unmasked tokens;
 *  - mean: sum over unmasked tokens / their count; mean_sqrt_len_tokens: / sqrt(count);
 *  - weightedmean: weights are 1-based positions t + 1, sum(w_t x_t) / sum(w_t) over unmasked t;
 *  - include_prompt = false masks the first prompt_length tokens;
 *  - several modes concatenate in the order given;
 *  - with every token masked ST returns -1e9 for max (masked tokens are set to -1e9) and zeros for
 *    the means (divisor clamped to 1e-9) and lasttoken (the gathered row times its zero mask). */
#include <math.h>
#include <string.h>

#include "pool/pool.h"
#include "testutil.h"

#define EPS 1e-6

/* 4 tokens x 2 dims */
static const float H[4 * 2] = {
    9,  -2, /* t0 */
    3,  4,  /* t1 */
    -5, 6,  /* t2 */
    7,  0,  /* t3 */
};

static void expect(const float *got, const double *want, int n, const char *what) {
    for (int i = 0; i < n; i++)
        if (!(fabs(got[i] - want[i]) <= EPS * (1 + fabs(want[i]))))
            fail_msg("%s[%d]: got %.9g, want %.9g", what, i, got[i], want[i]);
}

static void pool1(tp_pool_mode m, int len, int prompt_len, int include_prompt, float *out) {
    tp_pool_sequence(H, len, 2, prompt_len, include_prompt, &m, 1, out);
}

static void test_all_tokens(void **state) {
    (void)state;
    float o[2];
    pool1(TP_POOL_CLS, 4, 0, 1, o);
    expect(o, (double[]){9, -2}, 2, "cls");
    pool1(TP_POOL_LAST, 4, 0, 1, o);
    expect(o, (double[]){7, 0}, 2, "lasttoken");
    pool1(TP_POOL_MAX, 4, 0, 1, o);
    expect(o, (double[]){9, 6}, 2, "max");
    /* sums: x 9+3-5+7 = 14, y -2+4+6+0 = 8 */
    pool1(TP_POOL_MEAN, 4, 0, 1, o);
    expect(o, (double[]){3.5, 2}, 2, "mean");
    pool1(TP_POOL_MEAN_SQRT_LEN, 4, 0, 1, o);
    expect(o, (double[]){7, 4}, 2, "mean_sqrt_len_tokens");
    /* weights 1,2,3,4 (sum 10): x 9+6-15+28 = 28, y -2+8+18+0 = 24 */
    pool1(TP_POOL_WEIGHTEDMEAN, 4, 0, 1, o);
    expect(o, (double[]){2.8, 2.4}, 2, "weightedmean");
}

static void test_prompt_included(void **state) {
    (void)state;
    /* include_prompt = true: prompt_len is ignored */
    float o[2];
    pool1(TP_POOL_MEAN, 4, 2, 1, o);
    expect(o, (double[]){3.5, 2}, 2, "mean");
    pool1(TP_POOL_MAX, 4, 2, 1, o);
    expect(o, (double[]){9, 6}, 2, "max");
    pool1(TP_POOL_WEIGHTEDMEAN, 4, 2, 1, o);
    expect(o, (double[]){2.8, 2.4}, 2, "weightedmean");
}

static void test_prompt_excluded(void **state) {
    (void)state;
    /* include_prompt = false, prompt_length 2: t2 = (-5, 6) and t3 = (7, 0) remain */
    float o[2];
    pool1(TP_POOL_CLS, 4, 2, 0, o);
    expect(o, (double[]){9, -2}, 2, "cls");
    pool1(TP_POOL_LAST, 4, 2, 0, o);
    expect(o, (double[]){7, 0}, 2, "lasttoken");
    pool1(TP_POOL_MAX, 4, 2, 0, o); /* t0's 9 is masked */
    expect(o, (double[]){7, 6}, 2, "max");
    pool1(TP_POOL_MEAN, 4, 2, 0, o); /* (2, 6) / 2 */
    expect(o, (double[]){1, 3}, 2, "mean");
    pool1(TP_POOL_MEAN_SQRT_LEN, 4, 2, 0, o); /* (2, 6) / sqrt(2) */
    expect(o, (double[]){sqrt(2.0), 3 * sqrt(2.0)}, 2, "mean_sqrt_len_tokens");
    /* positions keep their 1-based index: weights 3, 4 (sum 7): x -15+28 = 13, y 18+0 = 18 */
    pool1(TP_POOL_WEIGHTEDMEAN, 4, 2, 0, o);
    expect(o, (double[]){13.0 / 7, 18.0 / 7}, 2, "weightedmean");
}

static void test_everything_masked(void **state) {
    (void)state;
    float o[2];
    pool1(TP_POOL_CLS, 4, 4, 0, o);
    expect(o, (double[]){9, -2}, 2, "cls");
    pool1(TP_POOL_MAX, 4, 4, 0, o);
    expect(o, (double[]){-1e9, -1e9}, 2, "max");
    pool1(TP_POOL_MEAN, 4, 4, 0, o);
    expect(o, (double[]){0, 0}, 2, "mean");
    pool1(TP_POOL_MEAN_SQRT_LEN, 4, 4, 0, o);
    expect(o, (double[]){0, 0}, 2, "mean_sqrt_len_tokens");
    pool1(TP_POOL_WEIGHTEDMEAN, 4, 4, 0, o);
    expect(o, (double[]){0, 0}, 2, "weightedmean");
    pool1(TP_POOL_LAST, 4, 4, 0, o);
    expect(o, (double[]){0, 0}, 2, "lasttoken");
    /* a prompt longer than the (truncated) sequence masks everything too */
    pool1(TP_POOL_MEAN, 4, 9, 0, o);
    expect(o, (double[]){0, 0}, 2, "mean, prompt_len > len");
}

static void test_single_token(void **state) {
    (void)state;
    static const tp_pool_mode all[] = {TP_POOL_CLS,           TP_POOL_MAX,          TP_POOL_MEAN,
                                       TP_POOL_MEAN_SQRT_LEN, TP_POOL_WEIGHTEDMEAN, TP_POOL_LAST};
    float o[12];
    tp_pool_sequence(H + 2, 1, 2, 0, 1, all, 6, o); /* just t1 = (3, 4) */
    expect(o, (double[]){3, 4, 3, 4, 3, 4, 3, 4, 3, 4, 3, 4}, 12, "single token");
}

static void test_concatenation(void **state) {
    (void)state;
    /* ST concatenates cls, max, mean, mean_sqrt_len, weightedmean, lasttoken in that order;
     * the caller passes the modes already in order */
    static const tp_pool_mode modes[] = {TP_POOL_CLS, TP_POOL_MAX, TP_POOL_MEAN, TP_POOL_LAST};
    float o[8];
    tp_pool_sequence(H, 4, 2, 0, 1, modes, 4, o);
    expect(o, (double[]){9, -2, 9, 6, 3.5, 2, 7, 0}, 8, "cls+max+mean+lasttoken");
}

static void test_normalize(void **state) {
    (void)state;
    float v[2] = {3, 4};
    tp_l2_normalize(v, 2);
    expect(v, (double[]){0.6, 0.8}, 2, "normalize");
    float z[3] = {0, 0, 0}; /* torch.nn.functional.normalize: x / max(||x||, 1e-12) */
    tp_l2_normalize(z, 3);
    expect(z, (double[]){0, 0, 0}, 3, "normalize zero");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_tokens),      cmocka_unit_test(test_prompt_included),
        cmocka_unit_test(test_prompt_excluded), cmocka_unit_test(test_everything_masked),
        cmocka_unit_test(test_single_token),    cmocka_unit_test(test_concatenation),
        cmocka_unit_test(test_normalize),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
