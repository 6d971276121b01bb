/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "invcsi/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void invcsi_rng_init(invcsi_rng *r, uint64_t seed, uint64_t stream)
{
    /* Mix seed and stream so neighbouring streams are unrelated. */
    uint64_t x = seed ^ (stream * 0xD1B54A32D192ED03ULL + 0x8CB92BA72F3D8DD7ULL);
    splitmix64(&x);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
    r->has_spare = 0;
    r->spare = 0.0;
}

uint64_t invcsi_rng_u64(invcsi_rng *r)
{
    uint64_t *s = r->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double invcsi_rng_uniform(invcsi_rng *r)
{
    /* 53 random bits, shifted by half an ulp so 0 and 1 never occur. */
    return ((double)(invcsi_rng_u64(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

double invcsi_rng_normal(invcsi_rng *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u1 = invcsi_rng_uniform(r), u2 = invcsi_rng_uniform(r);
    double mag = sqrt(-2.0 * log(u1));
    r->spare = mag * sin(2.0 * M_PI * u2);
    r->has_spare = 1;
    return mag * cos(2.0 * M_PI * u2);
}

double invcsi_rng_gumbel(invcsi_rng *r)
{
    return -log(-log(invcsi_rng_uniform(r)));
}

uint64_t invcsi_rng_below(invcsi_rng *r, uint64_t n)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t v;
    do {
        v = invcsi_rng_u64(r);
    } while (v >= limit);
    return v % n;
}

void invcsi_rng_shuffle(invcsi_rng *r, int *idx, int n)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)invcsi_rng_below(r, (uint64_t)i + 1);
        int t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}
