/* tidepool side of the CPU benchmark: the same model folder and workload as the ONNX Runtime and
 * PyTorch runners (bench/ref/run_ort.js, run_torch.py), timed the same way.
 *
 *   tp_bench --model DIR [--workload FILE] [--threads 2] [--runs 3] [--batch 32]
 *            [--dtype f32|bf16] [--quantize int8] [--save-emb FILE] [--ref-emb FILE]...
 *            [--latency-runs 300] [--paired-ceiling PASSES] [--json FILE]
 *
 * Workload lines are tokenized with tp_engine_tokenize (not timed, like ORT's tokenize_s), sorted
 * by token count (ties by line number, as run_ort.js does) and cut into batches of --batch
 * sentences; each batch is one tp_engine_run(TP_TASK_EMBED) call, which packs its sentences back to
 * back without padding. --batch 0 hands all sentences to one tp_engine_run call, so the engine's
 * own token budget decides the batches. 1 warm-up pass + --runs timed passes (median, min, max).
 *
 * Also: batch-1 latency (p50/p99) of the first 16-token workload sentence, peak RSS (getrusage),
 * achieved GFLOP/s with the shared bench's formula (2 x encoder-layer parameters + 4 L h n per
 * token of attention), and the cosine of each embedding against --ref-emb files (float32
 * [sentences][dim] in workload order, e.g. ORT's ort_emb_<model>.f32). Output: JSON on stdout.
 *
 * --paired-ceiling P: after the timed passes, P more passes in which every CEIL_EVERY batches are
 * followed by one 2048^3 f32 GEMM with each ceiling backend in this process (tidepool's own f32
 * kernel on a pool of --threads, and oneDNN's sgemm when libdnnl.so.2 is installed). The model
 * and the GEMMs then see the same load, sampled every second or so across the pass, so the ratio
 * of their aggregate rates (model FLOP / model time against GEMM FLOP / GEMM time of the best
 * backend) is the paired "% of the sgemm ceiling" that a busy machine can still measure. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/threadpool.h"
#include "gemm_ref.h"
#include "kernels/kernels.h"
#include "tidepool.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

enum { CEIL_N = 2048, CEIL_EVERY = 2 };

/* The ceiling backends of --paired-ceiling: 2048^3, y = x W^T, as bench/gemm_bench.c. */
typedef struct {
    float *x, *w, *y;
    tp_linear lin;
    tp_pool *pool;
    dnnl_sgemm_fn dnnl;
    double t[2]; /* seconds spent: tidepool, oneDNN */
    int calls;
} ceiling;

static void ceiling_init(ceiling *c, int threads) {
    size_t nn = (size_t)CEIL_N * CEIL_N;
    c->x = malloc(nn * 4);
    c->w = malloc(nn * 4);
    c->y = malloc(nn * 4);
    if (!c->x || !c->w || !c->y) {
        fprintf(stderr, "tp_bench: out of memory\n");
        exit(1);
    }
    bench_gemm_inputs(c->x, nn, c->w, nn);
    c->lin = (tp_linear){.w = c->w, .n = CEIL_N, .k = CEIL_N};
    if (tp_linear_prepare(&c->lin, TP_LIN_F32, NULL) != TP_OK) {
        fprintf(stderr, "tp_bench: cannot prepare the ceiling GEMM\n");
        exit(1);
    }
    c->pool = tp_pool_create(threads);
    /* oneDNN runs on OpenMP threads: make them sleep when idle, or they would spin into the
     * model's next batch (a separate process, as gemm_bench is, has no such effect) */
    setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    char nt[16];
    snprintf(nt, sizeof nt, "%d", threads);
    setenv("OMP_NUM_THREADS", nt, 1);
    c->dnnl = bench_dnnl_sgemm();
}

/* Each timed call starts after a 5 ms sleep, so that the threads of whatever ran before (the
 * engine's pool, the other backend) have stopped spinning and stolen no cycles from it. */
