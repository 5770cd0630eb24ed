/* BERT-family encoders: BERT, RoBERTa, XLM-RoBERTa, DistilBERT (post-LN, learned absolute
 * positions, token types except DistilBERT), with the sequence-classification heads of
 * BertForSequenceClassification, (XLM)RobertaForSequenceClassification and
 * DistilBertForSequenceClassification. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "models/model.h"

typedef struct {
    tp_linear qkv; /* fused [3h][h]: query | key | value */
    float *qkv_w, *qkv_b; /* owned storage behind qkv */
    tp_linear attn_out, inter, out;
    const float *ln1_g, *ln1_b, *ln2_g, *ln2_b;
} bert_layer;

typedef struct {
    tp_model base;
    int inter_size, type_vocab;
    int pos_offset; /* RoBERTa: positions start at padding_idx + 1 */
    int roberta;
    int distil; /* DistilBERT: no token types, its own tensor names */
    float eps;
    int act; /* 0 gelu(erf), 1 gelu(tanh), 2 relu */
    const float *word, *pos, *type, *emb_g, *emb_b; /* type: NULL for DistilBERT */
    float *sin_pos; /* owned: sinusoidal positions when the checkpoint has none */
    bert_layer *layers;
    /* heads */
    int head_kind; /* 0 none, 1 bert pooler+classifier, 2 roberta dense+out_proj,
                    * 3 distilbert pre_classifier+ReLU+classifier */
    tp_linear pooler, classifier;
} bert_model;

static void bert_free(tp_model *mb) {
    bert_model *m = (bert_model *)mb;
    if (m->layers) {
        for (int i = 0; i < m->base.n_layers; i++) {
            bert_layer *L = &m->layers[i];
            free(L->qkv_w);
            free(L->qkv_b);
            tp_linear_release(&L->qkv);
            tp_linear_release(&L->attn_out);
            tp_linear_release(&L->inter);
            tp_linear_release(&L->out);
        }
        free(m->layers);
    }
    tp_linear_release(&m->pooler);
    tp_linear_release(&m->classifier);
    free(m->sin_pos);
    tp_weights_free(m->base.w);
    free(m);
}

/* scratch: qkv [n][3h], ctx [n][h], tmp [n][h], ffn [n][f], attention */
static size_t bert_scratch(const tp_model *mb, int n_tok, int max_len, int n_threads) {
    const bert_model *m = (const bert_model *)mb;
    size_t h = (size_t)m->base.hidden_size, n = (size_t)n_tok;
    return n * 3 * h + n * h * 2 + n * (size_t)m->inter_size + tp_attention_scratch(max_len, n_threads);
}

