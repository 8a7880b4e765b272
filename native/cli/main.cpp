// modelplan: the command-line program. Parses arguments, reads files, prints what the core returns.
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "inspect.h"
#include "io/model-source.h"
#include "place.h"
#include "modelplan/devices.h"
#include "modelplan/fit.h"
#include "modelplan/memory.h"
#include "modelplan/presets.h"
#include "modelplan/report.h"
#include "modelplan/text.h"
#include "modelplan/version.h"
#include "table.h"
#ifdef MODELPLAN_WITH_TORCH
#include "torch-commands.h"
#endif

namespace mp = modelplan;
using mp::cli::align;
using mp::cli::table;

namespace {

constexpr int exit_ok = 0;
constexpr int exit_bad_input = 2;

const char* main_help = R"(modelplan - what a model is made of, before touching its weights

usage: modelplan COMMAND [MODEL] [options]

commands:
  params     parameter counts: total, embedding, non-embedding, active per token, by role and by layer
  skeleton   every parameter's checkpoint name, shape, dtype and role; tied aliases; known buffers
  presets    the bundled model configs
  plan       memory for a workload (inference or training), as named items; with --gpu a verdict
  fit        against a GPU: fits?, the longest context, the largest batch, the smallest quantization
  place      device maps across GPUs, CPU and disk (with runtime memory); tensor/pipeline-parallel plans
  gpus       the GPU catalog
  inspect    checkpoint headers (safetensors, index, GGUF): inventory, totals, verification against a config
  instantiate  the model as a LibTorch module tree on the meta device, no weight memory (LibTorch builds)
  load       a safetensors checkpoint into LibTorch tensors on CPU or CUDA, verified first (LibTorch builds)

MODEL is a path to a config.json, a folder holding one, or a preset name (see `modelplan presets`).
When omitted, the default preset is used.

options (every command):
  --json     print stable JSON instead of tables (docs/json.md)
  -h, --help show help for a command

`modelplan COMMAND --help` shows a command's own options.
exit status: 0 success, 2 bad input or usage (the message goes to stderr, nothing to stdout).
)";

const char* params_help = R"(usage: modelplan params [MODEL] [--dtype DTYPE] [--json]

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

const char* skeleton_help = R"(usage: modelplan skeleton [MODEL] [--dtype DTYPE] [--summary] [--json]

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

const char* presets_help = R"(usage: modelplan presets [--json]

The bundled presets: real published config.json files, embedded in the program, usable by name as MODEL.
Sources: models/SOURCES.md.

options:
  --json     print JSON: {"default", "presets": [{"name", "repo", "model_type", "architecture",
             "params", "active"}]}
  -h, --help show this help
)";

const char* plan_help = R"(usage: modelplan plan [MODEL] [options] [--json]

Memory for one workload, as named items with the inputs behind each (docs/memory.md): weights (every
tensor at its dtype or quantized storage), then for inference kv_cache (layer by layer: full attention,
sliding window, MLA, cross-attention) and activations, for training gradients, optimizer states and
training activations (docs/training.md); and overhead.

workload:
  --mode inference|training  (default inference)
  --batch N            sequences per step (default 1)
  --seq N              tokens per sequence, prompt + generated (default 4096, or max_position_embeddings
                       when smaller)
  --encoder-seq N      encoder tokens of an encoder-decoder model (default: --seq)
  --prefill-chunk N    tokens per sequence in one forward pass (default: the whole sequence)
  --dtype DTYPE        weight dtype (default: the config's torch_dtype/dtype)
  --quant FORMAT       weight quantization (docs/quantization.md; default: the config's
                       quantization_config, else none)
  --kv-dtype DTYPE     KV-cache dtype: bf16, fp16, fp32, fp8, int8, q8_0, q4_0 (default: the compute
                       dtype)
  --attn sdpa|flash|eager   attention implementation; eager materializes the score matrix; flash is
                       refused where FlashAttention-2 cannot run (default sdpa)
  --overhead SIZE      fixed runtime overhead, e.g. 512MiB (default 1343MiB: CUDA context, see
                       docs/memory.md)
  --mtp                also load multi-token-prediction layers (DeepSeek-V3)
  --head HEAD          the head instead of the class in "architectures"
  --gpu NAME           check against a catalog GPU (modelplan gpus): verdict, headroom, what cannot
                       run, roofline upper bounds
training:
  --method full|lora|qlora     (default full)
  --lora-rank N                (default 16)
  --lora-targets ROLES         comma-separated roles (default attn_q,attn_k,attn_v,attn_o)
  --optimizer adamw|adamw-8bit|sgd|adafactor   (default adamw)
  --recompute none|selective|full               activation recomputation (default none)
  --zero 0|1|2|3       DeepSpeed ZeRO stage; --fsdp is full sharding (stage 3)
  --gpus N             data-parallel size the shards divide by (default 1)
  --offload            optimizer states in CPU memory
output:
  --json               {"model", "architecture", "plan": {"mode", "items": [{"name", "bytes", "formula",
                       "inputs"}], "total_bytes", "kv_bytes_per_token", "kv_bytes_by_layer", "warnings"}}
  -h, --help           show this help
)";

