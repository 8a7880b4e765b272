// Every published figure the project checks, predicted by the core and checked within its tolerance: the
// start-up figures of tests/data/reference/serve-logs.tsv (by `serve`) and the memory, weight and training
// figures of tests/data/reference/memory-figures.tsv (by plan_memory, plan_weights, plan_training,
// plan_parallel and plan_serve); and docs/accuracy.md, which is generated from the same files and these
// predictions: the test fails when the committed page differs from what it would say now (regenerate it with
// scripts/accuracy.sh, which runs this test with MODELPLAN_WRITE_ACCURACY=1).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include <gtest/gtest.h>

#include "modelplan/placement.h"
#include "modelplan/presets.h"
#include "modelplan/quantization.h"
#include "modelplan/serve.h"
#include "modelplan/training.h"
#include "test-util.h"

namespace modelplan {
namespace {

using test::bytes_of;
using test::find_item;

const std::string data = MODELPLAN_TEST_DATA;

// One published figure. Serving rows (serve-logs.tsv) name an engine, a GPU and the engine's flags; memory
// rows (memory-figures.tsv) name whose figure it is as `engine` and their setup as `knobs`, with no GPU.
struct reference {
    std::string engine, model, gpu, knobs, figure, tolerance, source;
    double measured = 0;
    bool serve = true;
};

std::vector<std::vector<std::string>> read_rows(const std::string& file, size_t columns) {
    std::ifstream in(data + "/reference/" + file);
    EXPECT_TRUE(in) << "tests/data/reference/" << file;
    std::vector<std::vector<std::string>> out;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::vector<std::string> f;
        std::stringstream ss(line);
        std::string cell;
        while (std::getline(ss, cell, '\t')) f.push_back(cell);
        if (!line.empty() && line.back() == '\t') f.emplace_back(); // an empty last column
        EXPECT_EQ(f.size(), columns) << file << ": " << line;
        if (f.size() == columns) out.push_back(f);
    }
    return out;
}

std::vector<reference> read_references() {
    std::vector<reference> out;
    for (const auto& f : read_rows("serve-logs.tsv", 8))
        out.push_back({f[0], f[1], f[2], f[3], f[4], f[6], f[7], std::stod(f[5]), true});
    for (const auto& f : read_rows("memory-figures.tsv", 7))
        out.push_back({f[0], f[1], "", f[2], f[3], f[5], f[6], std::stod(f[4]), false});
    return out;
}

std::vector<std::pair<std::string, std::string>> fields_of(const std::string& knobs) {
    std::vector<std::pair<std::string, std::string>> out;
    std::stringstream ss(knobs);
    std::string kv;
    while (ss >> kv) {
        auto eq = kv.find('=');
        EXPECT_NE(eq, std::string::npos) << kv;
        if (eq != std::string::npos) out.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    }
    return out;
}

// The model of a row: a preset or a config file, with the setup's config.KEY edits and head.
analysis model_of(const std::string& model, const std::string& knobs) {
    std::string name = model, config;
    if (model.rfind("config:", 0) == 0) {
        name = model.substr(7);
        std::ifstream in(data + "/reference/configs/" + name + ".json");
        EXPECT_TRUE(in) << name;
        config.assign(std::istreambuf_iterator<char>(in), {});
    } else {
        auto p = find_preset(model);
        EXPECT_TRUE(p.ok()) << model;
        if (p.ok()) config = p->config_json;
    }
    config_options options;
    for (const auto& [key, value] : fields_of(knobs)) {
        if (key.rfind("config.", 0) == 0) config = test::edit_key(config, key.c_str() + 7, value);
        if (key == "head") {
            options.head = parse_head_kind(value);
            EXPECT_TRUE(options.head) << value;
        }
    }
    auto a = analyze(name, config, options);
    EXPECT_TRUE(a.ok()) << model << ": " << (a.ok() ? "" : a.err().message);
    return a.ok() ? std::move(*a) : analysis{};
}

// The model part of a row's setup: rows that differ only in the rest share one analysis.
std::string model_key(const reference& r) {
    std::string key = r.model;
    if (!r.serve)
        for (const auto& [name, value] : fields_of(r.knobs))
            if (name.rfind("config.", 0) == 0 || name == "head") key += " " + name + "=" + value;
    return key;
}

serve_request request_of(const reference& r) {
    serve_request q;
    q.engine = r.serve ? r.engine : "vllm";
    q.gpu = r.gpu;
    for (const auto& [key, value] : fields_of(r.knobs)) {
        if (!r.serve && (key.rfind("config.", 0) == 0 || key == "head")) continue;
        EXPECT_FALSE(set_serve_option(q, key, value, key)) << key << "=" << value;
    }
    return q;
}

constexpr double gib = 1073741824.0, mib = 1048576.0;

// The plan's value of a serving figure (names: serve-logs.tsv's header).
double figure_of(const serve_plan& p, const std::string& f) {
    const serve_rank& k = p.ranks.front();
    if (f == "weights_gib") return k.weights_bytes / gib;
    if (f == "activation_gib") return k.activation_peak_bytes / gib;
    if (f == "non_torch_gib") return k.non_torch_bytes / gib;
    if (f == "kv_gib") return k.kv_cache_bytes / gib;
    if (f == "kv_tokens") return static_cast<double>(p.kv_tokens);
    if (f == "concurrency") return p.max_concurrency;
    if (f == "fraction") return p.mem_fraction_static;
    if (f == "max_running_requests") return static_cast<double>(p.max_running_requests);
    if (f == "weights_mib") return k.weights_bytes / mib;
    if (f == "host_weights_mib") return p.host_weights_bytes / mib;
    if (f == "kv_mib") return k.kv_cache_bytes / mib;
    if (f == "k_mib") return p.k_bytes_total / mib;
    if (f == "compute_mib") return k.activation_peak_bytes / mib;
    if (f == "full_kv_mib") return (p.k_bytes_total + p.v_bytes_total) / mib;
    if (f == "swa_kv_mib") return (p.swa_k_bytes + p.swa_v_bytes) / mib;
    if (f == "all_kv_mib") return (p.k_bytes_total + p.v_bytes_total + p.swa_k_bytes + p.swa_v_bytes) / mib;
    if (f == "swa_cells") return static_cast<double>(p.swa_cells);
    if (f == "n_ctx") return static_cast<double>(p.n_ctx);
    ADD_FAILURE() << "unknown figure " << f;
    return NAN;
}

// A memory row's setup: the workload options, and the figure's own fields (memory-figures.tsv's header).
struct setup {
    workload w;
    double pool_gib = 0, psi = 0;
    uint64_t tp = 1;
};

setup setup_of(const reference& r) {
    setup s;
    for (const auto& [key, value] : fields_of(r.knobs)) {
        if (key.rfind("config.", 0) == 0 || key == "head") continue;
        if (key == "pool_gib")
            s.pool_gib = std::stod(value);
        else if (key == "psi")
            s.psi = std::stod(value);
        else if (key == "tp")
            s.tp = std::stoull(value);
        else
            EXPECT_FALSE(set_workload_option(s.w, key, value, key)) << key << "=" << value;
    }
    return s;
}

std::string input_of(const plan_item& item, const std::string& name) {
    for (const plan_input& in : item.inputs)
        if (in.name == name) return in.value;
    ADD_FAILURE() << item.name << " has no input " << name;
    return "nan";
}

plan_item weights_of(const analysis& a, const workload& w) {
    auto weights = plan_weights(a, w);
    EXPECT_TRUE(weights.ok()) << (weights.ok() ? "" : weights.err().message);
    return weights.ok() ? *weights : plan_item{};
}

std::vector<plan_item> training_of(const analysis& a, const workload& w) {
    auto items = plan_training(a, w);
    EXPECT_TRUE(items.ok()) << (items.ok() ? "" : items.err().message);
    return items.ok() ? *items : std::vector<plan_item>{};
}

// Model states per GPU: weights (sharded by ZeRO stage 3), fp32 masters (absent for fp32 weights), gradients,
// optimizer states.
double model_states(const analysis& a, const workload& w) {
    auto items = training_of(a, w);
    const plan_item* master = find_item(items, "master_weights");
    return double(sharded_weights(w, weights_of(a, w)).bytes + (master ? master->bytes : 0) +
                  bytes_of(items, "gradients") + bytes_of(items, "optimizer_states"));
}

double training_total(const analysis& a, const workload& w) {
    double total = double(sharded_weights(w, weights_of(a, w)).bytes);
    for (const plan_item& item : training_of(a, w)) total += double(item.bytes);
    return total;
}

double layer_activations(const analysis& a, workload w, recompute_kind r) {
    w.recompute = r;
    const std::vector<plan_item> items = training_of(a, w); // the items must outlive the pointer into them
    const plan_item* act = find_item(items, "activations");
    return act ? std::stod(input_of(*act, "layer_bytes")) : NAN;
}

// The core's value of a memory figure (names and units: memory-figures.tsv's header).
double memory_figure_of(const analysis& a, const reference& r) {
    if (r.figure == "serve_weights_gib") { // the setup is serve's flags
        auto p = plan_serve(a, request_of(r));
        EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.err().message);
        return p.ok() && !p->ranks.empty() ? p->ranks[0].weights_bytes / gib : NAN;
    }
    const setup s = setup_of(r);
    const std::string& f = r.figure;
    const double params = double(a.counts.total);
    if (f == "weights_mib" || f == "loaded_mib" || f == "overhead_mib" || f == "kv_pool_tokens") {
        auto p = plan_memory(a, s.w);
        EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.err().message);
        if (!p.ok()) return NAN;
        if (f == "weights_mib" || f == "loaded_mib") return p->bytes.weights / mib;
        if (f == "overhead_mib") return p->bytes.overhead / mib;
        const uint64_t tokens = static_cast<uint64_t>(s.pool_gib * gib / double(p->kv_bytes_per_token));
        return double(tokens / 16 * 16); // vLLM allocates whole blocks of 16 tokens
    }
    if (f == "quant_weights_gib") return weights_of(a, s.w).bytes / gib;
    if (f == "file_gib") return weights_of(a, s.w).bytes / gib;
    if (f == "file_mib") return weights_of(a, s.w).bytes / mib;
    if (f == "bpw") return weights_of(a, s.w).bytes * 8.0 / params;
    if (f == "quantized_tensors" || f == "kept_tensors" || f == "quantized_bpw") {
        const char* input = f == "quantized_bpw" ? "quantized_bits_per_weight" : f.c_str();
        return std::stod(input_of(weights_of(a, s.w), input));
    }
    if (f == "dq_saving_bpw") {
        workload plain = s.w, dq = s.w;
        plain.quant = "nf4-no-dq";
        dq.quant = "nf4";
        double layer_params = 0; // the 2-D weights of the layers, which bitsandbytes quantizes
        for (const auto& t : a.sk.tensors)
            if (t.layer != no_index && t.shape.size() == 2) layer_params += double(t.elements);
        return double(weights_of(a, plain).bytes - weights_of(a, dq).bytes) * 8.0 / layer_params;
    }
    if (f == "model_states_per_param") return model_states(a, s.w) / params;
    if (f == "model_states_gb") return model_states(a, s.w) / params * s.psi / 1e9;
    if (f == "optimizer_per_param") return double(bytes_of(training_of(a, s.w), "optimizer_states")) / params;
    if (f == "training_total_mib") return training_total(a, s.w) / mib;
    if (f == "training_total_gib") return training_total(a, s.w) / gib;
    if (f == "selective_saving")
        return 1.0 - layer_activations(a, s.w, recompute_kind::selective) /
                         layer_activations(a, s.w, recompute_kind::none);
    if (f == "rank_weights_gib") {
        auto p = plan_parallel(a, s.w, s.tp, 1, {});
        EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.err().message);
        if (!p.ok() || p->ranks.size() != s.tp) return NAN;
        double farthest = NAN; // every rank is checked: the one farthest from the figure
        for (const auto& rank : p->ranks) {
            double bytes = 0;
            for (const auto& i : rank.items)
                if (i.name == "weights" || i.name == "rope_cache") bytes += double(i.bytes);
            if (std::isnan(farthest) ||
                std::fabs(bytes / gib - r.measured) > std::fabs(farthest - r.measured))
                farthest = bytes / gib;
        }
        return farthest;
    }
    ADD_FAILURE() << "unknown figure " << f;
    return NAN;
}

