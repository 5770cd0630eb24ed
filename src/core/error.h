/* Status helpers shared by every layer. */
#ifndef TP_CORE_ERROR_H
#define TP_CORE_ERROR_H

#include "tidepool.h"

/* Fills err (when not NULL) and returns code, so callers can `return tp_fail(...)`. */
tp_status tp_fail(tp_error *err, tp_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void tp_error_clear(tp_error *err);

#endif
