/* tidepool CLI: shared conventions for every data command.
 * Input is JSONL from --input FILE (default stdin); output is JSONL to --output FILE (default
 * stdout); exactly one output line per input line, in order. Errors go to stderr as one line
 * "tidepool: <what>: <why>" and the exit status is non-zero. */
#ifndef TP_CLI_H
#define TP_CLI_H

#include <jansson.h>
#include <stdio.h>

#include "tidepool.h"

typedef int (*cli_cmd_fn)(int argc, char **argv);

int cmd_embed(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_detokenize(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_score(int argc, char **argv);
int cmd_classify(int argc, char **argv);
int cmd_encode(int argc, char **argv);
int cmd_serve(int argc, char **argv);

/* Prints "tidepool: fmt" to stderr. Returns 1 (the exit status to use). */
int cli_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Common option parsing helpers: match "--name VALUE" or "--name=VALUE". Return 1 and advance *i
 * when argv[*i] is the option; on a missing value print an error and set *bad. */
int cli_opt(int argc, char **argv, int *i, const char *name, const char **value, int *bad);
int cli_flag(char **argv, int i, const char *name);
int cli_int(const char *s, int *out); /* strict decimal parse */

/* JSONL I/O. */
typedef struct cli_io {
    FILE *in;
    FILE *out;
    const char *in_name;
    char *line;
    size_t line_cap;
    long line_no;
} cli_io;

int cli_io_open(cli_io *io, const char *input, const char *output); /* 0 ok, else prints error */
void cli_io_close(cli_io *io);
/* Reads the next line (without the newline) into io->line; returns its length or -1 at EOF.
 * An empty line or one that is not valid UTF-8 is returned as is; callers validate. */
long cli_io_next(cli_io *io);
/* Parses a line as JSON (any value). On error prints "tidepool: <input>:<line>: ..." and returns
 * NULL. */
json_t *cli_parse_line(cli_io *io, long len);
/* Gets the text of an input line: a JSON string or an object with "text". `pair` receives
 * "pair" (or NULL). Prints an error and returns NULL when neither form. */
const char *cli_line_text(cli_io *io, json_t *j, const char **pair);
/* Writes a JSON value as one line; returns 0 on success. */
int cli_write(cli_io *io, json_t *j);
/* Writes a float array as a JSON list with shortest round-trip formatting. */
void cli_write_floats(FILE *f, const float *x, size_t n);

/* A progress bar on stderr when stderr is a terminal. */
typedef struct cli_progress {
    int enabled;
    long total; /* -1 unknown */
    long done;
    double t0;
    double last;
} cli_progress;
void cli_progress_start(cli_progress *p, long total);
void cli_progress_tick(cli_progress *p, long n);
void cli_progress_end(cli_progress *p);

#endif
