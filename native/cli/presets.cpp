// `modelplan presets`: the bundled model configs.
#include "modelplan/presets.h"
#include "commands.h"
#include "modelplan/report.h"
#include "modelplan/text.h"
#include "output.h"
#include "table.h"

namespace modelplan::cli {

const char* const presets_help = R"(usage: modelplan presets [--json]

The bundled presets: real published config.json files, embedded in the program, usable by name as MODEL.
Sources: models/SOURCES.md.

options:
  --json     print JSON: {"default", "presets": [{"name", "repo", "model_type", "architecture",
             "params", "active"}]}
  -h, --help show this help
)";

namespace {

std::string render_presets() {
    table tab({
        {"preset",     align::left },
        {"repository", align::left },
        {"model_type", align::left },
        {"params",     align::right},
        {"active",     align::right}
    });
    const std::string default_name = default_preset().name;
    for (const auto& p : presets()) {
        auto a = analyze(p.name, p.config_json, {});
        std::string name = p.name;
        if (name == default_name) name += " (default)";
        if (!a) {
            tab.row({name, p.repo, "error: " + a.err().message, "", ""});
            continue;
        }
        tab.row(
            {name, p.repo, a->spec.model_type, short_count(a->counts.total), short_count(a->counts.active)});
    }
    return tab.render(0);
}

} // namespace

int run_presets(const command_line& cl) {
    print(cl.json ? presets_json() : render_presets());
    return exit_ok;
}

} // namespace modelplan::cli