static tp_status bert_forward(tp_model *mb, tp_pool *pool, const tp_batch *b, float *x,
                              float *scratch, tp_error *err) {
    bert_model *m = (bert_model *)mb;
    int h = m->base.hidden_size, n = b->n_tok;
    float *qkv = scratch, *ctx = qkv + (size_t)n * 3 * h, *tmp = ctx + (size_t)n * h,
          *ffn = tmp + (size_t)n * h, *att = ffn + (size_t)n * m->inter_size;
    /* embeddings */
    for (int s = 0; s < b->n_seq; s++) {
        int nonpad = 0;
        for (int t = b->off[s]; t < b->off[s + 1]; t++) {
            int id = b->ids[t], tt = b->type_ids ? b->type_ids[t] : 0;
            int p = t - b->off[s];
            if (m->roberta) {
                if (id == m->base.pad_token_id) p = m->base.pad_token_id;
                else p = m->base.pad_token_id + (++nonpad);
            }
            if (id < 0 || id >= m->base.vocab_size)
                return tp_fail(err, TP_INVALID, "token id %d out of range [0, %d)", id,
                               m->base.vocab_size);
            if (tt < 0 || tt >= m->type_vocab) tt = 0 > tt ? 0 : m->type_vocab - 1;
            if (p >= m->base.max_positions + m->pos_offset)
                return tp_fail(err, TP_TOO_LONG, "sequence longer than %d positions",
                               m->base.max_positions);
            float *xr = x + (size_t)t * h;
            const float *we = m->word + (size_t)id * h, *pe = m->pos + (size_t)p * h;
            if (m->type) {
                const float *te = m->type + (size_t)tt * h;
                for (int j = 0; j < h; j++) xr[j] = we[j] + pe[j] + te[j];
            } else {
                for (int j = 0; j < h; j++) xr[j] = we[j] + pe[j];
            }
        }
    }
    int hd = h / m->base.n_heads;
    tp_epi_act ffn_act = m->act == 0   ? TP_EPI_GELU_ERF
                         : m->act == 1 ? TP_EPI_GELU_TANH
                                       : TP_EPI_RELU;
    /* The LayerNorms also write their output packed for the next QKV / FFN-up GEMM when it takes
     * a packed input (f32 on AVX-512), which saves that GEMM its packing pass. The packed copy
     * lives in a buffer that is dead at that point: FFN-up's in qkv (read by the attention
     * only), QKV's in ffn (written by FFN-up, read by FFN-down only). */
    size_t packed = tp_linear_packed_floats(n, h);
    float *pk_qkv = packed <= (size_t)n * m->inter_size ? ffn : NULL;
    float *pk_up = packed <= (size_t)n * 3 * h ? qkv : NULL;
    float *xp_qkv =
        m->base.n_layers > 0 && tp_linear_takes_packed(&m->layers[0].qkv) ? pk_qkv : NULL;
    tp_add_layernorm_pack(pool, x, NULL, m->emb_g, m->emb_b, n, h, m->eps, xp_qkv);
    for (int l = 0; l < m->base.n_layers; l++) {
        bert_layer *L = &m->layers[l];
        float *xp_up = tp_linear_takes_packed(&L->inter) ? pk_up : NULL;
        float *xp_next = l + 1 < m->base.n_layers && tp_linear_takes_packed(&m->layers[l + 1].qkv)
                             ? pk_qkv
                             : NULL;
        tp_linear_fwd_xp(pool, &L->qkv, x, xp_qkv, n, qkv, TP_EPI_NONE, NULL);
        tp_attn_args a = tp_attn_fused_qkv(qkv, m->base.n_heads, hd, ctx, b->off, b->n_seq);
        tp_attention(pool, &a, att);
        tp_linear_fwd(pool, &L->attn_out, ctx, n, tmp);
        tp_add_layernorm_pack(pool, x, tmp, L->ln1_g, L->ln1_b, n, h, m->eps, xp_up);
        /* bias + activation fused into the GEMM epilogue (same vector / reference functions) */
        tp_linear_fwd_xp(pool, &L->inter, x, xp_up, n, ffn, ffn_act, NULL);
        tp_linear_fwd(pool, &L->out, ffn, n, tmp);
        tp_add_layernorm_pack(pool, x, tmp, L->ln2_g, L->ln2_b, n, h, m->eps, xp_next);
        xp_qkv = xp_next;
    }
    return TP_OK;
}

static tp_status bert_head(tp_model *mb, tp_pool *pool, const float *in, int rows, float *out,
                           tp_error *err) {
    bert_model *m = (bert_model *)mb;
    int h = m->base.hidden_size;
    float *tmp = malloc((size_t)rows * h * sizeof *tmp);
    if (!tmp) return tp_fail(err, TP_NOMEM, "out of memory");
    tp_linear_fwd(pool, &m->pooler, in, rows, tmp);
    if (m->head_kind == 3) tp_relu(tmp, (size_t)rows * h);
    else tp_tanh_inplace(tmp, (size_t)rows * h);
    tp_linear_fwd(pool, &m->classifier, tmp, rows, out);
    free(tmp);
    return TP_OK;
}

static const tp_model_ops bert_ops = {bert_free, bert_scratch, bert_forward, bert_head};
static const tp_model_ops bert_ops_nohead = {bert_free, bert_scratch, bert_forward, NULL};

static int num_labels_of(const tp_modeldir *md) {
    json_t *id2 = json_object_get(md->config, "id2label");
    int n = tp_cfg_int(md, "num_labels", 0);
    if (n <= 0 && json_is_object(id2)) n = (int)json_object_size(id2);
    return n > 0 ? n : 2;
}

/* Tensor names of a family, after the weight prefix. Layer names are formats taking the layer
 * index; linears and norms get ".weight" / ".bias" appended. */
