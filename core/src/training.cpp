// Training memory (docs/training.md).
#include "modelplan/training.h"

namespace modelplan {

result<std::vector<plan_item>> plan_training(const analysis&, const workload&, const plan_item&) {
    return make_error(error_code::bad_request, "training plans are not implemented yet", "mode");
}

} // namespace modelplan
