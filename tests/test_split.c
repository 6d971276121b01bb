/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Deterministic train/test split (lib/split.c). */
#include "check.h"

#include <string.h>

#include "invcsi/transform.h"

/* train and test together hold each of 0..n-1 exactly once. */
static int is_partition(int n, const int *train, int nt, const int *test, int ne)
{
    if (nt + ne != n)
        return 0;
    char *seen = calloc((size_t)n + 1, 1);
    int ok = 1;
    for (int i = 0; i < nt + ne && ok; i++) {
        int v = i < nt ? train[i] : test[i - nt];
        if (v < 0 || v >= n || seen[v])
            ok = 0;
        else
            seen[v] = 1;
    }
    free(seen);
    return ok;
}

static void test_basic(void)
{
    enum { N = 1000 };
    static int tr[N], te[N], tr2[N], te2[N], tr3[N], te3[N];
    int nt = -1, ne = -1, nt2, ne2, nt3, ne3;
    invcsi_split(N, 0.7, 42, tr, &nt, te, &ne);
    CHECK(nt == 700 && ne == 300, "70/30 of 1000 gave %d/%d", nt, ne);
    CHECK(is_partition(N, tr, nt, te, ne), "not a disjoint cover of 0..999");

    invcsi_split(N, 0.7, 42, tr2, &nt2, te2, &ne2);
    CHECK(nt2 == nt && memcmp(tr, tr2, sizeof(int) * nt) == 0 && memcmp(te, te2, sizeof(int) * ne) == 0,
          "same seed, different split");

    invcsi_split(N, 0.7, 43, tr3, &nt3, te3, &ne3);
    CHECK(nt3 == 700 && memcmp(tr, tr3, sizeof(int) * nt) != 0, "different seed, same split");
    int shared = 0; /* a new seed should draw a genuinely different test set */
    for (int i = 0; i < ne; i++)
        for (int j = 0; j < ne3; j++)
            shared += te[i] == te3[j];
    printf("seeds 42 and 43 share %d of 300 test indices (about 90 expected at random)\n", shared);
    CHECK(shared < 200, "test sets of seeds 42 and 43 overlap in %d of 300", shared);

    /* it is shuffled, not the identity */
    int in_place = 0;
    for (int i = 0; i < nt; i++)
        in_place += tr[i] == i;
    CHECK(in_place < 50, "%d of 700 training indices at their own position", in_place);
}

static void test_edges(void)
{
    int tr[8], te[8], nt = -1, ne = -1;

    invcsi_split(1, 0.7, 1, tr, &nt, te, &ne);
    CHECK(nt == 1 && ne == 0 && tr[0] == 0, "n=1, 0.7: %d/%d", nt, ne);
    invcsi_split(1, 0.3, 1, tr, &nt, te, &ne);
    CHECK(nt == 0 && ne == 1 && te[0] == 0, "n=1, 0.3: %d/%d", nt, ne);

    invcsi_split(8, 0.0, 1, tr, &nt, te, &ne);
    CHECK(nt == 0 && ne == 8 && is_partition(8, tr, nt, te, ne), "frac 0: %d/%d", nt, ne);
    invcsi_split(8, 1.0, 1, tr, &nt, te, &ne);
    CHECK(nt == 8 && ne == 0 && is_partition(8, tr, nt, te, ne), "frac 1: %d/%d", nt, ne);
    invcsi_split(8, 1.5, 1, tr, &nt, te, &ne);
    CHECK(nt == 8 && ne == 0, "frac 1.5 clamps to 1: %d/%d", nt, ne);
    invcsi_split(8, -0.2, 1, tr, &nt, te, &ne);
    CHECK(nt == 0 && ne == 8, "frac -0.2 clamps to 0: %d/%d", nt, ne);
    invcsi_split(8, NAN, 1, tr, &nt, te, &ne);
    CHECK(nt == 0 && ne == 8, "frac NaN gives no training set: %d/%d", nt, ne);
    invcsi_split(8, 0.5, 1, tr, &nt, te, &ne);
    CHECK(nt == 4 && ne == 4 && is_partition(8, tr, nt, te, ne), "frac 0.5 of 8: %d/%d", nt, ne);
    invcsi_split(3, 0.5, 1, tr, &nt, te, &ne); /* 1.5 rounds to 2 */
    CHECK(nt == 2 && ne == 1 && is_partition(3, tr, nt, te, ne), "frac 0.5 of 3: %d/%d", nt, ne);

    nt = ne = -1;
    invcsi_split(0, 0.7, 1, tr, &nt, te, &ne);
    CHECK(nt == 0 && ne == 0, "n=0: %d/%d", nt, ne);
    nt = ne = -1;
    invcsi_split(-5, 0.7, 1, tr, &nt, te, &ne);
    CHECK(nt == 0 && ne == 0, "n<0: %d/%d", nt, ne);
}

int main(void)
{
    test_basic();
    test_edges();
    return check_done("test_split");
}
