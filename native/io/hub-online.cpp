#include "io/hub-online.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include <rapidjson/document.h>
#include <unistd.h>

#include "io/files.h"
#include "modelplan/text.h"

namespace modelplan::cli {

namespace fs = std::filesystem;

namespace {

// The listing of a repository with tens of thousands of files is a few MB.
constexpr uint64_t max_listing_bytes = 32ull << 20;

std::string env(const char* name) {
    const char* v = std::getenv(name);
    return v ? std::string(v) : std::string();
}

// Percent-encodes everything but unreserved characters (and '/' when `keep_slash`).
std::string encode(const std::string& text, bool keep_slash) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : text) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    return s;
}

// A Hub response that is not a success, in words.
error refused(const hub_id& id, const std::string& what, long status, bool token) {
    const std::string name = id.repo + (id.revision_given ? "@" + id.revision : "");
    if (status == 401 || status == 403)
        return make_error(
            error_code::io,
            name + ": the Hub refused " + what + " (HTTP " + std::to_string(status) + "): " +
                (token ? "the token given does not grant access to this gated or private "
                         "repository (accept its terms on the Hub with that account)"
                       : "a gated or private repository needs a token: set HF_TOKEN=hf_... (or log "
                         "in with `huggingface-cli login`)"));
    if (status == 404)
        return make_error(
            error_code::unknown_model,
            name + ": " + what + " not found on the Hub (HTTP 404): " +
                (what == "the repository"
                     ? "no such repository" + (id.revision_given
                                                   ? std::string(" or revision \"") + id.revision + "\""
                                                   : std::string())
                     : "no such file at this revision"));
    return make_error(error_code::io,
                      name + ": the Hub answered HTTP " + std::to_string(status) + " for " + what);
}

// A file on the Hub read with Range requests: the first read learns the size from Content-Range.
class remote_source : public byte_source {
  public:
    remote_source(std::string url, std::string name, const http_options& http,
                  std::shared_ptr<uint64_t> fetched, hub_id id)
        : url_(std::move(url)), name_(std::move(name)), http_(http), fetched_(std::move(fetched)),
          id_(std::move(id)) {}

    uint64_t size() const override { return size_; }
    const std::string& bytes() const override { return bytes_; }

    std::optional<error> read_to(uint64_t n) override {
        if (size_ != unknown_size) n = std::min(n, size_);
        if (n <= bytes_.size()) return std::nullopt;
        const uint64_t first = bytes_.size(), last = n - 1;
        auto r = http_get(url_, http_, n - first, std::pair{first, last});
        if (!r) return make_error(r.err().code, id_.repo + " " + name_ + ": " + r.err().message);
        *fetched_ += r->body.size();
        if (r->status != 206 && r->status != 200) return refused(id_, name_, r->status, !http_.token.empty());
        if (r->status == 200) { // no Range support: the whole file came (it fit in what was asked for)
            if (first != 0)
                return make_error(error_code::io,
                                  id_.repo + " " + name_ + ": the server ignored a Range request (HTTP 200)");
            size_ = r->body.size();
            bytes_ = std::move(r->body);
            return std::nullopt;
        }
        // "bytes FIRST-LAST/TOTAL", for the range asked.
        uint64_t got_first = 0, got_last = 0, total = 0;
        if (std::sscanf(r->content_range.c_str(), "bytes %lu-%lu/%lu", &got_first, &got_last, &total) != 3 ||
            got_first != first || got_last < got_first || got_last >= total ||
            r->body.size() != got_last - got_first + 1 || got_last > last)
            return make_error(error_code::bad_checkpoint,
                              id_.repo + " " + name_ + ": the server's Content-Range " +
                                  quote_value(r->content_range) + " does not match the " +
                                  std::to_string(r->body.size()) + " bytes sent for bytes " +
                                  std::to_string(first) + "-" + std::to_string(last));
        if (size_ != unknown_size && total != size_)
            return make_error(error_code::bad_checkpoint,
                              id_.repo + " " + name_ + ": the file's size changed between requests (" +
                                  std::to_string(size_) + ", then " + std::to_string(total) + " bytes)");
        size_ = total;
        bytes_ += r->body;
        return std::nullopt;
    }

  private:
    std::string url_, name_;
    http_options http_;
    std::shared_ptr<uint64_t> fetched_;
    hub_id id_;
    uint64_t size_ = unknown_size;
    std::string bytes_;
};

} // namespace

bool online_allowed() {
    const std::string v = env("MODELPLAN_ONLINE");
    return v == "1" || v == "true" || v == "yes";
}

void allow_online() {
    setenv("MODELPLAN_ONLINE", "1", 1);
}

std::string hub_endpoint() {
    std::string e = env("HF_ENDPOINT");
    while (!e.empty() && e.back() == '/') e.pop_back();
    return e.empty() ? "https://huggingface.co" : e;
}