static void ceiling_sample(ceiling *c) {
    usleep(5000);
    double t0 = now();
    tp_linear_fwd(c->pool, &c->lin, c->x, CEIL_N, c->y);
    c->t[0] += now() - t0;
    if (c->dnnl) {
        usleep(5000);
        t0 = now();
        c->dnnl('N', 'T', CEIL_N, CEIL_N, CEIL_N, 1.0f, c->x, CEIL_N, c->w, CEIL_N, 0.0f, c->y,
                CEIL_N);
        c->t[1] += now() - t0;
    }
    c->calls++;
    usleep(5000); /* and the model's next batch starts after theirs stopped */
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static tp_encoding *g_enc;
static int cmp_len(const void *a, const void *b) {
    int i = *(const int *)a, j = *(const int *)b;
    int d = (int)g_enc[i].len - (int)g_enc[j].len;
    return d ? d : i - j;
}

static void die(const char *msg, const tp_error *err) {
    fprintf(stderr, "tp_bench: %s%s%s\n", msg, err ? ": " : "", err ? err->msg : "");
    exit(1);
}

int main(int argc, char **argv) {
    const char *model = NULL, *workload = "bench/ref/workload.jsonl", *save_emb = NULL,
               *json_out = NULL, *dtype = NULL, *quant = NULL;
    const char *ref_emb[8];
    int n_ref = 0, threads = 2, runs = 3, batch = 32, lat_runs = 300, limit = 0, paired = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(name) (!strcmp(a, name) && v && ++i)
        if (ARG("--model"))
            model = v;
        else if (ARG("--workload"))
            workload = v;
        else if (ARG("--threads"))
            threads = atoi(v);
        else if (ARG("--runs"))
            runs = atoi(v);
        else if (ARG("--batch"))
            batch = atoi(v);
        else if (ARG("--dtype"))
            dtype = v;
        else if (ARG("--quantize"))
            quant = v;
        else if (ARG("--save-emb"))
            save_emb = v;
        else if (ARG("--ref-emb") && n_ref < 8)
            ref_emb[n_ref++] = v;
        else if (ARG("--latency-runs"))
            lat_runs = atoi(v);
        else if (ARG("--paired-ceiling"))
            paired = atoi(v);
        else if (ARG("--limit"))
            limit = atoi(v);
        else if (ARG("--json"))
            json_out = v;
        else
            die("usage: tp_bench --model DIR [options] (see bench/tp_bench.c)", NULL);
#undef ARG
    }
    if (!model) die("--model is required", NULL);
    if (runs < 1) runs = 1;
    tp_error err = {0};
    tp_engine_opts eo;
    tp_engine_opts_default(&eo);
    eo.n_threads = threads;
    eo.dtype = dtype;
    eo.quantize = quant;
    double t_load = now();
    tp_engine *e;
    if (tp_engine_load(model, &eo, &e, &err) != TP_OK) die("load", &err);
    t_load = now() - t_load;
    const tp_model_info *info = tp_engine_info(e);

    /* workload */
    FILE *f = fopen(workload, "r");
    if (!f) die("cannot open the workload", NULL);
    size_t cap = 4096, n = 0;
    char **texts = malloc(cap * sizeof *texts);
    char line[65536];
    while (fgets(line, sizeof line, f)) {
        json_error_t je;
        json_t *j = json_loads(line, 0, &je);
        if (!j) continue;
        const char *t = json_string_value(json_object_get(j, "text"));
        if (t) {
            if (n == cap) texts = realloc(texts, (cap *= 2) * sizeof *texts);
            texts[n++] = strdup(t);
        }
        json_decref(j);
        if (limit > 0 && (int)n >= limit) break;
    }
    fclose(f);
    tp_encoding *enc = calloc(n, sizeof *enc);
    tp_seq *seqs = calloc(n, sizeof *seqs);
    int *order = malloc(n * sizeof *order);
    long n_tok = 0;
    double t_tok = now();
    for (size_t i = 0; i < n; i++) {
        if (tp_engine_tokenize(e, texts[i], strlen(texts[i]), NULL, 0, NULL, &enc[i], NULL, &err))
            die("tokenize", &err);
        n_tok += (long)enc[i].len;
        order[i] = (int)i;
    }
    t_tok = now() - t_tok;
    g_enc = enc;
    qsort(order, n, sizeof *order, cmp_len);
    for (size_t i = 0; i < n; i++) {
        const tp_encoding *en = &enc[order[i]];
        seqs[i] = (tp_seq){en->ids, en->type_ids, (int32_t)en->len, 0};
    }

    /* FLOPs: 2 x encoder-layer params per token + attention 4 L h n per token */
    char cfgp[4096];
    snprintf(cfgp, sizeof cfgp, "%s/config.json", model);
    json_t *cfg = json_load_file(cfgp, 0, NULL);
    double h = info->hidden_size, L = info->n_layers;
    double ff = cfg ? (double)json_integer_value(json_object_get(cfg, "intermediate_size")) : 4 * h;
    double params = L * (4 * h * h + 4 * h + 2 * h * ff + ff + h + 4 * h);
    double flop = 0, *sflop = malloc(n * sizeof *sflop); /* per sentence, in sorted order */
    for (size_t i = 0; i < n; i++) {
        double len = (double)enc[order[i]].len;
        flop += sflop[i] = len * (2 * params + 4 * L * h * len);
    }
    if (cfg) json_decref(cfg);

    tp_result *res = calloc(n, sizeof *res);
    tp_run_opts ro;
    tp_run_opts_default(&ro);
    double *times = malloc((size_t)runs * sizeof *times);
    int dim = 0;
    float *emb = NULL;
    for (int r = -1; r < runs; r++) {
        double t0 = now();
        size_t bs = batch > 0 ? (size_t)batch : n;
        for (size_t i = 0; i < n; i += bs) {
            size_t nb = n - i < bs ? n - i : bs;
            if (tp_engine_run(e, TP_TASK_EMBED, seqs + i, nb, &ro, res + i, &err) != TP_OK)
                die("run", &err);
        }
        double t = now() - t0;
        if (r >= 0) times[r] = t;
        if (r == runs - 1) { /* keep the last pass, in workload order */
            dim = res[0].cols;
            emb = malloc(n * (size_t)dim * sizeof *emb);
            for (size_t i = 0; i < n; i++)
                memcpy(emb + (size_t)order[i] * dim, res[i].data, (size_t)dim * sizeof *emb);
        }
        for (size_t i = 0; i < n; i++)
            tp_result_free(&res[i]);
        fprintf(stderr, "tp_bench: %s pass %d: %.3f s\n", r < 0 ? "warm-up" : "timed", r, t);
    }
    double sorted_t[64];
    int nt = runs < 64 ? runs : 64;
    memcpy(sorted_t, times, (size_t)nt * sizeof *times);
    qsort(sorted_t, (size_t)nt, sizeof *sorted_t, cmp_d);
    double med = sorted_t[(nt - 1) / 2];

    /* batch-1 latency: the first workload sentence of 16 tokens */
    int lat_i = -1;
    for (size_t i = 0; i < n && lat_i < 0; i++)
        if (enc[i].len == 16) lat_i = (int)i;
    double p50 = 0, p99 = 0;
    if (lat_i >= 0 && lat_runs > 0) {
        tp_seq s1 = {enc[lat_i].ids, enc[lat_i].type_ids, 16, 0};
        double *lat = malloc((size_t)lat_runs * sizeof *lat);
        for (int r = -20; r < lat_runs; r++) {
            tp_result one;
            double t0 = now();
            if (tp_engine_run(e, TP_TASK_EMBED, &s1, 1, &ro, &one, &err) != TP_OK) die("run", &err);
            double t = now() - t0;
            tp_result_free(&one);
            if (r >= 0) lat[r] = t;
        }
        qsort(lat, (size_t)lat_runs, sizeof *lat, cmp_d);
        p50 = lat[(lat_runs - 1) / 2];
        p99 = lat[(int)ceil(0.99 * lat_runs) - 1];
        free(lat);
    }

    /* paired ceiling: model batches and 2048^3 GEMMs interleaved (see the top of this file) */
    double pm_t = 0, pm_flop = 0, pm_gf = 0, pc_gf[2] = {0, 0}, pc_best = 0;
    ceiling ce = {0};
    if (paired > 0) {
        ceiling_init(&ce, threads);
        ceiling_sample(&ce); /* warm-up */
        ce.t[0] = ce.t[1] = 0;
        ce.calls = 0;
        size_t bs = batch > 0 ? (size_t)batch : n;
        for (int r = 0; r < paired; r++) {
            int nb_done = 0;
            for (size_t i = 0; i < n; i += bs) {
                size_t nb = n - i < bs ? n - i : bs;
                double t0 = now();
                if (tp_engine_run(e, TP_TASK_EMBED, seqs + i, nb, &ro, res + i, &err) != TP_OK)
                    die("run", &err);
                pm_t += now() - t0;
                for (size_t q = i; q < i + nb; q++) {
                    pm_flop += sflop[q];
                    tp_result_free(&res[q]);
                }
                if (++nb_done % CEIL_EVERY == 0) ceiling_sample(&ce);
            }
        }
        if (!ce.calls) ceiling_sample(&ce); /* a pass of one batch (--batch 0) */
        double cflop = 2.0 * CEIL_N * CEIL_N * CEIL_N * ce.calls;
        for (int b = 0; b < 2; b++)
            pc_gf[b] = ce.t[b] > 0 ? cflop / ce.t[b] / 1e9 : 0;
        pm_gf = pm_flop / pm_t / 1e9;
        pc_best = fmax(pc_gf[0], pc_gf[1]);
        fprintf(stderr,
                "tp_bench: paired: model %.1f GFLOP/s, 2048^3 tidepool %.1f, oneDNN %.1f GFLOP/s "
                "(%d samples) -> %.1f%% of the best\n",
                pm_gf, pc_gf[0], pc_gf[1], ce.calls, 100 * pm_gf / pc_best);
    }

    if (save_emb) {
        FILE *o = fopen(save_emb, "wb");
        if (!o || fwrite(emb, sizeof *emb, n * (size_t)dim, o) != n * (size_t)dim)
            die("save-emb", NULL);
        fclose(o);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);

    json_t *out = json_pack(
        "{s:s, s:s, s:s, s:i, s:i, s:s, s:i, s:I, s:f, s:f, s:f, s:f, s:f}", "engine", "tidepool",
        "model", model, "dtype", info->dtype, "threads", threads, "batch", batch, "batching",
        batch > 0 ? "sorted by length, one tp_engine_run per batch, packed "
                    "without padding"
                  : "all sentences sorted by length in one tp_engine_run "
                    "(engine token budget)",
        "sentences", (int)n, "tokens", (json_int_t)n_tok, "tokenize_s", t_tok, "load_s", t_load,
        "flop_per_token", flop / (double)n_tok, "inference_s", med, "inference_min_s", sorted_t[0]);
    json_object_set_new(out, "inference_max_s", json_real(sorted_t[nt - 1]));
    json_object_set_new(out, "sentences_per_s", json_real((double)n / med));
    json_object_set_new(out, "tokens_per_s", json_real((double)n_tok / med));
    json_object_set_new(out, "achieved_gflops", json_real(flop / med / 1e9));
    json_object_set_new(out, "latency16_p50_ms", json_real(p50 * 1e3));
    json_object_set_new(out, "latency16_p99_ms", json_real(p99 * 1e3));
    json_object_set_new(out, "peak_rss_mb", json_real((double)ru.ru_maxrss / 1024.0));
    if (paired > 0)
        json_object_set_new(
            out, "paired_ceiling",
            json_pack("{s:i, s:i, s:f, s:f, s:f, s:f, s:s}", "passes", paired, "samples", ce.calls,
                      "model_gflops", pm_gf, "tidepool_2048_gflops", pc_gf[0], "onednn_2048_gflops",
                      pc_gf[1], "pct_of_ceiling", 100 * pm_gf / pc_best, "ceiling_backend",
                      pc_gf[1] > pc_gf[0] ? "onednn" : "tidepool-f32"));
    json_t *tl = json_array();
    for (int r = 0; r < runs; r++)
        json_array_append_new(tl, json_real(times[r]));
    json_object_set_new(out, "times_s", tl);
    for (int k = 0; k < n_ref; k++) {
        FILE *rf = fopen(ref_emb[k], "rb");
        if (!rf) continue;
        float *ref = malloc(n * (size_t)dim * sizeof *ref);
        size_t got = fread(ref, sizeof *ref, n * (size_t)dim, rf);
        fclose(rf);
        if (got != n * (size_t)dim) {
            free(ref);
            continue;
        }
        double cmin = 1, csum = 0, maxd = 0;
        for (size_t i = 0; i < n; i++) {
            double d = 0, na = 0, nb = 0;
            for (int c = 0; c < dim; c++) {
                double x = emb[i * dim + c], y = ref[i * dim + c];
                d += x * y;
                na += x * x;
                nb += y * y;
                maxd = fmax(maxd, fabs(x - y));
            }
            double cs = d / sqrt(na * nb);
            cmin = fmin(cmin, cs);
            csum += cs;
        }
        json_t *c = json_pack("{s:s, s:f, s:f, s:f}", "ref", ref_emb[k], "cos_min", cmin,
                              "cos_mean", csum / (double)n, "max_abs_diff", maxd);
        json_t *arr = json_object_get(out, "agreement");
        if (!arr) json_object_set_new(out, "agreement", arr = json_array());
        json_array_append_new(arr, c);
        free(ref);
    }
    char *s = json_dumps(out, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
    puts(s);
    if (json_out) {
        FILE *o = fopen(json_out, "w");
        if (o) {
            fputs(s, o);
            fputc('\n', o);
            fclose(o);
        }
    }
    fprintf(stderr,
            "tp_bench: %s %s: %.0f tokens/s, %.1f sentences/s, %.1f GFLOP/s, lat16 p50 %.2f ms, "
            "rss %.0f MB\n",
            model, info->dtype, (double)n_tok / med, (double)n / med, flop / med / 1e9, p50 * 1e3,
            (double)ru.ru_maxrss / 1024.0);
    free(s);
    json_decref(out);
    return 0;
}
