/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "cli.h"

#include "invcsi/backend.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

int cli_parse_int(const char *prog, const char *opt, const char *s, long min, long max, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end) {
        fprintf(stderr, "%s: bad value '%s' for %s: not an integer\n", prog, s, opt);
        return -1;
    }
    if (v < min || v > max) {
        fprintf(stderr, "%s: bad value '%s' for %s: must be in [%ld, %ld]\n", prog, s, opt, min,
                max);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int cli_parse_u64(const char *prog, const char *opt, const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (*s == '-') {
        fprintf(stderr, "%s: bad value '%s' for %s: must not be negative\n", prog, s, opt);
        return -1;
    }
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || end == s || *end) {
        fprintf(stderr, "%s: bad value '%s' for %s: not a non-negative integer\n", prog, s, opt);
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

int cli_parse_double(const char *prog, const char *opt, const char *s, double min, double max,
                     double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v)) {
        fprintf(stderr, "%s: bad value '%s' for %s: not a number\n", prog, s, opt);
        return -1;
    }
    if (v < min || v > max) {
        fprintf(stderr, "%s: bad value '%s' for %s: must be in [%g, %g]\n", prog, s, opt, min,
                max);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_ratio(const char *prog, const char *opt, const char *s, double *out)
{
    const char *slash = strchr(s, '/');
    double v;
    if (slash) {
        char *end;
        double num = strtod(s, &end);
        double den = (end == slash) ? strtod(slash + 1, &end) : 0;
        if (end == slash + 1 || *end || den <= 0 || num <= 0) {
            fprintf(stderr, "%s: bad value '%s' for %s: expected a ratio like 1/16\n", prog, s,
                    opt);
            return -1;
        }
        v = num / den;
    } else if (cli_parse_double(prog, opt, s, 1e-9, 1.0, &v) != 0) {
        return -1;
    }
    if (!(v > 0 && v <= 1)) {
        fprintf(stderr, "%s: bad value '%s' for %s: must be in (0, 1]\n", prog, s, opt);
        return -1;
    }
    *out = v;
    return 0;
}

void cli_progress_start(struct cli_progress *p, const char *label, const char *unit, int quiet)
{
    p->label = label;
    p->unit = unit;
    p->t_start = p->t_last = cli_now();
    p->quiet = quiet;
}

void cli_progress_cb(void *ctx, long done, long total)
{
    struct cli_progress *p = ctx;
    if (!p || p->quiet)
        return;
    double now = cli_now();
    if (done < total && now - p->t_last < 0.5)
        return;
    p->t_last = now;
    double el = now - p->t_start;
    double rate = el > 0 ? done / el : 0;
    double eta = rate > 0 ? (total - done) / rate : 0;
    fprintf(stderr, "\r%s: %ld/%ld %s (%.0f%%), %.0f %s/s, ETA %.0f s   ", p->label, done, total,
            p->unit, total ? 100.0 * done / total : 100.0, rate, p->unit, eta);
    if (done >= total)
        fputc('\n', stderr);
    fflush(stderr);
}

/* Shell-quoted argv joined by spaces, for config.command. */
char *cli_join_command(int argc, char **argv)
{
    size_t cap = 1;
    for (int i = 0; i < argc; i++)
        cap += 4 * strlen(argv[i]) + 3;
    char *s = malloc(cap), *o = s;
    if (!s)
        return NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int plain = *a != '\0';
        for (const char *p = a; *p; p++)
            if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%",
                        *p))
                plain = 0;
        if (i)
            *o++ = ' ';
        if (plain) {
            o += sprintf(o, "%s", a);
        } else {
            *o++ = '\'';
            for (const char *p = a; *p; p++) {
                if (*p == '\'') {
                    memcpy(o, "'\\''", 4);
                    o += 4;
                } else {
                    *o++ = *p;
                }
            }
            *o++ = '\'';
        }
    }
    *o = '\0';
    return s;
}

/* --opt VALUE or --opt=VALUE; returns the value or NULL (message printed). */
const char *cli_opt_value(const char *prog, int argc, char **argv, int *i, const char *name,
                          int *matched)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    *matched = 0;
    if (strncmp(a, name, n) != 0)
        return NULL;
    if (a[n] == '=') {
        *matched = 1;
        return a + n + 1;
    }
    if (a[n] != '\0')
        return NULL;
    *matched = 1;
    if (*i + 1 >= argc) {
        fprintf(stderr, "%s: %s needs a value (see --help)\n", prog, name);
        return NULL;
    }
    return argv[++*i];
}

int cli_parse_device(const char *prog, const char *v)
{
    if (!strcmp(v, "cpu") || !strcmp(v, "cuda") || !strcmp(v, "auto"))
        return 0;
    fprintf(stderr, "%s: bad value '%s' for --device: expected cpu, cuda or auto\n", prog, v);
    return -1;
}

static void log_device(void *ctx, const char *line)
{
    fprintf(stderr, "%s: %s\n", (const char *)ctx, line);
}

int cli_select_device_caps(const char *prog, const char *device, unsigned need,
                           const invcsi_backend **out)
{
    const invcsi_backend *be;
    invcsi_error err;
    invcsi_error_clear(&err);
    invcsi_backend_set_log(log_device, (void *)prog);
    const int rc = invcsi_backend_select_caps(device, need, &be, &err);
    invcsi_backend_set_log(NULL, NULL);
    if (rc != INVCSI_OK) {
        fprintf(stderr, "%s: %s\n", prog, err.msg);
        return -1;
    }
    if (out)
        *out = be;
    return 0;
}

int cli_select_device(const char *prog, const char *device)
{
    return cli_select_device_caps(prog, device, INVCSI_BACKEND_CAP_MODELS, NULL);
}
