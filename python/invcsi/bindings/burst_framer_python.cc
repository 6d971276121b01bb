/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Hand-written pybind11 binding of gr::invcsi::burst_framer
 * (include/gnuradio/invcsi/burst_framer.h). Keep in step with that header.
 */

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

namespace py = pybind11;

#include <gnuradio/invcsi/burst_framer.h>

void bind_burst_framer(py::module& m)
{
    using burst_framer = ::gr::invcsi::burst_framer;

    py::class_<burst_framer,
               gr::tagged_stream_block,
               gr::block,
               gr::basic_block,
               std::shared_ptr<burst_framer>>(
        m,
        "burst_framer",
        "Over-the-air framing: a tagged stream of payload bits (one report per packet) in,\n"
        "one BPSK burst per packet out: [guard 0s][m-sequence preamble][header (counter,\n"
        "length, CRC-16) x header_repeat][payload, bit b -> 1 - 2b][guard 0s], tagged with\n"
        "len_tag_key (symbols) and 'report' (counter); burst_tags adds tx_sob/tx_eob.\n"
        "Raises ValueError for a bad parameter.")

        .def(py::init(&burst_framer::make),
             py::arg("len_tag_key") = "packet_len",
             py::arg("preamble_len") = 63,
             py::arg("header_repeat") = 3,
             py::arg("guard") = 16,
             py::arg("first_counter") = 0,
             py::arg("burst_tags") = false,
             "burst_framer(len_tag_key='packet_len', preamble_len=63, header_repeat=3, "
             "guard=16, first_counter=0, burst_tags=False)")
        .def("bursts", &burst_framer::bursts, "Bursts sent so far.")
        .def("next_counter", &burst_framer::next_counter, "Counter of the next burst.")
        .def("preamble_len", &burst_framer::preamble_len)
        .def("header_repeat", &burst_framer::header_repeat)
        .def("guard", &burst_framer::guard)
        .def_static("preamble",
                    &burst_framer::preamble,
                    py::arg("preamble_len") = 63,
                    "The preamble chips (+-1 floats) of length 31, 63 or 127.")
        .def_static("burst_symbols",
                    &burst_framer::burst_symbols,
                    py::arg("payload_bits"),
                    py::arg("preamble_len") = 63,
                    py::arg("header_repeat") = 3,
                    py::arg("guard") = 16,
                    "Symbols per burst: 2 guard + preamble_len + 48 header_repeat + "
                    "payload_bits.");
}
