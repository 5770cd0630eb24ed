#include "io/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/util.h"

#define MAX_HEADER (100u << 20) /* 100 MB of JSON header is far beyond any real checkpoint */
#define MAX_FILES 256

typedef struct {
    void *map;
    size_t size;
} mapping;

struct tp_weights {
    mapping files[MAX_FILES];
    int n_files;
    tp_tensor *t;
    size_t n, cap;
    int sorted;
    char prefix[64];
    char dtype[16];
    size_t packed_bytes; /* see tp_weights_add_packed */
};

static int dtype_parse(const char *s, tp_dtype *dt, size_t *size) {
    if (!strcmp(s, "F32"))
        *dt = TP_DT_F32, *size = 4;
    else if (!strcmp(s, "F16"))
        *dt = TP_DT_F16, *size = 2;
    else if (!strcmp(s, "BF16"))
        *dt = TP_DT_BF16, *size = 2;
    else if (!strcmp(s, "F64") || !strcmp(s, "I64") || !strcmp(s, "U64"))
        *dt = TP_DT_OTHER, *size = 8;
    else if (!strcmp(s, "I32") || !strcmp(s, "U32"))
        *dt = TP_DT_OTHER, *size = 4;
    else if (!strcmp(s, "I16") || !strcmp(s, "U16"))
        *dt = TP_DT_OTHER, *size = 2;
    else if (!strcmp(s, "I8") || !strcmp(s, "U8") || !strcmp(s, "BOOL") || !strcmp(s, "F8_E4M3") ||
             !strcmp(s, "F8_E5M2"))
        *dt = TP_DT_OTHER, *size = 1;
    else
        return 0;
    return 1;
}

typedef struct {
    uint64_t begin, end;
    const char *name;
} span;

