/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Hand-written pybind11 binding of gr::invcsi::burst_deframer
 * (include/gnuradio/invcsi/burst_deframer.h). Keep in step with that header.
 */

#include <pybind11/pybind11.h>

namespace py = pybind11;

#include <gnuradio/invcsi/burst_deframer.h>

void bind_burst_deframer(py::module& m)
{
    using burst_deframer = ::gr::invcsi::burst_deframer;

    py::class_<burst_deframer, gr::block, gr::basic_block, std::shared_ptr<burst_deframer>>(
        m,
        "burst_deframer",
        "Over-the-air receiver back end: symbol-spaced complex samples in; the payload bits\n"
        "of every burst with a good header (CRC-16, length) and a complete payload out,\n"
        "tagged with len_tag_key (bits) and 'report' (counter). Bad headers and truncated\n"
        "payloads are dropped and counted (getters; dict on message port 'counters').\n"
        "Raises ValueError for a bad parameter.")

        .def(py::init(&burst_deframer::make),
             py::arg("payload_bits") = 0,
             py::arg("preamble_len") = 63,
             py::arg("header_repeat") = 3,
             py::arg("threshold") = 0.35f,
             py::arg("loop_bw") = 0.01f,
             py::arg("len_tag_key") = "packet_len",
             "burst_deframer(payload_bits=0, preamble_len=63, header_repeat=3, "
             "threshold=0.35, loop_bw=0.01, len_tag_key='packet_len')")
        .def("detected", &burst_deframer::detected, "Preamble detections.")
        .def("headers_ok", &burst_deframer::headers_ok, "Headers that passed CRC and length.")
        .def("headers_bad", &burst_deframer::headers_bad, "Headers dropped (CRC or length).")
        .def("truncated", &burst_deframer::truncated, "Bursts dropped as cut off.")
        .def("reports", &burst_deframer::reports, "Reports delivered.")
        .def("missing", &burst_deframer::missing, "Gaps in the counter sequence.")
        .def("last_counter", &burst_deframer::last_counter, "Last delivered counter, -1 first.")
        .def("symbols", &burst_deframer::symbols, "Symbols consumed.");
}
