// The JSON of `modelplan plan`, `fit` and `gpus --json` (docs/json.md): the memory plan with its device
// verdict, the inverse solves against a GPU, and the GPU catalog. Built in the core so that the native
// program and the wasm module give the same text.
#include "api/header-json.h"
#include "modelplan/devices.h"
#include "modelplan/fit.h"
#include "modelplan/header-model.h"
#include "modelplan/memory.h"
#include "util/json-util.h"

namespace modelplan {

namespace {

// {"name", "bytes", "formula", "inputs": {name: value}}, and "note" for a model read from checkpoint headers:
// what in the item is generic or estimated (header-model.h).
void write_plan_item(json_writer& out, const plan_item& item, const analysis& a) {
    out.StartObject();
    out.Key("name");
    write_string(out, item.name);
    out.Key("bytes");
    out.Uint64(item.bytes);
    out.Key("formula");
    write_string(out, item.formula);
    out.Key("inputs");
    out.StartObject();
    for (const plan_input& in : item.inputs) {
        out.Key(in.name.c_str());
        write_string(out, in.value);
    }
    out.EndObject();
    std::string note = a.from_headers ? a.from_headers->note_for_item(item.name) : std::string();
    if (!note.empty()) {
        out.Key("note");
        write_string(out, note);
    }
    out.EndObject();
}

// {"gpu", "memory_bytes", "fits", "headroom_bytes", "errors", "warnings", "roofline": {...}}
void write_plan_device(json_writer& out, const plan_device& d) {
    out.StartObject();
    out.Key("gpu");
    write_string(out, d.gpu);
    out.Key("memory_bytes");
    out.Uint64(d.memory_bytes);
    out.Key("fits");
    out.Bool(d.fits);
    out.Key("headroom_bytes");
    out.Int64(d.headroom_bytes);
    write_strings(out, "errors", d.errors);
    write_strings(out, "warnings", d.warnings);
    out.Key("roofline");
    out.StartObject();
    out.Key("decode_tokens_per_s_upper_bound");
    out.Double(d.decode_tokens_per_s);
    out.Key("prefill_seconds_lower_bound");
    out.Double(d.prefill_seconds);
    out.Key("forward_flops_per_token");
    out.Double(d.flops_per_token);
    out.Key("training_flops_per_step");
    out.Double(d.training_flops);
    out.EndObject();
    out.EndObject();
}

} // namespace

std::string plan_json(const analysis& a, const memory_plan& p) {
    json_out doc;
    auto& out = doc.w;
    doc.begin_model_answer(a.model, a.spec.architecture);
    write_header_source(out, a);
    out.Key("plan");
    out.StartObject();
    out.Key("mode");
    out.String(p.training ? "training" : "inference");
    out.Key("items");
    out.StartArray();
    for (const plan_item& item : p.items) write_plan_item(out, item, a);
    out.EndArray();
    out.Key("total_bytes");
    out.Uint64(p.total_bytes);
    out.Key("kv_bytes_per_token");
    out.Uint64(p.kv_bytes_per_token);
    out.Key("kv_bytes_by_layer");
    write_uint64s(out, p.kv_bytes_by_layer);
    if (p.image_tokens) {
        out.Key("images");
        out.StartObject();
        out.Key("tokens_per_image");
        out.Uint64(p.image_tokens_per_image);
        out.Key("image_size");
        write_string(out, std::to_string(p.image_width) + "x" + std::to_string(p.image_height));
        out.Key("image_tokens");
        out.Uint64(p.image_tokens);
        out.Key("text_seq");
        out.Uint64(p.text_seq);
        out.EndObject();
    }
    if (!p.state_bytes_by_layer
             .empty()) { // models with recurrent layers (Mamba, DeltaNet, short convolution)
        out.Key("state_bytes_per_sequence");
        out.Uint64(p.state_bytes_per_sequence);
        out.Key("state_bytes_by_layer");
        write_uint64s(out, p.state_bytes_by_layer);
    }
    write_strings(out, "warnings", p.warnings);
    out.Key("devices");
    out.StartArray();
    if (p.device) write_plan_device(out, *p.device);
    out.EndArray();
    const values_in_use& v = p.in_use;
    out.Key("in_use");
    out.StartObject();
    out.Key("batch");
    out.Uint64(v.batch);
    out.Key("seq");
    out.Uint64(v.seq);
    out.Key("seq_default");
    out.Bool(v.seq_default);
    out.Key("dtype");
    write_string(out, v.weight_dtype);
    out.Key("quant");
    write_string(out, v.quant);
    out.Key("quant_source");
    write_string(out, v.quant_source);
    out.Key("kv_dtype");
    write_string(out, v.kv_dtype);
    out.Key("kv_dtype_default");
    out.Bool(v.kv_dtype_default);
    out.EndObject();
    out.EndObject();
    out.EndObject();
    return doc.str();
}

std::string fit_json(const analysis& a, const workload& w, const gpu_row& gpu, const fit_answer& f,
                     const device_check& checks) {
    json_out doc;
    auto& out = doc.w;
    out.StartObject();
    out.Key("model");
    write_string(out, a.model);
    write_header_source(out, a);
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
        write_string(out, f.smallest_quant);
    else
        out.Null();
    out.Key("gpus_needed");
    out.Uint64(f.gpus_needed);
    write_strings(out, "errors", checks.errors);
    write_strings(out, "warnings", checks.warnings);
    out.EndObject();
    return doc.str();
}

std::string gpus_json() {
    json_out doc;
    auto& out = doc.w;
    out.StartObject();
    out.Key("gpus");
    out.StartArray();
    for (const gpu_row& g : gpu_catalog()) {
        out.StartObject();
        out.Key("key");
        out.String(g.key);
        out.Key("name");
        out.String(g.name);
        out.Key("arch");
        out.String(g.arch);
        out.Key("compute");
        out.String(g.compute);
        out.Key("memory_bytes");
        out.Uint64(g.memory_bytes());
        out.Key("bandwidth_gbps");
        out.Double(g.bandwidth_gbps);
        out.Key("bf16_tflops");
        out.Double(g.bf16_tflops);
        out.Key("fp16_tflops");
        out.Double(g.fp16_tflops);
        out.Key("bf16");
        out.Bool(g.bf16);
        out.Key("fp8");
        out.Bool(g.fp8);
        out.EndObject();
    }
    out.EndArray();
    out.EndObject();
    return doc.str();
}

} // namespace modelplan
