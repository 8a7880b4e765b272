// Devices and device maps. A device list says what memory each device offers ("cuda:0=24GiB,cpu=64GiB,disk");
// a device map says which device holds each module, in the JSON shape transformers'
// from_pretrained(device_map=) accepts ({"model.embed_tokens": 0, "model.layers.0": 0, ..., "lm_head":
// "cpu"}). Both the placement planner (placement.h) and the native loader use these (docs/placement.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "modelplan/error.h"
#include "modelplan/skeleton.h"

namespace modelplan {

enum class device_kind : uint8_t { gpu, cpu, disk };

// One device with the memory a plan may use on it.
struct device_budget {
    std::string name; // "cuda:0", "cpu", "disk"
    device_kind kind = device_kind::gpu;
    uint64_t budget_bytes = 0; // memory the plan may use; disk: unlimited (UINT64_MAX)
    std::string gpu;           // catalog key when the device came from --gpu, else ""
};

// Parses "cuda:0=24GiB,cuda:1=24GiB,cpu=64GiB,disk". Devices: cuda:N (or a bare N), cpu, disk (no size: it
// is unlimited). Sizes as parse_size reads them (binary GiB/MiB, decimal GB/MB, bytes). GPUs keep the order
// given; cpu and disk may appear once each. The error names the entry and what is wrong with it.
result<std::vector<device_budget>> parse_devices(const std::string& text);

// One device-map entry: a module name ("model.layers.3", "lm_head"; "" is the whole model) and a device
// ("cuda:N", "cpu" or "disk").
struct device_map_entry {
    std::string module;
    std::string device;
};

struct device_map {
    std::vector<device_map_entry> entries; // in the order written
};

// Reads transformers' device_map JSON: an object whose values are GPU indices (0 -> "cuda:0"), "cuda:N",
// "cuda" (cuda:0), "cpu" or "disk". Errors name the key and the value.
result<device_map> parse_device_map(const std::string& json);

// The map as transformers accepts it: GPUs as integers, "cpu", "disk"; keys in entry order.
std::string device_map_json(const device_map& map);

// The device of each skeleton tensor (same order as sk.tensors): the entry of the longest module name that
// is the tensor's name or a dot-separated prefix of it ("" matches everything), as transformers resolves a
// parameter's device. The error names the first tensor no entry covers.
result<std::vector<std::string>> assign_devices(const skeleton& sk, const device_map& map);

// The module a tensor belongs to for placement: the no-split block it lives in ("model.layers.3",
// "encoder.block.0": the name up to its first all-digit part), else its module (the name without the last
// part: "model.embed_tokens"). Routed experts split off as the layer's experts module when `split_experts`
// ("model.layers.3.mlp.experts").
std::string placement_module(const std::string& tensor_name, bool split_experts = false);

} // namespace modelplan
