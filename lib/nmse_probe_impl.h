/* -*- c++ -*- */
/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_INVCSI_NMSE_PROBE_IMPL_H
#define INCLUDED_INVCSI_NMSE_PROBE_IMPL_H

#include <gnuradio/invcsi/nmse_probe.h>
#include <mutex>

extern "C" {
#include <invcsi/metrics.h>
}

namespace gr {
namespace invcsi {

class nmse_probe_impl : public nmse_probe
{
private:
    const int d_n_ant;
    const int d_nc;
    int d_report_every;
    const pmt::pmt_t d_port; // "metrics"
    // The accumulator is read by Python (nmse_db(), ...) while work() adds to it.
    mutable std::mutex d_mutex;
    invcsi_metrics_acc d_acc;

    // The {nmse_db, rho, count} dictionary; d_mutex must be held.
    pmt::pmt_t metrics_dict_locked() const;

public:
    nmse_probe_impl(int n_ant, int nc, int report_every);
    ~nmse_probe_impl() override;

    double nmse_db() const override;
    double rho() const override;
    long count() const override;
    void reset() override;
    int n_ant() const override { return d_n_ant; }
    int nc() const override { return d_nc; }
    int report_every() const override;
    void set_report_every(int report_every) override;

    int work(int noutput_items,
             gr_vector_const_void_star& input_items,
             gr_vector_void_star& output_items) override;
};

} // namespace invcsi
} // namespace gr

#endif /* INCLUDED_INVCSI_NMSE_PROBE_IMPL_H */
