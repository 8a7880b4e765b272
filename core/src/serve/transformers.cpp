// transformers as a serving engine: `from_pretrained(..., device_map=..., max_memory=...)` places the model
// with accelerate's rules, which `place` models (docs/placement.md); here its answer in serve's terms: per
// GPU the weights, the KV cache of batch_size x max_length tokens and one forward pass, whether it fits, and
// the call.
#include <cmath>
#include <cstdio>

#include "modelplan/placement.h"
#include "modelplan/presets.h"
#include "modelplan/text.h"
#include "serve/transformers-internal.h"
#include "util/saturating.h"
#include "util/text-internal.h"

namespace modelplan::transformers_engine {

namespace {

std::string gib_text(uint64_t bytes) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2fGiB", static_cast<double>(bytes) / 1073741824.0);
    return buf;
}

} // namespace

result<serve_plan> plan(const analysis& a, const serve_request& r, const gpu_row& gpu) {
    const transformers_options& o = r.transformers;
    if (o.device_map != "auto" && o.device_map != "balanced" && o.device_map != "sequential")
        return make_error(
            error_code::bad_request,
            "device_map: transformers takes auto, balanced or sequential here (or a map: modelplan "
            "place --device-map-out writes one), got " +
                quote_value(o.device_map),
            "device_map");
    if (o.batch_size == 0 || o.batch_size > 1000000)
        return make_error(error_code::out_of_range,
                          "batch_size: expected 1 to 1,000,000, got " + num(o.batch_size), "batch_size");
    const uint64_t count = r.gpus ? r.gpus : 1;
    if (count > 64)
        return make_error(error_code::out_of_range, "gpus: expected 1 to 64, got " + num(count), "gpus");
    auto devices = catalog_devices(gpu.key, count, o.cpu_memory, false);
    if (!devices) return devices.err();
    if (o.max_memory)
        for (auto& d : *devices)
            if (d.kind == device_kind::gpu) {
                if (*o.max_memory > gpu.memory_bytes())
                    return make_error(error_code::out_of_range,
                                      "max_memory: " + gib_text(*o.max_memory) + " is more than the " +
                                          gpu.key + "'s " + gib_text(gpu.memory_bytes()),
                                      "max_memory");
                d.budget_bytes = *o.max_memory;
            }
    workload w;
    w.batch = o.batch_size;
    w.seq = o.max_length;
    w.quant = r.vllm.quantization;
    place_options opt;
    opt.strategy = o.device_map == "sequential" ? place_strategy::sequential : place_strategy::balanced;
    opt.gpu_name = gpu.key;
    auto pl = place_model(a, w, *devices, opt);
    if (!pl) return pl.err();

    serve_plan p;
    p.engine = "transformers";
    p.engine_version = "accelerate";
    p.gpu = gpu.key;
    p.tp = 1;
    p.pp = count;
    p.starts = pl->fits;
    p.max_num_seqs = o.batch_size;
    p.max_model_len = pl->plan.text_seq ? pl->plan.text_seq : o.max_length;
    p.kv_tokens = sat::mul(p.max_num_seqs, p.max_model_len);
    p.max_concurrency = static_cast<double>(o.batch_size);
    p.kv_bytes_per_token = pl->plan.kv_bytes_per_token;
    p.quantization = w.quant;
    p.block_size = 1;
    p.device_map = o.device_map;
    std::string max_memory;
    for (const auto& d : pl->devices) {
        if (d.device.kind == device_kind::cpu) {
            p.host_weights_bytes = d.bytes.weights;
            p.host_kv_bytes = d.bytes.kv_cache;
            max_memory += std::string(max_memory.empty() ? "" : ", ") + "\"cpu\": \"" +
                          gib_text(d.device.budget_bytes) + "\"";
            continue;
        }
        if (d.device.kind != device_kind::gpu) continue;
        serve_rank k;
        k.name = d.device.name;
        k.stage = p.ranks.size();
        k.total_bytes = d.device.budget_bytes;
        k.total_measured = false;
        k.requested_bytes = d.device.budget_bytes;
        k.weights_bytes = d.bytes.weights;
        k.non_torch_bytes = d.bytes.overhead;
        k.activation_peak_bytes =
            sat::add(sat::add(d.bytes.activations, d.bytes.logits), d.bytes.offload_buffer);
        k.kv_cache_bytes = static_cast<int64_t>(std::min<uint64_t>(d.bytes.kv_cache, INT64_MAX));
        p.ranks.push_back(k);
        max_memory += std::string(max_memory.empty() ? "" : ", ") + d.device.name.substr(5) + ": \"" +
                      gib_text(d.device.budget_bytes) + "\"";
        p.log_lines.push_back("hf_device_map: " + d.device.name + " holds " + num(d.modules) + " modules, " +
                              gib_text(d.total_bytes) + " of " + gib_text(d.device.budget_bytes));
    }
    if (!p.starts) {
        p.error = pl->unplaced_bytes
                      ? gib_text(pl->unplaced_bytes) +
                            " of weights and cache find no room on these devices: "
                            "from_pretrained offloads them to disk (very slow) or fails"
                      : "a device holds more than its budget by " + gib_text(pl->over_budget_bytes) +
                            ": torch.cuda.OutOfMemoryError during generation";
        p.fixes = pl->suggestions;
    }
    p.notes = pl->warnings;
    p.notes.push_back(
        "transformers: accelerate's device_map=\"" + o.device_map +
        "\" placement, as modelplan place computes it (docs/placement.md); one sequence batch of " +
        num(o.batch_size) + " x " + num(p.max_model_len) + " tokens");
    auto preset = find_preset(a.model);
    p.command = std::string("AutoModelForCausalLM.from_pretrained(\"") + (preset ? preset->repo : a.model) +
                "\", torch_dtype=\"auto\", device_map=\"" + o.device_map + "\", max_memory={" + max_memory +
                "})";
    return p;
}

} // namespace modelplan::transformers_engine
