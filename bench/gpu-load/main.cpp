// GPU load benchmark (bench/gpu-load.sh): modelplan's CUDA path against the physical limit, a host-to-device
// copy of pinned memory, and a correctness check against the CPU path.
//   gpu-load-bench CHECKPOINT_DIR [--device cuda:0] [--reps N]
// Prints one JSON object: {"pinned_h2d_gb_per_s", "load": {...best pass...}, "load_seconds": [...],
// "load_f32": {...}, "bit_exact": bool, "converted_exact": bool}.
#include <ATen/ATen.h>

#include <chrono>
#include <cstdio>
#include <string>

#include <modelplan/libtorch/load.h>

namespace lt = modelplan::libtorch;
using clk = std::chrono::steady_clock;

static double since(clk::time_point t) {
    return std::chrono::duration<double>(clk::now() - t).count();
}

int main(int argc, char** argv) {
    if (argc < 2)
        return std::fprintf(stderr, "usage: gpu-load-bench CHECKPOINT_DIR [--device cuda:0] [--reps N]\n"), 2;
    std::string dir = argv[1], device = "cuda:0";
    int reps = 3;
    for (int i = 2; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        if (a == "--device") device = argv[i + 1];
        if (a == "--reps") reps = std::stoi(argv[i + 1]);
    }
    if (lt::cuda_device_count() == 0)
        return std::fprintf(stderr, "no CUDA device (built with CUDA: %s)\n",
                            lt::built_with_cuda() ? "yes" : "no"),
               1;

    // The physical limit: one pinned buffer of 1 GiB copied to the device, best of 5.
    const int64_t n = 1ll << 30;
    at::Tensor pinned = at::empty({n}, at::TensorOptions().dtype(at::kByte).pinned_memory(true));
    pinned.fill_(1);
    at::Tensor on_device = at::empty({n}, at::TensorOptions().dtype(at::kByte).device(device));
    double h2d_best = 1e9;
    for (int r = 0; r < 5; ++r) {
        on_device.copy_(pinned, /*non_blocking=*/false);
        auto t = clk::now();
        on_device.copy_(pinned, /*non_blocking=*/false);
        h2d_best = std::min(h2d_best, since(t));
    }
    on_device.reset();
    pinned.reset();

    auto a = lt::analyze_model(dir);
    if (!a) return std::fprintf(stderr, "%s\n", a.err().message.c_str()), 1;
    auto src = lt::open_checkpoint(dir);
    if (!src) return std::fprintf(stderr, "%s\n", src.err().message.c_str()), 1;

    // Our CUDA path, into fresh device memory each time.
    lt::load_options o;
    o.device = device;
    std::string best_json, seconds_list;
    double best = 1e9;
    for (int r = 0; r < reps; ++r) {
        auto m = lt::instantiate_meta(a->sk, a->spec.architecture);
        auto rep = lt::load_weights(*m, a->sk, *src, o);
        if (!rep) return std::fprintf(stderr, "%s\n", rep.err().message.c_str()), 1;
        seconds_list += (r ? ", " : "") + std::to_string(rep->seconds);
        if (rep->seconds < best) best = rep->seconds, best_json = lt::load_json(*rep);
    }
    while (!best_json.empty() && best_json.back() == '\n') best_json.pop_back();

    // Correctness: the CUDA load equals the CPU load bit for bit; BF16 -> F32 on the device equals the CPU's.
    bool exact = true, converted_exact = true;
    {
        auto on_gpu = lt::instantiate_meta(a->sk, a->spec.architecture);
        auto on_cpu = lt::instantiate_meta(a->sk, a->spec.architecture);
        auto r1 = lt::load_weights(*on_gpu, a->sk, *src, o);
        auto r2 = lt::load_weights(*on_cpu, a->sk, *src, {});
        if (!r1 || !r2) return std::fprintf(stderr, "reference load failed\n"), 1;
        for (size_t i = 0; i < on_gpu->params.size(); ++i)
            exact = exact && at::equal(on_gpu->slot(i).cpu(), on_cpu->slot(i));
    }
    std::string f32_json = "null";
    {
        modelplan::config_options c;
        c.weight_dtype = modelplan::dtype::f32;
        auto a32 = lt::analyze_model(dir, c);
        auto on_gpu = lt::instantiate_meta(a32->sk, a32->spec.architecture);
        auto on_cpu = lt::instantiate_meta(a32->sk, a32->spec.architecture);
        auto r1 = lt::load_weights(*on_gpu, a32->sk, *src, o);
        auto r2 = lt::load_weights(*on_cpu, a32->sk, *src, {});
        if (!r1 || !r2) return std::fprintf(stderr, "f32 load failed\n"), 1;
        for (size_t i = 0; i < on_gpu->params.size(); ++i)
            converted_exact = converted_exact && at::equal(on_gpu->slot(i).cpu(), on_cpu->slot(i));
        f32_json = lt::load_json(*r1);
        while (!f32_json.empty() && f32_json.back() == '\n') f32_json.pop_back();
    }
    std::printf("{\"pinned_h2d_gb_per_s\": %.3f, \"load\": %s, \"load_seconds\": [%s], \"load_f32\": %s, "
                "\"bit_exact\": %s, \"converted_exact\": %s}\n",
                static_cast<double>(n) / 1e9 / h2d_best, best_json.c_str(), seconds_list.c_str(),
                f32_json.c_str(), exact ? "true" : "false", converted_exact ? "true" : "false");
    return exact && converted_exact ? 0 : 1;
}
