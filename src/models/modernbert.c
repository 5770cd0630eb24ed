/* ModernBERT (ModernBertModel, ModernBertForSequenceClassification): pre-norm encoder with
 * rotary positions, GeGLU MLP, optional biases, and alternating global / sliding-window local
 * attention layers, each kind with its own rotary theta. Semantics follow transformers'
 * modeling_modernbert.py:
 *  - embeddings: LayerNorm(tok_embeddings[id]) (no positions, no token types);
 *  - layer l: x += Wo(attn(attn_norm(x))), x += mlp(mlp_norm(x)); attn_norm is the identity for
 *    layer 0 (no tensor);
 *  - Wqkv rows are [q | k | v]; the MLP's Wi rows are [input | gate], out = Wo(act(input) * gate);
 *  - local layers see keys with |i - j| <= local_attention / 2;
 *  - final_norm on the last hidden state;
 *  - classifier head: pooled (cls or mean) -> head.dense -> act -> head.norm -> classifier. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "models/model.h"

typedef struct {
    tp_linear wqkv, wo, wi, wo_mlp;
    const float *attn_g, *attn_b; /* attn_g NULL: identity (layer 0) */
    const float *mlp_g, *mlp_b;   /* *_b NULL when norm_bias is false */
    int local;                    /* sliding-window layer */
} mb_layer;

typedef struct {
    tp_model base;
    int inter_size;
    float eps;
    int window; /* local_attention: total window, keys within window/2 either side */
    float theta_global, theta_local;
    int glu_act; /* tp_glu act: 0 silu, 1 gelu_erf, 2 gelu_tanh */
    const float *tok, *emb_g, *emb_b, *final_g, *final_b;
    mb_layer *layers;
    /* classification head */
    tp_linear head_dense, classifier;
    const float *head_g, *head_b;
    tp_act head_act;
} mb_model;

static void mb_free(tp_model *mb) {
    mb_model *m = (mb_model *)mb;
    if (m->layers) {
        for (int i = 0; i < m->base.n_layers; i++) {
            mb_layer *L = &m->layers[i];
            tp_linear_release(&L->wqkv);
            tp_linear_release(&L->wo);
            tp_linear_release(&L->wi);
            tp_linear_release(&L->wo_mlp);
        }
        free(m->layers);
    }
    tp_linear_release(&m->head_dense);
    tp_linear_release(&m->classifier);
    tp_weights_free(m->base.w);
    free(m);
}

/* scratch: normed x [n][h], qkv [n][3h], ctx [n][h], tmp [n][h], wi [n][2f], glu [n][f],
 * positions [n] (int32 in float-sized slots), attention */
static size_t mb_scratch(const tp_model *mb, int n_tok, int max_len, int n_threads) {
    const mb_model *m = (const mb_model *)mb;
    size_t h = (size_t)m->base.hidden_size, n = (size_t)n_tok, f = (size_t)m->inter_size;
    return n * h * 6 + n * f * 3 + n + tp_attention_scratch(max_len, n_threads);
}

