#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>

const char *tp_status_str(tp_status s) {
    switch (s) {
    case TP_OK: return "ok";
    case TP_NOMEM: return "out of memory";
    case TP_IO: return "i/o error";
    case TP_FORMAT: return "bad format";
    case TP_UNSUPPORTED: return "unsupported";
    case TP_INVALID: return "invalid argument";
    case TP_TOO_LONG: return "input too long";
    case TP_OVERLOADED: return "overloaded";
    case TP_CANCELLED: return "cancelled";
    case TP_INTERNAL: return "internal error";
    }
    return "unknown status";
}

tp_status tp_fail(tp_error *err, tp_status code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

void tp_error_clear(tp_error *err) {
    if (err) {
        err->code = TP_OK;
        err->msg[0] = 0;
    }
}
