/* -*- c++ -*- */
/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A thin shell around the C core's real-bit link (linkeval.h): invcsi_link_decode_bits
 * (or invcsi_link_llr_to_levels + invcsi_link_decode_levels for LLRs), then the inverse
 * of the preprocessing (invcsi_scale by 1/scale, invcsi_dft_inverse) as invcsi-eval does
 * it. This file only moves buffers and counts reports.
 */

#include "inn_ic_decoder_impl.h"
#include <gnuradio/io_signature.h>

namespace gr {
namespace invcsi {

namespace {
const char* const WHO = "inn_ic_decoder";
}

inn_ic_decoder::sptr inn_ic_decoder::make(const std::string& weights,
                                          const std::string& z_mode,
                                          uint64_t seed,
                                          bool soft_input,
                                          int bits,
                                          float range,
                                          const std::string& mapping,
                                          int batch,
                                          const std::string& device)
{
    int zm;
    if (z_mode == "mean")
        zm = INVCSI_Z_MEAN;
    else if (z_mode == "sample")
        zm = INVCSI_Z_SAMPLE;
    else
        throw std::invalid_argument(std::string("invcsi ") + WHO +
                                    ": z_mode must be \"mean\" (prior mean) or \"sample\" "
                                    "(seeded sample), got \"" +
                                    z_mode + "\"");
    core_model_ptr model = load_weights(WHO, weights, batch);
    const quantizer_setup q = resolve_quantizer(WHO, model.get(), bits, range, mapping);
    if ((long long)q.bits * model->cfg.m > (1 << 24))
        throw std::invalid_argument(std::string("invcsi ") + WHO + ": " +
                                    std::to_string((long long)q.bits * model->cfg.m) +
                                    " bits per report is too large");
    return gnuradio::make_block_sptr<inn_ic_decoder_impl>(
        std::move(model), q, zm, seed, soft_input, batch, device);
}

inn_ic_decoder_impl::inn_ic_decoder_impl(core_model_ptr model,
                                         const quantizer_setup& q,
                                         int z_mode,
                                         uint64_t seed,
                                         bool soft_input,
                                         int batch,
                                         const std::string& device)
    : gr::sync_decimator(
          "inn_ic_decoder",
          gr::io_signature::make(1, 1, soft_input ? sizeof(float) : sizeof(uint8_t)),
          gr::io_signature::make(
              1, 1, sizeof(gr_complex) * model->cfg.nr * model->cfg.nt * model->cfg.nc),
          q.bits * model->cfg.m),
      d_model(std::move(model)),
      d_dft(make_dft(WHO, d_model->cfg.nr, d_model->cfg.nt, d_model->cfg.nc)),
      d_q(q),
      d_soft(soft_input),
      d_z_mode(z_mode),
      d_batch(batch),
      d_levels(soft_input ? (size_t)batch * d_model->cfg.m : 0),
      d_xhat((size_t)batch * d_model->cfg.dim),
      d_reports(0)
{
    std::string why;
    d_device = select_device(WHO, device, &why);
    if (!why.empty())
        d_logger->info("{}", why);
    invcsi_error err;
    invcsi_error_clear(&err);
    invcsi_link_config cfg = invcsi_link_config_default();
    cfg.bits = d_q.bits;
    cfg.mapping = d_q.mapping;
    cfg.z_mode = d_z_mode;
    cfg.detect = d_soft ? INVCSI_DETECT_MMSE : INVCSI_DETECT_HARD;
    cfg.seed = seed;
    invcsi_link* l = nullptr;
    if (invcsi_link_create(&l, d_model.get(), &cfg, &err) != INVCSI_OK)
        throw_core(WHO, err);
    d_link.reset(l);
    if (!d_q.learned) {
        // The uniform quantizer of daq_quantizer: [-range, range] in every dimension.
        const std::vector<float> center(d_model->cfg.m, 0.0f);
        const std::vector<float> half(d_model->cfg.m, d_q.range);
        if (invcsi_link_set_range(d_link.get(), center.data(), half.data(), &err) !=
            INVCSI_OK)
            throw_core(WHO, err);
    }
    d_logger->info("{} decoder: {} {} per report ({} x {} bits, {} labels, {}), z = {}{} "
                   "-> {} x {} x {} (nr x nt x nc), batch {}",
                   d_model->cfg.kind,
                   d_q.bits * d_model->cfg.m,
                   d_soft ? "LLRs" : "bits",
                   d_model->cfg.m,
                   d_q.bits,
                   invcsi_bitmap_name(d_q.mapping),
                   d_q.learned ? "learned DAQ levels"
                               : "uniform levels on [-" + std::to_string(d_q.range) + ", " +
                                     std::to_string(d_q.range) + "]",
                   this->z_mode(),
                   d_z_mode == INVCSI_Z_SAMPLE ? " (seed " + std::to_string(seed) + ")"
                                               : std::string(),
                   d_model->cfg.nr,
                   d_model->cfg.nt,
                   d_model->cfg.nc,
                   d_batch);
}

inn_ic_decoder_impl::~inn_ic_decoder_impl()
{
    d_link.reset(); // before the model it points to
}

int inn_ic_decoder_impl::work(int noutput_items,
                              gr_vector_const_void_star& input_items,
                              gr_vector_void_star& output_items)
{
    float* h = reinterpret_cast<float*>(output_items[0]); // gr_complex = float[2]
    const long nbits = (long)d_q.bits * d_model->cfg.m;
    const long dim = d_model->cfg.dim; // 2 nr nt nc: floats per report, x^ and H^ alike
    const double inv_scale = 1.0 / d_model->cfg.norm_scale;

    invcsi_error err;
    uint64_t first = d_reports.load();
    for (long at = 0; at < noutput_items; at += d_batch) {
        const int n = (int)(noutput_items - at < d_batch ? noutput_items - at : d_batch);
        int rc;
        if (d_soft) {
            const float* llr = reinterpret_cast<const float*>(input_items[0]) + at * nbits;
            rc = invcsi_link_llr_to_levels(d_link.get(), llr, n, d_levels.data(), &err);
            if (rc == INVCSI_OK)
                rc = invcsi_link_decode_levels(
                    d_link.get(), d_levels.data(), n, first + at, d_xhat.data(), &err);
        } else {
            const uint8_t* bits = reinterpret_cast<const uint8_t*>(input_items[0]) + at * nbits;
            rc = invcsi_link_decode_bits(d_link.get(), bits, n, first + at, d_xhat.data(), &err);
        }
        if (rc != INVCSI_OK)
            throw_core(WHO, err);
        invcsi_scale(d_xhat.data(), n, dim, inv_scale);
        invcsi_dft_inverse(d_dft.get(), d_xhat.data(), h + at * dim, n);
    }
    d_reports.store(first + (uint64_t)noutput_items);
    return noutput_items;
}

} /* namespace invcsi */
} /* namespace gr */
