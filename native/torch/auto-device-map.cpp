#include "modelplan/libtorch/auto-device-map.h"

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <string>

#include "modelplan/memory.h"
#include "modelplan/placement.h"

namespace modelplan::libtorch {

namespace {

uint64_t available_host_bytes() {
    std::ifstream in("/proc/meminfo");
    std::string key, unit;
    uint64_t kib = 0;
    while (in >> key >> kib >> unit)
        if (key == "MemAvailable:") return kib * 1024;
    return 0;
}

} // namespace

std::vector<device_budget> local_devices() {
    std::vector<device_budget> devices;
    for (int i = 0; i < cuda_device_count(); ++i)
        devices.push_back({"cuda:" + std::to_string(i), device_kind::gpu, cuda_free_bytes(i), ""});
    devices.push_back({"cpu", device_kind::cpu, available_host_bytes(), ""});
    devices.push_back({"disk", device_kind::disk, UINT64_MAX, ""});
    return devices;
}

result<device_map> auto_device_map(const analysis& a, const checkpoint_source& src,
                                   const std::vector<device_budget>& devices) {
    workload w;
    bool has_gpu = std::any_of(devices.begin(), devices.end(),
                               [](const device_budget& d) { return d.kind == device_kind::gpu; });
    if (!has_gpu) w.overhead_bytes = 0; // no CUDA context to pay for
    // The planner leaves multi-token-prediction layers (DeepSeek-V3's model.layers.61) out unless asked; a
    // checkpoint that stores them gets them placed, and loaded.
    w.include_mtp = stores_mtp_layers(a, src);
    auto placed = place_model(a, w, devices, place_options{});
    if (!placed) return placed.err();
    return std::move(placed->map);
}

} // namespace modelplan::libtorch
