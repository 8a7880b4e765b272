// `modelplan inspect PATH [--config MODEL] [--json]`: reads checkpoint headers (never the data), prints the
// inventory, the totals and, with a model, the verification. Exit status: 0 ok, 1 verification failed, 2 bad
// input or usage.
#include <algorithm>
#include <optional>

#include "commands.h"
#include "io/checkpoint-files.h"
#include "io/model-source.h"
#include "modelplan/gguf.h"
#include "modelplan/header-model.h"
#include "modelplan/report.h"
#include "modelplan/text.h"
#include "modelplan/verify.h"
#include "output.h"
#include "table.h"

namespace modelplan::cli {

const char* const inspect_help = R"(usage: modelplan inspect PATH [--config MODEL] [--json]

Reads the headers of a checkpoint (never its data) and prints every tensor's name, shape, dtype, file and
byte range, the totals (parameters, bytes, quantized groups), and a verification against a model: missing
and unexpected tensors, shape mismatches, dtype differences, with a suggestion when names differ only by a
prefix.

PATH is a .safetensors file, a model.safetensors.index.json (its shards are read from its folder), a .gguf
file, or a folder holding one of those (several .safetensors files, or the splits of one GGUF model).

The model to verify against is, in order: --config; the config.json of PATH's folder (for a folder or an
index); a GGUF file's own architecture metadata. Without one, nothing is verified.

options:
  --config MODEL  a config.json, a folder holding one, or a preset name (see `modelplan presets`)
  --json          print JSON: {"path", "format", "files", "metadata", "tensors": [{"name", "shape",
                  "dtype", "file", "offsets"}], "quantized", "params": {"total", ...}, "bytes",
                  "warnings", "model", "verify": {"ok", "missing", "unexpected", "mismatched", ...} | null}
  -h, --help      show this help

exit status: 0 read (and verified, when a model is known), 1 verification failed, 2 unreadable or invalid
input (the message goes to stderr, nothing to stdout).
)";

