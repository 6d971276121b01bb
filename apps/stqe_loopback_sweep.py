#!/usr/bin/env python3
#
# Copyright 2025 gr-invcsi developers
#
# This file is part of gr-invcsi
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""STQENet against InvCSINet over the same simulated feedback link.

Runs examples/loopback_stqe.grc (coded, CRC-protected variable-length reports; a report
that fails its CRC is dropped and counts as a reconstruction of zeros) and
examples/loopback_awgn.grc (InvCSINet: a fixed M x B raw bits that tolerate bit errors)
on the same CDL-C reports (generator seed --cdl-seed), BPSK over AWGN at each Eb/N0, and
prints one table: NMSE, rho, reports dropped and bits per report of each.

Bits per report: STQENet's mean PDU size (rANS bytes + 6 bytes of length prefix and
CRC-32, everything that goes over the link) and, in brackets, its coded bits alone;
InvCSINet's M x B.

Run against a build tree (nothing installed), e.g.:
  B=build-stqeblk
  PYTHONPATH=$B/test_modules LD_LIBRARY_PATH=$B/lib INVCSI_SOURCE_DIR=$PWD \\
    /usr/bin/python3 apps/stqe_loopback_sweep.py \\
      --stqenet stqenet.safetensors \\
      --invcsinet examples/weights/invcsinet-cr16-b3.safetensors --reports 300
"""

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time

SOURCE_DIR = os.environ.get(
    "INVCSI_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))
GRCC = shutil.which("grcc") or "/usr/bin/grcc"


def compile_flowgraph(name, out):
    env = dict(os.environ, GRC_BLOCKS_PATH=os.path.join(SOURCE_DIR, "grc"))
    grc = os.path.join(SOURCE_DIR, "examples", name + ".grc")
    r = subprocess.run([sys.executable, GRCC, "-o", out, grc], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        sys.exit("grcc %s failed:\n%s" % (grc, r.stdout))
    spec = importlib.util.spec_from_file_location(name, os.path.join(out, name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


def run_stqe(fg, args, snr):
    tb = fg(weights=args.stqenet, snr_db=snr, reports=args.reports, cdl_seed=args.cdl_seed,
            noise_seed=args.noise_seed)
    tb.run()
    probe, enc, dec = tb.invcsi_nmse_probe_0, tb.invcsi_stqe_encoder_0, tb.invcsi_stqe_decoder_0
    assert probe.count() == args.reports and dec.received() == args.reports
    return dict(nmse=probe.nmse_db(), rho=probe.rho(), dropped=dec.dropped(),
                bits=enc.mean_pdu_bits(), coded=enc.mean_pdu_bits() - 48)


def run_invcsinet(fg, args, snr):
    tb = fg(weights=args.invcsinet, snr_db=snr, reports=args.reports, cdl_seed=args.cdl_seed,
            noise_seed=args.noise_seed)
    tb.run()
    probe = tb.invcsi_nmse_probe_0
    assert probe.count() == args.reports
    bits = tb.blocks_xor_xx_0.nitems_written(0)
    return dict(nmse=probe.nmse_db(), rho=probe.rho(), bits=tb.info.payload_bits,
                ber=tb.blocks_probe_signal_x_0.level() / bits if bits else 0.0)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--stqenet", required=True, help="STQENet weights (invcsi-train)")
    p.add_argument("--invcsinet", default="weights/invcsinet-cr16-b3.safetensors",
                   help="InvCSINet weights [%(default)s, under examples/]")
    p.add_argument("--snr-db", default="0,5,10,20", help="Eb/N0 list in dB [%(default)s]")
    p.add_argument("--reports", type=int, default=300, help="CSI reports per point [%(default)s]")
    p.add_argument("--cdl-seed", type=int, default=1000,
                   help="generator seed of the reports (not the training seed) [%(default)s]")
    p.add_argument("--noise-seed", type=int, default=42, help="AWGN seed [%(default)s]")
    p.add_argument("--csv", help="also write the table as CSV here")
    args = p.parse_args()
    snrs = [float(s) for s in args.snr_db.split(",")]

    # grcc sizes loopback_stqe's ports from its weights parameter, empty by default:
    # its embedded resolver then takes $INVCSI_STQE_WEIGHTS.
    os.environ["INVCSI_STQE_WEIGHTS"] = os.path.abspath(args.stqenet)
    out = tempfile.mkdtemp(prefix="invcsi-stqe-sweep-")
    sys.path.insert(0, out)  # loopback_stqe's embedded module
    try:
        stqe_fg = compile_flowgraph("loopback_stqe", out)
        icsi_fg = compile_flowgraph("loopback_awgn", out)
        rows = []
        for snr in snrs:
            t0 = time.time()
            s = run_stqe(stqe_fg, args, snr)
            i = run_invcsinet(icsi_fg, args, snr)
            rows.append((snr, s, i))
            print("Eb/N0 %g dB done in %.1f s" % (snr, time.time() - t0), file=sys.stderr)
    finally:
        shutil.rmtree(out, ignore_errors=True)

    print("%d CDL-C reports (seed %d), BPSK over AWGN (noise seed %d)"
          % (args.reports, args.cdl_seed, args.noise_seed))
    print("STQENet: %s\nInvCSINet: %s" % (args.stqenet, args.invcsinet))
    print("| Eb/N0 (dB) | STQENet NMSE (dB) | STQENet rho | dropped | STQENet bits/report "
          "(coded) | InvCSINet NMSE (dB) | InvCSINet rho | InvCSINet BER | InvCSINet bits/report |")
    print("|---|---|---|---|---|---|---|---|---|")
    for snr, s, i in rows:
        print("| %g | %.3f | %.3f | %d / %d | %.1f (%.1f) | %.3f | %.3f | %.2e | %d |"
              % (snr, s["nmse"], s["rho"], s["dropped"], args.reports, s["bits"], s["coded"],
                 i["nmse"], i["rho"], i["ber"], i["bits"]))
    if args.csv:
        with open(args.csv, "w") as f:
            f.write("snr_db,stqe_nmse_db,stqe_rho,stqe_dropped,reports,stqe_pdu_bits,"
                    "stqe_coded_bits,icsi_nmse_db,icsi_rho,icsi_ber,icsi_bits\n")
            for snr, s, i in rows:
                f.write("%g,%.4f,%.4f,%d,%d,%.2f,%.2f,%.4f,%.4f,%.3e,%d\n"
                        % (snr, s["nmse"], s["rho"], s["dropped"], args.reports, s["bits"],
                           s["coded"], i["nmse"], i["rho"], i["ber"], i["bits"]))


if __name__ == "__main__":
    main()
