/* -*- c++ -*- */
/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_INVCSI_BPSK_BIT_MAPPER_H
#define INCLUDED_INVCSI_BPSK_BIT_MAPPER_H

#include <gnuradio/invcsi/api.h>
#include <gnuradio/sync_block.h>

namespace gr {
namespace invcsi {

/*!
 * \brief BPSK mapper of the InvCSINet bit link: unpacked bits in, symbols out.
 * \ingroup invcsi
 *
 * \details
 * Input: one bit per byte (GNU Radio's unpacked convention; the byte's least
 * significant bit is the bit). Output: one gr_complex symbol per bit,
 * bit b -> (1 - 2b) sqrt(Es) + 0j, so bit 0 -> +sqrt(Es): the C core's
 * invcsi_bpsk_map_complex, the same mapping the evaluator and D-BCD assume.
 */
class INVCSI_API bpsk_bit_mapper : virtual public gr::sync_block
{
public:
    typedef std::shared_ptr<bpsk_bit_mapper> sptr;

    /*!
     * \param es symbol energy Es = Eb (> 0, finite)
     * \throws std::invalid_argument for a bad es
     */
    static sptr make(float es = 1.0f);

    virtual float es() const = 0;
    //! Change the symbol energy (> 0, finite).
    virtual void set_es(float es) = 0;

    /*!
     * \brief Noise voltage of channels.channel_model for BPSK at this Eb/N0.
     *
     * channel_model adds complex Gaussian noise of total variance noise_voltage^2,
     * i.e. N0 = noise_voltage^2 with N0/2 per real dimension, the core's AWGN
     * convention. Returns sqrt(N0) with N0 = invcsi_bpsk_n0(es, 10^(ebn0_db/10)).
     */
    static double noise_voltage(double ebn0_db, double es = 1.0);
};

} // namespace invcsi
} // namespace gr

#endif /* INCLUDED_INVCSI_BPSK_BIT_MAPPER_H */
