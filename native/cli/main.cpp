// modelplan: the command-line program. A table of commands, each with the groups of options it takes
// (command-line.h); CLI11 reads the arguments into a command_line, and the command's file does the rest.
//
// Why CLI11 (Debian's libcli11-dev, header-only, used in this file only): it reads `--name VALUE`,
// `--name=VALUE`, flags and operands from declared options, and finds a missing value and a repeated option,
// so the rules are rows of a table instead of an if-chain per command. What stays ours, on purpose:
// - The help texts, written per command with the JSON shapes and defaults (tests/cli reads them); CLI11's
//   generated help would lose that. -h/--help is an ordinary flag, honoured after every other check.
// - The values: options stay text and the core checks them (set_workload_option, parse_dtype, resolve_place),
//   so the CLI, the JSON requests and the page share one rule and one message per field. CLI11's typed
//   options and validators would write a second rule with other messages.
// - The messages and exit status 2: CLI11's exceptions become the messages users and tests know ("unknown
//   option --x", "--dtype needs a value (e.g. bf16)"); unknown options are collected as extras for that.
// - Dispatch on the first argument (one CLI::App per command): CLI11's subcommands, by default, take a
//   sibling's name where MODEL goes (`modelplan params gpus` would run gpus too).
// The cost: CLI11 makes this file slow to compile (16 s of CPU at -O3; a command file takes 4 s).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "command-line.h"
#include "commands.h"
#include "launch.h"
#include "modelplan/text.h"
#include "modelplan/version.h"
#include "output.h"

using namespace modelplan::cli;
namespace og = modelplan::cli::option_groups;

namespace {

const char* const main_help = R"(modelplan - what a model is made of, before touching its weights

usage: modelplan COMMAND [MODEL] [options]

commands:
  params     parameter counts: total, embedding, non-embedding, active per token, by role and by layer
  skeleton   every parameter's checkpoint name, shape, dtype and role; tied aliases; known buffers
  presets    the bundled model configs
  plan       memory for a workload (inference or training), as named items; with --gpu a verdict
  fit        against a GPU: fits?, the longest context, the largest batch, the smallest quantization
  place      device maps across GPUs, CPU and disk (with runtime memory); tensor/pipeline-parallel plans
  serve      what vLLM will do on these GPUs: its start-up figures per GPU, KV tokens, concurrency, the command
  gpus       the GPU catalog
  inspect    checkpoint headers (safetensors, index, GGUF): inventory, totals, verification against a config
  instantiate  the model as a LibTorch module tree on the meta device, no weight memory (LibTorch builds)
  load       a safetensors checkpoint into LibTorch tensors on CPU or CUDA, verified first (LibTorch builds)

MODEL is a path (a config.json; a folder holding one, checkpoint files or both; a .gguf file; a
.safetensors file or index with its config.json beside it), a preset name (see `modelplan presets`),
or a Hugging Face id org/name[@revision]: a preset's repository, else the snapshot in the local
Hugging Face cache ($HF_HUB_CACHE, $HF_HOME/hub or ~/.cache/huggingface/hub), else, with --online
(or MODELPLAN_ONLINE=1), the Hub itself: file list, config.json and checkpoint headers only ($HF_ENDPOINT,
$HF_TOKEN; docs/hub.md). When omitted, the default preset is used.

options (every command):
  --json     print stable JSON instead of tables (docs/json.md)
  -h, --help show help for a command
  --online   (commands that take MODEL) read a Hugging Face id from the Hub when no preset or cache has it

`modelplan COMMAND --help` shows a command's own options.
exit status: 0 success, 2 bad input or usage (the message goes to stderr, nothing to stdout).
)";

// A command: its name, its operand (nullptr: it takes none), the option groups it takes besides og::output,
// its help text and what runs it (nullptr: not in this build).
struct command_row {
    const char* name;
    const char* operand;
    std::vector<const option_group*> options;
    const char* help;
    int (*run)(const command_line&);
};

const std::vector<command_row> commands = {
    {"params",      "MODEL", {&og::model},                            params_help,      run_params     },
    {"skeleton",    "MODEL", {&og::model, &og::skeleton},             skeleton_help,    run_skeleton   },
    {"presets",     nullptr, {},                                      presets_help,     run_presets    },
    {"plan",        "MODEL", {&og::model, &og::workload, &og::plan},  plan_help,        run_plan       },
    {"fit",         "MODEL", {&og::model, &og::workload, &og::plan},  fit_help,         run_fit        },
    {"place",       "MODEL", {&og::model, &og::workload, &og::place}, place_help,       run_place      },
    {"serve",       "MODEL", {&og::model, &og::serve},                serve_help,       run_serve      },
    {"gpus",        nullptr, {},                                      gpus_help,        run_gpus       },
    {"inspect",     "PATH",  {&og::inspect},                          inspect_help,     run_inspect    },
#ifdef MODELPLAN_WITH_TORCH
    {"instantiate", "MODEL", {&og::model, &og::instantiate},          instantiate_help, run_instantiate},
    {"load",        "PATH",  {&og::load},                             load_help,        run_load       },
#else  // in modelplan-torch, when the build has it (launch.h); load --nproc starts the ranks from here
    {"instantiate", "MODEL", {&og::model, &og::instantiate}, instantiate_help, run_in_torch_program},
    {"load", "PATH", {&og::load}, load_help, run_load_front},
#endif
};

const command_row* find_command(const std::string& name) {
    for (const command_row& c : commands)
        if (name == c.name) return &c;
    return nullptr;
}

