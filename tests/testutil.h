/* Helpers shared by the cmocka tests. Test data lives in tests/data (TP_TEST_DATA). */
#ifndef TP_TESTUTIL_H
#define TP_TESTUTIL_H

#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tidepool.h"

/* Path under tests/data; returns a static buffer (one per call site is enough for tests). */
const char *tu_data(const char *rel);
/* Loads a JSON file or fails the test. */
json_t *tu_json(const char *path);
/* Max |a[i]-b[i]| of a float array against a JSON number array (n must match, else 1e30). */
double tu_max_abs_diff(const float *a, size_t n, const json_t *arr);
/* Loads an engine with the given options (NULL: defaults) or fails the test, naming dir. */
tp_engine *tu_engine(const char *dir, const tp_engine_opts *eo);
/* Runs a shell command, captures stdout into a malloc'd buffer; returns exit status. */
int tu_run(const char *cmd, char **out);

#endif
