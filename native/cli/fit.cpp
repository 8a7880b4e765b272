// `modelplan fit`: a workload against one GPU of the catalog: fits?, the longest context, the largest batch,
// the smallest quantization.
#include "modelplan/fit.h"
#include "commands.h"
#include "modelplan/devices.h"
#include "modelplan/memory.h"
#include "modelplan/report.h"
#include "modelplan/text.h"
#include "output.h"

namespace modelplan::cli {

const char* const fit_help = R"(usage: modelplan fit [MODEL] --gpu NAME [plan options] [--json]

Against one GPU of the catalog (memory as the driver reports it): whether the workload fits and its
headroom, the longest context that fits for the batch, the largest batch that fits at the sequence
length, the smallest quantization of the ladder (none, fp8, int8, q8_0, gptq-4bit-128g, nf4, q4_k, q3_k,
q2_k) that fits, and how many GPUs an even split would need (before placement). Takes every `plan` option.
)";

namespace {

std::string render_fit(const analysis& a, const workload& w, const gpu_row& gpu, const fit_answer& f,
                       const device_check& checks) {
    std::string out = model_title(a);
    if (auto plan = plan_memory(a, w)) out += values_line(*plan); // the values in use, defaults named
    out += "on " + gpu.key + " (" + binary_size(f.memory_bytes) + ")\n\n";
    bool runs = checks.errors.empty();
    out += std::string("  fits          ") + (f.fits && runs ? "yes" : "no") + ": " +
           binary_size(f.total_bytes) + " needed, headroom " + signed_size(f.headroom_bytes) + " (batch " +
           std::to_string(w.batch) + ", seq " + std::to_string(w.seq ? w.seq : default_seq(a.spec)) + ")\n";
    out += "  longest seq   " +
           (f.max_seq ? with_thousands(f.max_seq) + " tokens" : std::string("none fits")) + " at batch " +
           std::to_string(w.batch) + "\n";
    out += "  largest batch " + (f.max_batch ? with_thousands(f.max_batch) : std::string("none fits")) +
           " at seq " + std::to_string(w.seq ? w.seq : default_seq(a.spec)) + "\n";
    out += "  quantization  " +
           (!f.quant_found               ? std::string("nothing fits: none of the ladder")
            : f.smallest_quant == "none" ? std::string("none needed (fits unquantized)")
                                         : f.smallest_quant) +
           "\n";
    out += "  GPUs needed   " + std::to_string(f.gpus_needed) +
           " (an even split of the total, before placement)\n";
    for (const auto& e : checks.errors) out += "cannot run: " + e + "\n";
    for (const auto& e : checks.warnings) out += "warning: " + e + "\n";
    return out + header_notes(a);
}

} // namespace

int run_fit(const command_line& cl) {
    if (!cl.gpu) return usage_error("fit needs --gpu NAME (see modelplan gpus)", "fit");
    auto gpu = find_gpu(*cl.gpu);
    if (!gpu) return fail(gpu.err());
    auto a = read_model(cl);
    if (!a) return fail(a.err().message);
    workload w;
    if (auto e = read_workload(cl, w)) return fail(*e);
    auto f = solve_fit(*a, w, *gpu);
    if (!f) return fail(f.err());
    device_check checks = check_workload(*a, w, *gpu);
    print(cl.json ? fit_json(*a, w, *gpu, *f, checks) : render_fit(*a, w, *gpu, *f, checks));
    return exit_ok;
}

} // namespace modelplan::cli
