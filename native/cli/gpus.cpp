// `modelplan gpus`: the GPU catalog (models/SOURCES-GPU.md).
#include <cstdio>

#include "commands.h"
#include "modelplan/devices.h"
#include "modelplan/report.h"
#include "modelplan/text.h"
#include "output.h"
#include "table.h"

namespace modelplan::cli {

const char* const gpus_help = R"(usage: modelplan gpus [--json]

The GPU catalog: memory as nvidia-smi / rocm-smi report it, bandwidth, dense bf16/fp16 throughput,
bf16/fp8 support. Sources: models/SOURCES-GPU.md.
)";

namespace {

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
    for (const auto& g : gpu_catalog())
        tab.row({g.key, g.name, binary_size(g.memory_bytes()), number(g.bandwidth_gbps),
                 number(g.bf16_tflops), g.bf16 ? "yes" : "no", g.fp8 ? "yes" : "no"});
    return tab.render(0) +
           "memory as the driver reports it; '-': no sourced figure (models/SOURCES-GPU.md)\n";
}

} // namespace

int run_gpus(const command_line& cl) {
    print(cl.json ? gpus_json() : render_gpus());
    return exit_ok;
}

} // namespace modelplan::cli
