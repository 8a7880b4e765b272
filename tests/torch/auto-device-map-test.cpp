// `--device-map auto` as a library call (modelplan/libtorch/auto-device-map.h): the placement planner's map
// over the devices it is given, with a checkpoint's multi-token-prediction layers when it stores them.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "modelplan/libtorch/auto-device-map.h"
#include "modelplan/presets.h"
#include "modelplan/report.h"

namespace mp = modelplan;
namespace lt = modelplan::libtorch;

namespace {

mp::analysis preset(const std::string& name) {
    auto p = mp::find_preset(name);
    EXPECT_TRUE(p.ok());
    auto a = mp::analyze(p->name, p->config_json, {});
    EXPECT_TRUE(a.ok());
    return std::move(*a);
}

std::vector<mp::device_budget> devices(const std::string& text) {
    auto d = mp::parse_devices(text);
    EXPECT_TRUE(d.ok()) << d.err().message;
    return *d;
}

std::set<std::string> devices_used(const mp::device_map& map) {
    std::set<std::string> used;
    for (const auto& e : map.entries) used.insert(e.device);
    return used;
}

bool has_module(const mp::device_map& map, const std::string& module) {
    for (const auto& e : map.entries)
        if (e.module == module) return true;
    return false;
}

} // namespace

// Llama-3.2-1B (1.24B parameters, model card) is 2.3 GiB in bf16: a CPU with 64 GiB holds all of it.
TEST(AutoDeviceMap, WithoutAGpuEverythingGoesToTheCpu) {
    auto map =
        lt::auto_device_map(preset("llama-3.2-1b"), lt::checkpoint_source{}, devices("cpu=64GiB,disk"));
    ASSERT_TRUE(map.ok()) << map.err().message;
    EXPECT_FALSE(map->entries.empty());
    EXPECT_EQ(devices_used(*map), std::set<std::string>{"cpu"});
}

// A 3 GiB GPU holds its embedding (128256 x 2048 bf16 = 501 MiB, published config) but not 2.3 GiB of weights
// plus the CUDA context: the rest goes to the CPU, nothing to disk.
TEST(AutoDeviceMap, FillsTheGpuFirstThenTheCpu) {
    auto map = lt::auto_device_map(preset("llama-3.2-1b"), lt::checkpoint_source{},
                                   devices("cuda:0=3GiB,cpu=64GiB,disk"));
    ASSERT_TRUE(map.ok()) << map.err().message;
    EXPECT_EQ(devices_used(*map), (std::set<std::string>{"cuda:0", "cpu"}));
    EXPECT_EQ(map->entries.front().device, "cuda:0");
}

// DeepSeek-V3 stores its multi-token-prediction layer as model.layers.61 (its model.safetensors.index.json,
// tests/data/deepseek-v3.tensors.tsv); transformers' maps leave it out, the auto map places it when it is
// stored.
TEST(AutoDeviceMap, PlacesMultiTokenPredictionLayersOnlyWhenStored) {
    mp::analysis a = preset("deepseek-v3");
    auto budgets = devices("cpu=2TiB,disk");
    auto without = lt::auto_device_map(a, lt::checkpoint_source{}, budgets);
    ASSERT_TRUE(without.ok()) << without.err().message;
    EXPECT_FALSE(has_module(*without, "model.layers.61"));
    EXPECT_TRUE(has_module(*without, "model.layers.60"));

    lt::checkpoint_source stored;
    mp::checkpoint_tensor mtp;
    mtp.name = "model.layers.61.eh_proj.weight";
    stored.ck.tensors.push_back(mtp);
    auto with = lt::auto_device_map(a, stored, budgets);
    ASSERT_TRUE(with.ok()) << with.err().message;
    EXPECT_TRUE(has_module(*with, "model.layers.61"));
}

// The devices of this machine: the CPU and disk always, after the GPUs.
TEST(AutoDeviceMap, LocalDevicesEndWithCpuAndDisk) {
    auto local = lt::local_devices();
    ASSERT_GE(local.size(), 2u);
    EXPECT_EQ(local.size(), static_cast<size_t>(lt::cuda_device_count()) + 2);
    EXPECT_EQ(local[local.size() - 2].name, "cpu");
    EXPECT_GT(local[local.size() - 2].budget_bytes, 0u);
    EXPECT_EQ(local.back().name, "disk");
}