static tp_status mb_forward(tp_model *mb, tp_pool *pool, const tp_batch *b, float *x,
                            float *scratch, tp_error *err) {
    mb_model *m = (mb_model *)mb;
    int h = m->base.hidden_size, n = b->n_tok, f = m->inter_size;
    int nh = m->base.n_heads, hd = h / nh;
    float *nx = scratch, *qkv = nx + (size_t)n * h, *ctx = qkv + (size_t)n * 3 * h,
          *tmp = ctx + (size_t)n * h, *wi = tmp + (size_t)n * h, *g = wi + (size_t)n * 2 * f;
    int32_t *pos = (int32_t *)(g + (size_t)n * f);
    float *att = (float *)(pos + n);
    for (int s = 0; s < b->n_seq; s++) {
        for (int t = b->off[s]; t < b->off[s + 1]; t++) {
            int id = b->ids[t];
            if (id < 0 || id >= m->base.vocab_size)
                return tp_fail(err, TP_INVALID, "token id %d out of range [0, %d)", id,
                               m->base.vocab_size);
            pos[t] = t - b->off[s];
            memcpy(x + (size_t)t * h, m->tok + (size_t)id * h, (size_t)h * sizeof *x);
        }
    }
    tp_layernorm(pool, x, m->emb_g, m->emb_b, n, h, m->eps);
    for (int l = 0; l < m->base.n_layers; l++) {
        mb_layer *L = &m->layers[l];
        const float *in = x;
        if (L->attn_g) {
            memcpy(nx, x, (size_t)n * h * sizeof *nx);
            tp_layernorm(pool, nx, L->attn_g, L->attn_b, n, h, m->eps);
            in = nx;
        }
        tp_linear_fwd(pool, &L->wqkv, in, n, qkv);
        float theta = L->local ? m->theta_local : m->theta_global;
        tp_rope(qkv, n, nh, hd, hd, pos, theta, 3 * h);
        tp_rope(qkv + h, n, nh, hd, hd, pos, theta, 3 * h);
        tp_attn_args a = tp_attn_fused_qkv(qkv, nh, hd, ctx, b->off, b->n_seq);
        a.window = L->local ? m->window : 0;
        tp_attention(pool, &a, att);
        tp_linear_fwd(pool, &L->wo, ctx, n, tmp);
        for (size_t i = 0; i < (size_t)n * h; i++)
            x[i] += tmp[i];
        memcpy(nx, x, (size_t)n * h * sizeof *nx);
        tp_layernorm(pool, nx, L->mlp_g, L->mlp_b, n, h, m->eps);
        tp_linear_fwd(pool, &L->wi, nx, n, wi);
        tp_glu(wi, g, n, f, m->glu_act);
        tp_linear_fwd(pool, &L->wo_mlp, g, n, tmp);
        for (size_t i = 0; i < (size_t)n * h; i++)
            x[i] += tmp[i];
    }
    tp_layernorm(pool, x, m->final_g, m->final_b, n, h, m->eps);
    return TP_OK;
}

static void act_inplace(tp_act a, float *x, size_t n) {
    switch (a) {
    case TP_ACT_GELU:
        tp_gelu_erf(x, n);
        break;
    case TP_ACT_GELU_TANH:
        tp_gelu_tanh(x, n);
        break;
    case TP_ACT_RELU:
        tp_relu(x, n);
        break;
    case TP_ACT_SILU:
        tp_silu(x, n);
        break;
    case TP_ACT_TANH:
        tp_tanh_inplace(x, n);
        break;
    default:
        break; /* identity; the loader rejects the rest */
    }
}

static tp_status mb_head(tp_model *mb, tp_pool *pool, const float *in, int rows, float *out,
                         tp_error *err) {
    mb_model *m = (mb_model *)mb;
    int h = m->base.hidden_size;
    float *tmp = malloc((size_t)rows * h * sizeof *tmp);
    if (!tmp) return tp_fail(err, TP_NOMEM, "out of memory");
    tp_linear_fwd(pool, &m->head_dense, in, rows, tmp);
    act_inplace(m->head_act, tmp, (size_t)rows * h);
    tp_layernorm(pool, tmp, m->head_g, m->head_b, rows, h, m->eps);
    tp_linear_fwd(pool, &m->classifier, tmp, rows, out);
    free(tmp);
    return TP_OK;
}

static const tp_model_ops mb_ops = {mb_free, mb_scratch, mb_forward, mb_head};
static const tp_model_ops mb_ops_nohead = {mb_free, mb_scratch, mb_forward, NULL};

/* rope_theta of one entry of rope_parameters ({"rope_type": "default", "rope_theta": x});
 * returns 0 when it has none, -1 for a rope_type other than default. */
