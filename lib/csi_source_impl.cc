/* -*- c++ -*- */
/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A thin shell around the C core's data sources: the .mat loader (matfile.h), the
 * seeded split and shuffle (transform.h, rng.h) and the CDL generator (cdl.h). This
 * file only copies reports into the output buffer and keeps the position.
 */

#include "csi_source_impl.h"
#include <gnuradio/io_signature.h>
#include <climits>
#include <cmath>
#include <cstring>
#include <stdexcept>

extern "C" {
#include <invcsi/matfile.h>
#include <invcsi/rng.h>
#include <invcsi/transform.h>
}

namespace gr {
namespace invcsi {

namespace {

const char* const WHO = "invcsi csi_source: ";

[[noreturn]] void bad(const std::string& what) { throw std::invalid_argument(WHO + what); }

void check_size(const char* name, int v)
{
    if (v < 0)
        bad(std::string(name) + " must be >= 1 (or 0 for the default), got " +
            std::to_string(v));
}

// A size given for a file (> 0) must be the file's.
void check_file_size(const std::string& path, const char* name, int given, int file)
{
    if (given > 0 && given != file)
        bad(path + " holds reports with " + name + " = " + std::to_string(file) +
            ", but " + name + " = " + std::to_string(given) +
            " was given (0 takes the file's sizes)");
}

csi_source_setup prepare_mat(const std::string& path,
                             const std::string& subset,
                             uint64_t split_seed,
                             double train_frac,
                             int nr,
                             int nt,
                             int nc)
{
    check_size("nr", nr);
    check_size("nt", nt);
    check_size("nc", nc);
    if (path.empty())
        bad("source \"mat\" needs a file: path is empty");
    if (subset != "all" && subset != "test" && subset != "train")
        bad("subset must be \"all\", \"test\" or \"train\", got \"" + subset + "\"");
    if (!(train_frac >= 0.0 && train_frac <= 1.0))
        bad("train_frac must be in [0, 1], got " + std::to_string(train_frac));

    csi_source_setup s;
    invcsi_error err;
    invcsi_error_clear(&err);
    if (invcsi_mat_read_channels(path.c_str(), &s.set, &err) != INVCSI_OK)
        throw std::runtime_error(WHO + std::string(err.msg));
    const int n = s.set.n;
    s.nr = s.set.nr;
    s.nt = s.set.nt;
    s.nc = s.set.nc;
    try {
        check_file_size(path, "nr", nr, s.nr);
        check_file_size(path, "nt", nt, s.nt);
        check_file_size(path, "nc", nc, s.nc);
    } catch (...) {
        invcsi_channels_free(&s.set);
        throw;
    }
    if ((long long)s.nr * s.nt * s.nc > INT_MAX / (long long)sizeof(gr_complex)) {
        invcsi_channels_free(&s.set);
        bad(path + ": reports of " + std::to_string((long long)s.nr * s.nt * s.nc) +
            " complex values are too large for a GNU Radio item");
    }
    if (subset == "all") {
        s.base.resize(n);
        for (int i = 0; i < n; i++)
            s.base[i] = i;
    } else {
        std::vector<int> train(n), test(n);
        int n_train = 0, n_test = 0;
        invcsi_split(n, train_frac, (unsigned long long)split_seed, train.data(), &n_train,
                     test.data(), &n_test);
        if (subset == "test")
            s.base.assign(test.begin(), test.begin() + n_test);
        else
            s.base.assign(train.begin(), train.begin() + n_train);
    }
    if (s.base.empty()) {
        invcsi_channels_free(&s.set);
        throw std::runtime_error(WHO + path + ": the \"" + subset + "\" subset of " +
                                 std::to_string(n) + " reports (train_frac " +
                                 std::to_string(train_frac) + ") is empty");
    }
    s.per_pass = (long)s.base.size();
    s.description = path + " (" + subset + ": " + std::to_string(s.per_pass) + " of " +
                    std::to_string(n) + " reports)";
    return s;
}

csi_source_setup prepare_cdl(const std::string& cdl_model,
                             uint64_t seed,
                             int nr,
                             int nt,
                             int nc,
                             long cdl_reports)
{
    check_size("nr", nr);
    check_size("nt", nt);
    check_size("nc", nc);
    // 0: the project's default sizes (DESIGN.md section 1: 32 BS antennas, 1 UE
    // antenna, 32 subcarriers), as invcsi-gen's defaults.
    nr = nr ? nr : 1;
    nt = nt ? nt : 32;
    nc = nc ? nc : 32;
    if (cdl_reports < 0)
        bad("cdl_reports must be >= 0 (0 = endless), got " + std::to_string(cdl_reports));
    csi_source_setup s;
    invcsi_error err;
    invcsi_error_clear(&err);
    invcsi_cdl_model model;
    if (invcsi_cdl_model_parse(cdl_model.c_str(), &model, &err) != INVCSI_OK)
        bad(err.msg);
    invcsi_cdl_params_default(&s.cdl_params, model);
    s.cdl_params.nr = nr;
    s.cdl_params.nt = nt;
    s.cdl_params.nc = nc;
    s.cdl_params.seed = seed;
    s.cdl_params.threads = 1; // one sample per call: no thread team
    if (invcsi_cdl_params_check(&s.cdl_params, &err) != INVCSI_OK)
        bad(err.msg);
    s.cdl = true;
    s.nr = nr;
    s.nt = nt;
    s.nc = nc;
    s.per_pass = cdl_reports;
    s.description = std::string(invcsi_cdl_model_name(model)) + " generator, seed " +
                    std::to_string(seed) + ", " +
                    (cdl_reports ? std::to_string(cdl_reports) + " reports per pass"
                                 : std::string("endless"));
    return s;
}

} // namespace

csi_source::sptr csi_source::make(const std::string& source,
                                  const std::string& path,
                                  const std::string& subset,
                                  uint64_t split_seed,
                                  double train_frac,
                                  bool shuffle,
                                  uint64_t seed,
                                  bool repeat,
                                  const std::string& cdl_model,
                                  int nr,
                                  int nt,
                                  int nc,
                                  long cdl_reports)
{
    csi_source_setup s;
    if (source == "mat")
        s = prepare_mat(path, subset, split_seed, train_frac, nr, nt, nc);
    else if (source == "cdl")
        s = prepare_cdl(cdl_model, seed, nr, nt, nc, cdl_reports);
    else
        bad("source must be \"mat\" (data set file) or \"cdl\" (generator), got \"" +
            source + "\"");
    s.shuffle = shuffle && !s.cdl; // generated reports are independent draws already
    s.seed = seed;
    s.repeat = repeat;
    try {
        return gnuradio::make_block_sptr<csi_source_impl>(std::move(s));
    } catch (...) {
        invcsi_channels_free(&s.set); // still ours if the block was not built
        throw;
    }
}

csi_source_impl::csi_source_impl(csi_source_setup&& s)
    : gr::sync_block("csi_source",
                     gr::io_signature::make(0, 0, 0),
                     gr::io_signature::make(1, 1, sizeof(gr_complex) * s.nr * s.nt * s.nc)),
      d_cdl(s.cdl),
      d_shuffle(s.shuffle),
      d_seed(s.seed),
      d_repeat(s.repeat),
      d_nr(s.nr),
      d_nt(s.nt),
      d_nc(s.nc),
      d_per_pass(s.per_pass),
      d_set(s.set),
      d_base(std::move(s.base)),
      d_order(d_base.size()),
      d_cdl_params(s.cdl_params),
      d_rays(d_cdl ? INVCSI_CDL_MAX_RAYS : 0),
      d_pass(0),
      d_pos(0),
      d_emitted(0)
{
    s.set = invcsi_channels{}; // ownership moved here
    std::lock_guard<std::mutex> lock(d_mutex);
    if (!d_cdl)
        start_pass_locked(0);
    d_logger->info("{}: {} x {} x {} (nr x nt x nc){}{}",
                   s.description,
                   d_nr,
                   d_nt,
                   d_nc,
                   d_shuffle ? ", shuffled" : "",
                   d_repeat ? ", repeating" : "");
}

csi_source_impl::~csi_source_impl() { invcsi_channels_free(&d_set); }

void csi_source_impl::start_pass_locked(long pass)
{
    d_order = d_base;
    if (d_shuffle) {
        invcsi_rng r;
        invcsi_rng_init(&r, d_seed, (uint64_t)pass);
        invcsi_rng_shuffle(&r, d_order.data(), (int)d_order.size());
    }
    d_pass = pass;
    d_pos = 0;
}

long csi_source_impl::reports_emitted() const
{
    std::lock_guard<std::mutex> lock(d_mutex);
    return d_emitted;
}

std::vector<int> csi_source_impl::order() const
{
    std::lock_guard<std::mutex> lock(d_mutex);
    return d_order;
}

int csi_source_impl::work(int noutput_items,
                          gr_vector_const_void_star& input_items,
                          gr_vector_void_star& output_items)
{
    // std::complex<float> is float[2] (re, im): the C core's interleaved layout.
    float* out = reinterpret_cast<float*>(output_items[0]);
    const size_t floats = 2 * (size_t)d_nr * d_nt * d_nc;

    std::lock_guard<std::mutex> lock(d_mutex);
    int produced = 0;
    while (produced < noutput_items) {
        if (d_per_pass > 0 && d_pos == d_per_pass) {
            if (!d_repeat)
                break;
            if (d_cdl) {
                d_pass++;
                d_pos = 0;
            } else {
                start_pass_locked(d_pass + 1);
            }
        }
        float* h = out + (size_t)produced * floats;
        if (d_cdl) {
            // Sample index d_pos of the seeded generator: the same numbers as sample
            // d_pos of invcsi-gen with this seed (a pass repeats the same samples).
            invcsi_error err;
            invcsi_cdl_sample_info info;
            if (invcsi_cdl_sample_rays(&d_cdl_params, d_pos, d_rays.data(), &info, &err) !=
                    INVCSI_OK ||
                invcsi_cdl_rays_to_h(&d_cdl_params,
                                     d_rays.data(),
                                     info.n_rays,
                                     info.ue_orientation_deg,
                                     h,
                                     &err) != INVCSI_OK)
                throw std::runtime_error(WHO + std::string(err.msg));
        } else {
            const long len = invcsi_channels_sample_len(&d_set);
            std::memcpy(h, d_set.h + 2 * len * (long)d_order[d_pos], sizeof(float) * floats);
        }
        d_pos++;
        d_emitted++;
        produced++;
    }
    if (produced == 0)
        return WORK_DONE;
    return produced;
}

} /* namespace invcsi */
} /* namespace gr */
