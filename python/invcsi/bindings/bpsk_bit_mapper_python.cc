/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Hand-written pybind11 binding of gr::invcsi::bpsk_bit_mapper
 * (include/gnuradio/invcsi/bpsk_bit_mapper.h). Keep in step with that header.
 */

#include <pybind11/pybind11.h>

namespace py = pybind11;

#include <gnuradio/invcsi/bpsk_bit_mapper.h>

void bind_bpsk_bit_mapper(py::module& m)
{
    using bpsk_bit_mapper = ::gr::invcsi::bpsk_bit_mapper;

    py::class_<bpsk_bit_mapper,
               gr::sync_block,
               gr::block,
               gr::basic_block,
               std::shared_ptr<bpsk_bit_mapper>>(
        m,
        "bpsk_bit_mapper",
        "BPSK mapper: unpacked bits (one per byte, LSB) in, complex symbols out;\n"
        "bit b -> (1 - 2b) sqrt(es), so bit 0 -> +sqrt(es) (the C core's mapping).\n"
        "Raises ValueError for es <= 0 or not finite.")

        .def(py::init(&bpsk_bit_mapper::make), py::arg("es") = 1.0f, "bpsk_bit_mapper(es=1.0)")
        .def("es", &bpsk_bit_mapper::es, "Symbol energy.")
        .def("set_es", &bpsk_bit_mapper::set_es, py::arg("es"), "Change the symbol energy.")
        .def_static("noise_voltage",
                    &bpsk_bit_mapper::noise_voltage,
                    py::arg("ebn0_db"),
                    py::arg("es") = 1.0,
                    "noise_voltage(ebn0_db, es=1.0): channels.channel_model noise voltage\n"
                    "for BPSK at this Eb/N0: sqrt(N0), N0 = es / 10^(ebn0_db/10) (the\n"
                    "channel model's complex noise has total variance voltage^2).");
}