static int span_cmp(const void *a, const void *b) {
    const span *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

static int tensor_cmp(const void *a, const void *b) {
    return strcmp(((const tp_tensor *)a)->name, ((const tp_tensor *)b)->name);
}

static tp_status add_file(tp_weights *w, const char *path, tp_error *err) {
    if (w->n_files >= MAX_FILES) return tp_fail(err, TP_FORMAT, "%s: too many shards", path);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return tp_fail(err, TP_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return tp_fail(err, TP_IO, "%s: not a regular file", path);
    }
    size_t size = (size_t)st.st_size;
    if (size < 8) {
        close(fd);
        return tp_fail(err, TP_FORMAT, "%s: truncated safetensors file (%zu bytes, need >= 8)",
                       path, size);
    }
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return tp_fail(err, TP_IO, "%s: mmap failed: %s", path, strerror(errno));
    w->files[w->n_files].map = map;
    w->files[w->n_files].size = size;
    w->n_files++;

    const unsigned char *p = map;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | p[i];
    if (hlen > size - 8)
        return tp_fail(err, TP_FORMAT, "%s: header length %llu is larger than the file (%zu bytes)",
                       path, (unsigned long long)hlen, size);
    if (hlen > MAX_HEADER)
        return tp_fail(err, TP_FORMAT, "%s: header length %llu exceeds limit", path,
                       (unsigned long long)hlen);
    json_error_t je;
    json_t *root = json_loadb((const char *)p + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &je);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        return tp_fail(err, TP_FORMAT, "%s: header is not a JSON object (%s)", path,
                       root ? "wrong type" : je.text);
    }
    const unsigned char *data = p + 8 + hlen;
    uint64_t data_size = size - 8 - hlen;
    size_t n_entries = json_object_size(root);
    span *spans = calloc(n_entries ? n_entries : 1, sizeof *spans);
    size_t n_spans = 0;
    tp_status st_ = TP_OK;
    if (!spans) {
        json_decref(root);
        return tp_fail(err, TP_NOMEM, "%s: out of memory", path);
    }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (!strcmp(key, "__metadata__")) continue;
        json_t *jdt = json_object_get(val, "dtype");
        json_t *jshape = json_object_get(val, "shape");
        json_t *joff = json_object_get(val, "data_offsets");
        if (!json_is_object(val) || !json_is_string(jdt) || !json_is_array(jshape) ||
            !json_is_array(joff) || json_array_size(joff) != 2) {
            st_ = tp_fail(err, TP_FORMAT, "%s: tensor '%s': missing dtype, shape or data_offsets",
                          path, key);
            goto done;
        }
        tp_tensor t = {0};
        size_t esize;
        if (!dtype_parse(json_string_value(jdt), &t.dtype, &esize)) {
            st_ = tp_fail(err, TP_FORMAT, "%s: tensor '%s': unknown dtype '%s'", path, key,
                          json_string_value(jdt));
            goto done;
        }
        t.dtype_name = t.dtype == TP_DT_F32    ? "F32"
                       : t.dtype == TP_DT_F16  ? "F16"
                       : t.dtype == TP_DT_BF16 ? "BF16"
                                               : "OTHER";
        size_t nd = json_array_size(jshape);
        if (nd > TP_ST_MAX_DIMS) {
            st_ = tp_fail(err, TP_FORMAT, "%s: tensor '%s': %zu dims", path, key, nd);
            goto done;
        }
        t.ndim = (int)nd;
        uint64_t numel = 1;
        for (size_t i = 0; i < nd; i++) {
            json_t *d = json_array_get(jshape, i);
            if (!json_is_integer(d) || json_integer_value(d) < 0 ||
                json_integer_value(d) > (json_int_t)1 << 40) {
                st_ = tp_fail(err, TP_FORMAT, "%s: tensor '%s': bad shape", path, key);
                goto done;
            }
            t.shape[i] = json_integer_value(d);
            numel *= (uint64_t)t.shape[i];
            if (numel > ((uint64_t)1 << 40)) {
                st_ = tp_fail(err, TP_FORMAT, "%s: tensor '%s': shape too large", path, key);
                goto done;
            }
        }
        t.numel = (int64_t)numel;
        json_t *jb = json_array_get(joff, 0), *je_ = json_array_get(joff, 1);
        if (!json_is_integer(jb) || !json_is_integer(je_) || json_integer_value(jb) < 0 ||
            json_integer_value(je_) < json_integer_value(jb)) {
            st_ = tp_fail(err, TP_FORMAT, "%s: tensor '%s': bad data_offsets", path, key);
            goto done;
        }
        uint64_t b = (uint64_t)json_integer_value(jb), e = (uint64_t)json_integer_value(je_);
        if (e > data_size) {
            st_ = tp_fail(err, TP_FORMAT,
                          "%s: tensor '%s': data_offsets [%llu, %llu] past end of data (%llu "
                          "bytes; file truncated?)",
                          path, key, (unsigned long long)b, (unsigned long long)e,
                          (unsigned long long)data_size);
            goto done;
        }
        if (e - b != numel * esize) {
            st_ = tp_fail(err, TP_FORMAT,
                          "%s: tensor '%s': %llu bytes for %llu elements of %s (dtype/shape "
                          "mismatch)",
                          path, key, (unsigned long long)(e - b), (unsigned long long)numel,
                          json_string_value(jdt));
            goto done;
        }
        t.raw = data + b;
        t.name = strdup(key);
        if (!t.name) {
            st_ = tp_fail(err, TP_NOMEM, "out of memory");
            goto done;
        }
        if (w->n == w->cap) {
            size_t nc = w->cap ? w->cap * 2 : 64;
            tp_tensor *nt = realloc(w->t, nc * sizeof *nt);
            if (!nt) {
                free(t.name);
                st_ = tp_fail(err, TP_NOMEM, "out of memory");
                goto done;
            }
            w->t = nt;
            w->cap = nc;
        }
        w->t[w->n++] = t;
        spans[n_spans].begin = b;
        spans[n_spans].end = e;
        spans[n_spans].name = w->t[w->n - 1].name;
        n_spans++;
    }
    qsort(spans, n_spans, sizeof *spans, span_cmp);
    for (size_t i = 1; i < n_spans; i++) {
        if (spans[i].begin < spans[i - 1].end && spans[i].end > spans[i].begin) {
            st_ = tp_fail(err, TP_FORMAT, "%s: tensors '%s' and '%s' have overlapping data_offsets",
                          path, spans[i - 1].name, spans[i].name);
            goto done;
        }
    }
done:
    free(spans);
    json_decref(root);
    w->sorted = 0;
    return st_;
}

static tp_weights *weights_new(void) {
    return calloc(1, sizeof(tp_weights));
}

static void finish(tp_weights *w) {
    qsort(w->t, w->n, sizeof *w->t, tensor_cmp);
    w->sorted = 1;
    size_t counts[4] = {0};
    for (size_t i = 0; i < w->n; i++)
        counts[w->t[i].dtype] += (size_t)w->t[i].numel;
    int best = 0;
    for (int i = 1; i < 4; i++)
        if (counts[i] > counts[best]) best = i;
    static const char *names[] = {"F32", "F16", "BF16", "OTHER"};
    snprintf(w->dtype, sizeof w->dtype, "%s", names[best]);
}

