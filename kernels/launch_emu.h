/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Host launch emulator of the CUDA kernels, for the tests (no GPU needed): each kernel's
 * wrapper body (INVCSI_KERNEL_WRAPPER_BODY, the statement of the __global__ wrapper in
 * kernels/elementwise.cu) and its per-item function kb_<name> (kernels/kernel_bodies.h)
 * are compiled for the host and run over the whole grid by loops, with the launch
 * geometry the real launcher picks:
 *
 *   gridDim  = (invcsi_grid_1d(items), 1, 1),  blockDim = (INVCSI_BLOCK, 1, 1)
 *   for blockIdx.x in [0, gridDim.x): for threadIdx.x in [0, blockDim.x): wrapper body
 *
 * blockIdx, threadIdx, blockDim and gridDim are variables of this file with CUDA's names,
 * so the same text compiles for both. The block reduction runs its phases thread by
 * thread with a barrier between phases (INVCSI_FOR_EACH_THREAD / INVCSI_SYNC in
 * kernels/launch.h) and a local array as its shared memory, which reproduces the tree order
 * of the device exactly.
 *
 * What it does NOT show: device numerics. nvcc contracts a*b+c into FMA and its expf/logf
 * differ from glibc's by an ulp or two, so a GPU matches this emulation within the
 * tolerances of tests/test_gpu_kernels.cu, not bit for bit.
 *
 * Include this file, not kernel_bodies.h, in host code that emulates launches; one
 * translation unit only (it defines the four variables).
 */
#ifndef INVCSI_LAUNCH_EMU_H
#define INVCSI_LAUNCH_EMU_H

#if defined(__CUDACC__)
#error "launch_emu.h is the host emulator; device code uses CUDA's own launch"
#endif

#define INVCSI_EMULATOR 1

typedef struct {
    unsigned x, y, z;
} invcsi_emu_dim3;

/* The launch state, under CUDA's names so the kernel text compiles unchanged. Thread-local:
 * the CPU backend's sum (lib/backend.c) runs the emulated reduction, and library calls may
 * come from several threads at once. */
static _Thread_local invcsi_emu_dim3 gridDim, blockDim, blockIdx, threadIdx;

#include "kernel_bodies.h"
#include "launch.h"

/* Sets the geometry the real launcher uses for `items` items. */
static inline void invcsi_emu_geometry(long items)
{
    gridDim = (invcsi_emu_dim3){invcsi_grid_1d(items), 1, 1};
    blockDim = (invcsi_emu_dim3){INVCSI_BLOCK, 1, 1};
    blockIdx = threadIdx = (invcsi_emu_dim3){0, 0, 0};
}

/* invcsi_emu_<name>(params): the emulated launch of kernel <name>, with the parameters of
 * invcsi_cuda_<name> minus the stream. Skips a launch without items, as the launcher does. */
#define INVCSI_EMU_DEFINE(name, n_expr, params, args)                                          \
    static inline void invcsi_emu_##name(INVCSI_UNPAREN params)                                       \
    {                                                                                          \
        const long items = (n_expr);                                                           \
        if (items <= 0)                                                                        \
            return;                                                                            \
        invcsi_emu_geometry(items);                                                            \
        for (blockIdx.x = 0; blockIdx.x < gridDim.x; blockIdx.x++)                             \
            for (threadIdx.x = 0; threadIdx.x < blockDim.x; threadIdx.x++)                     \
                INVCSI_KERNEL_WRAPPER_BODY(name, n_expr, args);                                \
    }

INVCSI_ELEMENTWISE_KERNELS(INVCSI_EMU_DEFINE)

/* invcsi_cuda_daq_backward: the two launches in order. */
static inline void invcsi_emu_daq_backward(const float *thr_raw, const float *step_raw,
                                    const float *thr, const float *step, const float *y,
                                    const float *dq, const float *dlevels, int batch, int dims,
                                    int nk, float beta, float *dy, float *dthr_raw,
                                    float *dstep_raw, double *work)
{
    invcsi_emu_daq_backward_sums(thr, step, y, dq, batch, dims, nk, beta, dy, work);
    invcsi_emu_daq_backward_raw(thr_raw, step_raw, work, dlevels, dims, nk, dthr_raw, dstep_raw);
}

/* One emulated launch of the block reduction with `grid` blocks. */
static inline void invcsi_emu_block_sum(const float *x, long n, float *partial, unsigned grid)
{
    float sh[INVCSI_BLOCK]; /* the block's shared memory */
    gridDim = (invcsi_emu_dim3){grid, 1, 1};
    blockDim = (invcsi_emu_dim3){INVCSI_BLOCK, 1, 1};
    for (blockIdx.x = 0; blockIdx.x < gridDim.x; blockIdx.x++)
        kblock_sum(x, n, partial, sh);
}

/* invcsi_cuda_sum: partial needs invcsi_grid_1d(n) floats. */
static inline void invcsi_emu_sum(const float *x, long n, float *partial, float *result)
{
    if (n <= 0) {
        *result = 0.0f;
        return;
    }
    const unsigned grid = invcsi_grid_1d(n);
    invcsi_emu_block_sum(x, n, partial, grid);
    invcsi_emu_block_sum(partial, (long)grid, result, 1);
}

#endif
