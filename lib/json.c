/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Minimal strict JSON: parser into an arena-allocated tree, and a string-building writer.
 * See include/invcsi/json.h for the contract; the parser must survive any input bytes.
 */
#include "invcsi/json.h"

#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------- */
/* Locale: numbers are always read and written with the "C" decimal point.            */
/* ---------------------------------------------------------------------------------- */

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void make_c_locale(void) { c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0); }

static locale_t get_c_locale(void)
{
    pthread_once(&c_locale_once, make_c_locale);
    return c_locale;
}

static double strtod_c(const char *s, char **end)
{
    locale_t loc = get_c_locale();
    return loc ? strtod_l(s, end, loc) : strtod(s, end);
}

/* ---------------------------------------------------------------------------------- */
/* UTF-8                                                                              */
/* ---------------------------------------------------------------------------------- */

/* Length (1..4) of the valid UTF-8 sequence at s[0..n), or 0 if it is invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    uint32_t cp, min;
    if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1F; min = 0x80; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0F; min = 0x800; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07; min = 0x10000; }
    else return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

int invcsi_utf8_valid(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        size_t k = utf8_seq(u + i, len - i);
        if (!k)
            return 0;
        i += k;
    }
    return 1;
}

static size_t utf8_put(char *out, uint32_t cp)
{
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ---------------------------------------------------------------------------------- */
/* Arena: every node and string of a document lives in a list of chunks.              */
/* ---------------------------------------------------------------------------------- */

struct invcsi_json_chunk {
    struct invcsi_json_chunk *prev;
    size_t used, cap;
    max_align_t data[];
};

#define ARENA_CHUNK ((size_t)64 << 10)

static void *arena_alloc(invcsi_json_doc *doc, size_t n)
{
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    struct invcsi_json_chunk *c = doc->chunks;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > ARENA_CHUNK / 4 ? n : ARENA_CHUNK;
        struct invcsi_json_chunk *nc = malloc(sizeof *nc + cap);
        if (!nc)
            return NULL;
        nc->used = 0;
        nc->cap = cap;
        if (c && cap != ARENA_CHUNK) {
            /* a big one-off block: keep filling the current chunk afterwards */
            nc->prev = c->prev;
            c->prev = nc;
            nc->used = n;
            return (char *)nc->data;
        }
        nc->prev = c;
        doc->chunks = c = nc;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    return p;
}

void invcsi_json_doc_free(invcsi_json_doc *doc)
{
    if (!doc)
        return;
    struct invcsi_json_chunk *c = doc->chunks;
    while (c) {
        struct invcsi_json_chunk *prev = c->prev;
        free(c);
        c = prev;
    }
    doc->chunks = NULL;
    doc->root = NULL;
    doc->nodes = 0;
}

/* ---------------------------------------------------------------------------------- */
/* Parser                                                                             */
/* ---------------------------------------------------------------------------------- */

typedef struct parser {
    const unsigned char *s;
    size_t len, pos;
    invcsi_json_doc *doc;
    invcsi_error *err;
    int failed;
} parser;

