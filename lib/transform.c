/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Unitary 2D DFT between the frequency domain H[r][t][k] and the real angular-delay
 * tensor x[2][nr*nt][nc] (see include/invcsi/transform.h for layouts and signs):
 *
 *   X[r][p][q] = 1/sqrt(nt*nc) * sum_t sum_k H[r][t][k] e^{-j2pi p t/nt} e^{+j2pi q k/nc}
 *
 * i.e. a forward DFT over the nt BS antennas (angle p) and an inverse DFT over the nc
 * subcarriers (delay q): a path exp(-j2pi f_k tau) with tau = d / bw lands in delay bin
 * d, and a steering vector exp(+j2pi t p0/nt) lands in angle bin p0.
 *
 * Two one-dimensional FFTW guru plans per direction work in place on an aligned work
 * buffer of one sample. Plans are made once, under a process-wide lock (the FFTW
 * planner is not thread-safe); executing a plan on new arrays (fftwf_execute_dft) is
 * thread-safe, so every call, and every OpenMP thread within a call, uses its own work
 * buffer with the plan's alignment (fftwf_malloc).
 */
#include "invcsi/transform.h"

#include <fftw3.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Serialises every call into the FFTW planner (plan creation and destruction) in this
 * library. The lock/unlock functions are exported so other core files that plan FFTs
 * take the same lock (a second private lock would not protect FFTW's shared state). */
static pthread_mutex_t fftw_planner_lock = PTHREAD_MUTEX_INITIALIZER;

void invcsi_fftw_lock(void) { pthread_mutex_lock(&fftw_planner_lock); }
void invcsi_fftw_unlock(void) { pthread_mutex_unlock(&fftw_planner_lock); }

struct invcsi_dft {
    int nr, nt, nc;
    fftwf_plan angle_fwd;  /* forward DFT over t, for every (r, k) */
    fftwf_plan delay_inv;  /* inverse DFT over k, for every (r, t) */
    fftwf_plan delay_fwd;  /* forward DFT over k: undoes delay_inv (up to nc) */
    fftwf_plan angle_inv;  /* inverse DFT over t: undoes angle_fwd (up to nt) */
    float norm;            /* 1 / sqrt(nt * nc): makes the 2D transform unitary */
};

/* DFT of length n along the t axis (stride nc) of an [nr][nt][nc] complex array,
 * repeated over r (stride nt*nc) and k (stride 1). */
static fftwf_plan plan_over_antennas(int nr, int nt, int nc, int sign, fftwf_complex *buf)
{
    fftwf_iodim dim = {.n = nt, .is = nc, .os = nc};
    fftwf_iodim loops[2] = {
        {.n = nr, .is = nt * nc, .os = nt * nc},
        {.n = nc, .is = 1, .os = 1},
    };
    return fftwf_plan_guru_dft(1, &dim, 2, loops, buf, buf, sign, FFTW_ESTIMATE);
}

/* DFT of length nc along the contiguous k axis, repeated over the nr*nt rows. */
static fftwf_plan plan_over_subcarriers(int nr, int nt, int nc, int sign, fftwf_complex *buf)
{
    fftwf_iodim dim = {.n = nc, .is = 1, .os = 1};
    fftwf_iodim loop = {.n = nr * nt, .is = nc, .os = nc};
    return fftwf_plan_guru_dft(1, &dim, 1, &loop, buf, buf, sign, FFTW_ESTIMATE);
}

static void destroy_plans_locked(invcsi_dft *d)
{
    if (d->angle_fwd) fftwf_destroy_plan(d->angle_fwd);
    if (d->delay_inv) fftwf_destroy_plan(d->delay_inv);
    if (d->delay_fwd) fftwf_destroy_plan(d->delay_fwd);
    if (d->angle_inv) fftwf_destroy_plan(d->angle_inv);
}

int invcsi_dft_create(invcsi_dft **out, int nr, int nt, int nc, invcsi_error *err)
{
    if (!out)
        return invcsi_error_set(err, INVCSI_EINVAL, "invcsi_dft_create: output pointer is NULL");
    *out = NULL;
    if (nr <= 0 || nt <= 0 || nc <= 0)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "invcsi_dft_create: sizes must be positive (nr=%d, nt=%d, nc=%d)",
                                nr, nt, nc);
    if ((long long)nr * nt * nc > 0x3fffffffLL)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "invcsi_dft_create: nr*nt*nc = %lld is too large",
                                (long long)nr * nt * nc);

    invcsi_dft *d = calloc(1, sizeof(*d));
    if (!d)
        return invcsi_error_set(err, INVCSI_ENOMEM, "invcsi_dft_create: out of memory");
    d->nr = nr;
    d->nt = nt;
    d->nc = nc;
    d->norm = (float)(1.0 / sqrt((double)nt * nc));

    /* FFTW_ESTIMATE: planning never touches the buffer and always picks the same
     * algorithm, so results are bit-identical from run to run (FFTW_MEASURE may choose
     * differently each time and change the round-off). */
    fftwf_complex *buf = fftwf_malloc(sizeof(fftwf_complex) * (size_t)nr * nt * nc);
    if (!buf) {
        free(d);
        return invcsi_error_set(err, INVCSI_ENOMEM, "invcsi_dft_create: out of memory");
    }
    invcsi_fftw_lock();
    d->angle_fwd = plan_over_antennas(nr, nt, nc, FFTW_FORWARD, buf);
    d->delay_inv = plan_over_subcarriers(nr, nt, nc, FFTW_BACKWARD, buf);
    d->delay_fwd = plan_over_subcarriers(nr, nt, nc, FFTW_FORWARD, buf);
    d->angle_inv = plan_over_antennas(nr, nt, nc, FFTW_BACKWARD, buf);
    int ok = d->angle_fwd && d->delay_inv && d->delay_fwd && d->angle_inv;
    if (!ok)
        destroy_plans_locked(d);
    invcsi_fftw_unlock();
    fftwf_free(buf);
    if (!ok) {
        free(d);
        return invcsi_error_set(err, INVCSI_EUNSUPPORTED,
                                "invcsi_dft_create: FFTW could not plan a %d x %d x %d transform",
                                nr, nt, nc);
    }
    *out = d;
    return INVCSI_OK;
}

