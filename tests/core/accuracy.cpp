// Every published start-up figure of tests/data/reference/serve-logs.tsv, predicted by `serve` and checked
// within its tolerance; and docs/accuracy.md, which is generated from the same file and these predictions:
// the test fails when the committed page differs from what it would say now (regenerate it with
// scripts/accuracy.sh, which runs this test with MODELPLAN_WRITE_ACCURACY=1).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include <gtest/gtest.h>

#include "modelplan/presets.h"
#include "modelplan/serve.h"

namespace modelplan {
namespace {

const std::string data = MODELPLAN_TEST_DATA;

struct reference {
    std::string engine, model, gpu, knobs, figure, tolerance, source;
    double measured = 0;
};

std::vector<reference> read_references() {
    std::ifstream in(data + "/reference/serve-logs.tsv");
    EXPECT_TRUE(in) << "tests/data/reference/serve-logs.tsv";
    std::vector<reference> out;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::vector<std::string> f;
        std::stringstream ss(line);
        std::string cell;
        while (std::getline(ss, cell, '\t')) f.push_back(cell);
        EXPECT_EQ(f.size(), 8u) << line;
        if (f.size() != 8) continue;
        out.push_back({f[0], f[1], f[2], f[3], f[4], f[6], f[7], std::stod(f[5])});
    }
    return out;
}

analysis model_of(const std::string& model) {
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
    auto a = analyze(name, config, {});
    EXPECT_TRUE(a.ok()) << model << ": " << (a.ok() ? "" : a.err().message);
    return a.ok() ? std::move(*a) : analysis{};
}

serve_request request_of(const reference& r) {
    serve_request q;
    q.engine = r.engine;
    q.gpu = r.gpu;
    std::stringstream ss(r.knobs);
    std::string kv;
    while (ss >> kv) {
        auto eq = kv.find('=');
        EXPECT_NE(eq, std::string::npos) << kv;
        if (eq == std::string::npos) continue;
        EXPECT_FALSE(set_serve_option(q, kv.substr(0, eq), kv.substr(eq + 1), kv.substr(0, eq))) << kv;
    }
    return q;
}

constexpr double gib = 1073741824.0, mib = 1048576.0;

// The plan's value of a figure (names: the file's header).
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
    if (f == "compute_mib") return k.activation_peak_bytes / mib;
    if (f == "full_kv_mib") return (p.k_bytes_total + p.v_bytes_total) / mib;
    if (f == "swa_kv_mib") return (p.swa_k_bytes + p.swa_v_bytes) / mib;
    if (f == "all_kv_mib") return (p.k_bytes_total + p.v_bytes_total + p.swa_k_bytes + p.swa_v_bytes) / mib;
    if (f == "swa_cells") return static_cast<double>(p.swa_cells);
    if (f == "n_ctx") return static_cast<double>(p.n_ctx);
    ADD_FAILURE() << "unknown figure " << f;
    return NAN;
}

struct checked {
    reference ref;
    double predicted = 0;
    double error = 0; // relative for rel: and for gap/report/exact, absolute for abs:
    bool relative = true;
};

std::string fmt(double v, const std::string& figure) {
    char buf[64];
    const bool whole = figure == "kv_tokens" || figure == "max_running_requests" || figure == "swa_cells" ||
                       figure == "n_ctx";
    if (whole) {
        std::string s = std::to_string(static_cast<long long>(std::llround(v)));
        for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
        return s;
    }
    std::snprintf(buf, sizeof buf, figure == "fraction" ? "%.3f" : "%.2f", v);
    return buf;
}

std::string err_text(const checked& c) {
    char buf[64];
    if (c.relative)
        std::snprintf(buf, sizeof buf, "%+.2f%%", 100 * c.error);
    else
        std::snprintf(buf, sizeof buf, "%+.3f", c.error);
    return buf;
}

