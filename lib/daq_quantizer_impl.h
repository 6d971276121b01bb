/* -*- c++ -*- */
/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_INVCSI_DAQ_QUANTIZER_IMPL_H
#define INCLUDED_INVCSI_DAQ_QUANTIZER_IMPL_H

#include "block_core.h"
#include <gnuradio/invcsi/daq_quantizer.h>
#include <vector>

extern "C" {
#include <invcsi/daq.h>
}

namespace gr {
namespace invcsi {

class daq_quantizer_impl : public daq_quantizer
{
private:
    core_model_ptr d_model;
    const quantizer_setup d_q;
    const int d_m;
    const int d_batch;
    std::vector<int> d_idx; // batch * M level indices

    // Uniform quantizer (weights without a DAQ): the core's DAQ tables of
    // invcsi_daq_init_uniform, derived once.
    invcsi_daq_config d_ucfg;
    std::vector<float> d_uraw;    // threshold_raw, step_raw
    std::vector<float> d_utables; // thresholds, steps, levels
    invcsi_daq_tables d_ut;

    const pmt::pmt_t d_len_key; // PMT_NIL: no tags
    const pmt::pmt_t d_len_value;

public:
    daq_quantizer_impl(core_model_ptr model,
                       const quantizer_setup& q,
                       int batch,
                       const std::string& len_tag_key);
    ~daq_quantizer_impl() override;

    std::string kind() const override { return d_model->cfg.kind; }
    bool learned() const override { return d_q.learned; }
    int m() const override { return d_m; }
    int bits() const override { return d_q.bits; }
    int payload_bits() const override { return d_q.bits * d_m; }
    std::string mapping() const override { return invcsi_bitmap_name(d_q.mapping); }
    float range() const override { return d_q.range; }

    int work(int noutput_items,
             gr_vector_const_void_star& input_items,
             gr_vector_void_star& output_items) override;
};

} // namespace invcsi
} // namespace gr

#endif /* INCLUDED_INVCSI_DAQ_QUANTIZER_IMPL_H */
