/* tidepool info MODEL_DIR: what was detected, as one JSON object. */
#include <string.h>

#include "cli/cli.h"

int cmd_info(int argc, char **argv) {
    const char *model = NULL, *pooler = NULL, *overrides = NULL;
    int bad = 0;
    for (int i = 1; i < argc && !bad; i++) {
        const char *v;
        if (cli_opt(argc, argv, &i, "--pooler-config", &v, &bad)) pooler = v;
        else if (cli_opt(argc, argv, &i, "--hf-overrides", &v, &bad)) overrides = v;
        else if (argv[i][0] == '-') return cli_die("unknown option '%s'", argv[i]);
        else if (!model) model = argv[i];
        else return cli_die("unexpected argument '%s'", argv[i]);
    }
    if (bad) return 2;
    if (!model) {
        fprintf(stderr, "usage: tidepool info MODEL_DIR [--pooler-config JSON] "
                        "[--hf-overrides JSON]\n");
        return 2;
    }
    tp_engine_opts eo;
    tp_engine_opts_default(&eo);
    eo.n_threads = 1;
    eo.pooler_config = pooler;
    eo.hf_overrides = overrides;
    tp_engine *e;
    tp_error err = {0};
    if (tp_engine_load(model, &eo, &e, &err) != TP_OK) return cli_die("%s", err.msg);
    const tp_model_info *in = tp_engine_info(e);
    json_t *tasks = json_array();
    static const struct {
        unsigned bit;
        const char *name;
    } tn[] = {{TP_TASK_EMBED, "embed"},
              {TP_TASK_CLASSIFY, "classify"},
              {TP_TASK_SCORE, "score"},
              {TP_TASK_TOKEN_EMBED, "token_embed"},
              {TP_TASK_TOKEN_CLASSIFY, "token_classify"}};
    for (size_t i = 0; i < sizeof tn / sizeof tn[0]; i++)
        if (in->tasks & tn[i].bit) json_array_append_new(tasks, json_string(tn[i].name));
    json_t *labels = json_array();
    for (int i = 0; in->labels && i < in->num_labels; i++)
        json_array_append_new(labels, json_string(in->labels[i]));
    json_t *o = json_pack("{s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:s, s:b, s:i, s:s, s:s, s:o, "
                          "s:o, s:b}",
                          "architecture", in->architecture, "model_type", in->model_type,
                          "hidden_size", in->hidden_size, "layers", in->n_layers, "heads",
                          in->n_heads, "vocab_size", in->vocab_size, "max_length", in->max_length,
                          "embedding_dim", in->out_dim, "pooling", in->pooling, "normalize",
                          in->normalize, "num_labels", in->num_labels, "dtype", in->dtype,
                          "weight_dtype", in->weight_dtype, "tasks", tasks, "labels", labels,
                          "is_matryoshka", in->is_matryoshka);
    int rc = 0;
    if (!o || json_dumpf(o, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII) != 0) rc = cli_die("write error");
    else putchar('\n');
    json_decref(o);
    tp_engine_free(e);
    return rc;
}
