// The API client: JSON over fetch to /api/v1 with the session's bearer token; errors become
// ApiError {status, code, message, retryAfter}. Creating POSTs carry an Idempotency-Key, so a
// retry after a network error or a 503 (same key) can never create twice. Uploads go straight
// to S3 through XMLHttpRequest, for its upload progress events.
// Read-your-writes: every request sends back the newest Photofeed-Position an answer carried
// (the server merges the one a request sent into its answer), so a read shows this tab's own
// writes: the server waits, briefly, until the projections it reads have applied them.

import { session, signOut } from './session.js';
import { sleep } from './dom.js';

const BASE = '/api/v1';
const RETRIES = 2;
const FORBIDDEN_HEADERS = new Set(['content-length', 'host', 'connection']);
const POSITION = 'Photofeed-Position';
const POSITION_KEY = 'photofeed.position'; // per tab: a reload right after a write still sees it
const STALE_ASKS = 4; // a 403/404 from lagging projections: asked again (the server waits)

let position = sessionStorage.getItem(POSITION_KEY);

function keepPosition(res) {
  const next = res.headers.get(POSITION);
  if (!next) return;
  position = next;
  sessionStorage.setItem(POSITION_KEY, next);
}

export class ApiError extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

export function newKey() {
  return crypto.randomUUID();
}

function friendly(status, code, message, retryAfter) {
  if (status === 429) return `Too many attempts. Try again in ${retryAfter || 'a few'} seconds.`;
  if (status === 503) return 'photofeed is busy right now. Please try again in a moment.';
  if (status >= 500) return 'Something went wrong on our side. Please try again.';
  if (code === 'invalid_field' && message) return message.charAt(0).toUpperCase() + message.slice(1) + '.';
  return message || `Request failed (${status}).`;
}

/** api('GET', '/feed?limit=10') -> parsed JSON (null for 204). Options: body (JSON, or a
 *  FormData sent as multipart/form-data), key (an Idempotency-Key, or true for a fresh one),
 *  signal, anonymous (no token). */
export async function api(method, path, { body, key, signal, anonymous = false } = {}) {
  const headers = { Accept: 'application/json' };
  const current = session();
  if (current && !anonymous) headers.Authorization = `Bearer ${current.token}`;
  const form = body instanceof FormData; // the browser sets its multipart Content-Type
  if (body !== undefined && !form) headers['Content-Type'] = 'application/json';
  if (key) headers['Idempotency-Key'] = key === true ? newKey() : key;
  const retryable = Boolean(key) || method === 'GET';
  for (let attempt = 0, stale = 0; ; attempt++) {
    if (position) headers[POSITION] = position;
    else delete headers[POSITION];
    let res;
    try {
      res = await fetch(BASE + path, {
        method, headers, signal, body: body === undefined || form ? body : JSON.stringify(body),
      });
    } catch (err) {
      if (err.name === 'AbortError') throw err;
      if (retryable && attempt < RETRIES) {
        await sleep(400 * (attempt + 1));
        continue;
      }
      throw new ApiError(0, 'network', 'Could not reach photofeed. Check your connection.');
    }
    const retryAfter = Number(res.headers.get('Retry-After')) || null;
    if (res.status === 503 && retryable && attempt < RETRIES && (retryAfter || 1) <= 5) {
      await sleep((retryAfter || 1) * 1000);
      continue;
    }
    keepPosition(res);
    if (res.status === 204) return null;
    const data = await res.json().catch(() => null);
    if (res.ok) return data;
    if (method === 'GET' && (res.status === 403 || res.status === 404) && stale < STALE_ASKS
      && res.headers.get('Photofeed-Consistency') === 'stale') {
      stale++;
      attempt--; // not a failure
      continue;
    }
    const { code = `http_${res.status}`, message = '' } = data?.error || {};
    if (code === 'invalid_position' && headers[POSITION] && attempt < RETRIES) {
      position = null; // a token this server cannot read (say, from another deployment): drop it
      sessionStorage.removeItem(POSITION_KEY);
      continue;
    }
    if (res.status === 401 && headers.Authorization) signOut();
    throw new ApiError(res.status, code, friendly(res.status, code, message, retryAfter), retryAfter);
  }
}

/** PUT `body` (a Blob) to a presigned URL with `headers`, reporting progress(loaded, total);
 *  resolves to the response's ETag (multipart parts need it). */
export function putToS3(url, body, headers, progress, signal) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', url);
    for (const [name, value] of Object.entries(headers || {})) {
      if (!FORBIDDEN_HEADERS.has(name.toLowerCase())) xhr.setRequestHeader(name, value);
    }
    xhr.upload.addEventListener('progress', (e) => progress(e.loaded, e.lengthComputable ? e.total : body.size));
    xhr.addEventListener('load', () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve(xhr.getResponseHeader('ETag'));
      else reject(new ApiError(xhr.status, 'upload_refused', 'The storage refused the upload. Please try again.'));
    });
    xhr.addEventListener('error', () => reject(new ApiError(0, 'network', 'The upload was interrupted. Check your connection and try again.')));
    xhr.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
    signal?.addEventListener('abort', () => xhr.abort());
    xhr.send(body);
  });
}

/** Query string of the defined values: qs({limit: 10, cursor: null}) -> '?limit=10'. */
export function qs(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== '') search.set(name, value);
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}
