// `modelplan presets`: the bundled model configs.
#include "modelplan/presets.h"

#include <map>
#include <string>
#include <vector>

#include "commands.h"
#include "modelplan/report.h"
#include "modelplan/text.h"
#include "output.h"
#include "table.h"

namespace modelplan::cli {

const char* const presets_help = R"(usage: modelplan presets [--json]

The bundled presets: real published config.json files, embedded in the program, usable by name as MODEL.
Sources: models/SOURCES.md.

Grouped by family (model_type); the kind column says which are mixture-of-experts ("moe"),
vision-language, hybrid (state-space or linear-attention layers beside attention), state-space
(no attention), encoders and
encoder-decoders, and which carry multi-token-prediction layers ("mtp").

options:
  --json     print JSON: {"default", "presets": [{"name", "repo", "model_type", "architecture",
             "kinds", "params", "active"}]}
  -h, --help show this help
)";

namespace {

std::string join_kinds(const std::vector<std::string>& kinds) {
    std::string out;
    for (const std::string& k : kinds) out += (out.empty() ? "" : ", ") + k;
    return out;
}

// One row per preset, grouped by family (model_type, in the order families first appear in the list); the
// family is printed on its group's first row only.
std::string render_presets() {
    table tab({
        {"family",     align::left },
        {"preset",     align::left },
        {"repository", align::left },
        {"kind",       align::left },
        {"params",     align::right},
        {"active",     align::right}
    });
    struct row {
        std::string family, name, repo, kind, params, active;
    };
    std::vector<std::string> order;
    std::map<std::string, std::vector<row>> groups;
    const std::string default_name = default_preset().name;
    for (const auto& p : presets()) {
        auto a = analyze(p.name, p.config_json, {});
        row r{"", p.name, p.repo, "", "", ""};
        if (r.name == default_name) r.name += " (default)";
        if (!a) {
            r.family = "(error)";
            r.kind = "error: " + a.err().message;
        } else {
            r.family = a->spec.model_type;
            r.kind = join_kinds(model_kinds(a->spec));
            r.params = short_count(a->counts.total);
            r.active = short_count(a->counts.active);
        }
        if (!groups.count(r.family)) order.push_back(r.family);
        groups[r.family].push_back(std::move(r));
    }
    for (const std::string& family : order) {
        bool first = true;
        for (const row& r : groups[family]) {
            tab.row({first ? r.family : "", r.name, r.repo, r.kind, r.params, r.active});
            first = false;
        }
    }
    return tab.render(0) + "\n" + std::to_string(presets().size()) + " presets in " +
           std::to_string(order.size()) +
           " families. kind: moe (routed experts), vision-language (a vision tower), hybrid (state-space "
           "or linear-attention layers beside attention), state-space (no attention), encoder, "
           "encoder-decoder, mtp (multi-token-prediction layers).\n";
}

} // namespace

int run_presets(const command_line& cl) {
    print(cl.json ? presets_json() : render_presets());
    return exit_ok;
}

} // namespace modelplan::cli
