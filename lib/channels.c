/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "invcsi/channels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int invcsi_channels_alloc(invcsi_channels *c, int n, int nr, int nt, int nc, invcsi_error *err)
{
    memset(c, 0, sizeof *c);
    if (n <= 0 || nr <= 0 || nt <= 0 || nc <= 0)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "channel set size must be positive (n=%d nr=%d nt=%d nc=%d)",
                                n, nr, nt, nc);
    size_t count = (size_t)n * nr * nt * nc * 2;
    c->h = calloc(count, sizeof(float));
    if (!c->h)
        return invcsi_error_set(err, INVCSI_ENOMEM,
                                "cannot allocate %zu MB for %d channel samples",
                                count * sizeof(float) >> 20, n);
    c->n = n;
    c->nr = c->cfg.nr = nr;
    c->nt = c->cfg.nt = nt;
    c->nc = c->cfg.nc = nc;
    c->cfg.k_factor_db = NAN;
    strcpy(c->cfg.model, "unknown");
    return INVCSI_OK;
}

void invcsi_channels_free(invcsi_channels *c)
{
    if (!c)
        return;
    free(c->h);
    free(c->pos);
    c->h = NULL;
    c->pos = NULL;
    c->n = 0;
}

int invcsi_channels_normalize_samples(invcsi_channels *c, double *gain_db, invcsi_error *err)
{
    if (!c || !c->h || c->n <= 0)
        return invcsi_error_set(err, INVCSI_EINVAL, "normalize: empty channel set");
    const long len = invcsi_channels_sample_len(c);
    for (int i = 0; i < c->n; i++) {
        float *h = c->h + (size_t)i * 2 * len;
        double e = 0.0;
        for (long j = 0; j < 2 * len; j++)
            e += (double)h[j] * h[j];
        const double mean = e / len;
        if (!(mean > 0.0) || !isfinite(mean))
            return invcsi_error_set(err, INVCSI_EINVAL,
                                    "normalize: sample %d has zero or non-finite power (%g)", i,
                                    mean);
        const float scale = (float)(1.0 / sqrt(mean));
        for (long j = 0; j < 2 * len; j++)
            h[j] *= scale;
        if (gain_db)
            gain_db[i] = 10.0 * log10(mean);
    }
    return INVCSI_OK;
}
