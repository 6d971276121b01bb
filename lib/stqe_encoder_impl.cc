/* -*- c++ -*- */
/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A thin shell around the C core: invcsi_dft_forward + invcsi_scale (the preprocessing
 * invcsi_preprocess applies, as in inn_encoder) and invcsi_stqenet_encode_report, whose
 * bytes are published as a PDU. This file only moves buffers and counts reports.
 */

#include "stqe_encoder_impl.h"
#include <gnuradio/io_signature.h>

extern "C" {
#include <invcsi/stqenet.h>
}

namespace gr {
namespace invcsi {

namespace {

const char* const WHO = "stqe_encoder";

} // namespace

stqe_encoder::sptr stqe_encoder::make(const std::string& weights)
{
    // Loaded before the block exists: the input vector length comes from the weights.
    return gnuradio::make_block_sptr<stqe_encoder_impl>(load_stqenet_weights(WHO, weights));
}

stqe_encoder_impl::stqe_encoder_impl(core_model_ptr model)
    : gr::sync_block(
          WHO,
          gr::io_signature::make(
              1, 1, sizeof(gr_complex) * model->cfg.nr * model->cfg.nt * model->cfg.nc),
          gr::io_signature::make(0, 0, 0)),
      d_model(std::move(model)),
      d_dft(make_dft(WHO, d_model->cfg.nr, d_model->cfg.nt, d_model->cfg.nc)),
      d_port(pmt::mp("pdus")),
      d_x(d_model->cfg.dim),
      d_pdu(invcsi_stqenet_max_pdu_bytes(d_model.get())),
      d_reports(0),
      d_pdu_bytes(0)
{
    message_port_register_out(d_port);
    d_logger->info("stqenet encoder: {} x {} x {} (nr x nt x nc) -> M = {} symbols of {} "
                   "bits, PDUs of at most {} bytes, scale {}",
                   d_model->cfg.nr,
                   d_model->cfg.nt,
                   d_model->cfg.nc,
                   d_model->cfg.m,
                   bits(),
                   d_pdu.size(),
                   d_model->cfg.norm_scale);
}

stqe_encoder_impl::~stqe_encoder_impl() {}

int stqe_encoder_impl::bits() const { return invcsi_stqenet_bits(d_model.get()); }

double stqe_encoder_impl::mean_pdu_bits() const
{
    const uint64_t n = d_reports.load();
    return n ? 8.0 * (double)d_pdu_bytes.load() / (double)n : 0.0;
}

int stqe_encoder_impl::work(int noutput_items,
                            gr_vector_const_void_star& input_items,
                            gr_vector_void_star& output_items)
{
    // std::complex<float> is float[2] (re, im): the C core's interleaved layout.
    const float* h = reinterpret_cast<const float*>(input_items[0]);
    const long dim = d_model->cfg.dim; // 2 nr nt nc: floats per report, H and x alike

    invcsi_error err;
    invcsi_error_clear(&err);
    for (int i = 0; i < noutput_items; i++) {
        invcsi_dft_forward(d_dft.get(), h + i * dim, d_x.data(), 1);
        invcsi_scale(d_x.data(), 1, dim, d_model->cfg.norm_scale);
        size_t len = 0;
        if (invcsi_stqenet_encode_report(
                d_model.get(), d_x.data(), d_pdu.data(), d_pdu.size(), &len, &err) !=
            INVCSI_OK)
            throw_core(WHO, err);
        const uint64_t index = d_reports.load();
        pmt::pmt_t meta = pmt::make_dict();
        meta = pmt::dict_add(meta, pmt::mp("report"), pmt::from_uint64(index));
        meta = pmt::dict_add(
            meta,
            pmt::mp("coded_bits"),
            pmt::from_long(8 * ((long)len - (long)INVCSI_REPORT_OVERHEAD)));
        message_port_pub(d_port, pmt::cons(meta, pmt::init_u8vector(len, d_pdu.data())));
        d_pdu_bytes.fetch_add(len);
        d_reports.store(index + 1);
    }
    return noutput_items;
}

} /* namespace invcsi */
} /* namespace gr */