void invcsi_dft_destroy(invcsi_dft *d)
{
    if (!d)
        return;
    invcsi_fftw_lock();
    destroy_plans_locked(d);
    invcsi_fftw_unlock();
    free(d);
}

long invcsi_dft_real_len(const invcsi_dft *d)
{
    return 2L * d->nr * d->nt * d->nc;
}

/* Below this many samples a call stays on the calling thread: starting a team costs
 * more than a few small FFTs. */
#define DFT_PARALLEL_MIN 64

void invcsi_dft_forward(const invcsi_dft *d, const float *h, float *x, long count)
{
    const long n = (long)d->nr * d->nt * d->nc; /* complex values per sample */
    const float norm = d->norm;
#pragma omp parallel if (count >= DFT_PARALLEL_MIN)
    {
        fftwf_complex *w = fftwf_malloc(sizeof(fftwf_complex) * (size_t)n);
        /* A failed allocation cannot be reported through this void API; it leaves the
         * thread's samples untouched rather than crashing (never seen in practice for
         * buffers of a few kB). */
#pragma omp for schedule(static)
        for (long i = 0; i < count; i++) {
            if (!w)
                continue;
            const float *hi = h + 2 * n * i;
            float *re = x + 2 * n * i, *im = re + n;
            memcpy(w, hi, sizeof(fftwf_complex) * (size_t)n);
            fftwf_execute_dft(d->angle_fwd, w, w);
            fftwf_execute_dft(d->delay_inv, w, w);
            for (long j = 0; j < n; j++) {
                re[j] = w[j][0] * norm;
                im[j] = w[j][1] * norm;
            }
        }
        fftwf_free(w);
    }
}