std::string hub_token() {
    if (std::string t = trimmed(env("HF_TOKEN")); !t.empty()) return t;
    std::vector<fs::path> files;
    if (std::string p = env("HF_TOKEN_PATH"); !p.empty()) files.emplace_back(p);
    if (std::string h = env("HF_HOME"); !h.empty()) files.push_back(fs::path(h) / "token");
    if (std::string home = env("HOME"); !home.empty())
        files.push_back(fs::path(home) / ".cache" / "huggingface" / "token");
    for (const fs::path& f : files) {
        if (path_problem(f)) continue;
        auto text = read_text_file(f, 4096, "a Hugging Face token file");
        if (text) return trimmed(*text);
    }
    return "";
}

result<std::shared_ptr<hub_repository>> hub_repository::open(const hub_id& id) {
    auto repo = std::make_shared<hub_repository>();
    repo->id_ = id;
    repo->endpoint_ = hub_endpoint();
    repo->http_.token = hub_token();
    repo->http_.token_host = url_host(repo->endpoint_);
    if (std::string t = env("MODELPLAN_HTTP_TIMEOUT"); !t.empty()) { // seconds; tests use a short one
        long s = std::atol(t.c_str());
        if (s > 0) repo->http_.stall_seconds = repo->http_.total_seconds = repo->http_.connect_seconds = s;
    }
    std::string url = repo->endpoint_ + "/api/models/" + encode(id.repo, true);
    if (id.revision_given) url += "/revision/" + encode(id.revision, false);
    auto r = http_get(url, repo->http_, max_listing_bytes);
    if (!r)
        return make_error(r.err().code, id.repo + ": listing the repository on " + repo->endpoint_ + ": " +
                                            r.err().message);
    *repo->fetched_ += r->body.size();
    if (r->status != 200) return refused(id, "the repository", r->status, !repo->http_.token.empty());
    rapidjson::Document d;
    d.Parse(r->body.data(), r->body.size());
    auto siblings = d.IsObject() ? d.FindMember("siblings") : rapidjson::Value::MemberIterator();
    if (!d.IsObject() || siblings == d.MemberEnd() || !siblings->value.IsArray())
        return make_error(error_code::io, id.repo + ": the Hub's listing (" + url +
                                              ") is not a JSON object with a \"siblings\" array");
    for (const auto& s : siblings->value.GetArray()) {
        if (!s.IsObject()) continue;
        auto name = s.FindMember("rfilename");
        if (name != s.MemberEnd() && name->value.IsString())
            repo->files_.emplace_back(name->value.GetString(), name->value.GetStringLength());
    }
    return repo;
}

bool hub_repository::has(const std::string& name) const {
    for (const auto& f : files_)
        if (f == name) return true;
    return false;
}

std::string hub_repository::file_url(const std::string& name) const {
    return endpoint_ + "/" + encode(id_.repo, true) + "/resolve/" + encode(id_.revision, false) + "/" +
           encode(name, true);
}

std::string hub_repository::label() const {
    return id_.repo + "@" + id_.revision + " at " + endpoint_;
}

result<std::string> hub_repository::fetch_text(const std::string& name, uint64_t limit) {
    auto r = http_get(file_url(name), http_, limit);
    if (!r) return make_error(r.err().code, id_.repo + " " + name + ": " + r.err().message);
    *fetched_ += r->body.size();
    if (r->status != 200) return refused(id_, name, r->status, !http_.token.empty());
    return std::move(r->body);
}

result<loaded_checkpoint> hub_repository::load_checkpoint() {
    std::vector<std::string> top; // the repository's top level, as a snapshot folder holds it
    for (const auto& f : files_)
        if (f.find('/') == std::string::npos) top.push_back(f);
    auto self = this;
    // On a terminal, a progress line while many files' headers are read (a large index's shards).
    const bool progress = ::isatty(2) != 0;
    auto opened = std::make_shared<size_t>(0);
    source_opener open = [self, progress,
                          opened](const std::string& name) -> result<std::unique_ptr<byte_source>> {
        if (progress && ++*opened > 1)
            std::fprintf(stderr, "\rmodelplan: reading headers from the Hub: file %zu (%s bytes so far)  ",
                         *opened, with_thousands(*self->fetched_).c_str());
        return std::unique_ptr<byte_source>(
            new remote_source(self->file_url(name), name, self->http_, self->fetched_, self->id_));
    };
    auto loaded = load_checkpoint_from(top, open, id_.repo + " on the Hub");
    if (progress && *opened > 1) std::fprintf(stderr, "\n");
    if (loaded && has("config.json")) loaded->folder_config = "config.json";
    return loaded;
}

} // namespace modelplan::cli
