// DOM helpers, formatting and the small widgets every screen uses.

export const tg = window.Telegram && window.Telegram.WebApp;
// Inside a Telegram client the platform is known; in a plain browser it is "unknown".
export const insideTelegram = Boolean(tg && tg.platform && tg.platform !== 'unknown');

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'value') el.value = value;
    else if (key === 'checked') el.checked = Boolean(value);
    else el.setAttribute(key, value === true ? '' : value);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// Line icons (24x24, stroke = currentColor).
const ICONS = {
  home: '<path d="M3 10.5 12 3l9 7.5V20a1 1 0 0 1-1 1h-5v-6H9v6H4a1 1 0 0 1-1-1z"/>',
  link: '<path d="M10 13a5 5 0 0 0 7.5.5l3-3a5 5 0 0 0-7-7l-1.7 1.7"/><path d="M14 11a5 5 0 0 0-7.5-.5l-3 3a5 5 0 0 0 7 7l1.7-1.7"/>',
  jobs: '<rect x="3" y="4" width="18" height="16" rx="2"/><path d="M7 9h10M7 13h6M7 17h8"/>',
  chart: '<path d="M4 20V10M10 20V4M16 20v-7M22 20H2"/>',
  more: '<circle cx="5" cy="12" r="1.6"/><circle cx="12" cy="12" r="1.6"/><circle cx="19" cy="12" r="1.6"/>',
  user: '<circle cx="12" cy="8" r="4"/><path d="M4 21a8 8 0 0 1 16 0"/>',
  shield: '<path d="M12 22s8-4 8-10V5l-8-3-8 3v7c0 6 8 10 8 10z"/>',
  gear: '<circle cx="12" cy="12" r="3"/><path d="M19.4 15a1.7 1.7 0 0 0 .3 1.8l.1.1a2 2 0 1 1-2.8 2.8l-.1-.1a1.7 1.7 0 0 0-1.8-.3 1.7 1.7 0 0 0-1 1.5V21a2 2 0 1 1-4 0v-.1a1.7 1.7 0 0 0-1.1-1.5 1.7 1.7 0 0 0-1.8.3l-.1.1a2 2 0 1 1-2.8-2.8l.1-.1a1.7 1.7 0 0 0 .3-1.8 1.7 1.7 0 0 0-1.5-1H3a2 2 0 1 1 0-4h.1a1.7 1.7 0 0 0 1.5-1.1 1.7 1.7 0 0 0-.3-1.8l-.1-.1a2 2 0 1 1 2.8-2.8l.1.1a1.7 1.7 0 0 0 1.8.3H9a1.7 1.7 0 0 0 1-1.5V3a2 2 0 1 1 4 0v.1a1.7 1.7 0 0 0 1 1.5 1.7 1.7 0 0 0 1.8-.3l.1-.1a2 2 0 1 1 2.8 2.8l-.1.1a1.7 1.7 0 0 0-.3 1.8V9a1.7 1.7 0 0 0 1.5 1H21a2 2 0 1 1 0 4h-.1a1.7 1.7 0 0 0-1.5 1z"/>',
  bell: '<path d="M18 8A6 6 0 0 0 6 8c0 7-3 9-3 9h18s-3-2-3-9"/><path d="M13.7 21a2 2 0 0 1-3.4 0"/>',
  play: '<path d="M7 4v16l13-8z"/>',
  pause: '<path d="M8 5v14M16 5v14"/>',
  stop: '<rect x="6" y="6" width="12" height="12" rx="1.5"/>',
  refresh: '<path d="M21 12a9 9 0 1 1-2.6-6.4L21 8"/><path d="M21 3v5h-5"/>',
  plus: '<path d="M12 5v14M5 12h14"/>',
  trash: '<path d="M4 7h16M10 11v6M14 11v6M6 7l1 13h10l1-13M9 7V4h6v3"/>',
  edit: '<path d="M4 20h4L19 9l-4-4L4 16z"/>',
  chevron: '<path d="m9 6 6 6-6 6"/>',
  alert: '<path d="M10.3 3.9 1.8 18a2 2 0 0 0 1.7 3h17a2 2 0 0 0 1.7-3L13.7 3.9a2 2 0 0 0-3.4 0z"/><path d="M12 9v4M12 17h.01"/>',
  check: '<path d="m5 12 5 5L20 7"/>',
  flask: '<path d="M9 3h6M10 3v6L4.5 18.5A1.7 1.7 0 0 0 6 21h12a1.7 1.7 0 0 0 1.5-2.5L14 9V3"/><path d="M7 15h10"/>',
  download: '<path d="M12 3v12M7 10l5 5 5-5M5 21h14"/>',
  clock: '<circle cx="12" cy="12" r="9"/><path d="M12 7v5l3 2"/>',
  arrow: '<path d="M5 12h14M13 6l6 6-6 6"/>',
  key: '<circle cx="8" cy="15" r="4"/><path d="m11 12 9-9M17 6l3 3"/>',
  search: '<circle cx="11" cy="11" r="7"/><path d="m20 20-3.5-3.5"/>',
  logs: '<path d="M4 6h16M4 12h16M4 18h10"/>',
  external: '<path d="M14 4h6v6M20 4l-9 9M18 14v5a1 1 0 0 1-1 1H5a1 1 0 0 1-1-1V7a1 1 0 0 1 1-1h5"/>',
};

