// A regular-expression search without backtracking (regex-search.h): a recursive-descent parser of the
// ECMAScript subset into a tree, the tree into Thompson automaton instructions, and a search that keeps every
// live thread in one list per text position.
#include "util/regex-search.h"

namespace modelplan::regex {

namespace {

using inst = program::inst;
using op = program::op;

struct node {
    enum class kind : uint8_t { empty, byte, set, begin, end, word, not_word, concat, alt, repeat };
    kind what = kind::empty;
    uint8_t byte = 0;
    uint32_t set = 0;
    uint32_t min = 0, max = 0; // repeat; max == unbounded: no upper bound
    std::vector<node> kids;
};
constexpr uint32_t unbounded = UINT32_MAX;

bool is_word(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

std::bitset<256> class_of(char letter) {
    std::bitset<256> s;
    for (int c = 0; c < 256; ++c) {
        const auto u = static_cast<unsigned char>(c);
        bool in = letter == 'd' || letter == 'D'   ? (u >= '0' && u <= '9')
                  : letter == 'w' || letter == 'W' ? is_word(u)
                                                   : (u == ' ' || (u >= '\t' && u <= '\r'));
        s[c] = in;
    }
    if (letter == 'D' || letter == 'W' || letter == 'S') s.flip();
    return s;
}

class parser {
  public:
    parser(std::string_view text, program& out) : s_(text), out_(out) {}

    bool run(node& tree, std::string& why) {
        if (s_.size() > max_pattern_chars)
            return fail(why, "longer than " + std::to_string(max_pattern_chars) + " characters");
        if (!alternation(tree, 0)) return fail(why, why_);
        if (at_ < s_.size()) return fail(why, "unmatched ) at " + std::to_string(at_));
        return true;
    }

  private:
    std::string_view s_;
    program& out_;
    size_t at_ = 0;
    std::string why_;

    static bool fail(std::string& why, const std::string& text) {
        why = text;
        return false;
    }
    bool error(const std::string& text) {
        if (why_.empty()) why_ = text;
        return false;
    }
    bool more() const { return at_ < s_.size(); }
    char peek() const { return s_[at_]; }
    std::string here() const { return std::to_string(at_); }

    bool alternation(node& n, size_t depth) {
        if (depth > max_depth) return error("groups nested deeper than " + std::to_string(max_depth));
        node first;
        if (!sequence(first, depth)) return false;
        if (!more() || peek() != '|') {
            n = std::move(first);
            return true;
        }
        n.what = node::kind::alt;
        n.kids.push_back(std::move(first));
        while (more() && peek() == '|') {
            ++at_;
            node next;
            if (!sequence(next, depth)) return false;
            n.kids.push_back(std::move(next));
        }
        return true;
    }

    bool sequence(node& n, size_t depth) {
        n.what = node::kind::concat;
        while (more() && peek() != '|' && peek() != ')') {
            node item;
            if (!quantified(item, depth)) return false;
            n.kids.push_back(std::move(item));
        }
        return true;
    }

    // A whole number of at most 3 digits at the cursor.
    bool number(uint32_t& v) {
        size_t start = at_;
        v = 0;
        while (more() && peek() >= '0' && peek() <= '9' && at_ - start < 4) v = v * 10 + (s_[at_++] - '0');
        return at_ > start && at_ - start <= 3;
    }

    bool quantified(node& n, size_t depth) {
        const size_t start = at_;
        if (!atom(n, depth)) return false;
        if (!more()) return true;
        uint32_t lo = 0, hi = 0;
        const char c = peek();
        if (c == '*' || c == '+' || c == '?') {
            lo = c == '+' ? 1 : 0;
            hi = c == '?' ? 1 : unbounded;
            ++at_;
        } else if (c == '{') {
            ++at_;
            if (!number(lo)) return error("expected a count after the { at " + std::to_string(at_ - 1));
            hi = lo;
            if (more() && peek() == ',') {
                ++at_;
                hi = unbounded;
                if (more() && peek() != '}' && !number(hi))
                    return error("expected a count or } in the repeat at " + std::to_string(start));
            }
            if (!more() || peek() != '}')
                return error("missing } of the repeat after " + std::to_string(start));
            ++at_;
            if (lo > max_repeat || (hi != unbounded && hi > max_repeat))
                return error("repeat counts above " + std::to_string(max_repeat) + " are not supported");
            if (hi < lo)
                return error("repeat {" + std::to_string(lo) + "," + std::to_string(hi) + "} is empty");
        } else {
            return true;
        }
        if (n.what == node::kind::begin || n.what == node::kind::end || n.what == node::kind::word ||
            n.what == node::kind::not_word)
            return error("nothing to repeat at " + std::to_string(at_ - 1) + " (an assertion)");
        if (more() && peek() == '?') ++at_; // lazy: the same yes/no answer
        if (more() && (peek() == '*' || peek() == '+' || peek() == '?' || peek() == '{'))
            return error("nothing to repeat at " + here());
        node body = std::move(n);
        n = node{};
        n.what = node::kind::repeat;
        n.min = lo;
        n.max = hi;
        n.kids.push_back(std::move(body));
        return true;
    }

    uint32_t add_set(const std::bitset<256>& s) {
        out_.sets.push_back(s);
        return static_cast<uint32_t>(out_.sets.size() - 1);
    }

    // One escaped character after a backslash, in a class or out of one: a byte, or a class (\d ...).
    bool escape(bool in_class, std::bitset<256>& set, bool& is_set, uint8_t& byte) {
        if (!more()) return error("the pattern ends with a lone \\");
        const char c = s_[at_++];
        is_set = false;
        switch (c) {
        case 'd':
        case 'D':
        case 'w':
        case 'W':
        case 's':
        case 'S': set = class_of(c), is_set = true; return true;
        case 't': byte = '\t'; return true;
        case 'n': byte = '\n'; return true;
        case 'r': byte = '\r'; return true;
        case 'f': byte = '\f'; return true;
        case 'v': byte = '\v'; return true;
        default: break;
        }
        if (c >= '1' && c <= '9')
            return error("backreferences (\\" + std::string(1, c) + ") are not supported");
        if (in_class && c == 'b') return byte = '\b', true;
        const auto u = static_cast<unsigned char>(c);
        if (is_word(u))
            return error("unknown escape \\" + std::string(1, c) + " at " + std::to_string(at_ - 2));
        byte = u;
        return true;
    }

    bool bracket(node& n) {
        const size_t open = at_ - 1;
        std::bitset<256> s;
        bool negate = false;
        if (more() && peek() == '^') negate = true, ++at_;
        bool first = true;
        while (true) {
            if (!more()) return error("missing ] for the [ at " + std::to_string(open));
            char c = peek();
            if (c == ']' && !first) break;
            first = false;
            ++at_;
            uint8_t lo = static_cast<unsigned char>(c);
            if (c == '\\') {
                std::bitset<256> esc;
                bool is_set = false;
                if (!escape(true, esc, is_set, lo)) return false;
                if (is_set) {
                    s |= esc;
                    continue;
                }
            }
            if (at_ + 1 < s_.size() && peek() == '-' && s_[at_ + 1] != ']') {
                ++at_;
                char d = s_[at_++];
                uint8_t hi = static_cast<unsigned char>(d);
                if (d == '\\') {
                    std::bitset<256> esc;
                    bool is_set = false;
                    if (!escape(true, esc, is_set, hi)) return false;
                    if (is_set) return error("a class cannot end a range, at " + std::to_string(at_ - 2));
                }
                if (hi < lo) return error("range out of order in the class at " + std::to_string(open));
                for (int v = lo; v <= hi; ++v) s[v] = true;
            } else {
                s[lo] = true;
            }
        }
        ++at_; // ]
        if (negate) s.flip();
        n.what = node::kind::set;
        n.set = add_set(s);
        return true;
    }

    bool atom(node& n, size_t depth) {
        const char c = s_[at_++];
        switch (c) {
        case '(': {
            const size_t open = at_ - 1;
            if (more() && peek() == '?') {
                if (at_ + 1 < s_.size() && s_[at_ + 1] == ':') {
                    at_ += 2;
                } else {
                    return error("lookaround and other (? groups are not supported (at " +
                                 std::to_string(open) + "); only (?: is");
                }
            }
            if (!alternation(n, depth + 1)) return false;
            if (!more() || peek() != ')') return error("missing ) for the ( at " + std::to_string(open));
            ++at_;
            return true;
        }
        case '[': return bracket(n);
        case '.': {
            std::bitset<256> s;
            s.set();
            s[static_cast<unsigned char>('\n')] = s[static_cast<unsigned char>('\r')] = false;
            n.what = node::kind::set;
            n.set = add_set(s);
            return true;
        }
        case '^': n.what = node::kind::begin; return true;
        case '$': n.what = node::kind::end; return true;
        case '*':
        case '+':
        case '?':
        case '{': return error("nothing to repeat at " + std::to_string(at_ - 1));
        case '\\': {
            if (more() && (peek() == 'b' || peek() == 'B')) {
                n.what = peek() == 'b' ? node::kind::word : node::kind::not_word;
                ++at_;
                return true;
            }
            std::bitset<256> s;
            bool is_set = false;
            uint8_t byte = 0;
            if (!escape(false, s, is_set, byte)) return false;
            if (is_set) {
                n.what = node::kind::set;
                n.set = add_set(s);
            } else {
                n.what = node::kind::byte;
                n.byte = byte;
            }
            return true;
        }
        default:
            n.what = node::kind::byte;
            n.byte = static_cast<unsigned char>(c);
            return true;
        }
    }
};

// The tree into instructions, refusing past max_instructions.
class emitter {
  public:
    explicit emitter(program& p) : p_(p) {}
    bool ok = true;

    void emit(const node& n) {
        if (!ok) return;
        switch (n.what) {
        case node::kind::empty: return;
        case node::kind::byte: push({op::byte, n.byte, 0, 0}); return;
        case node::kind::set: push({op::set, 0, n.set, 0}); return;
        case node::kind::begin: push({op::assert_begin, 0, 0, 0}); return;
        case node::kind::end: push({op::assert_end, 0, 0, 0}); return;
        case node::kind::word: push({op::word, 0, 0, 0}); return;
        case node::kind::not_word: push({op::not_word, 0, 0, 0}); return;
        case node::kind::concat:
            for (const node& k : n.kids) emit(k);
            return;
        case node::kind::alt: {
            // split a, next; a: kid; jump end; next: split b, ... ; last kid
            std::vector<size_t> jumps;
            for (size_t i = 0; i < n.kids.size() && ok; ++i) {
                if (i + 1 < n.kids.size()) {
                    size_t split = push({op::split, 0, 0, 0});
                    emit(n.kids[i]);
                    jumps.push_back(push({op::jump, 0, 0, 0}));
                    if (!ok) return;
                    p_.code[split].x = static_cast<uint32_t>(split + 1);
                    p_.code[split].y = here();
                } else {
                    emit(n.kids[i]);
                }
            }
            if (!ok) return;
            for (size_t j : jumps) p_.code[j].x = here();
            return;
        }
        case node::kind::repeat: {
            const node& body = n.kids.front();
            for (uint32_t i = 0; i < n.min && ok; ++i) emit(body);
            if (n.max == unbounded) {
                // loop: split body, out; body; jump loop
                size_t loop = push({op::split, 0, 0, 0});
                emit(body);
                push({op::jump, 0, static_cast<uint32_t>(loop), 0});
                if (!ok) return;
                p_.code[loop].x = static_cast<uint32_t>(loop + 1);
                p_.code[loop].y = here();
                return;
            }
            std::vector<size_t> splits;
            for (uint32_t i = n.min; i < n.max && ok; ++i) {
                splits.push_back(push({op::split, 0, 0, 0}));
                emit(body);
            }
            if (!ok) return;
            for (size_t s : splits) {
                p_.code[s].x = static_cast<uint32_t>(s + 1);
                p_.code[s].y = here();
            }
            return;
        }
        }
    }

    size_t push(inst i) {
        if (p_.code.size() >= max_instructions) {
            ok = false;
            return 0;
        }
        p_.code.push_back(i);
        return p_.code.size() - 1;
    }
    uint32_t here() const { return static_cast<uint32_t>(p_.code.size()); }

  private:
    program& p_;
};

} // namespace

bool compile(std::string_view pattern, program& out, std::string& why) {
    out = program{};
    node tree;
    parser read(pattern, out);
    if (!read.run(tree, why)) return false;
    emitter e(out);
    e.emit(tree);
    e.push({op::match, 0, 0, 0});
    if (!e.ok) {
        why = "too large once its repeats are expanded (more than " + std::to_string(max_instructions) +
              " steps)";
        return false;
    }
    return true;
}

bool search(const program& p, std::string_view text) {
    const size_t n_code = p.code.size();
    std::vector<uint32_t> current, next, stack;
    std::vector<size_t> mark(n_code, SIZE_MAX);
    size_t generation = 0;
    bool matched = false;
    // The threads reachable from `pc` without reading, at position `pos`, into `list` (generation-marked).
    auto add = [&](std::vector<uint32_t>& list, uint32_t start, size_t pos) {
        stack.clear();
        stack.push_back(start);
        while (!stack.empty()) {
            uint32_t pc = stack.back();
            stack.pop_back();
            if (pc >= n_code || mark[pc] == generation) continue;
            mark[pc] = generation;
            const inst& i = p.code[pc];
            const bool word_before = pos > 0 && is_word(static_cast<unsigned char>(text[pos - 1]));
            const bool word_after = pos < text.size() && is_word(static_cast<unsigned char>(text[pos]));
            switch (i.what) {
            case op::jump: stack.push_back(i.x); break;
            case op::split:
                stack.push_back(i.y);
                stack.push_back(i.x);
                break;
            case op::assert_begin:
                if (pos == 0) stack.push_back(pc + 1);
                break;
            case op::assert_end:
                if (pos == text.size()) stack.push_back(pc + 1);
                break;
            case op::word:
                if (word_before != word_after) stack.push_back(pc + 1);
                break;
            case op::not_word:
                if (word_before == word_after) stack.push_back(pc + 1);
                break;
            case op::match: matched = true; break;
            default: list.push_back(pc);
            }
        }
    };
    ++generation;
    add(current, 0, 0);
    for (size_t pos = 0; pos < text.size() && !matched; ++pos) {
        const auto c = static_cast<unsigned char>(text[pos]);
        ++generation;
        next.clear();
        for (uint32_t pc : current) {
            const inst& i = p.code[pc];
            const bool takes = (i.what == op::byte && i.byte == c) || (i.what == op::set && p.sets[i.x][c]);
            if (takes) add(next, pc + 1, pos + 1);
        }
        add(next, 0, pos + 1); // a match may start at every position (regex_search)
        current.swap(next);
    }
    return matched;
}

} // namespace modelplan::regex
