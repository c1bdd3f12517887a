#include "evalutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fev_fmt_double(char buf[32], double v)
{
    if (!isfinite(v)) {
        strcpy(buf, "null");
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, 32, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    /* "1" -> "1.0", "1e+20" stays (already reads as a float in Python) */
    if (!strpbrk(buf, ".eEn"))
        strcat(buf, ".0");
}

cJSON *fev_json_float(double v)
{
    char buf[32];
    fev_fmt_double(buf, v);
    return cJSON_CreateRaw(buf);
}

typedef struct strbuf {
    char *p;
    size_t len, cap;
    int oom;
} strbuf;

static void sb_add(strbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void sb_str(strbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

static void sb_indent(strbuf *b, int depth)
{
    for (int i = 0; i < depth; i++)
        sb_add(b, "  ", 2);
}

static void sb_json_string(strbuf *b, const char *s)
{
    sb_add(b, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        char esc[8];
        switch (*c) {
        case '"': sb_str(b, "\\\""); break;
        case '\\': sb_str(b, "\\\\"); break;
        case '\n': sb_str(b, "\\n"); break;
        case '\t': sb_str(b, "\\t"); break;
        case '\r': sb_str(b, "\\r"); break;
        default:
            if (*c < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", *c);
                sb_str(b, esc);
            } else {
                sb_add(b, (const char *)c, 1);
            }
        }
    }
    sb_add(b, "\"", 1);
}

static void sb_json(strbuf *b, const cJSON *node, int depth)
{
    char num[32];
    if (cJSON_IsObject(node) || cJSON_IsArray(node)) {
        int is_obj = cJSON_IsObject(node);
        const cJSON *child = node->child;
        if (!child) {
            sb_str(b, is_obj ? "{}" : "[]");
            return;
        }
        sb_str(b, is_obj ? "{\n" : "[\n");
        for (; child; child = child->next) {
            sb_indent(b, depth + 1);
            if (is_obj) {
                sb_json_string(b, child->string ? child->string : "");
                sb_str(b, ": ");
            }
            sb_json(b, child, depth + 1);
            sb_str(b, child->next ? ",\n" : "\n");
        }
        sb_indent(b, depth);
        sb_str(b, is_obj ? "}" : "]");
    } else if (cJSON_IsRaw(node)) {
        sb_str(b, node->valuestring);
    } else if (cJSON_IsNumber(node)) {
        double v = node->valuedouble;
        if (isfinite(v) && v == floor(v) && fabs(v) < 9007199254740992.0)
            snprintf(num, sizeof num, "%.0f", v);
        else
            fev_fmt_double(num, v);
        sb_str(b, num);
    } else if (cJSON_IsString(node)) {
        sb_json_string(b, node->valuestring);
    } else if (cJSON_IsBool(node)) {
        sb_str(b, cJSON_IsTrue(node) ? "true" : "false");
    } else {
        sb_str(b, "null");
    }
}

char *fev_json_print(const cJSON *root)
{
    strbuf b = {0};
    sb_json(&b, root, 0);
    sb_str(&b, "\n");
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}
