/* -*- c++ -*- */
/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_INVCSI_BPSK_BIT_MAPPER_IMPL_H
#define INCLUDED_INVCSI_BPSK_BIT_MAPPER_IMPL_H

#include <gnuradio/invcsi/bpsk_bit_mapper.h>
#include <atomic>

namespace gr {
namespace invcsi {

class bpsk_bit_mapper_impl : public bpsk_bit_mapper
{
private:
    std::atomic<float> d_es; // set from Python while work() runs

public:
    explicit bpsk_bit_mapper_impl(float es);
    ~bpsk_bit_mapper_impl() override;

    float es() const override { return d_es.load(); }
    void set_es(float es) override;

    int work(int noutput_items,
             gr_vector_const_void_star& input_items,
             gr_vector_void_star& output_items) override;
};

} // namespace invcsi
} // namespace gr

#endif /* INCLUDED_INVCSI_BPSK_BIT_MAPPER_IMPL_H */
