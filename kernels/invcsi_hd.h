/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * INVCSI_HD marks the per-element math that the CPU backend calls in loops and the
 * CUDA kernels call from a grid-stride wrapper: one definition of each equation.
 */
#ifndef INVCSI_HD_H
#define INVCSI_HD_H

#if defined(__CUDACC__)
#define INVCSI_HD __host__ __device__ __forceinline__
#else
#define INVCSI_HD static inline
#endif

#endif
