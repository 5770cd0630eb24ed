/* Decoder-only transformers used as pooling models: Qwen2, Qwen3, Llama, Mistral.
 *
 * One pre-norm body: RMSNorm, rotary embeddings (HF rotate_half layout), grouped-query causal
 * attention over the packed batch (positions restart at 0 for every sequence; one prefill pass,
 * no KV cache), SwiGLU MLP, final RMSNorm. Qwen2 adds q/k/v biases, Qwen3 an RMSNorm over each
 * q/k head before rope and a head_dim that may differ from hidden/heads. Weights load with or
 * without the "model." prefix, from *Model or *ForCausalLM checkpoints (lm_head is ignored unless
 * a head needs it).
 *
 * Heads (tp_model_ops.head, rows in -> logits out):
 *  - *ForSequenceClassification: `score` Linear(h, num_labels, no bias) on the last token;
 *  - Qwen2ForRewardModel: score.0 Linear(h,h) -> ReLU -> score.2 Linear(h,1) on every token;
 *  - Qwen2ForProcessRewardModel: the same with 2 labels; default pooling STEP + softmax (the
 *    step tag comes from --pooler-config step_tag_id, as in vLLM; without it every token is kept);
 *  - classifier_from_token (vLLM hf_overrides, e.g. Qwen3-Reranker): rows of lm_head picked by
 *    token string. method "from_2_way_softmax" (the default for two tokens) builds one row
 *    w[yes] - w[no], so sigmoid(row . h) = softmax([logit_no, logit_yes])[1];
 *    "no_post_processing" keeps one row per token. Read at the last position. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "models/model.h"

typedef struct {
    tp_linear q, k, v, o;
    tp_linear gate, up, down;
    const float *ln1, *ln2;       /* [h] input_layernorm, post_attention_layernorm */
    const float *q_norm, *k_norm; /* [head_dim] (Qwen3) or NULL */
    int window;                   /* sliding window in tokens, 0: full causal attention */
} dec_layer;

enum { HEAD_NONE = 0, HEAD_LINEAR, HEAD_MLP };

typedef struct {
    tp_model base;
    int n_kv_heads, head_dim, inter_size;
    float eps, rope_theta;
    const float *embed; /* [vocab][h] */
    const float *norm;  /* [h] */
    dec_layer *layers;
    int head_kind;
    tp_linear score0, score2; /* HEAD_LINEAR: score0 only; HEAD_MLP: score0 -> relu -> score2 */
    float *score_w;           /* owned rows behind score0 for classifier_from_token heads */
} dec_model;

static void dec_free(tp_model *mb) {
    dec_model *m = (dec_model *)mb;
    if (m->layers) {
        for (int i = 0; i < m->base.n_layers; i++) {
            dec_layer *L = &m->layers[i];
            tp_linear *lins[] = {&L->q, &L->k, &L->v, &L->o, &L->gate, &L->up, &L->down};
            for (size_t j = 0; j < sizeof lins / sizeof lins[0]; j++)
                tp_linear_release(lins[j]);
        }
        free(m->layers);
    }
    tp_linear_release(&m->score0);
    tp_linear_release(&m->score2);
    free(m->score_w);
    tp_weights_free(m->base.w);
    free(m);
}

/* scratch: q [n][nh*hd], k, v [n][nkv*hd], ctx [n][nh*hd], r, tmp [n][h], gate, up [n][f],
 * pos [n] (int32), attention */
static size_t dec_scratch(const tp_model *mb, int n_tok, int max_len, int n_threads) {
    const dec_model *m = (const dec_model *)mb;
    size_t n = (size_t)n_tok, qd = (size_t)m->base.n_heads * m->head_dim,
           kd = (size_t)m->n_kv_heads * m->head_dim, h = (size_t)m->base.hidden_size;
    return n * (2 * qd + 2 * kd + 2 * h + 2 * (size_t)m->inter_size + 1) +
           tp_attention_scratch(max_len, n_threads);
}

static void add_inplace(float *x, const float *r, size_t n) {
    for (size_t i = 0; i < n; i++)
        x[i] += r[i];
}

