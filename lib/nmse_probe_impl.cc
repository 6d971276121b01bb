/* -*- c++ -*- */
/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A thin shell around the C core's metrics accumulator (include/invcsi/metrics.h):
 * every number comes from invcsi_metrics_*; this file only moves buffers, locks and
 * publishes messages.
 */

#include "nmse_probe_impl.h"
#include <gnuradio/io_signature.h>
#include <climits>
#include <stdexcept>
#include <string>
#include <vector>

namespace gr {
namespace invcsi {

namespace {

// Checked before the base-class constructor runs, which needs the vector length.
int checked_vlen(int n_ant, int nc, int report_every)
{
    if (n_ant < 1)
        throw std::invalid_argument("invcsi nmse_probe: n_ant (antennas per subcarrier, "
                                    "nr*nt) must be >= 1, got " +
                                    std::to_string(n_ant));
    if (nc < 1)
        throw std::invalid_argument(
            "invcsi nmse_probe: nc (subcarriers) must be >= 1, got " + std::to_string(nc));
    if (report_every < 0)
        throw std::invalid_argument("invcsi nmse_probe: report_every must be >= 0 "
                                    "(0 = never publish), got " +
                                    std::to_string(report_every));
    if ((long long)n_ant * nc > INT_MAX / (long long)sizeof(gr_complex))
        throw std::invalid_argument("invcsi nmse_probe: n_ant*nc = " +
                                    std::to_string((long long)n_ant * nc) +
                                    " complex values per report is too large");
    return n_ant * nc;
}

} // namespace

nmse_probe::sptr nmse_probe::make(int n_ant, int nc, int report_every)
{
    return gnuradio::make_block_sptr<nmse_probe_impl>(n_ant, nc, report_every);
}

nmse_probe_impl::nmse_probe_impl(int n_ant, int nc, int report_every)
    : gr::sync_block(
          "nmse_probe",
          gr::io_signature::make(
              2, 2, sizeof(gr_complex) * checked_vlen(n_ant, nc, report_every)),
          gr::io_signature::make(0, 0, 0)),
      d_n_ant(n_ant),
      d_nc(nc),
      d_report_every(report_every),
      d_port(pmt::mp("metrics"))
{
    invcsi_metrics_reset(&d_acc);
    message_port_register_out(d_port);
    d_logger->debug("n_ant={} nc={} (vlen {}), report_every={}",
                    d_n_ant,
                    d_nc,
                    d_n_ant * d_nc,
                    d_report_every);
}

nmse_probe_impl::~nmse_probe_impl() {}

double nmse_probe_impl::nmse_db() const
{
    std::lock_guard<std::mutex> lock(d_mutex);
    return invcsi_metrics_nmse_db(&d_acc);
}

double nmse_probe_impl::rho() const
{
    std::lock_guard<std::mutex> lock(d_mutex);
    return invcsi_metrics_rho(&d_acc);
}

long nmse_probe_impl::count() const
{
    std::lock_guard<std::mutex> lock(d_mutex);
    return d_acc.count;
}

void nmse_probe_impl::reset()
{
    std::lock_guard<std::mutex> lock(d_mutex);
    invcsi_metrics_reset(&d_acc);
}

int nmse_probe_impl::report_every() const
{
    std::lock_guard<std::mutex> lock(d_mutex);
    return d_report_every;
}

void nmse_probe_impl::set_report_every(int report_every)
{
    if (report_every < 0)
        throw std::invalid_argument("invcsi nmse_probe: report_every must be >= 0 "
                                    "(0 = never publish), got " +
                                    std::to_string(report_every));
    std::lock_guard<std::mutex> lock(d_mutex);
    d_report_every = report_every;
}

pmt::pmt_t nmse_probe_impl::metrics_dict_locked() const
{
    pmt::pmt_t d = pmt::make_dict();
    d = pmt::dict_add(d, pmt::mp("nmse_db"), pmt::from_double(invcsi_metrics_nmse_db(&d_acc)));
    d = pmt::dict_add(d, pmt::mp("rho"), pmt::from_double(invcsi_metrics_rho(&d_acc)));
    d = pmt::dict_add(d, pmt::mp("count"), pmt::from_long(d_acc.count));
    return d;
}

int nmse_probe_impl::work(int noutput_items,
                          gr_vector_const_void_star& input_items,
                          gr_vector_void_star& output_items)
{
    // std::complex<float> is laid out as float[2] (re, im): the C core's interleaved format.
    const float* ref = reinterpret_cast<const float*>(input_items[0]);
    const float* rec = reinterpret_cast<const float*>(input_items[1]);
    const size_t floats_per_report = 2 * (size_t)d_n_ant * (size_t)d_nc;

    std::vector<pmt::pmt_t> reports; // published after the lock is released
    {
        std::lock_guard<std::mutex> lock(d_mutex);
        for (int i = 0; i < noutput_items; i++) {
            invcsi_metrics_add(&d_acc,
                               ref + i * floats_per_report,
                               rec + i * floats_per_report,
                               d_n_ant,
                               d_nc);
            if (d_report_every > 0 && d_acc.count % d_report_every == 0)
                reports.push_back(metrics_dict_locked());
        }
    }
    for (const auto& msg : reports)
        message_port_pub(d_port, msg);

    return noutput_items;
}

} /* namespace invcsi */
} /* namespace gr */
