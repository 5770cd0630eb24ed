#include "server/request.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/util.h"

static const json_t *field(const json_t *root, const char *name) {
    const json_t *v = json_object_get(root, name);
    return (v && !json_is_null(v)) ? v : NULL;
}

static tp_status bad(tp_error *err, const char **param, const char *name, const char *fmt,
                     const char *what) {
    if (param) *param = name;
    return tp_fail(err, TP_INVALID, fmt, name, what);
}

void tp_inputs_free(tp_inputs *in) {
    if (in->ids)
        for (size_t i = 0; i < in->n; i++)
            free(in->ids[i]);
    free(in->ids);
    free(in->ids_len);
    free((void *)in->text);
    free(in->text_len);
    memset(in, 0, sizeof *in);
}

static tp_status parse_ids(const json_t *arr, const char *fieldname, int64_t max_id, int32_t **out,
                           size_t *out_len, tp_error *err) {
    size_t n = json_array_size(arr);
    int32_t *ids = malloc((n ? n : 1) * sizeof *ids);
    if (!ids) return tp_fail(err, TP_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const json_t *x = json_array_get(arr, i);
        if (!json_is_integer(x)) {
            free(ids);
            return tp_fail(err, TP_INVALID,
                           "'%s' must be a string, a list of strings, a list of "
                           "token ids or a list of token-id lists",
                           fieldname);
        }
        json_int_t v = json_integer_value(x);
        if (v < 0 || v > INT32_MAX || (max_id > 0 && v >= max_id)) {
            free(ids);
            return tp_fail(err, TP_INVALID, "token id %lld in '%s' is out of vocabulary (0..%lld)",
                           (long long)v, fieldname,
                           (long long)(max_id > 0 ? max_id - 1 : INT32_MAX));
        }
        ids[i] = (int32_t)v;
    }
    *out = ids;
    *out_len = n;
    return TP_OK;
}

tp_status tp_inputs_parse(const json_t *v, const char *name, size_t max_items, int64_t max_id,
                          tp_inputs *out, tp_error *err) {
    memset(out, 0, sizeof *out);
    static const char *shape = "'%s' must be a string, a list of strings, a list of token ids or a "
                               "list of token-id lists%s";
    if (!v) return tp_fail(err, TP_INVALID, "'%s' is required", name);
    if (json_is_string(v)) {
        out->n = 1;
        out->text = malloc(sizeof *out->text);
        out->text_len = malloc(sizeof *out->text_len);
        if (!out->text || !out->text_len) goto nomem;
        out->text[0] = json_string_value(v);
        out->text_len[0] = json_string_length(v);
        return TP_OK;
    }
    if (!json_is_array(v)) return tp_fail(err, TP_INVALID, shape, name, "");
    size_t n = json_array_size(v);
    if (n == 0) return tp_fail(err, TP_INVALID, "'%s' must not be empty", name);
    if (n > max_items)
        return tp_fail(err, TP_INVALID,
                       "'%s' has %zu items; this server accepts at most %zu per "
                       "request",
                       name, n, max_items);
    const json_t *first = json_array_get(v, 0);
    if (json_is_integer(first)) {
        /* One token-id list. */
        out->is_tokens = 1;
        out->n = 1;
        out->ids = calloc(1, sizeof *out->ids);
        out->ids_len = calloc(1, sizeof *out->ids_len);
        if (!out->ids || !out->ids_len) goto nomem;
        tp_status st = parse_ids(v, name, max_id, &out->ids[0], &out->ids_len[0], err);
        if (st != TP_OK) tp_inputs_free(out);
        return st;
    }
    if (json_is_string(first)) {
        out->n = n;
        out->text = malloc(n * sizeof *out->text);
        out->text_len = malloc(n * sizeof *out->text_len);
        if (!out->text || !out->text_len) goto nomem;
        for (size_t i = 0; i < n; i++) {
            const json_t *x = json_array_get(v, i);
            if (!json_is_string(x)) {
                tp_inputs_free(out);
                return tp_fail(err, TP_INVALID, shape, name, " (mixed item types)");
            }
            out->text[i] = json_string_value(x);
            out->text_len[i] = json_string_length(x);
        }
        return TP_OK;
    }
    if (json_is_array(first)) {
        out->is_tokens = 1;
        out->n = n;
        out->ids = calloc(n, sizeof *out->ids);
        out->ids_len = calloc(n, sizeof *out->ids_len);
        if (!out->ids || !out->ids_len) goto nomem;
        for (size_t i = 0; i < n; i++) {
            const json_t *x = json_array_get(v, i);
            if (!json_is_array(x)) {
                tp_inputs_free(out);
                return tp_fail(err, TP_INVALID, shape, name, " (mixed item types)");
            }
            if (json_array_size(x) == 0) {
                tp_inputs_free(out);
                return tp_fail(err, TP_INVALID, "'%s' item %zu is an empty token list", name, i);
            }
            tp_status st = parse_ids(x, name, max_id, &out->ids[i], &out->ids_len[i], err);
            if (st != TP_OK) {
                tp_inputs_free(out);
                return st;
            }
        }
        return TP_OK;
    }
    return tp_fail(err, TP_INVALID, shape, name, "");
nomem:
    tp_inputs_free(out);
    return tp_fail(err, TP_NOMEM, "out of memory");
}