export function icon(name, cls = 'icon') {
  const span = document.createElement('span');
  span.className = cls;
  span.setAttribute('aria-hidden', 'true');
  span.innerHTML = `<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" ` +
    `stroke-linecap="round" stroke-linejoin="round">${ICONS[name] || ''}</svg>`;
  return span;
}

// ---- formatting -------------------------------------------------------------------------

const MINUTE = 60, HOUR = 3600, DAY = 86400;

export function ago(iso) {
  if (!iso) return 'never';
  const s = (Date.now() - Date.parse(iso)) / 1000;
  if (s < 0) return until(iso);
  if (s < 45) return 'just now';
  if (s < HOUR) return `${Math.round(s / MINUTE)} min ago`;
  if (s < DAY) return `${Math.round(s / HOUR)} h ago`;
  if (s < 30 * DAY) return `${Math.round(s / DAY)} d ago`;
  return when(iso);
}

export function until(iso) {
  if (!iso) return '—';
  const s = (Date.parse(iso) - Date.now()) / 1000;
  if (s <= 0) return 'now';
  if (s < HOUR) return `in ${Math.max(1, Math.round(s / MINUTE))} min`;
  if (s < DAY) return `in ${Math.floor(s / HOUR)} h ${Math.round((s % HOUR) / MINUTE)} min`;
  return `in ${Math.floor(s / DAY)} d ${Math.round((s % DAY) / HOUR)} h`;
}

