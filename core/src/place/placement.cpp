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
    std::string module;            // its device-map entry
    std::vector<std::string> also; // modules tied to it, placed with it (their own entries)
    uint64_t weight_bytes = 0;
    uint64_t kv_bytes = 0;
    uint64_t state_bytes = 0; // recurrent state of its layer (Mamba, DeltaNet, short convolution)
    // What the unit needs beside its weights where it runs: its layer's KV cache and recurrent state.
    uint64_t runtime_bytes() const { return add(kv_bytes, state_bytes); }
    int64_t layer = no_index; // the layer whose KV cache it carries
    int pinned = no_device;
    bool head = false; // holds the output head (logits are computed where it is)
    bool vision =
        false; // holds the vision tower's first block: the tower's activations are charged where it runs
};

struct fixed_charges {
    uint64_t layer_activations = 0;  // per GPU that runs layers
    uint64_t logits = 0;             // once, where the head runs
    uint64_t overhead = 0;           // per GPU used
    uint64_t vision_activations = 0; // once, where the vision tower's first block runs (images given)
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
                          "place: disk alone cannot run a model; add a GPU (cuda:0=24GiB) or cpu=SIZE",
                          "devices");
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

// Error paths name the request's "pins" array and the entry: pins[2].
std::string pin_path(size_t rule) {
    return "pins[" + std::to_string(rule) + "]";
}

// The device of each pin rule; experts_on_cpu needs a cpu device and routed experts.
result<std::vector<int>> pin_devices(const analysis& a, const layout& l, const place_options& o) {
    if (o.experts_on_cpu && find_device(l, "cpu") == no_device)
        return make_error(
            error_code::bad_request,
            "experts_on_cpu: needs a cpu device among the devices (devices ...,cpu=64GiB, or cpu "
            "64GiB with gpu)",
            "experts_on_cpu");
    if (o.experts_on_cpu && a.spec.n_experts == 0)
        return make_error(error_code::bad_request,
                          "experts_on_cpu: " + a.spec.architecture + " has no routed experts",
                          "experts_on_cpu");
    std::vector<int> device_of_rule;
    for (const auto& p : o.pins) {
        int d = find_device(l, p.device);
        if (d == no_device)
            return make_error(error_code::bad_request,
                              pin_path(device_of_rule.size()) + ": " + p.pattern + "=" + p.device + ": " +
                                  p.device + " is not among the devices",
                              pin_path(device_of_rule.size()));
        device_of_rule.push_back(d);
    }
    return device_of_rule;
}

// Per tensor of the skeleton: whether it loads, the device-map key it goes under, the device it is pinned to
// and the pin rule that matched it (for messages).
struct tensor_keys {
    std::vector<char> loaded;
    std::vector<std::string> key;
    std::vector<int> pin;
    std::vector<size_t> rule_of;
};

// Each loaded tensor starts in its block (or its experts' module with experts_on_cpu), pinned by the first
// rule that matches its name; every rule must match some tensor.
result<tensor_keys> match_pins(const analysis& a, const workload& w, const layout& l, const place_options& o,
                               const std::vector<int>& device_of_rule) {
    const skeleton& sk = a.sk;
    const size_t n = sk.tensors.size();
    tensor_keys k{std::vector<char>(n, 0), std::vector<std::string>(n), std::vector<int>(n, no_device),
                  std::vector<size_t>(n, 0)};
    const int cpu = find_device(l, "cpu");
    std::vector<char> rule_matched(o.pins.size(), 0);
    for (size_t i = 0; i < n; ++i) {
        const tensor_info& t = sk.tensors[i];
        k.loaded[i] = loads_tensor(a.spec, w, t);
        if (!k.loaded[i]) continue;
        bool stacked = holds_stacked_experts(t); // every expert in one tensor: its module is the experts'
        bool expert = o.experts_on_cpu && (t.expert != no_index || stacked);
        k.key[i] = expert && stacked ? t.name.substr(0, t.name.rfind('.')) : placement_module(t.name, expert);
        if (expert) k.pin[i] = cpu;
        for (size_t r = 0; r < o.pins.size(); ++r)
            if (glob_match(o.pins[r].pattern, t.name)) {
                k.pin[i] = device_of_rule[r];
                rule_matched[r] = 1;
                k.rule_of[i] = r;
                break;
            }
    }
    for (size_t r = 0; r < o.pins.size(); ++r)
        if (!rule_matched[r])
            return make_error(
                error_code::bad_request,
                pin_path(r) + ": the pattern " + quote_value(o.pins[r].pattern) + " matches no tensor of " +
                    a.spec.architecture + " (patterns are globs over names such as " +
                    (sk.tensors.empty() ? std::string("lm_head.weight") : sk.tensors.back().name) + ")",
                pin_path(r));
    return k;
}

