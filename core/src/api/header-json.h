// Internal: what every JSON answer about a model read from checkpoint headers adds (header-model.h,
// docs/json.md): "source": "checkpoint headers", "checkpoint" and "generic" [{"item", "note"}]. A model of a
// family adds nothing.
#pragma once

#include "modelplan/report.h"
#include "util/json-util.h"

namespace modelplan {

void write_header_source(json_writer& w, const analysis& a);

} // namespace modelplan
