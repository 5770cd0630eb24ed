/* tokenizer.json engine: load, encode (added tokens -> normalizer -> added tokens (normalized) ->
 * pre-tokenizer -> model -> truncation -> post-processor), decode, vocab lookups.
 *
 * Threading: a tp_tokenizer is immutable after load (the BPE cache has its own locks); each
 * thread gets its own tk_ws scratch through a pthread key, so encodes run concurrently without
 * per-call allocation once the scratch has grown. */
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "tokenizer/tokenizer_internal.h"

#define TK_MAX_JSON ((size_t)512 << 20)
#define TK_MAX_INPUT ((size_t)1 << 30)

struct tp_tokenizer {
    tk_norm *norm;
    tk_pretok *pre;
    tk_model *model;
    tk_post *post;
    tk_dec *dec;
    tk_added_vocab added;
    size_t vocab_size;
};

/* ---- per-thread scratch ------------------------------------------------------------------- */

static pthread_key_t ws_key;
static pthread_once_t ws_once = PTHREAD_ONCE_INIT;
static int ws_key_ok;

static void ws_destroy(void *p) {
    tk_ws_free(p);
    free(p);
}

static void ws_key_make(void) {
    ws_key_ok = pthread_key_create(&ws_key, ws_destroy) == 0;
}

/* Drops the scratch of a thread after a huge input so it does not stay pinned. */
static void ws_trim(tk_ws *w) {
    size_t big = 16u << 20, sum = w->norm_out.cap + w->tmp.cap + w->tmp2.cap + w->bpe_cap +
                                  w->uni_cap + (w->seq[0].cap + w->seq[1].cap) * sizeof(int32_t);
    for (int i = 0; i < 3; i++)
        sum += w->nb[i].cap + w->pp[i].text.cap + w->pp[i].cap * sizeof(tk_piece);
    if (sum <= big) return;
    tk_ws_free(w);
    if (tk_ws_init(w)) tk_ws_free(w); /* leaves md NULL: get_ws reports no memory */
}

static tk_ws *get_ws(void) {
    pthread_once(&ws_once, ws_key_make);
    if (!ws_key_ok) return NULL;
    tk_ws *w = pthread_getspecific(ws_key);
    if (w) {
        ws_trim(w);
        if (!w->md && tk_ws_init(w)) {
            tk_ws_free(w);
            return NULL;
        }
        return w;
    }
    w = malloc(sizeof *w);
    if (!w) return NULL;
    if (tk_ws_init(w) || pthread_setspecific(ws_key, w)) {
        ws_destroy(w);
        return NULL;
    }
    return w;
}

/* ---- load --------------------------------------------------------------------------------- */

void tp_tokenizer_free(tp_tokenizer *t) {
    if (!t) return;
    tk_norm_free(t->norm);
    tk_pretok_free(t->pre);
    tk_model_free(t->model);
    tk_post_free(t->post);
    tk_dec_free(t->dec);
    tk_added_free(&t->added);
    free(t);
}

typedef struct cfg_flags {
    int lowercase, strip_accents, chinese; /* Bert: -1/-2 leave (see tk_norm_bert_override) */
    int add_prefix_space;                  /* ByteLevel: -1 leave */
    int llama;                             /* rebuild the template from bos/eos */
    int add_bos, add_eos;
    char bos[256], eos[256];
} cfg_flags;

static const char *token_content(json_t *v) {
    if (json_is_string(v)) return json_string_value(v);
    if (json_is_object(v)) return json_string_value(json_object_get(v, "content"));
    return NULL;
}

static int class_in(const char *cls, const char *const *names) {
    if (!cls) return 0;
    size_t n = strlen(cls);
    if (n > 4 && !strcmp(cls + n - 4, "Fast")) n -= 4;
    for (; *names; names++)
        if (strlen(*names) == n && !strncmp(cls, *names, n)) return 1;
    return 0;
}

