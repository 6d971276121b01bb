#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""PyTorch twin of the C core's INN and InvCSINet (DESIGN.md sections 3 and 4).

The same networks, written a second time in eager PyTorch, loading the C core's weights
files (safetensors, tensor names and the __metadata__ "config" JSON exactly as
invcsi_model_save writes them). Two jobs:
  - correctness peer: tests/test_torch_twin.py checks that the forward outputs, the loss
    terms and the gradient of every parameter tensor agree with the C core for one batch
    (the noise, i.e. the MMD target n and the D-BCD Gumbel noise, is an INPUT here, so
    both sides can use the same numbers);
  - speed peer: bench/train_speed.py times a training step (forward, backward, Adam) of
    this twin against the C trainer.

Conventions copied from the C core (read the C files for the why):
  x            [batch][dim], dim = 2 nr nt nc, viewed as [batch][2][nr*nt][nc]
  front patch  pixel-unshuffle by p (lib/inn_front.c: channel c p^2 + i p + j)
        energy gather by inn.front.perm, klt rotation by inn.front.klt, then [C][gh][gw]
  split        x1 = channels [0, c1) (y, M values), x2 = the rest (z)
  block        y1 = x1 + phi(x2); y2 = x2 exp(s(rho(y1))) + eta(y1), s = clamp (2 sig - 1)
  subnet       4 convs 3x3 'same' + bias, LeakyReLU(slope) between (lib/inn_subnet.c)
  permute      after block k (not the last): new channel j = old channel inn.perm.k[j]
  MMD          unbiased, IMQ kernel C/(C + d2), C = 2 dim, d2 = |a|^2 + |b|^2 - 2 a.b
               clamped at 0, kernel sums in double (lib/nn_loss.c)
  INN loss     mmd_weight MMD([y, z], [sg(y), n]) + mse_weight MSE(f^-1(y, z_bwd), x)
  InvCSINet    lib/invcsinet.c train_step: yn = (y - shift) e^-ls; DAQ (hard forward,
               soft gradient); D-BCD on the SOFT value (one-hot forward; backward: the
               exact gradient of sum_j g_j c_j; dbcd_grad "straight" sends dy~ to q
               unchanged); y^ = y~ + LAN(y~); z^ = mu + e^lsig n;
               L = mmd_weight MMD([yn, z], [y^, z^]) + lambda MSE(f^-1(shift + e^ls y^,
               mu), x)
Also there: the energy / klt fronts and the channel permutations between blocks (their
frozen tables are read from the file), z_bwd_sample, Gray labels, dbcd_grad
"surrogate", the no_ic and no_dbcd ablations (no_dbcd: the AWGN is the `gumbel`
argument) and no_daq / freeze_inn (frozen tensors). Checked against the C core by
tests/test_torch_twin.py: the patch front, natural labels, "straight", z_bwd = mu.