static tp_status get_bool(const json_t *root, const char *name, int *out, const char **param,
                          tp_error *err) {
    const json_t *v = field(root, name);
    if (!v) return TP_OK;
    if (!json_is_boolean(v)) return bad(err, param, name, "'%s' must be a boolean%s", "");
    *out = json_is_true(v);
    return TP_OK;
}

static tp_status get_int(const json_t *root, const char *name, int lo, int hi, int *out,
                         int *present, const char **param, tp_error *err) {
    const json_t *v = field(root, name);
    if (!v) return TP_OK;
    if (!json_is_integer(v)) return bad(err, param, name, "'%s' must be an integer%s", "");
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi) {
        if (param) *param = name;
        return tp_fail(err, TP_INVALID, "'%s' must be between %d and %d", name, lo, hi);
    }
    *out = (int)x;
    if (present) *present = 1;
    return TP_OK;
}

static tp_status get_str(const json_t *root, const char *name, const char **out, const char **param,
                         tp_error *err) {
    const json_t *v = field(root, name);
    if (!v) return TP_OK;
    if (!json_is_string(v)) return bad(err, param, name, "'%s' must be a string%s", "");
    *out = json_string_value(v);
    return TP_OK;
}

tp_status tp_req_opts_parse(const json_t *root, tp_req_opts *o, const char **param, tp_error *err) {
    memset(o, 0, sizeof *o);
    o->truncation_side = -1;
    o->add_special_tokens = 1;
    o->normalize = -1;
    o->use_activation = -1;
    tp_status st;
    if ((st = get_str(root, "model", &o->model, param, err))) return st;
    /* "user" is accepted (and ignored) but must be a string as in OpenAI's schema. */
    const char *user = NULL;
    if ((st = get_str(root, "user", &user, param, err))) return st;
    if ((st = get_int(root, "truncate_prompt_tokens", -1, INT32_MAX, &o->truncate_prompt_tokens,
                      &o->has_truncate, param, err)))
        return st;
    if (o->has_truncate && o->truncate_prompt_tokens == 0) {
        if (param) *param = "truncate_prompt_tokens";
        return tp_fail(err, TP_INVALID, "'truncate_prompt_tokens' must be -1 or a positive number");
    }
    const char *side = NULL;
    if ((st = get_str(root, "truncation_side", &side, param, err))) return st;
    if (side) {
        if (!strcmp(side, "left"))
            o->truncation_side = TP_TRUNC_LEFT;
        else if (!strcmp(side, "right"))
            o->truncation_side = TP_TRUNC_RIGHT;
        else
            return bad(err, param, "truncation_side", "'%s' must be \"left\" or \"right\"%s", "");
    }
    if ((st = get_bool(root, "add_special_tokens", &o->add_special_tokens, param, err))) return st;
    if ((st = get_bool(root, "normalize", &o->normalize, param, err))) return st;
    /* use_activation (current vLLM) and activation (older) both set the activation flag. */
    if ((st = get_bool(root, "activation", &o->use_activation, param, err))) return st;
    if ((st = get_bool(root, "use_activation", &o->use_activation, param, err))) return st;
    int has_dim = 0;
    if ((st = get_int(root, "dimensions", 1, INT32_MAX, &o->dimensions, &has_dim, param, err)))
        return st;
    const char *fmt = NULL;
    if ((st = get_str(root, "encoding_format", &fmt, param, err))) return st;
    if (fmt) {
        if (!strcmp(fmt, "base64"))
            o->base64 = 1;
        else if (strcmp(fmt, "float") != 0)
            return bad(err, param, "encoding_format", "'%s' must be \"float\" or \"base64\"%s", "");
    }
    if ((st = get_str(root, "task", &o->task, param, err))) return st;
    if ((st = get_str(root, "prompt_name", &o->prompt_name, param, err))) return st;
    return TP_OK;
}

void tp_strs_free(tp_strs *s) {
    free((void *)s->s);
    free(s->len);
    memset(s, 0, sizeof *s);
}