/* What transformers' tokenizer classes change at init (see docs/tokenizer.md). */
static tp_status read_config(const char *path, cfg_flags *f, tp_error *err) {
    memset(f, 0, sizeof *f);
    f->lowercase = -1;
    f->strip_accents = -2;
    f->chinese = -1;
    f->add_prefix_space = -1;
    if (!path || !tp_file_exists(path)) return TP_OK; /* a missing config means defaults */
    char *buf;
    size_t len;
    tp_status st = tp_read_file(path, 16u << 20, &buf, &len, err);
    if (st != TP_OK) return st;
    json_error_t je;
    json_t *j = json_loadb(buf, len, 0, &je);
    free(buf);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        return tp_fail(err, TP_FORMAT, "%s: invalid JSON: %s", path, je.text);
    }
    const char *cls = json_string_value(json_object_get(j, "tokenizer_class"));
    static const char *const bert[] = {
        "BertTokenizer",        "DistilBertTokenizer", "ElectraTokenizer",   "LayoutLMTokenizer",
        "SqueezeBertTokenizer", "FunnelTokenizer",     "RetriBertTokenizer", NULL};
    static const char *const llama[] = {"LlamaTokenizer", "CodeLlamaTokenizer", "GemmaTokenizer",
                                        NULL};
    static const char *const gpt2[] = {"GPT2Tokenizer", "RobertaTokenizer", NULL};
    if (class_in(cls, bert)) {
        json_t *v = json_object_get(j, "do_lower_case");
        f->lowercase = json_is_boolean(v) ? json_is_true(v) : 1;
        v = json_object_get(j, "strip_accents");
        f->strip_accents = json_is_boolean(v) ? json_is_true(v) : -1;
        v = json_object_get(j, "tokenize_chinese_chars");
        f->chinese = json_is_boolean(v) ? json_is_true(v) : 1;
    }
    if (class_in(cls, gpt2)) {
        json_t *v = json_object_get(j, "add_prefix_space");
        f->add_prefix_space = json_is_true(v);
    }
    /* Only a config that sets add_bos_token / add_eos_token rebuilds the template: without them
     * transformers keeps tokenizer.json's post-processor (the llama-embed fixture's golden, made
     * by transformers 5.17, keeps its `<s> $A </s>` template). */
    json_t *jb = json_object_get(j, "add_bos_token"), *jeos = json_object_get(j, "add_eos_token");
    if (class_in(cls, llama) && (json_is_boolean(jb) || json_is_boolean(jeos))) {
        f->add_bos = json_is_boolean(jb) ? json_is_true(jb) : 1;
        f->add_eos = json_is_boolean(jeos) ? json_is_true(jeos) : 0;
        const char *b = token_content(json_object_get(j, "bos_token"));
        const char *e = token_content(json_object_get(j, "eos_token"));
        snprintf(f->bos, sizeof f->bos, "%s", b ? b : "");
        snprintf(f->eos, sizeof f->eos, "%s", e ? e : "");
        f->llama = 1;
    }
    json_decref(j);
    return TP_OK;
}

static tp_status load_impl(const char *json, size_t len, const cfg_flags *cf, tp_tokenizer **out,
                           tp_error *err) {
    *out = NULL;
    if (len > TK_MAX_JSON) return tp_fail(err, TP_TOO_LONG, "tokenizer.json is too large");
    json_error_t je;
    json_t *j = json_loadb(json, len, 0, &je);
    if (!j)
        return tp_fail(err, TP_FORMAT, "tokenizer.json: invalid JSON: %s (line %d)", je.text,
                       je.line);
    if (!json_is_object(j)) {
        json_decref(j);
        return tp_fail(err, TP_FORMAT, "tokenizer.json: top level is not an object");
    }
    tp_tokenizer *t = calloc(1, sizeof *t);
    if (!t) {
        json_decref(j);
        return tp_fail(err, TP_NOMEM, "out of memory");
    }
    tp_status st = TP_OK;
    json_t *v;
    if ((v = json_object_get(j, "normalizer")) && !json_is_null(v))
        st = tk_norm_load(v, &t->norm, err);
    if (st == TP_OK && cf->lowercase != -1)
        tk_norm_bert_override(t->norm, cf->lowercase, cf->strip_accents, cf->chinese);
    if (st == TP_OK && (v = json_object_get(j, "pre_tokenizer")) && !json_is_null(v))
        st = tk_pretok_load(v, &t->pre, err);
    if (st == TP_OK) tk_pretok_bytelevel_override(t->pre, cf->add_prefix_space);
    if (st == TP_OK) st = tk_model_load(json_object_get(j, "model"), &t->model, err);
    if (st == TP_OK && (v = json_object_get(j, "post_processor")) && !json_is_null(v))
        st = tk_post_load(v, &t->post, err);
    if (st == TP_OK && (v = json_object_get(j, "decoder")) && !json_is_null(v))
        st = tk_dec_load(v, &t->dec, err);
    if (st == TP_OK)
        st = tk_added_load(json_object_get(j, "added_tokens"), t->norm, t->model, &t->added, err);
    json_decref(j);
    if (st == TP_OK && cf->llama) {
        int32_t bos = cf->bos[0] ? tp_tokenizer_token_to_id(t, cf->bos) : -1;
        int32_t eos = cf->eos[0] ? tp_tokenizer_token_to_id(t, cf->eos) : -1;
        if ((cf->add_bos && bos < 0) || (cf->add_eos && eos < 0)) {
            st = tp_fail(err, TP_FORMAT,
                         "tokenizer_config.json: add_%s_token is set but the token is unknown",
                         cf->add_bos && bos < 0 ? "bos" : "eos");
        } else {
            tk_post *p;
            st = tk_post_llama(&p, bos, eos, cf->add_bos, cf->add_eos, err);
            if (st == TP_OK) {
                tk_post_free(t->post);
                t->post = p;
            }
        }
    }
    if (st != TP_OK) {
        tp_tokenizer_free(t);
        return st;
    }
    size_t n = t->model->vocab.map.n;
    for (size_t i = 0; i < t->added.n; i++)
        if (tk_smap_get(&t->model->vocab.map, t->added.v[i].content, t->added.v[i].len) < 0) n++;
    t->vocab_size = n;
    *out = t;
    return TP_OK;
}

