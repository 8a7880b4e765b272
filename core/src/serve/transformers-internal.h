// Internal: transformers as a serving engine (transformers.cpp), accelerate's placement in serve's terms.
#pragma once

#include "modelplan/devices.h"
#include "modelplan/serve.h"

namespace modelplan::transformers_engine {

result<serve_plan> plan(const analysis& a, const serve_request& r, const gpu_row& gpu);

} // namespace modelplan::transformers_engine
