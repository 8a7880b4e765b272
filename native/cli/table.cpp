#include "table.h"

#include <algorithm>

namespace modelplan::cli {

namespace {
// Display width: count UTF-8 code points, not bytes (for "×").
size_t width(const std::string& s) {
    return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}
} // namespace

std::string table::render(size_t indent) const {
    std::vector<size_t> widths(columns_.size());
    for (size_t c = 0; c < columns_.size(); ++c) widths[c] = width(columns_[c].first);
    for (const auto& r : rows_)
        for (size_t c = 0; c < r.size() && c < widths.size(); ++c)
            widths[c] = std::max(widths[c], width(r[c]));

    auto line = [&](const std::vector<std::string>& cells) {
        std::string out(indent, ' ');
        for (size_t c = 0; c < columns_.size(); ++c) {
            std::string cell = c < cells.size() ? cells[c] : "";
            std::string pad(widths[c] - width(cell), ' ');
            bool last = c + 1 == columns_.size();
            if (columns_[c].second == align::right)
                out += pad + cell;
            else
                out += last ? cell : cell + pad;
            if (!last) out += "  ";
        }
        return out + "\n";
    };
    std::vector<std::string> header;
    for (const auto& col : columns_) header.push_back(col.first);
    std::string out = line(header);
    for (const auto& r : rows_) out += line(r);
    return out;
}

} // namespace modelplan::cli
