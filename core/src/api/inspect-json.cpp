// The JSON of `modelplan inspect --json` (docs/json.md, "inspect"). Built in the core so that the native
// program and the wasm module give the same text.
#include "modelplan/verify.h"
#include "util/json-util.h"

namespace modelplan {

namespace {

// Checkpoint names and metadata as JSON text can hold them: GGUF strings are not checked for UTF-8.
void printable_string(json_writer& w, const std::string& s) {
    write_string(w, printable_utf8(s));
}

void printable_string_or_null(json_writer& w, const std::string& s) {
    if (s.empty())
        w.Null();
    else
        printable_string(w, s);
}

void shape_or_null(json_writer& w, const std::vector<uint64_t>& dims, bool known) {
    if (known)
        write_uint64s(w, dims);
    else
        w.Null();
}

void tensors(json_writer& w, const checkpoint& ck) {
    w.StartArray();
    for (const checkpoint_tensor& t : ck.tensors) {
        w.StartObject();
        w.Key("name");
        printable_string(w, t.name);
        w.Key("shape");
        write_uint64s(w, t.shape);
        w.Key("dtype");
        printable_string(w, t.dtype);
        w.Key("file");
        printable_string(w, t.file);
        w.Key("offsets");
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
        w.Key("name");
        printable_string(w, f.name);
        w.Key("size");
        w.Uint64(f.size);
        w.Key("header_bytes");
        w.Uint64(f.header_bytes);
        w.Key("tensors");
        w.Uint64(f.tensors);
        w.EndObject();
    }
    w.EndArray();
}

void quantized(json_writer& w, const std::vector<quantized_group>& groups) {
    w.StartArray();
    for (const quantized_group& g : groups) {
        w.StartObject();
        w.Key("name");
        printable_string(w, g.name);
        w.Key("scheme");
        printable_string(w, g.scheme);
        w.Key("shape");
        shape_or_null(w, g.shape, !g.shape.empty());
        w.Key("elements");
        w.Uint64(g.elements);
        w.Key("bits");
        w.Uint(g.bits);
        w.Key("group_size");
        write_uint64_or_null(w, g.group_size, g.group_size != 0);
        w.Key("tensors");
        w.StartArray();
        for (const auto& m : g.members) printable_string(w, m);
        w.EndArray();
        w.EndObject();
    }
    w.EndArray();
}

void params(json_writer& w, const checkpoint_totals& t) {
    w.StartObject();
    w.Key("total");
    w.Uint64(t.params);
    w.Key("stored_elements");
    w.Uint64(t.stored_elements);
    w.Key("buffers");
    w.Uint64(t.buffer_elements);
    w.Key("quantized_groups");
    w.Uint64(t.quantized_groups);
    w.Key("by_dtype");
    w.StartObject();
    for (const auto& [dtype, n] : t.params_by_dtype) {
        printable_string(w, dtype);
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
    w.Key("name");
    printable_string(w, a.model);
    w.Key("source");
    printable_string(w, in.model_source);
    w.Key("model_type");
    printable_string(w, a.spec.model_type);
    w.Key("architecture");
    printable_string(w, a.spec.architecture);
    w.Key("dtype");
    w.String(dtype_name(a.spec.weight_dtype));
    w.Key("params");
    w.Uint64(a.counts.total);
    w.Key("weight_bytes");
    w.Uint64(a.counts.weight_bytes);
    w.EndObject();
}

void verify_list(json_writer& w, const std::vector<verify_tensor>& list, bool with_file) {
    w.StartArray();
    for (const verify_tensor& t : list) {
        w.StartObject();
        w.Key("name");
        printable_string(w, t.name);
        if (with_file) {
            w.Key("stored");
            printable_string_or_null(w, t.stored);
        }
        w.Key("shape");
        shape_or_null(w, t.shape, t.shape_known);
        w.Key("dtype");
        printable_string(w, t.dtype);
        if (with_file) {
            w.Key("file");
            printable_string(w, t.file);
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
    w.Key("ok");
    w.Bool(r.ok);
    w.Key("matched");
    w.Uint64(r.matched);
    w.Key("missing");
    verify_list(w, r.missing, false);
    w.Key("unexpected");
    verify_list(w, r.unexpected, true);
    w.Key("mismatched");
    w.StartArray();
    for (const verify_mismatch& m : r.mismatched) {
        w.StartObject();
        w.Key("name");
        printable_string(w, m.name);
        w.Key("stored");
        printable_string_or_null(w, m.stored);
        w.Key("expected");
        write_uint64s(w, m.expected);
        w.Key("actual");
        shape_or_null(w, m.actual, m.actual_known);
        w.Key("expected_elements");
        w.Uint64(m.expected_elements);
        w.Key("actual_elements");
        w.Uint64(m.actual_elements);
        w.EndObject();
    }
    w.EndArray();
    w.Key("dtype_differences");
    w.StartArray();
    for (const auto& d : r.dtype_differences) {
        w.StartObject();
        w.Key("name");
        printable_string(w, d.name);
        w.Key("expected");
        printable_string(w, d.expected);
        w.Key("actual");
        printable_string(w, d.actual);
        w.EndObject();
    }
    w.EndArray();
    w.Key("aliases_present");
    w.StartArray();
    for (const auto& a : r.aliases_present) printable_string(w, a);
    w.EndArray();
    w.Key("buffers_present");
    w.Uint64(r.buffers_present);
    w.Key("suggestions");
    w.StartArray();
    for (const prefix_suggestion& s : r.suggestions) {
        w.StartObject();
        w.Key("checkpoint_prefix");
        printable_string(w, s.checkpoint_prefix);
        w.Key("skeleton_prefix");
        printable_string(w, s.skeleton_prefix);
        w.Key("count");
        w.Uint64(s.count);
        w.Key("example");
        w.StartArray();
        printable_string(w, s.example_checkpoint);
        printable_string(w, s.example_skeleton);
        w.EndArray();
        w.EndObject();
    }
    w.EndArray();
    w.Key("params");
    w.StartObject();
    w.Key("expected");
    w.Uint64(r.expected_params);
    w.Key("found");
    w.Uint64(r.found_params);
    w.EndObject();
    w.EndObject();
}

} // namespace

std::string inspect_json(const inspection& in) {
    json_out doc;
    json_writer& w = doc.w;
    w.StartObject();
    w.Key("path");
    printable_string(w, in.path);
    w.Key("format");
    w.String(checkpoint_format_name(in.ck.format));
    w.Key("files");
    files(w, in.ck);
    w.Key("metadata");
    w.StartObject();
    for (const auto& [k, v] : in.ck.metadata) {
        printable_string(w, k);
        printable_string(w, v);
    }
    w.EndObject();
    w.Key("tensors");
    tensors(w, in.ck);
    w.Key("quantized");
    quantized(w, in.view.quantized);
    w.Key("params");
    params(w, in.view.totals);
    w.Key("bytes");
    w.Uint64(in.view.totals.bytes);
    w.Key("warnings");
    w.StartArray();
    for (const auto& s : in.ck.warnings) printable_string(w, s);
    for (const auto& s : in.view.notes) printable_string(w, s);
    w.EndArray();
    w.Key("model");
    model(w, in);
    w.Key("verify");
    verify(w, in.verify);
    w.EndObject();
    return doc.str();
}

} // namespace modelplan
