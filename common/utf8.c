/* UTF-8 validation. */
#include "common/utf8.h"

#include <stdint.h>
#include <string.h>

size_t ms_utf8_len(const unsigned char *p, size_t n)
{
    static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    size_t len;
    uint32_t c;
    if (n == 0) return 0;
    if (p[0] < 0x80) return 1;
    if ((p[0] & 0xE0) == 0xC0)
        len = 2, c = p[0] & 0x1F;
    else if ((p[0] & 0xF0) == 0xE0)
        len = 3, c = p[0] & 0x0F;
    else if ((p[0] & 0xF8) == 0xF0)
        len = 4, c = p[0] & 0x07;
    else
        return 0;
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        c = (c << 6) | (p[i] & 0x3F);
    }
    if (c < min[len] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    return len;
}

void ms_utf8_copy(char *dst, size_t size, const char *src)
{
    const unsigned char *p = (const unsigned char *)(src ? src : "");
    size_t left = strlen((const char *)p), o = 0;
    if (size == 0) return;
    while (left > 0) {
        size_t n = ms_utf8_len(p, left), w = n ? n : 1;
        if (o + w >= size) break;
        memcpy(dst + o, n ? (const char *)p : "?", w);
        o += w;
        p += w;
        left -= w;
    }
    dst[o] = '\0';
}
