/* tp_engine: loads a model folder (config, weights, tokenizer, sentence-transformers modules),
 * resolves pooling and heads, and tokenizes for the model. The forward pass is in run.c. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/util.h"
#include "engine/engine_internal.h"

#define BATCH_PARALLEL_MAX_BYTES ((size_t)64 << 20)
#define PART_MIN_TOKENS 96 /* fewer tokens per part: the batch stays op-parallel */

void tp_engine_opts_default(tp_engine_opts *o) {
    memset(o, 0, sizeof *o);
}

void tp_tokenize_opts_default(tp_tokenize_opts *o) {
    memset(o, 0, sizeof *o);
    o->add_special = 1;
    o->truncate = 1;
}

void tp_run_opts_default(tp_run_opts *o) {
    o->normalize = -1;
    o->use_activation = -1;
    o->dimensions = 0;
}

void tp_result_free(tp_result *r) {
    if (!r) return;
    free(r->data);
    r->data = NULL;
    r->rows = r->cols = 0;
}

static tp_act activation_from_config(const tp_modeldir *md, tp_act def) {
    tp_act a = def;
    json_t *st = json_object_get(md->config, "sentence_transformers");
    json_t *fn = json_object_get(st, "activation_fn");
    if (!json_is_string(fn))
        fn = json_object_get(md->config, "sbert_ce_default_activation_function");
    if (json_is_string(fn) && !tp_act_parse(json_string_value(fn), &a)) a = def;
    return a;
}

static tp_status load_labels(tp_engine *e, tp_error *err) {
    int n = e->model->num_labels;
    if (n <= 0) return TP_OK;
    e->labels = calloc((size_t)n, sizeof *e->labels);
    if (!e->labels) return tp_fail(err, TP_NOMEM, "out of memory");
    json_t *id2 = json_object_get(e->md.config, "id2label");
    for (int i = 0; i < n; i++) {
        char key[16];
        snprintf(key, sizeof key, "%d", i);
        json_t *v = json_object_get(id2, key);
        char buf[32];
        snprintf(buf, sizeof buf, "LABEL_%d", i);
        e->labels[i] = strdup(json_is_string(v) ? json_string_value(v) : buf);
        if (!e->labels[i]) return tp_fail(err, TP_NOMEM, "out of memory");
    }
    return TP_OK;
}

tp_status tp_engine_parse_pooler_config(tp_engine *e, const char *text, tp_error *err) {
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!json_is_object(j)) {
        json_decref(j);
        return tp_fail(err, TP_INVALID, "--pooler-config: expected a JSON object (%s)",
                       j ? "wrong type" : je.text);
    }
    tp_status s = TP_OK;
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v) {
        if (!strcmp(key, "pooling_type")) {
            tp_pool_mode m = json_is_string(v) ? tp_pool_mode_parse(json_string_value(v)) : 0;
            if (m == TP_POOL_NONE) {
                s = tp_fail(err, TP_INVALID,
                            "--pooler-config: pooling_type must be one of CLS, MEAN, LAST, ALL, "
                            "STEP, MAX");
                break;
            }
            e->modes[0] = m;
            e->n_modes = 1;
        } else if (!strcmp(key, "normalize")) {
            if (!json_is_boolean(v)) {
                s = tp_fail(err, TP_INVALID, "--pooler-config: normalize must be a boolean");
                break;
            }
            e->normalize = json_is_true(v);
        } else if (!strcmp(key, "softmax") || !strcmp(key, "use_activation") ||
                   !strcmp(key, "activation")) {
            if (!json_is_boolean(v)) {
                s = tp_fail(err, TP_INVALID, "--pooler-config: %s must be a boolean", key);
                break;
            }
            int on = json_is_true(v);
            e->token_softmax = on;
            if (!on)
                e->cls_act = e->score_act = TP_ACT_IDENTITY;
            else if (e->model->num_labels == 1)
                e->cls_act = e->score_act = TP_ACT_SIGMOID;
            else
                e->cls_act = TP_ACT_SOFTMAX;
        } else if (!strcmp(key, "step_tag_id")) {
            if (!json_is_integer(v) && !json_is_null(v)) {
                s = tp_fail(err, TP_INVALID, "--pooler-config: step_tag_id must be an integer");
                break;
            }
            e->step_tag_id = json_is_integer(v) ? (int)json_integer_value(v) : -1;
        } else if (!strcmp(key, "returned_token_ids")) {
            size_t i;
            json_t *x;
            e->n_returned = 0;
            if (!json_is_array(v) && !json_is_null(v)) {
                s = tp_fail(err, TP_INVALID, "--pooler-config: returned_token_ids must be a list");
                break;
            }
            json_array_foreach(v, i, x) {
                if (!json_is_integer(x) || e->n_returned >= 16) {
                    s = tp_fail(err, TP_INVALID,
                                "--pooler-config: returned_token_ids: up to 16 integers");
                    break;
                }
                e->returned_token_ids[e->n_returned++] = (int)json_integer_value(x);
            }
            if (s != TP_OK) break;
        } /* other vLLM keys (enable_chunked_processing, max_embed_len, ...) are ignored */
    }
    json_decref(j);
    return s;
}

