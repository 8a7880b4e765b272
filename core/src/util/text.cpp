#include "modelplan/text.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>

namespace modelplan {

std::string with_thousands(uint64_t n) {
    std::string digits = std::to_string(n);
    std::string out;
    out.reserve(digits.size() + digits.size() / 3);
    for (size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return out;
}

std::string binary_size(uint64_t bytes) {
    static const char* units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (bytes < 1024) return std::to_string(bytes) + " B";
    double v = static_cast<double>(bytes);
    int u = -1;
    while (v >= 1024.0 && u < 5) {
        v /= 1024.0;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f %s", v, units[u]);
    return buf;
}

std::string short_count(uint64_t n) {
    static const struct {
        double scale;
        const char* suffix;
    } steps[] = {
        {1e12, "T"},
        {1e9,  "B"},
        {1e6,  "M"},
        {1e3,  "K"}
    };
    for (const auto& s : steps) {
        if (static_cast<double>(n) >= s.scale) {
            char buf[32];
            std::snprintf(buf, sizeof buf, "%.2f%s", static_cast<double>(n) / s.scale, s.suffix);
            return buf;
        }
    }
    return std::to_string(n);
}

std::optional<uint64_t> parse_size(const std::string& text) {
    static const struct {
        const char* suffix;
        double scale;
    } units[] = {
        {"KiB", 1024.0         },
        {"MiB", 1048576.0      },
        {"GiB", 1073741824.0   },
        {"TiB", 1099511627776.0},
        {"KB",  1e3            },
        {"MB",  1e6            },
        {"GB",  1e9            },
        {"TB",  1e12           },
        {"B",   1.0            },
        {"",    1.0            }
    };
    for (const auto& u : units) {
        std::string suffix = u.suffix;
        if (text.size() <= suffix.size() ||
            text.compare(text.size() - suffix.size(), suffix.size(), suffix) != 0)
            continue;
        std::string number = text.substr(0, text.size() - suffix.size());
        while (!number.empty() && number.back() == ' ') number.pop_back();
        if (number.empty() || number.find_first_not_of("0123456789.") != std::string::npos)
            return std::nullopt;
        char* end = nullptr;
        double value = std::strtod(number.c_str(), &end);
        if (*end != '\0') return std::nullopt;
        double bytes = value * u.scale;
        if (!(bytes >= 0.0) || bytes >= 1.8446744073709552e19) return std::nullopt;
        return static_cast<uint64_t>(bytes + 0.5);
    }
    return std::nullopt;
}

std::optional<uint64_t> parse_memory_size(const std::string& text) {
    std::string s = text;
    while (!s.empty() && s.front() == ' ') s.erase(s.begin());
    while (!s.empty() && s.back() == ' ') s.pop_back();
    size_t digits = s.find_first_not_of("0123456789.");
    std::string number = s.substr(0, digits);
    std::string unit = digits == std::string::npos ? std::string() : s.substr(digits);
    while (!unit.empty() && unit.front() == ' ') unit.erase(unit.begin());
    for (char& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (number.empty()) return std::nullopt;
    static const struct {
        const char* unit;
        const char* canonical;
    } units[] = {
        {"",    "GiB"},
        {"b",   "B"  },
        {"k",   "KiB"},
        {"kib", "KiB"},
        {"kb",  "KB" },
        {"m",   "MiB"},
        {"mib", "MiB"},
        {"mb",  "MB" },
        {"g",   "GiB"},
        {"gib", "GiB"},
        {"gb",  "GB" },
        {"t",   "TiB"},
        {"tib", "TiB"},
        {"tb",  "TB" }
    };
    for (const auto& u : units)
        if (unit == u.unit) return parse_size(number + u.canonical);
    return std::nullopt;
}

size_t edit_distance(const std::string& a, const std::string& b) {
    std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                        std::tolower(static_cast<unsigned char>(b[j - 1]));
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (same ? 0 : 1)});
        }
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

std::string closest_name(const std::string& wanted, const std::vector<std::string>& candidates) {
    std::string best;
    size_t best_d = SIZE_MAX;
    for (const auto& c : candidates) {
        size_t d = edit_distance(wanted, c);
        if (d < best_d) {
            best_d = d;
            best = c;
        }
    }
    // A typo changes a few characters; more than a third of the name is a different name.
    size_t limit = std::max<size_t>(2, std::max(wanted.size(), best.size()) / 3);
    return best_d <= limit ? best : std::string();
}

std::string quote_value(std::string_view text, size_t max_bytes) {
    // The value as written between the quotes (escaped) holds at most max_bytes bytes, cut between
    // characters: a control character's escape takes 6 bytes, so a value of them is cut sooner.
    std::string out = "\"";
    size_t i = 0;
    while (i < text.size()) {
        const auto c = static_cast<unsigned char>(text[i]);
        char piece[8];
        size_t length = 0, consumed = 1;
        if (c == '"' || c == '\\') {
            piece[0] = '\\';
            piece[1] = static_cast<char>(c);
            length = 2;
        } else if (c < 0x20 || c == 0x7F) {
            length = static_cast<size_t>(std::snprintf(piece, sizeof piece, "\\u%04X", c));
        } else { // one UTF-8 character, whole
            while (i + consumed < text.size() && consumed < 4 &&
                   (static_cast<unsigned char>(text[i + consumed]) & 0xC0) == 0x80)
                ++consumed;
            length = consumed;
            for (size_t k = 0; k < consumed; ++k) piece[k] = text[i + k];
        }
        if (out.size() - 1 + length > max_bytes) break;
        out.append(piece, length);
        i += consumed;
    }
    if (i < text.size()) return out + "...\" (" + with_thousands(text.size()) + " bytes)";
    return out + "\"";
}

bool ends_with(std::string_view text, std::string_view suffix, std::string* before) {
    if (text.size() < suffix.size() || text.compare(text.size() - suffix.size(), suffix.size(), suffix) != 0)
        return false;
    if (before) before->assign(text.substr(0, text.size() - suffix.size()));
    return true;
}

std::string replace_all(std::string s, const std::string& key, const std::string& value) {
    for (size_t pos = s.find(key); pos != std::string::npos; pos = s.find(key, pos + value.size()))
        s.replace(pos, key.size(), value);
    return s;
}

} // namespace modelplan
