// `modelplan params`: parameter counts of a model (docs/json.md, "params").
#include <cstdio>

#include "commands.h"
#include "modelplan/report.h"
#include "modelplan/text.h"
#include "output.h"
#include "table.h"

namespace modelplan::cli {

const char* const params_help = R"(usage: modelplan params [MODEL] [--dtype DTYPE] [--json]

Parameter counts of MODEL, computed from its skeleton: total (tied weights once), embedding (token
embedding plus an untied output head), non-embedding, active per token (MoE: only the routed experts a
token visits), and breakdowns by role and by layer. Sizes use binary units (GiB = 2^30 bytes).

options:
  --dtype DTYPE  weight dtype (bf16, fp16, fp32, fp8, ...); default: the config's torch_dtype/dtype,
                 float32 when it names none
  --head HEAD    the head to count instead of the class in "architectures": none (the bare base
                 model), causal-lm, masked-lm, seq-cls (with num_labels), cond-gen,
                 pretraining (BERT's MLM and next-sentence heads)
  --json         print JSON: {"model", "model_type", "architecture", "head", "dtype", "not_modelled",
                 "params": {"total", "embedding", "non_embedding", "active", "by_role", "by_layer",
                 "outside_layers", "mtp"}, "weight_bytes", "tensors"}
  -h, --help     show this help
)";

namespace {

std::string pct(uint64_t part, uint64_t whole) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f%%",
                  whole ? 100.0 * static_cast<double>(part) / static_cast<double>(whole) : 0.0);
    return buf;
}

std::string render_params(const analysis& a) {
    const param_counts& c = a.counts;
    uint64_t bytes = dtype_bytes(a.spec.weight_dtype);
    std::string out = model_title(a) + "\n";
    table totals({
        {"parameters",                                                  align::left },
        {"count",                                                       align::right},
        {"short",                                                       align::right},
        {std::string("size (") + dtype_name(a.spec.weight_dtype) + ")", align::right}
    });
    auto size = [&](uint64_t n) { return binary_size(n * bytes); };
    totals.row({"total", with_thousands(c.total), short_count(c.total), binary_size(c.weight_bytes)});
    totals.row({"embedding", with_thousands(c.embedding), short_count(c.embedding), size(c.embedding)});
    totals.row({"non-embedding", with_thousands(c.non_embedding), short_count(c.non_embedding),
                size(c.non_embedding)});
    totals.row({"active per token", with_thousands(c.active), short_count(c.active), size(c.active)});
    out += totals.render() + "\n";

    table roles({
        {"role",   align::left },
        {"params", align::right},
        {"share",  align::right}
    });
    for (int r = 0; r < role_count; ++r) {
        if (!c.by_role[r]) continue;
        roles.row(
            {role_name(static_cast<role>(r)), with_thousands(c.by_role[r]), pct(c.by_role[r], c.total)});
    }
    out += "by role\n" + roles.render() + "\n";

    table layers({
        {"layers",      align::left },
        {"params each", align::right},
        {"params",      align::right}
    });
    for (size_t first = 0; first < c.by_layer.size();) {
        size_t last = first;
        while (last + 1 < c.by_layer.size() && c.by_layer[last + 1] == c.by_layer[first]) ++last;
        std::string range =
            first == last ? std::to_string(first) : std::to_string(first) + "-" + std::to_string(last);
        layers.row({range, with_thousands(c.by_layer[first]),
                    with_thousands(c.by_layer[first] * (last - first + 1))});
        first = last + 1;
    }
    layers.row({"outside layers", "", with_thousands(c.outside_layers)});
    out += "by layer\n" + layers.render();
    return out + header_notes(a);
}

} // namespace

int run_params(const command_line& cl) {
    auto a = read_model(cl);
    if (!a) return fail(a.err().message);
    print(cl.json ? params_json(*a) : render_params(*a));
    return exit_ok;
}

} // namespace modelplan::cli
