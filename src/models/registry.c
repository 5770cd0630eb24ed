/* Architecture registry: config.json `architectures[0]` (else `model_type`) -> loader. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "models/model.h"

tp_status tp_bert_load(const tp_modeldir *md, tp_weights *w, const tp_model_load_opts *o,
                       tp_model **out, tp_error *err);
tp_status tp_modernbert_load(const tp_modeldir *md, tp_weights *w, const tp_model_load_opts *o,
                             tp_model **out, tp_error *err);
tp_status tp_decoder_load(const tp_modeldir *md, tp_weights *w, const tp_model_load_opts *o,
                          tp_model **out, tp_error *err);

static const struct {
    const char *arch;       /* architectures[0] */
    const char *model_type; /* fallback when architectures is absent */
    tp_model_loader load;
} registry[] = {
    {"BertModel", "bert", tp_bert_load},
    {"BertForSequenceClassification", NULL, tp_bert_load},
    {"RobertaModel", "roberta", tp_bert_load},
    {"RobertaForSequenceClassification", NULL, tp_bert_load},
    {"XLMRobertaModel", "xlm-roberta", tp_bert_load},
    {"XLMRobertaForSequenceClassification", NULL, tp_bert_load},
    {"Qwen2Model", "qwen2", tp_decoder_load},
    {"Qwen2ForCausalLM", NULL, tp_decoder_load},
    {"Qwen2ForSequenceClassification", NULL, tp_decoder_load},
    {"Qwen2ForRewardModel", NULL, tp_decoder_load},
    {"Qwen2ForProcessRewardModel", NULL, tp_decoder_load},
    {"Qwen3Model", "qwen3", tp_decoder_load},
    {"Qwen3ForCausalLM", NULL, tp_decoder_load},
    {"Qwen3ForSequenceClassification", NULL, tp_decoder_load},
    {"LlamaModel", "llama", tp_decoder_load},
    {"LlamaForCausalLM", NULL, tp_decoder_load},
    {"LlamaForSequenceClassification", NULL, tp_decoder_load},
    {"MistralModel", "mistral", tp_decoder_load},
    {"MistralForCausalLM", NULL, tp_decoder_load},
    {"MistralForSequenceClassification", NULL, tp_decoder_load},
    {"DistilBertModel", "distilbert", tp_bert_load},
    {"DistilBertForSequenceClassification", NULL, tp_bert_load},
    {"ModernBertModel", "modernbert", tp_modernbert_load},
    {"ModernBertForSequenceClassification", NULL, tp_modernbert_load},
};

tp_status tp_model_load(const tp_modeldir *md, tp_weights *w, const tp_model_load_opts *o,
                        tp_model **out, tp_error *err) {
    *out = NULL;
    size_t n = sizeof registry / sizeof registry[0];
    for (size_t i = 0; i < n; i++)
        if (md->architecture[0] && !strcmp(md->architecture, registry[i].arch))
            return registry[i].load(md, w, o, out, err);
    if (!md->architecture[0])
        for (size_t i = 0; i < n; i++)
            if (registry[i].model_type && !strcmp(md->model_type, registry[i].model_type))
                return registry[i].load(md, w, o, out, err);
    char list[768] = "";
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "", registry[i].arch);
    }
    return tp_fail(err, TP_UNSUPPORTED,
                   "%s/config.json: unsupported architecture '%s' (model_type '%s'); supported: %s",
                   md->dir, md->architecture[0] ? md->architecture : "(none)", md->model_type,
                   list);
}

void tp_model_free(tp_model *m) {
    if (m) m->ops->free(m);
}

tp_status tp_model_tensor(tp_weights *w, const float **out, tp_error *err, int ndim, int64_t d0,
                          int64_t d1, const char *fmt, ...) {
    char name[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    int64_t shape[2] = {d0, d1};
    return tp_weights_f32(w, name, ndim, shape, out, err);
}

/* Mixed precision under --quantize int8 (docs/engine.md, "Reduced precision"): the classification
 * head (pooler / classifier / score row) stays f32, as int8 engines keep the output layer
 * (bitsandbytes skips lm_head, llama.cpp keeps output.weight at higher precision). Its output is
 * the score itself, so its quantization error goes straight into the ranking, with nothing after it
 * to average it out, and it runs on one row per sequence (per token only for reward-model heads,
 * one layer next to the body's dozens), so f32 costs nothing measurable. Every transformer layer
 * stays int8: keeping more of them in f32 did not lower the fixture rerankers' score errors
 * consistently, and f32 FFN-down (the outlier-heavy input) halves the int8 speed. bf16 applies
 * everywhere. */
tp_lin_kind tp_lin_kind_for(const tp_model_load_opts *o, int layer, int n_layers,
                            tp_lin_role role) {
    (void)layer;
    (void)n_layers;
    tp_lin_kind kind = o ? o->lin_kind : TP_LIN_F32;
    if (kind == TP_LIN_INT8 && role == TP_LIN_ROLE_HEAD) return TP_LIN_F32;
    return kind;
}

tp_status tp_model_linear(tp_weights *w, tp_linear *l, int n, int k, int bias, tp_lin_kind kind,
                          tp_error *err, const char *fmt, ...) {
    char base[480], name[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(base, sizeof base, fmt, ap);
    va_end(ap);
    memset(l, 0, sizeof *l);
    l->n = n;
    l->k = k;
    int64_t ws[2] = {n, k}, bs[1] = {n};
    snprintf(name, sizeof name, "%s.weight", base);
    tp_status s = tp_weights_f32(w, name, 2, ws, &l->w, err);
    if (s != TP_OK) return s;
    if (bias) {
        snprintf(name, sizeof name, "%s.bias", base);
        s = tp_weights_f32(w, name, 1, bs, &l->b, err);
        if (s != TP_OK) return s;
    }
    s = tp_linear_prepare(l, kind, err);
    if (s == TP_OK) { /* the packed copy is all the forward pass reads */
        tp_weights_add_packed(w, tp_linear_bytes(l));
        tp_weights_release(w, l->w);
        tp_weights_release(w, l->b);
    }
    return s;
}

tp_status tp_model_use_prefix(const tp_modeldir *md, tp_weights *w, const char *const *prefixes,
                              const char *probe, tp_error *err) {
    const char *pfx = tp_weights_detect_prefix(w, prefixes, probe);
    if (!pfx) {
        char list[128] = "";
        for (int i = 0; prefixes[i]; i++) {
            size_t l = strlen(list);
            snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "", prefixes[i]);
        }
        return tp_fail(err, TP_FORMAT, "%s: no %s tensor (with a prefix among: %s; or none)",
                       md->dir, probe, list);
    }
    tp_weights_set_prefix(w, pfx);
    return TP_OK;
}
