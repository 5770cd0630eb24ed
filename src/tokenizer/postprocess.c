/* Post-processors, all reduced to a template of special ids and sequences with type ids:
 * TemplateProcessing as given; BertProcessing = [CLS] $A [SEP] (+ $B:1 [SEP]:1);
 * RobertaProcessing = <s> $A </s> (+ </s> $B </s>, all type 0); ByteLevel = no tokens (the
 * default process: $A type 0, $B type 1). In a Sequence, the last template-bearing processor
 * wins (ByteLevel only trims offsets, which tidepool does not track). */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer_internal.h"

static void tpl_free(tk_template *t) {
    for (size_t i = 0; i < t->n; i++)
        free(t->items[i].ids);
    free(t->items);
    memset(t, 0, sizeof *t);
}

void tk_post_free(tk_post *p) {
    if (!p) return;
    tpl_free(&p->single);
    tpl_free(&p->pair);
    free(p);
}

static int tpl_add(tk_template *t, int seq, int32_t type_id, const int32_t *ids, size_t n) {
    tk_tpl_item *it = realloc(t->items, (t->n + 1) * sizeof *it);
    if (!it) return -1;
    t->items = it;
    tk_tpl_item *x = &it[t->n];
    memset(x, 0, sizeof *x);
    x->seq = seq;
    x->type_id = type_id;
    if (seq < 0) {
        x->ids = malloc((n ? n : 1) * sizeof *x->ids);
        if (!x->ids) return -1;
        memcpy(x->ids, ids, n * sizeof *ids);
        x->n_ids = n;
    }
    t->n++;
    return 0;
}

static tp_status parse_template(json_t *arr, json_t *specials, tk_template *t, tp_error *err) {
    if (!json_is_array(arr))
        return tp_fail(err, TP_FORMAT, "tokenizer.json: TemplateProcessing template is not a list");
    size_t i;
    json_t *it;
    json_array_foreach(arr, i, it) {
        json_t *sp = json_object_get(it, "SpecialToken"), *sq = json_object_get(it, "Sequence");
        if (json_is_object(sq)) {
            const char *id = json_string_value(json_object_get(sq, "id"));
            int seq = id && !strcmp(id, "B") ? 1 : 0;
            if (!id || (strcmp(id, "A") && strcmp(id, "B")))
                return tp_fail(err, TP_FORMAT, "tokenizer.json: template sequence must be A or B");
            if (tpl_add(t, seq, (int32_t)json_integer_value(json_object_get(sq, "type_id")), NULL,
                        0))
                return tp_fail(err, TP_NOMEM, "out of memory");
        } else if (json_is_object(sp)) {
            const char *id = json_string_value(json_object_get(sp, "id"));
            json_t *def = id ? json_object_get(specials, id) : NULL;
            json_t *ids = json_object_get(def, "ids");
            if (!json_is_array(ids))
                return tp_fail(err, TP_FORMAT,
                               "tokenizer.json: template special token '%.40s' is not defined",
                               id ? id : "?");
            size_t n = json_array_size(ids);
            int32_t *v = malloc((n ? n : 1) * sizeof *v);
            if (!v) return tp_fail(err, TP_NOMEM, "out of memory");
            for (size_t k = 0; k < n; k++) {
                json_int_t x = json_integer_value(json_array_get(ids, k));
                v[k] = x < 0 || x > INT32_MAX ? 0 : (int32_t)x;
            }
            int rc =
                tpl_add(t, -1, (int32_t)json_integer_value(json_object_get(sp, "type_id")), v, n);
            free(v);
            if (rc) return tp_fail(err, TP_NOMEM, "out of memory");
        } else {
            return tp_fail(err, TP_FORMAT, "tokenizer.json: bad TemplateProcessing item");
        }
    }
    return TP_OK;
}

static int32_t pair_id(json_t *pair) {
    json_t *id = json_array_get(pair, 1);
    json_int_t x = json_integer_value(id);
    return json_is_integer(id) && x >= 0 && x <= INT32_MAX ? (int32_t)x : -1;
}

