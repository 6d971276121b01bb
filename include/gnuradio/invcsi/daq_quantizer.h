/* -*- c++ -*- */
/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_INVCSI_DAQ_QUANTIZER_H
#define INCLUDED_INVCSI_DAQ_QUANTIZER_H

#include <gnuradio/invcsi/api.h>
#include <gnuradio/sync_interpolator.h>
#include <string>

namespace gr {
namespace invcsi {

/*!
 * \brief UE-side quantizer: latent y in, B * M unpacked bits out.
 * \ingroup invcsi
 *
 * \details
 * Input: one latent vector of M floats per item (the output of invcsi.inn_encoder with
 * the same weights). Output: B bits per latent value, one bit per byte (GNU Radio's
 * unpacked convention), so B * M bytes per report: index j of value d goes to bytes
 * d*B .. d*B+B-1, most significant bit first, as its natural-binary or Gray label.
 *
 * InvCSINet weights ("invcsinet"): the learned DAQ of the weights file, with its own B
 * and label mapping (\p bits must be 0 or that B; \p range and \p mapping are unused).
 * Other weights (inn, csinet: no DAQ): the uniform B-bit quantizer on [-range, range]
 * (levels -R + j 2R/(L-1), thresholds at the midpoints; the core's invcsi_daq uniform
 * quantizer), \p bits in 1..8, labels per \p mapping. invcsi.inn_ic_decoder must get
 * the same weights, bits, range and mapping.
 *
 * \p len_tag_key: when not empty, the first bit of every report carries a stream tag
 * with this key and the value B * M (a tagged stream of one report per packet).
 */
class INVCSI_API daq_quantizer : virtual public gr::sync_interpolator
{
public:
    typedef std::shared_ptr<daq_quantizer> sptr;

    /*!
     * \param weights weights file (safetensors) from invcsi-train
     * \param bits B; 0 = the weights' DAQ (InvCSINet); 1..8 for models without a DAQ
     * \param range R > 0 of the uniform quantizer (models without a DAQ)
     * \param mapping "natural" or "gray" index labels (models without a DAQ)
     * \param batch reports per core call (>= 1)
     * \param len_tag_key tag key for the per-report length tag ("" = no tags)
     * \throws std::invalid_argument for a bad parameter
     * \throws std::runtime_error for a missing, corrupt or unsupported weights file
     */
    static sptr make(const std::string& weights,
                     int bits = 0,
                     float range = 1.0f,
                     const std::string& mapping = "natural",
                     int batch = 64,
                     const std::string& len_tag_key = "");

    //! Model kind of the weights.
    virtual std::string kind() const = 0;
    //! True when the weights' learned DAQ quantizes (InvCSINet), false for uniform.
    virtual bool learned() const = 0;
    //! Latent values per report (input vector length).
    virtual int m() const = 0;
    //! Bits per latent value.
    virtual int bits() const = 0;
    //! Bits per report: B * M (output items per input item).
    virtual int payload_bits() const = 0;
    //! Label mapping in use: "natural" or "gray".
    virtual std::string mapping() const = 0;
    //! Range R of the uniform quantizer (0 for a learned DAQ).
    virtual float range() const = 0;
};

} // namespace invcsi
} // namespace gr

#endif /* INCLUDED_INVCSI_DAQ_QUANTIZER_H */
