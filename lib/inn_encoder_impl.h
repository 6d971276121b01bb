/* -*- c++ -*- */
/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_INVCSI_INN_ENCODER_IMPL_H
#define INCLUDED_INVCSI_INN_ENCODER_IMPL_H

#include "block_core.h"
#include <gnuradio/invcsi/inn_encoder.h>
#include <vector>

namespace gr {
namespace invcsi {

class inn_encoder_impl : public inn_encoder
{
private:
    core_model_ptr d_model;
    core_dft_ptr d_dft;
    const int d_batch;
    std::string d_device;
    std::vector<float> d_x; // batch preprocessed reports (DFT, scaled)

public:
    inn_encoder_impl(core_model_ptr model, int batch, const std::string& device);
    ~inn_encoder_impl() override;

    std::string kind() const override { return d_model->cfg.kind; }
    int nr() const override { return d_model->cfg.nr; }
    int nt() const override { return d_model->cfg.nt; }
    int nc() const override { return d_model->cfg.nc; }
    int vlen() const override { return d_model->cfg.nr * d_model->cfg.nt * d_model->cfg.nc; }
    int m() const override { return d_model->cfg.m; }
    double norm_scale() const override { return d_model->cfg.norm_scale; }
    int batch() const override { return d_batch; }
    std::string device() const override { return d_device; }

    int work(int noutput_items,
             gr_vector_const_void_star& input_items,
             gr_vector_void_star& output_items) override;
};

} // namespace invcsi
} // namespace gr

#endif /* INCLUDED_INVCSI_INN_ENCODER_IMPL_H */
