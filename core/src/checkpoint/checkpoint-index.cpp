// Sharded checkpoints: model.safetensors.index.json ({"metadata": {"total_size": ...}, "weight_map": {tensor:
// shard}}, as transformers' save_pretrained writes it) cross-checked with the shards' headers.
#include <algorithm>
#include <cmath>
#include <unordered_map>
#include <unordered_set>

#include "modelplan/limits.h"
#include "modelplan/safetensors.h"
#include "modelplan/text.h"
#include "util/json-util.h"

namespace modelplan {

namespace {

error bad(const std::string& what, const std::string& message, const std::string& path = {}) {
    return make_error(error_code::bad_checkpoint, what + ": " + message, path);
}

// A size in the index metadata: an unsigned integer, or a float holding an exact integer below 2^53 (some
// writers emit 1.4e10).
result<std::optional<uint64_t>> metadata_size(const std::string& what, const rapidjson::Value& metadata,
                                              const char* key) {
    auto it = metadata.FindMember(key);
    if (it == metadata.MemberEnd() || it->value.IsNull()) return std::optional<uint64_t>{};
    const rapidjson::Value& v = it->value;
    if (v.IsUint64()) return std::optional<uint64_t>{v.GetUint64()};
    if (v.IsDouble() && v.GetDouble() >= 0 && v.GetDouble() < 9007199254740992.0 &&
        std::floor(v.GetDouble()) == v.GetDouble())
        return std::optional<uint64_t>{static_cast<uint64_t>(v.GetDouble())};
    return bad(what,
               std::string("metadata.") + key + ": expected a non-negative integer, got " + describe_json(v),
               std::string("metadata.") + key);
}

// A shard is named by a plain file name in the index's folder; anything else could point outside it.
bool plain_file_name(const std::string& name) {
    if (name.empty() || name == "." || name == "..") return false;
    return name.find_first_of(std::string("/\\\0", 3)) == std::string::npos;
}

void add_problem(std::vector<std::string>& problems, size_t& count, std::string text) {
    ++count;
    if (problems.size() < 5) problems.push_back(std::move(text));
}

} // namespace

result<safetensors_index> parse_safetensors_index(const std::string& json_text, const std::string& what) {
    rapidjson::Document doc;
    if (auto e = parse_json(json_text, doc, what)) return *e;
    if (!doc.IsObject()) return bad(what, "expected a JSON object, got " + describe_json(doc));
    safetensors_index index;

    auto meta_it = doc.FindMember("metadata");
    if (meta_it != doc.MemberEnd() && !meta_it->value.IsNull()) {
        if (!meta_it->value.IsObject())
            return bad(what, "metadata: expected an object, got " + describe_json(meta_it->value),
                       "metadata");
        auto total_size = metadata_size(what, meta_it->value, "total_size");
        if (!total_size) return total_size.err();
        index.total_size = *total_size;
        auto total_parameters = metadata_size(what, meta_it->value, "total_parameters");
        if (!total_parameters) return total_parameters.err();
        index.total_parameters = *total_parameters;
    }

    auto map_it = doc.FindMember("weight_map");
    if (map_it == doc.MemberEnd())
        return make_error(error_code::missing_key,
                          what + ": missing weight_map (an object mapping tensor names to shard files)",
                          "weight_map");
    if (!map_it->value.IsObject())
        return bad(what,
                   "weight_map: expected an object mapping tensor names to shard files, got " +
                       describe_json(map_it->value),
                   "weight_map");
    std::unordered_set<std::string> names, shards;
    for (auto it = map_it->value.MemberBegin(); it != map_it->value.MemberEnd(); ++it) {
        std::string name(it->name.GetString(), it->name.GetStringLength());
        if (!names.insert(name).second)
            return bad(what, "weight_map: tensor " + quoted(name) + " appears twice", "weight_map." + name);
        if (!it->value.IsString())
            return bad(what,
                       "weight_map." + printable_utf8(name) + ": expected a shard file name, got " +
                           describe_json(it->value),
                       "weight_map." + name);
        std::string shard(it->value.GetString(), it->value.GetStringLength());
        if (!plain_file_name(shard))
            return bad(what,
                       "weight_map." + printable_utf8(name) + ": shard " + quoted(shard) +
                           " is not a plain file name in the index's folder",
                       "weight_map." + name);
        if (shards.insert(shard).second) index.shards.push_back(shard);
        index.weight_map.emplace_back(std::move(name), std::move(shard));
    }
    return index;
}

result<checkpoint> merge_safetensors_shards(const safetensors_index& index, std::vector<checkpoint> shards) {
    if (shards.size() != index.shards.size())
        return make_error(error_code::internal, "merge_safetensors_shards: " + std::to_string(shards.size()) +
                                                    " shards given for " +
                                                    std::to_string(index.shards.size()));
    std::unordered_map<std::string, const std::string*> wanted; // tensor -> shard named by the index
    for (const auto& [name, shard] : index.weight_map) wanted.emplace(name, &shard);

    std::vector<std::string> problems;
    size_t count = 0;
    std::unordered_map<std::string, std::string> found; // tensor -> shard holding it
    for (size_t i = 0; i < shards.size(); ++i) {
        const std::string& shard = index.shards[i];
        for (const checkpoint_tensor& t : shards[i].tensors) {
            auto [at, fresh] = found.emplace(t.name, shard);
            if (!fresh) {
                add_problem(problems, count,
                            "tensor " + quoted(t.name) + " is in both " + at->second + " and " + shard);
                continue;
            }
            auto w = wanted.find(t.name);
            if (w == wanted.end())
                add_problem(problems, count,
                            "tensor " + quoted(t.name) + " is in " + shard + " but not in the weight_map");
            else if (*w->second != shard)
                add_problem(problems, count,
                            "tensor " + quoted(t.name) + ": the weight_map names " + *w->second +
                                ", but it is in " + shard);
        }
    }
    for (const auto& [name, shard] : index.weight_map)
        if (!found.count(name))
            add_problem(problems, count,
                        "tensor " + quoted(name) + ": the weight_map names " + shard +
                            ", whose header has no such tensor");
    if (count) {
        std::string message = "the index and its shards disagree (" + std::to_string(count) +
                              (count == 1 ? " problem" : " problems") + "): ";
        for (size_t i = 0; i < problems.size(); ++i) message += (i ? "; " : "") + problems[i];
        if (count > problems.size()) message += "; ...";
        return make_error(error_code::bad_checkpoint, message);
    }

    auto merged = merge_checkpoints(std::move(shards));
    if (!merged) return merged;
    uint64_t bytes = 0, elements = 0;
    for (const checkpoint_tensor& t : merged->tensors) {
        if (__builtin_add_overflow(bytes, t.bytes(), &bytes) ||
            __builtin_add_overflow(elements, t.elements, &elements))
            return make_error(error_code::overflow, "the shards' total size overflows 64 bits");
    }
    if (index.total_size && *index.total_size != bytes)
        merged->warnings.push_back("index metadata.total_size is " + with_thousands(*index.total_size) +
                                   " bytes, but the shards' tensors hold " + with_thousands(bytes));
    if (index.total_parameters && *index.total_parameters != elements)
        merged->warnings.push_back(
            "index metadata.total_parameters is " + with_thousands(*index.total_parameters) +
            ", but the shards' tensors hold " + with_thousands(elements) + " elements");
    return merged;
}

result<checkpoint> merge_checkpoints(std::vector<checkpoint> parts) {
    checkpoint out;
    if (parts.empty()) return out;
    out.format = parts.front().format;
    out.gguf_version = parts.front().gguf_version;
    out.metadata = std::move(parts.front().metadata);
    out.gguf_metadata = std::move(parts.front().gguf_metadata);
    uint64_t total = 0;
    for (const checkpoint& part : parts) total += part.tensors.size();
    if (total > max_tensors)
        return make_error(error_code::unsupported,
                          "the " + with_thousands(parts.size()) + " files list " + with_thousands(total) +
                              " tensors in all, more than the " + with_thousands(max_tensors) +
                              " modelplan reads from one checkpoint (docs/reliability.md)");
    std::unordered_map<std::string, std::string> where;
    where.reserve(total);
    out.tensors.reserve(total);
    for (checkpoint& part : parts) {
        if (part.format != out.format)
            return make_error(error_code::bad_checkpoint,
                              "cannot merge a " + std::string(checkpoint_format_name(part.format)) +
                                  " file with " + checkpoint_format_name(out.format));
        for (auto& f : part.files) out.files.push_back(std::move(f));
        for (auto& w : part.warnings) out.warnings.push_back(std::move(w));
        for (auto& t : part.tensors) {
            auto [at, fresh] = where.emplace(t.name, t.file);
            if (!fresh)
                return make_error(error_code::bad_checkpoint, "tensor " + quoted(t.name) + " is in both " +
                                                                  at->second + " and " + t.file);
            out.tensors.push_back(std::move(t));
        }
    }
    return out;
}

} // namespace modelplan