struct checked {
    reference ref;
    double predicted = 0;
    double error = 0; // as shown: relative for rel: and the others, absolute for abs: figures
    bool relative = true;
};

// Decimals a figure is shown with; -1: a whole number with thousands separators.
int decimals_of(const std::string& figure) {
    static const std::map<std::string, int> decimals = {
        {"kv_tokens",            -1},
        {"max_running_requests", -1},
        {"swa_cells",            -1},
        {"n_ctx",                -1},
        {"kv_pool_tokens",       -1},
        {"quantized_tensors",    -1},
        {"kept_tensors",         -1},
        {"fraction",             3 },
        {"rank_weights_gib",     3 },
        {"serve_weights_gib",    4 },
        {"quantized_bpw",        3 },
        {"dq_saving_bpw",        3 },
        {"selective_saving",     3 },
    };
    auto it = decimals.find(figure);
    return it == decimals.end() ? 2 : it->second;
}

std::string fmt(double v, const std::string& figure) {
    const int decimals = decimals_of(figure);
    if (decimals < 0) {
        std::string s = std::to_string(static_cast<long long>(std::llround(v)));
        for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
        return s;
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

std::string err_text(const checked& c) {
    char buf[64];
    if (c.relative)
        std::snprintf(buf, sizeof buf, "%+.2f%%", 100 * c.error);
    else
        std::snprintf(buf, sizeof buf, "%+.*f",
                      decimals_of(c.ref.figure) < 0 ? 0 : std::max(3, decimals_of(c.ref.figure)), c.error);
    return buf;
}

bool asserted(const reference& r) {
    return r.tolerance != "gap" && r.tolerance != "report";
}

// The row's check, by its own tolerance.
void check(const checked& c) {
    const reference& r = c.ref;
    const std::string& t = r.tolerance;
    const double rel = r.measured ? (c.predicted - r.measured) / r.measured : c.predicted;
    const auto range = t.find("..");
    if (t.rfind("rel:", 0) == 0 && range != std::string::npos) {
        EXPECT_GE(rel, std::stod(t.substr(4, range - 4)) - 1e-12)
            << "predicted " << c.predicted << ", measured " << r.measured;
        EXPECT_LE(rel, std::stod(t.substr(range + 2)) + 1e-12)
            << "predicted " << c.predicted << ", measured " << r.measured;
    } else if (t.rfind("rel:", 0) == 0) {
        EXPECT_LE(std::fabs(rel), std::stod(t.substr(4)) + 1e-12)
            << "predicted " << c.predicted << ", measured " << r.measured;
    } else if (t.rfind("abs:", 0) == 0) {
        EXPECT_LE(std::fabs(c.predicted - r.measured), std::stod(t.substr(4)) + 1e-12)
            << "predicted " << c.predicted << ", measured " << r.measured;
    } else if (t == "exact") {
        EXPECT_DOUBLE_EQ(c.predicted, r.measured);
    } else if (t == "at-most") {
        EXPECT_LE(c.predicted, r.measured);
    } else {
        EXPECT_FALSE(asserted(r)) << "unknown tolerance " << t;
    }
}

std::string summary(const std::vector<checked>& all) {
    std::string md =
        "| engine or kind | figure | checks | median error | worst asserted error | worse, not asserted "
        "|\n|---|---|---|---|---|---|\n";
    std::map<std::pair<std::string, std::string>, std::vector<const checked*>> by;
    for (const auto& c : all) by[{c.ref.engine, c.ref.figure}].push_back(&c);
    for (auto& [key, list] : by) {
        std::vector<double> errs;
        const checked* worst = nullptr;
        const checked* worst_any = list.front();
        for (const checked* c : list) {
            errs.push_back(std::fabs(c->error));
            if (asserted(c->ref) && (!worst || std::fabs(c->error) > std::fabs(worst->error))) worst = c;
            if (std::fabs(c->error) > std::fabs(worst_any->error)) worst_any = c;
        }
        std::sort(errs.begin(), errs.end());
        const double median =
            errs.size() % 2 ? errs[errs.size() / 2] : (errs[errs.size() / 2 - 1] + errs[errs.size() / 2]) / 2;
        checked m = *list.front();
        m.error = median;
        md += "| " + key.first + " | " + key.second + " | " + std::to_string(list.size()) + " | " +
              err_text(m) + " | " +
              (worst ? err_text(*worst) + " (" + worst->ref.model + ")" : std::string("-")) + " | " +
              (worst_any == worst ? std::string("-")
                                  : err_text(*worst_any) + " (" + worst_any->ref.model + ", " +
                                        worst_any->ref.tolerance + ")") +
              " |\n";
    }
    return md;
}

std::string markdown(const std::vector<checked>& all) {
    std::string md =
        "# Accuracy: predicted against published figures\n\n"
        "Generated by `scripts/accuracy.sh` from tests/data/reference/serve-logs.tsv (the published start-up "
        "figures\n"
        "of serving engines) and tests/data/reference/memory-figures.tsv (published memory, weight and "
        "training\n"
        "figures: accelerate, transformers, the ZeRO, QLoRA and activation-recomputation papers, llama.cpp's "
        "GGUF\n"
        "sizes, vLLM's weights and KV pools), each figure with its source and tolerance, and what the core "
        "predicts\n"
        "for the same model and setup (`modelplan serve`, `plan`, `train`); tests/core/accuracy.cpp checks "
        "every row.\n"
        "The test fails when this page differs from what it would say now, so it cannot drift from the "
        "tests.\n"
        "Errors: relative (%) for figures with a relative tolerance, absolute (in the figure's unit) for the "
        "others.\n"
        "\"gap\": a known gap (docs/serving.md), shown and not asserted; \"report\": shown and not asserted "
        "(a "
        "small\n"
        "pool magnifies small errors); \"at-most\": the prediction must not exceed the figure; "
        "\"rel:LO..HI\": the\n"
        "signed relative error lies between LO and HI. Each file's header says why each tolerance is what it "
        "is.\n\n"
        "## Median and worst error per figure\n\n" +
        summary(all);
    std::string section;
    for (const auto& c : all) {
        if (!c.ref.serve) continue;
        if (c.ref.engine != section) {
            section = c.ref.engine;
            md += "\n## " + section +
                  "\n\n| model | GPU | flags | figure | predicted | measured | error | tolerance | "
                  "source |\n|---|---|---|---|---|---|---|---|---|\n";
        }
        md += "| " + c.ref.model + " | " + c.ref.gpu + " | " + c.ref.knobs + " | " + c.ref.figure + " | " +
              fmt(c.predicted, c.ref.figure) + " | " + fmt(c.ref.measured, c.ref.figure) + " | " +
              err_text(c) + " | " + c.ref.tolerance + " | " + c.ref.source + " |\n";
    }
    md += "\n## Memory, weight and training figures\n";
    std::vector<std::string> kinds; // in the file's order
    for (const auto& c : all)
        if (!c.ref.serve && std::find(kinds.begin(), kinds.end(), c.ref.engine) == kinds.end())
            kinds.push_back(c.ref.engine);
    for (const std::string& kind : kinds) {
        md += "\n### " + kind +
              "\n\n| model | setup | figure | predicted | measured | error | tolerance | source |\n"
              "|---|---|---|---|---|---|---|---|\n";
        for (const auto& c : all) {
            if (c.ref.serve || c.ref.engine != kind) continue;
            std::string setup = c.ref.knobs;
            for (size_t i = 0; (i = setup.find('|', i)) != std::string::npos; i += 2)
                setup.replace(i, 1, "\\|");
            md += "| " + c.ref.model + " | " + (setup.empty() ? "(defaults)" : "`" + setup + "`") + " | " +
                  c.ref.figure + " | " + fmt(c.predicted, c.ref.figure) + " | " +
                  fmt(c.ref.measured, c.ref.figure) + " | " + err_text(c) + " | " + c.ref.tolerance + " | " +
                  c.ref.source + " |\n";
        }
    }
    return md;
}

TEST(Accuracy, EveryPublishedFigureAndTheGeneratedPage) {
    const auto refs = read_references();
    ASSERT_GT(refs.size(), 140u);
    std::map<std::string, analysis> models;
    std::vector<checked> all;
    std::map<std::pair<std::string, std::string>, bool> absolute;
    for (const auto& r : refs) absolute[{r.engine, r.figure}] |= r.tolerance.rfind("abs:", 0) == 0;
    for (const auto& r : refs) {
        SCOPED_TRACE(r.engine + " " + r.model + " " + r.gpu + " " + r.knobs + " " + r.figure);
        const std::string key = model_key(r);
        if (!models.count(key)) models.emplace(key, model_of(r.model, r.serve ? "" : r.knobs));
        checked c;
        c.ref = r;
        if (r.serve) {
            auto p = plan_serve(models.at(key), request_of(r));
            ASSERT_TRUE(p.ok()) << p.err().message;
            ASSERT_FALSE(p->ranks.empty());
            c.predicted = figure_of(*p, r.figure);
        } else {
            c.predicted = memory_figure_of(models.at(key), r);
        }
        c.relative = !absolute[{r.engine, r.figure}];
        c.error = c.relative ? (r.measured ? (c.predicted - r.measured) / r.measured : 0.0)
                             : c.predicted - r.measured;
        check(c);
        all.push_back(c);
    }
    const std::string md = markdown(all);
    const std::string path = data + "/../../docs/accuracy.md";
    if (std::getenv("MODELPLAN_WRITE_ACCURACY")) {
        std::ofstream(path) << md;
        return;
    }
    std::ifstream in(path);
    std::string committed((std::istreambuf_iterator<char>(in)), {});
    EXPECT_EQ(committed, md)
        << "docs/accuracy.md is not what the references and the predictions give now: run "
           "scripts/accuracy.sh";
}

} // namespace
} // namespace modelplan
