#include "pool/pool.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

void tp_pool_sequence(const float *h, int len, int dim, int prompt_len, int include_prompt,
                      const tp_pool_mode *modes, int n_modes, float *out) {
    /* sentence-transformers masks the prompt (attention_mask[:, :prompt_length] = 0); tokens
     * [first, len) are the unmasked ones. CLS always reads token 0. When the mask is empty ST
     * yields -1e9 for max (masked tokens are set to -1e9) and zeros for the means (the divisor
     * is clamped to 1e-9) and for lasttoken (the gathered row is multiplied by its mask). */
    int first = include_prompt ? 0 : prompt_len;
    if (first < 0) first = 0;
    if (first > len) first = len;
    int cnt = len - first;
    for (int mi = 0; mi < n_modes; mi++) {
        float *o = out + (size_t)mi * dim;
        switch (modes[mi]) {
        case TP_POOL_CLS:
            memcpy(o, h, (size_t)dim * sizeof *o);
            break;
        case TP_POOL_LAST:
            if (cnt > 0)
                memcpy(o, h + (size_t)(len - 1) * dim, (size_t)dim * sizeof *o);
            else
                memset(o, 0, (size_t)dim * sizeof *o);
            break;
        case TP_POOL_MAX:
            for (int j = 0; j < dim; j++) {
                float mx = cnt > 0 ? -INFINITY : -1e9f;
                for (int t = first; t < len; t++) {
                    float v = h[(size_t)t * dim + j];
                    mx = v > mx ? v : mx;
                }
                o[j] = mx;
            }
            break;
        case TP_POOL_WEIGHTEDMEAN: {
            /* weight of token t is its position t + 1 (1-based, prompt tokens included in the
             * count but masked to weight 0) */
            double wsum = 0;
            for (int t = first; t < len; t++)
                wsum += (double)(t + 1);
            if (wsum < 1e-9) wsum = 1e-9;
            for (int j = 0; j < dim; j++) {
                double s = 0;
                for (int t = first; t < len; t++)
                    s += (double)(t + 1) * h[(size_t)t * dim + j];
                o[j] = (float)(s / wsum);
            }
            break;
        }
        case TP_POOL_MEAN:
        case TP_POOL_MEAN_SQRT_LEN:
        default: {
            double den = cnt > 0 ? (double)cnt : 1e-9;
            if (modes[mi] == TP_POOL_MEAN_SQRT_LEN) den = sqrt(den);
            for (int j = 0; j < dim; j++) {
                double s = 0;
                for (int t = first; t < len; t++)
                    s += h[(size_t)t * dim + j];
                o[j] = (float)(s / den);
            }
            break;
        }
        }
    }
}

void tp_l2_normalize(float *x, int n) {
    double ss = 0;
    for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
    double nrm = sqrt(ss);
    if (nrm < 1e-12) nrm = 1e-12; /* torch.nn.functional.normalize eps */
    float inv = (float)(1.0 / nrm);
    for (int i = 0; i < n; i++) x[i] *= inv;
}

void tp_apply_act(tp_act act, float *x, int n) {
    switch (act) {
    case TP_ACT_IDENTITY: break;
    case TP_ACT_TANH: tp_tanh_inplace(x, (size_t)n); break;
    case TP_ACT_RELU: tp_relu(x, (size_t)n); break;
    case TP_ACT_GELU: tp_gelu_erf(x, (size_t)n); break;
    case TP_ACT_GELU_TANH: tp_gelu_tanh(x, (size_t)n); break;
    case TP_ACT_SILU: tp_silu(x, (size_t)n); break;
    case TP_ACT_SIGMOID:
        for (int i = 0; i < n; i++) x[i] = 1.0f / (1.0f + expf(-x[i]));
        break;
    case TP_ACT_SOFTMAX: tp_softmax_row(x, n); break;
    }
}

tp_status tp_st_head_load(tp_st_head *hd, const tp_modeldir *md, int in_dim, tp_error *err) {
    memset(hd, 0, sizeof *hd);
    hd->in_dim = hd->out_dim = in_dim;
    for (int i = 0; i < md->n_dense; i++) {
        const tp_dense_module *d = &md->dense[i];
        if (d->in_features != hd->out_dim) {
            tp_st_head_free(hd);
            return tp_fail(err, TP_FORMAT, "%s/config.json: in_features %d, but the previous "
                           "module outputs %d", d->path, d->in_features, hd->out_dim);
        }
        tp_status s = tp_weights_open_dir(d->path, &hd->w[i], err);
        if (s != TP_OK) {
            tp_st_head_free(hd);
            return s;
        }
        hd->n_dense = i + 1;
        tp_linear *l = &hd->lin[i];
        l->n = d->out_features;
        l->k = d->in_features;
        int64_t ws[2] = {l->n, l->k}, bs[1] = {l->n};
        s = tp_weights_f32(hd->w[i], "linear.weight", 2, ws, &l->w, err);
        if (s == TP_OK && d->bias) s = tp_weights_f32(hd->w[i], "linear.bias", 1, bs, &l->b, err);
        if (s == TP_OK) s = tp_linear_prepare(l, TP_LIN_F32, err);
        if (s != TP_OK) {
            tp_st_head_free(hd);
            return s;
        }
        hd->act[i] = d->act;
        hd->out_dim = d->out_features;
    }
    return TP_OK;
}

void tp_st_head_free(tp_st_head *hd) {
    for (int i = 0; i < hd->n_dense; i++) {
        tp_linear_release(&hd->lin[i]);
        tp_weights_free(hd->w[i]);
    }
    hd->n_dense = 0;
}

void tp_st_head_apply(const tp_st_head *hd, const float *x, float *out, float *tmp) {
    const float *cur = x;
    int dim = hd->in_dim;
    for (int i = 0; i < hd->n_dense; i++) {
        float *dst = (i % 2 == 0) ? tmp : out;
        tp_linear_fwd(NULL, &hd->lin[i], cur, 1, dst);
        tp_apply_act(hd->act[i], dst, hd->lin[i].n);
        cur = dst;
        dim = hd->lin[i].n;
    }
    if (cur != out) memmove(out, cur, (size_t)dim * sizeof *out);
}
