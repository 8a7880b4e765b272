// Internal: a serving plan without its fixes (search.cpp plans many; the fixes are the answer's only).
#pragma once

#include "modelplan/serve.h"

namespace modelplan::serve_detail {

result<serve_plan> plan_without_fixes(const analysis& a, const serve_request& r);

} // namespace modelplan::serve_detail