static double rope_theta_of(json_t *p) {
    if (!json_is_object(p)) return 0;
    json_t *type = json_object_get(p, "rope_type");
    if (!type) type = json_object_get(p, "type");
    if (json_is_string(type) && strcmp(json_string_value(type), "default")) return -1;
    json_t *t = json_object_get(p, "rope_theta");
    return json_is_number(t) ? json_number_value(t) : 0;
}

/* Rotary thetas for global (full) and local (sliding) layers, from either config layout:
 * transformers 5 `rope_parameters` {"full_attention": {...}, "sliding_attention": {...}} or the
 * older `global_rope_theta` / `local_rope_theta` (local null: the global theta). */
static tp_status rope_thetas(const tp_modeldir *md, float *global, float *local, tp_error *err) {
    double g = tp_cfg_num(md, "global_rope_theta", 160000.0);
    json_t *lj = json_object_get(md->config, "local_rope_theta");
    double lo = json_is_number(lj) ? json_number_value(lj) : json_is_null(lj) ? g : 10000.0;
    json_t *rp = json_object_get(md->config, "rope_parameters");
    if (json_is_object(rp)) {
        json_t *full = json_object_get(rp, "full_attention"),
               *sliding = json_object_get(rp, "sliding_attention");
        double tg, tl;
        if (full || sliding) {
            tg = rope_theta_of(full);
            tl = rope_theta_of(sliding);
        } else { /* one flat entry for every layer */
            tg = tl = rope_theta_of(rp);
        }
        if (tg < 0 || tl < 0)
            return tp_fail(err, TP_UNSUPPORTED,
                           "%s/config.json: rope_parameters: only rope_type 'default' is "
                           "supported for ModernBERT",
                           md->dir);
        if (tg > 0) g = tg;
        if (tl > 0) lo = tl;
    }
    json_t *rs = json_object_get(md->config, "rope_scaling");
    if (json_is_object(rs) && rope_theta_of(rs) < 0)
        return tp_fail(err, TP_UNSUPPORTED,
                       "%s/config.json: rope_scaling is not supported for ModernBERT", md->dir);
    if (!(g > 0) || !(lo > 0) || !isfinite(g) || !isfinite(lo))
        return tp_fail(err, TP_FORMAT, "%s/config.json: bad rope theta", md->dir);
    *global = (float)g;
    *local = (float)lo;
    return TP_OK;
}

/* Which layers use sliding-window attention: `layer_types` when present, else every layer but
 * each global_attn_every_n_layers-th (layer l is global when l % n == 0). */
static tp_status layer_kinds(const tp_modeldir *md, mb_layer *layers, int n_layers, tp_error *err) {
    json_t *lt = json_object_get(md->config, "layer_types");
    if (json_is_array(lt)) {
        if ((int)json_array_size(lt) != n_layers)
            return tp_fail(err, TP_FORMAT,
                           "%s/config.json: layer_types has %zu entries for %d "
                           "layers",
                           md->dir, json_array_size(lt), n_layers);
        for (int l = 0; l < n_layers; l++) {
            const char *t = json_string_value(json_array_get(lt, (size_t)l));
            if (t && !strcmp(t, "full_attention"))
                layers[l].local = 0;
            else if (t && !strcmp(t, "sliding_attention"))
                layers[l].local = 1;
            else
                return tp_fail(err, TP_UNSUPPORTED,
                               "%s/config.json: layer_types[%d]: expected "
                               "full_attention or sliding_attention",
                               md->dir, l);
        }
        return TP_OK;
    }
    int every = tp_cfg_int(md, "global_attn_every_n_layers", 3);
    if (every <= 0)
        return tp_fail(err, TP_FORMAT, "%s/config.json: bad global_attn_every_n_layers %d", md->dir,
                       every);
    for (int l = 0; l < n_layers; l++)
        layers[l].local = l % every != 0;
    return TP_OK;
}

