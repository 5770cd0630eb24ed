#include "io/modeldir.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "core/util.h"

static json_t *load_json(const char *dir, const char *name, int required, tp_status *st,
                         tp_error *err) {
    char path[4096];
    *st = TP_OK;
    if (!tp_path_join(path, sizeof path, dir, name)) {
        *st = tp_fail(err, TP_INVALID, "%s: path too long", dir);
        return NULL;
    }
    if (!tp_file_exists(path)) {
        if (required) *st = tp_fail(err, TP_IO, "%s: file not found", path);
        return NULL;
    }
    json_error_t je;
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        *st = tp_fail(err, TP_FORMAT, "%s: invalid JSON at line %d: %s", path, je.line, je.text);
        return NULL;
    }
    if (!json_is_object(j) && !json_is_array(j)) {
        json_decref(j);
        *st = tp_fail(err, TP_FORMAT, "%s: expected a JSON object", path);
        return NULL;
    }
    return j;
}

int tp_act_parse(const char *name, tp_act *out) {
    static const struct {
        const char *s;
        tp_act a;
    } map[] = {
        {"identity", TP_ACT_IDENTITY}, {"linear", TP_ACT_IDENTITY}, {"tanh", TP_ACT_TANH},
        {"relu", TP_ACT_RELU},         {"gelu", TP_ACT_GELU},       {"gelu_new", TP_ACT_GELU_TANH},
        {"gelu_pytorch_tanh", TP_ACT_GELU_TANH}, {"sigmoid", TP_ACT_SIGMOID},
        {"silu", TP_ACT_SILU},         {"swish", TP_ACT_SILU},      {"softmax", TP_ACT_SOFTMAX},
    };
    if (!name) return 0;
    /* torch.nn.modules.activation.Tanh -> Tanh */
    const char *base = strrchr(name, '.');
    base = base ? base + 1 : name;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (!strcasecmp(base, map[i].s)) {
            *out = map[i].a;
            return 1;
        }
    }
    if (!strcasecmp(base, "GELU")) {
        *out = TP_ACT_GELU;
        return 1;
    }
    return 0;
}

const char *tp_pool_mode_name(tp_pool_mode m) {
    static const char *names[] = {"NONE", "CLS",  "MEAN", "MAX", "MEAN_SQRT_LEN",
                                  "WEIGHTEDMEAN", "LAST", "ALL", "STEP"};
    return (unsigned)m < sizeof names / sizeof names[0] ? names[m] : "NONE";
}

tp_pool_mode tp_pool_mode_parse(const char *s) {
    static const struct {
        const char *s;
        tp_pool_mode m;
    } map[] = {
        {"cls", TP_POOL_CLS},   {"cls_token", TP_POOL_CLS},     {"mean", TP_POOL_MEAN},
        {"mean_tokens", TP_POOL_MEAN}, {"max", TP_POOL_MAX}, {"max_tokens", TP_POOL_MAX},
        {"mean_sqrt_len_tokens", TP_POOL_MEAN_SQRT_LEN}, {"mean_sqrt_len", TP_POOL_MEAN_SQRT_LEN},
        {"weightedmean", TP_POOL_WEIGHTEDMEAN}, {"weightedmean_tokens", TP_POOL_WEIGHTEDMEAN},
        {"lasttoken", TP_POOL_LAST}, {"last", TP_POOL_LAST}, {"last_token", TP_POOL_LAST},
        {"all", TP_POOL_ALL},   {"step", TP_POOL_STEP},
    };
    if (!s) return TP_POOL_NONE;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcasecmp(s, map[i].s)) return map[i].m;
    return TP_POOL_NONE;
}