// A block whose tensors do not all share one pin is split: pinned tensors get their own module entry.
void split_mixed_blocks(const skeleton& sk, tensor_keys& k) {
    constexpr int mixed = -2;
    std::unordered_map<std::string, int> block_pin;
    for (size_t i = 0; i < sk.tensors.size(); ++i) {
        if (!k.loaded[i]) continue;
        auto it = block_pin.find(k.key[i]);
        if (it == block_pin.end())
            block_pin.emplace(k.key[i], k.pin[i]);
        else if (it->second != k.pin[i])
            it->second = mixed;
    }
    for (size_t i = 0; i < sk.tensors.size(); ++i)
        if (k.loaded[i] && block_pin[k.key[i]] == mixed && k.pin[i] != no_device)
            k.key[i] = module_of_tensor(sk.tensors[i].name);
}

// transformers gives each tensor the device of the longest map key that prefixes its name, so a split-off
// module takes all its tensors with it (q_proj.bias follows a pinned q_proj.weight). Each tensor joins the
// unit of the longest key over its name; tensors pinned to different devices cannot share one entry. Without
// pins or split experts every key is a block or a module that no other key extends, so each tensor's own key
// is already the longest one (and DeepSeek-V3's 46k names need no lookups): call this only with pins or split
// experts.
std::optional<error> join_longest_keys(const skeleton& sk, const layout& l, tensor_keys& k) {
    std::unordered_map<std::string, int> key_pin;
    std::unordered_map<std::string, size_t> key_first; // a tensor that made the key (for messages)
    for (size_t i = 0; i < sk.tensors.size(); ++i) {
        if (!k.loaded[i]) continue;
        auto [it, fresh] = key_pin.emplace(k.key[i], k.pin[i]);
        if (fresh)
            key_first.emplace(k.key[i], i);
        else if (it->second == no_device)
            it->second = k.pin[i];
    }
    for (size_t i = 0; i < sk.tensors.size(); ++i) {
        if (!k.loaded[i]) continue;
        std::string name = sk.tensors[i].name;
        while (!key_pin.count(name)) { // ends at key[i] at the latest: it prefixes the name
            size_t dot = name.rfind('.');
            name = dot == std::string::npos ? std::string() : name.substr(0, dot);
        }
        int d = key_pin[name];
        if (k.pin[i] != no_device && d != k.pin[i]) {
            const std::string& other = sk.tensors[key_first[name]].name;
            return make_error(
                error_code::bad_request,
                pin_path(k.rule_of[i]) + ": " + sk.tensors[i].name + " is pinned to " +
                    l.devices[k.pin[i]].name + " but its device-map entry \"" + name +
                    "\" (which also holds " + other + ") goes to " +
                    (d == no_device ? std::string("no pinned device") : l.devices[d].name) +
                    "; a device-map entry moves a whole module, so pin all of its tensors to one device",
                pin_path(k.rule_of[i]));
        }
        k.key[i] = name;
        k.pin[i] = d;
    }
    return std::nullopt;
}

// The units in state_dict order, each tensor's unit, and the units of the parameters aliases point to.
struct gathered_units {
    std::vector<unit> units;
    std::unordered_map<std::string, size_t> index;        // device-map entry -> unit
    std::vector<size_t> unit_of;                          // per tensor; SIZE_MAX when not loaded
    std::unordered_map<std::string, size_t> unit_of_name; // only the parameters aliases point to
};