namespace {

constexpr size_t list_limit = 20; // rows of each verification list in human output (--json lists all)

std::string shorten(std::string s, size_t limit) {
    for (char& c : s)
        if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    if (s.size() > limit) s = s.substr(0, limit) + "...";
    return s;
}

std::string render_tensors(const inspection& in) {
    const bool many_files = in.ck.files.size() > 1;
    std::vector<std::pair<std::string, align>> columns = {
        {"tensor", align::left},
        {"shape",  align::left},
        {"dtype",  align::left},
    };
    if (many_files) columns.push_back({"file", align::left});
    columns.push_back({"offsets", align::left});
    table tab(columns);
    for (const checkpoint_tensor& t : in.ck.tensors) {
        std::vector<std::string> row = {printable_utf8(t.name), shape_text(t.shape), t.dtype};
        if (many_files) row.push_back(printable_utf8(t.file));
        row.push_back("[" + std::to_string(t.begin) + ", " + std::to_string(t.end) + ")");
        tab.row(std::move(row));
    }
    return tab.render();
}

std::string render_totals(const inspection& in) {
    const checkpoint_totals& t = in.view.totals;
    std::vector<std::pair<std::string, std::string>> rows;
    rows.push_back({"tensors", with_thousands(t.tensors)});
    rows.push_back({"parameters", with_thousands(t.params) + "  " + short_count(t.params)});
    if (t.stored_elements != t.params + t.buffer_elements)
        rows.push_back(
            {"stored elements", with_thousands(t.stored_elements) + " (quantized groups as stored)"});
    if (t.buffer_elements)
        rows.push_back({"buffers", with_thousands(t.buffer_elements) + " elements (not parameters)"});
    rows.push_back({"data bytes", with_thousands(t.bytes) + "  " + binary_size(t.bytes)});
    for (const auto& [dtype, n] : t.params_by_dtype)
        rows.push_back({"  " + dtype, with_thousands(n) + " parameters"});
    size_t width = 0;
    for (const auto& r : rows) width = std::max(width, r.first.size());
    std::string out = "  totals\n";
    for (const auto& [label, value] : rows)
        out += "    " + label + std::string(width - label.size() + 2, ' ') + value + "\n";
    return out;
}

std::string render_quantized(const inspection& in) {
    if (in.view.quantized.empty()) return "";
    table tab({
        {"parameter",      align::left },
        {"scheme",         align::left },
        {"bits",           align::right},
        {"group",          align::right},
        {"logical shape",  align::left },
        {"stored tensors", align::right},
    });
    for (const quantized_group& g : in.view.quantized)
        tab.row({printable_utf8(g.name), g.scheme, std::to_string(g.bits),
                 g.group_size ? std::to_string(g.group_size) : "-",
                 g.shape.empty() ? with_thousands(g.elements) + " elements" : shape_text(g.shape),
                 std::to_string(g.members.size())});
    return "\nquantized groups (" + with_thousands(in.view.quantized.size()) + ")\n" + tab.render();
}

std::string render_metadata(const inspection& in) {
    if (in.ck.metadata.empty()) return "";
    std::string out = "\nmetadata\n";
    for (const auto& [k, v] : in.ck.metadata)
        out += "  " + shorten(printable_utf8(k), 60) + " = " + shorten(printable_utf8(v), 80) + "\n";
    return out;
}

std::string render_warnings(const inspection& in) {
    std::vector<std::string> all = in.ck.warnings;
    all.insert(all.end(), in.view.notes.begin(), in.view.notes.end());
    if (all.empty()) return "";
    std::string out = "\nwarnings\n";
    for (const auto& w : all) out += "  - " + printable_utf8(w) + "\n";
    return out;
}

template <class T, class F>
std::string limited(const std::vector<T>& rows, table tab, F&& add_row) {
    for (size_t i = 0; i < rows.size() && i < list_limit; ++i) add_row(tab, rows[i]);
    std::string out = tab.render(4);
    if (rows.size() > list_limit)
        out += "    ... and " + with_thousands(rows.size() - list_limit) + " more (--json lists all)\n";
    return out;
}

std::string render_verify(const inspection& in) {
    if (!in.verify) return "";
    const verify_report& r = *in.verify;
    const analysis& a = *in.model;
    std::string out = "\nverification against " + a.model + " (" + a.spec.architecture + ", from " +
                      in.model_source + "): " + (r.ok ? "OK" : "FAILED") + "\n";
    out += "  " + with_thousands(r.matched) + " of " + with_thousands(a.sk.tensors.size()) +
           " skeleton tensors found with the right shape; parameters " + with_thousands(r.found_params) +
           " in the checkpoint, " + with_thousands(r.expected_params) + " expected\n";
    auto name_of = [](const std::string& name, const std::string& stored) {
        return printable_utf8(stored.empty() ? name : name + " (" + stored + ")");
    };
    if (!r.missing.empty())
        out += "  missing (" + with_thousands(r.missing.size()) + ")\n" +
               limited(r.missing,
                       table({
                           {"tensor", align::left},
                           {"shape",  align::left},
                           {"dtype",  align::left}
        }),
                       [](table& t, const verify_tensor& v) {
                           t.row({v.name, shape_text(v.shape), v.dtype});
                       });
    if (!r.unexpected.empty())
        out += "  unexpected (" + with_thousands(r.unexpected.size()) + ")\n" +
               limited(
                   r.unexpected,
                   table({
                       {"tensor", align::left},
                       {"shape",  align::left},
                       {"dtype",  align::left}
        }),
                   [&](table& t, const verify_tensor& v) {
                       t.row({name_of(v.name, v.stored), v.shape_known ? shape_text(v.shape) : "?", v.dtype});
                   });
    if (!r.mismatched.empty())
        out +=
            "  shape mismatches (" + with_thousands(r.mismatched.size()) + ")\n" +
            limited(
                r.mismatched,
                table({
                    {"tensor",            align::left},
                    {"expected",          align::left},
                    {"in the checkpoint", align::left}
        }),
                [&](table& t, const verify_mismatch& m) {
                    t.row({name_of(m.name, m.stored), shape_text(m.expected),
                           m.actual_known ? shape_text(m.actual)
                                          : with_thousands(m.actual_elements) + " elements"});
                });
    if (!r.dtype_differences.empty())
        out += "  dtype differences (" + with_thousands(r.dtype_differences.size()) +
               "; not an error: from_pretrained casts them on load)\n" +
               limited(r.dtype_differences,
                       table({
                           {"tensor", align::left},
                           {"config", align::left},
                           {"stored", align::left}
        }),
                       [](table& t, const verify_dtype_difference& d) {
                           t.row({d.name, d.expected, d.actual});
                       });
    if (!r.aliases_present.empty()) {
        out += "  tied aliases also stored:";
        for (const auto& name : r.aliases_present) out += " " + name;
        out += "\n";
    }
    if (r.buffers_present)
        out += "  buffers stored (not parameters): " + with_thousands(r.buffers_present) + "\n";
    for (const prefix_suggestion& s : r.suggestions)
        out += "  suggestion: " + with_thousands(s.count) +
               " unexpected tensors become missing ones when \"" + s.checkpoint_prefix + "\" is read as \"" +
               s.skeleton_prefix + "\" (e.g. " + s.example_checkpoint + " -> " + s.example_skeleton + ")\n";
    return out;
}

std::string render(const inspection& in, const loaded_checkpoint& loaded) {
    const checkpoint& ck = in.ck;
    std::string out = printable_utf8(in.path) + "  " + loaded.kind + ", " + with_thousands(ck.files.size()) +
                      (ck.files.size() == 1 ? " file, " : " files, ") + with_thousands(ck.tensors.size()) +
                      " tensors, " + binary_size(loaded.header_bytes_read) + " of headers read\n";
    if (ck.format == checkpoint_format::gguf)
        out += "  GGUF version " + std::to_string(ck.gguf_version) + "\n";
    if (ck.files.size() > 1) {
        table files({
            {"file",    align::left },
            {"size",    align::right},
            {"header",  align::right},
            {"tensors", align::right},
        });
        for (const auto& f : ck.files)
            files.row({printable_utf8(f.name), binary_size(f.size), binary_size(f.header_bytes),
                       with_thousands(f.tensors)});
        out += "\n" + files.render();
    }
    out += "\n" + render_tensors(in) + "\n" + render_totals(in);
    out += render_quantized(in) + render_metadata(in) + render_warnings(in) + render_verify(in);
    if (!in.verify)
        out += "\nnot verified: no model (give --config MODEL, or put config.json beside the shards)\n";
    return out;
}

// The model to verify against, or nullopt; an error when a named model is invalid.
result<std::optional<analysis>> choose_model(const command_line& cl, loaded_checkpoint& loaded,
                                             std::string& source) {
    std::optional<std::string> named = cl.config;
    source = "--config";
    if (!named && loaded.folder_config) {
        named = loaded.folder_config;
        source = "config.json in the folder";
    }
    if (named) {
        auto model = resolve_model(*named);
        if (!model) return model.err();
        auto a = analyze(model->label, model->config_json, {});
        if (!a && !cl.config && lacks_family(a.err())) { // nothing to verify against: listed all the same
            loaded.ck.warnings.push_back(
                "not verified: the config.json in the folder names no model_type with a family table; the "
                "other commands (params, plan, place, ...) read the model from these headers");
            return std::optional<analysis>{};
        }
        if (!a) return make_error(a.err().code, model->label + ": " + a.err().message, a.err().path);
        return std::optional<analysis>(std::move(*a));
    }
    if (loaded.ck.format != checkpoint_format::gguf) return std::optional<analysis>{};
    source = "GGUF metadata";
    auto a = gguf_analysis(loaded.ck);
    if (!a) {
        loaded.ck.warnings.push_back("not verified: " + a.err().message);
        return std::optional<analysis>{};
    }
    return std::optional<analysis>(std::move(*a));
}

} // namespace

int run_inspect(const command_line& cl) {
    if (!cl.operand)
        return usage_error("inspect needs a PATH (a .safetensors, index, .gguf file or a folder)", "inspect");
    const std::string& path = *cl.operand;
    auto loaded = load_checkpoint(path);
    if (!loaded) return fail(loaded.err().message);
    std::string source;
    auto model = choose_model(cl, *loaded, source);
    if (!model) return fail(model.err().message);
    auto in = inspect(path, loaded->ck, std::move(*model), source);
    if (!in) return fail(in.err().message);

    print(cl.json ? inspect_json(*in) : render(*in, *loaded));
    return in->verify && !in->verify->ok ? exit_failed : exit_ok;
}

} // namespace modelplan::cli
