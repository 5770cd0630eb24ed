#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

const char *tu_data(const char *rel) {
    static char buf[8][4096];
    static int slot;
    char *b = buf[slot++ & 7];
    snprintf(b, 4096, "%s/%s", TP_TEST_DATA, rel);
    return b;
}

tp_engine *tu_engine(const char *dir, const tp_engine_opts *eo) {
    tp_engine *e = NULL;
    tp_error err = {0};
    if (tp_engine_load(dir, eo, &e, &err) != TP_OK) fail_msg("%s: load failed: %s", dir, err.msg);
    return e;
}

json_t *tu_json(const char *path) {
    json_error_t e;
    json_t *j = json_load_file(path, JSON_DECODE_ANY, &e);
    if (!j) fail_msg("cannot load %s: %s (line %d)", path, e.text, e.line);
    return j;
}

double tu_max_abs_diff(const float *a, size_t n, const json_t *arr) {
    if (!json_is_array(arr) || json_array_size(arr) != n) return 1e30;
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - json_number_value(json_array_get(arr, i)));
        if (!(d <= m)) m = d; /* NaN propagates as a failure */
    }
    return m;
}

int tu_run(const char *cmd, char **out) {
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += got;
        if (cap - len < 1024) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    if (buf) buf[len] = 0;
    int st = pclose(p);
    if (out)
        *out = buf;
    else
        free(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