static tp_status load_into(json_t *j, tk_post *p, tp_error *err) {
    const char *type = json_string_value(json_object_get(j, "type"));
    if (!type) return tp_fail(err, TP_FORMAT, "tokenizer.json: post_processor without a type");
    if (!strcmp(type, "ByteLevel")) return TP_OK;
    if (!strcmp(type, "Sequence")) {
        json_t *arr = json_object_get(j, "processors");
        if (!json_is_array(arr))
            return tp_fail(err, TP_FORMAT,
                           "tokenizer.json: Sequence post_processor without a list");
        size_t i;
        json_t *v;
        json_array_foreach(arr, i, v) {
            tp_status st = load_into(v, p, err);
            if (st != TP_OK) return st;
        }
        return TP_OK;
    }
    tpl_free(&p->single);
    tpl_free(&p->pair);
    p->kind = 1;
    if (!strcmp(type, "TemplateProcessing")) {
        json_t *sp = json_object_get(j, "special_tokens");
        tp_status st = parse_template(json_object_get(j, "single"), sp, &p->single, err);
        if (st == TP_OK) st = parse_template(json_object_get(j, "pair"), sp, &p->pair, err);
        return st;
    }
    int bert = !strcmp(type, "BertProcessing");
    if (bert || !strcmp(type, "RobertaProcessing")) {
        int32_t cls = pair_id(json_object_get(j, "cls")), sep = pair_id(json_object_get(j, "sep"));
        if (cls < 0 || sep < 0)
            return tp_fail(err, TP_FORMAT, "tokenizer.json: %s needs cls and sep", type);
        int32_t tb = bert ? 1 : 0;
        if (tpl_add(&p->single, -1, 0, &cls, 1) || tpl_add(&p->single, 0, 0, NULL, 0) ||
            tpl_add(&p->single, -1, 0, &sep, 1) || tpl_add(&p->pair, -1, 0, &cls, 1) ||
            tpl_add(&p->pair, 0, 0, NULL, 0) || tpl_add(&p->pair, -1, 0, &sep, 1) ||
            (!bert && tpl_add(&p->pair, -1, 0, &sep, 1)) || tpl_add(&p->pair, 1, tb, NULL, 0) ||
            tpl_add(&p->pair, -1, tb, &sep, 1))
            return tp_fail(err, TP_NOMEM, "out of memory");
        return TP_OK;
    }
    return tp_fail(err, TP_UNSUPPORTED, "tokenizer.json: unsupported post_processor type '%.64s'",
                   type);
}

tp_status tk_post_load(json_t *j, tk_post **out, tp_error *err) {
    *out = NULL;
    tk_post *p = calloc(1, sizeof *p);
    if (!p) return tp_fail(err, TP_NOMEM, "out of memory");
    tp_status st = json_is_object(j)
                       ? load_into(j, p, err)
                       : tp_fail(err, TP_FORMAT, "tokenizer.json: post_processor is not an object");
    if (st != TP_OK) {
        tk_post_free(p);
        return st;
    }
    *out = p;
    return TP_OK;
}

size_t tk_post_added(const tk_post *p, int is_pair) {
    if (!p || p->kind == 0) return 0;
    const tk_template *t = is_pair ? &p->pair : &p->single;
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++)
        if (t->items[i].seq < 0) n += t->items[i].n_ids;
    return n;
}

tp_status tk_post_llama(tk_post **out, int32_t bos, int32_t eos, int add_bos, int add_eos,
                        tp_error *err) {
    tk_post *p = calloc(1, sizeof *p);
    if (!p) return tp_fail(err, TP_NOMEM, "out of memory");
    p->kind = 1;
    int bad = 0;
    for (int pass = 0; pass < 2; pass++) {
        tk_template *t = pass ? &p->pair : &p->single;
        for (int s = 0; s <= pass; s++) {
            if (add_bos && bos >= 0) bad |= tpl_add(t, -1, s, &bos, 1);
            bad |= tpl_add(t, s, s, NULL, 0);
            if (add_eos && eos >= 0) bad |= tpl_add(t, -1, s, &eos, 1);
        }
    }
    if (bad) {
        tk_post_free(p);
        return tp_fail(err, TP_NOMEM, "out of memory");
    }
    *out = p;
    return TP_OK;
}