static tp_status parse_pooling(tp_modeldir *md, const char *path, tp_error *err) {
    tp_status st;
    json_t *p = load_json(path, "config.json", 1, &st, err);
    if (!p) return st;
    md->n_pool_modes = 0;
    md->include_prompt = 1;
    json_t *ip = json_object_get(p, "include_prompt");
    if (json_is_boolean(ip)) md->include_prompt = json_is_true(ip);
    json_t *mode = json_object_get(p, "pooling_mode");
    if (mode) { /* sentence-transformers 6: "pooling_mode": "cls" or a list */
        json_t *arr = json_is_array(mode) ? json_incref(mode) : json_pack("[O]", mode);
        size_t i;
        json_t *v;
        json_array_foreach(arr, i, v) {
            tp_pool_mode m = json_is_string(v) ? tp_pool_mode_parse(json_string_value(v))
                                               : TP_POOL_NONE;
            if (m == TP_POOL_NONE || md->n_pool_modes >= TP_MAX_POOL_MODES) {
                json_decref(arr);
                json_decref(p);
                return tp_fail(err, TP_UNSUPPORTED, "%s/config.json: unsupported pooling_mode",
                               path);
            }
            md->pool_modes[md->n_pool_modes++] = m;
        }
        json_decref(arr);
    } else { /* classic layout: booleans, concatenated in this order by sentence-transformers */
        static const struct {
            const char *key;
            tp_pool_mode m;
        } keys[] = {
            {"pooling_mode_cls_token", TP_POOL_CLS},
            {"pooling_mode_max_tokens", TP_POOL_MAX},
            {"pooling_mode_mean_tokens", TP_POOL_MEAN},
            {"pooling_mode_mean_sqrt_len_tokens", TP_POOL_MEAN_SQRT_LEN},
            {"pooling_mode_weightedmean_tokens", TP_POOL_WEIGHTEDMEAN},
            {"pooling_mode_lasttoken", TP_POOL_LAST},
        };
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
            if (json_is_true(json_object_get(p, keys[i].key)))
                md->pool_modes[md->n_pool_modes++] = keys[i].m;
    }
    json_decref(p);
    if (md->n_pool_modes == 0)
        return tp_fail(err, TP_FORMAT, "%s/config.json: no pooling mode enabled", path);
    return TP_OK;
}

static tp_status parse_dense(tp_modeldir *md, const char *path, tp_error *err) {
    if (md->n_dense >= TP_MAX_DENSE)
        return tp_fail(err, TP_UNSUPPORTED, "%s: too many Dense modules", path);
    tp_status st;
    json_t *c = load_json(path, "config.json", 1, &st, err);
    if (!c) return st;
    tp_dense_module *d = &md->dense[md->n_dense];
    memset(d, 0, sizeof *d);
    snprintf(d->path, sizeof d->path, "%s", path);
    json_t *in = json_object_get(c, "in_features"), *out = json_object_get(c, "out_features");
    json_t *bias = json_object_get(c, "bias");
    json_t *act = json_object_get(c, "activation_function");
    d->bias = bias ? json_is_true(bias) : 1;
    d->act = TP_ACT_IDENTITY;
    if (!json_is_integer(in) || !json_is_integer(out) || json_integer_value(in) <= 0 ||
        json_integer_value(out) <= 0 || json_integer_value(in) > 1 << 20 ||
        json_integer_value(out) > 1 << 20) {
        json_decref(c);
        return tp_fail(err, TP_FORMAT, "%s/config.json: bad in_features/out_features", path);
    }
    d->in_features = (int)json_integer_value(in);
    d->out_features = (int)json_integer_value(out);
    if (json_is_string(act) && !tp_act_parse(json_string_value(act), &d->act)) {
        tp_status s = tp_fail(err, TP_UNSUPPORTED, "%s/config.json: unsupported activation '%s'",
                              path, json_string_value(act));
        json_decref(c);
        return s;
    }
    json_decref(c);
    md->n_dense++;
    return TP_OK;
}

/* Module type names: classic "sentence_transformers.models.Pooling" and ST6
 * "sentence_transformers.sentence_transformer.modules.pooling.Pooling" both end in the class. */
static const char *type_class(const char *type) {
    const char *dot = strrchr(type, '.');
    return dot ? dot + 1 : type;
}

static tp_status parse_modules(tp_modeldir *md, json_t *mods, tp_error *err) {
    if (!json_is_array(mods))
        return tp_fail(err, TP_FORMAT, "%s/modules.json: expected a list", md->dir);
    size_t i;
    json_t *m;
    json_array_foreach(mods, i, m) {
        json_t *jt = json_object_get(m, "type"), *jp = json_object_get(m, "path");
        if (!json_is_string(jt))
            return tp_fail(err, TP_FORMAT, "%s/modules.json: module %zu has no type", md->dir, i);
        const char *cls = type_class(json_string_value(jt));
        const char *rel = json_is_string(jp) ? json_string_value(jp) : "";
        if (strstr(rel, "..")) return tp_fail(err, TP_FORMAT, "%s/modules.json: bad path", md->dir);
        char path[4096];
        int pl = snprintf(path, sizeof path, "%s%s%s", md->dir, rel[0] ? "/" : "", rel);
        if (pl < 0 || (size_t)pl >= sizeof path)
            return tp_fail(err, TP_INVALID, "%s/modules.json: module path too long", md->dir);
        tp_status st = TP_OK;
        if (!strcmp(cls, "Transformer")) {
            /* the model itself */
        } else if (!strcmp(cls, "Pooling")) {
            st = parse_pooling(md, path, err);
        } else if (!strcmp(cls, "Dense")) {
            st = parse_dense(md, path, err);
        } else if (!strcmp(cls, "Normalize")) {
            md->normalize = 1;
        } else {
            return tp_fail(err, TP_UNSUPPORTED, "%s/modules.json: unsupported module type '%s'",
                           md->dir, json_string_value(jt));
        }
        if (st != TP_OK) return st;
    }
    return TP_OK;
}

