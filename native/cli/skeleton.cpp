// `modelplan skeleton`: every parameter of a model, named as its checkpoints name it (docs/json.md,
// "skeleton").
#include <map>

#include "commands.h"
#include "modelplan/report.h"
#include "modelplan/text.h"
#include "output.h"
#include "table.h"

namespace modelplan::cli {

const char* const skeleton_help = R"(usage: modelplan skeleton [MODEL] [--dtype DTYPE] [--summary] [--json]

Every unique parameter of MODEL in state_dict order, named exactly as the published safetensors
checkpoints name it, with shape, dtype, role and layer; then tied aliases and known buffers.

options:
  --dtype DTYPE  weight dtype (bf16, fp16, fp32, fp8, ...); default: the config's torch_dtype/dtype
  --head HEAD    the head instead of the class in "architectures" (none, causal-lm, masked-lm, seq-cls,
                 cond-gen, pretraining)
  --summary      one row per tensor template ({layer}, {expert}) with its repeat count, instead of
                 one row per tensor
  --json         print JSON: {"model", "model_type", "architecture", "head", "dtype", "not_modelled",
                 "tensors": [{"name", "shape", "dtype", "role", "layer", "expert"}],
                 "aliases": {name: target}, "buffers": [...]}
  -h, --help     show this help
)";

namespace {

std::string render_skeleton(const analysis& a, bool summary) {
    const skeleton& sk = a.sk;
    std::string out = model_title(a) + "\n";
    auto index = [](int64_t i) { return i == no_index ? std::string("-") : std::to_string(i); };
    if (summary) {
        // One row per (template, shape): the pattern with its repeat count.
        struct group {
            const tensor_info* first;
            uint64_t count = 0;
            size_t index = 0; // of the first tensor
        };
        std::vector<group> groups;
        std::map<std::pair<const void*, std::vector<uint64_t>>, size_t> where;
        for (size_t i = 0; i < sk.tensors.size(); ++i) {
            const tensor_info& t = sk.tensors[i];
            auto k = std::make_pair(static_cast<const void*>(t.source), t.shape);
            auto it = where.find(k);
            if (it == where.end()) {
                where.emplace(k, groups.size());
                groups.push_back({&t, 1, i});
            } else {
                ++groups[it->second].count;
            }
        }
        table tab({
            {"tensor", align::left },
            {"shape",  align::left },
            {"dtype",  align::left },
            {"role",   align::left },
            {"count",  align::right},
            {"params", align::right}
        });
        for (const auto& g : groups)
            tab.row(
                {(g.first->from_head ? "" : sk.base_prefix) + g.first->group_prefix + g.first->source->name,
                 shape_text(g.first->shape), tensor_dtype(a, g.index), role_name(g.first->what),
                 "×" + with_thousands(g.count), with_thousands(g.first->elements * g.count)});
        out += tab.render();
    } else {
        table tab({
            {"tensor", align::left },
            {"shape",  align::left },
            {"dtype",  align::left },
            {"role",   align::left },
            {"layer",  align::right},
            {"params", align::right}
        });
        for (size_t i = 0; i < sk.tensors.size(); ++i) {
            const tensor_info& t = sk.tensors[i];
            tab.row({t.name, shape_text(t.shape), tensor_dtype(a, i), role_name(t.what), index(t.layer),
                     with_thousands(t.elements)});
        }
        out += tab.render();
    }
    out += "\n" + with_thousands(sk.tensors.size()) + " tensors, " + with_thousands(a.counts.total) +
           " parameters, " + binary_size(a.counts.weight_bytes) + "\n";
    if (!sk.aliases.empty()) {
        out += "\ntied aliases\n";
        for (const auto& al : sk.aliases) out += "  " + al.name + " -> " + al.target + "\n";
    }
    if (!sk.buffers.empty()) {
        out += "\nbuffers (not parameters; some checkpoints store them)\n";
        const auto& b = sk.buffers.front();
        out += "  " + sk.base_prefix + b.group_prefix + b.source->name + "  " + shape_text(b.shape) + "  " +
               dtype_name(b.type) + "  ×" + std::to_string(sk.buffers.size()) + "\n";
    }
    return out + header_notes(a);
}

} // namespace

int run_skeleton(const command_line& cl) {
    auto a = read_model(cl);
    if (!a) return fail(a.err().message);
    print(cl.json ? skeleton_json(*a) : render_skeleton(*a, cl.summary));
    return exit_ok;
}

} // namespace modelplan::cli
