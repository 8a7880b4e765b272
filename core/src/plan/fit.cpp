// Inverse solves by bisection over plan_memory (docs/devices.md).
#include "modelplan/fit.h"
#include "util/bisect.h"
#include "util/json-util.h"

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

namespace modelplan {

namespace {

// The plan's total for a workload, or nullopt when the workload is invalid.
std::optional<uint64_t> total_for(const analysis& a, const workload& w) {
    auto p = plan_memory(a, w);
    if (!p) return std::nullopt;
    return p->total_bytes;
}

} // namespace

const std::vector<std::string>& quant_ladder() {
    static const std::vector<std::string> ladder = {"",    "fp8",  "int8", "q8_0", "gptq-4bit-128g",
                                                    "nf4", "q4_k", "q3_k", "q2_k"};
    return ladder;
}

result<fit_answer> solve_fit(const analysis& a, const workload& w, const gpu_row& gpu) {
    fit_answer f;
    f.memory_bytes = gpu.memory_bytes();
    auto base = plan_memory(a, w);
    if (!base) return base.err();
    f.total_bytes = base->total_bytes;
    f.fits = f.total_bytes <= f.memory_bytes;
    f.headroom_bytes = static_cast<int64_t>(f.memory_bytes) - static_cast<int64_t>(f.total_bytes);
    f.gpus_needed = f.memory_bytes ? (f.total_bytes + f.memory_bytes - 1) / f.memory_bytes : 0;

    auto fits_with = [&](workload trial) {
        auto t = total_for(a, trial);
        return t && *t <= f.memory_bytes;
    };
    uint64_t seq_limit = a.spec.max_positions ? a.spec.max_positions : (uint64_t{1} << 24);
    f.max_seq = largest_fitting(seq_limit, [&](uint64_t seq) {
        workload t = w;
        t.seq = seq;
        return fits_with(t);
    });
    workload at_seq = w;
    if (at_seq.seq == 0) at_seq.seq = default_seq(a.spec);
    f.max_batch = largest_fitting(uint64_t{1} << 20, [&](uint64_t batch) {
        workload t = at_seq;
        t.batch = batch;
        return fits_with(t);
    });
    for (const std::string& q : quant_ladder()) {
        workload t = w;
        t.quant = q;
        if (fits_with(t)) {
            f.smallest_quant = q.empty() ? "none" : q;
            f.quant_found = true;
            break;
        }
    }
    return f;
}

std::string fit_json(const analysis& a, const workload& w, const gpu_row& gpu, const fit_answer& f,
                     const device_check& checks) {
    json_out doc;
    auto& out = doc.w;
    out.StartObject();
    out.Key("model");
    out.String(a.model.c_str());
    out.Key("gpu");
    out.String(gpu.key);
    out.Key("memory_bytes");
    out.Uint64(f.memory_bytes);
    out.Key("batch");
    out.Uint64(w.batch);
    out.Key("seq");
    out.Uint64(w.seq ? w.seq : default_seq(a.spec));
    out.Key("total_bytes");
    out.Uint64(f.total_bytes);
    out.Key("fits");
    out.Bool(f.fits && checks.errors.empty());
    out.Key("headroom_bytes");
    out.Int64(f.headroom_bytes);
    out.Key("max_seq");
    out.Uint64(f.max_seq);
    out.Key("max_batch");
    out.Uint64(f.max_batch);
    out.Key("smallest_quant");
    if (f.quant_found)
        out.String(f.smallest_quant.c_str());
    else
        out.Null();
    out.Key("gpus_needed");
    out.Uint64(f.gpus_needed);
    out.Key("errors");
    out.StartArray();
    for (const auto& e : checks.errors) out.String(e.c_str());
    out.EndArray();
    out.Key("warnings");
    out.StartArray();
    for (const auto& e : checks.warnings) out.String(e.c_str());
    out.EndArray();
    out.EndObject();
    return doc.str();
}

} // namespace modelplan
