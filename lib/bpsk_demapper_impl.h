/* -*- c++ -*- */
/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_INVCSI_BPSK_DEMAPPER_IMPL_H
#define INCLUDED_INVCSI_BPSK_DEMAPPER_IMPL_H

#include <gnuradio/invcsi/bpsk_demapper.h>
#include <mutex>

namespace gr {
namespace invcsi {

class bpsk_demapper_impl : public bpsk_demapper
{
private:
    const bool d_soft;
    mutable std::mutex d_mutex; // es and Eb/N0 are set from Python while work() runs
    float d_es;
    double d_ebn0_db;

public:
    bpsk_demapper_impl(bool soft, float es, double ebn0_db);
    ~bpsk_demapper_impl() override;

    bool soft() const override { return d_soft; }
    float es() const override;
    double ebn0_db() const override;
    double n0() const override;
    void set_es(float es) override;
    void set_ebn0_db(double ebn0_db) override;

    int work(int noutput_items,
             gr_vector_const_void_star& input_items,
             gr_vector_void_star& output_items) override;
};

} // namespace invcsi
} // namespace gr

#endif /* INCLUDED_INVCSI_BPSK_DEMAPPER_IMPL_H */
