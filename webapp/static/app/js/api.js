// The JSON API, authenticated with the Mini App's initData (Authorization: tma <initData>).

import { tg } from './ui.js';

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `The server answered ${status}`);
    this.status = status;
    this.code = error.code || 'error';
    this.hint = error.hint || null;
    this.fields = error.fields || null;
  }

  // "message. hint" for a toast
  get full() {
    return this.hint ? `${this.message}. ${this.hint}` : this.message;
  }
}

export const initData = () => (tg && tg.initData) || '';

const listeners = [];
// Called with the ApiError of any 401/403, so the app can show the session screen.
export function onAuthFailure(fn) { listeners.push(fn); }

async function request(method, path, { body, form, raw } = {}) {
  const headers = { Authorization: `tma ${initData()}` };
  let payload;
  if (form) payload = form;
  else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, { method, headers, body: payload, cache: 'no-store' });
  } catch (err) {
    throw new ApiError(0, { error: { message: 'The server cannot be reached. Check your connection and try again.' } });
  }
  if (raw && resp.ok) return resp;
  const isJson = (resp.headers.get('Content-Type') || '').includes('json');
  const data = isJson ? await resp.json() : null;
  if (!resp.ok) {
    const error = new ApiError(resp.status, data);
    if (resp.status === 401 || resp.status === 403) listeners.forEach((fn) => fn(error));
    throw error;
  }
  return data;
}

export const api = {
  get: (path) => request('GET', path),
  post: (path, body) => request('POST', path, { body: body ?? {} }),
  put: (path, body) => request('PUT', path, { body }),
  del: (path) => request('DELETE', path),
  upload: (path, form, method = 'POST') => request(method, path, { form }),
  blob: async (path, options = {}) => (await request(options.method || 'GET', path, { ...options, raw: true })).blob(),
};

// Every page of a list endpoint (limit 500 each).
export async function all(path, key) {
  const sep = path.includes('?') ? '&' : '?';
  const first = await api.get(`${path}${sep}limit=500`);
  const items = first[key];
  while (items.length < first.total) {
    const next = await api.get(`${path}${sep}limit=500&offset=${items.length}`);
    if (!next[key].length) break;
    items.push(...next[key]);
  }
  return items;
}
