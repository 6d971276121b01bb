/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Parameter table: build phase, finalize, lookup, alignment, one allocation. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "invcsi/params.h"

static int aligned64(const void *p) { return ((uintptr_t)p % 64) == 0; }

static void test_build_and_find(void)
{
    invcsi_params p;
    invcsi_error err;
    invcsi_params_init(&p);
    struct {
        const char *name;
        int rank;
        int shape[4];
    } spec[] = {
        {"inn.0.phi.conv0.weight", 4, {24, 64, 3, 3}},
        {"inn.0.phi.conv0.bias", 1, {24}},
        {"daq.thresholds", 2, {128, 15}},
        {"ic.mu", 0, {0}},
        {"ic.log_sigma", 3, {5, 1, 7}},
    };
    int n = (int)(sizeof spec / sizeof spec[0]);
    size_t offs[8];
    size_t expect_values = 0;
    for (int i = 0; i < n; i++) {
        int rc = invcsi_params_add(&p, spec[i].name, spec[i].rank, spec[i].shape, &offs[i], &err);
        CHECK(rc == INVCSI_OK, "add %s: %s", spec[i].name, err.msg);
        size_t c = 1;
        for (int d = 0; d < spec[i].rank; d++)
            c *= (size_t)spec[i].shape[d];
        expect_values += c;
    }
    CHECK(p.n_tensors == n, "n_tensors %d", p.n_tensors);
    CHECK(p.n_values == expect_values, "n_values %zu vs %zu", p.n_values, expect_values);
    CHECK(p.data == NULL, "no data before finalize");
    CHECK(invcsi_params_data(&p, "ic.mu") == NULL, "accessor before finalize gives NULL");

    CHECK(invcsi_params_finalize(&p, &err) == INVCSI_OK, "finalize: %s", err.msg);
    CHECK(p.total % 16 == 0, "total %zu multiple of 16 floats", p.total);
    CHECK(p.total >= p.n_values, "total covers all values");

    /* one allocation: grad, m, v follow data inside the same block */
    CHECK(p.grad == p.data + p.total, "grad follows data");
    CHECK(p.adam_m == p.grad + p.total, "m follows grad");
    CHECK(p.adam_v == p.adam_m + p.total, "v follows m");
    CHECK(aligned64(p.data) && aligned64(p.grad) && aligned64(p.adam_m) && aligned64(p.adam_v),
          "64-byte aligned buffers");

    /* tensors: in order, aligned, inside [0, total), not overlapping */
    size_t end_prev = 0;
    for (int i = 0; i < n; i++) {
        const invcsi_tensor *t = invcsi_params_find(&p, spec[i].name);
        CHECK(t != NULL, "find %s", spec[i].name);
        if (!t)
            continue;
        CHECK(t == &p.tensors[i], "find returns the table entry");
        CHECK(invcsi_params_index(&p, spec[i].name) == i, "index %s", spec[i].name);
        CHECK(t->offset == offs[i], "offset_out matches table for %s", t->name);
        CHECK(t->offset % 16 == 0, "tensor %s offset %zu aligned", t->name, t->offset);
        CHECK(aligned64(invcsi_tensor_data(&p, t)), "tensor %s data aligned", t->name);
        CHECK(t->offset >= end_prev, "tensor %s does not overlap its predecessor", t->name);
        CHECK(t->offset + t->count <= p.total, "tensor %s inside the buffer", t->name);
        CHECK(t->rank == spec[i].rank, "rank %s", t->name);
        for (int d = 0; d < t->rank; d++)
            CHECK(t->shape[d] == spec[i].shape[d], "shape %s dim %d", t->name, d);
        CHECK(invcsi_params_data(&p, t->name) == p.data + t->offset, "data accessor %s", t->name);
        CHECK(invcsi_params_grad(&p, t->name) == p.grad + t->offset, "grad accessor %s", t->name);
        CHECK(invcsi_tensor_grad(&p, t) == p.grad + t->offset, "inline grad accessor");
        end_prev = t->offset + t->count;
    }
    CHECK(invcsi_params_find(&p, "nope") == NULL, "absent name");
    CHECK(invcsi_params_index(&p, "nope") == -1, "absent index");
    CHECK(invcsi_params_data(&p, "nope") == NULL, "absent data");
    CHECK(invcsi_params_find(&p, "ic.mu")->count == 1, "scalar has one value");

    /* zeroed buffers */
    int nonzero = 0;
    for (size_t i = 0; i < 4 * p.total; i++)
        nonzero += p.data[i] != 0.0f;
    CHECK(nonzero == 0, "all four buffers zeroed (%d nonzero)", nonzero);

    /* zero_grad / zero_adam touch only their buffers */
    for (size_t i = 0; i < 4 * p.total; i++)
        p.data[i] = 1.0f;
    invcsi_params_zero_grad(&p);
    int ok = 1;
    for (size_t i = 0; i < p.total; i++)
        ok &= p.data[i] == 1.0f && p.grad[i] == 0.0f && p.adam_m[i] == 1.0f && p.adam_v[i] == 1.0f;
    CHECK(ok, "zero_grad clears only grad");
    invcsi_params_zero_adam(&p);
    ok = 1;
    for (size_t i = 0; i < p.total; i++)
        ok &= p.data[i] == 1.0f && p.adam_m[i] == 0.0f && p.adam_v[i] == 0.0f;
    CHECK(ok, "zero_adam clears only m and v");

    /* frozen flags by prefix */
    CHECK(invcsi_params_set_frozen(&p, "inn.", 1) == 2, "two inn tensors frozen");
    CHECK(p.tensors[0].frozen && p.tensors[1].frozen && !p.tensors[2].frozen, "frozen flags");
    CHECK(invcsi_params_set_frozen(&p, "", 0) == n, "unfreeze all");

    /* build phase over */
    CHECK(invcsi_params_add(&p, "late", 1, (int[]){3}, NULL, &err) == INVCSI_EINVAL,
          "add after finalize rejected");
    CHECK(strstr(err.msg, "late") && strstr(err.msg, "finalized"), "message: %s", err.msg);
    CHECK(invcsi_params_finalize(&p, &err) == INVCSI_EINVAL, "finalize twice rejected");

    char buf[64];
    CHECK(strcmp(invcsi_shape_str(buf, sizeof buf, 4, p.tensors[0].shape), "[24, 64, 3, 3]") == 0,
          "shape_str: %s", buf);
    CHECK(strcmp(invcsi_shape_str(buf, sizeof buf, 0, NULL), "[]") == 0, "scalar shape_str: %s", buf);

    invcsi_params_free(&p);
    CHECK(p.data == NULL && p.tensors == NULL && p.n_tensors == 0, "free resets");
    /* reusable after free */
    CHECK(invcsi_params_add(&p, "again", 1, (int[]){5}, NULL, &err) == INVCSI_OK, "reuse");
    CHECK(invcsi_params_finalize_inference(&p, &err) == INVCSI_OK, "finalize_inference");
    CHECK(p.data && !p.grad && !p.adam_m && !p.adam_v, "inference: data only");
    CHECK(invcsi_params_grad(&p, "again") == NULL, "no grad in inference mode");
    invcsi_params_zero_grad(&p); /* must be a no-op, not a crash */
    invcsi_params_free(&p);
}

