/* Data commands that run the model: embed, score, classify, encode. They share one loop: read a
 * chunk of JSONL lines, tokenize, run one tp_engine_run call, write one line per input line. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define CHUNK 256

typedef enum { CMD_EMBED, CMD_SCORE, CMD_CLASSIFY, CMD_ENCODE } cmd_kind;

typedef struct {
    const char *model, *input, *output, *prompt_name, *pooler_config, *hf_overrides, *dtype,
        *quantize;
    int max_length, threads, dimensions, batch_tokens, no_truncate;
} run_args;

static void usage(cmd_kind k) {
    static const char *names[] = {"embed", "score", "classify", "encode"};
    fprintf(stderr,
            "usage: tidepool %s MODEL_DIR [--input FILE] [--output FILE] [--max-length N]\n"
            "       [--threads N] [--pooler-config JSON] [--hf-overrides JSON] [--dtype f32|bf16]\n"
            "       [--quantize int8] [--batch-tokens N] [--no-truncate]%s\n",
            names[k], k == CMD_EMBED ? " [--prompt-name NAME] [--dimensions N]" : "");
    if (k == CMD_EMBED)
        fprintf(stderr, "input lines: a JSON string or {\"text\": ...}\n"
                        "output lines: {\"index\": i, \"embedding\": [...], \"tokens\": n}\n");
    else if (k == CMD_SCORE)
        fprintf(stderr, "input lines: {\"text\": query, \"pair\": document} (or only \"text\": "
                        "one pre-formatted sequence)\noutput lines: {\"index\": i, \"score\": s}\n");
    else if (k == CMD_CLASSIFY)
        fprintf(stderr, "output lines: {\"index\": i, \"probs\": [...], \"label\": name}\n");
    else
        fprintf(stderr, "output lines: {\"index\": i, \"data\": [[...], ...]} (token level)\n");
}

static int parse_args(int argc, char **argv, cmd_kind k, run_args *a) {
    memset(a, 0, sizeof *a);
    int bad = 0;
    for (int i = 1; i < argc && !bad; i++) {
        const char *v = NULL;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(k);
            exit(0);
        } else if (cli_opt(argc, argv, &i, "--input", &v, &bad)) a->input = v;
        else if (cli_opt(argc, argv, &i, "--output", &v, &bad)) a->output = v;
        else if (cli_opt(argc, argv, &i, "--prompt-name", &v, &bad)) a->prompt_name = v;
        else if (cli_opt(argc, argv, &i, "--pooler-config", &v, &bad)) a->pooler_config = v;
        else if (cli_opt(argc, argv, &i, "--hf-overrides", &v, &bad)) a->hf_overrides = v;
        else if (cli_opt(argc, argv, &i, "--dtype", &v, &bad)) a->dtype = v;
        else if (cli_opt(argc, argv, &i, "--quantize", &v, &bad)) a->quantize = v;
        else if (cli_flag(argv, i, "--no-truncate")) a->no_truncate = 1;
        else if (cli_opt(argc, argv, &i, "--max-length", &v, &bad) ||
                 cli_opt(argc, argv, &i, "--threads", &v, &bad) ||
                 cli_opt(argc, argv, &i, "--dimensions", &v, &bad) ||
                 cli_opt(argc, argv, &i, "--batch-tokens", &v, &bad)) {
            if (bad) break;
            const char *name = argv[i - 1];
            int *dst = strstr(name, "max-length")  ? &a->max_length
                       : strstr(name, "threads")   ? &a->threads
                       : strstr(name, "dimensions") ? &a->dimensions
                                                    : &a->batch_tokens;
            if (!cli_int(v, dst) || *dst < 0) {
                cli_die("%s: expected a non-negative integer, got '%s'", name, v);
                bad = 1;
            }
        } else if (argv[i][0] == '-' && argv[i][1]) {
            cli_die("unknown option '%s'", argv[i]);
            bad = 1;
        } else if (!a->model) a->model = argv[i];
        else {
            cli_die("unexpected argument '%s'", argv[i]);
            bad = 1;
        }
    }
    if (!bad && !a->model) {
        usage(k);
        return 2;
    }
    if (!bad && a->prompt_name && k != CMD_EMBED) {
        cli_die("--prompt-name is only for embed");
        bad = 1;
    }
    return bad ? 2 : 0;
}

typedef struct {
    tp_encoding enc[2]; /* text, pair (for cosine scoring of embedding models) */
    int32_t prompt_len;
    int cosine;
} line_in;