static void fail(parser *p, size_t at, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static void fail(parser *p, size_t at, int code, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = code;
    char what[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    invcsi_error_set(p->err, code, "JSON at byte %zu: %s", at, what);
}

/* A short description of the byte at pos for messages. */
static const char *found(const parser *p, size_t pos, char *buf, size_t n)
{
    if (pos >= p->len)
        snprintf(buf, n, "end of input");
    else if (p->s[pos] >= 0x20 && p->s[pos] < 0x7F)
        snprintf(buf, n, "'%c'", p->s[pos]);
    else
        snprintf(buf, n, "byte 0x%02X", p->s[pos]);
    return buf;
}

static void skip_ws(parser *p)
{
    while (p->pos < p->len) {
        unsigned char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        p->pos++;
    }
}

static invcsi_json *new_node(parser *p, invcsi_json_type type, size_t offset)
{
    if (p->doc->nodes >= INVCSI_JSON_MAX_NODES) {
        fail(p, offset, INVCSI_EFORMAT, "more than %zu values in one document",
             (size_t)INVCSI_JSON_MAX_NODES);
        return NULL;
    }
    invcsi_json *v = arena_alloc(p->doc, sizeof *v);
    if (!v) {
        fail(p, offset, INVCSI_ENOMEM, "out of memory");
        return NULL;
    }
    memset(v, 0, sizeof *v);
    v->type = type;
    v->offset = offset;
    p->doc->nodes++;
    return v;
}

static int hex4(const unsigned char *s, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= c - '0';
        else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
        else return 0;
    }
    *out = v;
    return 1;
}

/* Parses the string starting at the opening quote at p->pos. The decoded text never
 * is longer than the raw text, so it is decoded straight into one arena block. */
static int parse_string(parser *p, const char **out, size_t *out_len)
{
    size_t start = p->pos;
    size_t i = start + 1;
    /* first pass: find the closing quote, so the arena block can be sized */
    for (;;) {
        if (i >= p->len) {
            fail(p, start, INVCSI_EFORMAT, "string not terminated");
            return 0;
        }
        unsigned char c = p->s[i];
        if (c == '"')
            break;
        if (c == '\\') {
            i += 2;
            continue;
        }
        i++;
    }
    size_t raw_len = i - start - 1;
    char *dst = arena_alloc(p->doc, raw_len + 1);
    if (!dst) {
        fail(p, start, INVCSI_ENOMEM, "out of memory");
        return 0;
    }
    size_t n = 0;
    i = start + 1;
    while (p->s[i] != '"') {
        unsigned char c = p->s[i];
        if (c < 0x20) {
            fail(p, i, INVCSI_EFORMAT, "control character 0x%02X inside a string (must be escaped)",
                 c);
            return 0;
        }
        if (c >= 0x80) {
            size_t k = utf8_seq(p->s + i, p->len - i);
            if (!k) {
                fail(p, i, INVCSI_EFORMAT, "invalid UTF-8 byte 0x%02X inside a string", c);
                return 0;
            }
            memcpy(dst + n, p->s + i, k);
            n += k;
            i += k;
            continue;
        }
        if (c != '\\') {
            dst[n++] = (char)c;
            i++;
            continue;
        }
        /* escape: i + 1 < closing quote position is guaranteed by the first pass */
        unsigned char e = p->s[i + 1];
        switch (e) {
        case '"': dst[n++] = '"'; break;
        case '\\': dst[n++] = '\\'; break;
        case '/': dst[n++] = '/'; break;
        case 'b': dst[n++] = '\b'; break;
        case 'f': dst[n++] = '\f'; break;
        case 'n': dst[n++] = '\n'; break;
        case 'r': dst[n++] = '\r'; break;
        case 't': dst[n++] = '\t'; break;
        case 'u': {
            uint32_t cp;
            if (i + 6 > p->len || !hex4(p->s + i + 2, &cp)) {
                fail(p, i, INVCSI_EFORMAT, "\\u must be followed by 4 hex digits");
                return 0;
            }
            if (cp >= 0xDC00 && cp <= 0xDFFF) {
                fail(p, i, INVCSI_EFORMAT, "\\u%04X is a lone low surrogate", (unsigned)cp);
                return 0;
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                uint32_t lo;
                if (i + 12 > p->len || p->s[i + 6] != '\\' || p->s[i + 7] != 'u' ||
                    !hex4(p->s + i + 8, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
                    fail(p, i, INVCSI_EFORMAT,
                         "\\u%04X is a high surrogate not followed by a \\uDC00-\\uDFFF escape",
                         (unsigned)cp);
                    return 0;
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i += 6;
            }
            /* 6 raw bytes (12 for a pair) become at most 3 (4) decoded bytes */
            n += utf8_put(dst + n, cp);
            i += 6;
            continue;
        }
        default:
            fail(p, i, INVCSI_EFORMAT, "invalid escape '\\%c'", e >= 0x20 && e < 0x7F ? e : '?');
            return 0;
        }
        i += 2;
    }
    dst[n] = '\0';
    p->pos = i + 1;
    *out = dst;
    *out_len = n;
    return 1;
}

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static invcsi_json *parse_number(parser *p)
{
    size_t start = p->pos, i = start;
    int integral = 1;
    if (i < p->len && p->s[i] == '-')
        i++;
    if (i >= p->len || !is_digit(p->s[i])) {
        fail(p, i, INVCSI_EFORMAT, "expected a digit in number");
        return NULL;
    }
    if (p->s[i] == '0') {
        i++;
        if (i < p->len && is_digit(p->s[i])) {
            fail(p, i, INVCSI_EFORMAT, "leading zero in number");
            return NULL;
        }
    } else {
        while (i < p->len && is_digit(p->s[i]))
            i++;
    }
    if (i < p->len && p->s[i] == '.') {
        integral = 0;
        i++;
        if (i >= p->len || !is_digit(p->s[i])) {
            fail(p, i, INVCSI_EFORMAT, "expected a digit after the decimal point");
            return NULL;
        }
        while (i < p->len && is_digit(p->s[i]))
            i++;
    }
    if (i < p->len && (p->s[i] == 'e' || p->s[i] == 'E')) {
        integral = 0;
        i++;
        if (i < p->len && (p->s[i] == '+' || p->s[i] == '-'))
            i++;
        if (i >= p->len || !is_digit(p->s[i])) {
            fail(p, i, INVCSI_EFORMAT, "expected a digit in the exponent");
            return NULL;
        }
        while (i < p->len && is_digit(p->s[i]))
            i++;
    }
    size_t n = i - start;
    char buf[512];
    if (n >= sizeof buf) {
        fail(p, start, INVCSI_EFORMAT, "number longer than %zu characters", sizeof buf - 1);
        return NULL;
    }
    memcpy(buf, p->s + start, n);
    buf[n] = '\0';
    char *end = NULL;
    double x = strtod_c(buf, &end);
    if (end != buf + n || !isfinite(x)) {
        fail(p, start, INVCSI_EFORMAT, "number %s is out of range", buf);
        return NULL;
    }
    invcsi_json *v = new_node(p, INVCSI_JSON_NUMBER, start);
    if (!v)
        return NULL;
    v->number = x;
    if (integral) {
        /* exact value for offsets and sizes beyond 2^53 */
        int neg = buf[0] == '-';
        uint64_t acc = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
        int fits = 1;
        for (const char *c = buf + neg; *c; c++) {
            unsigned d = (unsigned)(*c - '0');
            if (acc > (limit - d) / 10) {
                fits = 0;
                break;
            }
            acc = acc * 10 + d;
        }
        if (fits) {
            v->is_integer = 1;
            v->integer = neg ? (acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc)
                             : (int64_t)acc;
        }
    }
    p->pos = i;
    return v;
}

static int match_literal(parser *p, const char *word)
{
    size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
        return 0;
    p->pos += n;
    return 1;
}

static int key_cmp(const void *a, const void *b)
{
    const invcsi_json *x = *(const invcsi_json *const *)a, *y = *(const invcsi_json *const *)b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    if (c)
        return c;
    return (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

/* Duplicate keys make a config ambiguous (which one wins?), so they are an error. */
static void check_duplicate_keys(parser *p, const invcsi_json *obj)
{
    if (obj->count < 2)
        return;
    const invcsi_json *dup = NULL;
    if (obj->count <= 16) {
        for (const invcsi_json *a = obj->child; a && !dup; a = a->next)
            for (const invcsi_json *b = a->next; b; b = b->next)
                if (a->key_len == b->key_len && memcmp(a->key, b->key, a->key_len) == 0) {
                    dup = b;
                    break;
                }
    } else {
        const invcsi_json **v = malloc(obj->count * sizeof *v);
        if (!v) {
            fail(p, obj->offset, INVCSI_ENOMEM, "out of memory");
            return;
        }
        size_t k = 0;
        for (const invcsi_json *a = obj->child; a; a = a->next)
            v[k++] = a;
        qsort(v, k, sizeof *v, key_cmp);
        for (size_t j = 1; j < k && !dup; j++)
            if (key_cmp(&v[j - 1], &v[j]) == 0)
                dup = v[j]->offset > v[j - 1]->offset ? v[j] : v[j - 1];
        free(v);
    }
    if (dup)
        fail(p, dup->offset, INVCSI_EFORMAT, "duplicate object key \"%.100s\"", dup->key);
}

static invcsi_json *parse_value(parser *p, int depth);

static invcsi_json *parse_container(parser *p, int depth, int is_object)
{
    size_t start = p->pos;
    char fb[32];
    if (depth >= INVCSI_JSON_MAX_DEPTH) {
        fail(p, start, INVCSI_EFORMAT, "nesting deeper than %d levels", INVCSI_JSON_MAX_DEPTH);
        return NULL;
    }
    invcsi_json *v = new_node(p, is_object ? INVCSI_JSON_OBJECT : INVCSI_JSON_ARRAY, start);
    if (!v)
        return NULL;
    char close = is_object ? '}' : ']';
    p->pos++;
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == close) {
        p->pos++;
        return v;
    }
    invcsi_json **tail = &v->child;
    for (;;) {
        const char *key = NULL;
        size_t key_len = 0;
        if (is_object) {
            if (p->pos >= p->len || p->s[p->pos] != '"') {
                fail(p, p->pos, INVCSI_EFORMAT, "expected a string key in object, found %s",
                     found(p, p->pos, fb, sizeof fb));
                return NULL;
            }
            if (!parse_string(p, &key, &key_len))
                return NULL;
            skip_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != ':') {
                fail(p, p->pos, INVCSI_EFORMAT, "expected ':' after object key, found %s",
                     found(p, p->pos, fb, sizeof fb));
                return NULL;
            }
            p->pos++;
        }
        invcsi_json *item = parse_value(p, depth + 1);
        if (!item)
            return NULL;
        item->key = key;
        item->key_len = key_len;
        *tail = item;
        tail = &item->next;
        v->count++;
        skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            skip_ws(p);
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == close) {
            p->pos++;
            break;
        }
        fail(p, p->pos, INVCSI_EFORMAT, "expected ',' or '%c' in %s, found %s", close,
             is_object ? "object" : "array", found(p, p->pos, fb, sizeof fb));
        return NULL;
    }
    if (is_object) {
        check_duplicate_keys(p, v);
        if (p->failed)
            return NULL;
    }
    return v;
}

static invcsi_json *parse_value(parser *p, int depth)
{
    char fb[32];
    skip_ws(p);
    if (p->pos >= p->len) {
        fail(p, p->pos, INVCSI_EFORMAT, "expected a value, found end of input");
        return NULL;
    }
    size_t start = p->pos;
    unsigned char c = p->s[start];
    switch (c) {
    case '{': return parse_container(p, depth, 1);
    case '[': return parse_container(p, depth, 0);
    case '"': {
        invcsi_json *v = new_node(p, INVCSI_JSON_STRING, start);
        if (!v || !parse_string(p, &v->string, &v->string_len))
            return NULL;
        return v;
    }
    case 't':
    case 'f':
    case 'n': {
        invcsi_json_type t = c == 'n' ? INVCSI_JSON_NULL : INVCSI_JSON_BOOL;
        const char *word = c == 't' ? "true" : c == 'f' ? "false" : "null";
        if (!match_literal(p, word)) {
            fail(p, start, INVCSI_EFORMAT, "invalid literal (expected %s)", word);
            return NULL;
        }
        invcsi_json *v = new_node(p, t, start);
        if (v)
            v->boolean = c == 't';
        return v;
    }
    default:
        if (c == '-' || is_digit(c))
            return parse_number(p);
        fail(p, start, INVCSI_EFORMAT, "expected a value, found %s", found(p, start, fb, sizeof fb));
        return NULL;
    }
}

int invcsi_json_parse(const char *text, size_t len, invcsi_json_doc *doc, invcsi_error *err)
{
    memset(doc, 0, sizeof *doc);
    if (!text && len)
        return invcsi_error_set(err, INVCSI_EINVAL, "JSON: NULL text");
    if (len > INVCSI_JSON_MAX_BYTES)
        return invcsi_error_set(err, INVCSI_EFORMAT,
                                "JSON: text of %zu bytes exceeds the %zu-byte limit", len,
                                INVCSI_JSON_MAX_BYTES);
    parser p = {(const unsigned char *)(text ? text : ""), len, 0, doc, err, 0};
    invcsi_json *root = parse_value(&p, 0);
    if (root) {
        skip_ws(&p);
        if (p.pos < p.len) {
            char fb[32];
            fail(&p, p.pos, INVCSI_EFORMAT, "unexpected %s after the end of the document",
                 found(&p, p.pos, fb, sizeof fb));
        }
    }
    if (p.failed) {
        int code = p.failed;
        invcsi_json_doc_free(doc);
        return code;
    }
    doc->root = root;
    return INVCSI_OK;
}

/* ---------------------------------------------------------------------------------- */
/* Lookups                                                                            */
/* ---------------------------------------------------------------------------------- */

const invcsi_json *invcsi_json_get(const invcsi_json *object, const char *key)
{
    if (!object || object->type != INVCSI_JSON_OBJECT || !key)
        return NULL;
    size_t n = strlen(key);
    for (const invcsi_json *c = object->child; c; c = c->next)
        if (c->key_len == n && memcmp(c->key, key, n) == 0)
            return c;
    return NULL;
}

const invcsi_json *invcsi_json_at(const invcsi_json *array, size_t index)
{
    if (!array || array->type != INVCSI_JSON_ARRAY || index >= array->count)
        return NULL;
    const invcsi_json *c = array->child;
    while (index-- && c)
        c = c->next;
    return c;
}

const char *invcsi_json_string(const invcsi_json *v)
{
    return v && v->type == INVCSI_JSON_STRING ? v->string : NULL;
}

const char *invcsi_json_type_name(invcsi_json_type type)
{
    switch (type) {
    case INVCSI_JSON_NULL: return "null";
    case INVCSI_JSON_BOOL: return "a boolean";
    case INVCSI_JSON_NUMBER: return "a number";
    case INVCSI_JSON_STRING: return "a string";
    case INVCSI_JSON_ARRAY: return "an array";
    case INVCSI_JSON_OBJECT: return "an object";
    }
    return "?";
}

static const invcsi_json *member(const invcsi_json *object, const char *key, invcsi_json_type t,
                                 const char *expected, invcsi_error *err)
{
    if (!object || object->type != INVCSI_JSON_OBJECT) {
        invcsi_error_set(err, INVCSI_EFORMAT, "key \"%s\": the enclosing value is not an object",
                         key);
        return NULL;
    }
    const invcsi_json *v = invcsi_json_get(object, key);
    if (!v) {
        invcsi_error_set(err, INVCSI_EFORMAT, "key \"%s\" is missing", key);
        return NULL;
    }
    if (v->type != t) {
        invcsi_error_set(err, INVCSI_EFORMAT, "key \"%s\": expected %s, found %s", key, expected,
                         invcsi_json_type_name(v->type));
        return NULL;
    }
    return v;
}

int invcsi_json_get_int(const invcsi_json *object, const char *key, int64_t *out,
                        invcsi_error *err)
{
    const invcsi_json *v = member(object, key, INVCSI_JSON_NUMBER, "an integer", err);
    if (!v)
        return INVCSI_EFORMAT;
    if (!v->is_integer)
        return invcsi_error_set(err, INVCSI_EFORMAT,
                                "key \"%s\": expected an integer, found %.17g", key, v->number);
    *out = v->integer;
    return INVCSI_OK;
}

int invcsi_json_get_double(const invcsi_json *object, const char *key, double *out,
                           invcsi_error *err)
{
    const invcsi_json *v = member(object, key, INVCSI_JSON_NUMBER, "a number", err);
    if (!v)
        return INVCSI_EFORMAT;
    *out = v->number;
    return INVCSI_OK;
}

int invcsi_json_get_bool(const invcsi_json *object, const char *key, int *out, invcsi_error *err)
{
    const invcsi_json *v = member(object, key, INVCSI_JSON_BOOL, "a boolean", err);
    if (!v)
        return INVCSI_EFORMAT;
    *out = v->boolean;
    return INVCSI_OK;
}

int invcsi_json_get_string(const invcsi_json *object, const char *key, const char **out,
                           invcsi_error *err)
{
    const invcsi_json *v = member(object, key, INVCSI_JSON_STRING, "a string", err);
    if (!v)
        return INVCSI_EFORMAT;
    *out = v->string;
    return INVCSI_OK;
}

/* ---------------------------------------------------------------------------------- */
/* Writer                                                                             */
/* ---------------------------------------------------------------------------------- */

static void jw_fail(invcsi_json_writer *w, int code, const char *what)
{
    if (w->error.code == INVCSI_OK)
        invcsi_error_set(&w->error, code, "JSON writer: %s", what);
}

static int jw_reserve(invcsi_json_writer *w, size_t extra)
{
    if (w->error.code != INVCSI_OK)
        return 0;
    if (extra > SIZE_MAX / 2 - w->len) {
        jw_fail(w, INVCSI_ENOMEM, "text too large");
        return 0;
    }
    size_t need = w->len + extra + 1;
    if (need <= w->cap)
        return 1;
    size_t cap = w->cap ? w->cap : 256;
    while (cap < need)
        cap *= 2;
    char *b = realloc(w->buf, cap);
    if (!b) {
        jw_fail(w, INVCSI_ENOMEM, "out of memory");
        return 0;
    }
    w->buf = b;
    w->cap = cap;
    return 1;
}

static void jw_put(invcsi_json_writer *w, const char *s, size_t n)
{
    if (!jw_reserve(w, n))
        return;
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

void invcsi_jw_init(invcsi_json_writer *w)
{
    memset(w, 0, sizeof *w);
    invcsi_error_clear(&w->error);
}

void invcsi_jw_free(invcsi_json_writer *w)
{
    if (!w)
        return;
    free(w->buf);
    memset(w, 0, sizeof *w);
}

#define LEVEL_BIT(w) ((uint64_t)1 << ((w)->depth - 1))

/* Bookkeeping before any value: comma, key discipline, single top-level value. */
static int jw_before_value(invcsi_json_writer *w)
{
    if (w->error.code != INVCSI_OK)
        return 0;
    if (w->done) {
        jw_fail(w, INVCSI_EINVAL, "a value after the end of the document");
        return 0;
    }
    if (w->depth > 0) {
        if (w->in_object & LEVEL_BIT(w)) {
            if (!w->after_key) {
                jw_fail(w, INVCSI_EINVAL, "an object member without a key");
                return 0;
            }
            w->after_key = 0;
        } else {
            if (w->has_items & LEVEL_BIT(w))
                jw_put(w, ",", 1);
            w->has_items |= LEVEL_BIT(w);
        }
    }
    return w->error.code == INVCSI_OK;
}

static void jw_after_scalar(invcsi_json_writer *w)
{
    if (w->depth == 0)
        w->done = 1;
}

static void jw_escaped(invcsi_json_writer *w, const char *s, size_t len)
{
    if (!s && len) {
        jw_fail(w, INVCSI_EINVAL, "NULL string");
        return;
    }
    if (!invcsi_utf8_valid(s, len)) {
        jw_fail(w, INVCSI_EINVAL, "string is not valid UTF-8");
        return;
    }
    jw_put(w, "\"", 1);
    size_t run = 0; /* bytes copied as they are, flushed in one go */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char ubuf[8];
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default:
            if (c < 0x20) {
                snprintf(ubuf, sizeof ubuf, "\\u%04x", c);
                esc = ubuf;
            }
        }
        if (esc) {
            jw_put(w, s + i - run, run);
            run = 0;
            jw_put(w, esc, strlen(esc));
        } else {
            run++;
        }
    }
    jw_put(w, s + len - run, run);
    jw_put(w, "\"", 1);
}

static void jw_begin(invcsi_json_writer *w, int is_object)
{
    if (!jw_before_value(w))
        return;
    if (w->depth >= INVCSI_JSON_MAX_DEPTH) {
        jw_fail(w, INVCSI_EINVAL, "nesting deeper than the limit");
        return;
    }
    jw_put(w, is_object ? "{" : "[", 1);
    w->depth++;
    if (is_object)
        w->in_object |= LEVEL_BIT(w);
    else
        w->in_object &= ~LEVEL_BIT(w);
    w->has_items &= ~LEVEL_BIT(w);
}

static void jw_end(invcsi_json_writer *w, int is_object)
{
    if (w->error.code != INVCSI_OK)
        return;
    if (w->depth == 0 || !(w->in_object & LEVEL_BIT(w)) != !is_object) {
        jw_fail(w, INVCSI_EINVAL, is_object ? "object end without a matching begin"
                                            : "array end without a matching begin");
        return;
    }
    if (w->after_key) {
        jw_fail(w, INVCSI_EINVAL, "object ends after a key without its value");
        return;
    }
    jw_put(w, is_object ? "}" : "]", 1);
    w->depth--;
    jw_after_scalar(w);
}

void invcsi_jw_object_begin(invcsi_json_writer *w) { jw_begin(w, 1); }
void invcsi_jw_object_end(invcsi_json_writer *w) { jw_end(w, 1); }
void invcsi_jw_array_begin(invcsi_json_writer *w) { jw_begin(w, 0); }
void invcsi_jw_array_end(invcsi_json_writer *w) { jw_end(w, 0); }

void invcsi_jw_key_n(invcsi_json_writer *w, const char *key, size_t len)
{
    if (w->error.code != INVCSI_OK)
        return;
    if (w->depth == 0 || !(w->in_object & LEVEL_BIT(w)) || w->after_key) {
        jw_fail(w, INVCSI_EINVAL, "a key outside an object or after another key");
        return;
    }
    if (w->has_items & LEVEL_BIT(w))
        jw_put(w, ",", 1);
    w->has_items |= LEVEL_BIT(w);
    jw_escaped(w, key, len);
    jw_put(w, ":", 1);
    w->after_key = 1;
}

void invcsi_jw_key(invcsi_json_writer *w, const char *key)
{
    invcsi_jw_key_n(w, key, key ? strlen(key) : 0);
}

void invcsi_jw_string_n(invcsi_json_writer *w, const char *s, size_t len)
{
    if (!jw_before_value(w))
        return;
    jw_escaped(w, s, len);
    jw_after_scalar(w);
}

void invcsi_jw_string(invcsi_json_writer *w, const char *s)
{
    invcsi_jw_string_n(w, s, s ? strlen(s) : 0);
}

void invcsi_jw_number(invcsi_json_writer *w, double x)
{
    if (!isfinite(x)) {
        jw_fail(w, INVCSI_EINVAL, "NaN or infinity cannot be written in JSON");
        return;
    }
    if (!jw_before_value(w))
        return;
    /* the shortest of %.15g..%.17g that reads back exactly, in the C locale */
    char buf[40];
    locale_t loc = get_c_locale(), old = loc ? uselocale(loc) : (locale_t)0;
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, x);
        if (strtod_c(buf, NULL) == x)
            break;
    }
    if (loc)
        uselocale(old);
    jw_put(w, buf, strlen(buf));
    jw_after_scalar(w);
}

void invcsi_jw_integer(invcsi_json_writer *w, int64_t x)
{
    if (!jw_before_value(w))
        return;
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, x);
    jw_put(w, buf, strlen(buf));
    jw_after_scalar(w);
}

void invcsi_jw_bool(invcsi_json_writer *w, int b)
{
    if (!jw_before_value(w))
        return;
    jw_put(w, b ? "true" : "false", b ? 4 : 5);
    jw_after_scalar(w);
}

void invcsi_jw_null(invcsi_json_writer *w)
{
    if (!jw_before_value(w))
        return;
    jw_put(w, "null", 4);
    jw_after_scalar(w);
}

int invcsi_jw_finish(invcsi_json_writer *w, const char **text, size_t *len, invcsi_error *err)
{
    if (w->error.code == INVCSI_OK && !w->done)
        jw_fail(w, INVCSI_EINVAL, w->depth ? "document ends inside an unclosed array or object"
                                           : "empty document");
    if (w->error.code != INVCSI_OK)
        return invcsi_error_set(err, w->error.code, "%s", w->error.msg);
    *text = w->buf;
    *len = w->len;
    return INVCSI_OK;
}