static void test_rejections(void)
{
    invcsi_params p;
    invcsi_error err;
    invcsi_params_init(&p);
    int s3[] = {3};
    CHECK(invcsi_params_add(&p, "w", 1, s3, NULL, &err) == INVCSI_OK, "first add");
    CHECK(invcsi_params_add(&p, "w", 1, s3, NULL, &err) == INVCSI_EINVAL, "duplicate rejected");
    CHECK(strstr(err.msg, "\"w\"") && strstr(err.msg, "twice"), "duplicate message: %s", err.msg);

    char long_name[80];
    memset(long_name, 'a', 64);
    long_name[64] = '\0';
    CHECK(invcsi_params_add(&p, long_name, 1, s3, NULL, &err) == INVCSI_EINVAL, "64 chars rejected");
    long_name[63] = '\0';
    CHECK(invcsi_params_add(&p, long_name, 1, s3, NULL, &err) == INVCSI_OK, "63 chars accepted: %s",
          err.msg);

    const char *bad_names[] = {"", "has space", "quote\"", "back\\slash", "tab\t", "é",
                               "__metadata__"};
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++)
        CHECK(invcsi_params_add(&p, bad_names[i], 1, s3, NULL, &err) == INVCSI_EINVAL,
              "bad name '%s' rejected", bad_names[i]);
    CHECK(invcsi_params_add(&p, NULL, 1, s3, NULL, &err) == INVCSI_EINVAL, "NULL name rejected");
    CHECK(invcsi_params_add(&p, "ok-name_1.2:a/b", 1, s3, NULL, &err) == INVCSI_OK,
          "allowed punctuation: %s", err.msg);

    CHECK(invcsi_params_add(&p, "r5", 5, (int[]){1, 1, 1, 1, 1}, NULL, &err) == INVCSI_EINVAL,
          "rank 5 rejected");
    CHECK(invcsi_params_add(&p, "rneg", -1, s3, NULL, &err) == INVCSI_EINVAL, "rank -1 rejected");
    CHECK(invcsi_params_add(&p, "zero", 2, (int[]){3, 0}, NULL, &err) == INVCSI_EINVAL,
          "zero dim rejected");
    CHECK(strstr(err.msg, "zero") && strstr(err.msg, "dimension 1"), "dim message: %s", err.msg);
    CHECK(invcsi_params_add(&p, "huge", 4, (int[]){1 << 20, 1 << 20, 1 << 20, 2}, NULL, &err) ==
              INVCSI_EINVAL,
          "overflowing size rejected");
    CHECK(p.n_tensors == 3, "failed adds leave the table unchanged (%d)", p.n_tensors);
    invcsi_params_free(&p);

    invcsi_params_init(&p);
    CHECK(invcsi_params_finalize(&p, &err) == INVCSI_EINVAL, "empty table rejected");
    invcsi_params_free(&p);
}

