/* -*- c++ -*- */
/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_INVCSI_CSI_SOURCE_H
#define INCLUDED_INVCSI_CSI_SOURCE_H

#include <gnuradio/invcsi/api.h>
#include <gnuradio/sync_block.h>
#include <cstdint>
#include <string>
#include <vector>

namespace gr {
namespace invcsi {

/*!
 * \brief CSI reports from a channel data set (.mat) or the 3GPP CDL generator.
 * \ingroup invcsi
 *
 * \details
 * Each output item is one CSI report: nr * nt * nc gr_complex values laid out
 * [r][t][k] (receive antenna, transmit antenna, subcarrier), the frequency-domain H
 * exactly as the C core holds it (no DFT, no normalisation: the encoder does that).
 *
 * source "mat": the reports of \p path (any file the core's loader reads: invcsi-gen
 * output, DeepMIMO, COST2100). \p subset picks all reports, or the held-out "test"
 * (or "train") part of the split invcsi-train and invcsi-eval make with \p split_seed
 * and \p train_frac (the core's invcsi_split), in the split's order, so a flowgraph
 * sees the very reports invcsi-eval evaluates. \p shuffle reorders every pass with
 * the core's seeded shuffle (RNG stream = pass number of \p seed).
 *
 * source "cdl": reports drawn live by the CDL generator (\p cdl_model, \p seed, nr,
 * nt, nc; the other generator parameters at invcsi-gen's defaults), so report i
 * equals sample i of `invcsi-gen --model M --seed S --nr --nt --nc`. \p cdl_reports
 * reports make one pass (0 = endless).
 *
 * Sizes nr, nt, nc: 0 means the file's own (source "mat") or the project defaults
 * 1 x 32 x 32 (source "cdl"); given (> 0) for a file, they must match it (GRC sizes
 * the output port from them, so a mismatch is reported here, not at connect time).
 *
 * \p repeat: start a new pass when one ends; otherwise the block returns WORK_DONE
 * after the last report.
 */
class INVCSI_API csi_source : virtual public gr::sync_block
{
public:
    typedef std::shared_ptr<csi_source> sptr;

    /*!
     * \brief Make a CSI source.
     *
     * \param source "mat" (data set file) or "cdl" (live generator)
     * \param path the .mat file (source "mat"; ignored for "cdl")
     * \param subset "all", "test" or "train" (source "mat")
     * \param split_seed seed of the train/test split (invcsi-train --split-seed)
     * \param train_frac training fraction of the split, in (0, 1) (invcsi-train
     *        --train-frac; 0.7 by default)
     * \param shuffle reorder the reports of every pass (source "mat")
     * \param seed shuffle seed (source "mat") or generator seed (source "cdl")
     * \param repeat start over after the last report instead of ending
     * \param cdl_model "cdl-a" .. "cdl-e" (source "cdl")
     * \param nr receive (UE) antennas (0 = the file's / 1)
     * \param nt transmit (BS) antennas (0 = the file's / 32)
     * \param nc subcarriers (0 = the file's / 32)
     * \param cdl_reports reports per pass (source "cdl"; 0 = endless)
     * \throws std::invalid_argument for a bad parameter
     * \throws std::runtime_error when the file cannot be read or the subset is empty
     */
    static sptr make(const std::string& source,
                     const std::string& path,
                     const std::string& subset = "all",
                     uint64_t split_seed = 1,
                     double train_frac = 0.7,
                     bool shuffle = false,
                     uint64_t seed = 1,
                     bool repeat = false,
                     const std::string& cdl_model = "cdl-c",
                     int nr = 0,
                     int nt = 0,
                     int nc = 0,
                     long cdl_reports = 0);

    virtual int nr() const = 0;
    virtual int nt() const = 0;
    virtual int nc() const = 0;
    //! Complex values per report: nr * nt * nc.
    virtual int vlen() const = 0;
    //! Reports per pass (0 = endless CDL source).
    virtual long reports_per_pass() const = 0;
    //! Reports emitted since construction.
    virtual long reports_emitted() const = 0;
    //! Source "mat": the data-set indices of the current pass, in emission order.
    virtual std::vector<int> order() const = 0;
};

} // namespace invcsi
} // namespace gr

#endif /* INCLUDED_INVCSI_CSI_SOURCE_H */
