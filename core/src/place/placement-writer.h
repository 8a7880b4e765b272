// Internal: JSON pieces shared by the device-map, placement and parallel-plan writers.
#pragma once

#include <string>
#include <vector>

#include "util/json-util.h"
#include "modelplan/device-map.h"
#include "modelplan/placement.h"

namespace modelplan {

using json_writer = rapidjson::PrettyWriter<rapidjson::StringBuffer>;

// {"module": 0, "other": "cpu", ...}: GPUs as integers, as transformers' from_pretrained accepts them.
void write_device_map(json_writer& out, const device_map& map);

// "key": [{"name": ..., "bytes": N}, ...]
void write_named_bytes(json_writer& out, const char* key, const std::vector<placed_item>& items);

// "key": ["...", ...]
void write_strings(json_writer& out, const char* key, const std::vector<std::string>& list);

} // namespace modelplan