/* Many tensors: the table grows and every tensor keeps its own aligned slot. */
static void test_many(void)
{
    invcsi_params p;
    invcsi_error err;
    invcsi_params_init(&p);
    int ok = 1;
    for (int i = 0; i < 500; i++) {
        char name[32];
        snprintf(name, sizeof name, "layer%d.w", i);
        int shape[2] = {1 + i % 7, 1 + i % 5};
        ok &= invcsi_params_add(&p, name, 2, shape, NULL, &err) == INVCSI_OK;
    }
    CHECK(ok, "500 adds");
    CHECK(invcsi_params_finalize(&p, &err) == INVCSI_OK, "finalize: %s", err.msg);
    /* write each tensor's index into it; no tensor may clobber another */
    for (int i = 0; i < p.n_tensors; i++)
        for (size_t k = 0; k < p.tensors[i].count; k++)
            invcsi_tensor_data(&p, &p.tensors[i])[k] = (float)i;
    ok = 1;
    for (int i = 0; i < p.n_tensors; i++) {
        for (size_t k = 0; k < p.tensors[i].count; k++)
            ok &= invcsi_tensor_data(&p, &p.tensors[i])[k] == (float)i;
        ok &= p.tensors[i].offset % 16 == 0;
    }
    CHECK(ok, "tensors disjoint and aligned");
    CHECK(invcsi_params_index(&p, "layer499.w") == 499, "find last");
    invcsi_params_free(&p);
}

int main(void)
{
    test_build_and_find();
    test_rejections();
    test_many();
    return check_done("test_params");
}
