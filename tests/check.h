/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Minimal assertion helpers for the C tests. A test is a program that exits 0 when
 * every CHECK held, 1 otherwise, and 77 to tell ctest it skipped (with a reason line).
 */
#ifndef INVCSI_TEST_CHECK_H
#define INVCSI_TEST_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int check_failures = 0;
static int check_count = 0;

#define CHECK(cond, ...)                                                        \
    do {                                                                        \
        check_count++;                                                          \
        if (!(cond)) {                                                          \
            check_failures++;                                                   \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);     \
            fprintf(stderr, __VA_ARGS__);                                       \
            fputc('\n', stderr);                                                \
        }                                                                       \
    } while (0)

/* |a - b| <= tol */
#define CHECK_CLOSE(a, b, tol, what)                                            \
    do {                                                                        \
        double _a = (a), _b = (b), _t = (tol);                                  \
        CHECK(fabs(_a - _b) <= _t, "%s: %.9g vs %.9g (tol %.3g)", what, _a, _b, _t); \
    } while (0)

#define SKIP(...)                                                               \
    do {                                                                        \
        printf("SKIP: ");                                                       \
        printf(__VA_ARGS__);                                                    \
        printf("\n");                                                           \
        exit(77);                                                               \
    } while (0)

static inline int check_done(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, check_count, check_failures);
    return check_failures ? 1 : 0;
}

#endif
