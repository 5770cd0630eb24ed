/* tidepool serve MODEL_DIR: the HTTP server (OpenAI / vLLM API). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "server/server.h"

static void serve_usage(FILE *f) {
    fprintf(f,
            "usage: tidepool serve MODEL_DIR [options]\n\n"
            "HTTP server with the OpenAI embeddings API and vLLM's pooling endpoints.\n\n"
            "  --host HOST                    address to bind (default 127.0.0.1)\n"
            "  --port N                       port (default 8000; 0: any free port)\n"
            "  --served-model-name NAME       model name in requests and responses\n"
            "                                 (default: the folder's name)\n"
            "  --api-key KEY                  require 'Authorization: Bearer KEY'\n"
            "                                 (default: $TIDEPOOL_API_KEY, else none)\n"
            "  --max-batch-tokens N           token budget per forward pass (default 16384)\n"
            "  --max-concurrent-requests N    requests in progress before 429 (default 512)\n"
            "  --max-request-bytes N          request body limit (default 16777216)\n"
            "  --threads N                    compute threads (default: all cores)\n"
            "  --auto-truncate                truncate over-long inputs instead of 400\n"
            "  --max-length N                 override the model's max tokens per input\n"
            "  --dtype f32|bf16               compute dtype\n"
            "  --pooler-config JSON           vLLM pooler config (pooling_type, normalize, ...)\n"
            "  --hf-overrides JSON            overrides applied to config.json\n"
            "  --shutdown-grace SECONDS       wait for in-flight requests on SIGTERM (default 30)\n"
            "  --quiet                        no request-independent log lines\n");
}

static void log_stderr(void *ctx, const char *msg) {
    (void)ctx;
    fprintf(stderr, "tidepool: %s\n", msg);
    fflush(stderr);
}

static int parse_size(const char *s, size_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v == 0) return 0;
    *out = (size_t)v;
    return 1;
}

int cmd_serve(int argc, char **argv) {
    tp_server_opts so;
    tp_server_opts_default(&so);
    tp_engine_opts eo;
    tp_engine_opts_default(&eo);
    const char *dir = NULL;
    const char *v = NULL;
    int bad = 0, quiet = 0;
    double grace = 30;
    so.api_key = getenv("TIDEPOOL_API_KEY");
    for (int i = 1; i < argc && !bad; i++) {
        const char *a = argv[i];
        if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) {
            serve_usage(stdout);
            return 0;
        } else if (cli_opt(argc, argv, &i, "--host", &v, &bad)) {
            so.host = v;
        } else if (cli_opt(argc, argv, &i, "--port", &v, &bad)) {
            if (!bad && (!cli_int(v, &so.port) || so.port < 0 || so.port > 65535))
                return cli_die("--port: expected 0..65535, got '%s'", v);
        } else if (cli_opt(argc, argv, &i, "--served-model-name", &v, &bad)) {
            so.model_name = v;
        } else if (cli_opt(argc, argv, &i, "--api-key", &v, &bad)) {
            so.api_key = v;
        } else if (cli_opt(argc, argv, &i, "--max-batch-tokens", &v, &bad)) {
            if (!bad && (!cli_int(v, &so.max_batch_tokens) || so.max_batch_tokens < 1))
                return cli_die("--max-batch-tokens: expected a positive number, got '%s'", v);
        } else if (cli_opt(argc, argv, &i, "--max-concurrent-requests", &v, &bad)) {
            if (!bad && (!cli_int(v, &so.max_concurrent) || so.max_concurrent < 1))
                return cli_die("--max-concurrent-requests: expected a positive number, got '%s'",
                               v);
        } else if (cli_opt(argc, argv, &i, "--max-request-bytes", &v, &bad)) {
            if (!bad && !parse_size(v, &so.max_request_bytes))
                return cli_die("--max-request-bytes: expected a positive number, got '%s'", v);
        } else if (cli_opt(argc, argv, &i, "--threads", &v, &bad)) {
            if (!bad && (!cli_int(v, &eo.n_threads) || eo.n_threads < 0))
                return cli_die("--threads: expected a number >= 0, got '%s'", v);
        } else if (cli_opt(argc, argv, &i, "--max-length", &v, &bad)) {
            if (!bad && (!cli_int(v, &eo.max_length) || eo.max_length < 1))
                return cli_die("--max-length: expected a positive number, got '%s'", v);
        } else if (cli_opt(argc, argv, &i, "--dtype", &v, &bad)) {
            eo.dtype = v;
        } else if (cli_opt(argc, argv, &i, "--pooler-config", &v, &bad)) {
            eo.pooler_config = v;
        } else if (cli_opt(argc, argv, &i, "--override-pooler-config", &v, &bad)) {
            eo.pooler_config = v;
        } else if (cli_opt(argc, argv, &i, "--hf-overrides", &v, &bad)) {
            eo.hf_overrides = v;
        } else if (cli_opt(argc, argv, &i, "--shutdown-grace", &v, &bad)) {
            char *end;
            if (!bad && ((grace = strtod(v, &end)) < 0 || end == v || *end))
                return cli_die("--shutdown-grace: expected seconds, got '%s'", v);
        } else if (cli_flag(argv, i, "--auto-truncate")) {
            so.auto_truncate = 1;
        } else if (cli_flag(argv, i, "--quiet")) {
            quiet = 1;
        } else if (a[0] == '-' && a[1]) {
            cli_die("serve: unknown option '%s'", a);
            serve_usage(stderr);
            return 2;
        } else if (!dir) {
            dir = a;
        } else {
            return cli_die("serve: more than one MODEL_DIR ('%s' and '%s')", dir, a);
        }
    }
    if (bad) return 2;
    if (!dir) {
        serve_usage(stderr);
        return 2;
    }
    so.model_dir = dir;
    eo.max_batch_tokens = so.max_batch_tokens;
    if (!quiet) {
        so.log = log_stderr;
        so.log_ctx = NULL;
    }

    /* SIGINT/SIGTERM are taken by sigwait in this thread only: block them before any thread
     * starts so that every thread inherits the mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    tp_error err;
    tp_engine *engine = NULL;
    tp_status st = tp_engine_load(dir, &eo, &engine, &err);
    if (st != TP_OK) return cli_die("%s: %s", dir, err.msg[0] ? err.msg : tp_status_str(st));
    tp_server *srv = NULL;
    st = tp_server_start(engine, &so, &srv, &err);
    if (st != TP_OK) {
        tp_engine_free(engine);
        return cli_die("serve: %s", err.msg[0] ? err.msg : tp_status_str(st));
    }
    if (!quiet) {
        const tp_model_info *mi = tp_engine_info(engine);
        fprintf(stderr,
                "tidepool: model %s (%s), max length %d, tasks 0x%x; listening on port %d\n",
                mi->architecture ? mi->architecture : "?", mi->pooling ? mi->pooling : "-",
                mi->max_length, mi->tasks, tp_server_port(srv));
        fflush(stderr);
    }

    int sig = 0;
    while (sigwait(&sigs, &sig) != 0) {
    }
    if (!quiet) {
        fprintf(stderr, "tidepool: %s received; finishing in-flight requests\n",
                sig == SIGINT ? "SIGINT" : "SIGTERM");
        fflush(stderr);
    }
    size_t left = tp_server_stop(srv, grace);
    tp_server_free(srv);
    tp_engine_free(engine);
    if (!quiet) {
        fprintf(stderr, "tidepool: stopped\n");
        fflush(stderr);
    }
    return left ? 1 : 0;
}
