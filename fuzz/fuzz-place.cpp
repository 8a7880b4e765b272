// libFuzzer target: placement requests and device maps from text. The input is read three ways: as a
// transformers device_map (parse_device_map), as a --devices list (parse_devices), and as a JSON place
// request
// ({"model": "<preset>", "devices"/"gpu", "gpu_count", "cpu", "disk", "strategy", "experts_on_cpu", "pins",
// "tp", "pp", workload keys}) answered by handle_request. Inline configs are left to fuzz-config (their
// skeletons can be legitimately huge). Build and run: fuzz/build.sh.
#include <cstddef>
#include <cstdint>
#include <string>

#include "modelplan/device-map.h"
#include "modelplan/report.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    (void)modelplan::parse_device_map(text);
    (void)modelplan::parse_devices(text);
    if (text.find("\"config\"") == std::string::npos) (void)modelplan::handle_request("place", text);
    return 0;
}
