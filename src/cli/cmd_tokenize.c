/* tidepool tokenize / detokenize: JSONL in, JSONL out, through the tokenizer API alone. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/util.h"

static const char TOK_USAGE[] =
    "usage: tidepool tokenize (MODEL_DIR | --tokenizer FILE) [--no-special] [--max-length N]\n"
    "                         [--input F] [--output F]\n"
    "  input lines: a JSON string or {\"text\": ..., \"pair\": ...}\n"
    "  output lines: {\"ids\": [...], \"type_ids\": [...]}\n"
    "  With MODEL_DIR, inputs are truncated to the model max length (sentence_bert_config.json\n"
    "  max_seq_length, else tokenizer_config.json model_max_length) unless --max-length is given\n"
    "  (--max-length 0: no truncation).\n";

static const char DETOK_USAGE[] =
    "usage: tidepool detokenize (MODEL_DIR | --tokenizer FILE) [--skip-special] [--input F]\n"
    "                           [--output F]\n"
    "  input lines: {\"ids\": [...]} or a JSON list of ids; output lines: {\"text\": ...}\n";

typedef struct tok_args {
    const char *model_dir, *tokenizer, *input, *output;
    int flag;       /* --no-special / --skip-special */
    int max_length; /* -1: model default */
} tok_args;

static int parse_args(int argc, char **argv, const char *flag, const char *usage, tok_args *a) {
    memset(a, 0, sizeof *a);
    a->max_length = -1;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int bad = 0;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage, stdout);
            return 2;
        }
        if (cli_opt(argc, argv, &i, "--tokenizer", &a->tokenizer, &bad) ||
            cli_opt(argc, argv, &i, "--input", &a->input, &bad) ||
            cli_opt(argc, argv, &i, "--output", &a->output, &bad)) {
            if (bad) return 1;
            continue;
        }
        if (flag && cli_opt(argc, argv, &i, "--max-length", &v, &bad)) {
            if (bad) return 1;
            if (!cli_int(v, &a->max_length) || a->max_length < 0)
                return cli_die("--max-length: expected a non-negative integer, got '%s'", v);
            continue;
        }
        if (cli_flag(argv, i, flag)) {
            a->flag = 1;
            continue;
        }
        if (argv[i][0] == '-' && argv[i][1]) {
            cli_die("unknown option '%s'", argv[i]);
            fputs(usage, stderr);
            return 1;
        }
        if (a->model_dir) return cli_die("more than one MODEL_DIR given");
        a->model_dir = argv[i];
    }
    if (!a->model_dir == !a->tokenizer) {
        cli_die("give exactly one of MODEL_DIR or --tokenizer FILE");
        fputs(usage, stderr);
        return 1;
    }
    return 0;
}

/* Model max length: ST max_seq_length, else tokenizer_config model_max_length (<= 1e6). */
static int model_max_length(const char *dir) {
    char path[4096];
    json_t *j;
    int n = 0;
    if (tp_path_join(path, sizeof path, dir, "sentence_bert_config.json") && tp_file_exists(path) &&
        (j = json_load_file(path, 0, NULL))) {
        json_t *v = json_object_get(j, "max_seq_length");
        if (json_is_integer(v) && json_integer_value(v) > 0 && json_integer_value(v) <= 1000000)
            n = (int)json_integer_value(v);
        json_decref(j);
        if (n) return n;
    }
    if (tp_path_join(path, sizeof path, dir, "tokenizer_config.json") && tp_file_exists(path) &&
        (j = json_load_file(path, 0, NULL))) {
        json_t *v = json_object_get(j, "model_max_length");
        double x = json_is_number(v) ? json_number_value(v) : 0;
        if (x > 0 && x <= 1e6) n = (int)x;
        json_decref(j);
    }
    return n;
}

static int load_tokenizer(const tok_args *a, tp_tokenizer **t) {
    tp_error err = {0};
    tp_status st;
    if (a->tokenizer) {
        st = tp_tokenizer_load(a->tokenizer, NULL, t, &err);
    } else {
        char tj[4096], tc[4096];
        if (!tp_path_join(tj, sizeof tj, a->model_dir, "tokenizer.json") ||
            !tp_path_join(tc, sizeof tc, a->model_dir, "tokenizer_config.json"))
            return cli_die("%s: path too long", a->model_dir);
        if (!tp_file_exists(tj))
            return cli_die("%s: no tokenizer.json in the folder", a->model_dir);
        st = tp_tokenizer_load(tj, tp_file_exists(tc) ? tc : NULL, t, &err);
    }
    if (st != TP_OK) return cli_die("%s", err.msg);
    return 0;
}

