// The JSON of `modelplan inspect --json` (docs/json.md, "inspect"). Built in the core so that the native
// program and the wasm module give the same text.
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include "util/json-util.h"
#include "modelplan/verify.h"

namespace modelplan {

namespace {

using json_writer = rapidjson::PrettyWriter<rapidjson::StringBuffer>;

void string(json_writer& w, const std::string& s) {
    std::string p = printable_utf8(s); // GGUF strings are not checked for UTF-8; JSON text must be
    w.String(p.data(), static_cast<rapidjson::SizeType>(p.size()));
}

void key(json_writer& w, const char* k) {
    w.Key(k);
}

void shape(json_writer& w, const std::vector<uint64_t>& dims) {
    w.StartArray();
    for (uint64_t d : dims) w.Uint64(d);
    w.EndArray();
}

void shape_or_null(json_writer& w, const std::vector<uint64_t>& dims, bool known) {
    if (known)
        shape(w, dims);
    else
        w.Null();
}

void string_or_null(json_writer& w, const std::string& s) {
    if (s.empty())
        w.Null();
    else
        string(w, s);
}

void tensors(json_writer& w, const checkpoint& ck) {
    w.StartArray();
    for (const checkpoint_tensor& t : ck.tensors) {
        w.StartObject();
        key(w, "name");
        string(w, t.name);
        key(w, "shape");
        shape(w, t.shape);
        key(w, "dtype");
        string(w, t.dtype);
        key(w, "file");
        string(w, t.file);
        key(w, "offsets");
        w.StartArray();
        w.Uint64(t.begin);
        w.Uint64(t.end);
        w.EndArray();
        w.EndObject();
    }
    w.EndArray();
}

void files(json_writer& w, const checkpoint& ck) {
    w.StartArray();
    for (const checkpoint_file& f : ck.files) {
        w.StartObject();
        key(w, "name");
        string(w, f.name);
        key(w, "size");
        w.Uint64(f.size);
        key(w, "header_bytes");
        w.Uint64(f.header_bytes);
        key(w, "tensors");
        w.Uint64(f.tensors);
        w.EndObject();
    }
    w.EndArray();
}

void quantized(json_writer& w, const std::vector<quantized_group>& groups) {
    w.StartArray();
    for (const quantized_group& g : groups) {
        w.StartObject();
        key(w, "name");
        string(w, g.name);
        key(w, "scheme");
        string(w, g.scheme);
        key(w, "shape");
        shape_or_null(w, g.shape, !g.shape.empty());
        key(w, "elements");
        w.Uint64(g.elements);
        key(w, "bits");
        w.Uint(g.bits);
        key(w, "group_size");
        if (g.group_size)
            w.Uint64(g.group_size);
        else
            w.Null();
        key(w, "tensors");
        w.StartArray();
        for (const auto& m : g.members) string(w, m);
        w.EndArray();
        w.EndObject();
    }
    w.EndArray();
}

void params(json_writer& w, const checkpoint_totals& t) {
    w.StartObject();
    key(w, "total");
    w.Uint64(t.params);
    key(w, "stored_elements");
    w.Uint64(t.stored_elements);
    key(w, "buffers");
    w.Uint64(t.buffer_elements);
    key(w, "quantized_groups");
    w.Uint64(t.quantized_groups);
    key(w, "by_dtype");
    w.StartObject();
    for (const auto& [dtype, n] : t.params_by_dtype) {
        string(w, dtype);
        w.Uint64(n);
    }
    w.EndObject();
    w.EndObject();
}

void model(json_writer& w, const inspection& in) {
    if (!in.model) {
        w.Null();
        return;
    }
    const analysis& a = *in.model;
    w.StartObject();
    key(w, "name");
    string(w, a.model);
    key(w, "source");
    string(w, in.model_source);
    key(w, "model_type");
    string(w, a.spec.model_type);
    key(w, "architecture");
    string(w, a.spec.architecture);
    key(w, "dtype");
    w.String(dtype_name(a.spec.weight_dtype));
    key(w, "params");
    w.Uint64(a.counts.total);
    key(w, "weight_bytes");
    w.Uint64(a.counts.weight_bytes);
    w.EndObject();
}

void verify_list(json_writer& w, const std::vector<verify_tensor>& list, bool with_file) {
    w.StartArray();
    for (const verify_tensor& t : list) {
        w.StartObject();
        key(w, "name");
        string(w, t.name);
        if (with_file) {
            key(w, "stored");
            string_or_null(w, t.stored);
        }
        key(w, "shape");
        shape_or_null(w, t.shape, t.shape_known);
        key(w, "dtype");
        string(w, t.dtype);
        if (with_file) {
            key(w, "file");
            string(w, t.file);
        }
        w.EndObject();
    }
    w.EndArray();
}

void verify(json_writer& w, const std::optional<verify_report>& report) {
    if (!report) {
        w.Null();
        return;
    }
    const verify_report& r = *report;
    w.StartObject();
    key(w, "ok");
    w.Bool(r.ok);
    key(w, "matched");
    w.Uint64(r.matched);
    key(w, "missing");
    verify_list(w, r.missing, false);
    key(w, "unexpected");
    verify_list(w, r.unexpected, true);
    key(w, "mismatched");
    w.StartArray();
    for (const verify_mismatch& m : r.mismatched) {
        w.StartObject();
        key(w, "name");
        string(w, m.name);
        key(w, "stored");
        string_or_null(w, m.stored);
        key(w, "expected");
        shape(w, m.expected);
        key(w, "actual");
        shape_or_null(w, m.actual, m.actual_known);
        key(w, "expected_elements");
        w.Uint64(m.expected_elements);
        key(w, "actual_elements");
        w.Uint64(m.actual_elements);
        w.EndObject();
    }
    w.EndArray();
    key(w, "dtype_differences");
    w.StartArray();
    for (const auto& d : r.dtype_differences) {
        w.StartObject();
        key(w, "name");
        string(w, d.name);
        key(w, "expected");
        string(w, d.expected);
        key(w, "actual");
        string(w, d.actual);
        w.EndObject();
    }
    w.EndArray();
    key(w, "aliases_present");
    w.StartArray();
    for (const auto& a : r.aliases_present) string(w, a);
    w.EndArray();
    key(w, "buffers_present");
    w.Uint64(r.buffers_present);
    key(w, "suggestions");
    w.StartArray();
    for (const prefix_suggestion& s : r.suggestions) {
        w.StartObject();
        key(w, "checkpoint_prefix");
        string(w, s.checkpoint_prefix);
        key(w, "skeleton_prefix");
        string(w, s.skeleton_prefix);
        key(w, "count");
        w.Uint64(s.count);
        key(w, "example");
        w.StartArray();
        string(w, s.example_checkpoint);
        string(w, s.example_skeleton);
        w.EndArray();
        w.EndObject();
    }
    w.EndArray();
    key(w, "params");
    w.StartObject();
    key(w, "expected");
    w.Uint64(r.expected_params);
    key(w, "found");
    w.Uint64(r.found_params);
    w.EndObject();
    w.EndObject();
}

} // namespace

std::string inspect_json(const inspection& in) {
    json_out doc;
    auto& w = doc.w;
    w.StartObject();
    key(w, "path");
    string(w, in.path);
    key(w, "format");
    w.String(checkpoint_format_name(in.ck.format));
    key(w, "files");
    files(w, in.ck);
    key(w, "metadata");
    w.StartObject();
    for (const auto& [k, v] : in.ck.metadata) {
        string(w, k);
        string(w, v);
    }
    w.EndObject();
    key(w, "tensors");
    tensors(w, in.ck);
    key(w, "quantized");
    quantized(w, in.view.quantized);
    key(w, "params");
    params(w, in.view.totals);
    key(w, "bytes");
    w.Uint64(in.view.totals.bytes);
    key(w, "warnings");
    w.StartArray();
    for (const auto& s : in.ck.warnings) string(w, s);
    for (const auto& s : in.view.notes) string(w, s);
    w.EndArray();
    key(w, "model");
    model(w, in);
    key(w, "verify");
    verify(w, in.verify);
    w.EndObject();
    return doc.str();
}

} // namespace modelplan