struct declared_option {
    const option_row* row;
    CLI::Option* option;
};

// The command's options as CLI11 options. Each takes everything it is given: a repeat is reported afterwards,
// in our words.
std::vector<declared_option> declare_options(CLI::App& app, const command_row& c) {
    std::vector<declared_option> declared;
    std::vector<const option_group*> groups = {&og::output};
    groups.insert(groups.end(), c.options.begin(), c.options.end());
    for (const option_group* group : groups)
        for (const option_row& row : *group) {
            CLI::Option* o = std::holds_alternative<bool command_line::*>(row.target)
                                 ? app.add_flag(row.names)->disable_flag_override()
                                 : app.add_option(row.names)->allow_extra_args(false);
            o->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
            declared.push_back({&row, o});
        }
    return declared;
}

// CLI11's complaint about one option ("--dtype: 1 required TEXT missing", "json was given a disallowed flag
// override") in our words.
std::string option_problem(const CLI::ParseError& e, const std::vector<declared_option>& declared) {
    std::string what = e.what();
    std::string name = what.substr(0, what.find_first_of(": "));
    name = name.substr(name.find_first_not_of('-'));
    for (const declared_option& d : declared) {
        std::string flag = option_name(*d.row);
        if (flag.substr(flag.find_first_not_of('-')) == name)
            return std::holds_alternative<bool command_line::*>(d.row->target)
                       ? flag + " takes no value"
                       : flag + " needs a value" + d.row->example;
    }
    return what;
}

// What CLI11 did not take: an unknown option, or an operand too many.
std::optional<std::string> extras_problem(const CLI::App& app, const command_row& c, const command_line& cl) {
    std::vector<std::string> extras = app.remaining();
    if (extras.empty()) return std::nullopt;
    const std::string& extra = extras.front();
    // An argument is shown as given, or quoted and cut (quote_value) when it is long.
    auto shown = [](const std::string& arg) { return arg.size() <= 64 ? arg : modelplan::quote_value(arg); };
    if (extra[0] == '-') return "unknown option " + shown(extra);
    if (!c.operand) return std::string(c.name) + " takes no MODEL";
    return std::string("more than one ") + c.operand + " given (" + shown(cl.operand.value_or("")) + ", " +
           shown(extra) + ")";
}

// Puts what an option was given where its row says.
void store(const option_row& row, const std::vector<std::string>& values, command_line& cl) {
    struct visitor {
        const option_row& row;
        const std::vector<std::string>& values;
        command_line& cl;
        void operator()(bool command_line::*flag) const { cl.*flag = true; }
        void operator()(std::optional<std::string> command_line::*value) const { cl.*value = values.front(); }
        void operator()(std::vector<std::string> command_line::*list) const { cl.*list = values; }
        void operator()(workload_value) const { cl.workload.emplace_back(row.field, values.front()); }
    };
    std::visit(visitor{row, values, cl}, row.target);
}

// Reads the arguments after the command into `cl`; a usage problem comes back as its message.
std::optional<std::string> read_command_line(const command_row& c, std::vector<std::string> args,
                                             command_line& cl) {
    CLI::App app;
    app.set_help_flag(); // -h/--help is a row of og::output
    app.allow_extras();  // unknown options and operands too many: extras_problem
    CLI::Option* operand = c.operand ? app.add_option(c.operand) : nullptr;
    std::vector<declared_option> declared = declare_options(app, c);
    if (std::string(c.name) == "serve")
        for (std::string& a : args) a = long_form(a);
    std::reverse(args.begin(), args.end()); // CLI11 takes them from the back
    try {
        app.parse(args);
    } catch (const CLI::ArgumentMismatch& e) {
        return option_problem(e, declared);
    } catch (const CLI::ParseError& e) {
        return std::string(e.what());
    }
    cl.command = c.name;
    if (operand && operand->count()) cl.operand = operand->results().front();
    if (auto problem = extras_problem(app, c, cl)) return problem;
    for (const declared_option& d : declared) {
        bool repeatable = std::holds_alternative<std::vector<std::string> command_line::*>(d.row->target);
        if (d.option->count() > 1 && !repeatable) return option_name(*d.row) + " is given more than once";
        if (d.option->count()) store(*d.row, d.option->results(), cl);
    }
    return std::nullopt;
}

} // namespace

namespace {

int run(const std::vector<std::string>& args) {
    if (args.empty() || args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
        print(main_help);
        return exit_ok;
    }
    if (args[0] == "--version") {
        print(std::string("modelplan ") + modelplan::version + "\n");
        return exit_ok;
    }
    const command_row* command = find_command(args[0]);
    if (!command)
        return usage_error(
            "unknown command " + modelplan::quote_value(args[0]) +
                "; expected params, skeleton, presets, plan, fit, place, serve, gpus or inspect",
            "");
    command_line cl;
    cl.args.assign(args.begin() + 1, args.end());
    if (auto problem = read_command_line(*command, {args.begin() + 1, args.end()}, cl))
        return usage_error(*problem, command->name);
    if (cl.help) {
        print(command->help);
        return exit_ok;
    }
    return command->run(cl);
}

} // namespace

// fuzz/fuzz-options.cpp includes this file for read_command_line and the table, with a main of its own.
#ifndef MODELPLAN_CLI_NO_MAIN
int main(int argc, char** argv) {
    int status = run({argv + 1, argv + argc});
    // An answer that did not reach stdout (a full disk, a closed pipe) is a failure, not a success.
    return finish_output(status);
}
#endif
