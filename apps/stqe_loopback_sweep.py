#!/usr/bin/python3
#
# Copyright 2025 gr-invcsi developers
#
# This file is part of gr-invcsi
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""STQENet against InvCSINet over the same simulated burst BPSK PHY, over Eb/N0.

Both legs send the same CSI reports through the burst PHY of examples/ota_sim.grc (burst
framer, RRC, channel_model with AWGN, a carrier offset of CFO x symbol rate, a fractional
timing offset, a sample-clock offset and three taps; pfb_clock_sync, costas_loop, burst
deframer), with the same noise seed:
- STQENet: examples/loopback_stqe.grc. One variable-length, CRC-protected coded report per
  burst. A report whose burst is lost (header CRC) or whose payload fails its CRC is
  dropped, counted and reconstructed as zeros (NMSE 0 dB for that report).
- InvCSINet: examples/ota_sim.grc, run by examples/ota_sweep.py's run_sim. M x B raw bits
  per burst; bit errors are decoded as they are. A report whose burst is lost is counted
  here as a reconstruction of zeros as well (ota_sweep leaves it out of its NMSE; that
  figure is printed too).

Columns, per Eb/N0 (per bit on air; preamble and header energy left out, as ota_sim):
STQENet NMSE over all reports (dropped = zeros), reports dropped (lost bursts + CRC
failures), NMSE of the reports decoded, the mean bits on air per report (the whole PDU:
rANS bytes + 2-byte length + CRC-32; in brackets the rANS bits alone) and the mean burst
length in symbols (+ 63 preamble + 3 x 48 header + 2 x 16 guard); InvCSINet NMSE over all
reports (lost = zeros), bursts lost, NMSE of the received reports, its M x B bits, and the
payload BER.

Data: CDL-C reports drawn live (generator seed --cdl-seed, as ota_sim), or with --data a
.mat data set whose held-out test split is used: the split seed and training fraction
stored with each weights file, as invcsi-eval does (the first --reports reports of it).

Example (a build tree, nothing installed):
  apps/stqe_loopback_sweep.py --build build --stqenet stqenet.safetensors \\
      --data cdl-c.mat --reports 200 --snr-db 0,5,10,20
