// Helpers of the vision-language config readers (vision-readers.h).
#include "model/families/vision-readers.h"

#include <map>
#include <memory>
#include <mutex>

namespace modelplan::family_tables {

const rapidjson::Value* parsed_defaults(const char* json) {
    static std::mutex lock;
    static std::map<const char*, std::unique_ptr<rapidjson::Document>> parsed;
    std::lock_guard<std::mutex> hold(lock);
    auto& doc = parsed[json];
    if (!doc) {
        doc = std::make_unique<rapidjson::Document>();
        doc->Parse(json);
    }
    return doc->HasParseError() ? nullptr : doc.get();
}

result<key_reader> vision_keys(const key_reader& keys, const char* defaults_json) {
    static const rapidjson::Value empty(rapidjson::kObjectType);
    const rapidjson::Value* vision = &empty;
    auto it = keys.root().FindMember("vision_config");
    if (it != keys.root().MemberEnd() && !it->value.IsNull()) {
        if (!it->value.IsObject())
            return make_error(error_code::wrong_type,
                              "vision_config: expected an object, got " + describe_json(it->value),
                              "vision_config");
        vision = &it->value;
    }
    return key_reader(*vision, "vision_config", parsed_defaults(defaults_json), &keys.root());
}

result<std::vector<uint64_t>> read_layer_list(const key_reader& keys, const char* key, uint64_t limit) {
    std::vector<uint64_t> out;
    const rapidjson::Value* list = keys.find(key);
    if (!list) return out;
    std::string path = keys.path(key);
    if (list->IsArray() && list->Size() > limit)
        return make_error(error_code::out_of_range,
                          path + " has " + std::to_string(list->Size()) + " entries, more than the " +
                              std::to_string(limit) + " layers",
                          path);
    if (!list->IsArray())
        return make_error(error_code::wrong_type,
                          path + ": expected an array of layer indices, got " + describe_json(*list), path);
    for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
        const auto& v = (*list)[i];
        std::string item = path + "[" + std::to_string(i) + "]";
        if (!v.IsUint64() || v.GetUint64() >= limit)
            return make_error(error_code::out_of_range,
                              item + ": expected a layer index below " + std::to_string(limit) + ", got " +
                                  describe_json(v),
                              item);
        out.push_back(v.GetUint64());
    }
    return out;
}

void add_vision_mergers(model_spec& spec, uint64_t count) {
    for (uint64_t i = 0; i < count; ++i) {
        layer_spec l;
        l.stack = layer_stack::vision;
        l.index = static_cast<uint32_t>(i);
        l.switches = sw_vision | sw_vision_merger_layer;
        spec.layers.push_back(l);
    }
}

uint64_t vision_encoder_layers(const model_spec& spec) {
    uint64_t n = 0;
    for (const auto& l : spec.layers)
        if (l.stack == layer_stack::vision && !(l.switches & sw_vision_merger_layer)) ++n;
    return n;
}

} // namespace modelplan::family_tables