tp_status tp_weights_open_file(const char *path, tp_weights **out, tp_error *err) {
    *out = NULL;
    tp_weights *w = weights_new();
    if (!w) return tp_fail(err, TP_NOMEM, "out of memory");
    tp_status s = add_file(w, path, err);
    if (s != TP_OK) {
        tp_weights_free(w);
        return s;
    }
    finish(w);
    *out = w;
    return TP_OK;
}

tp_status tp_weights_open_dir(const char *dir, tp_weights **out, tp_error *err) {
    char path[4096];
    *out = NULL;
    if (!tp_path_join(path, sizeof path, dir, "model.safetensors"))
        return tp_fail(err, TP_INVALID, "%s: path too long", dir);
    if (tp_file_exists(path)) return tp_weights_open_file(path, out, err);
    if (!tp_path_join(path, sizeof path, dir, "model.safetensors.index.json"))
        return tp_fail(err, TP_INVALID, "%s: path too long", dir);
    if (!tp_file_exists(path))
        return tp_fail(err, TP_IO,
                       "%s: no model.safetensors or model.safetensors.index.json (only "
                       "safetensors weights are supported)",
                       dir);
    json_error_t je;
    json_t *idx = json_load_file(path, 0, &je);
    json_t *map = idx ? json_object_get(idx, "weight_map") : NULL;
    if (!json_is_object(map)) {
        json_decref(idx);
        return tp_fail(err, TP_FORMAT, "%s: %s", path, idx ? "no \"weight_map\" object" : je.text);
    }
    tp_weights *w = weights_new();
    if (!w) {
        json_decref(idx);
        return tp_fail(err, TP_NOMEM, "out of memory");
    }
    /* Open each distinct shard once. */
    const char *seen[MAX_FILES];
    int n_seen = 0;
    const char *key;
    json_t *val;
    tp_status s = TP_OK;
    json_object_foreach(map, key, val) {
        if (!json_is_string(val)) {
            s = tp_fail(err, TP_FORMAT, "%s: weight_map['%s'] is not a string", path, key);
            break;
        }
        const char *file = json_string_value(val);
        int dup = 0;
        for (int i = 0; i < n_seen; i++)
            dup |= !strcmp(seen[i], file);
        if (dup) continue;
        if (strchr(file, '/') || n_seen >= MAX_FILES) {
            s = tp_fail(err, TP_FORMAT, "%s: bad shard name '%s'", path, file);
            break;
        }
        seen[n_seen++] = file;
        char shard[4096];
        if (!tp_path_join(shard, sizeof shard, dir, file)) {
            s = tp_fail(err, TP_INVALID, "%s: path too long", dir);
            break;
        }
        if ((s = add_file(w, shard, err)) != TP_OK) break;
    }
    if (s == TP_OK) {
        finish(w);
        json_object_foreach(map, key, val) {
            if (!tp_weights_find(w, key)) {
                s = tp_fail(err, TP_FORMAT, "%s: tensor '%s' is not in shard '%s'", path, key,
                            json_string_value(val));
                break;
            }
        }
    }
    json_decref(idx);
    if (s != TP_OK) {
        tp_weights_free(w);
        return s;
    }
    *out = w;
    return TP_OK;
}

void tp_weights_free(tp_weights *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n; i++) {
        free(w->t[i].name);
        free(w->t[i].f32);
    }
    free(w->t);
    for (int i = 0; i < w->n_files; i++)
        munmap(w->files[i].map, w->files[i].size);
    free(w);
}

size_t tp_weights_count(const tp_weights *w) {
    return w->n;
}

const tp_tensor *tp_weights_at(const tp_weights *w, size_t i) {
    return i < w->n ? &w->t[i] : NULL;
}

static tp_tensor *find_exact(const tp_weights *w, const char *name) {
    tp_tensor key = {.name = (char *)name};
    return bsearch(&key, w->t, w->n, sizeof *w->t, tensor_cmp);
}

tp_tensor *tp_weights_find(const tp_weights *w, const char *name) {
    if (w->prefix[0]) {
        char buf[512];
        if ((size_t)snprintf(buf, sizeof buf, "%s%s", w->prefix, name) < sizeof buf) {
            tp_tensor *t = find_exact(w, buf);
            if (t) return t;
        }
    }
    return find_exact(w, name);
}