gathered_units gather_units(const skeleton& sk, const tensor_keys& k,
                            const std::vector<uint64_t>& tensor_bytes) {
    gathered_units g;
    g.unit_of.assign(sk.tensors.size(), SIZE_MAX);
    for (const tensor_alias& al : sk.aliases) g.unit_of_name.emplace(al.target, SIZE_MAX);
    for (size_t i = 0; i < sk.tensors.size(); ++i) {
        if (!k.loaded[i]) continue;
        const tensor_info& t = sk.tensors[i];
        auto [it, fresh] = g.index.emplace(k.key[i], g.units.size());
        if (fresh) {
            unit u;
            u.module = k.key[i];
            u.pinned = k.pin[i];
            g.units.push_back(std::move(u));
        }
        unit& u = g.units[it->second];
        u.weight_bytes = add(u.weight_bytes, tensor_bytes[i]);
        if (t.what == role::lm_head) u.head = true;
        g.unit_of[i] = it->second;
        if (!g.unit_of_name.empty()) {
            auto target = g.unit_of_name.find(t.name);
            if (target != g.unit_of_name.end()) target->second = it->second;
        }
    }
    return g;
}

// Each layer's KV cache goes with the unit holding its attention projections (else its first unit), and so
// does its recurrent state.
void attach_kv_cache(const skeleton& sk, const memory_plan& plan, gathered_units& g) {
    size_t layers = plan.kv_bytes_by_layer.size();
    auto state_of = [&](uint64_t il) {
        return il < plan.state_bytes_by_layer.size() ? plan.state_bytes_by_layer[il] : 0;
    };
    std::vector<size_t> attention_unit(layers, SIZE_MAX), first_unit(layers, SIZE_MAX);
    for (size_t i = 0; i < sk.tensors.size(); ++i) {
        const tensor_info& t = sk.tensors[i];
        if (g.unit_of[i] == SIZE_MAX || t.layer == no_index || t.expert != no_index) continue;
        size_t il = static_cast<size_t>(t.layer);
        if (il >= layers) continue;
        if (first_unit[il] == SIZE_MAX) first_unit[il] = g.unit_of[i];
        if (attention_unit[il] == SIZE_MAX && is_attention(t.what)) attention_unit[il] = g.unit_of[i];
    }
    for (uint64_t il = 0; il < layers; ++il) {
        // Hybrid models list every layer (their MLP-only blocks hold neither cache nor state).
        if (plan.kv_bytes_by_layer[il] == 0 && state_of(il) == 0 && plan.state_bytes_by_layer.empty())
            continue;
        size_t chosen = attention_unit[il] != SIZE_MAX ? attention_unit[il] : first_unit[il];
        if (chosen == SIZE_MAX) continue; // a layer that is not loaded (MTP without include_mtp)
        unit& u = g.units[chosen];
        u.kv_bytes = add(u.kv_bytes, plan.kv_bytes_by_layer[il]);
        u.state_bytes = add(u.state_bytes, state_of(il));
        if (u.layer == no_index) u.layer = static_cast<int64_t>(il);
    }
}

// The unit holding the vision tower's first block (its working set is charged there, plan item
// vision_activations); a tower split over devices runs one block at a time, so the set is held once.
void mark_vision_unit(const model_spec& spec, const skeleton& sk, gathered_units& g) {
    for (size_t i = 0; i < sk.tensors.size(); ++i) {
        const tensor_info& t = sk.tensors[i];
        if (g.unit_of[i] == SIZE_MAX || t.layer == no_index) continue;
        auto il = static_cast<size_t>(t.layer);
        if (il < spec.layers.size() && spec.layers[il].stack == layer_stack::vision) {
            g.units[g.unit_of[i]].vision = true;
            return;
        }
    }
}

// Units that must share a device, as a union-find over unit indices (the smallest index is a group's root).
struct unit_groups {
    std::vector<size_t> parent;
    explicit unit_groups(size_t n) : parent(n) {
        for (size_t i = 0; i < n; ++i) parent[i] = i;
    }
    size_t root(size_t i) {
        while (parent[i] != i) i = parent[i] = parent[parent[i]];
        return i;
    }
    void join(size_t a, size_t b) {
        size_t x = root(a), y = root(b);
        if (x != y) parent[std::max(x, y)] = std::min(x, y);
    }
};

