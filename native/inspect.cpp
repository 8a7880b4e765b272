#include "inspect.h"

#include <cstdio>

namespace modelplan::cli {

int run_inspect(const std::vector<std::string>&) {
    std::fprintf(stderr, "modelplan: error: inspect is not built yet\n");
    return 2;
}

} // namespace modelplan::cli