void invcsi_dft_inverse(const invcsi_dft *d, const float *x, float *h, long count)
{
    const long n = (long)d->nr * d->nt * d->nc;
    const float norm = d->norm;
#pragma omp parallel if (count >= DFT_PARALLEL_MIN)
    {
        fftwf_complex *w = fftwf_malloc(sizeof(fftwf_complex) * (size_t)n);
#pragma omp for schedule(static)
        for (long i = 0; i < count; i++) {
            if (!w)
                continue;
            const float *re = x + 2 * n * i, *im = re + n;
            float *hi = h + 2 * n * i;
            for (long j = 0; j < n; j++) {
                w[j][0] = re[j];
                w[j][1] = im[j];
            }
            fftwf_execute_dft(d->delay_fwd, w, w);
            fftwf_execute_dft(d->angle_inv, w, w);
            for (long j = 0; j < n; j++) {
                hi[2 * j] = w[j][0] * norm;
                hi[2 * j + 1] = w[j][1] * norm;
            }
        }
        fftwf_free(w);
    }
}

double invcsi_power_scale(const float *x, long count, long len)
{
    /* Double accumulation in a fixed order: the scale is stored with the weights and
     * must not depend on the thread count. */
    double sum = 0.0;
    long total = count * len;
    for (long i = 0; i < total; i++)
        sum += (double)x[i] * x[i];
    if (!(sum > 0.0) || !isfinite(sum))
        return 1.0; /* empty or all-zero set: nothing to normalise */
    return sqrt((double)total / sum);
}

void invcsi_scale(float *x, long count, long len, double s)
{
    const float sf = (float)s;
    const long total = count * len;
#pragma omp parallel for schedule(static) if (total >= (1L << 20))
    for (long i = 0; i < total; i++)
        x[i] *= sf;
}

int invcsi_preprocess(const invcsi_channels *c, const int *idx, long count, double scale,
                      float *x, invcsi_error *err)
{
    if (!c || !c->h)
        return invcsi_error_set(err, INVCSI_EINVAL, "invcsi_preprocess: channel set is empty (NULL)");
    if (!x && count > 0)
        return invcsi_error_set(err, INVCSI_EINVAL, "invcsi_preprocess: output buffer is NULL");
    if (count < 0)
        return invcsi_error_set(err, INVCSI_EINVAL, "invcsi_preprocess: negative count %ld", count);
    if (!idx && count > c->n)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "invcsi_preprocess: %ld samples requested but the set holds %d",
                                count, c->n);
    if (idx) {
        for (long i = 0; i < count; i++)
            if (idx[i] < 0 || idx[i] >= c->n)
                return invcsi_error_set(err, INVCSI_EINVAL,
                                        "invcsi_preprocess: index idx[%ld] = %d is outside 0..%d",
                                        i, idx[i], c->n - 1);
    }
    if (!isfinite(scale))
        return invcsi_error_set(err, INVCSI_EINVAL, "invcsi_preprocess: scale %g is not finite", scale);

    invcsi_dft *d = NULL;
    int rc = invcsi_dft_create(&d, c->nr, c->nt, c->nc, err);
    if (rc)
        return rc;
    const long n = invcsi_channels_sample_len(c);
    const long len = invcsi_dft_real_len(d);
    if (!idx) {
        /* contiguous rows: one batched call */
        invcsi_dft_forward(d, c->h, x, count);
    } else {
#pragma omp parallel for schedule(static) if (count >= DFT_PARALLEL_MIN)
        for (long i = 0; i < count; i++)
            invcsi_dft_forward(d, c->h + 2 * n * (long)idx[i], x + len * i, 1);
    }
    if (scale != 1.0)
        invcsi_scale(x, count, len, scale);
    invcsi_dft_destroy(d);
    return INVCSI_OK;
}