// Tied aliases: their module goes where the parameter they alias lives. Aliases that share a module (BERT's
// decoder ties its weight to the word embeddings and its bias to cls.predictions.bias) tie their targets'
// units together. Marks the unit that runs the output head. Returns each alias module and a unit it ties to.
std::unordered_map<std::string, size_t> tie_aliases(const skeleton& sk, gathered_units& g,
                                                    unit_groups& groups) {
    bool head_seen = false;
    for (const auto& u : g.units) head_seen = head_seen || u.head;
    std::unordered_map<std::string, size_t> alias_unit;
    for (const tensor_alias& al : sk.aliases) {
        auto it = g.unit_of_name.find(al.target);
        if (it == g.unit_of_name.end() || it->second == SIZE_MAX) continue;
        std::string m = module_of_tensor(al.name);
        auto [at, fresh] = alias_unit.emplace(m, it->second);
        if (!fresh) groups.join(at->second, it->second);
        auto own = g.index.find(m); // the alias module is itself a unit: tie it too
        if (own != g.index.end()) groups.join(own->second, it->second);
        if (!head_seen && al.name.rfind("lm_head", 0) == 0) {
            g.units[it->second].head = true; // a tied head runs where the embedding lives
            head_seen = true;
        }
    }
    if (!head_seen && !g.units.empty()) g.units.back().head = true; // no head: the last module
    return alias_unit;
}

// Each group of tied units becomes one unit, at its first member's position; the others are listed in `also`.
result<units_result> merge_tied_units(const layout& l, gathered_units& g, unit_groups& groups,
                                      const std::unordered_map<std::string, size_t>& alias_unit) {
    units_result out;
    std::vector<size_t> merged_index(g.units.size(), SIZE_MAX);
    for (size_t i = 0; i < g.units.size(); ++i) {
        size_t r = groups.root(i);
        if (r == i) {
            merged_index[i] = out.units.size();
            out.units.push_back(std::move(g.units[i]));
            continue;
        }
        unit& into = out.units[merged_index[r]];
        unit& u = g.units[i];
        into.also.push_back(u.module);
        into.also.insert(into.also.end(), u.also.begin(), u.also.end());
        into.weight_bytes = add(into.weight_bytes, u.weight_bytes);
        into.kv_bytes = add(into.kv_bytes, u.kv_bytes);
        into.state_bytes = add(into.state_bytes, u.state_bytes);
        into.head = into.head || u.head;
        into.vision = into.vision || u.vision;
        if (into.layer == no_index) into.layer = u.layer;
        if (into.pinned != no_device && u.pinned != no_device && into.pinned != u.pinned)
            return make_error(
                error_code::bad_request,
                "pins: " + into.module + " and " + u.module +
                    " share tied parameters, so they go to one device, but they are pinned to " +
                    l.devices[into.pinned].name + " and " + l.devices[u.pinned].name,
                "pins");
        if (into.pinned == no_device) into.pinned = u.pinned;
    }
    for (const auto& [m, u] : alias_unit)
        out.aliases.push_back({m, out.units[merged_index[groups.root(u)]].module});
    std::sort(out.aliases.begin(), out.aliases.end());
    return out;
}

// What a device map places: the units (blocks or modules, with the KV cache of their layer), pins applied,
// tied parameters together.
result<units_result> build_units(const analysis& a, const workload& w, const memory_plan& plan,
                                 const layout& l, const place_options& o) {
    auto device_of_rule = pin_devices(a, l, o);
    if (!device_of_rule) return device_of_rule.err();
    auto keys = match_pins(a, w, l, o, *device_of_rule);
    if (!keys) return keys.err();
    split_mixed_blocks(a.sk, *keys);
    if (!o.pins.empty() || o.experts_on_cpu)
        if (auto e = join_longest_keys(a.sk, l, *keys)) return *e;
    gathered_units g = gather_units(a.sk, *keys, plan.weight_bytes_by_tensor);
    attach_kv_cache(a.sk, plan, g);
    if (plan.bytes.vision_activations) mark_vision_unit(a.spec, a.sk, g);
    unit_groups groups(g.units.size());
    auto alias_unit = tie_aliases(a.sk, g, groups);
    return merge_tied_units(l, g, groups, alias_unit);
}