static double cosine(const float *a, const float *b, int n) {
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < n; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    double d = sqrt(aa) * sqrt(bb);
    return d > 0 ? ab / d : 0;
}

static int write_result(cli_io *io, cmd_kind k, const tp_engine *e, long index, line_in *li,
                        tp_result *r, tp_result *r2) {
    FILE *f = io->out;
    const tp_model_info *info = tp_engine_info(e);
    fprintf(f, "{\"index\":%ld,", index);
    if (k == CMD_EMBED) {
        fputs("\"embedding\":", f);
        cli_write_floats(f, r->data, (size_t)r->cols);
        fprintf(f, ",\"tokens\":%zu}\n", li->enc[0].len);
    } else if (k == CMD_SCORE) {
        double s = li->cosine ? cosine(r->data, r2->data, r->cols) : (double)r->data[0];
        fprintf(f, "\"score\":%.9g}\n", s);
    } else if (k == CMD_CLASSIFY) {
        fputs("\"probs\":", f);
        cli_write_floats(f, r->data, (size_t)r->cols);
        int best = 0;
        for (int i = 1; i < r->cols; i++)
            if (r->data[i] > r->data[best]) best = i;
        json_t *lab = json_string(info->labels ? info->labels[best] : "");
        fputs(",\"label\":", f);
        json_dumpf(lab, f, JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
        json_decref(lab);
        fputs("}\n", f);
    } else {
        fputs("\"data\":[", f);
        for (int t = 0; t < r->rows; t++) {
            if (t) fputc(',', f);
            cli_write_floats(f, r->data + (size_t)t * r->cols, (size_t)r->cols);
        }
        fputs("]}\n", f);
    }
    return ferror(f) ? -1 : 0;
}

static int run_cmd(int argc, char **argv, cmd_kind k) {
    run_args a;
    int rc = parse_args(argc, argv, k, &a);
    if (rc) return rc;
    tp_engine_opts eo;
    tp_engine_opts_default(&eo);
    eo.n_threads = a.threads;
    eo.max_length = a.max_length;
    eo.pooler_config = a.pooler_config;
    eo.hf_overrides = a.hf_overrides;
    eo.dtype = a.dtype;
    eo.quantize = a.quantize;
    eo.max_batch_tokens = a.batch_tokens;
    tp_error err = {0};
    tp_engine *e = NULL;
    if (tp_engine_load(a.model, &eo, &e, &err) != TP_OK) return cli_die("%s", err.msg);
    const tp_model_info *info = tp_engine_info(e);
    tp_task task = k == CMD_EMBED ? TP_TASK_EMBED
                   : k == CMD_CLASSIFY ? TP_TASK_CLASSIFY
                   : k == CMD_ENCODE ? (info->num_labels > 0 ? TP_TASK_TOKEN_CLASSIFY
                                                             : TP_TASK_TOKEN_EMBED)
                                     : TP_TASK_SCORE;
    int cosine_score = k == CMD_SCORE && info->num_labels == 0;
    if (!(info->tasks & task)) {
        /* info belongs to e: report before freeing it */
        int bad = cli_die("%s: this model (%s) cannot do that; it supports:%s%s%s%s%s", a.model,
                          info->architecture, info->tasks & TP_TASK_EMBED ? " embed" : "",
                          info->tasks & TP_TASK_CLASSIFY ? " classify" : "",
                          info->tasks & TP_TASK_SCORE ? " score" : "",
                          info->tasks & (TP_TASK_TOKEN_EMBED | TP_TASK_TOKEN_CLASSIFY) ? " encode"
                                                                                       : "",
                          "");
        tp_engine_free(e);
        return bad;
    }
    const char *prompt = NULL;
    if (a.prompt_name) {
        prompt = tp_engine_prompt(e, a.prompt_name);
        if (!prompt) {
            tp_engine_free(e);
            return cli_die("%s: no prompt named '%s' in config_sentence_transformers.json",
                           a.model, a.prompt_name);
        }
    }
    if (a.dimensions > 0 && k != CMD_EMBED) {
        tp_engine_free(e);
        return cli_die("--dimensions is only for embed");
    }
    cli_io io;
    if (cli_io_open(&io, a.input, a.output)) {
        tp_engine_free(e);
        return 1;
    }
    line_in *lines = calloc(CHUNK, sizeof *lines);
    tp_seq *seqs = calloc(2 * CHUNK, sizeof *seqs);
    tp_result *res = calloc(2 * CHUNK, sizeof *res);
    if (!lines || !seqs || !res) {
        rc = cli_die("out of memory");
        goto done;
    }
    tp_tokenize_opts to;
    tp_tokenize_opts_default(&to);
    to.truncate = !a.no_truncate;
    to.prompt = prompt;
    tp_run_opts ro;
    tp_run_opts_default(&ro);
    ro.dimensions = a.dimensions;
    cli_progress prog;
    cli_progress_start(&prog, -1);
    long index = 0;
    int eof = 0;
    while (!eof && rc == 0) {
        int n = 0, ns = 0;
        while (n < CHUNK) {
            long len = cli_io_next(&io);
            if (len < 0) {
                eof = 1;
                break;
            }
            json_t *j = cli_parse_line(&io, len);
            if (!j) {
                rc = 1;
                break;
            }
            const char *pair = NULL;
            const char *text = cli_line_text(&io, j, &pair);
            if (!text) {
                json_decref(j);
                rc = 1;
                break;
            }
            line_in *li = &lines[n];
            li->cosine = cosine_score && pair;
            if (k == CMD_SCORE && cosine_score && !pair) {
                cli_die("%s:%ld: scoring with an embedding model needs \"text\" and \"pair\"",
                        io.in_name, io.line_no);
                json_decref(j);
                rc = 1;
                break;
            }
            if (pair && (k == CMD_EMBED || k == CMD_ENCODE)) {
                cli_die("%s:%ld: \"pair\" is only used by score and classify", io.in_name,
                        io.line_no);
                json_decref(j);
                rc = 1;
                break;
            }
            tp_status s = tp_engine_tokenize(e, text, strlen(text), li->cosine ? NULL : pair,
                                             pair && !li->cosine ? strlen(pair) : 0, &to,
                                             &li->enc[0], &li->prompt_len, &err);
            if (s == TP_OK && li->cosine)
                s = tp_engine_tokenize(e, pair, strlen(pair), NULL, 0, &to, &li->enc[1], NULL,
                                       &err);
            json_decref(j);
            if (s != TP_OK) {
                rc = cli_die("%s:%ld: %s", io.in_name, io.line_no, err.msg);
                break;
            }
            for (int q = 0; q < (li->cosine ? 2 : 1); q++) {
                tp_seq *sq = &seqs[ns++];
                sq->ids = li->enc[q].ids;
                sq->type_ids = li->enc[q].type_ids;
                sq->len = (int32_t)li->enc[q].len;
                sq->prompt_len = q == 0 ? li->prompt_len : 0;
            }
            n++;
        }
        if (rc || n == 0) break;
        tp_task t = task;
        if (cosine_score) t = TP_TASK_EMBED;
        if (tp_engine_run(e, t, seqs, (size_t)ns, &ro, res, &err) != TP_OK) {
            rc = cli_die("%s", err.msg);
            break;
        }
        int si = 0;
        for (int q = 0; q < n && rc == 0; q++) {
            line_in *li = &lines[q];
            tp_result *r2 = li->cosine ? &res[si + 1] : NULL;
            if (write_result(&io, k, e, index++, li, &res[si], r2)) rc = cli_die("write error");
            si += li->cosine ? 2 : 1;
        }
        for (int q = 0; q < ns; q++) tp_result_free(&res[q]);
        cli_progress_tick(&prog, n);
    }
    cli_progress_end(&prog);
done:
    if (lines)
        for (int q = 0; q < CHUNK; q++) {
            tp_encoding_free(&lines[q].enc[0]);
            tp_encoding_free(&lines[q].enc[1]);
        }
    free(lines);
    free(seqs);
    free(res);
    cli_io_close(&io);
    tp_engine_free(e);
    return rc;
}

int cmd_embed(int argc, char **argv) {
    return run_cmd(argc, argv, CMD_EMBED);
}
int cmd_score(int argc, char **argv) {
    return run_cmd(argc, argv, CMD_SCORE);
}
int cmd_classify(int argc, char **argv) {
    return run_cmd(argc, argv, CMD_CLASSIFY);
}
int cmd_encode(int argc, char **argv) {
    return run_cmd(argc, argv, CMD_ENCODE);
}
