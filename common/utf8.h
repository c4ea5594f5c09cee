/* UTF-8 checks for text that leaves the process as JSON, HTML or SVG:
 * jansson refuses invalid strings, and a failure message or a name cut by a
 * fixed-size field may hold any bytes. */
#ifndef MS_UTF8_H
#define MS_UTF8_H

#include <stddef.h>

/* Length of the valid UTF-8 character at p (at most n bytes available), or
 * 0 if it is not one: overlong, surrogate, past U+10FFFF or cut short. */
size_t ms_utf8_len(const unsigned char *p, size_t n);

/* Copies src (NULL: "") into dst[size] as valid UTF-8: a bad byte becomes
 * '?', and truncation never splits a character. */
void ms_utf8_copy(char *dst, size_t size, const char *src);

#endif
