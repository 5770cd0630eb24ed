/* tp_engine_run: packs sequences into batches under the token budget, runs the model, and turns
 * hidden states into results (pooling + ST head, classifier head + activation, token outputs). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "engine/engine_internal.h"

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 1;
    size_t nc = need + need / 4;
    void *np = realloc(*p, nc * elem);
    if (!np) return 0;
    *p = np;
    *cap = nc;
    return 1;
}

static tp_status alloc_result(tp_result *r, int rows, int cols, tp_error *err) {
    r->rows = rows;
    r->cols = cols;
    r->data = malloc((size_t)(rows > 0 ? rows : 1) * (size_t)(cols > 0 ? cols : 1) * sizeof(float));
    return r->data ? TP_OK : tp_fail(err, TP_NOMEM, "out of memory");
}

/* Rows the classifier head reads, gathered into `in`. */
static void gather_head_input(const tp_engine *e, const float *hidden, int start, int len,
                              float *in) {
    int h = e->model->hidden_size;
    switch (e->model->head_input) {
    case TP_HEAD_LAST:
        memcpy(in, hidden + (size_t)(start + len - 1) * h, (size_t)h * 4);
        break;
    case TP_HEAD_MEAN: {
        tp_pool_mode m = TP_POOL_MEAN;
        tp_pool_sequence(hidden + (size_t)start * h, len, h, 0, 1, &m, 1, in);
        break;
    }
    default:
        memcpy(in, hidden + (size_t)start * h, (size_t)h * 4);
        break;
    }
}