"""

import argparse
import importlib.util
import json
import math
import os
import shutil
import struct
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("INVCSI_SOURCE_DIR", os.path.dirname(HERE))


def load_ota_sweep():
    """examples/ota_sweep.py as a module (its compile_flowgraph, setup_paths, run_sim)."""
    path = os.path.join(SOURCE_DIR, "examples", "ota_sweep.py")
    spec = importlib.util.spec_from_file_location("ota_sweep", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def split_of(weights):
    """(split_seed, train_frac) stored with the weights (invcsi-train's split)."""
    with open(weights, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        meta = json.loads(f.read(n)).get("__metadata__", {})
    cfg = json.loads(meta.get("config", "{}"))
    return int(cfg.get("split_seed", 1)), float(cfg.get("train_frac", 0.7))


def use_test_split(tb, source, readers, data, weights, reports):
    """Replaces the flowgraph's live CDL source block `source` by the first `reports`
    reports of the test split of `data` (the weights' split), feeding the same readers."""
    from gnuradio import blocks, invcsi
    old = getattr(tb, source)
    for blk, port in readers:
        tb.disconnect((old, 0), (blk, port))
    seed, frac = split_of(weights)
    src = invcsi.csi_source("mat", data, "test", seed, frac, False, 1, False, "cdl-c",
                            old.nr(), old.nt(), old.nc(), 0)
    if src.reports_per_pass() < reports:
        sys.exit("--data %s: its test split has %d reports, fewer than --reports %d"
                 % (data, src.reports_per_pass(), reports))
    head = blocks.head(old.vlen() * 8, reports)  # gr_complex = 8 bytes
    tb.connect(src, head)
    for blk, port in readers:
        tb.connect(head, (blk, port))
    tb._test_split = (src, head)  # keep them alive with the flowgraph


def one_tap(tb):
    """ota_sim with one channel tap. Its multipath is a variable, not a parameter, and
    set_multipath before the run changes channel_model's FIR length, which upsets its first
    samples (the first burst was lost at 20 dB): swap in a channel_model built with one tap."""
    from gnuradio import channels, invcsi
    tb.set_multipath([1.0])  # only to have ch_taps computed (normalised) by the flowgraph
    old = tb.channels_channel_model_0
    new = channels.channel_model(invcsi.bpsk_bit_mapper.noise_voltage(tb.snr_db, 1.0),
                                 tb.cfo / tb.sps, 1.0 + tb.clock_ppm * 1e-6, tb.ch_taps,
                                 tb.noise_seed, False)
    tb.disconnect(tb.mmse_resampler_xx_0, old)
    tb.disconnect(old, tb.digital_pfb_clock_sync_xxx_0)
    tb.connect(tb.mmse_resampler_xx_0, new, tb.digital_pfb_clock_sync_xxx_0)
    tb.channels_channel_model_0 = new


def linear(db):
    return 10 ** (db / 10)


def db(lin):
    return 10 * math.log10(lin) if lin > 0 else float("-inf")


def run_stqe(module, args, snr):
    import numpy as np
    from gnuradio import blocks
    tb = module.loopback_stqe(weights=args.stqenet, snr_db=snr, reports=args.reports,
                              cdl_seed=args.cdl_seed, noise_seed=args.noise_seed, cfo=args.cfo,
                              timing_offset=args.timing_offset, clock_ppm=args.clock_ppm,
                              multipath=[1.0] if args.no_multipath else [1.0, 0.3j, -0.15])
    if args.data:
        use_test_split(tb, "invcsi_csi_source_0", [(tb.blocks_head_0, 0)], args.data,
                       args.stqenet, args.reports)
        use_test_split(tb, "invcsi_csi_source_1", [(tb.blocks_head_1, 0)], args.data,
                       args.stqenet, args.reports)
    dec = tb.invcsi_stqe_decoder_0
    ref_snk = blocks.vector_sink_c(dec.vlen())
    out_snk = blocks.vector_sink_c(dec.vlen())
    tb.connect(tb.blocks_head_1, ref_snk)
    tb.connect(dec, out_snk)
    tb.run()
    probe, enc, seq = tb.invcsi_nmse_probe_0, tb.invcsi_stqe_encoder_0, tb.report_sequencer
    n = args.reports
    assert probe.count() == n and dec.received() == n, "a report went missing in the flowgraph"
    ref = np.asarray(ref_snk.data(), dtype=np.complex64).reshape(n, -1)
    out = np.asarray(out_snk.data(), dtype=np.complex64).reshape(n, -1)
    err = np.sum(np.abs(ref - out) ** 2, axis=1) / np.sum(np.abs(ref) ** 2, axis=1)
    decoded = np.any(out != 0, axis=1)
    pdu_bits = enc.mean_pdu_bits()
    fmt = (tb.preamble_len, tb.header_repeat, tb.guard)
    return dict(nmse=probe.nmse_db(), rho=probe.rho(), dropped=dec.dropped(), lost=seq.lost,
                crc=dec.dropped() - seq.lost, decoded=dec.decoded(),
                nmse_decoded=db(float(np.mean(err[decoded]))) if decoded.any() else float("nan"),
                bits=pdu_bits, coded=pdu_bits - 48,
                symbols=pdu_bits + fmt[0] + 48 * fmt[1] + 2 * fmt[2])


class OtaSimOnTestSplit:
    """Stands in for the compiled ota_sim module in ota_sweep.run_sim: the same flowgraph,
    its source swapped for the test split of --data, and its taps set as asked."""

    def __init__(self, module, args):
        self.module, self.args = module, args

    def ota_sim(self, **kw):
        tb = self.module.ota_sim(**kw)
        if self.args.no_multipath:
            one_tap(tb)
        if self.args.data:
            use_test_split(tb, "invcsi_csi_source_0", [(tb.invcsi_inn_encoder_0, 0),
                                                       (tb.blocks_vector_sink_tx_csi, 0)],
                           self.args.data, self.args.invcsinet, self.args.reports)
        return tb


def run_invcsinet(ota_sweep, module, args, snr):
    r = ota_sweep.run_sim(OtaSimOnTestSplit(module, args), args.invcsinet, snr, args.reports,
                          args.cfo, args.timing_offset, args.clock_ppm, args.cdl_seed,
                          args.noise_seed)
    from gnuradio import invcsi
    r["payload_bits"] = invcsi.weights_info.read(args.invcsinet).payload_bits  # M x B
    n, k = args.reports, r["nmse_reports"]
    r["nmse_all"] = (db((k * linear(r["nmse_db"]) + (n - k)) / n) if k else 0.0)
    r["lost_all"] = n - k
    return r


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    p.add_argument("--build", default=None,
                   help="build directory to take gnuradio.invcsi from (its test_modules/); "
                        "default: the installed package")
    p.add_argument("--stqenet", required=True, help="STQENet weights (invcsi-train)")
    p.add_argument("--invcsinet",
                   default=os.path.join(SOURCE_DIR, "examples", "weights",
                                        "invcsinet-cr16-b3.safetensors"),
                   help="InvCSINet weights [%(default)s]")
    p.add_argument("--no-invcsinet", action="store_true", help="skip the InvCSINet leg")
    p.add_argument("--data", default="",
                   help=".mat data set: use its held-out test split (each weights file's "
                        "split); default: CDL-C reports drawn live with --cdl-seed")
    p.add_argument("--snr-db", default="0,5,10,20", help="Eb/N0 list in dB [%(default)s]")
    p.add_argument("--reports", type=int, default=200, help="CSI reports per point [%(default)s]")
    p.add_argument("--cdl-seed", type=int, default=1000,
                   help="generator seed of the live reports (not the training seed) [%(default)s]")
    p.add_argument("--noise-seed", type=int, default=42, help="noise seed [%(default)s]")
    ota_sweep = load_ota_sweep()
    ota_sweep.add_channel_args(p)
    p.add_argument("--no-multipath", action="store_true",
                   help="one channel tap instead of ota_sim's [1, 0.3j, -0.15]")
    p.add_argument("--csv", help="also write the table as CSV here")
    args = p.parse_args(argv)
    args.snrs = ota_sweep.parse_snr_db(p, args.snr_db)
    if not 1 <= args.reports <= 65535:
        p.error("--reports must be in 1..65535 (the burst header counter has 16 bits)")
    for name in ("stqenet", "invcsinet", "data"):
        path = getattr(args, name)
        if path and not (name == "invcsinet" and args.no_invcsinet):
            if not os.path.exists(path):
                p.error("--%s: %s not found" % (name, path))
            setattr(args, name, os.path.abspath(path))
    return args


def main(argv=None):
    args = parse_args(argv)
    ota_sweep = load_ota_sweep()
    env = ota_sweep.setup_paths(args.build)
    # grcc sizes loopback_stqe's ports from its weights parameter, empty by default: its
    # embedded resolver then takes $INVCSI_STQE_WEIGHTS.
    os.environ["INVCSI_STQE_WEIGHTS"] = env["INVCSI_STQE_WEIGHTS"] = args.stqenet
    from gnuradio import gr
    gr.logging().set_default_level(gr.log_levels.warn)
    out = tempfile.mkdtemp(prefix="invcsi-stqe-sweep-")
    sys.path.insert(0, out)  # loopback_stqe's embedded modules and blocks
    rows = []
    try:
        stqe = ota_sweep.compile_flowgraph("loopback_stqe", out, env)
        sim = None if args.no_invcsinet else ota_sweep.compile_flowgraph("ota_sim", out, env)
        for snr in args.snrs:
            t0 = time.time()
            s = run_stqe(stqe, args, snr)
            i = run_invcsinet(ota_sweep, sim, args, snr) if sim else None
            rows.append((snr, s, i))
            print("Eb/N0 %g dB done in %.1f s" % (snr, time.time() - t0), file=sys.stderr,
                  flush=True)
    finally:
        sys.path.remove(out)
        shutil.rmtree(out, ignore_errors=True)

    data = ("the test split of %s (split of each weights file)" % args.data if args.data
            else "CDL-C drawn live, seed %d" % args.cdl_seed)
    print("%d reports from %s; burst PHY of ota_sim: CFO %g x symbol rate, timing offset %g "
          "samples, clock %g ppm, taps %s; noise seed %d"
          % (args.reports, data, args.cfo, args.timing_offset, args.clock_ppm,
             "[1]" if args.no_multipath else "[1, 0.3j, -0.15]", args.noise_seed))
    print("STQENet: %s\nInvCSINet: %s" % (args.stqenet, "-" if args.no_invcsinet else args.invcsinet))
    print("| Eb/N0 (dB) | STQENet NMSE (dB), dropped = zeros | dropped: lost + CRC / sent "
          "| STQENet NMSE of decoded (dB) | STQENet bits on air/report (rANS) | burst symbols "
          "| InvCSINet NMSE (dB), lost = zeros | InvCSINet lost / sent | InvCSINet NMSE of "
          "received (dB) | InvCSINet bits/report | InvCSINet BER |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for snr, s, i in rows:
        line = ("| %g | %.2f | %d: %d + %d / %d | %s | %.1f (%.1f) | %.1f |"
                % (snr, s["nmse"], s["dropped"], s["lost"], s["crc"], args.reports,
                   "-" if math.isnan(s["nmse_decoded"]) else "%.2f" % s["nmse_decoded"],
                   s["bits"], s["coded"], s["symbols"]))
        if i:
            line += (" %.2f | %d / %d | %.2f | %d | %s |"
                     % (i["nmse_all"], i["lost_all"], args.reports, i["nmse_db"],
                        i["payload_bits"], "%.2e" % i["ber"] if i["bits"] else "-"))
        else:
            line += " - | - | - | - | - |"
        print(line)
    if args.csv:
        with open(args.csv, "w") as f:
            f.write("snr_db,reports,stqe_nmse_db,stqe_dropped,stqe_lost,stqe_crc_failed,"
                    "stqe_nmse_decoded_db,stqe_pdu_bits,stqe_coded_bits,stqe_burst_symbols,"
                    "icsi_nmse_db,icsi_lost,icsi_nmse_received_db,icsi_ber\n")
            for snr, s, i in rows:
                f.write("%g,%d,%.4f,%d,%d,%d,%.4f,%.2f,%.2f,%.2f,%s\n"
                        % (snr, args.reports, s["nmse"], s["dropped"], s["lost"], s["crc"],
                           s["nmse_decoded"], s["bits"], s["coded"], s["symbols"],
                           "%.4f,%d,%.4f,%.3e" % (i["nmse_all"], i["lost_all"], i["nmse_db"],
                                                  i["ber"]) if i else ",,,"))
    return rows


if __name__ == "__main__":
    main()