const char* fit_help = R"(usage: modelplan fit [MODEL] --gpu NAME [plan options] [--json]

Against one GPU of the catalog (memory as the driver reports it): whether the workload fits and its
headroom, the longest context that fits for the batch, the largest batch that fits at the sequence
length, the smallest quantization of the ladder (none, fp8, int8, q8_0, gptq-4bit-128g, nf4, q4_k, q3_k,
q2_k) that fits, and how many GPUs an even split would need (before placement). Takes every `plan` option.
)";

const char* gpus_help = R"(usage: modelplan gpus [--json]

The GPU catalog: memory as nvidia-smi / rocm-smi report it, bandwidth, dense bf16/fp16 throughput,
bf16/fp8 support. Sources: models/SOURCES-GPU.md.
)";

struct options {
    std::string command;
    std::optional<std::string> model;
    bool json = false;
    bool summary = false;
    bool help = false;
    std::optional<std::string> dtype;
    std::optional<std::string> head;
    std::map<std::string, std::string> plan_values; // --batch, --seq, ... as given
    bool mtp = false;
    bool offload = false;
    bool fsdp = false;
    std::optional<std::string> gpu;
    mp::cli::place_args place;
};

// The place_args field a `place` option with a value fills, or nullptr.
std::optional<std::string>* place_value(mp::cli::place_args& p, const std::string& name) {
    if (name == "--devices") return &p.request.devices;
    if (name == "--gpu") return &p.request.gpu;
    if (name == "--gpus") return &p.gpus;
    if (name == "--cpu") return &p.request.cpu;
    if (name == "--strategy") return &p.request.strategy;
    if (name == "--tp") return &p.tp;
    if (name == "--pp") return &p.pp;
    if (name == "--device-map-out") return &p.map_out;
    return nullptr;
}

bool value_option(const std::string& arg, const std::string& name) {
    return arg == name || arg.rfind(name + "=", 0) == 0;
}

// `--name VALUE` or `--name=VALUE`; false when the value is missing.
bool take_value(const std::vector<std::string>& args, size_t& i, const std::string& name,
                std::optional<std::string>& out) {
    if (args[i] != name) {
        out = args[i].substr(name.size() + 1);
        return true;
    }
    if (i + 1 >= args.size()) return false;
    out = args[++i];
    return true;
}

int fail(const std::string& message) {
    std::fprintf(stderr, "modelplan: error: %s\n", message.c_str());
    return exit_bad_input;
}

int usage_error(const std::string& message, const std::string& command) {
    std::fprintf(stderr, "modelplan: error: %s\nTry 'modelplan %s--help'.\n", message.c_str(),
                 command.empty() ? "" : (command + " ").c_str());
    return exit_bad_input;
}

void print(const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
}

std::string pct(uint64_t part, uint64_t whole) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f%%",
                  whole ? 100.0 * static_cast<double>(part) / static_cast<double>(whole) : 0.0);
    return buf;
}