static tp_status dec_forward(tp_model *mb, tp_pool *pool, const tp_batch *b, float *x,
                             float *scratch, tp_error *err) {
    dec_model *m = (dec_model *)mb;
    int h = m->base.hidden_size, n = b->n_tok, hd = m->head_dim, nh = m->base.n_heads,
        nkv = m->n_kv_heads, f = m->inter_size;
    int qd = nh * hd, kd = nkv * hd;
    float *q = scratch, *k = q + (size_t)n * qd, *v = k + (size_t)n * kd, *ctx = v + (size_t)n * kd,
          *r = ctx + (size_t)n * qd, *tmp = r + (size_t)n * h, *gate = tmp + (size_t)n * h,
          *up = gate + (size_t)n * f;
    int32_t *pos = (int32_t *)(up + (size_t)n * f);
    float *att = (float *)(pos + n);
    for (int s = 0; s < b->n_seq; s++) {
        int len = b->off[s + 1] - b->off[s];
        /* rope has no table, but positions past the trained range are refused, not extrapolated */
        if (m->base.max_positions > 0 && len > m->base.max_positions)
            return tp_fail(err, TP_TOO_LONG,
                           "sequence of %d tokens is longer than the model's %d "
                           "positions",
                           len, m->base.max_positions);
        for (int t = b->off[s]; t < b->off[s + 1]; t++) {
            int id = b->ids[t];
            if (id < 0 || id >= m->base.vocab_size)
                return tp_fail(err, TP_INVALID, "token id %d out of range [0, %d)", id,
                               m->base.vocab_size);
            pos[t] = t - b->off[s];
            memcpy(x + (size_t)t * h, m->embed + (size_t)id * h, (size_t)h * sizeof *x);
        }
    }
    for (int l = 0; l < m->base.n_layers; l++) {
        dec_layer *L = &m->layers[l];
        tp_rmsnorm(r, x, L->ln1, n, h, m->eps);
        tp_linear_fwd(pool, &L->q, r, n, q);
        tp_linear_fwd(pool, &L->k, r, n, k);
        tp_linear_fwd(pool, &L->v, r, n, v);
        if (L->q_norm) {
            tp_rmsnorm(q, q, L->q_norm, n * nh, hd, m->eps);
            tp_rmsnorm(k, k, L->k_norm, n * nkv, hd, m->eps);
        }
        tp_rope(q, n, nh, hd, hd, pos, m->rope_theta, qd);
        tp_rope(k, n, nkv, hd, hd, pos, m->rope_theta, kd);
        tp_attn_args a = {
            .q = q,
            .k = k,
            .v = v,
            .q_stride = qd,
            .k_stride = kd,
            .v_stride = kd,
            .out = ctx,
            .out_stride = qd,
            .off = b->off,
            .n_seq = b->n_seq,
            .n_heads = nh,
            .n_kv_heads = nkv,
            .head_dim = hd,
            .scale = 1.0f / sqrtf((float)hd),
            .causal = 1,
            /* the kernel's window is symmetric (|i - j| <= window/2); with causal masking,
             * HF's "j > i - sliding_window" is a half-width of sliding_window - 1 */
            .window = L->window > 0 ? 2 * (L->window - 1) : 0,
        };
        tp_attention(pool, &a, att);
        tp_linear_fwd(pool, &L->o, ctx, n, tmp);
        add_inplace(x, tmp, (size_t)n * h);
        tp_rmsnorm(r, x, L->ln2, n, h, m->eps);
        tp_linear_fwd(pool, &L->gate, r, n, gate);
        tp_linear_fwd(pool, &L->up, r, n, up);
        tp_silu(gate, (size_t)n * f);
        for (size_t i = 0; i < (size_t)n * f; i++)
            gate[i] *= up[i];
        tp_linear_fwd(pool, &L->down, gate, n, tmp);
        add_inplace(x, tmp, (size_t)n * h);
    }
    tp_rmsnorm(x, x, m->norm, n, h, m->eps);
    return TP_OK;
}

static tp_status dec_head(tp_model *mb, tp_pool *pool, const float *in, int rows, float *out,
                          tp_error *err) {
    dec_model *m = (dec_model *)mb;
    if (m->head_kind == HEAD_LINEAR) {
        tp_linear_fwd(pool, &m->score0, in, rows, out);
        return TP_OK;
    }
    float *tmp = malloc((size_t)rows * m->score0.n * sizeof *tmp);
    if (!tmp) return tp_fail(err, TP_NOMEM, "out of memory");
    tp_linear_fwd(pool, &m->score0, in, rows, tmp);
    tp_relu(tmp, (size_t)rows * m->score0.n);
    tp_linear_fwd(pool, &m->score2, tmp, rows, out);
    free(tmp);
    return TP_OK;
}