static tp_status finish_seq(tp_engine *e, tp_task task, const tp_seq *sq, const float *hidden,
                            int start, const tp_run_opts *ro, tp_result *r, tp_error *err) {
    tp_model *m = e->model;
    int h = m->hidden_size, len = sq->len;
    const float *hs = hidden + (size_t)start * h;
    tp_status s;
    switch (task) {
    case TP_TASK_EMBED: {
        if (e->modes[0] == TP_POOL_ALL || e->modes[0] == TP_POOL_STEP)
            return tp_fail(err, TP_UNSUPPORTED,
                           "pooling %s is token-level; use the token_embed task",
                           tp_pool_mode_name(e->modes[0]));
        int pooled = h * e->n_modes, od = e->head.out_dim;
        int big = pooled > od ? pooled : od;
        for (int i = 0; i < e->head.n_dense; i++)
            big = e->head.lin[i].n > big ? e->head.lin[i].n : big;
        float *buf = malloc((size_t)big * 3 * sizeof *buf);
        if (!buf) return tp_fail(err, TP_NOMEM, "out of memory");
        tp_pool_sequence(hs, len, h, sq->prompt_len, e->include_prompt, e->modes, e->n_modes, buf);
        int dim = od;
        if (ro->dimensions > 0) {
            if (ro->dimensions > od) {
                free(buf);
                return tp_fail(err, TP_INVALID, "dimensions %d exceeds the embedding size %d",
                               ro->dimensions, od);
            }
            dim = ro->dimensions;
        }
        if ((s = alloc_result(r, 1, dim, err)) != TP_OK) {
            free(buf);
            return s;
        }
        float *tmp = buf + big;
        if (e->head.n_dense)
            tp_st_head_apply(&e->head, buf, tmp, tmp + big);
        else
            memcpy(tmp, buf, (size_t)od * sizeof *tmp);
        /* Matryoshka: truncate, then (re-)normalize when normalizing */
        int norm = ro->normalize >= 0 ? ro->normalize : e->normalize;
        memcpy(r->data, tmp, (size_t)dim * sizeof *tmp);
        if (norm) tp_l2_normalize(r->data, dim);
        free(buf);
        return TP_OK;
    }
    case TP_TASK_CLASSIFY:
    case TP_TASK_SCORE: {
        int nl = m->num_labels;
        if (!m->ops->head || nl <= 0)
            return tp_fail(err, TP_UNSUPPORTED, "this model has no classification head");
        if (task == TP_TASK_SCORE && nl != 1)
            return tp_fail(err, TP_UNSUPPORTED,
                           "score needs a model with one output label (this one has %d)", nl);
        float *in = malloc((size_t)h * sizeof *in);
        if (!in) return tp_fail(err, TP_NOMEM, "out of memory");
        gather_head_input(e, hidden, start, len, in);
        if ((s = alloc_result(r, 1, nl, err)) == TP_OK)
            s = m->ops->head(m, NULL, in, 1, r->data, err);
        free(in);
        if (s != TP_OK) return s;
        if (ro->use_activation != 0)
            tp_apply_act(task == TP_TASK_SCORE ? e->score_act : e->cls_act, r->data, nl);
        return TP_OK;
    }
    case TP_TASK_TOKEN_EMBED:
        if ((s = alloc_result(r, len, h, err)) != TP_OK) return s;
        memcpy(r->data, hs, (size_t)len * h * sizeof(float));
        if (ro->normalize == 1)
            for (int t = 0; t < len; t++)
                tp_l2_normalize(r->data + (size_t)t * h, h);
        return TP_OK;
    case TP_TASK_TOKEN_CLASSIFY: {
        int nl = m->num_labels;
        if (!m->ops->head || nl <= 0)
            return tp_fail(err, TP_UNSUPPORTED, "this model has no classification head");
        float *logits = malloc((size_t)len * nl * sizeof *logits);
        if (!logits) return tp_fail(err, TP_NOMEM, "out of memory");
        if ((s = m->ops->head(m, NULL, hs, len, logits, err)) != TP_OK) {
            free(logits);
            return s;
        }
        int soft = ro->use_activation >= 0 ? ro->use_activation : e->token_softmax;
        /* STEP pooling keeps the rows at step_tag_id tokens */
        int rows = 0;
        for (int t = 0; t < len; t++)
            if (e->step_tag_id < 0 || sq->ids[t] == e->step_tag_id) rows++;
        int cols = e->n_returned > 0 ? e->n_returned : nl;
        if ((s = alloc_result(r, rows, cols, err)) != TP_OK) {
            free(logits);
            return s;
        }
        int ri = 0;
        for (int t = 0; t < len; t++) {
            if (e->step_tag_id >= 0 && sq->ids[t] != e->step_tag_id) continue;
            float *lr = logits + (size_t)t * nl;
            if (soft) tp_softmax_row(lr, nl);
            float *o = r->data + (size_t)ri * cols;
            if (e->n_returned > 0) {
                for (int c = 0; c < cols; c++) {
                    int id = e->returned_token_ids[c];
                    o[c] = id >= 0 && id < nl ? lr[id] : NAN;
                }
            } else {
                memcpy(o, lr, (size_t)nl * sizeof *o);
            }
            ri++;
        }
        free(logits);
        return TP_OK;
    }
    }
    return tp_fail(err, TP_INVALID, "unknown task %d", (int)task);
}

/* ---- forward over one packed batch -------------------------------------------------------------
 *
 * Two ways to use the pool's threads. Op-parallel: every operation of the forward pass (each GEMM,
 * the attention, each LayerNorm) is split across the threads, with a join after each. Batch-
 * parallel: the batch is cut into one part per thread (whole sequences, about equal token counts)
 * and each thread runs the whole forward pass of its part on its own, with no join until the end
 * and no activations shared between cores. Sequences never interact in these models, and every
 * kernel computes a row the same way whatever rows surround it, so both give bit-identical
 * results. Batch-parallel wins when every part has enough tokens to keep its GEMMs efficient;
 * a single sequence or a tiny batch (batch-1 latency) stays op-parallel. */

#define MAX_PARTS 64

typedef struct {
    tp_model *m;
    tp_batch b[MAX_PARTS];
    int32_t *off[MAX_PARTS];
    float *hidden[MAX_PARTS], *scratch[MAX_PARTS];
    tp_status st[MAX_PARTS];
    tp_error err[MAX_PARTS];
} part_ctx;

