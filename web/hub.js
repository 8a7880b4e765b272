// Reading a model from the Hugging Face Hub in the browser (docs/hub.md, "On the page"): the repository's file
// list, config.json, and checkpoint headers with Range requests, fetched by the browser itself from the endpoint
// the user names. The page computes nothing here: the bytes go to the wasm module as a dropped file's would.

// org/name[@revision], each part of letters, digits, '-', '_', '.', not starting with '.' or '-', no '..', at
// most 96 characters: the Hub's rules, as the native program reads ids (docs/hub.md).
export function parseHubId(text) {
  const m = /^([^/@\s]+)\/([^/@\s]+)(?:@(\S+))?$/.exec(String(text ?? '').trim());
  if (!m) return null;
  const part = (p) => /^[A-Za-z0-9_.-]{1,96}$/.test(p) && !/^[.-]/.test(p) && !p.includes('..');
  if (!part(m[1]) || !part(m[2])) return null;
  if (m[3] !== undefined && !/^[A-Za-z0-9_./-]{1,256}$/.test(m[3])) return null;
  return { repo: `${m[1]}/${m[2]}`, revision: m[3] ?? 'main', revisionGiven: m[3] !== undefined };
}

const enc = (s) => s.split('/').map(encodeURIComponent).join('/');

/** A Hub error in words, with the id and what was asked. */
function refused(id, what, status, token) {
  const name = `${id.repo}${id.revisionGiven ? `@${id.revision}` : ''}`;
  if (status === 401 || status === 403)
    return `${name}: the Hub refused ${what} (HTTP ${status}): ${token
      ? 'the token given does not grant access to this gated or private repository'
      : 'a gated or private repository needs a token: paste one in "Hub token" (kept in this page only)'}`;
  if (status === 404) return `${name}: ${what} not found on the Hub (HTTP 404)`;
  return `${name}: the Hub answered HTTP ${status} for ${what}`;
}

export class HubReader {
  /**
   * @param {string} endpoint  e.g. https://huggingface.co (HF_ENDPOINT's meaning)
   * @param {string} token     sent as "Authorization: Bearer" to the endpoint; the browser drops it on a redirect
   *                           to another origin (the Hub's CDN)
   */
  constructor(endpoint, token) {
    this.endpoint = String(endpoint || 'https://huggingface.co').replace(/\/+$/, '');
    this.token = token || '';
    this.fetched = 0;  // body bytes received
    this.requests = []; // [{url, bytes, range}] in order: what the page says it fetched
  }

  async #get(url, range) {
    const headers = {};
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    if (range) headers.Range = `bytes=${range[0]}-${range[1]}`;
    let response;
    try {
      response = await fetch(url, { headers, cache: 'no-store' });
    } catch (e) {
      throw new Error(`${url}: ${e?.message ?? e} (offline, blocked, or the endpoint does not allow this page's origin)`);
    }
    const body = new Uint8Array(await response.arrayBuffer());
    this.fetched += body.length;
    this.requests.push({ url, bytes: body.length, range });
    return { status: response.status, body, contentRange: response.headers.get('Content-Range') ?? '' };
  }

  /** The repository's file names (siblings[].rfilename). */
  async listing(id) {
    const url = `${this.endpoint}/api/models/${enc(id.repo)}${id.revisionGiven ? `/revision/${encodeURIComponent(id.revision)}` : ''}`;
    const r = await this.#get(url);
    if (r.status !== 200) throw new Error(refused(id, 'the repository', r.status, this.token));
    let d;
    try {
      d = JSON.parse(new TextDecoder().decode(r.body));
    } catch {
      throw new Error(`${id.repo}: the Hub's listing (${url}) is not JSON`);
    }
    if (!Array.isArray(d?.siblings)) throw new Error(`${id.repo}: the Hub's listing has no "siblings" array`);
    return d.siblings.map((s) => s?.rfilename).filter((n) => typeof n === 'string');
  }

  fileUrl(id, name) {
    return `${this.endpoint}/${enc(id.repo)}/resolve/${encodeURIComponent(id.revision)}/${enc(name)}`;
  }

  /** A small file whole, as text, at most `limit` bytes. */
  async text(id, name, limit) {
    const r = await this.#get(this.fileUrl(id, name));
    if (r.status !== 200) throw new Error(refused(id, name, r.status, this.token));
    if (r.body.length > limit) throw new Error(`${id.repo} ${name}: ${r.body.length} bytes is more than ${limit}`);
    return new TextDecoder().decode(r.body);
  }

  /**
   * A checkpoint file as a Blob-like object for the wasm module's header reads (modelplan-api.js inspectFiles):
   * {name, size, slice(begin, end).arrayBuffer()}, each slice one Range request. The size comes from the first
   * request's Content-Range (bytes 0-7 of the file, which the header read asks for first anyway).
   */
  async remoteFile(id, name) {
    const url = this.fileUrl(id, name);
    const ranged = async (begin, end) => { // bytes [begin, end)
      const r = await this.#get(url, [begin, end - 1]);
      if (r.status !== 206) throw new Error(r.status === 200 ? `${id.repo} ${name}: the server ignored the Range request`
        : refused(id, name, r.status, this.token));
      const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(r.contentRange);
      if (!m || Number(m[1]) !== begin || Number(m[2]) - Number(m[1]) + 1 !== r.body.length || Number(m[2]) > end - 1)
        throw new Error(`${id.repo} ${name}: the server's Content-Range "${r.contentRange}" does not match the ${r.body.length} bytes sent for bytes ${begin}-${end - 1}`);
      return { body: r.body, size: Number(m[3]) };
    };
    const first = await ranged(0, 8);
    const head = first.body;
    return {
      name,
      size: first.size,
      slice: (begin, end) => ({
        arrayBuffer: async () => {
          if (end <= head.length) return head.slice(begin, end).buffer;
          if (begin < head.length) { // the part after what the first request brought
            const rest = await ranged(head.length, end);
            const out = new Uint8Array(end - begin);
            out.set(head.subarray(begin), 0);
            out.set(rest.body, head.length - begin);
            return out.buffer;
          }
          return (await ranged(begin, end)).body.buffer;
        },
      }),
    };
  }
}
