#include "api/header-json.h"

#include "modelplan/header-model.h"

namespace modelplan {

void write_header_source(json_writer& w, const analysis& a) {
    if (!a.fetched_from.empty()) {
        w.Key("fetched_bytes");
        w.Uint64(a.fetched_bytes);
        w.Key("fetched_from");
        write_string(w, a.fetched_from);
    }
    if (!a.from_headers) return;
    const header_model& h = *a.from_headers;
    w.Key("source");
    w.String("checkpoint headers");
    w.Key("checkpoint");
    write_string(w, h.checkpoint);
    w.Key("generic");
    w.StartArray();
    for (const generic_note& n : h.notes) {
        w.StartObject();
        w.Key("item");
        write_string(w, n.item);
        w.Key("note");
        write_string(w, n.note);
        w.EndObject();
    }
    w.EndArray();
}

} // namespace modelplan