typedef struct {
    const char *type; /* token-type embeddings, NULL when the family has none */
    const char *q, *k, *v, *attn_out, *ln1, *inter, *out, *ln2;
} bert_names;

/* clang-format off */
static const bert_names bert_tensor_names = {
    "embeddings.token_type_embeddings.weight",
    "encoder.layer.%d.attention.self.query",
    "encoder.layer.%d.attention.self.key",
    "encoder.layer.%d.attention.self.value",
    "encoder.layer.%d.attention.output.dense",
    "encoder.layer.%d.attention.output.LayerNorm",
    "encoder.layer.%d.intermediate.dense",
    "encoder.layer.%d.output.dense",
    "encoder.layer.%d.output.LayerNorm",
};

static const bert_names distil_tensor_names = {
    NULL,
    "transformer.layer.%d.attention.q_lin",
    "transformer.layer.%d.attention.k_lin",
    "transformer.layer.%d.attention.v_lin",
    "transformer.layer.%d.attention.out_lin",
    "transformer.layer.%d.sa_layer_norm",
    "transformer.layer.%d.ffn.lin1",
    "transformer.layer.%d.ffn.lin2",
    "transformer.layer.%d.output_layer_norm",
};
/* clang-format on */

/* name of layer l: fmt formatted with l */
static const char *lname(char *buf, size_t n, const char *fmt, int l) {
    snprintf(buf, n, fmt, l);
    return buf;
}

/* DistilBERT with sinusoidal_pos_embds and no stored table: HF's create_sinusoidal_embeddings,
 * sin on even columns, cos on odd, angle pos / 10000^(2*(j/2)/dim). */
static float *sinusoidal_table(int n_pos, int dim) {
    float *t = malloc((size_t)n_pos * (size_t)dim * sizeof *t);
    if (!t) return NULL;
    for (int p = 0; p < n_pos; p++)
        for (int j = 0; j < dim; j++) {
            double a = p / pow(10000.0, 2.0 * (j / 2) / dim);
            t[(size_t)p * dim + j] = (float)(j % 2 ? cos(a) : sin(a));
        }
    return t;
}

