/* -*- c++ -*- */
/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_INVCSI_BPSK_DEMAPPER_H
#define INCLUDED_INVCSI_BPSK_DEMAPPER_H

#include <gnuradio/invcsi/api.h>
#include <gnuradio/sync_block.h>

namespace gr {
namespace invcsi {

/*!
 * \brief BPSK detector of the InvCSINet bit link: symbols in, bits or LLRs out.
 * \ingroup invcsi
 *
 * \details
 * Input: gr_complex symbols (bit 0 was sent as +sqrt(Es)). Only the real part is used.
 * Hard (soft = false): the ML decision, one bit per byte (0 or 1), bit = Re(r) < 0
 * (invcsi_bpsk_hard). Soft (soft = true): one float LLR per symbol,
 * LLR = log P(b=0|r)/P(b=1|r) = 4 sqrt(Es) Re(r) / N0 with N0 = Es / 10^(ebn0_db/10)
 * (invcsi_bpsk_llr; positive means bit 0; the sign agrees with the hard decision).
 */
class INVCSI_API bpsk_demapper : virtual public gr::sync_block
{
public:
    typedef std::shared_ptr<bpsk_demapper> sptr;

    /*!
     * \param soft false: bytes with hard decisions; true: float LLRs
     * \param es symbol energy Es = Eb (> 0, finite)
     * \param ebn0_db Eb/N0 in dB that sets N0 for the LLRs (finite; unused when hard)
     * \throws std::invalid_argument for a bad parameter
     */
    static sptr make(bool soft = false, float es = 1.0f, double ebn0_db = 10.0);

    virtual bool soft() const = 0;
    virtual float es() const = 0;
    virtual double ebn0_db() const = 0;
    //! N0 the LLRs are computed with.
    virtual double n0() const = 0;
    virtual void set_es(float es) = 0;
    virtual void set_ebn0_db(double ebn0_db) = 0;
};

} // namespace invcsi
} // namespace gr

#endif /* INCLUDED_INVCSI_BPSK_DEMAPPER_H */
