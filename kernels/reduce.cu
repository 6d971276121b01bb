// SPDX-License-Identifier: GPL-3.0-or-later
//
// The one block-reduction kernel of the CUDA backend (sums for the MSE, gradient norms,
// MMD kernel sums): kblock_sum of kernels/kernel_bodies.h with its shared-memory tree;
// the order is documented there and reproduced on the CPU by tests/test_cuda_emulator.c.
#include <cuda_runtime.h>

#include "cuda_kernels.h"
#include "kernel_bodies.h"
#include "launch.h"

__global__ void __launch_bounds__(INVCSI_BLOCK) invcsi_k_block_sum(const float *x, long n,
                                                                   float *partial)
{
    __shared__ float sh[INVCSI_BLOCK];
    kblock_sum(x, n, partial, sh);
}

extern "C" int invcsi_cuda_sum(const float *x, long n, float *partial, float *result,
                               void *stream)
{
    cudaStream_t s = (cudaStream_t)stream;
    if (n <= 0)
        return (int)cudaMemsetAsync(result, 0, sizeof(float), s);
    const unsigned grid = invcsi_grid_1d(n);
    invcsi_k_block_sum<<<grid, INVCSI_BLOCK, 0, s>>>(x, n, partial);
    cudaError_t rc = cudaGetLastError();
    if (rc != cudaSuccess)
        return (int)rc;
    // second pass: one block over the partials (grid stride inside the block)
    invcsi_k_block_sum<<<1, INVCSI_BLOCK, 0, s>>>(partial, (long)grid, result);
    return (int)cudaGetLastError();
}
