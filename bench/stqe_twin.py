#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""PyTorch twin of the C core's whole STQENet (DESIGN.md section 5, lib/stqenet.c).

The same network written a second time with torch functions, float64 by default, over the
C core's parameter table (tensor names and layouts exactly as lib/stqenet.c builds them).
tests/test_stqenet_torch.py runs one training step of both and compares the forward, the
loss terms, the gradient of every tensor, the BN running statistics and the inference
decode. The step's random parts are INPUTS here (the rate noise), so both sides can use
the same numbers (the C side takes them through invcsi_stqenet_train_step_ex).

Conventions copied from the C core (include/invcsi/stqenet.h, stqe_layers.h,
entropy_model.h; read those for the why):
  x          [batch][dim], dim = 2 H W, viewed as [batch][2][H][W], H = nr nt, W = nc
  encoder    conv1 1x1 2->16 (bias), conv2 5x5 16->2 (bias, 'same') = X;
             transformer block over ROW tokens: each channel of each report is one
             sequence of H tokens of dim W (the two channels share the weights):
               x1 = x  + LSA(LN1 x)     windows of 8 row tokens, 4 heads
               x2 = x1 + MLP1(LN2 x1)   ratio 1, GELU (erf)
               x3 = x2 + GSA(LN3 x2)    keys/values from Conv2d(1, W, 8, stride 8) over
                                        the H x W map -> LN -> kv
               x4 = x3 + MLP2(LN4 x3)
               out = LN5 x4             every LN eps 1e-6
             s = (out + X) * in_scale (enc.fc.in_scale, frozen, 1/sqrt(dim) at init);
             z = FC(flatten s) (enc.fc: [M][dim])
  compander  u = (mulaw(tanh z) + 1)/2 (2^B - 1), mu 255
  rate       u~ = u + noise (noise U(-1/2, 1/2), given); per entry the factorised model's
             p = CDF(u~ + 1/2 - c) - CDF(u~ - 1/2 - c), c = (L-1)/2, CDF = sigmoid(logit),
             logit = 1-3-3-3-1 network of entropy.raw [M][43]; tails folded: the lower
             end is -inf when floor(u~ + 1/2) <= 0, the upper +inf when >= L-1;
             bits = -log2 max(p, 1e-9f); R = sum of bits over the batch
  rounding   u^ = floor(u + 1/2), straight through (forward round, backward identity)
  decoder    t^ = mulaw^-1(2 u^ / (L-1) - 1); FC M -> dim (dec.fc); reshape [2][H][W];
             head = LReLU_0.3(BN(conv5x5(.)))  (convs without bias, BN eps 1e-5,
             momentum 0.1, batch statistics in training, running ones at inference);
             two CR blocks (dec.cr0, dec.cr1):
               p1 = CB9x1(lrelu(CB1x9(lrelu(CB3x3(x))))), p2 = CB5x1(lrelu(CB1x5(x)))
               out = lrelu(CB1x1(lrelu(cat(p1, p2))) + x)
  loss       L = MSE(x^, x) + lambda_eff R / (batch dim)  (= MSE + lambda_eff R_report/dim,
             R_report = R / batch, the C's losses.mmd); the entropy model's parameters get
             the full lambda even during the rate warm-up (lambda_eff < lambda), the
             encoder lambda_eff: the objective below is written so that its gradient is
             exactly that, its value the reported total when lambda_eff == lambda.

Usage:
    net = STQENet(cfg, tensors)     # cfg: nr, nt, nc, m, bits, mse_weight (= lambda);
                                    # tensors: name -> array, the C parameter table
    out = net.train_forward(x, noise)          # x: torch [batch][dim] (may require grad)
    out["objective"].backward(); net.grads()   # name -> float64 ndarray
    net.decode_symbols(symbols, folded=False)  # inference, running statistics
Or from a weights file: net = STQENet.from_safetensors(path).
"""
import json
import math
import struct

import numpy as np
import torch
import torch.nn.functional as F

ENC_WIDE = 16
ENC_K = 5
HEADS = 4
WINDOW = 8
PATCH = 8
CR_WIDTH = 7
SLOPE = 0.3
MU = 255.0
LN_EPS = 1e-6
BN_EPS = 1e-5
BN_MOMENTUM = 0.1
P_MIN = float(np.float32(1e-9))   # INVCSI_ENTROPY_P_MIN, a float constant in C

# CR block units: (name in the C table, kernel) in invcsi_crblock field order
CR_UNITS = (("path1.conv3x3", (3, 3)), ("path1.conv1x9", (1, 9)), ("path1.conv9x1", (9, 1)),
            ("path2.conv1x5", (1, 5)), ("path2.conv5x1", (5, 1)), ("conv1x1", (1, 1)))

FROZEN_NAMES = ("enc.fc.in_scale", "entropy.cdf")


def is_frozen(name):
    """The tensors the C core keeps frozen (no gradient, not trained)."""
    return name in FROZEN_NAMES or name.endswith(".running_mean") or name.endswith(".running_var")


# --------------------------------------------------------------------------------------
# Layers (functional)
# --------------------------------------------------------------------------------------

def layer_norm(x, g, b):
    return F.layer_norm(x, (x.shape[-1],), g, b, LN_EPS)


def linear(x, w, b):
    return x @ w.t() + b


def lsa(x, p, pre, heads=HEADS, window=WINDOW):
    """Locally-grouped attention: x [N][T][D], windows of `window` consecutive tokens."""
    n, t, d = x.shape
    hd = d // heads
    qkv = linear(x, p[pre + "qkv.weight"], p[pre + "qkv.bias"])              # [N][T][3D]
    qkv = qkv.reshape(n, t // window, window, 3, heads, hd).permute(3, 0, 1, 4, 2, 5)
    q, k, v = qkv[0], qkv[1], qkv[2]                                         # [N][nw][H][w][hd]
    att = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(hd), dim=-1)
    ctx = (att @ v).permute(0, 1, 3, 2, 4).reshape(n, t, d)
    return linear(ctx, p[pre + "proj.weight"], p[pre + "proj.bias"])


def gsa(x, p, pre, heads=HEADS, patch=PATCH):
    """Global sub-sampled attention: queries = all tokens, keys/values from the p x p
    stride-p conv summary of the [T][D] map (patch row-major), LayerNorm'd."""
    n, t, d = x.shape
    hd = d // heads
    q = linear(x, p[pre + "q.weight"], p[pre + "q.bias"]).reshape(n, t, heads, hd).transpose(1, 2)
    sr_w = p[pre + "sr.weight"].reshape(d, 1, patch, patch)
    summ = F.conv2d(x.unsqueeze(1), sr_w, p[pre + "sr.bias"], stride=patch)
    summ = summ.flatten(2).transpose(1, 2)                                   # [N][S][D]
    summ = layer_norm(summ, p[pre + "norm.weight"], p[pre + "norm.bias"])
    kv = linear(summ, p[pre + "kv.weight"], p[pre + "kv.bias"])
    kv = kv.reshape(n, -1, 2, heads, hd).permute(2, 0, 3, 1, 4)              # [2][N][H][S][hd]
    att = torch.softmax(q @ kv[0].transpose(-2, -1) / math.sqrt(hd), dim=-1)
    ctx = (att @ kv[1]).transpose(1, 2).reshape(n, t, d)
    return linear(ctx, p[pre + "proj.weight"], p[pre + "proj.bias"])


def mlp(x, p, pre):
    h = F.gelu(linear(x, p[pre + "fc1.weight"], p[pre + "fc1.bias"]))
    return linear(h, p[pre + "fc2.weight"], p[pre + "fc2.bias"])


def transformer_block(x, p, pre="enc.block."):
    """The encoder's pre-LN block (stqe_layers.h) over x [N][T][D]."""
    def ln(v, i):
        return layer_norm(v, p[f"{pre}norm{i}.weight"], p[f"{pre}norm{i}.bias"])
    x = x + lsa(ln(x, 1), p, pre + "attn1.")
    x = x + mlp(ln(x, 2), p, pre + "mlp1.")
    x = x + gsa(ln(x, 3), p, pre + "attn2.")
    x = x + mlp(ln(x, 4), p, pre + "mlp2.")
    return ln(x, 5)


def compander(z, bits, mu=MU):
    t = torch.tanh(z)
    c = torch.sign(t) * torch.log1p(mu * t.abs()) / math.log1p(mu)
    return (c + 1.0) * (0.5 * ((1 << bits) - 1))


def compander_inverse(u, bits, mu=MU):
    c = u * (2.0 / ((1 << bits) - 1)) - 1.0
    return torch.sign(c) * torch.expm1(c.abs() * math.log1p(mu)) / mu


def round_half_up(u):
    """floor(u + 1/2): the C's rounding (invcsi_round_ste_forward, the entropy bins)."""
    return torch.floor(u + 0.5)


def entropy_logits(raw, v):
    """raw [M][43] (kernels/stqe_math.h order), v [B][M] -> logit of the CDF at v."""
    sp, th = F.softplus, torch.tanh
    H1, b1, a1 = sp(raw[:, 0:3]), raw[:, 3:6], th(raw[:, 6:9])
    H2, b2, a2 = sp(raw[:, 9:18]).reshape(-1, 3, 3), raw[:, 18:21], th(raw[:, 21:24])
    H3, b3, a3 = sp(raw[:, 24:33]).reshape(-1, 3, 3), raw[:, 33:36], th(raw[:, 36:39])
    H4, b4 = sp(raw[:, 39:42]), raw[:, 42]
    x = v.unsqueeze(-1) * H1 + b1                       # [B][M][3]
    x = x + a1 * th(x)
    x = torch.einsum("dij,bdj->bdi", H2, x) + b2
    x = x + a2 * th(x)
    x = torch.einsum("dij,bdj->bdi", H3, x) + b3
    x = x + a3 * th(x)
    return (x * H4).sum(-1) + b4


def rate_bits(ut, raw, levels, bins=None):
    """Per-entry bits [B][M] of u~ under the factorised model with folded tails.
    bins: the symbol floor(u~ + 1/2) that decides the folding (default: from ut itself;
    a caller comparing against float32 C values passes the C's, so that a u~ within
    rounding of a bin edge folds the same way on both sides)."""
    c = 0.5 * (levels - 1)
    r = round_half_up(ut.detach()) if bins is None else bins
    l_lo = entropy_logits(raw, ut - 0.5 - c)
    l_hi = entropy_logits(raw, ut + 0.5 - c)
    lo_open, hi_open = r <= 0, r >= levels - 1
    cdf_lo = torch.where(lo_open, torch.zeros_like(l_lo), torch.sigmoid(l_lo))
    cdf_hi = torch.where(hi_open, torch.ones_like(l_hi), torch.sigmoid(l_hi))
    p = torch.clamp(cdf_hi - cdf_lo, min=P_MIN)
    return -torch.log2(p)


def batch_norm(h, p, buffers, pre, train):
    return F.batch_norm(h, buffers[pre + "bn.running_mean"], buffers[pre + "bn.running_var"],
                        p[pre + "bn.weight"], p[pre + "bn.bias"], training=train,
                        momentum=BN_MOMENTUM, eps=BN_EPS)


def conv_bn(x, p, buffers, pre, kernel, train, folded=False):
    """conv ('same', no bias) + BN; folded: the inference form with the running-statistics
    BN folded into the conv's weight and a bias (what the C decoder runs by default)."""
    pad = (kernel[0] // 2, kernel[1] // 2)
    w = p[pre + "conv.weight"]
    if folded:
        scale = p[pre + "bn.weight"] / torch.sqrt(buffers[pre + "bn.running_var"] + BN_EPS)
        bias = p[pre + "bn.bias"] - buffers[pre + "bn.running_mean"] * scale
        return F.conv2d(x, w * scale.reshape(-1, 1, 1, 1), bias, padding=pad)
    return batch_norm(F.conv2d(x, w, None, padding=pad), p, buffers, pre, train)


def cr_block(x, p, buffers, pre, train, folded=False):
    def cb(i, v):
        name, k = CR_UNITS[i]
        return conv_bn(v, p, buffers, f"{pre}{name}.", k, train, folded)

    def lr(v):
        return F.leaky_relu(v, SLOPE)
    p1 = cb(2, lr(cb(1, lr(cb(0, x)))))
    p2 = cb(4, lr(cb(3, x)))
    return lr(cb(5, lr(torch.cat((p1, p2), 1))) + x)


# --------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------

class STQENet:
    """The STQENet of lib/stqenet.c over a copy of its parameter table.

    params: trainable tensors (leaves requiring grad), frozen: in_scale and the coder
    tables, buffers: the BN running statistics (updated in place by a training forward,
    as the C step does)."""

    def __init__(self, cfg, tensors, dtype=torch.float64):
        self.nr, self.nt, self.nc = int(cfg["nr"]), int(cfg["nt"]), int(cfg["nc"])
        self.H, self.W = self.nr * self.nt, self.nc
        self.dim = 2 * self.H * self.W
        self.m = int(cfg["m"])
        self.bits = int(cfg.get("bits", 6))
        self.levels = 1 << self.bits
        self.lam = float(np.float32(cfg.get("mse_weight", 0.01)))
        self.dtype = dtype
        self.params, self.frozen, self.buffers = {}, {}, {}
        for name, arr in tensors.items():
            t = torch.tensor(np.asarray(arr, dtype=np.float64), dtype=dtype)
            if name.endswith(".running_mean") or name.endswith(".running_var"):
                self.buffers[name] = t
            elif is_frozen(name):
                self.frozen[name] = t
            else:
                self.params[name] = t.requires_grad_(True)

    @classmethod
    def from_safetensors(cls, path, dtype=torch.float64):
        """From a gr-invcsi weights file (invcsi_model_save) of kind "stqenet"."""
        with open(path, "rb") as f:
            raw = f.read()
        (hlen,) = struct.unpack("<Q", raw[:8])
        header = json.loads(raw[8:8 + hlen].decode("utf-8"))
        meta = header.pop("__metadata__", {}) or {}
        cfg = json.loads(meta["config"])
        if cfg.get("kind") != "stqenet":
            raise ValueError(f"{path}: a {cfg.get('kind')!r} model, not an STQENet")
        tensors = {}
        for name, t in header.items():
            lo, hi = t["data_offsets"]
            arr = np.frombuffer(raw[8 + hlen + lo:8 + hlen + hi], dtype="<f4")
            tensors[name] = arr.reshape(t["shape"])
        return cls(cfg, tensors, dtype)

    def _all(self):
        return {**self.params, **self.frozen}

    # ---- passes ----------------------------------------------------------------------
    def encode(self, x):
        """x [B][dim] -> (z, u) [B][M]."""
        p = self._all()
        b = x.shape[0]
        a1 = F.conv2d(x.reshape(b, 2, self.H, self.W), p["enc.conv1.weight"],
                      p["enc.conv1.bias"])
        X = F.conv2d(a1, p["enc.conv2.weight"], p["enc.conv2.bias"], padding=ENC_K // 2)
        blk = transformer_block(X.reshape(2 * b, self.H, self.W), p).reshape(b, 2, self.H, self.W)
        s = ((blk + X) * p["enc.fc.in_scale"].reshape(())).reshape(b, self.dim)
        z = linear(s, p["enc.fc.weight"], p["enc.fc.bias"])
        return z, compander(z, self.bits)

    def decode(self, uh, train, folded=False):
        """u^ [B][M] (symbols or their straight-through stand-ins) -> x^ [B][dim].
        train: batch statistics (running statistics updated); else running statistics,
        folded into the convs when `folded`."""
        p, bufs = self._all(), self.buffers
        b = uh.shape[0]
        t = compander_inverse(uh, self.bits)
        h = linear(t, p["dec.fc.weight"], p["dec.fc.bias"]).reshape(b, 2, self.H, self.W)
        h = F.leaky_relu(conv_bn(h, p, bufs, "dec.head.", (ENC_K, ENC_K), train, folded), SLOPE)
        h = cr_block(h, p, bufs, "dec.cr0.", train, folded)
        h = cr_block(h, p, bufs, "dec.cr1.", train, folded)
        return h.reshape(b, self.dim)

    def decode_symbols(self, symbols, folded=False):
        """Inference decode of integer symbols [B][M] (the BS side of an error-free link)."""
        with torch.no_grad():
            return self.decode(torch.as_tensor(np.asarray(symbols, dtype=np.float64),
                                               dtype=self.dtype), False, folded)

    def train_forward(self, x, noise, lambda_eff=None, symbols=None, bins=None,
                      decoder_input="round"):
        """The C training step's forward (train_step / train_step_ex).

        x [B][dim] tensor (give it requires_grad to get dL/dx), noise [B][M] (the rate
        proxy's U(-1/2, 1/2)). lambda_eff: the encoder's rate weight (default lambda, what
        the C uses outside the warm-up). symbols / bins (optional [B][M]): the rounding of
        u and the folding decision of u~ taken from elsewhere (the float32 C values), for
        entries within rounding of a bin edge. decoder_input: "round" (training), "u"
        (invcsi_stqenet_set_soft_round 1), "noisy" (2).
        Returns a dict of tensors: z, u, ut, uh, xhat, bits ([B][M]), mse, rate (bits per
        report), total (the C's losses.total), nmse_sum, objective (backward this)."""
        lam = self.lam
        lam_eff = lam if lambda_eff is None else float(np.float32(lambda_eff))
        b = x.shape[0]
        z, u = self.encode(x)
        noise = torch.as_tensor(np.asarray(noise, dtype=np.float64), dtype=self.dtype)
        ut = u + noise
        raw = self.params["entropy.raw"]
        bins_t = None if bins is None else torch.as_tensor(np.asarray(bins, np.float64),
                                                           dtype=self.dtype)
        bits = rate_bits(ut, raw, self.levels, bins_t)
        if decoder_input == "round":
            r = round_half_up(u.detach()) if symbols is None else torch.as_tensor(
                np.asarray(symbols, np.float64), dtype=self.dtype)
            uh = u + (r - u).detach()
        elif decoder_input == "u":
            uh = u
        elif decoder_input == "noisy":
            uh = ut
        else:
            raise ValueError(f"decoder_input {decoder_input!r}")
        xhat = self.decode(uh, True)
        n = b * self.dim
        mse = ((xhat - x) ** 2).sum() / n
        rate = bits.sum() / b
        total = mse + lam_eff * rate / self.dim
        if lam_eff == lam:
            objective = total
        else:
            # encoder: lambda_eff through u~; entropy model: the full lambda
            bits_enc = rate_bits(ut, raw.detach(), self.levels, bins_t)
            bits_ent = rate_bits(ut.detach(), raw, self.levels, bins_t)
            objective = mse + (lam_eff * bits_enc.sum() + lam * bits_ent.sum()) / (b * self.dim)
        with torch.no_grad():
            nmse_sum = (((xhat - x) ** 2).sum(1) / (x ** 2).sum(1)).sum()
        return {"z": z, "u": u, "ut": ut, "uh": uh, "xhat": xhat, "bits": bits, "mse": mse,
                "rate": rate, "total": total, "nmse_sum": nmse_sum, "objective": objective}

    def zero_grad(self):
        for t in self.params.values():
            t.grad = None

    def grads(self):
        """name -> gradient (float64 ndarray; zeros where the objective does not reach)."""
        return {k: (t.grad.detach().cpu().numpy().astype(np.float64) if t.grad is not None
                    else np.zeros(tuple(t.shape))) for k, t in self.params.items()}


if __name__ == "__main__":
    import sys
    if len(sys.argv) != 2:
        print("usage: stqe_twin.py WEIGHTS.safetensors  (smoke run: one training forward)")
        sys.exit(2)
    net = STQENet.from_safetensors(sys.argv[1])
    g = torch.Generator().manual_seed(1)
    x = 0.3 * torch.randn(2, net.dim, generator=g, dtype=net.dtype)
    noise = torch.rand(2, net.m, generator=g, dtype=net.dtype) - 0.5
    out = net.train_forward(x, noise)
    out["objective"].backward()
    print(f"mse {out['mse'].item():.6g}  rate {out['rate'].item():.2f} bits/report  "
          f"total {out['total'].item():.6g}")
