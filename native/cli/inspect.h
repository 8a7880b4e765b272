// `modelplan inspect PATH [--config MODEL] [--json]`: checkpoint headers, inventory and verification.
#pragma once

#include <string>
#include <vector>

namespace modelplan::cli {

// args[0] is "inspect". Returns the process exit status (0 ok, 1 verification failed, 2 bad input).
int run_inspect(const std::vector<std::string>& args);

} // namespace modelplan::cli