static void part_task(void *vctx, int task, int thread) {
    (void)thread;
    part_ctx *c = vctx;
    c->st[task] = c->m->ops->forward(c->m, NULL, &c->b[task], c->hidden[task], c->scratch[task],
                                     &c->err[task]);
}

static size_t align16(size_t n) {
    return (n + 15) & ~(size_t)15;
}

/* Splits b into parts (sequence ranges of about tok / parts tokens). Returns the part count, 0
 * when the batch should stay op-parallel. cut[k] .. cut[k+1] are the sequences of part k. */
static int plan_parts(const tp_engine *e, const tp_batch *b, int cut[MAX_PARTS + 1]) {
    int nt = tp_pool_size(e->pool);
    if (!e->batch_parallel || nt < 2 || b->n_seq < 2) return 0;
    int parts = nt < b->n_seq ? nt : b->n_seq;
    if (parts > MAX_PARTS) parts = MAX_PARTS;
    if (b->n_tok / parts < e->part_min_tokens) return 0;
    cut[0] = 0;
    int s = 0;
    for (int k = 1; k < parts; k++) {
        long target = (long)b->n_tok * k / parts;
        /* leave at least one sequence for each later part */
        while (s < b->n_seq - (parts - k) && b->off[s + 1] <= target)
            s++;
        if (s < cut[k - 1] + 1) s = cut[k - 1] + 1;
        /* the sequence straddling the target goes to whichever side is closer */
        if (s < b->n_seq - (parts - k) && target - b->off[s] > b->off[s + 1] - target) s++;
        cut[k] = s;
    }
    cut[parts] = b->n_seq;
    return parts;
}

static tp_status run_forward(tp_engine *e, const tp_batch *b, tp_error *err) {
    tp_model *m = e->model;
    int h = m->hidden_size;
    int cut[MAX_PARTS + 1];
    int parts = plan_parts(e, b, cut);
    if (!parts) {
        size_t need = m->ops->scratch_floats(m, b->n_tok, b->max_len, tp_pool_size(e->pool));
        if (!grow((void **)&e->scratch, &e->scratch_cap, need, sizeof(float)))
            return tp_fail(err, TP_NOMEM, "out of memory for a batch of %d tokens", b->n_tok);
        return m->ops->forward(m, e->pool, b, e->hidden, e->scratch, err);
    }
    if (!e->parts && !(e->parts = calloc(1, sizeof(part_ctx))))
        return tp_fail(err, TP_NOMEM, "out of memory");
    part_ctx *c = e->parts; /* kept: the steady-state forward pass does not allocate */
    c->m = m;
    /* scratch: each part's forward scratch, then its offsets rebased to 0 */
    size_t need = 0, at[MAX_PARTS], off_at[MAX_PARTS];
    for (int k = 0; k < parts; k++) {
        int s0 = cut[k], s1 = cut[k + 1], tok = b->off[s1] - b->off[s0], ml = 0;
        for (int s = s0; s < s1; s++)
            ml = b->off[s + 1] - b->off[s] > ml ? b->off[s + 1] - b->off[s] : ml;
        at[k] = need;
        need += align16(m->ops->scratch_floats(m, tok, ml, 1));
        off_at[k] = need;
        need += align16((size_t)(s1 - s0) + 1);
        c->b[k] = (tp_batch){b->ids + b->off[s0],
                             b->type_ids ? b->type_ids + b->off[s0] : NULL,
                             NULL,
                             s1 - s0,
                             tok,
                             ml};
    }
    if (!grow((void **)&e->scratch, &e->scratch_cap, need, sizeof(float)))
        return tp_fail(err, TP_NOMEM, "out of memory for a batch of %d tokens", b->n_tok);
    for (int k = 0; k < parts; k++) {
        int s0 = cut[k], s1 = cut[k + 1];
        c->scratch[k] = e->scratch + at[k];
        c->off[k] = (int32_t *)(void *)(e->scratch + off_at[k]);
        for (int s = s0; s <= s1; s++)
            c->off[k][s - s0] = b->off[s] - b->off[s0];
        c->b[k].off = c->off[k];
        c->hidden[k] = e->hidden + (size_t)b->off[s0] * h;
        c->st[k] = TP_OK;
    }
    tp_pool_run(e->pool, part_task, c, parts);
    for (int k = 0; k < parts; k++)
        if (c->st[k] != TP_OK) {
            *err = c->err[k];
            return c->st[k];
        }
    return TP_OK;
}

