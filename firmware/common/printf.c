/* printf.c: a compact printf family for the UART and for buffers. */
#include "dure_rt.h"

uint64_t udiv64_32(uint64_t n, uint32_t d, uint32_t *rem)
{
    /* restoring division, one quotient bit per step; the high word first when it is small */
    uint64_t q = 0;
    uint64_t r = 0;
    if ((n >> 32) == 0) {
        uint32_t n32 = (uint32_t)n;
        if (rem)
            *rem = n32 % d;
        return n32 / d;
    }
    for (int i = 63; i >= 0; i--) {
        r = (r << 1) | ((n >> i) & 1u);
        if (r >= d) {
            r -= d;
            q |= (uint64_t)1 << i;
        }
    }
    if (rem)
        *rem = (uint32_t)r;
    return q;
}

/* An output sink: the UART (buf == NULL) or a bounded buffer. */
struct sink {
    char *buf;
    size_t size;
    size_t len;
};

static void emit(struct sink *s, char c)
{
    if (!s->buf)
        putchar(c);
    else if (s->len + 1 < s->size)
        s->buf[s->len] = c;
    s->len++;
}

static void emit_padded(struct sink *s, const char *text, int len, int width, int left, char pad,
                        char sign)
{
    int total = len + (sign ? 1 : 0);
    if (sign && pad == '0')
        emit(s, sign);
    if (!left)
        for (int i = total; i < width; i++)
            emit(s, pad);
    if (sign && pad != '0')
        emit(s, sign);
    for (int i = 0; i < len; i++)
        emit(s, text[i]);
    if (left)
        for (int i = total; i < width; i++)
            emit(s, ' ');
}

static int format_unsigned(char *out, uint64_t v, unsigned base, int upper)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char tmp[24];
    int n = 0;
    do {
        uint32_t r;
        if (base == 16) {
            r = (uint32_t)(v & 15u);
            v >>= 4;
        } else {
            v = udiv64_32(v, base, &r);
        }
        tmp[n++] = digits[r];
    } while (v);
    for (int i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

static int format(struct sink *s, const char *fmt, va_list ap)
{
    char num[24];
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            emit(s, *fmt);
            continue;
        }
        fmt++;
        int left = 0;
        char pad = ' ';
        for (;; fmt++) {
            if (*fmt == '-')
                left = 1;
            else if (*fmt == '0')
                pad = '0';
            else
                break;
        }
        int width = 0;
        if (*fmt == '*') {
            width = va_arg(ap, int);
            if (width < 0) {
                left = 1;
                width = -width;
            }
            fmt++;
        } else {
            while (*fmt >= '0' && *fmt <= '9')
                width = width * 10 + (*fmt++ - '0');
        }
        if (left)
            pad = ' ';
        int longlong = 0;
        while (*fmt == 'l') {
            longlong += 1;
            fmt++;
        }
        longlong = longlong >= 2;
        char conv = *fmt;
        switch (conv) {
        case 'd':
        case 'i': {
            int64_t v = longlong ? va_arg(ap, long long) : va_arg(ap, int);
            uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
            int n = format_unsigned(num, mag, 10, 0);
            emit_padded(s, num, n, width, left, pad, v < 0 ? '-' : 0);
            break;
        }
        case 'u':
        case 'x':
        case 'X': {
            uint64_t v = longlong ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned);
            int n = format_unsigned(num, v, conv == 'u' ? 10 : 16, conv == 'X');
            emit_padded(s, num, n, width, left, pad, 0);
            break;
        }
        case 'p': {
            int n = format_unsigned(num, (uintptr_t)va_arg(ap, void *), 16, 0);
            emit(s, '0');
            emit(s, 'x');
            emit_padded(s, num, n, width, left, pad, 0);
            break;
        }
        case 'c':
            num[0] = (char)va_arg(ap, int);
            emit_padded(s, num, 1, width, left, ' ', 0);
            break;
        case 's': {
            const char *str = va_arg(ap, const char *);
            if (!str)
                str = "(null)";
            emit_padded(s, str, (int)strlen(str), width, left, ' ', 0);
            break;
        }
        case '%':
            emit(s, '%');
            break;
        case '\0':
            fmt--;          /* a lone '%' at the end: stop */
            break;
        default:            /* unknown conversion: print it as written */
            emit(s, '%');
            emit(s, conv);
            break;
        }
    }
    return (int)s->len;
}

int vprintf(const char *fmt, va_list ap)
{
    struct sink s = {NULL, 0, 0};
    return format(&s, fmt, ap);
}

int printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vprintf(fmt, ap);
    va_end(ap);
    return n;
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct sink s = {buf, size, 0};
    int n = format(&s, fmt, ap);
    if (size)
        buf[s.len < size ? s.len : size - 1] = '\0';
    return n;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}
