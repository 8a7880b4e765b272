// An outside program: the entry header only, the standard library only (tests/consumer/CMakeLists.txt).
#include <modelplan/modelplan.h>

#include <cstdio>
#include <cstring>

int main() {
    namespace mp = modelplan;
    auto a = mp::analyze("smollm2-135m", mp::find_preset("smollm2-135m")->config_json, {});
    if (!a) {
        std::fprintf(stderr, "%s\n", a.err().message.c_str());
        return 1;
    }
    // SmolLM2-135M: 134,515,008 BF16 scalars in its model.safetensors (tests/core/published-counts.cpp).
    std::printf("modelplan %s: %s has %llu parameters\n", mp::version, a->model.c_str(),
                static_cast<unsigned long long>(a->counts.total));
    return std::strcmp(mp::version, MODELPLAN_VERSION) == 0 && a->counts.total == 134515008ull ? 0 : 1;
}