tp_status tp_engine_run(tp_engine *e, tp_task task, const tp_seq *seqs, size_t n,
                        const tp_run_opts *opts, tp_result *results, tp_error *err) {
    tp_run_opts d;
    if (!opts) {
        tp_run_opts_default(&d);
        opts = &d;
    }
    for (size_t i = 0; i < n; i++)
        results[i] = (tp_result){0};
    if (!(e->info.tasks & (unsigned)task) || (task == TP_TASK_SCORE && e->info.num_labels == 0))
        return tp_fail(err, TP_UNSUPPORTED, "this model does not support that task");
    tp_model *m = e->model;
    int h = m->hidden_size;
    for (size_t i = 0; i < n; i++) {
        if (seqs[i].len <= 0 || !seqs[i].ids)
            return tp_fail(err, TP_INVALID, "sequence %zu is empty", i);
        if (m->max_positions > 0 && seqs[i].len > m->max_positions)
            return tp_fail(err, TP_TOO_LONG, "sequence %zu has %d tokens, the model allows %d", i,
                           seqs[i].len, m->max_positions);
        for (int t = 0; t < seqs[i].len; t++)
            if (seqs[i].ids[t] < 0 || seqs[i].ids[t] >= m->vocab_size)
                return tp_fail(err, TP_INVALID, "token id %d out of range [0, %d)", seqs[i].ids[t],
                               m->vocab_size);
    }
    tp_status s = TP_OK;
    size_t i = 0;
    while (i < n) {
        /* one batch: as many sequences as fit the token budget (at least one) */
        size_t j = i;
        int tok = 0, max_len = 0;
        while (j < n && (j == i || tok + seqs[j].len <= e->max_batch_tokens)) {
            tok += seqs[j].len;
            max_len = seqs[j].len > max_len ? seqs[j].len : max_len;
            j++;
        }
        int ns = (int)(j - i);
        if (!grow((void **)&e->hidden, &e->hidden_cap, (size_t)tok * h, sizeof(float)) ||
            !grow((void **)&e->ids, &e->ids_cap, (size_t)tok, sizeof(int32_t)) ||
            !grow((void **)&e->off, &e->off_cap, (size_t)ns + 1, sizeof(int32_t))) {
            s = tp_fail(err, TP_NOMEM, "out of memory for a batch of %d tokens", tok);
            break;
        }
        size_t tcap = e->ids_cap;
        int32_t *nt = realloc(e->types, tcap * sizeof *nt);
        if (!nt) {
            s = tp_fail(err, TP_NOMEM, "out of memory");
            break;
        }
        e->types = nt;
        int pos = 0;
        for (int k = 0; k < ns; k++) {
            const tp_seq *sq = &seqs[i + (size_t)k];
            e->off[k] = pos;
            memcpy(e->ids + pos, sq->ids, (size_t)sq->len * sizeof(int32_t));
            if (sq->type_ids)
                memcpy(e->types + pos, sq->type_ids, (size_t)sq->len * sizeof(int32_t));
            else
                memset(e->types + pos, 0, (size_t)sq->len * sizeof(int32_t));
            pos += sq->len;
        }
        e->off[ns] = pos;
        tp_batch b = {e->ids, e->types, e->off, ns, tok, max_len};
        if ((s = run_forward(e, &b, err)) != TP_OK) break;
        for (int k = 0; k < ns && s == TP_OK; k++)
            s = finish_seq(e, task, &seqs[i + (size_t)k], e->hidden, e->off[k], opts,
                           &results[i + (size_t)k], err);
        if (s != TP_OK) break;
        i = j;
    }
    if (s != TP_OK)
        for (size_t k = 0; k < n; k++)
            tp_result_free(&results[k]);
    return s;
}