static void build_info(tp_engine *e) {
    tp_model_info *in = &e->info;
    tp_model *m = e->model;
    in->architecture = e->md.architecture;
    in->model_type = e->md.model_type;
    in->hidden_size = m->hidden_size;
    in->n_layers = m->n_layers;
    in->n_heads = m->n_heads;
    in->vocab_size = m->vocab_size;
    in->num_labels = m->ops->head ? m->num_labels : 0;
    in->labels = (const char *const *)e->labels;
    in->normalize = e->normalize;
    in->weight_dtype = tp_weights_dtype(m->w);
    in->out_dim = e->head.out_dim;
    e->pooling_name[0] = 0;
    for (int i = 0; i < e->n_modes; i++) {
        size_t l = strlen(e->pooling_name);
        snprintf(e->pooling_name + l, sizeof e->pooling_name - l, "%s%s", i ? "+" : "",
                 tp_pool_mode_name(e->modes[i]));
    }
    in->pooling = e->pooling_name;
    unsigned t = TP_TASK_TOKEN_EMBED;
    if (m->ops->head && m->num_labels > 0 && m->head_input == TP_HEAD_TOKENS) {
        t |= TP_TASK_TOKEN_CLASSIFY; /* per-token heads (reward, PRM): no sequence-level result */
    } else if (m->ops->head && m->num_labels > 0) {
        t |= TP_TASK_CLASSIFY | TP_TASK_TOKEN_CLASSIFY;
        if (m->num_labels == 1) t |= TP_TASK_SCORE;
    } else {
        t |= TP_TASK_EMBED | TP_TASK_SCORE; /* score = cosine of embeddings */
    }
    in->tasks = t;
    json_t *mat = json_object_get(e->md.config, "is_matryoshka");
    in->is_matryoshka = json_is_true(mat) || json_object_get(e->md.config, "matryoshka_dimensions");
}

