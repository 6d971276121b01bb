/* -*- c++ -*- */
/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_INVCSI_CSI_SOURCE_IMPL_H
#define INCLUDED_INVCSI_CSI_SOURCE_IMPL_H

#include <gnuradio/invcsi/csi_source.h>
#include <mutex>
#include <string>
#include <vector>

extern "C" {
#include <invcsi/cdl.h>
#include <invcsi/channels.h>
}

namespace gr {
namespace invcsi {

// Everything make() checks and loads before the block exists (the output vector
// length depends on the file). The impl takes ownership of set.h.
struct csi_source_setup {
    bool cdl = false;
    bool shuffle = false;
    uint64_t seed = 1;
    bool repeat = false;
    int nr = 0, nt = 0, nc = 0;
    long per_pass = 0;
    invcsi_channels set{};      // source "mat"
    std::vector<int> base;      // source "mat": subset indices in split order
    invcsi_cdl_params cdl_params{}; // source "cdl"
    std::string description;    // for the log
};

class csi_source_impl : public csi_source
{
private:
    const bool d_cdl; // live generator instead of a loaded data set
    const bool d_shuffle;
    const uint64_t d_seed;
    const bool d_repeat;
    const int d_nr, d_nt, d_nc;
    const long d_per_pass; // reports per pass (0 = endless generator)

    // source "mat": the whole set, the subset's indices in split order, and this
    // pass's order (d_base shuffled with the pass number as the RNG stream).
    invcsi_channels d_set;
    std::vector<int> d_base;
    std::vector<int> d_order;

    // source "cdl": generator parameters and one sample's ray list.
    invcsi_cdl_params d_cdl_params;
    std::vector<invcsi_cdl_ray> d_rays;

    mutable std::mutex d_mutex; // order() and reports_emitted() are read from Python
    long d_pass;                // passes started
    long d_pos;                 // next report within the pass
    long d_emitted;

    void start_pass_locked(long pass);

public:
    explicit csi_source_impl(csi_source_setup&& setup);
    ~csi_source_impl() override;

    int nr() const override { return d_nr; }
    int nt() const override { return d_nt; }
    int nc() const override { return d_nc; }
    int vlen() const override { return d_nr * d_nt * d_nc; }
    long reports_per_pass() const override { return d_per_pass; }
    long reports_emitted() const override;
    std::vector<int> order() const override;

    int work(int noutput_items,
             gr_vector_const_void_star& input_items,
             gr_vector_void_star& output_items) override;
};

} // namespace invcsi
} // namespace gr

#endif /* INCLUDED_INVCSI_CSI_SOURCE_IMPL_H */
