// Inverse solves by bisection over plan_memory (docs/devices.md).
#include "modelplan/fit.h"
#include "util/bisect.h"

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

workload_limits solve_workload_limits(const analysis& a, const workload& w,
                                      const std::function<bool(const workload&)>& fits) {
    workload_limits f;
    uint64_t seq_limit = a.spec.max_positions ? a.spec.max_positions : (uint64_t{1} << 24);
    f.max_seq = largest_fitting(seq_limit, [&](uint64_t seq) {
        workload t = w;
        t.seq = seq;
        return fits(t);
    });
    workload at_seq = w;
    if (at_seq.seq == 0) at_seq.seq = default_seq(a.spec);
    f.max_batch = largest_fitting(uint64_t{1} << 20, [&](uint64_t batch) {
        workload t = at_seq;
        t.batch = batch;
        return fits(t);
    });
    for (const std::string& q : quant_ladder()) {
        workload t = w;
        t.quant = q;
        if (fits(t)) {
            f.smallest_quant = q.empty() ? "none" : q;
            f.quant_found = true;
            break;
        }
    }
    return f;
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

    auto fits_with = [&](const workload& trial) {
        auto t = total_for(a, trial);
        return t && *t <= f.memory_bytes;
    };
    workload_limits l = solve_workload_limits(a, w, fits_with);
    f.max_seq = l.max_seq;
    f.max_batch = l.max_batch;
    f.smallest_quant = l.smallest_quant;
    f.quant_found = l.quant_found;
    return f;
}

} // namespace modelplan