std::string markdown(const std::vector<checked>& all) {
    std::string md =
        "# Accuracy: predicted against published figures\n\n"
        "Generated by `scripts/accuracy.sh` from tests/data/reference/serve-logs.tsv (the published start-up "
        "figures\n"
        "tests/core/accuracy.cpp checks, each with its source and tolerance) and what `modelplan serve` "
        "predicts\n"
        "for the same model, GPU and flags. The test fails when this page differs from what it would say "
        "now, so it\n"
        "cannot drift from the tests. Errors: relative (%) for figures with a relative tolerance, absolute "
        "(in the\n"
        "figure's unit) for the others. \"gap\": a known gap (docs/serving.md), shown and not asserted; "
        "\"report\":\n"
        "shown and not asserted (a small pool magnifies small errors).\n\n"
        "Not yet here: the figures of the earlier checks (transformers' and accelerate's memory, llama.cpp's "
        "GGUF\n"
        "sizes in tests/core, ZeRO and QLoRA), which their own tests assert; they are to move into reference "
        "files\n"
        "like this one.\n\n## Median and worst error per figure\n\n"
        "| engine | figure | checks | median error | worst asserted error | worse, not asserted |\n"
        "|---|---|---|---|---|---|\n";
    std::map<std::pair<std::string, std::string>, std::vector<const checked*>> by;
    for (const auto& c : all) by[{c.ref.engine, c.ref.figure}].push_back(&c);
    for (auto& [key, list] : by) {
        std::vector<double> errs;
        const checked* worst = nullptr;
        const checked* worst_any = list.front();
        for (const checked* c : list) {
            errs.push_back(std::fabs(c->error));
            const bool asserted = c->ref.tolerance != "gap" && c->ref.tolerance != "report";
            if (asserted && (!worst || std::fabs(c->error) > std::fabs(worst->error))) worst = c;
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
    std::string engine;
    for (const auto& c : all) {
        if (c.ref.engine != engine) {
            engine = c.ref.engine;
            md += "\n## " + engine +
                  "\n\n| model | GPU | flags | figure | predicted | measured | error | tolerance | "
                  "source |\n|---|---|---|---|---|---|---|---|---|\n";
        }
        md += "| " + c.ref.model + " | " + c.ref.gpu + " | " + c.ref.knobs + " | " + c.ref.figure + " | " +
              fmt(c.predicted, c.ref.figure) + " | " + fmt(c.ref.measured, c.ref.figure) + " | " +
              err_text(c) + " | " + c.ref.tolerance + " | " + c.ref.source + " |\n";
    }
    return md;
}

TEST(Accuracy, EveryPublishedFigureAndTheGeneratedPage) {
    const auto refs = read_references();
    ASSERT_GT(refs.size(), 100u);
    std::map<std::string, analysis> models;
    std::vector<checked> all;
    std::map<std::pair<std::string, std::string>, bool> absolute;
    for (const auto& r : refs) absolute[{r.engine, r.figure}] |= r.tolerance.rfind("abs:", 0) == 0;
    for (const auto& r : refs) {
        SCOPED_TRACE(r.engine + " " + r.model + " " + r.gpu + " " + r.knobs + " " + r.figure);
        if (!models.count(r.model)) models.emplace(r.model, model_of(r.model));
        auto p = plan_serve(models.at(r.model), request_of(r));
        ASSERT_TRUE(p.ok()) << p.err().message;
        ASSERT_FALSE(p->ranks.empty());
        checked c;
        c.ref = r;
        c.predicted = figure_of(*p, r.figure);
        c.relative = !absolute[{r.engine, r.figure}];
        c.error = c.relative ? (r.measured ? (c.predicted - r.measured) / r.measured : 0.0)
                             : c.predicted - r.measured;
        if (r.tolerance.rfind("rel:", 0) == 0 || r.tolerance.rfind("abs:", 0) == 0) {
            const double tol = std::stod(r.tolerance.substr(4));
            EXPECT_LE(std::fabs(c.error), tol + 1e-12)
                << "predicted " << c.predicted << ", measured " << r.measured;
        } else if (r.tolerance == "exact") {
            EXPECT_DOUBLE_EQ(c.predicted, r.measured);
        } else {
            EXPECT_TRUE(r.tolerance == "gap" || r.tolerance == "report") << r.tolerance;
        }
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