static const tp_model_ops dec_ops = {dec_free, dec_scratch, dec_forward, dec_head};
static const tp_model_ops dec_ops_nohead = {dec_free, dec_scratch, dec_forward, NULL};

/* rope_theta from `rope_theta` (transformers 4) or `rope_parameters` (transformers 5); scaling
 * types other than the default change the frequencies and are refused. */
static tp_status read_rope(const tp_modeldir *md, float *theta, tp_error *err) {
    json_t *params = json_object_get(md->config, "rope_parameters");
    json_t *scaling = json_object_get(md->config, "rope_scaling");
    double th = tp_cfg_num(md, "rope_theta", 0);
    json_t *pt = json_object_get(params, "rope_theta");
    if (json_is_number(pt)) th = json_number_value(pt);
    json_t *objs[2] = {params, scaling};
    for (int i = 0; i < 2; i++) {
        if (json_is_null(objs[i]) || !objs[i]) continue;
        if (!json_is_object(objs[i]))
            return tp_fail(err, TP_FORMAT, "%s/config.json: %s must be an object", md->dir,
                           i ? "rope_scaling" : "rope_parameters");
        json_t *t = json_object_get(objs[i], "rope_type");
        if (!t) t = json_object_get(objs[i], "type");
        const char *type = json_is_string(t) ? json_string_value(t) : "default";
        if (strcmp(type, "default"))
            return tp_fail(err, TP_UNSUPPORTED,
                           "%s/config.json: rope scaling type '%s' is not supported (only "
                           "'default' rotary embeddings)",
                           md->dir, type);
    }
    if (th <= 0) th = 10000.0;
    *theta = (float)th;
    return TP_OK;
}

/* Sliding-window width of layer l (0: full attention), per the transformers config rules. */
static int layer_window(const tp_modeldir *md, int l) {
    int w = tp_cfg_int(md, "sliding_window", 0);
    if (w <= 0) return 0;
    json_t *types = json_object_get(md->config, "layer_types");
    if (json_is_array(types)) {
        const char *t = json_string_value(json_array_get(types, (size_t)l));
        return t && !strcmp(t, "sliding_attention") ? w : 0;
    }
    if (!strcmp(md->model_type, "mistral")) return w;
    if (!strcmp(md->model_type, "qwen2") || !strcmp(md->model_type, "qwen3"))
        return tp_cfg_bool(md, "use_sliding_window", 0) &&
                       l >= tp_cfg_int(md, "max_window_layers", 0)
                   ? w
                   : 0;
    return 0;
}

static int num_labels_of(const tp_modeldir *md, int def) {
    json_t *id2 = json_object_get(md->config, "id2label");
    int n = tp_cfg_int(md, "num_labels", 0);
    if (n <= 0 && json_is_object(id2)) n = (int)json_object_size(id2);
    return n > 0 ? n : def;
}

/* Row `row` of the [rows][h] tensor t as float32, read from the mapping: an untied lm_head
 * (vocab x hidden, GBs for large vocabularies) is not converted whole for a few rows. Returns 0
 * for dtypes it does not read (F16): the caller converts the tensor instead. */
static int tensor_row(const tp_tensor *t, int64_t row, int h, float *out) {
    size_t off = (size_t)row * (size_t)h;
    if (t->f32) {
        memcpy(out, t->f32 + off, (size_t)h * sizeof *out);
    } else if (t->dtype == TP_DT_F32) {
        memcpy(out, (const unsigned char *)t->raw + off * 4, (size_t)h * sizeof *out);
    } else if (t->dtype == TP_DT_BF16) {
        const unsigned char *p = (const unsigned char *)t->raw + off * 2;
        for (int j = 0; j < h; j++) {
            uint32_t bits = (uint32_t)(p[2 * j] | p[2 * j + 1] << 8) << 16;
            memcpy(out + j, &bits, sizeof bits);
        }
    } else {
        return 0;
    }
    return 1;
}

