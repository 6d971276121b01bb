/* -*- c++ -*- */
/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Ownership of C core objects inside the C++ blocks (header-only, used by the *_impl.cc
 * files): a model loaded from a weights file and a DFT plan, released by unique_ptr,
 * and the one way the blocks turn a core error into an exception. No arithmetic here.
 */

#ifndef INCLUDED_INVCSI_BLOCK_CORE_H
#define INCLUDED_INVCSI_BLOCK_CORE_H

#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>

extern "C" {
#include <invcsi/backend.h>
#include <invcsi/bitlink.h>
#include <invcsi/error.h>
#include <invcsi/invcsinet.h>
#include <invcsi/model.h>
#include <invcsi/stqenet.h>
#include <invcsi/transform.h>
}

namespace gr {
namespace invcsi {

struct core_model_deleter {
    void operator()(invcsi_model* m) const { invcsi_model_destroy(m); }
};
using core_model_ptr = std::unique_ptr<invcsi_model, core_model_deleter>;

struct core_dft_deleter {
    void operator()(invcsi_dft* d) const { invcsi_dft_destroy(d); }
};
using core_dft_ptr = std::unique_ptr<invcsi_dft, core_dft_deleter>;

// "invcsi <block>: <message of the core>" as std::runtime_error.
[[noreturn]] inline void throw_core(const std::string& who, const invcsi_error& err)
{
    throw std::runtime_error("invcsi " + who + ": " + err.msg);
}

inline void check_batch(const std::string& who, int batch)
{
    if (batch < 1 || batch > (1 << 20))
        throw std::invalid_argument("invcsi " + who +
                                    ": batch (reports per core call) must be in 1..1048576, "
                                    "got " +
                                    std::to_string(batch));
}

// Loads a weights file for inference with buffers for max_batch reports. A missing,
// corrupt or unsupported file throws std::runtime_error with the core's message (which
// names the file and the problem).
inline core_model_ptr load_weights(const std::string& who,
                                   const std::string& path,
                                   int max_batch)
{
    if (path.empty())
        throw std::invalid_argument("invcsi " + who +
                                    ": no weights file given (weights is empty)");
    check_batch(who, max_batch);
    invcsi_error err;
    invcsi_error_clear(&err);
    invcsi_model* m = nullptr;
    if (invcsi_model_load(&m, path.c_str(), max_batch, &err) != INVCSI_OK)
        throw_core(who, err);
    return core_model_ptr(m);
}

// The blocks' `device` parameter ("cpu", "cuda", "auto"), resolved as the programs'
// --device is: "cuda" without a usable GPU (or, in this version, anywhere: the blocks'
// encode/decode run on the CPU backend; only invcsi-train's INN step runs on CUDA, see
// include/invcsi/backend.h) throws with the core's message; "auto" falls back to the CPU. Returns the chosen backend's name and, in *why, the core's one-line
// explanation for "auto" (empty otherwise) for the block to log.
inline std::string select_device(const std::string& who,
                                 const std::string& device,
                                 std::string* why)
{
    if (device.empty())
        throw std::invalid_argument("invcsi " + who +
                                    ": device is empty (give cpu, cuda or auto)");
    why->clear();
    invcsi_backend_set_log(
        [](void* ctx, const char* line) { *static_cast<std::string*>(ctx) = line; }, why);
    invcsi_error err;
    invcsi_error_clear(&err);
    const invcsi_backend* be = nullptr;
    const int rc =
        invcsi_backend_select_caps(device.c_str(), INVCSI_BACKEND_CAP_MODELS, &be, &err);
    invcsi_backend_set_log(nullptr, nullptr);
    if (rc == INVCSI_EINVAL)
        throw std::invalid_argument("invcsi " + who + ": device: " + err.msg);
    if (rc != INVCSI_OK)
        throw_core(who, err);
    return be->name;
}

// STQENet weights for one report at a time: invcsi_stqenet_load checks the kind and builds
// the coder tables. Errors as load_weights.
inline core_model_ptr load_stqenet_weights(const std::string& who, const std::string& path)
{
    if (path.empty())
        throw std::invalid_argument("invcsi " + who +
                                    ": no weights file given (weights is empty)");
    invcsi_error err;
    invcsi_error_clear(&err);
    invcsi_model* m = nullptr;
    if (invcsi_stqenet_load(&m, path.c_str(), 1, &err) != INVCSI_OK)
        throw_core(who, err);
    return core_model_ptr(m);
}

inline core_dft_ptr make_dft(const std::string& who, int nr, int nt, int nc)
{
    invcsi_error err;
    invcsi_error_clear(&err);
    invcsi_dft* d = nullptr;
    if (invcsi_dft_create(&d, nr, nt, nc, &err) != INVCSI_OK)
        throw_core(who, err);
    return core_dft_ptr(d);
}

// How latent values become bits, shared by daq_quantizer and inn_ic_decoder so both
// ends agree: the weights' learned DAQ (InvCSINet) or the uniform quantizer on
// [-range, range] with bits and mapping given by the user (models without a DAQ).
struct quantizer_setup {
    bool learned;
    int bits;
    int mapping; // INVCSI_BITMAP_*
    float range; // 0 for a learned DAQ
};

inline quantizer_setup resolve_quantizer(const std::string& who,
                                         const invcsi_model* m,
                                         int bits,
                                         float range,
                                         const std::string& mapping)
{
    const std::string w = "invcsi " + who + ": ";
    // Checked for every kind, so a typo is caught even where the value is not used.
    if (!(std::isfinite(range) && range > 0.0f))
        throw std::invalid_argument(w + "range must be > 0 and finite, got " +
                                    std::to_string(range));
    int user_mapping = INVCSI_BITMAP_NATURAL;
    invcsi_error err;
    invcsi_error_clear(&err);
    if (invcsi_bitmap_parse(mapping.c_str(), &user_mapping, &err) != INVCSI_OK)
        throw std::invalid_argument(w + "mapping: " + err.msg);

    quantizer_setup q;
    if (invcsi_is_invcsinet(m)) {
        q.learned = true;
        q.bits = invcsi_invcsinet_bits(m);
        q.mapping = invcsi_invcsinet_mapping(m);
        q.range = 0.0f;
        if (bits != 0 && bits != q.bits)
            throw std::invalid_argument(
                w + "bits = " + std::to_string(bits) + ", but the InvCSINet weights quantize " +
                "with their learned " + std::to_string(q.bits) +
                "-bit DAQ: give bits = 0 (or " + std::to_string(q.bits) + ")");
        return q;
    }
    if (bits < 1 || bits > 8)
        throw std::invalid_argument(
            w + "the " + m->cfg.kind +
            " weights have no learned quantizer (DAQ): give bits in 1..8 for the uniform "
            "quantizer on [-range, range], got bits = " +
            std::to_string(bits));
    q.learned = false;
    q.bits = bits;
    q.mapping = user_mapping;
    q.range = range;
    return q;
}

} // namespace invcsi
} // namespace gr

#endif /* INCLUDED_INVCSI_BLOCK_CORE_H */
