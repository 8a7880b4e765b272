// Internal: writes a device map into a JSON document being built (device-map.cpp).
#pragma once

#include "json-util.h"
#include "modelplan/device-map.h"

namespace modelplan {

// {"module": 0, "other": "cpu", ...}: GPUs as integers, as transformers' from_pretrained accepts them.
void write_device_map(rapidjson::PrettyWriter<rapidjson::StringBuffer>& out, const device_map& map);

} // namespace modelplan
