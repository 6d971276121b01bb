#!/usr/bin/python3
#
# Copyright 2025 gr-invcsi developers
#
# This file is part of gr-invcsi
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""CSI reports through the simulated over-the-air burst PHY, against BPSK theory and the
ideal-AWGN loopback, over Eb/N0.

Compiles examples/ota_sim.grc (UE: CDL-C reports -> INN encoder -> DAQ -> burst framer ->
RRC; channel_model with AWGN, a carrier offset of CFO x symbol rate, a fractional timing
offset, a sample-clock offset and three taps; BS: pfb_clock_sync -> costas_loop ->
burst_deframer -> INN+IC decoder) and examples/loopback_awgn.grc (the same reports as BPSK
symbols over AWGN: no bursts, no synchronisation), runs both per Eb/N0 and prints, per
Eb/N0: bursts sent / detected / dropped (bad header, truncated) / reports received, the
payload BER of the received reports against Q(sqrt(2 Eb/N0)) and the Eb/N0 at which theory
gives that BER (the PHY's implementation loss), and the NMSE of the received reports
(paired with the reports sent by their header counter, measured by invcsi.nmse_probe)
beside the loopback's NMSE of all reports.

Reports whose burst is lost are counted and excluded from the NMSE, never replaced.

Examples:
  examples/ota_sweep.py --build build
  examples/ota_sweep.py --build build --snr-db 0,2,4,6,8,10,20 --reports 300 --csv ota.csv
  examples/ota_sweep.py --build build --reports 500 --plot ota.png
"""

import argparse
import csv
import importlib.util
import math
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(HERE)


def add_channel_args(p):
    """The simulated channel's options of ota_sim (also used by apps/stqe_loopback_sweep.py)."""
    p.add_argument("--cfo", type=float, default=0.015,
                   help="carrier offset as a fraction of the symbol rate [%(default)s]")
    p.add_argument("--timing-offset", type=float, default=0.5,
                   help="fractional channel delay in samples [%(default)s]")
    p.add_argument("--clock-ppm", type=float, default=20.0,
                   help="receiver sample-clock offset in ppm [%(default)s]")


def parse_snr_db(p, text):
    """--snr-db "a,b,c" -> [a, b, c] in dB, or a parser error naming the value."""
    try:
        snrs = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        p.error("--snr-db: expected numbers separated by commas, got %r" % text)
    if not snrs:
        p.error("--snr-db: no values")
    return snrs


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    p.add_argument("--build", default=None,
                   help="build directory to take gnuradio.invcsi from (its test_modules/); "
                        "default: the installed package")
    p.add_argument("--weights",
                   default=os.path.join(HERE, "weights", "invcsinet-cr16-b3.safetensors"),
                   help="weights file [%(default)s]")
    p.add_argument("--snr-db", default="0,2,4,6,8,10,20",
                   help="Eb/N0 values in dB, comma separated [%(default)s]")
    p.add_argument("--reports", type=int, default=200, help="reports (bursts) per Eb/N0 [%(default)s]")
    add_channel_args(p)
    p.add_argument("--cdl-seed", type=int, default=1000, help="seed of the CDL-C reports [%(default)s]")
    p.add_argument("--noise-seed", type=int, default=42, help="seed of the noise [%(default)s]")
    p.add_argument("--no-loopback", action="store_true", help="skip the ideal-AWGN loopback runs")
    p.add_argument("--csv", default=None, help="also write the table to this CSV file")
    p.add_argument("--plot", default=None,
                   help="also draw BER (with theory) and NMSE (with the loopback) against "
                        "Eb/N0 into this image file (.png, .pdf, .svg)")
    args = p.parse_args(argv)
    args.snrs = parse_snr_db(p, args.snr_db)
    if not 1 <= args.reports <= 65536:
        p.error("--reports must be in 1..65536 (the header counter has 16 bits)")
    if not os.path.exists(args.weights):
        p.error("weights file %s not found" % args.weights)
    return args


def setup_paths(build=None):
    """Environment for grcc and the import path for gnuradio.invcsi (build tree or installed)."""
    os.environ.setdefault("INVCSI_SOURCE_DIR", SOURCE_DIR)
    env = dict(os.environ)
    if build:
        modules = os.path.abspath(os.path.join(build, "test_modules"))
        if modules not in sys.path:
            sys.path.insert(0, modules)
        env["PYTHONPATH"] = modules + os.pathsep + env.get("PYTHONPATH", "")
    grc_dir = os.path.join(SOURCE_DIR, "grc")
    if os.path.isdir(grc_dir):
        env["GRC_BLOCKS_PATH"] = grc_dir + os.pathsep + env.get("GRC_BLOCKS_PATH", "")
    return env


def compile_flowgraph(name, out_dir, env):
    """grcc examples/<name>.grc into out_dir; returns the imported module."""
    grc = os.path.join(HERE, name + ".grc")
    grcc = shutil.which("grcc") or "/usr/bin/grcc"
    r = subprocess.run([sys.executable, grcc, "-o", out_dir, grc], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError("grcc could not compile %s:\n%s" % (grc, r.stdout))
    spec = importlib.util.spec_from_file_location(name, os.path.join(out_dir, name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bpsk_theory(ebn0_db):
    return 0.5 * math.erfc(math.sqrt(10 ** (ebn0_db / 10)))


def ebn0_for_ber(ber):
    """Eb/N0 (dB) at which BPSK theory has this BER (None outside (0, 0.5))."""
    if not 0 < ber < 0.5:
        return None
    lo, hi = -20.0, 30.0
    for _ in range(80):  # bisection on the monotone theory curve
        mid = 0.5 * (lo + hi)
        if bpsk_theory(mid) > ber:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def nmse_of_pairs(ref, est, n_ant, nc):
    """NMSE (dB) and rho of report pairs, measured by invcsi.nmse_probe (the loopback's metric)."""
    from gnuradio import blocks, gr, invcsi
    if len(ref) == 0:
        return float("nan"), float("nan")
    vlen = n_ant * nc
    tb = gr.top_block()
    a = blocks.vector_source_c([complex(v) for v in ref.ravel()], False, vlen)
    b = blocks.vector_source_c([complex(v) for v in est.ravel()], False, vlen)
    probe = invcsi.nmse_probe(n_ant, nc, 0)
    tb.connect(a, (probe, 0))
    tb.connect(b, (probe, 1))
    tb.run()
    return probe.nmse_db(), probe.rho()


def run_sim(module, weights, snr_db, reports, cfo=0.015, timing_offset=0.5, clock_ppm=20.0,
            cdl_seed=1000, noise_seed=42):
    """One ota_sim run; returns a dict of counters, BER and NMSE of the received reports."""
    import numpy as np
    from gnuradio import gr
    tb = module.ota_sim(weights=weights, snr_db=snr_db, reports=reports, cdl_seed=cdl_seed,
                        noise_seed=noise_seed, cfo=cfo, timing_offset=timing_offset,
                        clock_ppm=clock_ppm)
    tb.run()
    info = tb.info
    nb = info.payload_bits
    framer, deframer = tb.invcsi_burst_framer_0, tb.invcsi_burst_deframer_0
    tx_bits = np.asarray(tb.blocks_vector_sink_tx_bits.data(), dtype=np.uint8).reshape(-1, nb)
    rx_bits = np.asarray(tb.blocks_vector_sink_rx_bits.data(), dtype=np.uint8)
    tx_csi = np.asarray(tb.blocks_vector_sink_tx_csi.data(), dtype=np.complex64).reshape(-1, info.vlen)
    rx_csi = np.asarray(tb.blocks_vector_sink_rx_csi.data(), dtype=np.complex64).reshape(-1, info.vlen)
    counters = []  # one per delivered report, in order (= the decoder's output order)
    for t in tb.blocks_vector_sink_rx_bits.tags():
        if gr.pmt.symbol_to_string(t.key) == "report":
            counters.append((t.offset, gr.pmt.to_long(t.value)))
    counters.sort()
    errors = compared = 0
    pairs = []
    for k, (offset, c) in enumerate(counters):
        if c >= len(tx_bits) or offset + nb > len(rx_bits):
            continue  # cannot happen with fewer than 65536 reports
        errors += int(np.count_nonzero(rx_bits[offset:offset + nb] != tx_bits[c]))
        compared += nb
        if k < len(rx_csi) and c < len(tx_csi):
            pairs.append((c, k))
    ref = tx_csi[[c for c, _ in pairs]] if pairs else tx_csi[:0]
    est = rx_csi[[k for _, k in pairs]] if pairs else rx_csi[:0]
    nmse_db, rho = nmse_of_pairs(ref, est, info.nr * info.nt, info.nc)
    ber = errors / compared if compared else float("nan")
    return {
        "snr_db": snr_db, "sent": framer.bursts(), "detected": deframer.detected(),
        "headers_ok": deframer.headers_ok(), "headers_bad": deframer.headers_bad(),
        "truncated": deframer.truncated(), "received": deframer.reports(),
        "missing": deframer.missing(), "lost": framer.bursts() - deframer.reports(),
        "bits": compared, "bit_errors": errors, "ber": ber, "ber_theory": bpsk_theory(snr_db),
        "nmse_db": nmse_db, "rho": rho, "nmse_reports": len(pairs),
    }


def run_loopback(module, weights, snr_db, reports, cdl_seed=1000, noise_seed=42):
    tb = module.loopback_awgn(weights=weights, snr_db=snr_db, reports=reports, cdl_seed=cdl_seed,
                              noise_seed=noise_seed)
    tb.run()
    bits = tb.blocks_xor_xx_0.nitems_written(0)
    ber = tb.blocks_probe_signal_x_0.level() / bits if bits else float("nan")
    return tb.invcsi_nmse_probe_0.nmse_db(), ber


def main(argv=None):
    args = parse_args(argv)
    env = setup_paths(args.build)
    args.weights = os.path.abspath(args.weights)
    from gnuradio import gr, invcsi
    gr.logging().set_default_level(gr.log_levels.warn)
    info = invcsi.weights_info.read(args.weights)
    rows = []
    with tempfile.TemporaryDirectory(prefix="invcsi-ota-") as tmp:
        sim = compile_flowgraph("ota_sim", tmp, env)
        loop = None if args.no_loopback else compile_flowgraph("loopback_awgn", tmp, env)
        print("InvCSINet CSI reports over the simulated burst BPSK PHY (examples/ota_sim.grc)")
        print("weights %s: %d bits per report; %d reports per Eb/N0; CFO %g x symbol rate, "
              "timing offset %g samples, clock %g ppm, taps [1, 0.3j, -0.15]"
              % (os.path.basename(args.weights), info.payload_bits, args.reports, args.cfo,
                 args.timing_offset, args.clock_ppm))
        print("%6s %5s %5s %5s %5s %5s %10s %10s %7s %9s %9s %7s"
              % ("Eb/N0", "sent", "det", "badH", "trunc", "rcvd", "BER", "theory", "loss",
                 "NMSE PHY", "NMSE loop", "cost"))
        for snr in args.snrs:
            r = run_sim(sim, args.weights, snr, args.reports, args.cfo, args.timing_offset,
                        args.clock_ppm, args.cdl_seed, args.noise_seed)
            eff = ebn0_for_ber(r["ber"]) if r["bit_errors"] else None
            r["ebn0_loss_db"] = (snr - eff) if eff is not None else float("nan")
            if loop is not None:
                r["nmse_loop_db"], r["ber_loop"] = run_loopback(loop, args.weights, snr,
                                                                args.reports, args.cdl_seed,
                                                                args.noise_seed)
            else:
                r["nmse_loop_db"], r["ber_loop"] = float("nan"), float("nan")
            r["nmse_cost_db"] = r["nmse_db"] - r["nmse_loop_db"]
            rows.append(r)
            print("%6.1f %5d %5d %5d %5d %5d %10.3e %10.3e %7s %9.2f %9.2f %7.2f"
                  % (snr, r["sent"], r["detected"], r["headers_bad"], r["truncated"],
                     r["received"], r["ber"], r["ber_theory"],
                     "%.2f" % r["ebn0_loss_db"] if eff is not None else "-",
                     r["nmse_db"], r["nmse_loop_db"], r["nmse_cost_db"]))
            sys.stdout.flush()
    print("det = preambles detected, badH = headers dropped (CRC), trunc = truncated bursts, "
          "rcvd = reports delivered;\nloss = Eb/N0 minus the Eb/N0 at which theory gives the "
          "measured BER (dB); NMSE PHY over the received reports,\nNMSE loop = the ideal-AWGN "
          "loopback over all reports; cost = NMSE PHY - NMSE loop (dB).")
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
            w.writeheader()
            w.writerows(rows)
    if args.plot:
        plot(rows, args.plot)
    return rows


def plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    snr = [r["snr_db"] for r in rows]
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2))
    fine = [min(snr) + i * (max(snr) - min(snr)) / 200 for i in range(201)]
    a.semilogy(fine, [bpsk_theory(x) for x in fine], "k-", label="BPSK theory Q(sqrt(2 Eb/N0))")
    pts = [(r["snr_db"], r["ber"]) for r in rows if r["bit_errors"] > 0]
    a.semilogy([x for x, _ in pts], [y for _, y in pts], "o", label="ota_sim (received reports)")
    a.set_xlabel("Eb/N0 (dB)")
    a.set_ylabel("payload BER")
    a.set_ylim(1e-6, 0.5)
    a.grid(True, which="both", alpha=0.3)
    a.legend()
    b.plot(snr, [r["nmse_db"] for r in rows], "o-", label="ota_sim: burst PHY (received reports)")
    b.plot(snr, [r["nmse_loop_db"] for r in rows], "s--", label="loopback: ideal BPSK over AWGN")
    b.set_xlabel("Eb/N0 (dB)")
    b.set_ylabel("CSI NMSE (dB)")
    b.grid(True, alpha=0.3)
    b.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print("wrote", path)


if __name__ == "__main__":
    main()