tp_status tp_tokenizer_load_json(const char *json, size_t len, tp_tokenizer **out, tp_error *err) {
    cfg_flags cf;
    read_config(NULL, &cf, err);
    if (!json) return tp_fail(err, TP_INVALID, "tokenizer.json: no data");
    return load_impl(json, len, &cf, out, err);
}

tp_status tp_tokenizer_load(const char *path, const char *config_path, tp_tokenizer **out,
                            tp_error *err) {
    *out = NULL;
    cfg_flags cf;
    tp_status st = read_config(config_path, &cf, err);
    if (st != TP_OK) return st;
    char *buf;
    size_t len;
    st = tp_read_file(path, TK_MAX_JSON, &buf, &len, err);
    if (st != TP_OK) return st;
    st = load_impl(buf, len, &cf, out, err);
    free(buf);
    return st;
}

/* ---- encode ------------------------------------------------------------------------------- */

void tp_encode_opts_default(tp_encode_opts *o) {
    memset(o, 0, sizeof *o);
    o->add_special = 1;
}

void tp_encoding_free(tp_encoding *e) {
    if (!e) return;
    free(e->ids);
    free(e->type_ids);
    free(e->special);
    memset(e, 0, sizeof *e);
}

/* One sequence -> ids (appended to `ids`). */
static int encode_seq(const tp_tokenizer *t, const char *s, size_t n, tk_ids *ids, tk_ws *w) {
    tk_pieces *p0 = &w->pp[0], *p1 = &w->pp[1];
    tk_pieces_reset(p0);
    if (n == 0) return 0;
    if (t->added.has_raw) {
        if (tk_added_split(&t->added, &t->added.raw, s, n, 1, p0)) return -1;
    } else if (tk_pieces_push(p0, s, n, -1, 1)) {
        return -1;
    }
    tk_pieces_reset(p1);
    for (size_t i = 0; i < p0->n; i++) {
        tk_piece pc = p0->v[i];
        const char *ps = p0->text.p + pc.off;
        if (pc.id >= 0) {
            if (tk_pieces_push(p1, ps, pc.len, pc.id, pc.first)) return -1;
            continue;
        }
        const char *ns = ps;
        size_t nn = pc.len;
        int lead = pc.first;
        if (t->norm) {
            if (tk_norm_run(t->norm, ps, pc.len, &w->norm_out, w, &lead)) return -1;
            ns = w->norm_out.p;
            nn = w->norm_out.len;
        }
        if (nn == 0) continue;
        if (t->added.has_norm) {
            if (tk_added_split(&t->added, &t->added.norm, ns, nn, lead, p1)) return -1;
        } else if (tk_pieces_push(p1, ns, nn, -1, lead)) {
            return -1;
        }
    }
    tk_pieces *words = p1;
    if (t->pre) {
        if (tk_pretok_run(t->pre, p1, p0, w)) return -1;
        words = p0;
    }
    for (size_t i = 0; i < words->n; i++) {
        tk_piece pc = words->v[i];
        if (pc.id >= 0) {
            if (tk_ids_push(ids, pc.id)) return -1;
            continue;
        }
        if (tk_model_tokenize(t->model, words->text.p + pc.off, pc.len, ids, w)) return -1;
    }
    return 0;
}

