/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Hand-written pybind11 binding of gr::invcsi::stqe_decoder
 * (include/gnuradio/invcsi/stqe_decoder.h). Keep in step with that header.
 */

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

namespace py = pybind11;

#include <gnuradio/invcsi/stqe_decoder.h>

void bind_stqe_decoder(py::module& m)
{
    using stqe_decoder = ::gr::invcsi::stqe_decoder;

    py::class_<stqe_decoder, gr::block, gr::basic_block, std::shared_ptr<stqe_decoder>>(
        m,
        "stqe_decoder",
        "BS-side STQENet decoder: coded-report PDUs in on the message port 'pdus', CSI\n"
        "reports (nr*nt*nc complex, [r][t][k]) out. A PDU that fails the length, CRC or\n"
        "stream check is dropped and counted, never decoded; on_drop says what the output\n"
        "carries then: 'zeros' (an all-zero report), 'hold' (the last decoded one) or\n"
        "'skip' (nothing). Raises ValueError for a bad parameter and RuntimeError for a\n"
        "missing, corrupt or non-STQENet weights file.")

        .def(py::init(&stqe_decoder::make),
             py::arg("weights"),
             py::arg("on_drop") = "zeros",
             "stqe_decoder(weights, on_drop='zeros')")

        .def("nr", &stqe_decoder::nr, "Receive (UE) antennas.")
        .def("nt", &stqe_decoder::nt, "Transmit (BS) antennas.")
        .def("nc", &stqe_decoder::nc, "Subcarriers.")
        .def("vlen", &stqe_decoder::vlen, "Complex values per output report (nr*nt*nc).")
        .def("m", &stqe_decoder::m, "Latent symbols per report (M).")
        .def("bits", &stqe_decoder::bits, "Bits per symbol (B).")
        .def("on_drop", &stqe_decoder::on_drop, "'zeros', 'hold' or 'skip'.")
        .def("received", &stqe_decoder::received, "PDUs taken from the port.")
        .def("decoded", &stqe_decoder::decoded, "PDUs decoded.")
        .def("dropped", &stqe_decoder::dropped, "PDUs dropped (failed a check).")
        .def("drop_faults",
             &stqe_decoder::drop_faults,
             "Dropped PDUs by fault name, e.g. {'crc mismatch': 3}.")
        .def("reports_out", &stqe_decoder::reports_out, "Reports written to the output.")
        .def("reset_counters", &stqe_decoder::reset_counters, "Zero every counter.");
}
