/* Error code table and message helpers. */
#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *ms_strerror(int code)
{
    switch (code) {
    case MS_OK:
        return "success";
#define MS_ERR_CASE(num, name, text)                                           \
    case MS_ERR_##name:                                                        \
        return text;
        MS_ERR_MAP(MS_ERR_CASE)
#undef MS_ERR_CASE
    }
    return "unknown error";
}

int ms_error_set(ms_error_t *err, int code, const char *fmt, ...)
{
    if (!err) return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

int ms_error_prefix(ms_error_t *err, const char *fmt, ...)
{
    if (!err) return MS_ERR_FAILED;
    char prefix[512], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    /* Truncating a long message is fine: it is for people to read. */
    size_t n = strlen(prefix);
    if (n > sizeof err->msg - 3) n = sizeof err->msg - 3;
    memcpy(err->msg, prefix, n);
    memcpy(err->msg + n, ": ", 2);
    size_t room = sizeof err->msg - n - 3;
    size_t len = strnlen(old, room);
    memcpy(err->msg + n + 2, old, len);
    err->msg[n + 2 + len] = '\0';
    return err->code;
}