std::string shape_text(const std::vector<uint64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

std::string title(const mp::analysis& a) {
    std::string moe = a.spec.n_experts ? ", " + std::to_string(a.spec.n_experts) + " experts (" +
                                             std::to_string(a.spec.n_experts_per_tok) + " per token)"
                                       : "";
    return a.model + "  " + a.spec.architecture + " (" + a.spec.model_type + "), " +
           mp::dtype_name(a.spec.weight_dtype) + ", " + std::to_string(a.spec.n_layers) + " layers" + moe +
           "\n";
}

std::string render_params(const mp::analysis& a) {
    const mp::param_counts& c = a.counts;
    uint64_t bytes = mp::dtype_bytes(a.spec.weight_dtype);
    std::string out = title(a) + "\n";
    table totals({
        {"parameters",                                                      align::left },
        {"count",                                                           align::right},
        {"short",                                                           align::right},
        {std::string("size (") + mp::dtype_name(a.spec.weight_dtype) + ")", align::right}
    });
    auto size = [&](uint64_t n) { return mp::binary_size(n * bytes); };
    totals.row(
        {"total", mp::with_thousands(c.total), mp::short_count(c.total), mp::binary_size(c.weight_bytes)});
    totals.row(
        {"embedding", mp::with_thousands(c.embedding), mp::short_count(c.embedding), size(c.embedding)});
    totals.row({"non-embedding", mp::with_thousands(c.non_embedding), mp::short_count(c.non_embedding),
                size(c.non_embedding)});
    totals.row({"active per token", mp::with_thousands(c.active), mp::short_count(c.active), size(c.active)});
    out += totals.render() + "\n";

    table roles({
        {"role",   align::left },
        {"params", align::right},
        {"share",  align::right}
    });
    for (int r = 0; r < mp::role_count; ++r) {
        if (!c.by_role[r]) continue;
        roles.row({mp::role_name(static_cast<mp::role>(r)), mp::with_thousands(c.by_role[r]),
                   pct(c.by_role[r], c.total)});
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
        layers.row({range, mp::with_thousands(c.by_layer[first]),
                    mp::with_thousands(c.by_layer[first] * (last - first + 1))});
        first = last + 1;
    }
    layers.row({"outside layers", "", mp::with_thousands(c.outside_layers)});
    out += "by layer\n" + layers.render();
    return out;
}

std::string render_skeleton(const mp::analysis& a, bool summary) {
    const mp::skeleton& sk = a.sk;
    std::string out = title(a) + "\n";
    auto index = [](int64_t i) { return i == mp::no_index ? std::string("-") : std::to_string(i); };
    if (summary) {
        // One row per (template, shape): the pattern with its repeat count.
        struct group {
            const mp::tensor_info* first;
            uint64_t count = 0;
        };
        std::vector<group> groups;
        std::map<std::pair<const void*, std::vector<uint64_t>>, size_t> where;
        for (const auto& t : sk.tensors) {
            auto k = std::make_pair(static_cast<const void*>(t.source), t.shape);
            auto it = where.find(k);
            if (it == where.end()) {
                where.emplace(k, groups.size());
                groups.push_back({&t, 1});
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
                 shape_text(g.first->shape), mp::dtype_name(g.first->type), mp::role_name(g.first->what),
                 "×" + mp::with_thousands(g.count), mp::with_thousands(g.first->elements * g.count)});
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
        for (const auto& t : sk.tensors)
            tab.row({t.name, shape_text(t.shape), mp::dtype_name(t.type), mp::role_name(t.what),
                     index(t.layer), mp::with_thousands(t.elements)});
        out += tab.render();
    }
    out += "\n" + mp::with_thousands(sk.tensors.size()) + " tensors, " + mp::with_thousands(a.counts.total) +
           " parameters, " + mp::binary_size(a.counts.weight_bytes) + "\n";
    if (!sk.aliases.empty()) {
        out += "\ntied aliases\n";
        for (const auto& al : sk.aliases) out += "  " + al.name + " -> " + al.target + "\n";
    }
    if (!sk.buffers.empty()) {
        out += "\nbuffers (not parameters; some checkpoints store them)\n";
        const auto& b = sk.buffers.front();
        out += "  " + sk.base_prefix + b.group_prefix + b.source->name + "  " + shape_text(b.shape) + "  " +
               mp::dtype_name(b.type) + "  ×" + std::to_string(sk.buffers.size()) + "\n";
    }
    return out;
}

std::string render_presets() {
    table tab({
        {"preset",     align::left },
        {"repository", align::left },
        {"model_type", align::left },
        {"params",     align::right},
        {"active",     align::right}
    });
    const std::string default_name = mp::default_preset().name;
    for (const auto& p : mp::presets()) {
        auto a = mp::analyze(p.name, p.config_json, {});
        std::string name = p.name;
        if (name == default_name) name += " (default)";
        if (!a) {
            tab.row({name, p.repo, "error: " + a.err().message, "", ""});
            continue;
        }
        tab.row({name, p.repo, a->spec.model_type, mp::short_count(a->counts.total),
                 mp::short_count(a->counts.active)});
    }
    return tab.render(0);
}

// Plan options: the CLI spelling and the workload option it sets (set_workload_option).
const std::pair<const char*, const char*> plan_options[] = {
    {"--batch",         "batch"        },
    {"--seq",           "seq"          },
    {"--encoder-seq",   "encoder_seq"  },
    {"--prefill-chunk", "prefill_chunk"},
    {"--kv-dtype",      "kv_dtype"     },
    {"--attn",          "attention"    },
    {"--overhead",      "overhead"     },
    {"--mode",          "mode"         },
    {"--quant",         "quant"        },
    {"--method",        "method"       },
    {"--lora-rank",     "lora_rank"    },
    {"--lora-targets",  "lora_targets" },
    {"--optimizer",     "optimizer"    },
    {"--recompute",     "recompute"    },
    {"--zero",          "zero"         },
    {"--gpus",          "gpus"         },
};

bool plan_option(const std::string& arg) {
    for (const auto& [flag, name] : plan_options)
        if (arg == flag || arg.rfind(std::string(flag) + "=", 0) == 0) return true;
    return false;
}

// The workload from the plan options, or an error message.
std::optional<std::string> read_workload(const options& opt, mp::workload& w) {
    for (const auto& [flag, value] : opt.plan_values)
        for (const auto& [cli, name] : plan_options)
            if (flag == cli)
                if (auto e = mp::set_workload_option(w, name, value, flag)) return e->message;
    w.include_mtp = opt.mtp;
    w.offload_optimizer = opt.offload;
    if (opt.fsdp) w.zero_stage = 3;
    return std::nullopt;
}

std::string signed_size(int64_t bytes) {
    return (bytes < 0 ? "-" : "") + mp::binary_size(static_cast<uint64_t>(bytes < 0 ? -bytes : bytes));
}

std::string render_plan(const mp::analysis& a, const mp::memory_plan& p) {
    std::string out = title(a) + "\n";
    table items({
        {"item",  align::left },
        {"bytes", align::right},
        {"size",  align::right}
    });
    for (const auto& item : p.items)
        items.row({item.name, mp::with_thousands(item.bytes), mp::binary_size(item.bytes)});
    items.row({"total", mp::with_thousands(p.total_bytes), mp::binary_size(p.total_bytes)});
    out += items.render() + "\n";
    for (const auto& item : p.items) {
        out += item.name + ": " + item.formula + "\n ";
        for (const auto& in : item.inputs) out += " " + in.name + "=" + in.value;
        out += "\n";
    }
    out += "\nKV cache per token of one sequence: " + mp::with_thousands(p.kv_bytes_per_token) + " bytes\n";
    for (const auto& warning : p.warnings) out += "warning: " + warning + "\n";
    if (p.device) {
        const auto& d = *p.device;
        out += "\non " + d.gpu + " (" + mp::binary_size(d.memory_bytes) +
               "): " + (d.fits ? "fits" : "does not fit") + ", headroom " + signed_size(d.headroom_bytes) +
               "\n";
        for (const auto& e : d.errors) out += "cannot run: " + e + "\n";
        for (const auto& e : d.warnings) out += "warning: " + e + "\n";
        char buf[160];
        std::snprintf(buf, sizeof buf,
                      "roofline (upper bounds): decode %.0f tokens/s, prefill at least %.3f s\n",
                      d.decode_tokens_per_s, d.prefill_seconds);
        out += buf;
    }
    return out;
}

std::string render_gpus() {
    table tab({
        {"key",         align::left },
        {"name",        align::left },
        {"memory",      align::right},
        {"GB/s",        align::right},
        {"bf16 TFLOPS", align::right},
        {"bf16",        align::left },
        {"fp8",         align::left }
    });
    auto number = [](double v) {
        if (v <= 0) return std::string("-");
        char buf[32];
        std::snprintf(buf, sizeof buf, "%g", v);
        return std::string(buf);
    };
    for (const auto& g : mp::gpu_catalog())
        tab.row({g.key, g.name, mp::binary_size(g.memory_bytes()), number(g.bandwidth_gbps),
                 number(g.bf16_tflops), g.bf16 ? "yes" : "no", g.fp8 ? "yes" : "no"});
    return tab.render(0) +
           "memory as the driver reports it; '-': no sourced figure (models/SOURCES-GPU.md)\n";
}


std::string render_fit(const mp::analysis& a, const mp::workload& w, const mp::gpu_row& gpu,
                       const mp::fit_answer& f, const mp::device_check& checks) {
    std::string out = title(a) + "on " + gpu.key + " (" + mp::binary_size(f.memory_bytes) + ")\n\n";
    bool runs = checks.errors.empty();
    out += std::string("  fits          ") + (f.fits && runs ? "yes" : "no") + ": " +
           mp::binary_size(f.total_bytes) + " needed, headroom " + signed_size(f.headroom_bytes) +
           " (batch " + std::to_string(w.batch) + ", seq " +
           std::to_string(w.seq ? w.seq : mp::default_seq(a.spec)) + ")\n";
    out += "  longest seq   " +
           (f.max_seq ? mp::with_thousands(f.max_seq) + " tokens" : std::string("none fits")) + " at batch " +
           std::to_string(w.batch) + "\n";
    out += "  largest batch " + (f.max_batch ? mp::with_thousands(f.max_batch) : std::string("none fits")) +
           "\n";
    out += "  quantization  " + (f.quant_found ? f.smallest_quant : std::string("none of the ladder fits")) +
           "\n";
    out += "  GPUs needed   " + std::to_string(f.gpus_needed) +
           " (an even split of the total, before placement)\n";
    for (const auto& e : checks.errors) out += "cannot run: " + e + "\n";
    for (const auto& e : checks.warnings) out += "warning: " + e + "\n";
    return out;
}

} // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty() || args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
        print(main_help);
        return exit_ok;
    }
    if (args[0] == "--version") {
        print(std::string("modelplan ") + mp::version + "\n");
        return exit_ok;
    }
    if (args[0] == "inspect") return mp::cli::run_inspect(args);
