// SPDX-License-Identifier: GPL-3.0-or-later
//
// Every element-wise kernel of the CUDA backend: a __global__ grid-stride wrapper around the
// per-item function kb_<name> of kernels/kernel_bodies.h (which calls the INVCSI_HD math
// the CPU loops call), and its extern "C" launcher declared in kernels/cuda_kernels.h.
// Both are generated from the one list INVCSI_ELEMENTWISE_KERNELS; the wrapper body is
// INVCSI_KERNEL_WRAPPER_BODY, the same statement the host emulator (launch_emu.h) runs.
#include <cuda_runtime.h>

#include "cuda_kernels.h"
#include "kernel_bodies.h"
#include "launch.h"

#define INVCSI_DEFINE_KERNEL(name, n_expr, params, args)                                      \
    __global__ void __launch_bounds__(INVCSI_BLOCK) invcsi_k_##name(INVCSI_UNPAREN params)    \
    {                                                                                         \
        INVCSI_KERNEL_WRAPPER_BODY(name, n_expr, args);                                       \
    }                                                                                         \
    extern "C" int invcsi_cuda_##name(INVCSI_UNPAREN params, void *stream)                    \
    {                                                                                         \
        const long items = (n_expr);                                                          \
        if (items <= 0)                                                                       \
            return 0;                                                                         \
        invcsi_k_##name<<<invcsi_grid_1d(items), INVCSI_BLOCK, 0, (cudaStream_t)stream>>>(    \
            INVCSI_UNPAREN args);                                                             \
        return (int)cudaGetLastError();                                                       \
    }

INVCSI_ELEMENTWISE_KERNELS(INVCSI_DEFINE_KERNEL)

extern "C" int invcsi_cuda_daq_backward(const float *thr_raw, const float *step_raw,
                                        const float *thr, const float *step, const float *y,
                                        const float *dq, const float *dlevels, int batch,
                                        int dims, int nk, float beta, float *dy,
                                        float *dthr_raw, float *dstep_raw, double *work,
                                        void *stream)
{
    int rc = invcsi_cuda_daq_backward_sums(thr, step, y, dq, batch, dims, nk, beta, dy, work,
                                           stream);
    if (rc == 0)
        rc = invcsi_cuda_daq_backward_raw(thr_raw, step_raw, work, dlevels, dims, nk, dthr_raw,
                                          dstep_raw, stream);
    return rc;
}
