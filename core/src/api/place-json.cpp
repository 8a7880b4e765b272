// The JSON of `modelplan place --json` (docs/json.md, "place"): device-map placements,
// tensor/pipeline-parallel plans and bare device maps. Built in the core so that the native program and the
// wasm module give the same text.
#include <limits>

#include "api/header-json.h"
#include "modelplan/device-map.h"
#include "modelplan/placement.h"
#include "util/json-util.h"

namespace modelplan {

namespace {

const char* kind_name(device_kind k) {
    return k == device_kind::gpu ? "gpu" : k == device_kind::cpu ? "cpu" : "disk";
}

// {"module": 0, "other": "cpu", ...}: GPUs as integers, as transformers' from_pretrained accepts them.
void write_device_map(json_writer& out, const device_map& map) {
    out.StartObject();
    for (const auto& e : map.entries) {
        out.Key(e.module.c_str(), static_cast<rapidjson::SizeType>(e.module.size()));
        if (e.device.rfind("cuda:", 0) == 0)
            out.Uint(static_cast<unsigned>(std::stoul(e.device.substr(5))));
        else
            write_string(out, e.device);
    }
    out.EndObject();
}

// "key": [{"name": ..., "bytes": N}, ...]
void write_named_bytes(json_writer& out, const char* key, const std::vector<placed_item>& items) {
    out.Key(key);
    out.StartArray();
    for (const auto& item : items) {
        out.StartObject();
        out.Key("name");
        write_string(out, item.name);
        out.Key("bytes");
        out.Uint64(item.bytes);
        out.EndObject();
    }
    out.EndArray();
}

// "plan": {"items": [{"name", "bytes"}], "total_bytes"}: the single-device plan a placement starts from.
void write_plan_items(json_writer& out, const memory_plan& plan) {
    out.Key("plan");
    out.StartObject();
    std::vector<placed_item> items;
    for (const auto& item : plan.items) items.push_back({item.name, item.bytes});
    write_named_bytes(out, "items", items);
    out.Key("total_bytes");
    out.Uint64(plan.total_bytes);
    out.EndObject();
}

void write_device_placement(json_writer& out, const device_placement& d) {
    out.StartObject();
    out.Key("name");
    write_string(out, d.device.name);
    out.Key("kind");
    out.String(kind_name(d.device.kind));
    if (!d.device.gpu.empty()) {
        out.Key("gpu");
        write_string(out, d.device.gpu);
    }
    out.Key("budget_bytes");
    write_uint64_or_null(out, d.device.budget_bytes,
                         d.device.budget_bytes != std::numeric_limits<uint64_t>::max()); // disk: unlimited
    out.Key("total_bytes");
    out.Uint64(d.total_bytes);
    out.Key("headroom_bytes");
    out.Int64(d.headroom_bytes);
    out.Key("modules");
    out.Uint64(d.modules);
    out.Key("layers");
    write_uint64s(out, d.layers);
    write_named_bytes(out, "items", d.items);
    out.EndObject();
}

void write_parallel_rank(json_writer& out, const parallel_rank& r) {
    out.StartObject();
    out.Key("name");
    write_string(out, r.device);
    out.Key("stage");
    out.Uint64(r.stage);
    out.Key("tp_rank");
    out.Uint64(r.tp_rank);
    out.Key("budget_bytes");
    write_uint64_or_null(out, r.budget_bytes, r.budget_bytes != 0); // 0: no budget given
    out.Key("total_bytes");
    out.Uint64(r.total_bytes);
    out.Key("headroom_bytes");
    if (r.budget_bytes)
        out.Int64(r.headroom_bytes);
    else
        out.Null();
    write_named_bytes(out, "items", r.items);
    out.EndObject();
}

void write_parallel_split(json_writer& out, const parallel_split& sp) {
    out.StartObject();
    out.Key("pattern");
    write_string(out, sp.pattern);
    out.Key("split");
    write_string(out, sp.split);
    out.Key("shape");
    write_uint64s(out, sp.shape);
    out.Key("rank_shape");
    write_uint64s(out, sp.rank_shape);
    out.Key("tensors");
    out.Uint64(sp.tensors);
    out.EndObject();
}

} // namespace

std::string device_map_json(const device_map& map) {
    json_out doc;
    write_device_map(doc.w, map);
    return doc.str();
}

std::string placement_json(const analysis& a, const placement& p, const place_options& options,
                           const placement_fit* fit) {
    json_out doc;
    auto& out = doc.w;
    doc.begin_model_answer(a.model, a.spec.architecture);
    write_header_source(doc.w, a);
    out.Key("strategy");
    out.String(options.strategy == place_strategy::balanced ? "balanced" : "sequential");
    out.Key("fits");
    out.Bool(p.fits);
    out.Key("execution_device");
    write_string(out, p.execution_device);
    write_plan_items(out, p.plan);
    out.Key("devices");
    out.StartArray();
    for (const auto& d : p.devices) write_device_placement(out, d);
    out.EndArray();
    out.Key("device_map");
    write_device_map(out, p.map);
    out.Key("unplaced_bytes");
    out.Uint64(p.unplaced_bytes);
    out.Key("over_budget_bytes");
    out.Uint64(p.over_budget_bytes);
    write_strings(out, "suggestions", p.suggestions);
    write_strings(out, "warnings", p.warnings);
    if (fit) {
        out.Key("fit");
        out.StartObject();
        out.Key("max_seq");
        out.Uint64(fit->max_seq);
        out.Key("max_batch");
        out.Uint64(fit->max_batch);
        out.Key("smallest_quant");
        if (fit->quant_found)
            write_string(out, fit->smallest_quant);
        else
            out.Null();
        out.Key("gpus_needed");
        out.Uint64(fit->gpus_needed);
        out.EndObject();
    }
    out.EndObject();
    return doc.str();
}

std::string parallel_json(const analysis& a, const parallel_plan& p) {
    json_out doc;
    auto& out = doc.w;
    doc.begin_model_answer(a.model, a.spec.architecture);
    write_header_source(doc.w, a);
    out.Key("tp");
    out.Uint64(p.tp);
    out.Key("pp");
    out.Uint64(p.pp);
    out.Key("fits");
    out.Bool(p.fits);
    out.Key("kv_heads_per_rank");
    out.Uint64(p.kv_heads_per_rank);
    out.Key("kv_head_replicas");
    out.Uint64(p.kv_head_replicas);
    out.Key("stages");
    out.StartArray();
    for (const auto& [first, last] : p.stage_layers) {
        out.StartObject();
        out.Key("first_layer");
        out.Uint64(first);
        out.Key("last_layer");
        out.Uint64(last);
        out.EndObject();
    }
    out.EndArray();
    out.Key("ranks");
    out.StartArray();
    for (const auto& r : p.ranks) write_parallel_rank(out, r);
    out.EndArray();
    out.Key("splits");
    out.StartArray();
    for (const auto& sp : p.splits) write_parallel_split(out, sp);
    out.EndArray();
    write_strings(out, "notes", p.notes);
    out.EndObject();
    return doc.str();
}

result<std::string> place_json(const analysis& a, const workload& w, const place_setup& setup, bool* fits) {
    if (setup.parallel) {
        auto p = plan_parallel(a, w, setup.tp, setup.pp, setup.devices);
        if (!p) return p.err();
        if (fits) *fits = p->fits;
        return parallel_json(a, *p);
    }
    auto p = place_model(a, w, setup.devices, setup.options);
    if (!p) return p.err();
    if (fits) *fits = p->fits;
    if (!setup.solve) return placement_json(a, *p, setup.options);
    placement_fit f = solve_placement_fit(a, w, setup.devices, setup.options);
    return placement_json(a, *p, setup.options, &f);
}

} // namespace modelplan