/* classifier_from_token: rows of the output embedding (lm_head, or embed_tokens when tied) picked
 * by token string, looked up in the model's tokenizer vocabulary as vLLM's convert_tokens_to_ids
 * does. */
static tp_status load_token_head(dec_model *m, const tp_modeldir *md, tp_weights *w, json_t *tokens,
                                 const tp_model_load_opts *o, tp_error *err) {
    tp_model *B = &m->base;
    int h = B->hidden_size;
    size_t nt = json_array_size(tokens);
    const char *method =
        tp_cfg_str(md, "method", nt == 2 ? "from_2_way_softmax" : "no_post_processing");
    int two_way = !strcmp(method, "from_2_way_softmax");
    if (!two_way && strcmp(method, "no_post_processing"))
        return tp_fail(err, TP_UNSUPPORTED,
                       "%s: classifier_from_token method '%s' is not supported "
                       "(from_2_way_softmax, no_post_processing)",
                       md->dir, method);
    if (nt == 0 || nt > 64 || (two_way && nt != 2))
        return tp_fail(err, TP_INVALID, "%s: classifier_from_token must list %s token strings",
                       md->dir, two_way ? "two (false, true)" : "1 to 64");
    const tp_tensor *lm = tp_weights_find(w, "lm_head.weight");
    if (!lm && !tp_cfg_bool(md, "tie_word_embeddings", 1))
        return tp_fail(err, TP_FORMAT,
                       "%s: classifier_from_token needs lm_head.weight (the embeddings are not "
                       "tied)",
                       md->dir);
    if (lm && (lm->ndim != 2 || lm->shape[0] != B->vocab_size || lm->shape[1] != h))
        return tp_fail(err, TP_FORMAT, "%s: lm_head.weight is not [%d, %d]", md->dir, B->vocab_size,
                       h);
    tp_tokenizer *tok = NULL;
    tp_status s = tp_tokenizer_load(md->tokenizer_path,
                                    md->tokenizer_config_path[0] ? md->tokenizer_config_path : NULL,
                                    &tok, err);
    if (s != TP_OK) return s;
    int ids[64];
    for (size_t i = 0; i < nt; i++) {
        const char *t = json_string_value(json_array_get(tokens, i));
        ids[i] = t ? tp_tokenizer_token_to_id(tok, t) : -1;
        if (ids[i] < 0 || ids[i] >= B->vocab_size) {
            s = tp_fail(err, TP_INVALID,
                        "%s: classifier_from_token: '%s' is not a token of the vocabulary", md->dir,
                        t ? t : "(not a string)");
            break;
        }
    }
    tp_tokenizer_free(tok);
    if (s != TP_OK) return s;
    float *rows = malloc(nt * (size_t)h * sizeof *rows);
    if (!rows) return tp_fail(err, TP_NOMEM, "out of memory");
    const float *whole = lm ? NULL : m->embed; /* tied: the embeddings are f32 already */
    for (size_t i = 0; i < nt && s == TP_OK; i++) {
        float *dst = rows + i * (size_t)h;
        if (!whole && tensor_row(lm, ids[i], h, dst)) continue;
        if (!whole) s = tp_model_tensor(w, &whole, err, 2, B->vocab_size, h, "lm_head.weight");
        if (s == TP_OK) memcpy(dst, whole + (size_t)ids[i] * h, (size_t)h * sizeof *dst);
    }
    if (s != TP_OK) {
        free(rows);
        return s;
    }
    if (two_way) /* sigmoid(h . (w_true - w_false)) = softmax([logit_false, logit_true])[1] */
        for (int j = 0; j < h; j++)
            rows[j] = rows[h + j] - rows[j];
    m->score_w = rows;
    m->score0 = (tp_linear){.w = rows, .n = two_way ? 1 : (int)nt, .k = h};
    B->num_labels = m->score0.n;
    B->head_input = TP_HEAD_LAST;
    m->head_kind = HEAD_LINEAR;
    return tp_linear_prepare(&m->score0, tp_lin_kind_for(o, -1, B->n_layers, TP_LIN_ROLE_HEAD),
                             err);
}

