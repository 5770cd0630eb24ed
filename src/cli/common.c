#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/util.h"

int cli_die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("tidepool: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

int cli_opt(int argc, char **argv, int *i, const char *name, const char **value, int *bad) {
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0) return 0;
    if (a[n] == '=') {
        *value = a + n + 1;
        return 1;
    }
    if (a[n] != 0) return 0;
    if (*i + 1 >= argc) {
        cli_die("option %s needs a value", name);
        *bad = 1;
        return 1;
    }
    *value = argv[++*i];
    return 1;
}

int cli_flag(char **argv, int i, const char *name) {
    return !strcmp(argv[i], name);
}

int cli_int(const char *s, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < INT_MIN || v > INT_MAX) return 0;
    *out = (int)v;
    return 1;
}

int cli_io_open(cli_io *io, const char *input, const char *output) {
    memset(io, 0, sizeof *io);
    io->in = stdin;
    io->out = stdout;
    io->in_name = "<stdin>";
    if (input && strcmp(input, "-")) {
        io->in = fopen(input, "rb");
        if (!io->in) return cli_die("%s: cannot open: %s", input, strerror(errno));
        io->in_name = input;
    }
    if (output && strcmp(output, "-")) {
        io->out = fopen(output, "wb");
        if (!io->out) {
            if (io->in != stdin) fclose(io->in);
            return cli_die("%s: cannot create: %s", output, strerror(errno));
        }
    }
    return 0;
}

void cli_io_close(cli_io *io) {
    if (io->in && io->in != stdin) fclose(io->in);
    if (io->out && io->out != stdout) fclose(io->out);
    else if (io->out) fflush(io->out);
    free(io->line);
    io->line = NULL;
}

long cli_io_next(cli_io *io) {
    ssize_t n = getline(&io->line, &io->line_cap, io->in);
    if (n < 0) return -1;
    io->line_no++;
    if (n > 0 && io->line[n - 1] == '\n') io->line[--n] = 0;
    if (n > 0 && io->line[n - 1] == '\r') io->line[--n] = 0;
    return (long)n;
}

json_t *cli_parse_line(cli_io *io, long len) {
    if (len == 0) {
        cli_die("%s:%ld: empty input line (expected a JSON string or object)", io->in_name,
                io->line_no);
        return NULL;
    }
    if (!tp_utf8_valid(io->line, (size_t)len)) {
        cli_die("%s:%ld: input line is not valid UTF-8", io->in_name, io->line_no);
        return NULL;
    }
    json_error_t e;
    json_t *j = json_loadb(io->line, (size_t)len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    if (!j) {
        cli_die("%s:%ld: invalid JSON: %s", io->in_name, io->line_no, e.text);
        return NULL;
    }
    return j;
}

const char *cli_line_text(cli_io *io, json_t *j, const char **pair) {
    if (pair) *pair = NULL;
    if (json_is_string(j)) return json_string_value(j);
    if (json_is_object(j)) {
        json_t *t = json_object_get(j, "text");
        json_t *p = json_object_get(j, "pair");
        if (json_is_string(t)) {
            if (p && !json_is_string(p) && !json_is_null(p)) {
                cli_die("%s:%ld: \"pair\" must be a string", io->in_name, io->line_no);
                return NULL;
            }
            if (pair && json_is_string(p)) *pair = json_string_value(p);
            return json_string_value(t);
        }
    }
    cli_die("%s:%ld: expected a JSON string or an object with a \"text\" string", io->in_name,
            io->line_no);
    return NULL;
}

int cli_write(cli_io *io, json_t *j) {
    if (json_dumpf(j, io->out, JSON_COMPACT | JSON_ENSURE_ASCII) != 0) return -1;
    return fputc('\n', io->out) == EOF ? -1 : 0;
}

void cli_write_floats(FILE *f, const float *x, size_t n) {
    fputc('[', f);
    for (size_t i = 0; i < n; i++) {
        if (i) fputc(',', f);
        if (!isfinite(x[i])) {
            fputs("null", f);
            continue;
        }
        fprintf(f, "%.9g", (double)x[i]);
    }
    fputc(']', f);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void cli_progress_start(cli_progress *p, long total) {
    memset(p, 0, sizeof *p);
    p->enabled = isatty(2);
    p->total = total;
    p->t0 = p->last = now_s();
}

static void progress_draw(cli_progress *p, double t) {
    double rate = p->done / (t - p->t0 > 1e-9 ? t - p->t0 : 1e-9);
    if (p->total > 0) {
        int w = 30, fill = (int)((double)p->done / (double)p->total * w);
        if (fill > w) fill = w;
        fprintf(stderr, "\r[%.*s%*s] %ld/%ld  %.0f/s", fill, "##############################",
                w - fill, "", p->done, p->total, rate);
    } else {
        fprintf(stderr, "\r%ld done  %.0f/s", p->done, rate);
    }
}

void cli_progress_tick(cli_progress *p, long n) {
    p->done += n;
    if (!p->enabled) return;
    double t = now_s();
    if (t - p->last < 0.2) return;
    p->last = t;
    progress_draw(p, t);
}

void cli_progress_end(cli_progress *p) {
    if (!p->enabled) return;
    progress_draw(p, now_s());
    fputc('\n', stderr);
}