tp_status tp_engine_load(const char *model_dir, const tp_engine_opts *opts, tp_engine **out,
                         tp_error *err) {
    *out = NULL;
    tp_engine_opts defaults;
    if (!opts) {
        tp_engine_opts_default(&defaults);
        opts = &defaults;
    }
    tp_engine *e = calloc(1, sizeof *e);
    if (!e) return tp_fail(err, TP_NOMEM, "out of memory");
    tp_weights *w = NULL;
    json_t *overrides = NULL;
    tp_status s = tp_modeldir_open(model_dir, &e->md, err);
    if (s != TP_OK) {
        free(e);
        return s;
    }
    if (opts->hf_overrides) {
        json_error_t je;
        overrides = json_loads(opts->hf_overrides, 0, &je);
        if (!json_is_object(overrides)) {
            s = tp_fail(err, TP_INVALID, "--hf-overrides: expected a JSON object (%s)",
                        overrides ? "wrong type" : je.text);
            goto fail;
        }
        /* vLLM semantics: the overrides are merged into the HF config */
        json_object_update(e->md.config, overrides);
        json_t *archs = json_object_get(e->md.config, "architectures");
        if (json_is_string(json_array_get(archs, 0)))
            e->md.architecture = json_string_value(json_array_get(archs, 0));
        e->md.model_type = tp_cfg_str(&e->md, "model_type", "");
    }
    tp_model_load_opts mo = {.engine = opts, .hf_overrides = overrides, .lin_kind = TP_LIN_F32};
    if (opts->quantize && opts->quantize[0]) {
        if (strcmp(opts->quantize, "int8")) {
            s = tp_fail(err, TP_INVALID, "--quantize: '%s' is not supported (int8)",
                        opts->quantize);
            goto fail;
        }
        mo.lin_kind = TP_LIN_INT8;
    }
    if (opts->dtype && opts->dtype[0] && strcmp(opts->dtype, "f32") &&
        strcmp(opts->dtype, "float32") && strcmp(opts->dtype, "auto")) {
        if (strcmp(opts->dtype, "bf16") && strcmp(opts->dtype, "bfloat16")) {
            s = tp_fail(err, TP_INVALID, "--dtype: '%s' is not supported (f32, bf16)", opts->dtype);
            goto fail;
        }
        mo.lin_kind = TP_LIN_BF16;
    }
    e->info.dtype = mo.lin_kind == TP_LIN_F32    ? "f32"
                    : mo.lin_kind == TP_LIN_BF16 ? "bf16"
                                                 : "int8";
    if ((s = tp_weights_open_dir(e->md.dir, &w, err)) != TP_OK) goto fail;
    if ((s = tp_model_load(&e->md, w, &mo, &e->model, err)) != TP_OK) goto fail;
    /* Batches are split across the threads by sequence (run.c) when the layer weights are small
     * enough to be served from cache to both cores; larger ones would come from memory once per
     * core, so their batches split each operation instead (measurements: docs/engine.md). */
    e->batch_parallel = tp_weights_packed_bytes(w) <= BATCH_PARALLEL_MAX_BYTES;
    e->part_min_tokens = PART_MIN_TOKENS;
    w = NULL; /* owned by the model now */
    if ((s = tp_tokenizer_load(e->md.tokenizer_path,
                               e->md.tokenizer_config_path[0] ? e->md.tokenizer_config_path : NULL,
                               &e->tok, err)) != TP_OK)
        goto fail;

    /* pooling defaults: sentence-transformers files, else vLLM's defaults */
    e->include_prompt = e->md.include_prompt;
    if (e->md.has_st && e->md.n_pool_modes > 0) {
        memcpy(e->modes, e->md.pool_modes, sizeof e->modes);
        e->n_modes = e->md.n_pool_modes;
        e->normalize = e->md.normalize;
    } else {
        e->modes[0] = e->model->default_pooling ? e->model->default_pooling
                      : e->model->is_decoder    ? TP_POOL_LAST
                                                : TP_POOL_CLS;
        e->n_modes = 1;
        e->normalize = !e->md.has_st;
    }
    int nl = e->model->num_labels;
    e->cls_act = nl == 1 ? TP_ACT_SIGMOID : TP_ACT_SOFTMAX;
    e->score_act = activation_from_config(&e->md, TP_ACT_SIGMOID);
    if (nl == 1) e->cls_act = e->score_act;
    e->token_softmax = e->model->token_softmax;
    e->step_tag_id = -1;
    if (e->model->head_activation) {
        tp_act a;
        if (tp_act_parse(e->model->head_activation, &a)) e->cls_act = e->score_act = a;
    }
    if (opts->pooler_config && (s = tp_engine_parse_pooler_config(e, opts->pooler_config, err)))
        goto fail;
    for (int i = 0; i < e->n_modes; i++) {
        if (e->modes[i] == TP_POOL_ALL || e->modes[i] == TP_POOL_STEP) {
            if (e->n_modes != 1) {
                s = tp_fail(err, TP_INVALID, "pooling %s cannot be combined with other modes",
                            tp_pool_mode_name(e->modes[i]));
                goto fail;
            }
        }
    }
    int pooled_dim = e->model->hidden_size * e->n_modes;
    if ((s = tp_st_head_load(&e->head, &e->md, pooled_dim, err)) != TP_OK) goto fail;
    if ((s = load_labels(e, err)) != TP_OK) goto fail;

    /* effective max length */
    int ml = e->md.max_seq_length     ? e->md.max_seq_length
             : e->md.model_max_length ? e->md.model_max_length
                                      : e->model->max_positions;
    if (e->model->max_positions > 0 && (ml <= 0 || ml > e->model->max_positions))
        ml = e->model->max_positions;
    if (opts->max_length > 0) {
        ml = opts->max_length;
        if (e->model->max_positions > 0 && ml > e->model->max_positions) {
            s = tp_fail(err, TP_INVALID, "--max-length %d exceeds the model's %d positions",
                        opts->max_length, e->model->max_positions);
            goto fail;
        }
    }
    if (ml <= 0) ml = 8192;
    e->info.max_length = ml;
    e->max_batch_tokens = opts->max_batch_tokens > 0 ? opts->max_batch_tokens : 8192;
    e->pool = tp_pool_create(opts->n_threads);
    if (!e->pool) {
        s = tp_fail(err, TP_NOMEM, "cannot start threads");
        goto fail;
    }
    build_info(e);
    json_decref(overrides);
    *out = e;
    return TP_OK;
fail:
    json_decref(overrides);
    tp_weights_free(w);
    tp_engine_free(e);
    return s;
}

