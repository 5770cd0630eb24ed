/* safetensors reader over mmap: one file or a sharded folder (model.safetensors.index.json).
 * Every header field is bounds-checked at open. Tensors are handed out as float32: F32 data is
 * used in place when aligned, F16/BF16 (or unaligned F32) is converted once and cached. */
#ifndef TP_IO_SAFETENSORS_H
#define TP_IO_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "tidepool.h"

#define TP_ST_MAX_DIMS 8

typedef enum { TP_DT_F32 = 0, TP_DT_F16, TP_DT_BF16, TP_DT_OTHER } tp_dtype;

typedef struct tp_tensor {
    char *name;
    tp_dtype dtype;
    const char *dtype_name;
    int ndim;
    int64_t shape[TP_ST_MAX_DIMS];
    int64_t numel;
    const void *raw; /* into the mapping */
    float *f32;      /* converted copy (owned) or NULL */
} tp_tensor;

typedef struct tp_weights tp_weights;

/* Opens <dir>/model.safetensors or, failing that, <dir>/model.safetensors.index.json. */
tp_status tp_weights_open_dir(const char *dir, tp_weights **out, tp_error *err);
/* Opens one .safetensors file. */
tp_status tp_weights_open_file(const char *path, tp_weights **out, tp_error *err);
/* Adds the tensors of another file (used for shards and ST Dense modules). */
void tp_weights_free(tp_weights *w);

size_t tp_weights_count(const tp_weights *w);
const tp_tensor *tp_weights_at(const tp_weights *w, size_t i);
tp_tensor *tp_weights_find(const tp_weights *w, const char *name);
/* Bytes of prepared (packed) copies made from these weights, as the model loaders report them
 * (tp_model_linear): what the forward pass streams per batch. */
void tp_weights_add_packed(tp_weights *w, size_t bytes);
size_t tp_weights_packed_bytes(const tp_weights *w);
/* The dtype most tensors have ("F32", "BF16", ...). */
const char *tp_weights_dtype(const tp_weights *w);

/* Looks up `name` (after the optional prefix), checks its shape (ndim dims; a -1 dim matches
 * anything) and returns float32 data valid until tp_weights_free. */
tp_status tp_weights_f32(tp_weights *w, const char *name, int ndim, const int64_t *shape,
                         const float **out, tp_error *err);
/* Sets the prefix tried first for names (e.g. "bert."); names are also tried bare. */
void tp_weights_set_prefix(tp_weights *w, const char *prefix);
/* Returns the first of `prefixes` (NULL-terminated) for which prefix+probe exists, "" if the bare
 * name exists, NULL otherwise. */
const char *tp_weights_detect_prefix(const tp_weights *w, const char *const *prefixes,
                                     const char *probe);

/* Tells the reader a tensor's float32 data (as returned by tp_weights_f32) is no longer needed in
 * memory, e.g. after a linear layer packed its own copy. Pages of the read-only mapping are given
 * back to the kernel (they are re-read from the file if touched again); converted copies are kept,
 * since other users (tied embeddings) may still hold them. Unknown pointers are ignored. */
void tp_weights_release(tp_weights *w, const float *data);

#endif
