// libFuzzer target: the command line. The input is an argv split at NUL bytes (a real argv holds none). When
// the first argument names a command, the rest are its arguments; otherwise the first byte picks a command
// and every argument is its. Then, as main.cpp's run() does before a command runs: CLI11 reads them into a
// command_line (read_command_line, main.cpp), and the values are checked by the core as the commands check
// them (--dtype and --head, the workload options through set_workload_option, the place options through
// resolve_place, --gpu through the catalog). The commands themselves (files, output) never run.
//
// Invariants: no exception escapes, no sanitizer report, and every refusal is a message of at most
// max_message bytes (values are quoted with quote_value, cut at 64 bytes) with an error code that is not
// `internal`. Build and run: fuzz/build.sh (docs/reliability.md, "Fuzzing").
#define MODELPLAN_CLI_NO_MAIN 1
#include "main.cpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "modelplan/devices.h"
#include "modelplan/memory.h"
#include "modelplan/placement.h"

namespace {

// A message quotes a few values of at most 64 bytes each and names flags; 1 KiB is far more than any needs.
constexpr size_t max_message = 1024;

void check_message(const std::string& message) {
    if (message.empty() || message.size() > max_message) __builtin_trap();
}

void check(const modelplan::error& e) {
    if (e.code == modelplan::error_code::internal) __builtin_trap();
    check_message(e.message);
    check_message(worded_for_cli(e));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    std::vector<std::string> args;
    std::string text(reinterpret_cast<const char*>(data), size);
    for (size_t start = 0; start <= text.size();) {
        size_t nul = text.find('\0', start);
        if (nul == std::string::npos) nul = text.size();
        args.push_back(text.substr(start, nul - start));
        start = nul + 1;
    }

    const command_row* command = find_command(args[0]);
    if (command)
        args.erase(args.begin());
    else
        command = &commands[data[0] % commands.size()];
    if (!command->run) return 0; // instantiate and load without LibTorch

    command_line cl;
    if (auto problem = read_command_line(*command, args, cl)) {
        check_message(*problem);
        return 0;
    }

    auto config = read_config_options(cl);
    if (!config) check(config.err());

    modelplan::workload w;
    if (auto e = read_workload(cl, w)) check(*e);

    if (cl.command == std::string("place")) {
        auto request = read_place_request(cl);
        if (!request) {
            check(request.err());
        } else {
            auto setup = modelplan::resolve_place(*request, true);
            if (!setup) check(setup.err());
        }
    } else if (cl.gpu) { // plan and fit
        auto gpu = modelplan::find_gpu(*cl.gpu);
        if (!gpu) check(gpu.err());
    }
    return 0;
}
