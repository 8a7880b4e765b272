// `modelplan instantiate` and `modelplan load`: the CLI commands of the LibTorch adapter (built only with
// -DMODELPLAN_WITH_TORCH=ON).
#pragma once

#include <string>
#include <vector>

namespace modelplan::cli {

// args[0] is the command. Return the process exit status (0 ok, 1 load failed, 2 bad input or usage).
int run_instantiate(const std::vector<std::string>& args);
int run_load(const std::vector<std::string>& args);

} // namespace modelplan::cli