void tp_engine_free(tp_engine *e) {
    if (!e) return;
    if (e->labels) {
        for (int i = 0; e->model && i < e->model->num_labels; i++)
            free(e->labels[i]);
        free(e->labels);
    }
    tp_st_head_free(&e->head);
    tp_model_free(e->model);
    tp_tokenizer_free(e->tok);
    tp_pool_free(e->pool);
    tp_modeldir_close(&e->md);
    free(e->scratch);
    free(e->parts);
    free(e->hidden);
    free(e->ids);
    free(e->types);
    free(e->off);
    free(e);
}

const tp_model_info *tp_engine_info(const tp_engine *e) {
    return &e->info;
}

const tp_tokenizer *tp_engine_tokenizer(const tp_engine *e) {
    return e->tok;
}

const char *tp_engine_prompt(const tp_engine *e, const char *name) {
    json_t *p = json_object_get(e->md.prompts, name);
    return json_is_string(p) ? json_string_value(p) : NULL;
}

tp_status tp_engine_tokenize(const tp_engine *e, const char *text, size_t len, const char *pair,
                             size_t pair_len, const tp_tokenize_opts *opts, tp_encoding *out,
                             int32_t *prompt_len, tp_error *err) {
    tp_tokenize_opts d;
    if (!opts) {
        tp_tokenize_opts_default(&d);
        opts = &d;
    }
    if (prompt_len) *prompt_len = 0;
    int max = opts->max_length > 0 ? opts->max_length : e->info.max_length;
    if (e->model->max_positions > 0 && max > e->model->max_positions) max = e->model->max_positions;
    tp_encode_opts eo;
    tp_encode_opts_default(&eo);
    eo.add_special = opts->add_special;
    eo.max_length = opts->truncate ? (size_t)max : 0;
    eo.direction = opts->direction;
    eo.strategy = TP_TRUNC_LONGEST_FIRST;
    char *joined = NULL;
    if (opts->prompt && opts->prompt[0]) {
        size_t pl = strlen(opts->prompt);
        joined = malloc(pl + len + 1);
        if (!joined) return tp_fail(err, TP_NOMEM, "out of memory");
        memcpy(joined, opts->prompt, pl);
        memcpy(joined + pl, text, len);
        joined[pl + len] = 0;
        text = joined;
        len += pl;
        if (prompt_len) {
            /* sentence-transformers: prompt length = tokens of the prompt alone, minus the
             * trailing special token */
            tp_encoding pe = {0};
            tp_encode_opts po = eo;
            po.max_length = 0;
            tp_status s = tp_tokenizer_encode(e->tok, opts->prompt, pl, NULL, 0, &po, &pe, err);
            if (s != TP_OK) {
                free(joined);
                return s;
            }
            *prompt_len = pe.len > 0 ? (int32_t)pe.len - (opts->add_special ? 1 : 0) : 0;
            tp_encoding_free(&pe);
        }
    }
    tp_status s = tp_tokenizer_encode(e->tok, text, len, pair, pair_len, &eo, out, err);
    free(joined);
    if (s != TP_OK) return s;
    if (!opts->truncate && out->len > (size_t)max)
        return tp_fail(err, TP_TOO_LONG,
                       "input has %zu tokens, more than the maximum of %d for this model", out->len,
                       max);
    if (out->len == 0) return tp_fail(err, TP_INVALID, "input produced no tokens");
    return TP_OK;
}