export function when(iso) {
  if (!iso) return '—';
  return new Date(iso).toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return '—';
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < HOUR) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / HOUR)} h ${Math.round((seconds % HOUR) / 60)} min`;
}

export function bytes(n) {
  if (!n) return '0 B';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  const i = Math.min(units.length - 1, Math.floor(Math.log10(n) / 3));
  return `${(n / 10 ** (3 * i)).toFixed(i ? 1 : 0)} ${units[i]}`;
}

export function percent(value) {
  return value === null || value === undefined ? '—' : `${Number(value).toFixed(value >= 99.95 || value === 0 ? 0 : 1)}%`;
}

export const words = (text) => String(text || '').replace(/_/g, ' ');
export const capital = (text) => words(text).replace(/^./, (c) => c.toUpperCase());

export const platformName = { instagram: 'Instagram', youtube: 'YouTube' };
export const directionLabel = {
  instagram_to_youtube: ['Instagram', 'YouTube'],
  youtube_to_instagram: ['YouTube', 'Instagram'],
};

// ---- widgets ------------------------------------------------------------------------------

const TONES = {
  success: 'green', active: 'green', healthy: 'green', sent: 'green',
  failed: 'red', unhealthy: 'red', token_expired: 'red', requires_reauth: 'red', suspended: 'red',
  captcha_detected: 'amber', captcha_pending: 'amber', retrying: 'amber', expiry_warning: 'amber',
  paused: 'amber', pending: 'amber', running: 'blue', queued: 'blue',
  stopped: 'gray', cancelled: 'gray', unchecked: 'gray', disabled: 'gray',
  info: 'blue', warning: 'amber', error: 'red', critical: 'red', debug: 'gray',
};

export function badge(status, label) {
  return h('span', { class: `badge tone-${TONES[status] || 'gray'}` }, label || capital(status));
}

export function dot(status) {
  return h('span', { class: `dot tone-${TONES[status] || 'gray'}`, title: capital(status) });
}

export function button(label, onclick, { kind = 'secondary', iconName, disabled, small, testid } = {}) {
  return h('button', {
    class: `btn btn-${kind}${small ? ' btn-small' : ''}`, type: 'button', onclick, disabled,
    'data-testid': testid,
  }, iconName ? icon(iconName) : null, label ? h('span', null, label) : null);
}

export function section(title, ...children) {
  return h('section', { class: 'section' }, title ? h('h2', { class: 'section-title' }, title) : null,
    ...children);
}

export function card(...children) {
  return h('div', { class: 'card' }, ...children);
}

export function row(label, value, extra) {
  return h('div', { class: 'kv' }, h('span', { class: 'kv-key' }, label),
    h('span', { class: 'kv-value' }, value ?? '—'), extra || null);
}

export function empty(text, action) {
  return h('div', { class: 'empty' }, h('p', null, text), action || null);
}

export function tabs(items, current, onpick) {
  return h('div', { class: 'tabs', role: 'tablist' }, items.map(([key, label, count]) =>
    h('button', {
      class: `tab${key === current ? ' tab-on' : ''}`, role: 'tab', type: 'button',
      'aria-selected': key === current ? 'true' : 'false', 'data-tab': key, onclick: () => onpick(key),
    }, label, count !== undefined && count !== null ? h('span', { class: 'tab-count' }, count) : null)));
}

export function chips(items, current, onpick) {
  return h('div', { class: 'chips' }, items.map(([key, label]) =>
    h('button', { class: `chip${key === current ? ' chip-on' : ''}`, type: 'button', onclick: () => onpick(key) },
      label)));
}

export function progress(value) {
  const pct = Math.max(0, Math.min(100, Number(value) || 0));
  return h('div', { class: 'progress', role: 'progressbar', 'aria-valuenow': String(Math.round(pct)) },
    h('div', { class: 'progress-bar', style: `width:${pct}%` }));
}

export function metric(label, value, sub, tone) {
  return h('div', { class: `metric${tone ? ` metric-${tone}` : ''}` },
    h('div', { class: 'metric-value' }, value), h('div', { class: 'metric-label' }, label),
    sub ? h('div', { class: 'metric-sub' }, sub) : null);
}

// ---- feedback -----------------------------------------------------------------------------

let toastTimer;
export function toast(message, kind = 'ok') {
  let el = document.getElementById('toast');
  if (!el) {
    el = h('div', { id: 'toast', role: 'status', 'aria-live': 'polite' });
    document.body.append(el);
  }
  el.className = `toast toast-${kind} toast-on`;
  el.textContent = message;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => el.classList.remove('toast-on'), kind === 'error' ? 6000 : 3200);
  if (insideTelegram && tg.HapticFeedback) {
    try { tg.HapticFeedback.notificationOccurred(kind === 'error' ? 'error' : 'success'); } catch (e) { /* old client */ }
  }
}

// A modal sheet; resolves with what ``build`` passes to ``done`` (null when dismissed).
export function sheet(title, build) {
  return new Promise((resolve) => {
    const close = (value) => { overlay.remove(); resolve(value); };
    const body = h('div', { class: 'sheet-body' });
    const overlay = h('div', { class: 'overlay', onclick: (e) => { if (e.target === overlay) close(null); } },
      h('div', { class: 'sheet', role: 'dialog', 'aria-modal': 'true', 'aria-label': title },
        h('div', { class: 'sheet-head' }, h('h3', null, title),
          h('button', { class: 'sheet-close', type: 'button', 'aria-label': 'Close', onclick: () => close(null) }, '×')),
        body));
    build(body, close);
    document.body.append(overlay);
    const first = body.querySelector('input,select,textarea');
    if (first) first.focus();
  });
}

export function confirm(message, { ok = 'OK', danger = false } = {}) {
  if (insideTelegram && tg.isVersionAtLeast && tg.isVersionAtLeast('6.2')) {
    return new Promise((resolve) => tg.showConfirm(message, resolve));
  }
  return sheet('Please confirm', (body, done) => {
    body.append(h('p', { class: 'confirm-text' }, message),
      h('div', { class: 'sheet-actions' }, button('Cancel', () => done(false)),
        button(ok, () => done(true), { kind: danger ? 'danger' : 'primary', testid: 'confirm-ok' })));
  }).then(Boolean);
}

export function openLink(url) {
  if (insideTelegram && tg.openLink) tg.openLink(url);
  else window.open(url, '_blank', 'noopener');
}

// Runs ``action`` with the button busy; shows the result message or the error.
export async function act(btn, action, success) {
  if (btn) btn.disabled = true;
  try {
    const result = await action();
    const message = typeof success === 'function' ? success(result) : success || (result && result.message);
    if (message) toast(message);
    return result;
  } catch (err) {
    toast(err.message || String(err), 'error');
    return undefined;
  } finally {
    if (btn) btn.disabled = false;
  }
}