#ifdef MODELPLAN_WITH_TORCH
    if (args[0] == "instantiate") return mp::cli::run_instantiate(args);
    if (args[0] == "load") return mp::cli::run_load(args);
#else
    if (args[0] == "instantiate" || args[0] == "load")
        return fail(args[0] + " needs LibTorch: build with -DMODELPLAN_WITH_TORCH=ON (scripts/test-torch.sh)");
#endif
    options opt;
    opt.command = args[0];
    std::map<std::string, const char*> helps = {
        {"params",   params_help  },
        {"skeleton", skeleton_help},
        {"presets",  presets_help },
        {"plan",     plan_help    },
        {"fit",      fit_help     },
        {"gpus",     gpus_help    },
        {"place",    mp::cli::place_help}
    };
    if (!helps.count(opt.command))
        return usage_error("unknown command \"" + opt.command +
                               "\"; expected params, skeleton, presets, plan, fit, place, gpus or inspect",
                           "");

    for (size_t i = 1; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "-h" || a == "--help")
            opt.help = true;
        else if (a == "--json")
            opt.json = true;
        else if (a == "--summary" && opt.command == "skeleton")
            opt.summary = true;
        else if (value_option(a, "--dtype") && opt.command != "presets") {
            if (!take_value(args, i, "--dtype", opt.dtype))
                return usage_error("--dtype needs a value (e.g. bf16)", opt.command);
        } else if (value_option(a, "--head") && opt.command != "presets") {
            if (!take_value(args, i, "--head", opt.head))
                return usage_error("--head needs a value (e.g. none)", opt.command);
        } else if (opt.command == "place" && (a == "--disk" || a == "--experts-on-cpu" || a == "--mtp")) {
            opt.place.request.disk = opt.place.request.disk || a == "--disk";
            opt.place.request.experts_on_cpu = opt.place.request.experts_on_cpu || a == "--experts-on-cpu";
            opt.mtp = opt.mtp || a == "--mtp";
        } else if (opt.command == "place" && a.rfind("--", 0) == 0 &&
                   (place_value(opt.place, a.substr(0, a.find('='))) || a.substr(0, a.find('=')) == "--pin")) {
            std::string name = a.substr(0, a.find('='));
            std::optional<std::string> value;
            if (!take_value(args, i, name, value)) return usage_error(name + " needs a value", opt.command);
            if (name == "--pin") opt.place.request.pins.push_back(*value);
            else *place_value(opt.place, name) = *value;
        } else if (opt.command == "place" && plan_option(a)) {
            std::string name = a.substr(0, a.find('='));
            std::optional<std::string> value;
            if (!take_value(args, i, name, value)) return usage_error(name + " needs a value", opt.command);
            opt.plan_values[name] = *value;
        } else if ((opt.command == "plan" || opt.command == "fit") && value_option(a, "--gpu")) {
            if (!take_value(args, i, "--gpu", opt.gpu))
                return usage_error("--gpu needs a value (e.g. h100-80gb)", opt.command);
        } else if ((opt.command == "plan" || opt.command == "fit") && a == "--mtp") {
            opt.mtp = true;
        } else if ((opt.command == "plan" || opt.command == "fit") && a == "--offload") {
            opt.offload = true;
        } else if ((opt.command == "plan" || opt.command == "fit") && a == "--fsdp") {
            opt.fsdp = true;
        } else if ((opt.command == "plan" || opt.command == "fit") && plan_option(a)) {
            std::string name = a.substr(0, a.find('='));
            std::optional<std::string> value;
            if (!take_value(args, i, name, value)) return usage_error(name + " needs a value", opt.command);
            opt.plan_values[name] = *value;
        } else if (!a.empty() && a[0] == '-')
            return usage_error("unknown option " + a, opt.command);
        else if (opt.command == "presets" || opt.command == "gpus")
            return usage_error(opt.command + " takes no MODEL", opt.command);
        else if (opt.model)
            return usage_error("more than one MODEL given (" + *opt.model + ", " + a + ")", opt.command);
        else
            opt.model = a;
    }
    if (opt.help) {
        print(helps[opt.command]);
        return exit_ok;
    }
    if (opt.command == "presets") {
        print(opt.json ? mp::presets_json() : render_presets());
        return exit_ok;
    }
    if (opt.command == "gpus") {
        print(opt.json ? mp::gpus_json() : render_gpus());
        return exit_ok;
    }
    std::optional<mp::gpu_row> gpu;
    if (opt.gpu) {
        auto g = mp::find_gpu(*opt.gpu);
        if (!g) return fail(g.err().message);
        gpu = *g;
    }
    if (opt.command == "fit" && !gpu) return usage_error("fit needs --gpu NAME (see modelplan gpus)", "fit");

    mp::config_options config;
    if (opt.dtype) {
        auto t = mp::parse_dtype(*opt.dtype, "--dtype");
        if (!t) return fail(t.err().message);
        config.weight_dtype = *t;
    }
    if (opt.head) {
        config.head = mp::parse_head_kind(*opt.head);
        if (!config.head)
            return fail("--head: unknown head \"" + *opt.head +
                        "\"; expected none, causal-lm, masked-lm, seq-cls, cond-gen or pretraining");
    }
    auto source = opt.model ? mp::cli::resolve_model(*opt.model)
                            : mp::result<mp::cli::model_source>(mp::cli::model_source{
                                  mp::default_preset().name, mp::default_preset().config_json});
    if (!source) return fail(source.err().message);
    auto a = mp::analyze(source->label, source->config_json, config);
    if (!a) return fail(source->label + ": " + a.err().message);

    if (opt.command == "plan") {
        mp::workload w;
        if (auto e = read_workload(opt, w)) return fail(*e);
        auto p = mp::plan_memory(*a, w);
        if (!p) return fail(p.err().message);
        if (gpu) mp::attach_device(*a, w, *gpu, *p);
        print(opt.json ? mp::plan_json(*a, *p) : render_plan(*a, *p));
        return exit_ok;
    }
    if (opt.command == "fit") {
        mp::workload w;
        if (auto e = read_workload(opt, w)) return fail(*e);
        auto f = mp::solve_fit(*a, w, *gpu);
        if (!f) return fail(f.err().message);
        mp::device_check checks = mp::check_workload(*a, w, *gpu);
        print(opt.json ? mp::fit_json(*a, w, *gpu, *f, checks) : render_fit(*a, w, *gpu, *f, checks));
        return exit_ok;
    }
    if (opt.command == "place") {
        mp::workload w;
        if (auto e = read_workload(opt, w)) return fail(*e);
        opt.place.json = opt.json;
        return mp::cli::run_place(*a, w, opt.place);
    }
    if (opt.command == "params")
        print(opt.json ? mp::params_json(*a) : render_params(*a));
    else
        print(opt.json ? mp::skeleton_json(*a) : render_skeleton(*a, opt.summary));
    return exit_ok;
}
