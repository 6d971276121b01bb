/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Deterministic train/test split (include/invcsi/transform.h): a seeded Fisher-Yates
 * permutation of 0..n-1; the first round(train_frac * n) indices are the training set.
 */
#include "invcsi/rng.h"
#include "invcsi/transform.h"

#include <math.h>
#include <string.h>

/* The split draws from its own RNG stream, so the same seed used for data generation
 * or weight initialisation (stream numbers = sample indices there) gives unrelated
 * numbers here. ASCII "SPLIT". */
#define INVCSI_SPLIT_STREAM 0x53504C4954ULL

void invcsi_split(int n, double train_frac, unsigned long long seed, int *train, int *n_train,
                  int *test, int *n_test)
{
    if (n <= 0 || !train || !test) {
        if (n_train) *n_train = 0;
        if (n_test) *n_test = 0;
        return;
    }
    /* Clamp: a fraction outside [0, 1] (or NaN) cannot mean anything else. */
    if (!(train_frac > 0.0))
        train_frac = 0.0;
    if (train_frac > 1.0)
        train_frac = 1.0;
    int nt = (int)floor(train_frac * n + 0.5);
    if (nt > n)
        nt = n;

    for (int i = 0; i < n; i++)
        train[i] = i;
    invcsi_rng r;
    invcsi_rng_init(&r, (uint64_t)seed, INVCSI_SPLIT_STREAM);
    invcsi_rng_shuffle(&r, train, n);

    /* test gets the tail of the permutation, in permuted order */
    memcpy(test, train + nt, sizeof(int) * (size_t)(n - nt));
    if (n_train) *n_train = nt;
    if (n_test) *n_test = n - nt;
}