tp_status tp_bert_load(const tp_modeldir *md, tp_weights *w, const tp_model_load_opts *o,
                       tp_model **out, tp_error *err) {
    *out = NULL;
    bert_model *m = calloc(1, sizeof *m);
    if (!m) return tp_fail(err, TP_NOMEM, "out of memory");
    tp_model *B = &m->base;
    B->ops = &bert_ops;
    m->distil = !strcmp(md->model_type, "distilbert") || strstr(md->architecture, "DistilBert");
    const bert_names *nm = m->distil ? &distil_tensor_names : &bert_tensor_names;
    /* DistilBertConfig names its sizes differently and hard-codes the LayerNorm eps */
    int h = B->hidden_size = tp_cfg_int(md, m->distil ? "dim" : "hidden_size", 0);
    B->n_layers = tp_cfg_int(md, m->distil ? "n_layers" : "num_hidden_layers", 0);
    B->n_heads = tp_cfg_int(md, m->distil ? "n_heads" : "num_attention_heads", 0);
    B->vocab_size = tp_cfg_int(md, "vocab_size", 0);
    m->inter_size = tp_cfg_int(md, m->distil ? "hidden_dim" : "intermediate_size", 0);
    m->type_vocab = m->distil ? 1 : tp_cfg_int(md, "type_vocab_size", 2);
    m->eps = m->distil ? 1e-12f : (float)tp_cfg_num(md, "layer_norm_eps", 1e-12);
    B->pad_token_id = tp_cfg_int(md, "pad_token_id", 0);
    int max_pos = tp_cfg_int(md, "max_position_embeddings", 512);
    m->roberta = !strcmp(md->model_type, "roberta") || !strcmp(md->model_type, "xlm-roberta") ||
                 strstr(md->architecture, "Roberta") != NULL;
    m->pos_offset = m->roberta ? B->pad_token_id + 1 : 0;
    B->max_positions = max_pos - m->pos_offset;
    const char *act = tp_cfg_str(md, m->distil ? "activation" : "hidden_act", "gelu");
    tp_status s = TP_OK;
    char nb[512];
    if (!strcmp(act, "gelu"))
        m->act = 0;
    else if (!strcmp(act, "gelu_new") || !strcmp(act, "gelu_pytorch_tanh"))
        m->act = 1;
    else if (!strcmp(act, "relu"))
        m->act = 2;
    else {
        s = tp_fail(err, TP_UNSUPPORTED, "%s/config.json: unsupported hidden_act '%s'", md->dir,
                    act);
        goto fail;
    }
    if (h <= 0 || B->n_layers <= 0 || B->n_heads <= 0 || h % B->n_heads || B->vocab_size <= 0 ||
        m->inter_size <= 0 || m->type_vocab <= 0 || B->max_positions <= 0 || h > 65536 ||
        B->n_layers > 1024 || m->inter_size > 1 << 20 || max_pos > 1 << 20) {
        s = tp_fail(
            err, TP_FORMAT,
            "%s/config.json: bad dimensions (hidden_size %d, layers %d, heads %d, vocab %d, "
            "intermediate %d)",
            md->dir, h, B->n_layers, B->n_heads, B->vocab_size, m->inter_size);
        goto fail;
    }
    static const char *const prefixes[] = {"bert.", "roberta.", "distilbert.", "model.", NULL};
    if ((s = tp_model_use_prefix(md, w, prefixes, "embeddings.word_embeddings.weight", err))) goto fail;
    if (m->distil && tp_cfg_bool(md, "sinusoidal_pos_embds", 0) &&
        !tp_weights_find(w, "embeddings.position_embeddings.weight")) {
        if (!(m->sin_pos = sinusoidal_table(max_pos, h))) {
            s = tp_fail(err, TP_NOMEM, "out of memory");
            goto fail;
        }
        m->pos = m->sin_pos;
    }
    if ((s = tp_model_tensor(w, &m->word, err, 2, B->vocab_size, h,
                             "embeddings.word_embeddings.weight")) ||
        (!m->pos && (s = tp_model_tensor(w, &m->pos, err, 2, max_pos, h,
                                         "embeddings.position_embeddings.weight"))) ||
        (nm->type &&
         (s = tp_model_tensor(w, &m->type, err, 2, m->type_vocab, h, "%s", nm->type))) ||
        (s = tp_model_tensor(w, &m->emb_g, err, 1, h, 0, "embeddings.LayerNorm.weight")) ||
        (s = tp_model_tensor(w, &m->emb_b, err, 1, h, 0, "embeddings.LayerNorm.bias")))
        goto fail;
    m->layers = calloc((size_t)B->n_layers, sizeof *m->layers);
    if (!m->layers) {
        s = tp_fail(err, TP_NOMEM, "out of memory");
        goto fail;
    }
    for (int l = 0; l < B->n_layers; l++) {
        bert_layer *L = &m->layers[l];
        const float *qw, *kw, *vw, *qb, *kb, *vb;
        if ((s = tp_model_tensor(w, &qw, err, 2, h, h, "%s.weight",
                                 lname(nb, sizeof nb, nm->q, l))) ||
            (s = tp_model_tensor(w, &kw, err, 2, h, h, "%s.weight",
                                 lname(nb, sizeof nb, nm->k, l))) ||
            (s = tp_model_tensor(w, &vw, err, 2, h, h, "%s.weight",
                                 lname(nb, sizeof nb, nm->v, l))) ||
            (s = tp_model_tensor(w, &qb, err, 1, h, 0, "%s.bias",
                                 lname(nb, sizeof nb, nm->q, l))) ||
            (s = tp_model_tensor(w, &kb, err, 1, h, 0, "%s.bias",
                                 lname(nb, sizeof nb, nm->k, l))) ||
            (s = tp_model_tensor(w, &vb, err, 1, h, 0, "%s.bias", lname(nb, sizeof nb, nm->v, l))))
            goto fail;
        size_t hh = (size_t)h * h;
        L->qkv_w = malloc(3 * hh * sizeof(float));
        L->qkv_b = malloc(3 * (size_t)h * sizeof(float));
        if (!L->qkv_w || !L->qkv_b) {
            s = tp_fail(err, TP_NOMEM, "out of memory");
            goto fail;
        }
        memcpy(L->qkv_w, qw, hh * 4);
        memcpy(L->qkv_w + hh, kw, hh * 4);
        memcpy(L->qkv_w + 2 * hh, vw, hh * 4);
        memcpy(L->qkv_b, qb, (size_t)h * 4);
        memcpy(L->qkv_b + h, kb, (size_t)h * 4);
        memcpy(L->qkv_b + 2 * h, vb, (size_t)h * 4);
        L->qkv = (tp_linear){.w = L->qkv_w, .b = L->qkv_b, .n = 3 * h, .k = h};
        if ((s = tp_linear_prepare(&L->qkv, tp_lin_kind_for(o, l, B->n_layers, TP_LIN_ROLE_QKV),
                                   err)))
            goto fail;
        tp_weights_add_packed(w, tp_linear_bytes(&L->qkv));
        /* the packed copy is all the forward pass reads: drop the fused and mapped sources */
        free(L->qkv_w);
        free(L->qkv_b);
        L->qkv_w = L->qkv_b = NULL;
        L->qkv.w = L->qkv.b = NULL;
        const float *qkv_src[] = {qw, kw, vw, qb, kb, vb};
        for (size_t q = 0; q < sizeof qkv_src / sizeof qkv_src[0]; q++)
            tp_weights_release(w, qkv_src[q]);
        if ((s = tp_model_linear(w, &L->attn_out, h, h, 1,
                                 tp_lin_kind_for(o, l, B->n_layers, TP_LIN_ROLE_ATTN_OUT), err,
                                 "%s", lname(nb, sizeof nb, nm->attn_out, l))) ||
            (s = tp_model_linear(w, &L->inter, m->inter_size, h, 1,
                                 tp_lin_kind_for(o, l, B->n_layers, TP_LIN_ROLE_FFN_UP), err, "%s",
                                 lname(nb, sizeof nb, nm->inter, l))) ||
            (s = tp_model_linear(w, &L->out, h, m->inter_size, 1,
                                 tp_lin_kind_for(o, l, B->n_layers, TP_LIN_ROLE_FFN_DOWN), err,
                                 "%s", lname(nb, sizeof nb, nm->out, l))) ||
            (s = tp_model_tensor(w, &L->ln1_g, err, 1, h, 0, "%s.weight",
                                 lname(nb, sizeof nb, nm->ln1, l))) ||
            (s = tp_model_tensor(w, &L->ln1_b, err, 1, h, 0, "%s.bias",
                                 lname(nb, sizeof nb, nm->ln1, l))) ||
            (s = tp_model_tensor(w, &L->ln2_g, err, 1, h, 0, "%s.weight",
                                 lname(nb, sizeof nb, nm->ln2, l))) ||
            (s = tp_model_tensor(w, &L->ln2_b, err, 1, h, 0, "%s.bias",
                                 lname(nb, sizeof nb, nm->ln2, l))))
            goto fail;
    }
    if (strstr(md->architecture, "ForSequenceClassification")) {
        B->num_labels = num_labels_of(md);
        B->head_input = TP_HEAD_CLS;
        tp_lin_kind head = tp_lin_kind_for(o, -1, B->n_layers, TP_LIN_ROLE_HEAD);
        if (m->distil) {
            m->head_kind = 3;
            if ((s = tp_model_linear(w, &m->pooler, h, h, 1, head, err, "pre_classifier")) ||
                (s = tp_model_linear(w, &m->classifier, B->num_labels, h, 1, head, err,
                                     "classifier")))
                goto fail;
        } else if (m->roberta) {
            m->head_kind = 2;
            if ((s = tp_model_linear(w, &m->pooler, h, h, 1, head, err, "classifier.dense")) ||
                (s = tp_model_linear(w, &m->classifier, B->num_labels, h, 1, head, err,
                                     "classifier.out_proj")))
                goto fail;
        } else {
            m->head_kind = 1;
            if ((s = tp_model_linear(w, &m->pooler, h, h, 1, head, err, "pooler.dense")) ||
                (s = tp_model_linear(w, &m->classifier, B->num_labels, h, 1, head, err,
                                     "classifier")))
                goto fail;
        }
    } else {
        B->ops = &bert_ops_nohead;
    }
    B->w = w;
    *out = B;
    return TP_OK;
fail:
    B->w = NULL; /* the caller keeps ownership of w on failure */
    bert_free(B);
    return s;
}