static void write_ints(FILE *f, const int32_t *v, size_t n) {
    fputc('[', f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, i ? ",%d" : "%d", v[i]);
    fputc(']', f);
}

int cmd_tokenize(int argc, char **argv) {
    tok_args a;
    int rc = parse_args(argc, argv, "--no-special", TOK_USAGE, &a);
    if (rc) return rc == 2 ? 0 : rc;
    tp_tokenizer *t;
    if (load_tokenizer(&a, &t)) return 1;
    tp_encode_opts o;
    tp_encode_opts_default(&o);
    o.add_special = !a.flag;
    if (a.max_length >= 0)
        o.max_length = (size_t)a.max_length;
    else if (a.model_dir)
        o.max_length = (size_t)model_max_length(a.model_dir);
    cli_io io;
    if (cli_io_open(&io, a.input, a.output)) {
        tp_tokenizer_free(t);
        return 1;
    }
    tp_encoding enc = {0};
    long len;
    rc = 0;
    while ((len = cli_io_next(&io)) >= 0) {
        json_t *j = cli_parse_line(&io, len);
        if (!j) {
            rc = 1;
            break;
        }
        const char *pair;
        const char *text = cli_line_text(&io, j, &pair);
        if (!text) {
            json_decref(j);
            rc = 1;
            break;
        }
        json_t *jt = json_is_string(j) ? j : json_object_get(j, "text");
        json_t *jp = json_is_object(j) ? json_object_get(j, "pair") : NULL;
        tp_error err = {0};
        if (tp_tokenizer_encode(t, text, json_string_length(jt), pair,
                                pair ? json_string_length(jp) : 0, &o, &enc, &err) != TP_OK) {
            cli_die("%s:%ld: %s", io.in_name, io.line_no, err.msg);
            json_decref(j);
            rc = 1;
            break;
        }
        json_decref(j);
        fputs("{\"ids\":", io.out);
        write_ints(io.out, enc.ids, enc.len);
        fputs(",\"type_ids\":", io.out);
        write_ints(io.out, enc.type_ids, enc.len);
        if (fputs("}\n", io.out) == EOF) {
            rc = cli_die("write error");
            break;
        }
    }
    tp_encoding_free(&enc);
    cli_io_close(&io);
    tp_tokenizer_free(t);
    return rc;
}

int cmd_detokenize(int argc, char **argv) {
    tok_args a;
    int rc = parse_args(argc, argv, "--skip-special", DETOK_USAGE, &a);
    if (rc) return rc == 2 ? 0 : rc;
    tp_tokenizer *t;
    if (load_tokenizer(&a, &t)) return 1;
    cli_io io;
    if (cli_io_open(&io, a.input, a.output)) {
        tp_tokenizer_free(t);
        return 1;
    }
    long len;
    rc = 0;
    int32_t *ids = NULL;
    while ((len = cli_io_next(&io)) >= 0) {
        json_t *j = cli_parse_line(&io, len);
        if (!j) {
            rc = 1;
            break;
        }
        json_t *arr = json_is_array(j) ? j : json_object_get(j, "ids");
        size_t n = json_array_size(arr);
        int32_t *nid = json_is_array(arr) ? realloc(ids, (n + 1) * sizeof *ids) : NULL;
        if (!nid) {
            cli_die("%s:%ld: expected {\"ids\": [...]} or a list of ids", io.in_name, io.line_no);
            json_decref(j);
            rc = 1;
            break;
        }
        ids = nid;
        int bad = 0;
        for (size_t i = 0; i < n; i++) {
            json_t *v = json_array_get(arr, i);
            if (!json_is_integer(v) || json_integer_value(v) < 0 ||
                json_integer_value(v) > INT32_MAX) {
                bad = 1;
                break;
            }
            ids[i] = (int32_t)json_integer_value(v);
        }
        json_decref(j);
        if (bad) {
            rc = cli_die("%s:%ld: ids must be non-negative integers", io.in_name, io.line_no);
            break;
        }
        char *text;
        size_t tlen;
        tp_error err = {0};
        if (tp_tokenizer_decode(t, ids, n, a.flag, &text, &tlen, &err) != TP_OK) {
            rc = cli_die("%s:%ld: %s", io.in_name, io.line_no, err.msg);
            break;
        }
        json_t *o = json_object();
        json_object_set_new(o, "text", json_stringn(text, tlen));
        free(text);
        int w = cli_write(&io, o);
        json_decref(o);
        if (w) {
            rc = cli_die("write error");
            break;
        }
    }
    free(ids);
    cli_io_close(&io);
    tp_tokenizer_free(t);
    return rc;
}
