/* -*- c++ -*- */
/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A thin shell around the C core: invcsi_dft_forward + invcsi_scale (the preprocessing
 * invcsi_preprocess applies, on a caller's buffer) and invcsi_model_encode. This file
 * only moves buffers.
 */

#include "inn_encoder_impl.h"
#include <gnuradio/io_signature.h>

namespace gr {
namespace invcsi {

inn_encoder::sptr
inn_encoder::make(const std::string& weights, int batch, const std::string& device)
{
    // Loaded before the block exists: the vector lengths come from the weights.
    return gnuradio::make_block_sptr<inn_encoder_impl>(
        load_weights("inn_encoder", weights, batch), batch, device);
}

inn_encoder_impl::inn_encoder_impl(core_model_ptr model,
                                   int batch,
                                   const std::string& device)
    : gr::sync_block(
          "inn_encoder",
          gr::io_signature::make(
              1, 1, sizeof(gr_complex) * model->cfg.nr * model->cfg.nt * model->cfg.nc),
          gr::io_signature::make(1, 1, sizeof(float) * model->cfg.m)),
      d_model(std::move(model)),
      d_dft(make_dft("inn_encoder", d_model->cfg.nr, d_model->cfg.nt, d_model->cfg.nc)),
      d_batch(batch),
      d_x((size_t)batch * d_model->cfg.dim)
{
    std::string why;
    d_device = select_device("inn_encoder", device, &why);
    if (!why.empty())
        d_logger->info("{}", why);
    d_logger->info("{} encoder: {} x {} x {} (nr x nt x nc) -> M = {} latent values, "
                   "scale {}, batch {}",
                   d_model->cfg.kind,
                   d_model->cfg.nr,
                   d_model->cfg.nt,
                   d_model->cfg.nc,
                   d_model->cfg.m,
                   d_model->cfg.norm_scale,
                   d_batch);
}

inn_encoder_impl::~inn_encoder_impl() {}

int inn_encoder_impl::work(int noutput_items,
                           gr_vector_const_void_star& input_items,
                           gr_vector_void_star& output_items)
{
    // std::complex<float> is float[2] (re, im): the C core's interleaved layout.
    const float* h = reinterpret_cast<const float*>(input_items[0]);
    float* y = reinterpret_cast<float*>(output_items[0]);
    const long dim = d_model->cfg.dim; // 2 nr nt nc: floats per report, in and x alike
    const long m = d_model->cfg.m;

    invcsi_error err;
    for (long at = 0; at < noutput_items; at += d_batch) {
        const long n = noutput_items - at < d_batch ? noutput_items - at : d_batch;
        invcsi_dft_forward(d_dft.get(), h + at * dim, d_x.data(), n);
        invcsi_scale(d_x.data(), n, dim, d_model->cfg.norm_scale);
        if (invcsi_model_encode(d_model.get(), d_x.data(), n, y + at * m, &err) != INVCSI_OK)
            throw_core("inn_encoder", err);
    }
    return noutput_items;
}

} /* namespace invcsi */
} /* namespace gr */
