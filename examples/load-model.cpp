// Plan, instantiate and load a model with modelplan's C++ API (docs/cpp-api.md).
//   load-model MODEL [CHECKPOINT]
// MODEL: a preset name ("llama-3.1-8b"), a config.json, or a folder holding one. With CHECKPOINT (a
// safetensors file, index or folder), its weights are verified and loaded on CUDA when present, else on the
// CPU.
#include <cstdio>

#include <modelplan/libtorch/load.h>
#include <modelplan/memory.h>

namespace mp = modelplan;

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: load-model MODEL [CHECKPOINT]\n");
        return 2;
    }
    // 1. What the model is and what it needs: skeleton, counts, a memory plan for one 4k-token sequence.
    auto a = mp::libtorch::analyze_model(argv[1]);
    if (!a) return std::fprintf(stderr, "%s\n", a.err().message.c_str()), 2;
    mp::workload w;
    w.seq = 4096;
    auto plan = mp::plan_memory(*a, w);
    if (!plan) return std::fprintf(stderr, "%s\n", plan.err().message.c_str()), 2;
    std::printf("%s: %llu parameters, %.2f GiB to run at 4k tokens\n", a->model.c_str(),
                static_cast<unsigned long long>(a->counts.total), plan->total_bytes / 1073741824.0);

    // 2. The module tree on the meta device: no weight memory.
    auto m = mp::libtorch::instantiate_meta(a->sk, a->spec.architecture);
    if (!m) return std::fprintf(stderr, "%s\n", m.err().message.c_str()), 2;
    std::printf("meta tree: %zu tensors in %llu modules\n", m->params.size(),
                static_cast<unsigned long long>(m->modules));
    if (argc < 3) return 0;

    // 3. Verify the checkpoint against the skeleton, then stream it into real tensors.
    auto src = mp::libtorch::open_checkpoint(argv[2]);
    if (!src) return std::fprintf(stderr, "%s\n", src.err().message.c_str()), 1;
    mp::libtorch::load_options options;
    options.device = "auto";
    auto r = mp::libtorch::load_weights(*m, a->sk, *src, options);
    if (!r) return std::fprintf(stderr, "%s\n", r.err().message.c_str()), 1;
    std::printf("loaded %llu tensors, %.2f GiB in %.3f s\n", static_cast<unsigned long long>(r->tensors),
                r->bytes / 1073741824.0, r->seconds);

    // The tree is an ordinary torch::nn::Module now.
    for (const auto& p : m->root->named_parameters(true)) {
        std::printf("%s on %s, %s\n", p.key().c_str(), p.value().device().str().c_str(),
                    std::string(c10::toString(p.value().scalar_type())).c_str());
        break;
    }
    return 0;
}