static int num_labels_of(const tp_modeldir *md) {
    json_t *id2 = json_object_get(md->config, "id2label");
    int n = tp_cfg_int(md, "num_labels", 0);
    if (n <= 0 && json_is_object(id2)) n = (int)json_object_size(id2);
    return n > 0 ? n : 2;
}

/* A LayerNorm: "<name>.weight" and, with bias, "<name>.bias". */
static tp_status norm_tensors(tp_weights *w, int h, int bias, const float **g, const float **b,
                              tp_error *err, const char *name) {
    tp_status s = tp_model_tensor(w, g, err, 1, h, 0, "%s.weight", name);
    *b = NULL;
    if (s == TP_OK && bias) s = tp_model_tensor(w, b, err, 1, h, 0, "%s.bias", name);
    return s;
}

tp_status tp_modernbert_load(const tp_modeldir *md, tp_weights *w, const tp_model_load_opts *o,
                             tp_model **out, tp_error *err) {
    *out = NULL;
    mb_model *m = calloc(1, sizeof *m);
    if (!m) return tp_fail(err, TP_NOMEM, "out of memory");
    tp_model *B = &m->base;
    B->ops = &mb_ops;
    int h = B->hidden_size = tp_cfg_int(md, "hidden_size", 0);
    B->n_layers = tp_cfg_int(md, "num_hidden_layers", 0);
    B->n_heads = tp_cfg_int(md, "num_attention_heads", 0);
    B->vocab_size = tp_cfg_int(md, "vocab_size", 0);
    B->pad_token_id = tp_cfg_int(md, "pad_token_id", 0);
    B->max_positions = tp_cfg_int(md, "max_position_embeddings", 8192);
    int f = m->inter_size = tp_cfg_int(md, "intermediate_size", 0);
    m->eps = (float)tp_cfg_num(md, "norm_eps", 1e-5);
    m->window = tp_cfg_int(md, "local_attention", 128);
    int attn_bias = tp_cfg_bool(md, "attention_bias", 0), mlp_bias = tp_cfg_bool(md, "mlp_bias", 0),
        norm_bias = tp_cfg_bool(md, "norm_bias", 0);
    tp_status s = TP_OK;
    char nb[256];
    const char *act = tp_cfg_str(md, "hidden_activation", "gelu");
    if (!strcmp(act, "gelu"))
        m->glu_act = 1;
    else if (!strcmp(act, "gelu_new") || !strcmp(act, "gelu_pytorch_tanh"))
        m->glu_act = 2;
    else if (!strcmp(act, "silu") || !strcmp(act, "swish"))
        m->glu_act = 0;
    else {
        s = tp_fail(err, TP_UNSUPPORTED, "%s/config.json: unsupported hidden_activation '%s'",
                    md->dir, act);
        goto fail;
    }
    if (h <= 0 || B->n_layers <= 0 || B->n_heads <= 0 || h % B->n_heads || (h / B->n_heads) % 2 ||
        B->vocab_size <= 0 || f <= 0 || B->max_positions <= 0 || m->window <= 0 || h > 65536 ||
        B->n_layers > 1024 || f > 1 << 20) {
        s = tp_fail(
            err, TP_FORMAT,
            "%s/config.json: bad dimensions (hidden_size %d, layers %d, heads %d, vocab %d, "
            "intermediate %d, local_attention %d)",
            md->dir, h, B->n_layers, B->n_heads, B->vocab_size, f, m->window);
        goto fail;
    }
    if ((s = rope_thetas(md, &m->theta_global, &m->theta_local, err))) goto fail;
    static const char *const prefixes[] = {"model.", NULL};
    if ((s = tp_model_use_prefix(md, w, prefixes, "embeddings.tok_embeddings.weight", err)))
        goto fail;
    if ((s = tp_model_tensor(w, &m->tok, err, 2, B->vocab_size, h,
                             "embeddings.tok_embeddings.weight")) ||
        (s = norm_tensors(w, h, norm_bias, &m->emb_g, &m->emb_b, err, "embeddings.norm")) ||
        (s = norm_tensors(w, h, norm_bias, &m->final_g, &m->final_b, err, "final_norm")))
        goto fail;
    m->layers = calloc((size_t)B->n_layers, sizeof *m->layers);
    if (!m->layers) {
        s = tp_fail(err, TP_NOMEM, "out of memory");
        goto fail;
    }
    if ((s = layer_kinds(md, m->layers, B->n_layers, err))) goto fail;
    for (int l = 0; l < B->n_layers; l++) {
        mb_layer *L = &m->layers[l];
        if (l > 0) {
            snprintf(nb, sizeof nb, "layers.%d.attn_norm", l);
            if ((s = norm_tensors(w, h, norm_bias, &L->attn_g, &L->attn_b, err, nb))) goto fail;
        }
        snprintf(nb, sizeof nb, "layers.%d.mlp_norm", l);
        if ((s = norm_tensors(w, h, norm_bias, &L->mlp_g, &L->mlp_b, err, nb)) ||
            (s = tp_model_linear(w, &L->wqkv, 3 * h, h, attn_bias,
                                 tp_lin_kind_for(o, l, B->n_layers, TP_LIN_ROLE_QKV), err,
                                 "layers.%d.attn.Wqkv", l)) ||
            (s = tp_model_linear(w, &L->wo, h, h, attn_bias,
                                 tp_lin_kind_for(o, l, B->n_layers, TP_LIN_ROLE_ATTN_OUT), err,
                                 "layers.%d.attn.Wo", l)) ||
            (s = tp_model_linear(w, &L->wi, 2 * f, h, mlp_bias,
                                 tp_lin_kind_for(o, l, B->n_layers, TP_LIN_ROLE_FFN_UP), err,
                                 "layers.%d.mlp.Wi", l)) ||
            (s = tp_model_linear(w, &L->wo_mlp, h, f, mlp_bias,
                                 tp_lin_kind_for(o, l, B->n_layers, TP_LIN_ROLE_FFN_DOWN), err,
                                 "layers.%d.mlp.Wo", l)))
            goto fail;
    }
    if (strstr(md->architecture, "ForSequenceClassification")) {
        B->num_labels = num_labels_of(md);
        const char *pool = tp_cfg_str(md, "classifier_pooling", "cls");
        if (!strcmp(pool, "cls"))
            B->head_input = TP_HEAD_CLS;
        else if (!strcmp(pool, "mean"))
            B->head_input = TP_HEAD_MEAN;
        else {
            s = tp_fail(err, TP_UNSUPPORTED,
                        "%s/config.json: classifier_pooling '%s' (expected "
                        "cls or mean)",
                        md->dir, pool);
            goto fail;
        }
        tp_lin_kind head = tp_lin_kind_for(o, -1, B->n_layers, TP_LIN_ROLE_HEAD);
        const char *ca = tp_cfg_str(md, "classifier_activation", "gelu");
        if (!tp_act_parse(ca, &m->head_act) || m->head_act == TP_ACT_SIGMOID ||
            m->head_act == TP_ACT_SOFTMAX) {
            s = tp_fail(err, TP_UNSUPPORTED,
                        "%s/config.json: unsupported classifier_activation "
                        "'%s'",
                        md->dir, ca);
            goto fail;
        }
        if ((s = tp_model_linear(w, &m->head_dense, h, h, tp_cfg_bool(md, "classifier_bias", 0),
                                 head, err, "head.dense")) ||
            (s = norm_tensors(w, h, norm_bias, &m->head_g, &m->head_b, err, "head.norm")) ||
            (s = tp_model_linear(w, &m->classifier, B->num_labels, h, 1, head, err, "classifier")))
            goto fail;
    } else {
        B->ops = &mb_ops_nohead;
    }
    B->w = w;
    *out = B;
    return TP_OK;
fail:
    B->w = NULL; /* the caller keeps ownership of w on failure */
    mb_free(B);
    return s;
}