// Charges that do not follow a unit, from the plan's typed figures.
fixed_charges charges_of(const memory_plan& plan) {
    fixed_charges c;
    c.overhead = plan.bytes.overhead;
    c.logits = plan.bytes.forward.logits;
    c.vision_activations = plan.bytes.vision_activations;
    c.layer_activations = plan.bytes.activations - std::min(plan.bytes.activations, c.logits);
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
        return holds_kv ? add(u.weight_bytes, u.runtime_bytes()) : u.weight_bytes;
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
            free_total = add(free_total,
                             l.devices[d].budget_bytes > load[d] ? l.devices[d].budget_bytes - load[d] : 0);
        for (size_t i = 0; i < units.size(); ++i)
            if (units[i].pinned == no_device) wanted = add(wanted, cost(units[i], 0));
        double share =
            free_total ? std::min(1.0, static_cast<double>(wanted) / static_cast<double>(free_total)) : 0;
        for (size_t d = 0; d < gpus; ++d) {
            uint64_t free = l.devices[d].budget_bytes > load[d] ? l.devices[d].budget_bytes - load[d] : 0;
            // In long double: a double holds 2^64 - 1 as 2^64, and converting that back is undefined.
            long double part = static_cast<long double>(free) * static_cast<long double>(share);
            target[d] =
                add(load[d], part >= static_cast<long double>(free) ? free : static_cast<uint64_t>(part));
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

// What one assignment of units puts on each device: the items it holds, and the charges beyond what the
// fill reserved (KV and buffers of offloaded layers, logits elsewhere) that the next fill must reserve.
struct device_loads {
    std::vector<held_bytes> held;
    std::vector<std::vector<placed_item>> items;
    std::vector<uint64_t> needed_reserve;
};

device_loads loads_of(const std::vector<unit>& units, const layout& l, const fixed_charges& c,
                      const std::vector<int>& where) {
    const size_t n = l.devices.size();
    std::vector<uint64_t> weights(n, 0), kv(n, 0), acts(n, 0), logits(n, 0), buffer(n, 0), over(n, 0);
    std::vector<uint64_t> state(n, 0), vision(n, 0);
    std::vector<uint64_t> own_kv(n, 0); // KV and state of the units a computing device holds itself
    std::vector<char> used(n, 0);
    const bool gpu_exec = l.devices[l.exec].kind == device_kind::gpu;
    for (size_t i = 0; i < units.size(); ++i) {
        int d = where[i];
        if (d == no_device) continue;
        used[d] = 1;
        weights[d] = add(weights[d], units[i].weight_bytes);
        bool offloaded = !l.computes(d);
        int kv_at = offloaded ? l.exec : d;
        kv[kv_at] = add(kv[kv_at], units[i].kv_bytes);
        state[kv_at] = add(state[kv_at], units[i].state_bytes);
        if (!offloaded) own_kv[d] = add(own_kv[d], units[i].runtime_bytes());
        if (offloaded) {
            used[l.exec] = 1;
            buffer[l.exec] = std::max(buffer[l.exec], units[i].weight_bytes);
        }
        if (units[i].head) logits[offloaded ? l.exec : d] = c.logits;
        if (units[i].vision) vision[offloaded ? l.exec : d] = c.vision_activations;
    }
    device_loads out{std::vector<held_bytes>(n), std::vector<std::vector<placed_item>>(n),
                     std::vector<uint64_t>(n, 0)};
    for (size_t d = 0; d < n; ++d) {
        if (l.devices[d].kind == device_kind::gpu && used[d]) {
            acts[d] = c.layer_activations;
            over[d] = c.overhead;
        }
        if (!gpu_exec && static_cast<int>(d) == l.exec) acts[d] = c.layer_activations;
        held_bytes& h = out.held[d];
        h.weights = weights[d];
        h.kv_cache = kv[d];
        h.recurrent_state = state[d];
        h.activations = acts[d];
        h.vision_activations = vision[d];
        h.logits = logits[d];
        h.offload_buffer = buffer[d];
        h.overhead = over[d];
        std::vector<placed_item>& items = out.items[d];
        items = {
            {"weights",  h.weights },
            {"kv_cache", h.kv_cache}
        };
        if (h.recurrent_state) items.push_back({"recurrent_state", h.recurrent_state});
        if (h.activations) items.push_back({"activations", h.activations});
        if (h.vision_activations) items.push_back({"vision_activations", h.vision_activations});
        if (h.logits) items.push_back({"logits", h.logits});
        if (h.offload_buffer) items.push_back({"offload_buffer", h.offload_buffer});
        if (h.overhead) items.push_back({"overhead", h.overhead});
        uint64_t fixed =
            add(add(add(h.activations, h.vision_activations), h.logits), add(h.offload_buffer, h.overhead));
        const uint64_t runtime = add(kv[d], state[d]);
        out.needed_reserve[d] = add(fixed, runtime - std::min(runtime, own_kv[d]));
    }
    return out;
}

// The first pass reserves each GPU's activations and CUDA context, and the logits on the execution device.
std::vector<uint64_t> first_reserve(const layout& l, const fixed_charges& c) {
    std::vector<uint64_t> reserve(l.devices.size(), 0);
    for (size_t d = 0; d < l.devices.size(); ++d)
        if (l.devices[d].kind == device_kind::gpu) reserve[d] = add(c.overhead, c.layer_activations);
    reserve[l.exec] = add(add(reserve[l.exec], c.logits), c.vision_activations);
    if (l.devices[l.exec].kind != device_kind::gpu)
        reserve[l.exec] = add(add(c.layer_activations, c.logits), c.vision_activations);
    return reserve;
}

struct assignment {
    std::vector<int> where; // device of each unit, no_device when it found no room
    std::vector<held_bytes> held;
    std::vector<std::vector<placed_item>> items;
};

// Fills, then reserves what the assignment charges beyond the reservations and fills again, until they hold.
assignment settle(const std::vector<unit>& units, const layout& l, const fixed_charges& c,
                  place_strategy strategy) {
    std::vector<uint64_t> reserve = first_reserve(l, c), load;
    assignment a;
    for (int round = 0; round < 8; ++round) {
        a.where = fill(units, l, reserve, strategy, load);
        device_loads loads = loads_of(units, l, c, a.where);
        a.held = std::move(loads.held);
        a.items = std::move(loads.items);
        bool grew = false;
        for (size_t d = 0; d < l.devices.size(); ++d)
            if (loads.needed_reserve[d] > reserve[d] && l.devices[d].kind != device_kind::disk) {
                reserve[d] = loads.needed_reserve[d];
                grew = true;
            }
        if (!grew) break;
    }
    return a;
}

// accelerate's dispatch_model runs offloaded modules on its main device: the first value of the map that is a
// GPU (in map order), or the cpu when the map names no GPU.
int main_device_of(const layout& l, const std::vector<int>& where) {
    for (int d : where)
        if (d != no_device && l.devices[d].kind == device_kind::gpu) return d;
    return find_device(l, "cpu");
}

// The device map: every unit's module, then tied members in state_dict order, then aliases.
device_map map_of(const std::vector<unit>& units,
                  const std::vector<std::pair<std::string, std::string>>& aliases, const layout& l,
                  const std::vector<int>& where) {
    device_map map;
    std::unordered_map<std::string, int> device_of_module;
    for (size_t i = 0; i < units.size(); ++i) {
        if (where[i] == no_device) continue;
        map.entries.push_back({units[i].module, l.devices[where[i]].name});
        device_of_module.emplace(units[i].module, where[i]);
    }
    for (size_t i = 0; i < units.size(); ++i)
        for (const auto& m : units[i].also)
            if (where[i] != no_device && device_of_module.emplace(m, where[i]).second)
                map.entries.push_back({m, l.devices[where[i]].name});
    for (const auto& [alias, target] : aliases) {
        auto it = device_of_module.find(target);
        if (it == device_of_module.end() || device_of_module.count(alias)) continue;
        map.entries.push_back({alias, l.devices[it->second].name});
        device_of_module.emplace(alias, it->second);
    }
    return map;
}

// Per device: its items and total, the modules and layers it holds, and its headroom; adds what devices
// hold over their budget to p.over_budget_bytes.
void summarize_devices(const std::vector<unit>& units, const layout& l, const assignment& as, placement& p) {
    p.over_budget_bytes = 0;
    for (size_t d = 0; d < l.devices.size(); ++d) {
        device_placement dp;
        dp.device = l.devices[d];
        dp.bytes = as.held[d];
        dp.items = as.items[d];
        for (const auto& item : dp.items) dp.total_bytes = add(dp.total_bytes, item.bytes);
        for (size_t i = 0; i < units.size(); ++i)
            if (as.where[i] == static_cast<int>(d)) {
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
}

placement place_once(const layout& given, const std::vector<unit>& units,
                     const std::vector<std::pair<std::string, std::string>>& aliases, const memory_plan& plan,
                     const place_options& o) {
    placement p;
    p.plan = plan;
    layout l = given;
    const fixed_charges c = charges_of(plan);
    // Start from the first GPU listed as the execution device; when the placement leaves it empty, place
    // again with the device accelerate will really use.
    assignment as;
    for (int attempt = 0; attempt < 3; ++attempt) {
        as = settle(units, l, c, o.strategy);
        int main_device = main_device_of(l, as.where);
        if (main_device == no_device || main_device == l.exec) break;
        l.exec = main_device;
    }
    p.execution_device = l.devices[l.exec].name;
    p.unplaced_bytes = 0;
    for (size_t i = 0; i < units.size(); ++i)
        if (as.where[i] == no_device)
            p.unplaced_bytes = add(p.unplaced_bytes, add(units[i].weight_bytes, units[i].runtime_bytes()));
    p.map = map_of(units, aliases, l, as.where);
    summarize_devices(units, l, as, p);
    p.fits = p.unplaced_bytes == 0 && p.over_budget_bytes == 0;
    for (size_t d = 0; d < l.devices.size(); ++d)
        if (!l.computes(d) && p.devices[d].modules > 0)
            p.warnings.push_back(std::to_string(p.devices[d].modules) + " module(s) on " + l.devices[d].name +
                                 ": their weights move to " + p.execution_device +
                                 " for every forward pass (accelerate's offload), which is slow");
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
        return make_error(
            error_code::bad_request,
            "mode: place plans inference; for training memory use plan with mode training (zero "
            "for ZeRO/FSDP sharding), for parallel layouts place with tp/pp",
            "mode");
    auto l = order_devices(devices);
    if (!l) return l.err();
    auto plan = plan_memory(a, w);
    if (!plan) return plan.err();
    auto u = build_units(a, w, *plan, *l, o);
    if (!u) return u.err();
    return prepared{std::move(*l), std::move(*u), std::move(*plan)};
}

std::optional<placement> quiet_place(const analysis& a, const workload& w,
                                     const std::vector<device_budget>& devices, const place_options& o) {
    auto prep = prepare(a, w, devices, o);
    if (!prep) return std::nullopt;
    return place_once(prep->l, prep->u.units, prep->u.aliases, prep->plan, o);
}

void suggest(const analysis& a, const workload& w, const std::vector<device_budget>& devices,
             const place_options& o, placement& p) {
    uint64_t short_bytes = add(p.unplaced_bytes, p.over_budget_bytes);
    p.suggestions.push_back(
        "short by " + binary_size(short_bytes) + " (" + with_thousands(short_bytes) +
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
                if (fits_with(mid))
                    hi = mid;
                else
                    lo = mid + 1;
            }
            p.suggestions.push_back(std::to_string(lo) + " x " + o.gpu_name + " would fit (gpu_count " +
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
                p.suggestions.push_back("quant " + q + " would fit on these devices");
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
        if (best)
            p.suggestions.push_back("seq " + std::to_string(best) +
                                    " (the longest context that fits at batch " + std::to_string(w.batch) +
                                    ")");
    }
    if (w.batch > 1) {
        uint64_t best = largest_fitting(w.batch - 1, [&](uint64_t b) {
            workload t = w;
            t.batch = b;
            auto r = quiet_place(a, t, devices, o);
            return r && r->fits;
        });
        if (best)
            p.suggestions.push_back("batch " + std::to_string(best) +
                                    " (the largest batch that fits at seq " + std::to_string(seq) + ")");
    }
    bool has_cpu = false;
    for (const auto& d : devices) has_cpu = has_cpu || d.kind != device_kind::gpu;
    if (!has_cpu)
        p.suggestions.push_back("or offload to host memory: add cpu=SIZE (and disk) to devices, or cpu SIZE");
}

} // namespace

placement_fit solve_placement_fit(const analysis& a, const workload& w,
                                  const std::vector<device_budget>& devices, const place_options& o) {
    placement_fit f;
    auto fits_with = [&](const workload& t) {
        auto r = quiet_place(a, t, devices, o);
        return r && r->fits;
    };
    workload_limits l = solve_workload_limits(a, w, fits_with);
    f.max_seq = l.max_seq;
    f.max_batch = l.max_batch;
    f.smallest_quant = l.smallest_quant;
    f.quant_found = l.quant_found;
    if (!o.gpu_name.empty()) {
        std::optional<uint64_t> cpu;
        bool disk = false;
        for (const auto& d : devices) {
            if (d.kind == device_kind::cpu) cpu = d.budget_bytes;
            disk = disk || d.kind == device_kind::disk;
        }
        auto fits_on = [&](uint64_t n) {
            auto more = catalog_devices(o.gpu_name, n, cpu, disk);
            if (!more) return false;
            auto q = quiet_place(a, w, *more, o);
            return q && q->fits;
        };
        constexpr uint64_t most = 64;
        if (fits_on(most)) { // more GPUs never hold less: the smallest count by bisection
            uint64_t lo = 1, hi = most;
            while (lo < hi) {
                uint64_t mid = lo + (hi - lo) / 2;
                if (fits_on(mid))
                    hi = mid;
                else
                    lo = mid + 1;
            }
            f.gpus_needed = lo;
        }
    }
    return f;
}

result<std::vector<device_budget>> catalog_devices(const std::string& gpu, uint64_t count,
                                                   std::optional<uint64_t> cpu_bytes, bool disk) {
    auto g = find_gpu(gpu);
    if (!g) return g.err();
    if (count == 0 || count > 1024)
        return make_error(error_code::out_of_range,
                          "gpu_count: expected 1 to 1024 GPUs, got " + std::to_string(count), "gpu_count");
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
    placement p = place_once(prep->l, prep->u.units, prep->u.aliases, prep->plan, options);
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
        if (*r.strategy == "sequential")
            s.options.strategy = place_strategy::sequential;
        else if (*r.strategy == "balanced")
            s.options.strategy = place_strategy::balanced;
        else
            return make_error(error_code::bad_request,
                              name("strategy") + ": expected sequential or balanced, got " +
                                  quote_value(*r.strategy),
                              "strategy");
    }
    s.options.experts_on_cpu = r.experts_on_cpu;
    for (const auto& pin : r.pins) {
        size_t eq = pin.rfind('=');
        std::string path = "pins[" + std::to_string(s.options.pins.size()) + "]";
        if (eq == std::string::npos || eq == 0 || eq + 1 == pin.size())
            return make_error(error_code::bad_request,
                              (cli ? std::string("--pin") : path) +
                                  ": expected PATTERN=DEVICE (e.g. lm_head.*=cpu), got " + quote_value(pin),
                              path);
        s.options.pins.push_back({pin.substr(0, eq), pin.substr(eq + 1)});
    }
    for (auto [value, key] : {
             std::pair{r.tp,        "tp"       },
             std::pair{r.pp,        "pp"       },
             std::pair{r.gpu_count, "gpu_count"}
    })
        if (value && (*value == 0 || *value > 1024))
            return make_error(error_code::out_of_range,
                              name(key) + ": expected 1 to 1024, got " + std::to_string(*value), key);
    s.parallel = r.tp || r.pp;
    s.solve = r.solve;
    s.tp = r.tp.value_or(1);
    s.pp = r.pp.value_or(1);
    if (r.devices && r.gpu)
        return make_error(error_code::bad_request,
                          "give either " + name("devices") + " or " + name("gpu") + ", not both", "devices");
    if (r.devices && (r.gpu_count || r.cpu || r.disk))
        return make_error(error_code::bad_request,
                          name("gpu_count") + ", " + name("cpu") + " and " + name("disk") + " go with " +
                              name("gpu") + "; with " + name("devices") + " list every device",
                          "devices");
    if (!r.gpu && (r.gpu_count || r.cpu || r.disk))
        return make_error(
            error_code::bad_request,
            name("gpu_count") + ", " + name("cpu") + " and " + name("disk") + " need " + name("gpu"), "gpu");
    if (r.devices) {
        auto d = parse_devices(*r.devices);
        if (!d) return d.err();
        s.devices = std::move(*d);
    } else if (r.gpu) {
        std::optional<uint64_t> cpu;
        if (r.cpu) {
            auto size = parse_memory_size(*r.cpu);
            if (!size || *size == 0)
                return make_error(error_code::bad_request,
                                  name("cpu") + ": expected a size such as 64 (GiB), 64GiB or 64GB, got " +
                                      quote_value(*r.cpu),
                                  "cpu");
            cpu = *size;
        }
        uint64_t count = r.gpu_count ? *r.gpu_count : s.parallel ? s.tp * s.pp : 1;
        auto d = catalog_devices(*r.gpu, count, cpu, r.disk);
        if (!d) return d.err();
        s.devices = std::move(*d);
        s.options.gpu_name = s.devices.front().gpu;
    } else if (!s.parallel) {
        return make_error(error_code::bad_request,
                          "place needs devices: " + name("gpu") + " NAME (with " + name("gpu_count") +
                              " N) or " + name("devices") + " cuda:0=24GiB,...",
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
