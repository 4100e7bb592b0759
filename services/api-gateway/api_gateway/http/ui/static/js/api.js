/**
 * The gateway's JSON API: one fetch per call; failures become ApiError with the API's detail.
 *
 * The key goes only in the Authorization header, never in a URL, and no cookies are sent.
 */

/** A refused or failed call: `status` is the HTTP status, 0 when the gateway was unreachable. */
export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.name = "ApiError";
    this.status = status;
    this.detail = detail;
  }
}

// Relative to the page (/ui/), so the page also works behind a reverse proxy's path prefix.
const BASE = new URL("../api/v1/", document.baseURI);

/** One path from segments, each escaped: "projects", id -> "projects/<id>". */
export function path(...segments) {
  return segments.map((segment) => encodeURIComponent(segment)).join("/");
}

export class Api {
  constructor(key) {
    this.key = key;
  }

  get(route, query = {}) {
    return this.request("GET", route, { query });
  }

  post(route, body) {
    return this.request("POST", route, { body });
  }

  async request(method, route, { query = {}, body } = {}) {
    const url = new URL(route, BASE);
    for (const [name, value] of Object.entries(query)) {
      if (value !== undefined && value !== null) url.searchParams.set(name, String(value));
    }
    const headers = { Accept: "application/json", Authorization: `Bearer ${this.key}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let reply;
    try {
      reply = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
        credentials: "omit",
      });
    } catch {
      throw new ApiError(0, "the gateway could not be reached");
    }
    const data = await readJson(reply);
    if (!reply.ok) {
      const detail = typeof data?.detail === "string" ? data.detail : reply.statusText;
      throw new ApiError(reply.status, detail || `HTTP ${reply.status}`);
    }
    return data;
  }
}

async function readJson(reply) {
  const text = await reply.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
