// Device lists and transformers-style device maps (docs/placement.md).
#include "modelplan/device-map.h"

#include <limits>
#include <unordered_map>
#include <unordered_set>

#include "modelplan/text.h"
#include "util/json-util.h"

namespace modelplan {

namespace {

bool all_digits(const std::string& s) {
    if (s.empty() || s.size() > 9) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

std::string trim(const std::string& s) {
    size_t b = s.find_first_not_of(" \t");
    if (b == std::string::npos) return "";
    size_t e = s.find_last_not_of(" \t");
    return s.substr(b, e - b + 1);
}

// "cuda:3", "3", "cuda" -> "cuda:3"/"cuda:0"; "cpu", "disk" as they are; "" for anything else.
std::string normalize_device(const std::string& text) {
    if (text == "cpu" || text == "disk") return text;
    if (text == "cuda") return "cuda:0";
    if (all_digits(text)) return "cuda:" + std::to_string(std::stoul(text));
    if (text.rfind("cuda:", 0) == 0 && all_digits(text.substr(5)))
        return "cuda:" + std::to_string(std::stoul(text.substr(5)));
    return "";
}

} // namespace

result<std::vector<device_budget>> parse_devices(const std::string& text) {
    std::vector<device_budget> out;
    bool cpu = false, disk = false;
    size_t start = 0;
    if (trim(text).empty())
        return make_error(
            error_code::bad_request,
            "devices: expected a list such as cuda:0=24GiB,cuda:1=24GiB,cpu=64GiB,disk, got \"\"", "devices");
    while (start <= text.size()) {
        size_t comma = text.find(',', start);
        std::string entry =
            trim(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
        start = comma == std::string::npos ? text.size() + 1 : comma + 1;
        if (entry.empty())
            return make_error(error_code::bad_request, "devices: empty entry in " + quote_value(text),
                              "devices");
        size_t eq = entry.find('=');
        std::string name = trim(entry.substr(0, eq));
        std::string device = normalize_device(name);
        if (device.empty())
            return make_error(error_code::bad_request,
                              "devices: unknown device " + quote_value(name, 200) + " in " +
                                  quote_value(entry, 200) + "; expected cuda:N, cpu or disk",
                              "devices");
        device_budget d;
        d.name = device;
        d.kind = device == "cpu" ? device_kind::cpu : device == "disk" ? device_kind::disk : device_kind::gpu;
        if (d.kind == device_kind::disk) {
            if (disk) return make_error(error_code::bad_request, "devices: disk is listed twice", "devices");
            disk = true;
            d.budget_bytes = std::numeric_limits<uint64_t>::max();
            if (eq != std::string::npos) {
                auto size = parse_memory_size(trim(entry.substr(eq + 1)));
                if (!size || *size == 0)
                    return make_error(error_code::bad_request,
                                      "devices: bad size in " + quote_value(entry) +
                                          "; expected e.g. disk=500GiB or disk",
                                      "devices");
                d.budget_bytes = *size;
            }
        } else {
            if (eq == std::string::npos)
                return make_error(
                    error_code::bad_request,
                    "devices: " + quote_value(entry) + " needs a size, e.g. " + device + "=24GiB", "devices");
            std::string size_text = trim(entry.substr(eq + 1));
            auto size = parse_memory_size(size_text);
            if (!size || *size == 0)
                return make_error(error_code::bad_request,
                                  "devices: bad size " + quote_value(size_text) + " for " + device +
                                      "; expected a positive size such as 24GiB, 80GB or 512MiB",
                                  "devices");
            d.budget_bytes = *size;
            if (d.kind == device_kind::cpu) {
                if (cpu)
                    return make_error(error_code::bad_request, "devices: cpu is listed twice", "devices");
                cpu = true;
            }
        }
        for (const auto& other : out)
            if (other.name == d.name)
                return make_error(error_code::bad_request, "devices: " + d.name + " is listed twice",
                                  "devices");
        out.push_back(std::move(d));
    }
    return out;
}

result<device_map> parse_device_map(const std::string& json) {
    rapidjson::Document doc;
    if (auto e = parse_json(json, doc, "device map")) return *e;
    if (!doc.IsObject())
        return make_error(error_code::wrong_type,
                          "device map: expected a JSON object of module name -> device, got " +
                              describe_json(doc));
    device_map map;
    std::unordered_set<std::string> seen;
    for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) {
        std::string key(it->name.GetString(), it->name.GetStringLength());
        const rapidjson::Value& v = it->value;
        std::string device;
        if (v.IsUint())
            device = "cuda:" + std::to_string(v.GetUint());
        else if (v.IsString())
            device = normalize_device(std::string(v.GetString(), v.GetStringLength()));
        if (device.empty())
            return make_error(error_code::wrong_type,
                              "device map: " + quote_value(key) + " maps to " + describe_json(v) +
                                  "; expected a GPU index (0, 1, ...), \"cuda:N\", \"cpu\" or \"disk\"",
                              key);
        // A set, not a scan of the entries: a 1 MB map holds 100,000 keys.
        if (!seen.insert(key).second)
            return make_error(error_code::inconsistent, "device map: " + quote_value(key) + " appears twice",
                              key);
        map.entries.push_back({key, device});
    }
    if (map.entries.empty()) return make_error(error_code::bad_request, "device map: the map is empty");
    return map;
}

result<std::vector<std::string>> assign_devices(const skeleton& sk, const device_map& map) {
    std::unordered_map<std::string, const std::string*> by_module;
    for (const auto& e : map.entries) by_module.emplace(e.module, &e.device);
    std::vector<std::string> out;
    out.reserve(sk.tensors.size());
    for (const tensor_info& t : sk.tensors) {
        std::string name = t.name;
        const std::string* device = nullptr;
        while (true) {
            auto it = by_module.find(name);
            if (it != by_module.end()) {
                device = it->second;
                break;
            }
            if (name.empty()) break;
            size_t dot = name.rfind('.');
            name = dot == std::string::npos ? std::string() : name.substr(0, dot);
        }
        if (!device)
            return make_error(error_code::inconsistent,
                              "device map: no entry covers parameter " + quote_value(t.name, 200) +
                                  " (add its module, a prefix of it, or \"\" for everything)",
                              t.name);
        out.push_back(*device);
    }
    return out;
}

std::string placement_module(const std::string& tensor_name, bool split_experts) {
    size_t start = 0;
    bool block_seen = false;
    while (start < tensor_name.size()) {
        size_t dot = tensor_name.find('.', start);
        if (dot == std::string::npos) break; // the last part (weight, bias) is not a module
        if (all_digits(tensor_name.substr(start, dot - start))) {
            if (!split_experts) return tensor_name.substr(0, dot);
            if (block_seen) return tensor_name.substr(0, start - 1); // the module holding the experts
            block_seen = true;
        }
        start = dot + 1;
    }
    if (split_experts && block_seen) { // no expert index: the block
        size_t pos = 0;
        while (true) {
            size_t dot = tensor_name.find('.', pos);
            if (all_digits(tensor_name.substr(pos, dot - pos))) return tensor_name.substr(0, dot);
            pos = dot + 1;
        }
    }
    size_t last = tensor_name.rfind('.');
    return last == std::string::npos ? std::string() : tensor_name.substr(0, last);
}

} // namespace modelplan