tp_status tp_modeldir_open(const char *dir, tp_modeldir *md, tp_error *err) {
    memset(md, 0, sizeof *md);
    md->include_prompt = 1;
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/') dl--;
    if (dl >= sizeof md->dir - 64) return tp_fail(err, TP_INVALID, "model path too long");
    memcpy(md->dir, dir, dl);
    md->dir[dl] = 0;
    tp_status st;
    md->config = load_json(md->dir, "config.json", 1, &st, err);
    if (!md->config) {
        if (st == TP_IO) {
            char p[4096];
            tp_path_join(p, sizeof p, md->dir, "config.json");
            tp_fail(err, TP_IO, "%s: not found (is '%s' a Hugging Face model folder?)", p, md->dir);
        }
        return st;
    }
    if (!json_is_object(md->config)) {
        tp_modeldir_close(md);
        return tp_fail(err, TP_FORMAT, "%s/config.json: expected a JSON object", md->dir);
    }
    json_t *archs = json_object_get(md->config, "architectures");
    md->architecture = "";
    if (json_is_array(archs) && json_is_string(json_array_get(archs, 0)))
        md->architecture = json_string_value(json_array_get(archs, 0));
    md->model_type = tp_cfg_str(md, "model_type", "");

    json_t *mods = load_json(md->dir, "modules.json", 0, &st, err);
    if (st != TP_OK) goto fail;
    if (mods) {
        md->has_st = 1;
        st = parse_modules(md, mods, err);
        json_decref(mods);
        if (st != TP_OK) goto fail;
    }
    json_t *sb = load_json(md->dir, "sentence_bert_config.json", 0, &st, err);
    if (st != TP_OK) goto fail;
    if (sb) {
        json_t *msl = json_object_get(sb, "max_seq_length");
        if (json_is_integer(msl) && json_integer_value(msl) > 0 &&
            json_integer_value(msl) < 1 << 24)
            md->max_seq_length = (int)json_integer_value(msl);
        json_decref(sb);
    }
    md->st_config = load_json(md->dir, "config_sentence_transformers.json", 0, &st, err);
    if (st != TP_OK) goto fail;
    if (md->st_config) {
        json_t *pr = json_object_get(md->st_config, "prompts");
        if (json_is_object(pr)) md->prompts = pr;
        json_t *dp = json_object_get(md->st_config, "default_prompt_name");
        if (json_is_string(dp))
            snprintf(md->default_prompt_name, sizeof md->default_prompt_name, "%s",
                     json_string_value(dp));
    }
    json_t *tc = load_json(md->dir, "tokenizer_config.json", 0, &st, err);
    if (st != TP_OK) goto fail;
    if (tc) {
        json_t *mml = json_object_get(tc, "model_max_length");
        if (json_is_number(mml) && json_number_value(mml) > 0 && json_number_value(mml) < 1e7)
            md->model_max_length = (int)json_number_value(mml);
        json_decref(tc);
        tp_path_join(md->tokenizer_config_path, sizeof md->tokenizer_config_path, md->dir,
                     "tokenizer_config.json");
    }
    tp_path_join(md->tokenizer_path, sizeof md->tokenizer_path, md->dir, "tokenizer.json");
    if (!tp_file_exists(md->tokenizer_path)) {
        st = tp_fail(err, TP_IO, "%s: not found (tidepool reads tokenizer.json)",
                     md->tokenizer_path);
        goto fail;
    }
    return TP_OK;
fail:
    tp_modeldir_close(md);
    return st;
}

void tp_modeldir_close(tp_modeldir *md) {
    json_decref(md->config);
    json_decref(md->st_config);
    md->config = md->st_config = NULL;
    md->prompts = NULL;
}

int tp_cfg_int(const tp_modeldir *md, const char *key, int def) {
    json_t *v = json_object_get(md->config, key);
    if (json_is_integer(v)) return (int)json_integer_value(v);
    if (json_is_real(v)) return (int)json_real_value(v);
    return def;
}

double tp_cfg_num(const tp_modeldir *md, const char *key, double def) {
    json_t *v = json_object_get(md->config, key);
    return json_is_number(v) ? json_number_value(v) : def;
}

const char *tp_cfg_str(const tp_modeldir *md, const char *key, const char *def) {
    json_t *v = json_object_get(md->config, key);
    return json_is_string(v) ? json_string_value(v) : def;
}

int tp_cfg_bool(const tp_modeldir *md, const char *key, int def) {
    json_t *v = json_object_get(md->config, key);
    return json_is_boolean(v) ? json_is_true(v) : def;
}
