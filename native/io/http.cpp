#include "io/http.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "modelplan/text.h"

#ifdef MODELPLAN_HAVE_CURL
#include <curl/curl.h>
#endif

namespace modelplan::cli {

std::string url_host(const std::string& url) {
    size_t scheme = url.find("://");
    if (scheme == std::string::npos) return "";
    size_t start = scheme + 3;
    size_t end = url.find_first_of("/?#", start);
    std::string host = url.substr(start, end == std::string::npos ? std::string::npos : end - start);
    size_t at = host.rfind('@'); // user:password@host
    if (at != std::string::npos) host = host.substr(at + 1);
    for (char& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return host;
}

#ifndef MODELPLAN_HAVE_CURL

bool http_available() {
    return false;
}

result<http_response> http_get(const std::string& url, const http_options&, uint64_t,
                               std::optional<std::pair<uint64_t, uint64_t>>) {
    return make_error(error_code::io, url_host(url) +
                                          ": this modelplan was built without libcurl, so it cannot "
                                          "fetch from the Hub (install libcurl4-openssl-dev and "
                                          "rebuild, or use the local Hugging Face cache)");
}

#else

namespace {

struct transfer {
    std::string body;
    uint64_t max_body = 0;
    bool too_large = false;
    std::string content_range, retry_after;
};

size_t on_body(char* data, size_t size, size_t count, void* user) {
    auto* t = static_cast<transfer*>(user);
    const size_t n = size * count;
    if (t->body.size() + n > t->max_body) {
        t->too_large = true;
        return 0; // libcurl stops with CURLE_WRITE_ERROR
    }
    t->body.append(data, n);
    return n;
}

// One header line; keeps the two the callers need.
size_t on_header(char* data, size_t size, size_t count, void* user) {
    auto* t = static_cast<transfer*>(user);
    const size_t n = size * count;
    std::string line(data, n);
    size_t colon = line.find(':');
    if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::string value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(" \t"));
        while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
            value.pop_back();
        if (name == "content-range") t->content_range = value;
        if (name == "retry-after") t->retry_after = value;
    }
    return n;
}

struct curl_global {
    curl_global() { curl_global_init(CURL_GLOBAL_DEFAULT); }
    ~curl_global() { curl_global_cleanup(); }
};

struct easy_handle {
    CURL* h = curl_easy_init();
    ~easy_handle() {
        if (h) curl_easy_cleanup(h);
    }
};

struct header_list {
    curl_slist* list = nullptr;
    ~header_list() { curl_slist_free_all(list); }
    void add(const std::string& line) { list = curl_slist_append(list, line.c_str()); }
};

struct one_try {
    std::optional<http_response> response; // a status was received
    std::string failure;                   // else what went wrong
    bool retryable = false;
    std::string redirect; // a 3xx's Location, absolute
    std::string retry_after;
};

one_try try_once(const std::string& url, const http_options& o, uint64_t max_body,
                 const std::optional<std::pair<uint64_t, uint64_t>>& range) {
    one_try out;
    easy_handle e;
    if (!e.h) {
        out.failure = "libcurl could not start a request";
        return out;
    }
    transfer t;
    t.max_body = max_body;
    header_list headers;
    if (!o.token.empty() && url_host(url) == o.token_host) headers.add("Authorization: Bearer " + o.token);
    headers.add("User-Agent: modelplan");
    std::string range_text;
    if (range) range_text = std::to_string(range->first) + "-" + std::to_string(range->second);
    curl_easy_setopt(e.h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(e.h, CURLOPT_HTTPHEADER, headers.list);
    curl_easy_setopt(e.h, CURLOPT_FOLLOWLOCATION, 0L); // redirects are followed by http_get, token rules kept
    curl_easy_setopt(e.h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e.h, CURLOPT_CONNECTTIMEOUT, o.connect_seconds);
    curl_easy_setopt(e.h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e.h, CURLOPT_LOW_SPEED_TIME, o.stall_seconds);
    curl_easy_setopt(e.h, CURLOPT_TIMEOUT, o.total_seconds);
    curl_easy_setopt(e.h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e.h, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(e.h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e.h, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(e.h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (range) curl_easy_setopt(e.h, CURLOPT_RANGE, range_text.c_str());
    CURLcode rc = curl_easy_perform(e.h);
    if (rc != CURLE_OK) {
        if (t.too_large) {
            out.failure =
                "the response is larger than " + binary_size(max_body) + ", the limit for this file";
            return out;
        }
        out.failure = curl_easy_strerror(rc);
        out.retryable = rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_COULDNT_CONNECT ||
                        rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR || rc == CURLE_GOT_NOTHING ||
                        rc == CURLE_PARTIAL_FILE;
        if (rc == CURLE_OPERATION_TIMEDOUT)
            out.failure = "the server sent nothing for " + std::to_string(o.stall_seconds) +
                          " s or did not finish within " + std::to_string(o.total_seconds) + " s";
        return out;
    }
    long status = 0;
    curl_easy_getinfo(e.h, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 300 && status < 400) {
        char* location = nullptr;
        curl_easy_getinfo(e.h, CURLINFO_REDIRECT_URL, &location);
        if (location) {
            out.redirect = location;
            return out;
        }
    }
    http_response r;
    r.status = status;
    r.body = std::move(t.body);
    r.url = url;
    r.content_range = t.content_range;
    out.retryable = status == 429 || status >= 500;
    out.retry_after = t.retry_after;
    out.response = std::move(r);
    return out;
}

} // namespace

bool http_available() {
    return true;
}

result<http_response> http_get(const std::string& url_in, const http_options& o, uint64_t max_body,
                               std::optional<std::pair<uint64_t, uint64_t>> range) {
    static curl_global global;
    std::string url = url_in;
    int redirects = 0;
    for (int attempt = 1;; ++attempt) {
        one_try t = try_once(url, o, max_body, range);
        if (!t.redirect.empty()) {
            if (++redirects > 5) return make_error(error_code::io, url_in + ": more than 5 redirects");
            url = t.redirect;
            --attempt; // a redirect is not a failed attempt
            continue;
        }
        if (!t.retryable || attempt >= o.attempts) {
            if (t.response) return std::move(*t.response);
            return make_error(error_code::io,
                              url + ": " + t.failure +
                                  (t.retryable ? " (after " + std::to_string(attempt) + " attempts)" : ""));
        }
        // Backoff: 0.5, 1, 2 s, or what Retry-After asks (seconds), at most 10 s.
        double wait = 0.5 * static_cast<double>(1 << (attempt - 1));
        if (!t.retry_after.empty() && std::isdigit(static_cast<unsigned char>(t.retry_after[0])))
            wait = std::min(10.0, std::atof(t.retry_after.c_str()));
        std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<long>(wait * 1000)));
    }
}

#endif

} // namespace modelplan::cli
