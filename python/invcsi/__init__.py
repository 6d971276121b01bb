#
# Copyright 2025 gr-invcsi developers
#
# This file is part of gr-invcsi
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""
gr-invcsi: deep-learning CSI feedback (InvCSINet) blocks for GNU Radio.

Blocks: csi_source, inn_encoder, daq_quantizer, bpsk_bit_mapper, bpsk_demapper,
inn_ic_decoder, burst_framer, burst_deframer, stqe_encoder, stqe_decoder, nmse_probe; weights_info.read(path) gives the
sizes of a weights file.
"""

# The compiled blocks. No try/except here on purpose: if the extension or one of the
# libraries it needs (libgnuradio-invcsi, libinvcsi) cannot be loaded, the ImportError
# must reach the user instead of leaving a package with no blocks in it.
from .invcsi_python import *  # noqa: F401,F403

# import any pure python here
