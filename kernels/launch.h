/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Launch geometry and the grid-stride loop, shared by the CUDA kernels (the .cu files in
 * kernels/) and the host launch emulator (kernels/launch_emu.h): both pick gridDim and
 * blockDim with the same function and run the same per-thread wrapper body, so an emulated launch visits
 * exactly the (blockIdx, threadIdx, i) triples a real launch does.
 *
 * The names blockIdx, threadIdx, blockDim and gridDim are CUDA's built-ins under nvcc; on
 * the host, kernels/launch_emu.h defines variables of the same names that its loops set.
 * INVCSI_KERNEL_WRAPPER_BODY(...) below therefore compiles unchanged in both places.
 */
#ifndef INVCSI_LAUNCH_H
#define INVCSI_LAUNCH_H

#include "invcsi_hd.h"

/* Threads per block of every 1-D kernel. A power of two: the block reduction halves it. */
#define INVCSI_BLOCK 256
/* Most blocks of a 1-D launch. Beyond this, threads loop (grid stride): 2048 x 256 threads
 * fill every SM of an H100 (132 SMs x 2048 resident threads) and keep the reduction's
 * partial-sum array small enough for one second-pass block. */
#define INVCSI_MAX_GRID 2048

/* Blocks of a 1-D launch over n >= 1 items: ceil(n / INVCSI_BLOCK), at most INVCSI_MAX_GRID. */
INVCSI_HD unsigned invcsi_grid_1d(long n)
{
    const long b = (n + INVCSI_BLOCK - 1) / INVCSI_BLOCK;
    return b < 1 ? 1u : (b > INVCSI_MAX_GRID ? (unsigned)INVCSI_MAX_GRID : (unsigned)b);
}

/* Grid-stride loop over i in [0, n): thread t of block b starts at b * blockDim + t and
 * steps by the whole grid. 64-bit index: buffers of > 2^31 floats are legal on a GPU. */
#define INVCSI_GRID_STRIDE_LOOP(i, n)                                                         \
    for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                      \
         i += (long)blockDim.x * gridDim.x)

/* The one wrapper body of an element-wise kernel: the grid-stride loop around the kernel's
 * per-item function kb_<name>(i, args...). The __global__ wrapper in elementwise.cu and the
 * emulator's per-thread function are both exactly this statement. */
#define INVCSI_KERNEL_WRAPPER_BODY(name, n_expr, args)                                       \
    do {                                                                                      \
        const long invcsi_n_ = (n_expr);                                                      \
        INVCSI_GRID_STRIDE_LOOP(invcsi_i_, invcsi_n_)                                         \
        kb_##name(invcsi_i_, INVCSI_UNPAREN args);                                            \
    } while (0)

/* Strips one pair of parentheses: INVCSI_UNPAREN (a, b) -> a, b. */
#define INVCSI_UNPAREN(...) __VA_ARGS__

/* Phases of a block-cooperative kernel (the reduction): code between two INVCSI_SYNC is run
 * by every thread of the block. On the GPU a phase is the thread's own code and
 * INVCSI_SYNC is __syncthreads(); in the emulator a phase is a loop over threadIdx.x and
 * the barrier is the end of that loop (every thread has finished the phase). */
#if defined(__CUDACC__)
#define INVCSI_FOR_EACH_THREAD if (1)
#define INVCSI_SYNC __syncthreads()
#define INVCSI_BLOCK_HD static __device__ __forceinline__
#else
#define INVCSI_FOR_EACH_THREAD                                                                \
    for (threadIdx.x = 0; threadIdx.x < blockDim.x; threadIdx.x++)
#define INVCSI_SYNC ((void)0)
#define INVCSI_BLOCK_HD static inline
#endif

#endif
