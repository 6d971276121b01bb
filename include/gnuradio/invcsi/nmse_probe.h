/* -*- c++ -*- */
/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_INVCSI_NMSE_PROBE_H
#define INCLUDED_INVCSI_NMSE_PROBE_H

#include <gnuradio/invcsi/api.h>
#include <gnuradio/sync_block.h>

namespace gr {
namespace invcsi {

/*!
 * \brief Running NMSE and cosine similarity between two CSI streams (a sink).
 * \ingroup invcsi
 *
 * \details
 * Both inputs carry CSI reports as vectors of n_ant * nc gr_complex values,
 * laid out [r][t][k] (receive antenna, transmit antenna, subcarrier), with
 * n_ant = nr * nt. Input 0 is the reference CSI H, input 1 the reconstruction
 * H^. For every pair of reports the block adds
 *   NMSE = ||H - H^||^2 / ||H||^2  and
 *   rho  = mean_k |h_k^H h^_k| / (||h_k|| ||h^_k||)
 * to running means (the C core's invcsi_metrics accumulator, so the numbers are
 * exactly those the trainer and the evaluator print).
 *
 * Every \p report_every reports (0 = never) it publishes on the message port
 * "metrics" a PMT dictionary {nmse_db: double, rho: double, count: long} with the
 * running values since construction or the last reset().
 */
class INVCSI_API nmse_probe : virtual public gr::sync_block
{
public:
    typedef std::shared_ptr<nmse_probe> sptr;

    /*!
     * \brief Make an NMSE probe.
     *
     * \param n_ant antennas per subcarrier, nr * nt (>= 1)
     * \param nc subcarriers (>= 1); the vector length of both inputs is n_ant * nc
     * \param report_every publish a "metrics" message every this many reports
     *        (0 = never publish; >= 0)
     * \throws std::invalid_argument on a parameter out of range
     */
    static sptr make(int n_ant, int nc, int report_every = 0);

    //! Running mean NMSE in dB (10 log10 of the mean linear NMSE).
    virtual double nmse_db() const = 0;

    //! Running mean generalised cosine similarity rho, in [0, 1].
    virtual double rho() const = 0;

    //! Number of report pairs accumulated since construction or reset().
    virtual long count() const = 0;

    //! Forget every accumulated report.
    virtual void reset() = 0;

    //! Antennas per subcarrier (nr * nt).
    virtual int n_ant() const = 0;

    //! Subcarriers.
    virtual int nc() const = 0;

    //! Reports between two "metrics" messages (0 = never).
    virtual int report_every() const = 0;

    //! Change the reports between two "metrics" messages (0 = never, >= 0).
    virtual void set_report_every(int report_every) = 0;
};

} // namespace invcsi
} // namespace gr

#endif /* INCLUDED_INVCSI_NMSE_PROBE_H */
