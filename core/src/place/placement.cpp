// Device maps planned with the workload's runtime memory (docs/placement.md).
#include "modelplan/placement.h"

#include <algorithm>
#include <limits>
#include <unordered_map>

#include "modelplan/devices.h"
#include "modelplan/fit.h"
#include "modelplan/text.h"
#include "util/bisect.h"
#include "util/saturating.h"

namespace modelplan {

using sat::add;
using sat::mul;

namespace {

constexpr int no_device = -1;

// '*' matches any run of characters (including dots); everything else matches itself.
bool glob_match(const std::string& pattern, const std::string& text) {
    size_t p = 0, t = 0, star = std::string::npos, mark = 0;
    while (t < text.size()) {
        if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            mark = t;
        } else if (p < pattern.size() && pattern[p] == text[t]) {
            ++p;
            ++t;
        } else if (star != std::string::npos) {
            p = star + 1;
            t = ++mark;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*') ++p;
    return p == pattern.size();
}

std::string module_of_tensor(const std::string& name) {
    size_t dot = name.rfind('.');
    return dot == std::string::npos ? std::string() : name.substr(0, dot);
}

bool is_attention(role r) {
    switch (r) {
    case role::attn_qkv:
    case role::attn_q:
    case role::attn_q_a:
    case role::attn_kv_a:
    case role::attn_k: return true;
    default: return false;
    }
}

// A placement unit: what one device-map entry covers.
struct unit {
    std::string module;               // its device-map entry
    std::vector<std::string> also;    // modules tied to it, placed with it (their own entries)
    uint64_t weight_bytes = 0;
    uint64_t kv_bytes = 0;
    int64_t layer = no_index; // the layer whose KV cache it carries
    int pinned = no_device;
    bool head = false;        // holds the output head (logits are computed where it is)
};

struct fixed_charges {
    uint64_t layer_activations = 0; // per GPU that runs layers
    uint64_t logits = 0;            // once, where the head runs
    uint64_t overhead = 0;          // per GPU used
};

struct layout {
    std::vector<device_budget> devices; // GPUs, cpu, disk
    int exec = no_device;               // where offloaded layers run: the first GPU, else cpu
    // Whether layers placed on device `d` run there (GPUs; cpu when there is no GPU). Layers elsewhere run on
    // `exec`, which also holds their KV cache and a buffer for their weights.
    bool computes(size_t d) const {
        return devices[d].kind == device_kind::gpu || static_cast<int>(d) == exec;
    }
};

result<layout> order_devices(const std::vector<device_budget>& given) {
    layout l;
    for (int pass = 0; pass < 3; ++pass)
        for (const auto& d : given)
            if (static_cast<int>(d.kind) == pass) l.devices.push_back(d);
    if (l.devices.empty()) return make_error(error_code::bad_request, "place: no devices given", "devices");
    for (size_t i = 0; i < l.devices.size(); ++i)
        if (l.devices[i].kind != device_kind::disk) {
            l.exec = static_cast<int>(i);
            break;
        }
    if (l.exec == no_device)
        return make_error(error_code::bad_request,
                          "place: disk alone cannot run a model; add a GPU (cuda:0=24GiB) or cpu=SIZE", "devices");
    return l;
}

int find_device(const layout& l, const std::string& name) {
    for (size_t i = 0; i < l.devices.size(); ++i)
        if (l.devices[i].name == name) return static_cast<int>(i);
    return no_device;
}

struct units_result {
    std::vector<unit> units;
    std::vector<std::pair<std::string, std::string>> aliases; // alias module, target module
};

result<units_result> build_units(const analysis& a, const workload& w, const memory_plan& plan,
                                 const std::vector<uint64_t>& tensor_bytes, const layout& l,
                                 const place_options& o) {
    const skeleton& sk = a.sk;
    int cpu = find_device(l, "cpu");
    if (o.experts_on_cpu && cpu == no_device)
        return make_error(error_code::bad_request,
                          "--experts-on-cpu needs a cpu device (--devices ...,cpu=64GiB or --cpu 64GiB)",
                          "experts_on_cpu");
    if (o.experts_on_cpu && a.spec.n_experts == 0)
        return make_error(error_code::bad_request,
                          "--experts-on-cpu: " + a.spec.architecture + " has no routed experts", "experts_on_cpu");
    // Error paths name the request's "pins" array and the entry: pins[2].
    auto pin_path = [](size_t r) { return "pins[" + std::to_string(r) + "]"; };
    std::vector<int> pin_device;
    for (const auto& p : o.pins) {
        int d = find_device(l, p.device);
        if (d == no_device)
            return make_error(error_code::bad_request,
                              "--pin " + p.pattern + "=" + p.device + ": " + p.device + " is not among the devices",
                              pin_path(pin_device.size()));
        pin_device.push_back(d);
    }

    // Which pin (if any) each tensor matches, and the block it belongs to.
    std::vector<std::string> key(sk.tensors.size());
    std::vector<int> pin(sk.tensors.size(), no_device);
    std::vector<char> loaded(sk.tensors.size(), 0);
    std::vector<int> matched_rule(o.pins.size(), 0);
    std::vector<size_t> rule_of(sk.tensors.size(), 0); // the pin rule a tensor matched (for messages)
    for (size_t i = 0; i < sk.tensors.size(); ++i) {
        const tensor_info& t = sk.tensors[i];
        loaded[i] = w.include_mtp || t.layer == no_index || a.spec.layers[t.layer].stack != layer_stack::mtp;
        if (!loaded[i]) continue;
        bool expert = o.experts_on_cpu && t.expert != no_index;
        key[i] = placement_module(t.name, expert);
        if (expert) pin[i] = cpu;
        for (size_t r = 0; r < o.pins.size(); ++r)
            if (glob_match(o.pins[r].pattern, t.name)) {
                pin[i] = pin_device[r];
                matched_rule[r] = 1;
                rule_of[i] = r;
                break;
            }
    }
    for (size_t r = 0; r < o.pins.size(); ++r)
        if (!matched_rule[r])
            return make_error(error_code::bad_request,
                              "--pin " + o.pins[r].pattern + ": the pattern matches no tensor of " +
                                  a.spec.architecture + " (patterns are globs over names such as " +
                                  (sk.tensors.empty() ? std::string("lm_head.weight") : sk.tensors.back().name) +
                                  ")",
                              pin_path(r));
    // A block whose tensors do not all share one pin is split: pinned tensors get their own module entry.
    std::unordered_map<std::string, int> block_pin; // -2: mixed
    for (size_t i = 0; i < sk.tensors.size(); ++i) {
        if (!loaded[i]) continue;
        auto it = block_pin.find(key[i]);
        if (it == block_pin.end()) block_pin.emplace(key[i], pin[i]);
        else if (it->second != pin[i]) it->second = -2;
    }
    for (size_t i = 0; i < sk.tensors.size(); ++i)
        if (loaded[i] && block_pin[key[i]] == -2 && pin[i] != no_device) key[i] = module_of_tensor(sk.tensors[i].name);
    // transformers gives each tensor the device of the longest map key that prefixes its name, so a split-off
    // module takes all its tensors with it (q_proj.bias follows a pinned q_proj.weight). Each tensor joins
    // the unit of the longest key over its name; tensors pinned to different devices cannot share one entry.
    // Without pins or split experts every key is a block or a module that no other key extends, so each
    // tensor's own key is already the longest one (and DeepSeek-V3's 46k names need no lookups).
    bool nested_keys = !o.pins.empty() || o.experts_on_cpu;
    std::unordered_map<std::string, int> key_pin;
    std::unordered_map<std::string, size_t> key_first; // a tensor that made the key (for messages)
    for (size_t i = 0; i < sk.tensors.size() && nested_keys; ++i) {
        if (!loaded[i]) continue;
        auto [it, fresh] = key_pin.emplace(key[i], pin[i]);
        if (fresh)
            key_first.emplace(key[i], i);
        else if (it->second == no_device)
            it->second = pin[i];
    }
    for (size_t i = 0; i < sk.tensors.size() && nested_keys; ++i) {
        if (!loaded[i]) continue;
        std::string name = sk.tensors[i].name;
        while (!key_pin.count(name)) { // ends at key[i] at the latest: it prefixes the name
            size_t dot = name.rfind('.');
            name = dot == std::string::npos ? std::string() : name.substr(0, dot);
        }
        int d = key_pin[name];
        if (pin[i] != no_device && d != pin[i]) {
            const std::string& other = sk.tensors[key_first[name]].name;
            return make_error(
                error_code::bad_request,
                "--pin: " + sk.tensors[i].name + " is pinned to " + l.devices[pin[i]].name +
                    " but its device-map entry \"" + name + "\" (which also holds " + other + ") goes to " +
                    (d == no_device ? std::string("no pinned device") : l.devices[d].name) +
                    "; a device-map entry moves a whole module, so pin all of its tensors to one device",
                pin_path(rule_of[i]));
        }
        key[i] = name;
        pin[i] = d;
    }

    units_result out;
    std::unordered_map<std::string, size_t> index;
    std::vector<size_t> unit_of(sk.tensors.size(), SIZE_MAX);
    std::unordered_map<std::string, size_t> unit_of_name; // only the parameters aliases point to
    for (const tensor_alias& al : sk.aliases) unit_of_name.emplace(al.target, SIZE_MAX);
    for (size_t i = 0; i < sk.tensors.size(); ++i) {
        if (!loaded[i]) continue;
        const tensor_info& t = sk.tensors[i];
        auto [it, fresh] = index.emplace(key[i], out.units.size());
        if (fresh) {
            unit u;
            u.module = key[i];
            u.pinned = pin[i];
            out.units.push_back(std::move(u));
        }
        unit& u = out.units[it->second];
        u.weight_bytes = add(u.weight_bytes, tensor_bytes[i]);
        if (t.what == role::lm_head) u.head = true;
        unit_of[i] = it->second;
        if (!unit_of_name.empty()) {
            auto target = unit_of_name.find(t.name);
            if (target != unit_of_name.end()) target->second = it->second;
        }
    }
    // Each layer's KV cache goes with the unit holding its attention projections.
    size_t layers = plan.kv_bytes_by_layer.size();
    std::vector<size_t> attention_unit(layers, SIZE_MAX), first_unit(layers, SIZE_MAX);
    for (size_t i = 0; i < sk.tensors.size(); ++i) {
        const tensor_info& t = sk.tensors[i];
        if (unit_of[i] == SIZE_MAX || t.layer == no_index || t.expert != no_index) continue;
        size_t il = static_cast<size_t>(t.layer);
        if (il >= layers) continue;
        if (first_unit[il] == SIZE_MAX) first_unit[il] = unit_of[i];
        if (attention_unit[il] == SIZE_MAX && is_attention(t.what)) attention_unit[il] = unit_of[i];
    }
    for (uint64_t il = 0; il < layers; ++il) {
        if (plan.kv_bytes_by_layer[il] == 0) continue;
        size_t chosen = attention_unit[il] != SIZE_MAX ? attention_unit[il] : first_unit[il];
        if (chosen == SIZE_MAX) continue; // a layer that is not loaded (MTP without --mtp)
        out.units[chosen].kv_bytes = add(out.units[chosen].kv_bytes, plan.kv_bytes_by_layer[il]);
        if (out.units[chosen].layer == no_index) out.units[chosen].layer = static_cast<int64_t>(il);
    }
    // Tied aliases: their module goes where the parameter they alias lives. Aliases that share a module
    // (BERT's decoder ties its weight to the word embeddings and its bias to cls.predictions.bias) tie their
    // targets' units together: such a group is placed as one unit, at its first member's position.
    bool head_seen = false;
    for (const auto& u : out.units) head_seen = head_seen || u.head;
    std::vector<size_t> group(out.units.size());
    for (size_t i = 0; i < group.size(); ++i) group[i] = i;
    auto root = [&](size_t i) {
        while (group[i] != i) i = group[i] = group[group[i]];
        return i;
    };
    std::unordered_map<std::string, size_t> alias_unit; // alias module -> a unit it ties to
    for (const tensor_alias& al : sk.aliases) {
        auto it = unit_of_name.find(al.target);
        if (it == unit_of_name.end() || it->second == SIZE_MAX) continue;
        std::string m = module_of_tensor(al.name);
        auto [at, fresh] = alias_unit.emplace(m, it->second);
        if (!fresh) {
            size_t x = root(at->second), y = root(it->second);
            if (x != y) group[std::max(x, y)] = std::min(x, y);
        }
        auto own = index.find(m); // the alias module is itself a unit: tie it too
        if (own != index.end()) {
            size_t x = root(own->second), y = root(it->second);
            if (x != y) group[std::max(x, y)] = std::min(x, y);
        }
        if (!head_seen && al.name.rfind("lm_head", 0) == 0) {
            out.units[it->second].head = true; // a tied head runs where the embedding lives
            head_seen = true;
        }
    }
    if (!head_seen && !out.units.empty()) out.units.back().head = true; // no head: the last module
    std::vector<unit> merged;
    std::vector<size_t> merged_index(out.units.size(), SIZE_MAX);
    for (size_t i = 0; i < out.units.size(); ++i) {
        size_t r = root(i);
        if (r == i) {
            merged_index[i] = merged.size();
            merged.push_back(std::move(out.units[i]));
            continue;
        }
        unit& into = merged[merged_index[r]];
        unit& u = out.units[i];
        into.also.push_back(u.module);
        into.also.insert(into.also.end(), u.also.begin(), u.also.end());
        into.weight_bytes = add(into.weight_bytes, u.weight_bytes);
        into.kv_bytes = add(into.kv_bytes, u.kv_bytes);
        into.head = into.head || u.head;
        if (into.layer == no_index) into.layer = u.layer;
        if (into.pinned != no_device && u.pinned != no_device && into.pinned != u.pinned)
            return make_error(error_code::bad_request,
                              "--pin: " + into.module + " and " + u.module +
                                  " share tied parameters, so they go to one "
                                  "device, but they are pinned to " +
                                  l.devices[into.pinned].name + " and " + l.devices[u.pinned].name,
                              "pins");
        if (into.pinned == no_device) into.pinned = u.pinned;
    }
    for (const auto& [m, u] : alias_unit) {
        size_t r = merged_index[root(u)];
        out.aliases.push_back({m, merged[r].module});
    }
    std::sort(out.aliases.begin(), out.aliases.end());
    out.units = std::move(merged);
    return out;
}

fixed_charges charges_of(const memory_plan& plan) {
    fixed_charges c;
    for (const plan_item& item : plan.items) {
        if (item.name == "overhead") c.overhead = item.bytes;
        if (item.name != "activations") continue;
        for (const plan_input& in : item.inputs)
            if (in.name == "logits_bytes") c.logits = std::stoull(in.value);
        c.layer_activations = item.bytes >= c.logits ? item.bytes - c.logits : 0;
    }
    return c;
}

// One placement pass with fixed reservations per device; returns the device of each unit (no_device when
// it found no room).
std::vector<int> fill(const std::vector<unit>& units, const layout& l, const std::vector<uint64_t>& reserve,
                      place_strategy strategy, std::vector<uint64_t>& load) {
    size_t n = l.devices.size();
    load = reserve;
    std::vector<int> where(units.size(), no_device);
    auto cost = [&](const unit& u, size_t d) {
        bool holds_kv = l.computes(d);
        return holds_kv ? add(u.weight_bytes, u.kv_bytes) : u.weight_bytes;
    };
    for (size_t i = 0; i < units.size(); ++i)
        if (units[i].pinned != no_device) {
            where[i] = units[i].pinned;
            load[where[i]] = add(load[where[i]], cost(units[i], where[i]));
        }
    // Balanced: every GPU gets a share of what goes on GPUs in proportion to its free memory.
    std::vector<uint64_t> target(n, std::numeric_limits<uint64_t>::max());
    size_t gpus = 0;
    for (const auto& d : l.devices) gpus += d.kind == device_kind::gpu;
    if (strategy == place_strategy::balanced && gpus > 1) {
        uint64_t free_total = 0, wanted = 0;
        for (size_t d = 0; d < gpus; ++d)
            free_total = add(free_total, l.devices[d].budget_bytes > load[d] ? l.devices[d].budget_bytes - load[d] : 0);
        for (size_t i = 0; i < units.size(); ++i)
            if (units[i].pinned == no_device) wanted = add(wanted, cost(units[i], 0));
        double share = free_total ? std::min(1.0, static_cast<double>(wanted) / static_cast<double>(free_total)) : 0;
        for (size_t d = 0; d < gpus; ++d) {
            uint64_t free = l.devices[d].budget_bytes > load[d] ? l.devices[d].budget_bytes - load[d] : 0;
            // In long double: a double holds 2^64 - 1 as 2^64, and converting that back is undefined.
            long double part = static_cast<long double>(free) * static_cast<long double>(share);
            target[d] = add(load[d], part >= static_cast<long double>(free) ? free : static_cast<uint64_t>(part));
        }
    }
    size_t cur = 0;
    std::vector<uint64_t> placed(n, 0);
    for (size_t i = 0; i < units.size(); ++i) {
        if (units[i].pinned != no_device) continue;
        const unit& u = units[i];
        // Balanced: move on once this GPU has its share (rounding a unit to the nearer side).
        while (cur + 1 < gpus && placed[cur] > 0 && add(load[cur], cost(u, cur) / 2) > target[cur]) ++cur;
        while (cur < n && add(load[cur], cost(u, cur)) > l.devices[cur].budget_bytes) ++cur;
        if (cur == n) continue;
        where[i] = static_cast<int>(cur);
        load[cur] = add(load[cur], cost(u, cur));
        placed[cur] = add(placed[cur], 1);
    }
    return where;
}

placement place_once(const analysis& a, const workload& w, const layout& given,
                     const std::vector<unit>& units,
                     const std::vector<std::pair<std::string, std::string>>& aliases, const memory_plan& plan,
                     const place_options& o) {
    placement p;
    p.plan = plan;
    layout l = given;
    size_t n = l.devices.size();
    fixed_charges c = charges_of(plan);
    std::vector<int> where;
    std::vector<uint64_t> load;
    std::vector<std::vector<placed_item>> items(n);
    // accelerate's dispatch_model runs offloaded modules on its main device: the first value of the map that
    // is a GPU (in map order), or the cpu when the map names no GPU. Start from the first GPU listed; when
    // the placement leaves it empty, place again with the device accelerate will really use.
    for (int attempt = 0; attempt < 3; ++attempt) {
        bool gpu_exec = l.devices[l.exec].kind == device_kind::gpu;
        std::vector<uint64_t> reserve(n, 0);
        for (size_t d = 0; d < n; ++d)
            if (l.devices[d].kind == device_kind::gpu) reserve[d] = add(c.overhead, c.layer_activations);
        reserve[l.exec] = add(reserve[l.exec], c.logits);
        if (!gpu_exec) reserve[l.exec] = add(c.layer_activations, c.logits);

        for (int round = 0; round < 8; ++round) {
            where = fill(units, l, reserve, o.strategy, load);
            // What each device really holds with this assignment.
            std::vector<uint64_t> weights(n, 0), kv(n, 0), acts(n, 0), logits(n, 0), buffer(n, 0), over(n, 0);
            std::vector<char> used(n, 0);
            for (size_t i = 0; i < units.size(); ++i) {
                int d = where[i];
                if (d == no_device) continue;
                used[d] = 1;
                weights[d] = add(weights[d], units[i].weight_bytes);
                bool offloaded = !l.computes(d);
                int kv_at = offloaded ? l.exec : d;
                kv[kv_at] = add(kv[kv_at], units[i].kv_bytes);
                if (offloaded) {
                    used[l.exec] = 1;
                    buffer[l.exec] = std::max(buffer[l.exec], units[i].weight_bytes);
                }
                if (units[i].head) {
                    int at = l.computes(d) ? d : l.exec;
                    logits[at] = c.logits;
                }
            }
            bool grew = false;
            for (size_t d = 0; d < n; ++d) {
                if (l.devices[d].kind == device_kind::gpu && used[d]) {
                    acts[d] = c.layer_activations;
                    over[d] = c.overhead;
                }
                if (!gpu_exec && static_cast<int>(d) == l.exec) acts[d] = c.layer_activations;
                items[d] = {
                    {"weights",  weights[d]},
                    {"kv_cache", kv[d]     }
                };
                if (acts[d]) items[d].push_back({"activations", acts[d]});
                if (logits[d]) items[d].push_back({"logits", logits[d]});
                if (buffer[d]) items[d].push_back({"offload_buffer", buffer[d]});
                if (over[d]) items[d].push_back({"overhead", over[d]});
                // Charges beyond what the pass reserved (KV and buffers of offloaded layers, logits
                // elsewhere): reserve them and place again.
                uint64_t fixed = add(add(acts[d], logits[d]), add(buffer[d], over[d]));
                bool holds_kv = l.computes(d);
                uint64_t own_kv = 0;
                for (size_t i = 0; i < units.size(); ++i)
                    if (where[i] == static_cast<int>(d) && holds_kv) own_kv = add(own_kv, units[i].kv_bytes);
                uint64_t extra = add(fixed, kv[d] - std::min(kv[d], own_kv));
                if (extra > reserve[d] && l.devices[d].kind != device_kind::disk) {
                    reserve[d] = extra;
                    grew = true;
                }
            }
            if (!grew) break;
        }
        int main_device = no_device;
        for (size_t i = 0; i < units.size() && main_device == no_device; ++i)
            if (where[i] != no_device && l.devices[where[i]].kind == device_kind::gpu) main_device = where[i];
        if (main_device == no_device) main_device = find_device(l, "cpu");
        if (main_device == no_device || main_device == l.exec) break;
        l.exec = main_device;
    }
    p.execution_device = l.devices[l.exec].name;

    p.unplaced_bytes = 0;
    for (size_t i = 0; i < units.size(); ++i)
        if (where[i] == no_device)
            p.unplaced_bytes = add(p.unplaced_bytes, add(units[i].weight_bytes, units[i].kv_bytes));
    std::unordered_map<std::string, int> device_of_module;
    for (size_t i = 0; i < units.size(); ++i) {
        if (where[i] == no_device) continue;
        p.map.entries.push_back({units[i].module, l.devices[where[i]].name});
        device_of_module.emplace(units[i].module, where[i]);
    }
    for (size_t i = 0; i < units.size(); ++i) // tied members, after the modules in state_dict order
        for (const auto& m : units[i].also)
            if (where[i] != no_device && device_of_module.emplace(m, where[i]).second)
                p.map.entries.push_back({m, l.devices[where[i]].name});
    for (const auto& [alias, target] : aliases) {
        auto it = device_of_module.find(target);
        if (it == device_of_module.end() || device_of_module.count(alias)) continue;
        p.map.entries.push_back({alias, l.devices[it->second].name});
        device_of_module.emplace(alias, it->second);
    }
    p.over_budget_bytes = 0;
    for (size_t d = 0; d < n; ++d) {
        device_placement dp;
        dp.device = l.devices[d];
        dp.items = items[d];
        for (const auto& item : dp.items) dp.total_bytes = add(dp.total_bytes, item.bytes);
        for (size_t i = 0; i < units.size(); ++i)
            if (where[i] == static_cast<int>(d)) {
                ++dp.modules;
                if (units[i].layer != no_index) dp.layers.push_back(static_cast<uint64_t>(units[i].layer));
            }
        std::sort(dp.layers.begin(), dp.layers.end());
        if (dp.device.budget_bytes == std::numeric_limits<uint64_t>::max()) { // unlimited disk
            dp.headroom_bytes = 0;
        } else {
            dp.headroom_bytes = static_cast<int64_t>(std::min<uint64_t>(dp.device.budget_bytes, INT64_MAX)) -
                                static_cast<int64_t>(std::min<uint64_t>(dp.total_bytes, INT64_MAX));
            if (dp.total_bytes > dp.device.budget_bytes)
                p.over_budget_bytes = add(p.over_budget_bytes, dp.total_bytes - dp.device.budget_bytes);
        }
        p.devices.push_back(std::move(dp));
    }
    p.fits = p.unplaced_bytes == 0 && p.over_budget_bytes == 0;
    for (size_t d = 0; d < n; ++d)
        if (!l.computes(d) && p.devices[d].modules > 0)
            p.warnings.push_back(std::to_string(p.devices[d].modules) + " module(s) on " + l.devices[d].name +
                                 ": their weights move to " + p.execution_device +
                                 " for every forward pass (accelerate's offload), which is slow");
    (void)a;
    (void)w;
    return p;
}

struct prepared {
    layout l;
    units_result u;
    memory_plan plan;
};

result<prepared> prepare(const analysis& a, const workload& w, const std::vector<device_budget>& devices,
                         const place_options& o) {
    if (w.mode == plan_mode::training)
        return make_error(error_code::bad_request,
                          "place plans inference; for training memory use plan --mode training (with --zero or "
                          "--fsdp for sharding), for parallel layouts place --tp/--pp",
                          "mode");
    auto l = order_devices(devices);
    if (!l) return l.err();
    auto plan = plan_memory(a, w);
    if (!plan) return plan.err();
    auto u = build_units(a, w, *plan, plan->weight_bytes_by_tensor, *l, o);
    if (!u) return u.err();
    return prepared{std::move(*l), std::move(*u), std::move(*plan)};
}

std::optional<placement> quiet_place(const analysis& a, const workload& w, const std::vector<device_budget>& devices,
                                     const place_options& o) {
    auto prep = prepare(a, w, devices, o);
    if (!prep) return std::nullopt;
    return place_once(a, w, prep->l, prep->u.units, prep->u.aliases, prep->plan, o);
}

void suggest(const analysis& a, const workload& w, const std::vector<device_budget>& devices,
             const place_options& o, placement& p) {
    uint64_t short_bytes = add(p.unplaced_bytes, p.over_budget_bytes);
    p.suggestions.push_back("short by " + binary_size(short_bytes) + " (" + with_thousands(short_bytes) +
                            " bytes): " + with_thousands(p.unplaced_bytes) + " bytes of weights and KV cache found no room" +
                            (p.over_budget_bytes ? ", devices over budget by " + with_thousands(p.over_budget_bytes) : ""));
    // More GPUs of the same kind.
    if (!o.gpu_name.empty()) {
        uint64_t gpus = 0;
        std::optional<uint64_t> cpu;
        bool disk = false;
        for (const auto& d : devices) {
            gpus += d.kind == device_kind::gpu;
            if (d.kind == device_kind::cpu) cpu = d.budget_bytes;
            disk = disk || d.kind == device_kind::disk;
        }
        auto fits_with = [&](uint64_t n) {
            auto more = catalog_devices(o.gpu_name, n, cpu, disk);
            if (!more) return false;
            auto q = quiet_place(a, w, *more, o);
            return q && q->fits;
        };
        // The smallest count that fits, by bisection (more GPUs never hold less).
        constexpr uint64_t most = 64;
        if (gpus < most && fits_with(most)) {
            uint64_t lo = gpus + 1, hi = most;
            while (lo < hi) {
                uint64_t mid = lo + (hi - lo) / 2;
                if (fits_with(mid)) hi = mid;
                else lo = mid + 1;
            }
            p.suggestions.push_back(std::to_string(lo) + " x " + o.gpu_name + " would fit (--gpus " +
                                    std::to_string(lo) + ")");
        } else if (gpus < most) {
            p.suggestions.push_back("even " + std::to_string(most) + " x " + o.gpu_name + " would not fit");
        }
    }
    // A smaller weight format.
    if (w.quant.empty())
        for (const std::string& q : quant_ladder()) {
            if (q.empty()) continue;
            workload t = w;
            t.quant = q;
            auto r = quiet_place(a, t, devices, o);
            if (r && r->fits) {
                p.suggestions.push_back("--quant " + q + " would fit on these devices");
                break;
            }
        }
    // A shorter context or a smaller batch.
    uint64_t seq = w.seq ? w.seq : default_seq(a.spec);
    if (seq > 1) {
        uint64_t best = largest_fitting(seq - 1, [&](uint64_t s) {
            workload t = w;
            t.seq = s;
            auto r = quiet_place(a, t, devices, o);
            return r && r->fits;
        });
        if (best) p.suggestions.push_back("--seq " + std::to_string(best) + " (the longest context that fits at batch " +
                                          std::to_string(w.batch) + ")");
    }
    if (w.batch > 1) {
        uint64_t best = largest_fitting(w.batch - 1, [&](uint64_t b) {
            workload t = w;
            t.batch = b;
            auto r = quiet_place(a, t, devices, o);
            return r && r->fits;
        });
        if (best) p.suggestions.push_back("--batch " + std::to_string(best) + " (the largest batch that fits at seq " +
                                          std::to_string(seq) + ")");
    }
    bool has_cpu = false;
    for (const auto& d : devices) has_cpu = has_cpu || d.kind != device_kind::gpu;
    if (!has_cpu) p.suggestions.push_back("or offload to host memory: add cpu=SIZE (and disk) to --devices, or --cpu SIZE");
}

} // namespace

result<std::vector<device_budget>> catalog_devices(const std::string& gpu, uint64_t count,
                                                   std::optional<uint64_t> cpu_bytes, bool disk) {
    auto g = find_gpu(gpu);
    if (!g) return g.err();
    if (count == 0 || count > 1024)
        return make_error(error_code::out_of_range,
                          "--gpus: expected 1 to 1024 GPUs, got " + std::to_string(count), "gpus");
    std::vector<device_budget> out;
    for (uint64_t i = 0; i < count; ++i)
        out.push_back({"cuda:" + std::to_string(i), device_kind::gpu, g->memory_bytes(), g->key});
    if (cpu_bytes) out.push_back({"cpu", device_kind::cpu, *cpu_bytes, ""});
    if (disk) out.push_back({"disk", device_kind::disk, std::numeric_limits<uint64_t>::max(), ""});
    return out;
}

result<placement> place_model(const analysis& a, const workload& w, const std::vector<device_budget>& devices,
                              const place_options& options) {
    auto prep = prepare(a, w, devices, options);
    if (!prep) return prep.err();
    placement p = place_once(a, w, prep->l, prep->u.units, prep->u.aliases, prep->plan, options);
    p.warnings.insert(p.warnings.begin(), prep->plan.warnings.begin(), prep->plan.warnings.end());
    if (!p.fits) suggest(a, w, devices, options, p);
    return p;
}

namespace {

std::string option_name(const char* key, bool cli) {
    if (!cli) return std::string(key) == "pin" ? "pins" : key;
    std::string s = std::string("--") + key;
    for (char& c : s)
        if (c == '_') c = '-';
    if (s == "--gpu-count") return "--gpus";
    return s;
}

} // namespace

result<place_setup> resolve_place(const place_request& r, bool cli) {
    auto name = [&](const char* key) { return option_name(key, cli); };
    place_setup s;
    if (r.strategy) {
        if (*r.strategy == "sequential") s.options.strategy = place_strategy::sequential;
        else if (*r.strategy == "balanced") s.options.strategy = place_strategy::balanced;
        else
            return make_error(error_code::bad_request,
                              name("strategy") + ": expected sequential or balanced, got \"" + *r.strategy + "\"",
                              "strategy");
    }
    s.options.experts_on_cpu = r.experts_on_cpu;
    for (const auto& pin : r.pins) {
        size_t eq = pin.rfind('=');
        std::string path = "pins[" + std::to_string(s.options.pins.size()) + "]";
        if (eq == std::string::npos || eq == 0 || eq + 1 == pin.size())
            return make_error(error_code::bad_request,
                              (cli ? std::string("--pin") : path) + ": expected PATTERN=DEVICE (e.g. lm_head.*=cpu), got \"" +
                                  pin + "\"",
                              path);
        s.options.pins.push_back({pin.substr(0, eq), pin.substr(eq + 1)});
    }
    for (auto [value, key] : {std::pair{r.tp, "tp"}, std::pair{r.pp, "pp"}, std::pair{r.gpu_count, "gpu_count"}})
        if (value && (*value == 0 || *value > 1024))
            return make_error(error_code::out_of_range,
                              name(key) + ": expected 1 to 1024, got " + std::to_string(*value), key);
    s.parallel = r.tp || r.pp;
    s.tp = r.tp.value_or(1);
    s.pp = r.pp.value_or(1);
    if (r.devices && r.gpu)
        return make_error(error_code::bad_request,
                          "give either " + name("devices") + " or " + name("gpu") + ", not both", "devices");
    if (r.devices && (r.gpu_count || r.cpu || r.disk))
        return make_error(error_code::bad_request,
                          name("gpu_count") + ", " + name("cpu") + " and " + name("disk") + " go with " + name("gpu") +
                              "; with " + name("devices") + " list every device",
                          "devices");
    if (!r.gpu && (r.gpu_count || r.cpu || r.disk))
        return make_error(error_code::bad_request,
                          name("gpu_count") + ", " + name("cpu") + " and " + name("disk") + " need " + name("gpu"), "gpu");
    if (r.devices) {
        auto d = parse_devices(*r.devices);
        if (!d) return d.err();
        s.devices = std::move(*d);
    } else if (r.gpu) {
        std::optional<uint64_t> cpu;
        if (r.cpu) {
            auto size = parse_size(*r.cpu);
            if (!size || *size == 0)
                return make_error(error_code::bad_request,
                                  name("cpu") + ": expected a size such as 64GiB, got \"" + *r.cpu + "\"", "cpu");
            cpu = *size;
        }
        uint64_t count = r.gpu_count ? *r.gpu_count : s.parallel ? s.tp * s.pp : 1;
        auto d = catalog_devices(*r.gpu, count, cpu, r.disk);
        if (!d) return d.err();
        s.devices = std::move(*d);
        s.options.gpu_name = s.devices.front().gpu;
    } else if (!s.parallel) {
        return make_error(error_code::bad_request,
                          "place needs devices: " + name("gpu") + " NAME (with " + name("gpu_count") + " N) or " +
                              name("devices") + " cuda:0=24GiB,...",
                          "devices");
    }
    if (s.parallel && (r.experts_on_cpu || !r.pins.empty() || r.strategy))
        return make_error(error_code::bad_request,
                          name("strategy") + ", " + name("experts_on_cpu") + " and " + name("pin") +
                              " shape device maps; " + name("tp") + "/" + name("pp") + " plans have none",
                          "tp");
    return s;
}

} // namespace modelplan
