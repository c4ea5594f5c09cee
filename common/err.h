/* Error codes shared by every layer, and a small carrier for the message
 * that goes with them. Libraries fill an ms_error_t and return the code;
 * only main paths print it and choose an exit status. */
#ifndef MS_ERR_H
#define MS_ERR_H

#define MS_ERR_MAP(X)                                                          \
    X(1, NOMEM, "out of memory")                                               \
    X(2, PROTO, "malformed message")                                           \
    X(3, TIMEOUT, "timed out")                                                 \
    X(4, IO, "I/O error")                                                      \
    X(5, USAGE, "invalid usage or job file")                                   \
    X(6, INPUT, "input error")                                                 \
    X(7, CORRUPT, "corrupt data")                                              \
    X(8, NOTFOUND, "not found")                                                \
    X(9, MALFORMED, "malformed record")                                        \
    X(10, OVERFLOW, "arithmetic overflow")                                     \
    X(11, FETCH, "shuffle fetch failed")                                       \
    X(12, FAILED, "task failed")                                               \
    X(13, INTERRUPTED, "interrupted")

enum {
    MS_OK = 0,
#define MS_ERR_ENUM(code, name, text) MS_ERR_##name = -(code),
    MS_ERR_MAP(MS_ERR_ENUM)
#undef MS_ERR_ENUM
};

/* A code plus the sentence that names what went wrong (file, line, key). */
typedef struct {
    int code;
    char msg[1024];
} ms_error_t;

const char *ms_strerror(int code);

/* Records code and a printf-style message in err (which may be NULL) and
 * returns code, so callers can write `return ms_error_set(err, ...)`. */
int ms_error_set(ms_error_t *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Puts "prefix: " before the message already in err; returns err->code. */
int ms_error_prefix(ms_error_t *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
