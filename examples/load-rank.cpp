// One rank of a tensor-parallel group loading only its slices, with modelplan's C++ API (docs/cpp-api.md,
// "Distributed loading"). Start it as any launcher starts ranks, e.g. two on this machine:
//   torchrun --nproc-per-node 2 --no-python load-rank CHECKPOINT_DIR 2
// or by hand with RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT set. Prints the rank's parameters' shapes.
#include <cstdio>
#include <cstdlib>

#include <modelplan/libtorch/distributed.h>

namespace lt = modelplan::libtorch;

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: load-rank CHECKPOINT_DIR TP\n");
        return 2;
    }
    auto me = lt::member_from_environment(); // RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT
    if (!me) return std::fprintf(stderr, "%s\n", me.err().message.c_str()), 2;
    lt::distributed_options options;
    options.tp = std::strtoull(argv[2], nullptr, 10);
    options.load.device = "auto"; // cuda:LOCAL_RANK when CUDA is present, else cpu
    // Meets the other ranks, checks that they load the same thing, reads this rank's byte ranges.
    auto rank = lt::load_rank(argv[1], std::nullopt, {}, *me, options);
    if (!rank) return std::fprintf(stderr, "%s\n", rank.err().message.c_str()), 1;
    const auto& r = rank->report;
    std::printf("rank %d of %d: %llu tensors, %llu bytes read in %.3f s\n", r.rank, r.world_size,
                static_cast<unsigned long long>(r.held_tensors),
                static_cast<unsigned long long>(r.load.bytes_read), r.seconds);
    // An ordinary module tree with rank-shaped parameters.
    for (const auto& p : rank->model.root->named_parameters(true)) {
        std::printf("%s", p.key().c_str());
        for (int64_t d : p.value().sizes()) std::printf(" %lld", static_cast<long long>(d));
        std::printf(" on %s\n", p.value().device().str().c_str());
    }
    return 0;
}
