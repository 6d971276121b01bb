/* -*- c++ -*- */
/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A thin shell around the C core's burst receiver (burst.h): symbols go in as they come,
 * the reports it completes wait in a queue until the output buffer takes them.
 */

#include "burst_deframer_impl.h"
#include <gnuradio/io_signature.h>
#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

namespace gr {
namespace invcsi {

burst_deframer::sptr burst_deframer::make(int payload_bits,
                                          int preamble_len,
                                          int header_repeat,
                                          float threshold,
                                          float loop_bw,
                                          const std::string& len_tag_key)
{
    invcsi_burst_rx_config cfg = invcsi_burst_rx_config_default();
    cfg.fmt.preamble_len = preamble_len;
    cfg.fmt.header_repeat = header_repeat;
    cfg.payload_bits = payload_bits;
    cfg.threshold = threshold;
    cfg.loop_bw = loop_bw;
    return gnuradio::make_block_sptr<burst_deframer_impl>(cfg, len_tag_key);
}

burst_deframer_impl::burst_deframer_impl(const invcsi_burst_rx_config& cfg,
                                         const std::string& len_tag_key)
    : gr::block("burst_deframer",
                gr::io_signature::make(1, 1, sizeof(gr_complex)),
                gr::io_signature::make(1, 1, sizeof(uint8_t))),
      d_enqueued(0),
      d_len_key(len_tag_key.empty() ? pmt::PMT_NIL : pmt::intern(len_tag_key)),
      d_report_key(pmt::intern("report")),
      d_port(pmt::mp("counters"))
{
    invcsi_error err;
    invcsi_error_clear(&err);
    invcsi_burst_rx* rx = nullptr;
    if (invcsi_burst_rx_create(&rx, &cfg, &err) != INVCSI_OK)
        throw std::invalid_argument(std::string("invcsi burst_deframer: ") + err.msg);
    d_rx.reset(rx);
    d_last_published = *invcsi_burst_rx_counters(rx);
    // Stop taking input while this many decided bits wait for output space.
    d_max_queue = 4 * (cfg.payload_bits > 0 ? cfg.payload_bits : INVCSI_BURST_MAX_PAYLOAD);
    set_tag_propagation_policy(TPP_DONT); // symbol tags mean nothing on the bits
    message_port_register_out(d_port);
    d_logger->debug("payload {} bits (0 = any), preamble {}, header x{}, threshold {}, "
                    "loop bw {}",
                    cfg.payload_bits,
                    cfg.fmt.preamble_len,
                    cfg.fmt.header_repeat,
                    cfg.threshold,
                    cfg.loop_bw);
}

burst_deframer_impl::~burst_deframer_impl() {}

invcsi_burst_counters burst_deframer_impl::snapshot() const
{
    std::lock_guard<std::mutex> lock(d_mutex);
    return *invcsi_burst_rx_counters(d_rx.get());
}

void burst_deframer_impl::on_report(
    void* user, uint16_t counter, const uint8_t* bits, long n, long long first_symbol)
{
    auto* self = static_cast<burst_deframer_impl*>(user);
    self->d_tags.push_back({ self->d_enqueued, counter, n });
    self->d_queue.insert(self->d_queue.end(), bits, bits + n);
    self->d_enqueued += (uint64_t)n;
}

void burst_deframer_impl::publish_if_changed()
{
    invcsi_burst_counters c = snapshot();
    const invcsi_burst_counters& p = d_last_published;
    if (c.detected == p.detected && c.header_ok == p.header_ok &&
        c.header_bad == p.header_bad && c.truncated == p.truncated && c.reports == p.reports)
        return;
    d_last_published = c;
    pmt::pmt_t d = pmt::make_dict();
    d = pmt::dict_add(d, pmt::mp("detected"), pmt::from_long(c.detected));
    d = pmt::dict_add(d, pmt::mp("headers_ok"), pmt::from_long(c.header_ok));
    d = pmt::dict_add(d, pmt::mp("headers_bad"), pmt::from_long(c.header_bad));
    d = pmt::dict_add(d, pmt::mp("truncated"), pmt::from_long(c.truncated));
    d = pmt::dict_add(d, pmt::mp("reports"), pmt::from_long(c.reports));
    d = pmt::dict_add(d, pmt::mp("missing"), pmt::from_long(c.missing));
    d = pmt::dict_add(d, pmt::mp("last_counter"), pmt::from_long(c.last_counter));
    message_port_pub(d_port, d);
}

bool burst_deframer_impl::stop()
{
    {
        std::lock_guard<std::mutex> lock(d_mutex);
        invcsi_burst_rx_finish(d_rx.get()); // a burst cut by the end of the stream
    }
    publish_if_changed();
    return true;
}

void burst_deframer_impl::forecast(int noutput_items, gr_vector_int& ninput_items_required)
{
    // Output comes in bursts, long after the input that makes it: take what there is.
    ninput_items_required[0] = 1;
}

int burst_deframer_impl::general_work(int noutput_items,
                                      gr_vector_int& ninput_items,
                                      gr_vector_const_void_star& input_items,
                                      gr_vector_void_star& output_items)
{
    int consumed = 0;
    if ((long)d_queue.size() < d_max_queue) {
        consumed = ninput_items[0];
        invcsi_error err;
        invcsi_error_clear(&err);
        int rc;
        {
            std::lock_guard<std::mutex> lock(d_mutex);
            rc = invcsi_burst_rx_push(d_rx.get(),
                                      reinterpret_cast<const float*>(input_items[0]),
                                      consumed,
                                      &burst_deframer_impl::on_report,
                                      this,
                                      &err);
        }
        if (rc != INVCSI_OK)
            throw std::runtime_error(std::string("invcsi burst_deframer: ") + err.msg);
        consume_each(consumed);
        publish_if_changed();
    }

    const int n = (int)std::min<size_t>(d_queue.size(), (size_t)noutput_items);
    uint8_t* out = reinterpret_cast<uint8_t*>(output_items[0]);
    std::copy(d_queue.begin(), d_queue.begin() + n, out);
    d_queue.erase(d_queue.begin(), d_queue.begin() + n);
    const uint64_t end = nitems_written(0) + (uint64_t)n;
    while (!d_tags.empty() && d_tags.front().offset < end) {
        const pending_tag& t = d_tags.front();
        if (!pmt::is_null(d_len_key))
            add_item_tag(0, t.offset, d_len_key, pmt::from_long(t.len));
        add_item_tag(0, t.offset, d_report_key, pmt::from_long(t.counter));
        d_tags.pop_front();
    }
    return n;
}

} /* namespace invcsi */
} /* namespace gr */