static void cut(tk_ids *a, size_t keep, tp_trunc_dir dir) {
    if (a->n <= keep) return;
    if (dir == TP_TRUNC_LEFT) memmove(a->v, a->v + (a->n - keep), keep * sizeof *a->v);
    a->n = keep;
}

/* HF truncate_encodings with stride 0. */
static tp_status truncate(tk_ids *a, tk_ids *b, size_t max, tp_trunc_strategy strat,
                          tp_trunc_dir dir, tp_error *err) {
    if (max == 0) {
        a->n = 0;
        if (b) b->n = 0;
        return TP_OK;
    }
    size_t total = a->n + (b ? b->n : 0);
    if (total <= max) return TP_OK;
    size_t to_remove = total - max;
    if (strat == TP_TRUNC_LONGEST_FIRST) {
        if (!b) {
            cut(a, max, dir);
            return TP_OK;
        }
        size_t n1 = a->n, n2 = b->n;
        int swap = 0;
        if (n1 > n2) {
            swap = 1;
            size_t x = n1;
            n1 = n2;
            n2 = x;
        }
        if (n1 > max)
            n2 = n1;
        else
            n2 = n1 > max - n1 ? n1 : max - n1;
        if (n1 + n2 > max) {
            n1 = max / 2;
            n2 = n1 + max % 2;
        }
        if (swap) {
            size_t x = n1;
            n1 = n2;
            n2 = x;
        }
        cut(a, n1, dir);
        cut(b, n2, dir);
        return TP_OK;
    }
    tk_ids *target = strat == TP_TRUNC_ONLY_FIRST ? a : b;
    if (!target)
        return tp_fail(err, TP_INVALID, "truncation only_second: the second sequence is missing");
    if (target->n <= to_remove)
        return tp_fail(err, TP_INVALID,
                       "truncation: the sequence to truncate is too short for max_length %zu", max);
    cut(target, target->n - to_remove, dir);
    return TP_OK;
}

static int enc_reserve(tp_encoding *e, size_t n) {
    if (n <= e->cap && e->ids) return 0;
    size_t cap = e->cap ? e->cap : 64;
    while (cap < n)
        cap *= 2;
    int32_t *ids = realloc(e->ids, cap * sizeof *ids);
    if (ids) e->ids = ids;
    int32_t *ty = realloc(e->type_ids, cap * sizeof *ty);
    if (ty) e->type_ids = ty;
    uint8_t *sp = realloc(e->special, cap);
    if (sp) e->special = sp;
    if (!ids || !ty || !sp) return -1;
    e->cap = cap;
    return 0;
}

static void enc_put(tp_encoding *e, int32_t id, int32_t type, uint8_t special) {
    e->ids[e->len] = id;
    e->type_ids[e->len] = type;
    e->special[e->len] = special;
    e->len++;
}

