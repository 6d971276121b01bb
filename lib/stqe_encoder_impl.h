/* -*- c++ -*- */
/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_INVCSI_STQE_ENCODER_IMPL_H
#define INCLUDED_INVCSI_STQE_ENCODER_IMPL_H

#include "block_core.h"
#include <gnuradio/invcsi/stqe_encoder.h>
#include <atomic>
#include <vector>

namespace gr {
namespace invcsi {

class stqe_encoder_impl : public stqe_encoder
{
private:
    core_model_ptr d_model;
    core_dft_ptr d_dft;
    const pmt::pmt_t d_port; // "pdus"
    std::vector<float> d_x;     // one preprocessed report (DFT, scaled)
    std::vector<uint8_t> d_pdu; // one PDU, max_pdu_bytes long
    std::atomic<uint64_t> d_reports;
    std::atomic<uint64_t> d_pdu_bytes;

public:
    explicit stqe_encoder_impl(core_model_ptr model);
    ~stqe_encoder_impl() override;

    int nr() const override { return d_model->cfg.nr; }
    int nt() const override { return d_model->cfg.nt; }
    int nc() const override { return d_model->cfg.nc; }
    int vlen() const override { return d_model->cfg.nr * d_model->cfg.nt * d_model->cfg.nc; }
    int m() const override { return d_model->cfg.m; }
    int bits() const override;
    int max_pdu_bytes() const override { return (int)d_pdu.size(); }
    double norm_scale() const override { return d_model->cfg.norm_scale; }
    uint64_t reports() const override { return d_reports.load(); }
    uint64_t pdu_bytes() const override { return d_pdu_bytes.load(); }
    double mean_pdu_bits() const override;

    int work(int noutput_items,
             gr_vector_const_void_star& input_items,
             gr_vector_void_star& output_items) override;
};

} // namespace invcsi
} // namespace gr

#endif /* INCLUDED_INVCSI_STQE_ENCODER_IMPL_H */
