/* -*- c++ -*- */
/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A thin shell around the C core: invcsi_stqenet_decode_report_fault (checks, rANS,
 * decoder network), then the inverse of the preprocessing (invcsi_scale by 1/scale,
 * invcsi_dft_inverse) as inn_ic_decoder does it. This file only queues PDUs, moves
 * buffers and counts.
 */

#include "stqe_decoder_impl.h"
#include <gnuradio/io_signature.h>
#include <algorithm>

extern "C" {
#include <invcsi/stqenet.h>
}

namespace gr {
namespace invcsi {

namespace {

const char* const WHO = "stqe_decoder";
const char* const NOT_A_PDU = "not a pdu";

stqe_decoder_impl::drop_mode parse_on_drop(const std::string& s)
{
    if (s == "zeros")
        return stqe_decoder_impl::DROP_ZEROS;
    if (s == "hold")
        return stqe_decoder_impl::DROP_HOLD;
    if (s == "skip")
        return stqe_decoder_impl::DROP_SKIP;
    throw std::invalid_argument(std::string("invcsi ") + WHO +
                                ": on_drop must be \"zeros\" (an all-zero report), \"hold\" "
                                "(the last decoded report) or \"skip\" (no output), got \"" +
                                s + "\"");
}

} // namespace

stqe_decoder::sptr stqe_decoder::make(const std::string& weights, const std::string& on_drop)
{
    const stqe_decoder_impl::drop_mode mode = parse_on_drop(on_drop); // before the load
    return gnuradio::make_block_sptr<stqe_decoder_impl>(load_stqenet_weights(WHO, weights), mode);
}

stqe_decoder_impl::stqe_decoder_impl(core_model_ptr model, drop_mode on_drop)
    : gr::block(WHO,
                gr::io_signature::make(0, 0, 0),
                gr::io_signature::make(
                    1, 1, sizeof(gr_complex) * model->cfg.nr * model->cfg.nt * model->cfg.nc)),
      d_model(std::move(model)),
      d_dft(make_dft(WHO, d_model->cfg.nr, d_model->cfg.nt, d_model->cfg.nc)),
      d_on_drop(on_drop),
      d_port(pmt::mp("pdus")),
      d_drop_key(pmt::mp("stqe_dropped")),
      d_xhat(d_model->cfg.dim),
      d_last(d_model->cfg.dim, 0.0f),
      d_warned_not_pdu(false),
      d_received(0),
      d_decoded(0),
      d_dropped(0),
      d_out(0)
{
    message_port_register_in(d_port);
    set_msg_handler(d_port, [this](const pmt::pmt_t& msg) { this->handle_pdu(msg); });
    d_logger->info("stqenet decoder: PDUs of M = {} symbols of {} bits -> {} x {} x {} "
                   "(nr x nt x nc); a dropped report gives {}",
                   d_model->cfg.m,
                   bits(),
                   d_model->cfg.nr,
                   d_model->cfg.nt,
                   d_model->cfg.nc,
                   d_on_drop == DROP_ZEROS  ? "zeros"
                   : d_on_drop == DROP_HOLD ? "the last decoded report"
                                            : "no output");
}

stqe_decoder_impl::~stqe_decoder_impl() {}

int stqe_decoder_impl::bits() const { return invcsi_stqenet_bits(d_model.get()); }

std::string stqe_decoder_impl::on_drop() const
{
    return d_on_drop == DROP_ZEROS ? "zeros" : d_on_drop == DROP_HOLD ? "hold" : "skip";
}

std::map<std::string, uint64_t> stqe_decoder_impl::drop_faults() const
{
    std::lock_guard<std::mutex> lock(d_mutex);
    return d_faults;
}

void stqe_decoder_impl::reset_counters()
{
    std::lock_guard<std::mutex> lock(d_mutex);
    d_faults.clear();
    d_received.store(0);
    d_decoded.store(0);
    d_dropped.store(0);
    d_out.store(0);
}

void stqe_decoder_impl::handle_pdu(const pmt::pmt_t& msg)
{
    std::lock_guard<std::mutex> lock(d_mutex);
    d_queue.push_back(msg);
    d_received.fetch_add(1);
}

void stqe_decoder_impl::count_drop(const std::string& fault)
{
    std::lock_guard<std::mutex> lock(d_mutex);
    d_faults[fault]++;
    d_dropped.fetch_add(1);
}

int stqe_decoder_impl::general_work(int noutput_items,
                                    gr_vector_int& ninput_items,
                                    gr_vector_const_void_star& input_items,
                                    gr_vector_void_star& output_items)
{
    float* out = reinterpret_cast<float*>(output_items[0]); // gr_complex = float[2]
    const long dim = d_model->cfg.dim; // 2 nr nt nc: floats per report, x^ and H^ alike
    const double inv_scale = 1.0 / d_model->cfg.norm_scale;

    int produced = 0;
    while (produced < noutput_items) {
        pmt::pmt_t msg;
        {
            std::lock_guard<std::mutex> lock(d_mutex);
            if (d_queue.empty())
                break;
            msg = d_queue.front();
            d_queue.pop_front();
        }
        float* h = out + (long)produced * dim;

        std::string fault;
        if (!(pmt::is_pair(msg) && pmt::is_u8vector(pmt::cdr(msg)))) {
            fault = NOT_A_PDU;
            if (!d_warned_not_pdu) {
                d_logger->warn("a message on \"pdus\" is not a PDU of bytes (meta, "
                               "u8vector): counted as dropped (warned once)");
                d_warned_not_pdu = true;
            }
        } else {
            const pmt::pmt_t bytes = pmt::cdr(msg);
            size_t len = 0;
            const uint8_t* pdu = pmt::u8vector_elements(bytes, len);
            invcsi_error err;
            invcsi_error_clear(&err);
            invcsi_report_fault why = INVCSI_REPORT_OK;
            const int rc = invcsi_stqenet_decode_report_fault(
                d_model.get(), pdu, len, d_xhat.data(), &why, &err);
            if (rc == INVCSI_STQENET_EDROPPED)
                fault = invcsi_report_fault_name(why);
            else if (rc != INVCSI_OK)
                throw_core(WHO, err);
        }

        if (fault.empty()) {
            invcsi_scale(d_xhat.data(), 1, dim, inv_scale);
            invcsi_dft_inverse(d_dft.get(), d_xhat.data(), h, 1);
            if (d_on_drop == DROP_HOLD)
                std::copy(h, h + dim, d_last.begin());
            d_decoded.fetch_add(1);
        } else {
            count_drop(fault);
            if (d_on_drop == DROP_SKIP)
                continue;
            if (d_on_drop == DROP_HOLD)
                std::copy(d_last.begin(), d_last.end(), h);
            else
                std::fill(h, h + dim, 0.0f);
            add_item_tag(0, nitems_written(0) + produced, d_drop_key, pmt::mp(fault));
        }
        produced++;
    }
    d_out.fetch_add((uint64_t)produced);
    return produced;
}

} /* namespace invcsi */
} /* namespace gr */