tp_status tp_tokenizer_encode(const tp_tokenizer *t, const char *text, size_t len, const char *pair,
                              size_t pair_len, const tp_encode_opts *opts, tp_encoding *out,
                              tp_error *err) {
    if (!t || !out) return tp_fail(err, TP_INVALID, "tokenize: null tokenizer or output");
    out->len = 0;
    tp_encode_opts def;
    if (!opts) {
        tp_encode_opts_default(&def);
        opts = &def;
    }
    if (!text && len) return tp_fail(err, TP_INVALID, "tokenize: null text");
    if (!pair && pair_len) return tp_fail(err, TP_INVALID, "tokenize: null pair");
    if (len > TK_MAX_INPUT || pair_len > TK_MAX_INPUT)
        return tp_fail(err, TP_TOO_LONG, "tokenize: input longer than %zu bytes", TK_MAX_INPUT);
    if (!tp_utf8_valid(text ? text : "", len))
        return tp_fail(err, TP_INVALID, "tokenize: text is not valid UTF-8");
    if (pair && !tp_utf8_valid(pair, pair_len))
        return tp_fail(err, TP_INVALID, "tokenize: pair text is not valid UTF-8");
    tk_ws *w = get_ws();
    if (!w) return tp_fail(err, TP_NOMEM, "tokenize: cannot allocate scratch");
    tk_ids *a = &w->seq[0], *b = &w->seq[1];
    a->n = b->n = 0;
    if (encode_seq(t, text ? text : "", len, a, w) || (pair && encode_seq(t, pair, pair_len, b, w)))
        return tp_fail(err, TP_NOMEM, "tokenize: out of memory");
    int is_pair = pair != NULL;
    int use_tpl = opts->add_special && t->post && t->post->kind == 1;
    if (opts->max_length > 0) {
        size_t added = opts->add_special ? tk_post_added(t->post, is_pair) : 0;
        size_t eff = opts->max_length > added ? opts->max_length - added : 0;
        tp_status st = truncate(a, is_pair ? b : NULL, eff, opts->strategy, opts->direction, err);
        if (st != TP_OK) return st;
    }
    size_t total = a->n + b->n + (use_tpl ? tk_post_added(t->post, is_pair) : 0);
    if (enc_reserve(out, total ? total : 1))
        return tp_fail(err, TP_NOMEM, "tokenize: out of memory");
    if (!use_tpl) {
        for (size_t i = 0; i < a->n; i++)
            enc_put(out, a->v[i], 0, 0);
        for (size_t i = 0; i < b->n; i++)
            enc_put(out, b->v[i], 1, 0);
        return TP_OK;
    }
    const tk_template *tpl = is_pair ? &t->post->pair : &t->post->single;
    for (size_t k = 0; k < tpl->n; k++) {
        const tk_tpl_item *it = &tpl->items[k];
        if (it->seq < 0) {
            for (size_t i = 0; i < it->n_ids; i++)
                enc_put(out, it->ids[i], it->type_id, 1);
        } else {
            const tk_ids *s = it->seq == 0 ? a : b;
            if (it->seq == 1 && !is_pair) continue;
            for (size_t i = 0; i < s->n; i++)
                enc_put(out, s->v[i], it->type_id, 0);
        }
    }
    return TP_OK;
}

/* ---- decode / vocab ----------------------------------------------------------------------- */

int32_t tp_tokenizer_token_to_id(const tp_tokenizer *t, const char *token) {
    if (!t || !token) return -1;
    size_t n = strlen(token);
    int32_t i = tk_smap_get(&t->added.by_content, token, n);
    if (i >= 0) return t->added.v[i].id;
    return tk_smap_get(&t->model->vocab.map, token, n);
}

const char *tp_tokenizer_id_to_token(const tp_tokenizer *t, int32_t id) {
    if (!t || id < 0) return NULL;
    const tk_added *a = tk_added_by_id(&t->added, id);
    if (a) return a->content;
    if ((size_t)id < t->model->vocab.n) return t->model->vocab.tokens[id];
    return NULL;
}

size_t tp_tokenizer_vocab_size(const tp_tokenizer *t) {
    return t ? t->vocab_size : 0;
}

tp_status tp_tokenizer_decode(const tp_tokenizer *t, const int32_t *ids, size_t n, int skip_special,
                              char **out, size_t *out_len, tp_error *err) {
    *out = NULL;
    if (out_len) *out_len = 0;
    if (!t || (!ids && n)) return tp_fail(err, TP_INVALID, "decode: null argument");
    tk_pieces toks = {0}, tmp = {0};
    tk_buf res = {0};
    tp_status st = TP_OK;
    for (size_t i = 0; i < n; i++) {
        const tk_added *a = tk_added_by_id(&t->added, ids[i]);
        const char *s = NULL;
        size_t l = 0;
        if (a) {
            if (skip_special && a->special) continue;
            s = a->content;
            l = a->len;
        } else if (ids[i] >= 0 && (size_t)ids[i] < t->model->vocab.n &&
                   t->model->vocab.tokens[ids[i]]) {
            s = t->model->vocab.tokens[ids[i]];
            l = strlen(s);
        } else {
            continue; /* unknown id: skipped, as HF does */
        }
        if (tk_pieces_push(&toks, s, l, -1, 0)) {
            st = tp_fail(err, TP_NOMEM, "decode: out of memory");
            break;
        }
    }
    if (st == TP_OK && tk_dec_run(t->dec, &toks, &res, &tmp))
        st = tp_fail(err, TP_NOMEM, "decode: out of memory");
    tk_pieces_free(&toks);
    tk_pieces_free(&tmp);
    if (st != TP_OK) {
        tk_buf_free(&res);
        return st;
    }
    if (!res.p && tk_buf_reserve(&res, 1)) return tp_fail(err, TP_NOMEM, "decode: out of memory");
    res.p[res.len] = 0;
    *out = res.p;
    if (out_len) *out_len = res.len;
    return TP_OK;
}
