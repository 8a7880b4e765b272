// The commands of the modelplan program, one file each (params.cpp, plan.cpp, ...): each has its help text
// and runs from the command line main.cpp has read, returning the exit status (output.h).
#pragma once

#include "command-line.h"

namespace modelplan::cli {

extern const char* const params_help;
extern const char* const skeleton_help;
extern const char* const presets_help;
extern const char* const plan_help;
extern const char* const fit_help;
extern const char* const gpus_help;
extern const char* const place_help;
extern const char* const inspect_help;
extern const char* const serve_help;

int run_params(const command_line& cl);
int run_skeleton(const command_line& cl);
int run_presets(const command_line& cl);
int run_plan(const command_line& cl);
int run_fit(const command_line& cl);
int run_gpus(const command_line& cl);
int run_place(const command_line& cl);   // 3 when it does not fit
int run_inspect(const command_line& cl); // 1 when verification fails
int run_serve(const command_line& cl);   // 3 when the engine would not start

#ifdef MODELPLAN_WITH_TORCH
// torch-commands.cpp: the commands of the LibTorch adapter (docs/loading.md); their help is in launch.h.
int run_instantiate(const command_line& cl); // 1 when the module tree's count differs from the core's
int run_load(const command_line& cl);        // 1 when verification or loading fails
#endif

} // namespace modelplan::cli
