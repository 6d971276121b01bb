/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Hand-written pybind11 binding of gr::invcsi::bpsk_demapper
 * (include/gnuradio/invcsi/bpsk_demapper.h). Keep in step with that header.
 */

#include <pybind11/pybind11.h>

namespace py = pybind11;

#include <gnuradio/invcsi/bpsk_demapper.h>

void bind_bpsk_demapper(py::module& m)
{
    using bpsk_demapper = ::gr::invcsi::bpsk_demapper;

    py::class_<bpsk_demapper,
               gr::sync_block,
               gr::block,
               gr::basic_block,
               std::shared_ptr<bpsk_demapper>>(
        m,
        "bpsk_demapper",
        "BPSK detector: complex symbols in; soft=False: hard ML decisions, one bit per\n"
        "byte (bit = Re(r) < 0); soft=True: float LLRs 4 sqrt(es) Re(r) / N0 with\n"
        "N0 = es / 10^(ebn0_db/10) (positive = bit 0). The C core's bit link.\n"
        "Raises ValueError for es <= 0 or a non-finite ebn0_db.")

        .def(py::init(&bpsk_demapper::make),
             py::arg("soft") = false,
             py::arg("es") = 1.0f,
             py::arg("ebn0_db") = 10.0,
             "bpsk_demapper(soft=False, es=1.0, ebn0_db=10.0)")
        .def("soft", &bpsk_demapper::soft, "True when the output is LLRs.")
        .def("es", &bpsk_demapper::es, "Symbol energy.")
        .def("ebn0_db", &bpsk_demapper::ebn0_db, "Eb/N0 (dB) of the LLR scale.")
        .def("n0", &bpsk_demapper::n0, "N0 the LLRs are computed with.")
        .def("set_es", &bpsk_demapper::set_es, py::arg("es"), "Change the symbol energy.")
        .def("set_ebn0_db",
             &bpsk_demapper::set_ebn0_db,
             py::arg("ebn0_db"),
             "Change the Eb/N0 of the LLR scale.");
}