tp_status tp_decoder_load(const tp_modeldir *md, tp_weights *w, const tp_model_load_opts *o,
                          tp_model **out, tp_error *err) {
    *out = NULL;
    dec_model *m = calloc(1, sizeof *m);
    if (!m) return tp_fail(err, TP_NOMEM, "out of memory");
    tp_model *B = &m->base;
    B->ops = &dec_ops_nohead;
    B->is_decoder = 1;
    tp_status s = TP_OK;
    int h = B->hidden_size = tp_cfg_int(md, "hidden_size", 0);
    B->n_layers = tp_cfg_int(md, "num_hidden_layers", 0);
    B->n_heads = tp_cfg_int(md, "num_attention_heads", 0);
    B->vocab_size = tp_cfg_int(md, "vocab_size", 0);
    B->max_positions = tp_cfg_int(md, "max_position_embeddings", 0);
    B->pad_token_id = tp_cfg_int(md, "pad_token_id", -1);
    m->n_kv_heads = tp_cfg_int(md, "num_key_value_heads", B->n_heads);
    m->inter_size = tp_cfg_int(md, "intermediate_size", 0);
    m->head_dim = tp_cfg_int(md, "head_dim", 0); /* null or absent: hidden / heads */
    if (m->head_dim <= 0 && B->n_heads > 0) m->head_dim = h / B->n_heads;
    m->eps = (float)tp_cfg_num(md, "rms_norm_eps", 1e-6);
    if (B->max_positions < 0) B->max_positions = 0;
    const char *act = tp_cfg_str(md, "hidden_act", "silu");
    if (strcmp(act, "silu") && strcmp(act, "swish")) {
        s = tp_fail(err, TP_UNSUPPORTED, "%s/config.json: hidden_act '%s' is not supported (silu)",
                    md->dir, act);
        goto fail;
    }
    if (h <= 0 || B->n_layers <= 0 || B->n_heads <= 0 || m->n_kv_heads <= 0 ||
        B->n_heads % m->n_kv_heads || m->head_dim <= 0 || m->head_dim % 2 || m->head_dim > 4096 ||
        B->vocab_size <= 0 || m->inter_size <= 0 || h > 65536 || B->n_layers > 1024 ||
        B->n_heads > 1024 || m->inter_size > 1 << 20 || B->vocab_size > 1 << 24) {
        s = tp_fail(err, TP_FORMAT,
                    "%s/config.json: bad dimensions (hidden_size %d, layers %d, heads %d, kv heads "
                    "%d, head_dim %d, vocab %d, intermediate %d)",
                    md->dir, h, B->n_layers, B->n_heads, m->n_kv_heads, m->head_dim, B->vocab_size,
                    m->inter_size);
        goto fail;
    }
    if ((s = read_rope(md, &m->rope_theta, err)) != TP_OK) goto fail;
    int qwen2 = !strcmp(md->model_type, "qwen2") || !strncmp(md->architecture, "Qwen2", 5);
    int qwen3 = !strcmp(md->model_type, "qwen3") || !strncmp(md->architecture, "Qwen3", 5);
    int attn_bias = tp_cfg_bool(md, "attention_bias", 0);
    int qkv_bias = qwen2 || attn_bias, o_bias = !qwen2 && attn_bias;
    int mlp_bias = tp_cfg_bool(md, "mlp_bias", 0);

    static const char *const prefixes[] = {"model.", NULL};
    if ((s = tp_model_use_prefix(md, w, prefixes, "embed_tokens.weight", err))) goto fail;
    int qd = B->n_heads * m->head_dim, kd = m->n_kv_heads * m->head_dim, f = m->inter_size;
    if ((s = tp_model_tensor(w, &m->embed, err, 2, B->vocab_size, h, "embed_tokens.weight")) ||
        (s = tp_model_tensor(w, &m->norm, err, 1, h, 0, "norm.weight")))
        goto fail;
    m->layers = calloc((size_t)B->n_layers, sizeof *m->layers);
    if (!m->layers) {
        s = tp_fail(err, TP_NOMEM, "out of memory");
        goto fail;
    }
    for (int l = 0; l < B->n_layers; l++) {
        dec_layer *L = &m->layers[l];
        const char *p = "layers.%d.%s";
        if ((s = tp_model_linear(w, &L->q, qd, h, qkv_bias,
                                 tp_lin_kind_for(o, l, B->n_layers, TP_LIN_ROLE_QKV), err, p, l,
                                 "self_attn.q_proj")) ||
            (s = tp_model_linear(w, &L->k, kd, h, qkv_bias,
                                 tp_lin_kind_for(o, l, B->n_layers, TP_LIN_ROLE_QKV), err, p, l,
                                 "self_attn.k_proj")) ||
            (s = tp_model_linear(w, &L->v, kd, h, qkv_bias,
                                 tp_lin_kind_for(o, l, B->n_layers, TP_LIN_ROLE_QKV), err, p, l,
                                 "self_attn.v_proj")) ||
            (s = tp_model_linear(w, &L->o, h, qd, o_bias,
                                 tp_lin_kind_for(o, l, B->n_layers, TP_LIN_ROLE_ATTN_OUT), err, p,
                                 l, "self_attn.o_proj")) ||
            (s = tp_model_linear(w, &L->gate, f, h, mlp_bias,
                                 tp_lin_kind_for(o, l, B->n_layers, TP_LIN_ROLE_FFN_UP), err, p, l,
                                 "mlp.gate_proj")) ||
            (s = tp_model_linear(w, &L->up, f, h, mlp_bias,
                                 tp_lin_kind_for(o, l, B->n_layers, TP_LIN_ROLE_FFN_UP), err, p, l,
                                 "mlp.up_proj")) ||
            (s = tp_model_linear(w, &L->down, h, f, mlp_bias,
                                 tp_lin_kind_for(o, l, B->n_layers, TP_LIN_ROLE_FFN_DOWN), err, p,
                                 l, "mlp.down_proj")) ||
            (s = tp_model_tensor(w, &L->ln1, err, 1, h, 0, "layers.%d.input_layernorm.weight",
                                 l)) ||
            (s = tp_model_tensor(w, &L->ln2, err, 1, h, 0,
                                 "layers.%d.post_attention_layernorm.weight", l)))
            goto fail;
        if (qwen3 && ((s = tp_model_tensor(w, &L->q_norm, err, 1, m->head_dim, 0,
                                           "layers.%d.self_attn.q_norm.weight", l)) ||
                      (s = tp_model_tensor(w, &L->k_norm, err, 1, m->head_dim, 0,
                                           "layers.%d.self_attn.k_norm.weight", l))))
            goto fail;
        L->window = layer_window(md, l);
    }

    tp_lin_kind head = tp_lin_kind_for(o, -1, B->n_layers, TP_LIN_ROLE_HEAD);
    json_t *tokens = json_object_get(md->config, "classifier_from_token");
    const char *arch = md->architecture;
    if (json_is_array(tokens)) {
        if ((s = load_token_head(m, md, w, tokens, o, err)) != TP_OK) goto fail;
    } else if (json_is_true(json_object_get(md->config, "is_original_qwen3_reranker"))) {
        s = tp_fail(err, TP_INVALID,
                    "%s: is_original_qwen3_reranker needs classifier_from_token "
                    "(e.g. [\"no\", \"yes\"]) in --hf-overrides",
                    md->dir);
        goto fail;
    } else if (strstr(arch, "ForSequenceClassification")) {
        B->num_labels = num_labels_of(md, 2);
        B->head_input = TP_HEAD_LAST;
        m->head_kind = HEAD_LINEAR;
        if ((s = tp_model_linear(w, &m->score0, B->num_labels, h, 0, head, err, "score")))
            goto fail;
    } else if (!strcmp(arch, "Qwen2ForRewardModel") ||
               !strcmp(arch, "Qwen2ForProcessRewardModel")) {
        int prm = !strcmp(arch, "Qwen2ForProcessRewardModel");
        B->num_labels = num_labels_of(md, prm ? 2 : 1);
        B->head_input = TP_HEAD_TOKENS;
        B->default_pooling = prm ? TP_POOL_STEP : TP_POOL_ALL;
        B->token_softmax = prm;
        m->head_kind = HEAD_MLP;
        if ((s = tp_model_linear(w, &m->score0, h, h, 1, head, err, "score.0")) ||
            (s = tp_model_linear(w, &m->score2, B->num_labels, h, 1, head, err, "score.2")))
            goto fail;
    }
    if (m->head_kind != HEAD_NONE) B->ops = &dec_ops;
    B->w = w;
    *out = B;
    return TP_OK;
fail:
    B->w = NULL; /* the caller keeps ownership of w on failure */
    dec_free(B);
    return s;
}
