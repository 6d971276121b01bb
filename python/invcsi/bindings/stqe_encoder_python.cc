/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Hand-written pybind11 binding of gr::invcsi::stqe_encoder
 * (include/gnuradio/invcsi/stqe_encoder.h). Keep in step with that header.
 */

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

namespace py = pybind11;

#include <gnuradio/invcsi/stqe_encoder.h>

void bind_stqe_encoder(py::module& m)
{
    using stqe_encoder = ::gr::invcsi::stqe_encoder;

    py::class_<stqe_encoder,
               gr::sync_block,
               gr::block,
               gr::basic_block,
               std::shared_ptr<stqe_encoder>>(
        m,
        "stqe_encoder",
        "UE-side STQENet encoder: CSI report (nr*nt*nc complex, [r][t][k]) in, one PDU per\n"
        "report out on the message port 'pdus': (meta, u8vector) with the coded report\n"
        "(16-bit length prefix, rANS bytes, CRC-32; include/invcsi/report_codec.h) and meta\n"
        "{report, coded_bits}. The C core does the DFT, the stored scale, the encoder\n"
        "network, the mu-law quantizer and the rANS coder. Raises ValueError for an empty\n"
        "path and RuntimeError for a missing, corrupt or non-STQENet weights file.")

        .def(py::init(&stqe_encoder::make), py::arg("weights"), "stqe_encoder(weights)")

        .def("nr", &stqe_encoder::nr, "Receive (UE) antennas.")
        .def("nt", &stqe_encoder::nt, "Transmit (BS) antennas.")
        .def("nc", &stqe_encoder::nc, "Subcarriers.")
        .def("vlen", &stqe_encoder::vlen, "Complex values per input report (nr*nt*nc).")
        .def("m", &stqe_encoder::m, "Latent symbols per report (M).")
        .def("bits", &stqe_encoder::bits, "Bits per symbol (B).")
        .def("max_pdu_bytes", &stqe_encoder::max_pdu_bytes, "Largest PDU of a report.")
        .def("norm_scale", &stqe_encoder::norm_scale, "Data-set scale stored with the weights.")
        .def("reports", &stqe_encoder::reports, "Reports encoded since construction.")
        .def("pdu_bytes", &stqe_encoder::pdu_bytes, "Sum of the PDU sizes (bytes).")
        .def("mean_pdu_bits", &stqe_encoder::mean_pdu_bits, "Mean PDU size in bits.");
}