tp_status tp_strs_parse(const json_t *v, const char *name, int allow_single, int docs_objects,
                        size_t max_items, tp_strs *out, tp_error *err) {
    memset(out, 0, sizeof *out);
    if (!v || json_is_null(v)) return tp_fail(err, TP_INVALID, "'%s' is required", name);
    if (json_is_string(v) && allow_single) {
        out->n = 1;
        out->s = malloc(sizeof *out->s);
        out->len = malloc(sizeof *out->len);
        if (!out->s || !out->len) goto nomem;
        out->s[0] = json_string_value(v);
        out->len[0] = json_string_length(v);
        return TP_OK;
    }
    if (!json_is_array(v))
        return tp_fail(err, TP_INVALID, "'%s' must be %s", name,
                       allow_single ? "a string or a list of strings" : "a list of strings");
    size_t n = json_array_size(v);
    if (n == 0) return tp_fail(err, TP_INVALID, "'%s' must not be empty", name);
    if (n > max_items)
        return tp_fail(err, TP_INVALID,
                       "'%s' has %zu items; this server accepts at most %zu per "
                       "request",
                       name, n, max_items);
    out->n = n;
    out->s = malloc(n * sizeof *out->s);
    out->len = malloc(n * sizeof *out->len);
    if (!out->s || !out->len) goto nomem;
    for (size_t i = 0; i < n; i++) {
        const json_t *x = json_array_get(v, i);
        if (docs_objects && json_is_object(x)) x = json_object_get(x, "text");
        if (!json_is_string(x)) {
            tp_strs_free(out);
            return tp_fail(err, TP_INVALID, "'%s' item %zu must be a string%s", name, i,
                           docs_objects ? " or an object with a \"text\" string" : "");
        }
        out->s[i] = json_string_value(x);
        out->len[i] = json_string_length(x);
    }
    return TP_OK;
nomem:
    tp_strs_free(out);
    return tp_fail(err, TP_NOMEM, "out of memory");
}

void tp_score_req_free(tp_score_req *r) {
    tp_strs_free(&r->a);
    tp_strs_free(&r->b);
}

tp_status tp_score_req_parse(const json_t *root, size_t max_items, tp_score_req *out,
                             const char **param, tp_error *err) {
    memset(out, 0, sizeof *out);
    static const char *names[][2] = {
        {"queries", "documents"}, {"text_1", "text_2"}, {"data_1", "data_2"}};
    const char *na = NULL, *nb = NULL;
    for (size_t i = 0; i < 3 && !na; i++)
        if (field(root, names[i][0]) || field(root, names[i][1])) {
            na = names[i][0];
            nb = names[i][1];
        }
    if (!na) {
        if (param) *param = "queries";
        return tp_fail(err, TP_INVALID,
                       "give 'queries' and 'documents' (or 'text_1' and "
                       "'text_2')");
    }
    tp_status st = tp_strs_parse(field(root, na), na, 1, 0, max_items, &out->a, err);
    if (st != TP_OK) {
        if (param) *param = na;
        return st;
    }
    st = tp_strs_parse(field(root, nb), nb, 1, 1, max_items, &out->b, err);
    if (st != TP_OK) {
        if (param) *param = nb;
        tp_score_req_free(out);
        return st;
    }
    if (out->a.n > 1 && out->a.n != out->b.n) {
        if (param) *param = nb;
        tp_fail(err, TP_INVALID,
                "input lengths must be 1:1, 1:N or N:N ('%s' has %zu items, '%s' "
                "has %zu)",
                na, out->a.n, nb, out->b.n);
        tp_score_req_free(out);
        return TP_INVALID;
    }
    return TP_OK;
}

void tp_rerank_req_free(tp_rerank_req *r) {
    tp_strs_free(&r->docs);
}

tp_status tp_rerank_req_parse(const json_t *root, size_t max_items, tp_rerank_req *out,
                              const char **param, tp_error *err) {
    memset(out, 0, sizeof *out);
    out->return_documents = 1;
    const json_t *q = field(root, "query");
    if (!q || !json_is_string(q)) {
        if (param) *param = "query";
        return tp_fail(err, TP_INVALID, q ? "'query' must be a string" : "'query' is required");
    }
    out->query = json_string_value(q);
    out->query_len = json_string_length(q);
    tp_status st;
    if ((st = get_int(root, "top_n", 0, INT32_MAX, &out->top_n, NULL, param, err))) return st;
    if ((st = get_bool(root, "return_documents", &out->return_documents, param, err))) return st;
    st = tp_strs_parse(field(root, "documents"), "documents", 0, 1, max_items, &out->docs, err);
    if (st != TP_OK && param) *param = "documents";
    return st;
}