Run it directly for a smoke run: /usr/bin/python3 bench/torch_twin.py WEIGHTS.safetensors
"""
import json
import math
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

FLT_MIN = 1.1754943508222875e-38
DAQ_RANGE = 1.0          # INVCSI_DAQ_RANGE_DEFAULT: the latent is normalised to [-1, 1]
DAQ_MIN_GAP = 1e-4       # INVCSI_DAQ_MIN_GAP


# --------------------------------------------------------------------------------------
# Weights file
# --------------------------------------------------------------------------------------

def read_safetensors(path):
    """(tensors: name -> float32 ndarray, metadata: dict of str) of a safetensors file."""
    with open(path, "rb") as f:
        raw = f.read()
    (hlen,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + hlen].decode("utf-8"))
    meta = header.pop("__metadata__", {}) or {}
    base = 8 + hlen
    tensors = {}
    for name, t in header.items():
        if t["dtype"] != "F32":
            raise ValueError(f"{path}: tensor {name} has dtype {t['dtype']}, expected F32")
        lo, hi = t["data_offsets"]
        arr = np.frombuffer(raw[base + lo:base + hi], dtype="<f4").astype(np.float32)
        tensors[name] = arr.reshape(t["shape"]) if t["shape"] else arr.reshape(())
    return tensors, meta


def load_weights(path):
    """(cfg dict, params: name -> torch leaf tensor) from a gr-invcsi weights file.
    Tensors the C core keeps frozen (front tables, permutations, freeze_inn, no_daq) do
    not require grad."""
    tensors, meta = read_safetensors(path)
    fmt = meta.get("format", "")
    if not fmt.startswith("gr-invcsi-"):
        raise ValueError(f"{path}: format {fmt!r} is not a gr-invcsi weights file")
    cfg = json.loads(meta["config"])
    params = {}
    for name, arr in tensors.items():
        params[name] = torch.from_numpy(arr.copy()).requires_grad_(not is_frozen(name, cfg))
    return cfg, params


def is_frozen(name, cfg):
    if name.startswith("inn.perm.") or name.startswith("inn.front."):
        return True
    if cfg.get("freeze_inn") and name.startswith("inn."):
        return True
    if cfg.get("no_daq") and name.startswith("daq."):
        return True
    return False


def trainable(params):
    return [t for t in params.values() if t.requires_grad]


# --------------------------------------------------------------------------------------
# INN
# --------------------------------------------------------------------------------------

class INN:
    """The INN of inn.h over the tensors params[prefix.*]."""

    def __init__(self, cfg, params, prefix="inn"):
        self.cfg, self.p, self.prefix = cfg, params, prefix
        self.planes, self.h, self.w = 2, cfg["nr"] * cfg["nt"], cfg["nc"]
        self.patch = cfg["patch"]
        self.gh, self.gw = self.h // self.patch, self.w // self.patch
        self.g = self.gh * self.gw
        self.channels = 2 * self.patch * self.patch
        self.dim, self.m = cfg["dim"], cfg["m"]
        self.aux = self.dim - self.m
        self.c1 = self.m // self.g
        self.c2 = self.channels - self.c1
        self.blocks = cfg["blocks"]
        self.clamp = float(np.float32(cfg["clamp"]))
        self.slope = float(np.float32(cfg["leaky_slope"]))
        self.front = cfg.get("front", "patch")
        if self.front not in ("patch", "energy", "klt"):
            raise ValueError(f"INN front {self.front!r} is unknown")
        self.perms = [params.get(f"{prefix}.perm.{k}") for k in range(self.blocks)]
        self.perms = [None if t is None else t.detach().long() for t in self.perms]
        if self.front == "energy":
            self.front_perm = params[f"{prefix}.front.perm"].detach().long()
        elif self.front == "klt":
            self.front_rot = params[f"{prefix}.front.klt"].detach()

    # ---- front ---------------------------------------------------------------------
    def front_forward(self, x):
        b = x.shape[0]
        if self.front == "patch":
            v = F.pixel_unshuffle(x.reshape(b, self.planes, self.h, self.w), self.patch)
            return v
        if self.front == "energy":
            v = x[:, self.front_perm]
        else:
            v = x @ self.front_rot.t()
        return v.reshape(b, self.channels, self.gh, self.gw)

    def front_inverse(self, v):
        b = v.shape[0]
        if self.front == "patch":
            return F.pixel_shuffle(v, self.patch).reshape(b, self.dim)
        v = v.reshape(b, self.dim)
        if self.front == "energy":
            out = torch.empty_like(v)
            out[:, self.front_perm] = v
            return out
        return v @ self.front_rot

    # ---- layers --------------------------------------------------------------------
    def subnet(self, name, inp):
        h = inp
        for i in range(4):
            h = F.conv2d(h, self.p[f"{name}.conv{i}.weight"], self.p[f"{name}.conv{i}.bias"],
                         padding=1)
            if i < 3:
                h = F.leaky_relu(h, self.slope)
        return h

    def log_scale(self, r):
        return self.clamp * (2.0 * torch.sigmoid(r) - 1.0)

    def block_forward(self, k, x1, x2):
        pre = f"{self.prefix}.{k}"
        y1 = x1 + self.subnet(pre + ".phi", x2)
        r = self.subnet(pre + ".rho", y1)
        e = self.subnet(pre + ".eta", y1)
        y2 = x2 * torch.exp(self.log_scale(r)) + e
        return y1, y2

    def block_inverse(self, k, y1, y2):
        pre = f"{self.prefix}.{k}"
        r = self.subnet(pre + ".rho", y1)
        e = self.subnet(pre + ".eta", y1)
        x2 = (y2 - e) * torch.exp(-self.log_scale(r))
        x1 = y1 - self.subnet(pre + ".phi", x2)
        return x1, x2

    def move(self, k, s1, s2, inverse):
        perm = self.perms[k]
        if perm is None:
            return s1, s2
        s = torch.cat([s1, s2], 1)
        if inverse:
            out = torch.empty_like(s)
            out[:, perm] = s
        else:
            out = s[:, perm]
        return out[:, :self.c1], out[:, self.c1:]

    # ---- passes --------------------------------------------------------------------
    def forward(self, x):
        """(y [b][M], z [b][dim - M]) = f(x)."""
        v = self.front_forward(x)
        a1, a2 = v[:, :self.c1], v[:, self.c1:]
        for k in range(self.blocks):
            a1, a2 = self.block_forward(k, a1, a2)
            if k + 1 < self.blocks:
                a1, a2 = self.move(k, a1, a2, inverse=False)
        b = x.shape[0]
        return a1.reshape(b, self.m), a2.reshape(b, self.aux)

    def inverse(self, y, z=None):
        """x^ = f^-1(y, z) (z None: 0)."""
        b = y.shape[0]
        a1 = y.reshape(b, self.c1, self.gh, self.gw)
        if z is None:
            a2 = y.new_zeros(b, self.c2, self.gh, self.gw)
        else:
            a2 = z.reshape(b, self.c2, self.gh, self.gw)
        for k in range(self.blocks - 1, -1, -1):
            a1, a2 = self.block_inverse(k, a1, a2)
            if k > 0:
                a1, a2 = self.move(k - 1, a1, a2, inverse=True)
        return self.front_inverse(torch.cat([a1, a2], 1))


# --------------------------------------------------------------------------------------
# Losses
# --------------------------------------------------------------------------------------

def _sq_dist(x, nx, y, ny, same):
    d2 = (-2.0 * (x @ y.t()) + nx[:, None]) + ny[None, :]
    d2 = torch.clamp(d2, min=0.0)
    if same:
        d2 = d2 * (1.0 - torch.eye(d2.shape[0], dtype=d2.dtype))
    return d2


def mmd_imq(a, b):
    """Unbiased MMD^2, IMQ kernel C/(C + d2), C = 2 dim (lib/nn_loss.c): float32 distances
    and kernel values, sums in double; returns a float64 scalar."""
    n, dim = a.shape
    c = float(np.float32(2.0 * dim))
    na = (a.double() ** 2).sum(1).float()
    nb = (b.double() ** 2).sum(1).float()
    off = 1.0 - torch.eye(n, dtype=torch.float64)
    kaa = (c / (c + _sq_dist(a, na, a, na, True))).double()
    kbb = (c / (c + _sq_dist(b, nb, b, nb, True))).double()
    kab = (c / (c + _sq_dist(a, na, b, nb, False))).double()
    s_same = ((kaa + kbb) * off).sum()
    s_cross = kab.sum()
    return s_same / (n * (n - 1)) - 2.0 * s_cross / (n * n)


def mse_and_nmse(xhat, x):
    """(MSE as a differentiable float64 scalar, sum over reports of ||x - x^||^2/||x||^2)."""
    d = xhat.double() - x.double()
    e = (d ** 2).sum(1)
    p = (x.double() ** 2).sum(1)
    nmse_sum = float((e[p > 0] / p[p > 0]).sum())
    return e.sum() / d.numel(), nmse_sum


def inn_train_loss(inn, cfg, x, noise, zbwd=None):
    """The INN's training loss (lib/inn_model.c inn_train_step) for one batch.
    noise [b][dim - M] is the MMD's target n; zbwd the sampled z_bwd (z_bwd_sample) or
    None for 0. Returns a dict of the outputs and loss terms ("total" is differentiable)."""
    y, z = inn.forward(x)
    a = torch.cat([y, z], 1)
    bb = torch.cat([y.detach(), noise], 1)
    mmd = mmd_imq(a, bb)
    xhat = inn.inverse(y, zbwd if cfg.get("z_bwd_sample") else None)
    mse, nmse_sum = mse_and_nmse(xhat, x)
    total = float(np.float32(cfg["mmd_weight"])) * mmd + float(np.float32(cfg["mse_weight"])) * mse
    return dict(total=total, mmd=mmd, mse=mse, nmse_sum=nmse_sum, y=y, z=z, xhat=xhat)


# --------------------------------------------------------------------------------------
# InvCSINet
# --------------------------------------------------------------------------------------

def bpsk_ber(ebn0_db):
    """eps = Q(sqrt(2 Eb/N0)), BPSK over AWGN."""
    snr = 10.0 ** (ebn0_db / 10.0)
    return 0.5 * math.erfc(math.sqrt(snr))


def transition_matrix(bits, ebn0_db, gray=False):
    """P[i][j] = eps^d (1 - eps)^(B - d), d = Hamming distance of the labels (float32)."""
    eps = bpsk_ber(ebn0_db)
    L = 1 << bits
    lab = [(j ^ (j >> 1)) if gray else j for j in range(L)]
    P = np.empty((L, L), dtype=np.float64)
    for i in range(L):
        for j in range(L):
            d = bin(lab[i] ^ lab[j]).count("1")
            P[i, j] = eps ** d * (1.0 - eps) ** (bits - d)
    return torch.from_numpy(P.astype(np.float32))


class InvCSINet:
    """InvCSINet (lib/invcsinet.c) over the tensors of a weights file."""

    def __init__(self, cfg, params):
        if cfg["kind"] != "invcsinet":
            raise ValueError(f"kind {cfg['kind']!r} is not invcsinet")
        if cfg.get("dbcd_grad", "straight") not in ("straight", "surrogate"):
            raise ValueError(f"dbcd_grad {cfg['dbcd_grad']!r} is unknown")
        self.cfg, self.p = cfg, params
        self.inn = INN(cfg, params, "inn")
        self.M, self.aux, self.dim = cfg["m"], cfg["dim"] - cfg["m"], cfg["dim"]
        self.bits = cfg["bits"]
        self.L = 1 << self.bits
        self.gray = cfg.get("bit_map", "natural") == "gray"
        spacing = np.float32(2.0 * DAQ_RANGE) / np.float32(self.L - 1)
        self.spacing = float(spacing)
        delta = cfg.get("delta", 0.0)
        if not delta > 0:
            sp = 2.0 * DAQ_RANGE / (self.L - 1)
            delta = 0.1 * sp * sp
        self.delta = float(np.float32(delta))
        self.tau = float(np.float32(cfg.get("tau", 1.0)))
        self.beta = float(np.float32(np.float32(cfg["beta_start"]) / spacing))
        self.no_ic, self.no_dbcd = bool(cfg.get("no_ic")), bool(cfg.get("no_dbcd"))
        self.surrogate = cfg.get("dbcd_grad", "straight") == "surrogate"
        self.lan_width = cfg.get("lan_width", 16)
        self.slope = 0.01  # INVCSI_LEAKY_SLOPE_INN (the LAN's)
        self._P = {}

    def transition(self, ebn0_db):
        if ebn0_db not in self._P:
            self._P[ebn0_db] = transition_matrix(self.bits, ebn0_db, self.gray)
        return self._P[ebn0_db]

    # ---- DAQ -----------------------------------------------------------------------
    def daq_tables(self):
        """(thresholds [M][L-1], steps [M][L-1], levels [M][L]) from the raw tensors."""
        t, u = self.p["daq.threshold_raw"], self.p["daq.step_raw"]
        gap = float(np.float32(DAQ_MIN_GAP) * np.float32(DAQ_RANGE))
        inc = F.softplus(t[:, 1:]) + gap
        thr = torch.cat([t[:, :1], t[:, :1] + torch.cumsum(inc, 1)], 1)
        steps = F.softplus(u) + gap
        lev = torch.cat([torch.full_like(t[:, :1], -DAQ_RANGE),
                         -DAQ_RANGE + torch.cumsum(steps, 1)], 1)
        return thr, steps, lev

    def daq(self, yn, beta):
        """(q_hard, q_soft, index): hard level (no gradient), soft value at beta."""
        thr, steps, lev = self.daq_tables()
        idx = (yn.detach()[:, :, None] > thr.detach()[None]).sum(-1)
        q_hard = torch.gather(lev.detach().expand(yn.shape[0], -1, -1), 2, idx[:, :, None])[..., 0]
        q_soft = -DAQ_RANGE + (steps[None] * torch.sigmoid(beta * (yn[:, :, None] - thr[None]))).sum(-1)
        return q_hard, q_soft, idx, lev

    # ---- D-BCD ---------------------------------------------------------------------
    def dbcd_soft(self, q, lev, P, gumbel):
        """(y~_soft = sum_j g_j c_j, one-hot index j*) for q [b][M], levels [M][L],
        gumbel [b][M][L] (kernels/dbcd_math.h)."""
        d = q[:, :, None] - lev[None]
        a = -(d * d) * (1.0 / self.delta)
        p = torch.softmax(a, -1)
        pi = p @ P
        # pi underflows to 0 only at very high SNR for far levels: the C core then has
        # log pi = -inf, g = 0, no gradient; clamping at FLT_MIN gives g ~ 0, no gradient
        logits = (torch.log(pi.clamp_min(FLT_MIN)) + gumbel) * (1.0 / self.tau)
        g = torch.softmax(logits, -1)
        jstar = torch.argmax(logits.detach(), -1)
        return (g * lev[None]).sum(-1), jstar

    # ---- IC ------------------------------------------------------------------------
    def lan(self, yt):
        b, inn = yt.shape[0], self.inn
        h = yt.reshape(b, self.M // inn.g, inn.gh, inn.gw)
        for k in range(3):
            h = F.conv2d(h, self.p[f"ic.lan.conv{k}.weight"], self.p[f"ic.lan.conv{k}.bias"],
                         padding=1)
            if k < 2:
                h = F.leaky_relu(h, self.slope)
        return yt + h.reshape(b, self.M)

    # ---- training loss -------------------------------------------------------------
    def train_loss(self, x, gumbel, noise, beta=None, ebn0_db=None, soft_forward=False):
        """lib/invcsinet.c icsi_train_step for one batch. gumbel [b][M][L] (with no_dbcd:
        the AWGN [b][M]); noise [b][dim - M] (n of z^). Returns a dict of outputs and
        loss terms ("total" is differentiable)."""
        cfg = self.cfg
        beta = self.beta if beta is None else beta
        ebn0_db = cfg["snr_db_min"] if ebn0_db is None else ebn0_db
        sh, ls = self.p["latent.shift"], self.p["latent.log_scale"]
        y, z = self.inn.forward(x)
        yn = (y - sh) * torch.exp(-ls)
        q_hard, q_soft, idx, lev = self.daq(yn, beta)
        q_sent = q_soft if soft_forward else q_hard
        if self.no_dbcd:
            # straight-through: the forward value q_sent (+ noise), the soft gradient
            yt = q_soft + (q_sent - q_soft).detach() + gumbel
            jstar = None
        else:
            P = self.transition(ebn0_db)
            ys_full, jstar = self.dbcd_soft(q_soft, lev, P, gumbel)
            y_one_hot = torch.gather(lev.detach().expand(x.shape[0], -1, -1), 2,
                                     jstar[:, :, None])[..., 0]
            value = (ys_full if soft_forward else y_one_hot).detach()
            if self.surrogate:
                yt = value + ys_full - ys_full.detach()
            else:
                # "straight": dy~ goes to q unchanged; the levels get D-BCD's gradient
                ys_lev, _ = self.dbcd_soft(q_soft.detach(), lev, P, gumbel)
                yt = value + (q_soft - q_soft.detach()) + (ys_lev - ys_lev.detach())
        if self.no_ic:
            yh, zh = yt, noise
        else:
            yh = self.lan(yt)
            zh = self.p["ic.z.mu"] + torch.exp(self.p["ic.z.log_sigma"]) * noise
        mmd = mmd_imq(torch.cat([yn, z], 1), torch.cat([yh, zh], 1))
        ydec = sh + torch.exp(ls) * yh
        if cfg.get("z_bwd_sample"):
            zb = zh
        elif self.no_ic:
            zb = None
        else:
            zb = self.p["ic.z.mu"].expand(x.shape[0], -1)
        xhat = self.inn.inverse(ydec, zb)
        mse, nmse_sum = mse_and_nmse(xhat, x)
        total = (float(np.float32(cfg["mmd_weight"])) * mmd +
                 float(np.float32(cfg["mse_weight"])) * mse)
        return dict(total=total, mmd=mmd, mse=mse, nmse_sum=nmse_sum, y=y, z=z, yn=yn,
                    q_hard=q_hard, q_soft=q_soft, idx=idx, jstar=jstar, yt=yt, yh=yh,
                    zh=zh, xhat=xhat)


# --------------------------------------------------------------------------------------
# Models from a file; a training step with fresh noise (the speed peer)
# --------------------------------------------------------------------------------------

class Twin:
    """A model of a weights file: .cfg, .params, .kind, and train_step()."""

    def __init__(self, path):
        self.cfg, self.params = load_weights(path)
        self.kind = self.cfg["kind"]
        if self.kind == "inn":
            self.net = INN(self.cfg, self.params, "inn")
        elif self.kind == "invcsinet":
            self.net = InvCSINet(self.cfg, self.params)
        else:
            raise ValueError(f"kind {self.kind!r}: the twin has inn and invcsinet")
        self.opt = None

    def loss(self, x, gen=None):
        """Training loss with fresh noise from torch's generator gen."""
        b = x.shape[0]
        aux = self.cfg["dim"] - self.cfg["m"]
        noise = torch.randn(b, aux, generator=gen)
        if self.kind == "inn":
            zb = torch.randn(b, aux, generator=gen) if self.cfg.get("z_bwd_sample") else None
            return inn_train_loss(self.net, self.cfg, x, noise, zb)
        net = self.net
        if net.no_dbcd:
            P = DAQ_RANGE * DAQ_RANGE * (net.L + 1) / (3.0 * (net.L - 1))
            sigma = math.sqrt(P / (2.0 * net.bits * 10.0 ** (self.cfg["snr_db_min"] / 10.0)))
            g = sigma * torch.randn(b, net.M, generator=gen)
        else:
            u = torch.rand(b, net.M, net.L, generator=gen).clamp_(1e-12, 1.0 - 1e-7)
            g = -torch.log(-torch.log(u))
        return net.train_loss(x, g, noise)

    def train_step(self, x, lr=1e-3, gen=None):
        """Zero grad, forward, backward, Adam: what invcsi_train_one_step does."""
        if self.opt is None:
            self.opt = torch.optim.Adam(trainable(self.params), lr=lr)
        self.opt.zero_grad(set_to_none=False)
        out = self.loss(x, gen)
        out["total"].backward()
        self.opt.step()
        return out


def main(argv):
    if len(argv) != 2 or argv[1] in ("-h", "--help"):
        print(__doc__)
        print("Usage: /usr/bin/python3 bench/torch_twin.py WEIGHTS.safetensors\n"
              "Loads the weights, runs one training step on random unit-power reports\n"
              "(batch 16) and prints the loss terms.")
        return 0 if len(argv) == 2 else 2
    twin = Twin(argv[1])
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(16, twin.cfg["dim"], generator=gen)
    out = twin.train_step(x, gen=gen)
    n = sum(t.numel() for t in trainable(twin.params))
    print(f"{twin.kind}: {n} trainable parameters; loss {float(out['total']):.6g} "
          f"(mmd {float(out['mmd']):.6g}, mse {float(out['mse']):.6g})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