void tp_weights_add_packed(tp_weights *w, size_t bytes) {
    w->packed_bytes += bytes;
}

size_t tp_weights_packed_bytes(const tp_weights *w) {
    return w->packed_bytes;
}

const char *tp_weights_dtype(const tp_weights *w) {
    return w->dtype;
}

void tp_weights_set_prefix(tp_weights *w, const char *prefix) {
    snprintf(w->prefix, sizeof w->prefix, "%s", prefix ? prefix : "");
}

const char *tp_weights_detect_prefix(const tp_weights *w, const char *const *prefixes,
                                     const char *probe) {
    char buf[512];
    for (int i = 0; prefixes[i]; i++) {
        snprintf(buf, sizeof buf, "%s%s", prefixes[i], probe);
        if (find_exact(w, buf)) return prefixes[i];
    }
    return find_exact(w, probe) ? "" : NULL;
}

static float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1F, man = h & 0x3FF, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: renormalize */
            exp = 127 - 15 + 1;
            while (!(man & 0x400)) {
                man <<= 1;
                exp--;
            }
            man &= 0x3FF;
            bits = sign | (exp << 23) | (man << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7F800000u | (man << 13);
    } else {
        bits = sign | ((exp - 15 + 127) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

tp_status tp_weights_f32(tp_weights *w, const char *name, int ndim, const int64_t *shape,
                         const float **out, tp_error *err) {
    *out = NULL;
    tp_tensor *t = tp_weights_find(w, name);
    if (!t) return tp_fail(err, TP_FORMAT, "weights: missing tensor '%s%s'", w->prefix, name);
    if (ndim >= 0) {
        int ok = t->ndim == ndim;
        for (int i = 0; ok && i < ndim; i++)
            ok = shape[i] < 0 || shape[i] == t->shape[i];
        if (!ok) {
            char got[128] = "", want[128] = "";
            for (int i = 0; i < t->ndim; i++)
                snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", i ? "," : "",
                         (long long)t->shape[i]);
            for (int i = 0; i < ndim; i++)
                snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", i ? "," : "",
                         (long long)shape[i]);
            return tp_fail(err, TP_FORMAT, "weights: tensor '%s' has shape [%s], expected [%s]",
                           t->name, got, want);
        }
    }
    if (t->f32) {
        *out = t->f32;
        return TP_OK;
    }
    if (t->dtype == TP_DT_F32 && ((uintptr_t)t->raw & 3) == 0) {
        *out = t->raw;
        return TP_OK;
    }
    if (t->dtype == TP_DT_OTHER)
        return tp_fail(err, TP_UNSUPPORTED, "weights: tensor '%s' has unsupported dtype", t->name);
    float *f = malloc((size_t)(t->numel ? t->numel : 1) * sizeof *f);
    if (!f) return tp_fail(err, TP_NOMEM, "weights: out of memory converting '%s'", t->name);
    const unsigned char *r = t->raw;
    for (int64_t i = 0; i < t->numel; i++) {
        if (t->dtype == TP_DT_F32) {
            memcpy(&f[i], r + 4 * i, 4);
        } else {
            uint16_t h = (uint16_t)(r[2 * i] | (r[2 * i + 1] << 8));
            if (t->dtype == TP_DT_F16) {
                f[i] = f16_to_f32(h);
            } else {
                uint32_t bits = (uint32_t)h << 16;
                memcpy(&f[i], &bits, 4);
            }
        }
    }
    t->f32 = f;
    *out = f;
    return TP_OK;
}

void tp_weights_release(tp_weights *w, const float *data) {
    if (!w || !data) return;
    for (size_t i = 0; i < w->n; i++) {
        tp_tensor *t = &w->t[i];
        if (t->raw != (const void *)data || t->f32) continue;
        size_t esize = t->dtype == TP_DT_F32 ? 4 : 2;
        uintptr_t lo = (uintptr_t)t->raw, hi = lo + (uintptr_t)t->numel * esize;
        long pg = sysconf(_SC_PAGESIZE);
        uintptr_t a = (lo + (uintptr_t)pg - 1) & ~((uintptr_t)pg - 1),
                  b = hi & ~((uintptr_t)pg - 1);
        if (b > a) madvise((void *)a, b - a, MADV_DONTNEED);
        return;
    }
}
