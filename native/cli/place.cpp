// `modelplan place`: prints what the core's placement planner returns (docs/placement.md).
#include <cstdio>
#include <fstream>
#include <tuple>

#include "command-line.h"
#include "commands.h"
#include "modelplan/devices.h"
#include "modelplan/memory.h"
#include "modelplan/placement.h"
#include "modelplan/report.h"
#include "modelplan/text.h"
#include "output.h"
#include "table.h"

namespace modelplan::cli {

const char* const place_help =
    R"(usage: modelplan place [MODEL] (--gpu NAME [--gpus N] [--cpu SIZE] [--disk] | --devices LIST)
                       [workload options] [--strategy sequential|balanced] [--experts-on-cpu]
                       [--pin PATTERN=DEVICE]... [--tp T] [--pp P] [--device-map-out FILE] [--json]

Places the model on devices for an inference workload, planning weights and runtime memory together: each
decoder layer stays whole on one device, tied parameters stay together, the KV cache of a layer goes where
its attention runs, and every GPU used pays its own activations and CUDA context (docs/placement.md).

devices:
  --gpu NAME           catalog GPU (modelplan gpus) or custom:MEMORY[,bw=GB/s][,tflops=T]; --gpus N of
                       them as cuda:0..N-1 (default 1, or T x P)
  --cpu SIZE           also offload to host memory (64 = 64 GiB, 64GiB, 64GB); --disk: and to disk
  --devices LIST       explicit budgets, e.g. cuda:0=24GiB,cuda:1=16GiB,cpu=64GiB,disk
placement:
  --strategy S         sequential (fill each device in order, like accelerate's "sequential") or balanced
                       (share the layers across GPUs in proportion to their free memory); default sequential
  --experts-on-cpu     MoE: routed experts on the cpu device, attention and shared experts on GPUs
  --pin PATTERN=DEVICE put the modules of tensors matching PATTERN ('*' matches anything) on DEVICE,
                       e.g. --pin 'lm_head.*=cpu'; repeatable
  --device-map-out F   write the device map (transformers' from_pretrained(device_map=...) JSON) to F
parallelism (one GPU per rank; no device map):
  --tp T               tensor parallel degree: which weights split on which dimension, per-rank bytes
  --pp P               pipeline parallel degree: layers per stage, per-stage bytes
workload: --batch, --seq, --encoder-seq, --prefill-chunk, --images, --image-size, --dtype, --quant,
  --kv-dtype, --state-dtype, --attn, --overhead, --mtp, --head, --checkpoint-weights as for `modelplan plan`
  (inference only)
output:
  --json               {"model", "architecture", "strategy", "fits", "execution_device", "plan",
                       "devices": [{"name", "kind", "budget_bytes", "total_bytes", "headroom_bytes",
                       "modules", "layers", "items": [{"name", "bytes"}]}], "device_map", "unplaced_bytes",
                       "over_budget_bytes", "suggestions", "warnings"}; with --tp/--pp {"tp", "pp", "fits",
                       "stages", "ranks", "splits", "notes"} (docs/json.md)
exit status: 0 it fits, 3 it does not (the output says by how much and what would), 2 bad input.
)";

namespace {

std::string layer_ranges(const std::vector<uint64_t>& layers) {
    std::string out;
    for (size_t i = 0; i < layers.size();) {
        size_t j = i;
        while (j + 1 < layers.size() && layers[j + 1] == layers[j] + 1) ++j;
        out += (out.empty() ? "" : ",") + std::to_string(layers[i]) +
               (j > i ? "-" + std::to_string(layers[j]) : std::string());
        i = j + 1;
    }
    return out.empty() ? "-" : out;
}

std::string size_or_dash(uint64_t b) {
    return b ? binary_size(b) : "-";
}

std::string render_placement(const analysis& a, const placement& p, const place_options& o) {
    std::string out = model_title(a, false) + values_line(p.plan);
    // A fit that relies on host memory or disk says so (issue 17): those layers run far slower.
    uint64_t offloaded = 0;
    for (const auto& d : p.devices)
        if (d.device.kind != device_kind::gpu) offloaded += d.total_bytes;
    std::string verdict = !p.fits     ? "does NOT fit"
                          : offloaded ? "fits only with offload (" + binary_size(offloaded) +
                                            " off the GPUs: those layers run far slower)"
                                      : "fits";
    out += std::string(o.strategy == place_strategy::balanced ? "balanced" : "sequential") +
           " placement: " + verdict + "\n\n";
    // The recurrent-state column only for models that have one (Mamba, DeltaNet, short-convolution layers).
    const bool state = !p.plan.state_bytes_by_layer.empty();
    std::vector<std::pair<std::string, align>> columns = {
        {"device",   align::left },
        {"budget",   align::right},
        {"weights",  align::right},
        {"kv_cache", align::right}
    };
    if (state) columns.push_back({"state", align::right});
    columns.push_back({"activations", align::right});
    // The vision tower's working set, for a vision-language model given images.
    const bool vision = p.plan.bytes.vision_activations > 0;
    if (vision) columns.push_back({"vision acts", align::right});
    for (const char* name : {"logits", "offload buf", "overhead", "total", "headroom"})
        columns.push_back({name, align::right});
    columns.push_back({"layers", align::left});
    table tab(columns);
    for (const auto& d : p.devices) {
        bool unlimited = d.device.budget_bytes == UINT64_MAX;
        std::vector<std::string> row = {d.device.name +
                                            (d.device.gpu.empty() ? "" : " (" + d.device.gpu + ")"),
                                        unlimited ? "unlimited" : binary_size(d.device.budget_bytes),
                                        binary_size(d.bytes.weights), size_or_dash(d.bytes.kv_cache)};
        if (state) row.push_back(size_or_dash(d.bytes.recurrent_state));
        row.push_back(size_or_dash(d.bytes.activations));
        if (vision) row.push_back(size_or_dash(d.bytes.vision_activations));
        for (const std::string& cell :
             {size_or_dash(d.bytes.logits), size_or_dash(d.bytes.offload_buffer),
              size_or_dash(d.bytes.overhead), binary_size(d.total_bytes),
              unlimited ? std::string("-") : signed_size(d.headroom_bytes), layer_ranges(d.layers)})
            row.push_back(cell);
        tab.row(row);
    }
    out += tab.render() + "\n";
    out += "device map: " + std::to_string(p.map.entries.size()) +
           " modules (--json prints it; --device-map-out FILE writes it for from_pretrained)\n";
    for (const auto& s : p.suggestions) out += "  " + suggestion_worded_for_cli(s) + "\n";
    for (const auto& w : p.warnings) out += "warning: " + w + "\n";
    return out + header_notes(a);
}

std::string render_parallel(const analysis& a, const parallel_plan& p) {
    std::string out = model_title(a, false);
    out += "tensor parallel " + std::to_string(p.tp) + " x pipeline parallel " + std::to_string(p.pp) + ": " +
           std::to_string(p.ranks.size()) + " ranks" +
           (p.ranks.empty() || !p.ranks[0].budget_bytes ? std::string(" (no budget given)")
                                                        : std::string(p.fits ? ", fits" : ", does NOT fit")) +
           "\n\n";
    const bool state = !p.plan.state_bytes_by_layer.empty();
    std::vector<std::pair<std::string, align>> columns = {
        {"rank",     align::left },
        {"stage",    align::right},
        {"layers",   align::left },
        {"weights",  align::right},
        {"kv_cache", align::right}
    };
    if (state) columns.push_back({"state", align::right});
    for (const char* name : {"activations", "logits", "rope_cache", "overhead", "total", "headroom"})
        columns.push_back({name, align::right});
    table tab(columns);
    for (const auto& r : p.ranks) {
        std::vector<std::string> row = {r.device, std::to_string(r.stage),
                                        std::to_string(r.first_layer) + "-" + std::to_string(r.last_layer),
                                        binary_size(r.bytes.weights), binary_size(r.bytes.kv_cache)};
        if (state) row.push_back(size_or_dash(r.bytes.recurrent_state));
        for (const std::string& cell :
             {binary_size(r.bytes.activations), size_or_dash(r.bytes.logits),
              size_or_dash(r.bytes.rope_cache), binary_size(r.bytes.overhead), binary_size(r.total_bytes),
              r.budget_bytes ? signed_size(r.headroom_bytes) : std::string("-")})
            row.push_back(cell);
        tab.row(row);
    }
    out += tab.render() + "\n";
    table splits({
        {"tensor",   align::left },
        {"split",    align::left },
        {"shape",    align::left },
        {"per rank", align::left },
        {"count",    align::right}
    });
    for (const auto& s : p.splits)
        splits.row({s.pattern, s.split, shape_text(s.shape), shape_text(s.rank_shape),
                    "×" + with_thousands(s.tensors)});
    out += splits.render() + "\n";
    for (const auto& n : p.notes) out += "note: " + n + "\n";
    return out + header_notes(a);
}

// Writes the device map for from_pretrained; nothing when the model does not fit.
std::optional<error> write_device_map(const placement& p, const std::string& path) {
    if (!p.fits) {
        std::fprintf(stderr, "modelplan: the model does not fit; %s not written\n", path.c_str());
        return std::nullopt;
    }
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    std::string text = device_map_json(p.map);
    f.write(text.data(), static_cast<std::streamsize>(text.size()));
    f.close();
    if (!f) return make_error(error_code::io, "--device-map-out: cannot write " + path);
    return std::nullopt;
}

} // namespace

int run_place(const command_line& cl) {
    auto a = read_model(cl);
    if (!a) return fail(a.err().message);
    workload w;
    if (auto e = read_workload(cl, w)) return fail(*e);
    auto request = read_place_request(cl);
    if (!request) return fail(request.err());
    auto setup = resolve_place(*request, true);
    if (!setup) return fail(setup.err());

    if (setup->parallel) {
        if (cl.map_out)
            return fail("--device-map-out: a device map describes placement without --tp/--pp; drop them");
        auto p = plan_parallel(*a, w, setup->tp, setup->pp, setup->devices);
        if (!p) return fail(p.err());
        print(cl.json ? parallel_json(*a, *p) : render_parallel(*a, *p));
        return p->fits ? exit_ok : exit_does_not_fit;
    }
    auto p = place_model(*a, w, setup->devices, setup->options);
    if (!p) return fail(p.err());
    if (cl.map_out)
        if (auto e = write_device_map(*p, *cl.map_out)) return fail(*e);
    print(cl.json ? placement_json(*a, *p, setup->options) : render_placement(*a, *p, setup->options));
    return p->fits ? exit_ok : exit_does_not_fit;
}

} // namespace modelplan::cli
