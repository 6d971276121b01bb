/* -*- c++ -*- */
/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_INVCSI_INN_IC_DECODER_IMPL_H
#define INCLUDED_INVCSI_INN_IC_DECODER_IMPL_H

#include "block_core.h"
#include <gnuradio/invcsi/inn_ic_decoder.h>
#include <atomic>
#include <vector>

extern "C" {
#include <invcsi/linkeval.h>
}

namespace gr {
namespace invcsi {

struct core_link_deleter {
    void operator()(invcsi_link* l) const { invcsi_link_destroy(l); }
};
using core_link_ptr = std::unique_ptr<invcsi_link, core_link_deleter>;

class inn_ic_decoder_impl : public inn_ic_decoder
{
private:
    core_model_ptr d_model; // declared before d_link: the link uses it until destroyed
    core_link_ptr d_link;
    core_dft_ptr d_dft;
    const quantizer_setup d_q;
    const bool d_soft;
    const int d_z_mode;
    const int d_batch;
    std::vector<float> d_levels; // soft input: batch * M latent estimates
    std::vector<float> d_xhat;   // batch reconstructions x^ (preprocessed domain)
    std::atomic<uint64_t> d_reports;
    std::string d_device;

public:
    inn_ic_decoder_impl(core_model_ptr model,
                        const quantizer_setup& q,
                        int z_mode,
                        uint64_t seed,
                        bool soft_input,
                        int batch,
                        const std::string& device);
    ~inn_ic_decoder_impl() override;

    std::string kind() const override { return d_model->cfg.kind; }
    bool learned() const override { return d_q.learned; }
    int nr() const override { return d_model->cfg.nr; }
    int nt() const override { return d_model->cfg.nt; }
    int nc() const override { return d_model->cfg.nc; }
    int vlen() const override { return d_model->cfg.nr * d_model->cfg.nt * d_model->cfg.nc; }
    int m() const override { return d_model->cfg.m; }
    int bits() const override { return d_q.bits; }
    std::string device() const override { return d_device; }
    int payload_bits() const override { return d_q.bits * d_model->cfg.m; }
    std::string mapping() const override { return invcsi_bitmap_name(d_q.mapping); }
    std::string z_mode() const override
    {
        return d_z_mode == INVCSI_Z_SAMPLE ? "sample" : "mean";
    }
    bool soft_input() const override { return d_soft; }
    uint64_t reports_decoded() const override { return d_reports.load(); }

    int work(int noutput_items,
             gr_vector_const_void_star& input_items,
             gr_vector_void_star& output_items) override;
};

} // namespace invcsi
} // namespace gr

#endif /* INCLUDED_INVCSI_INN_IC_DECODER_IMPL_H */
