// The command line as the commands read it: what was given (command_line), the options a command may declare
// (rows in groups; main.cpp's table of commands names the groups of each command), and the core's request
// fields worded as the flags that set them. Free of CLI11: only main.cpp parses.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "modelplan/error.h"

namespace modelplan {
struct analysis;
struct config_options;
struct place_request;
struct workload;
} // namespace modelplan

namespace modelplan::cli {

// Everything the command line gave, one field per option; a command reads the options it declares.
struct command_line {
    std::string command;
    std::optional<std::string> operand; // MODEL, or PATH for inspect and load
    bool help = false;
    bool json = false;
    bool online = false; // a Hub id may be read from the Hub (docs/hub.md)
    // the model
    std::optional<std::string> dtype, head;
    bool summary = false; // skeleton
    // the workload of plan, fit and place: request field -> text, as given
    std::vector<std::pair<std::string, std::string>> workload;
    bool mtp = false, offload = false, fsdp = false;
    bool checkpoint_weights = false; // the weights as the checkpoint beside the config stores them
    std::optional<std::string> gpu;  // a catalog GPU
    // place
    std::optional<std::string> devices, gpu_count, cpu, strategy, tp, pp, map_out;
    bool disk = false, experts_on_cpu = false;
    std::vector<std::string> pins;
    // inspect, load: the model a checkpoint is read as
    std::optional<std::string> config;
    // instantiate, load
    std::optional<std::string> depth, device, device_map, threads, chunk, repeat, cpu_alloc;
    bool mmap = false, direct = false, prefault = false;
    // load in a group (docs/loading.md#distributed-loading); --tp and --pp are place's fields above
    std::optional<std::string> nproc, timeout, min_run;
    bool read_once = false, checksums = false;
    std::vector<std::string> args; // the arguments after the command, as given (--nproc passes them on)
    // serve: the engine; its knobs are in `workload`, under the engine's names
    std::optional<std::string> engine, engine_version;
    bool enforce_eager = false, disable_cuda_graph = false, kv_unified = false, cpu_moe = false,
         enable_lora = false;
    std::vector<std::string> override_tensor;      // llama.cpp's -ot, one value per use, in order
    std::optional<std::string> target_concurrency; // serve's inverse questions
    bool longest_context = false, sweep = false;
};

// Where an option puts what it is given.
struct workload_value {}; // command_line::workload, under the row's request field
using option_target = std::variant<bool command_line::*,                       // a flag
                                   std::optional<std::string> command_line::*, // one value
                                   std::vector<std::string> command_line::*, // one value per use, repeatable
                                   workload_value>;

struct option_row {
    const char* names; // as CLI11 reads them: "--dtype", "-h,--help"
    option_target target;
    const char* field = nullptr; // the core's request field it sets (docs/json.md), when there is one
    const char* example = "";    // ends "--NAME needs a value"
};
using option_group = std::vector<option_row>;

// llama-server's multi-letter short flags (-ngl, -np, -ctk, ...) as their long forms; other arguments as
// given.
std::string long_form(const std::string& arg);

// The groups (command-line.cpp lists their rows). Every command takes option_groups::output.
namespace option_groups {
extern const option_group output;      // -h/--help, --json
extern const option_group model;       // --dtype, --head
extern const option_group skeleton;    // --summary
extern const option_group workload;    // --batch, --seq, ..., --checkpoint-weights (plan, fit, place)
extern const option_group plan;        // --gpu, --gpus (data-parallel size), --offload, --fsdp (plan, fit)
extern const option_group place;       // devices, placement, parallelism, --device-map-out
extern const option_group inspect;     // --config
extern const option_group instantiate; // --depth
extern const option_group load;        // --config, --device, --device-map, --dtype, ...
extern const option_group serve;       // --engine, --gpu, --gpus and the engine's knobs under its names
} // namespace option_groups

// The name an option is written with in messages: its long name ("--help" of "-h,--help").
std::string option_name(const option_row& row);

// A suggestion of the core ("seq 8192 (the longest context ...)", "3 x rtx-4090 would fit (gpu_count 3)")
// with the request fields it names as this program's flags ("--seq 8192 ...", "(--gpus 3)").
std::string suggestion_worded_for_cli(std::string text);

// The core's error message as this program's users read it: a message that opens with the request field it is
// about ("kv_dtype: ...", "pins[0]: ...", found by its path) opens with the flag instead, and fields that are
// no ordinary words (kv_dtype, gpu_count, experts_on_cpu, ...) read as their flags wherever they appear. A
// message that names flags already is left as it is.
std::string worded_for_cli(const error& e);

// A count as the command line gives it: digits only, at most nine of them (0 included).
std::optional<uint64_t> parse_count(const std::string& text);

// --dtype and --head as the core's config options; the error is the message to show.
result<config_options> read_config_options(const command_line& cl);
// MODEL (the default preset when none is given) read with --dtype and --head; the error is the message to
// show.
result<analysis> read_model(const command_line& cl);

// The place options as the core's request; the counts (--tp, --pp, --gpus) are checked here, the rest by the
// core (resolve_place).
result<place_request> read_place_request(const command_line& cl);

// The workload options into `w` (--mtp, --offload and --fsdp included); the error names the flag.
std::optional<error> read_workload(const command_line& cl, workload& w);

} // namespace modelplan::cli
