#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const struct {
    const char *name;
    cli_cmd_fn fn;
    const char *help;
} commands[] = {
    {"embed", cmd_embed, "MODEL_DIR           sentence embeddings (JSONL in, JSONL out)"},
    {"tokenize", cmd_tokenize, "MODEL_DIR|--tokenizer F  token ids"},
    {"detokenize", cmd_detokenize, "MODEL_DIR|--tokenizer F  ids back to text"},
    {"info", cmd_info, "MODEL_DIR            what was detected, as JSON"},
    {"score", cmd_score, "MODEL_DIR           relevance scores of (text, pair)"},
    {"classify", cmd_classify, "MODEL_DIR        class probabilities"},
    {"encode", cmd_encode, "MODEL_DIR          token-level outputs"},
    {"serve", cmd_serve, "MODEL_DIR  HTTP server (OpenAI / vLLM API)"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: tidepool COMMAND [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-11s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\nData commands read JSONL from --input FILE (default stdin) and write one JSONL "
               "line per input line to --output FILE (default stdout).\n"
               "Run 'tidepool COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("tidepool %s\n", TP_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "tidepool: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
