// The Mini App shell: Telegram integration, hash routing, navigation, live refresh.

import { api, onAuthFailure } from './api.js';
import { go, path } from './nav.js';
import { clear, h, icon, insideTelegram, tg } from './ui.js';
import * as home from './screens/home.js';
import * as connections from './screens/connections.js';
import * as jobs from './screens/jobs.js';
import * as analytics from './screens/analytics.js';
import * as accounts from './screens/accounts.js';
import * as proxies from './screens/proxies.js';
import * as settings from './screens/settings.js';

// Pattern -> [screen, tab of the bottom bar]. Params are the pattern's groups.
const ROUTES = [
  [/^\/$/, home.dashboard, 'home'],
  [/^\/connections$/, connections.list, 'connections'],
  [/^\/connections\/new$/, connections.form, 'connections'],
  [/^\/connections\/(\d+)$/, connections.detail, 'connections'],
  [/^\/connections\/(\d+)\/edit$/, connections.form, 'connections'],
  [/^\/jobs$/, jobs.list, 'jobs'],
  [/^\/jobs\/(\d+)$/, jobs.detail, 'jobs'],
  [/^\/analytics$/, analytics.overview, 'analytics'],
  [/^\/more$/, home.more, 'more'],
  [/^\/accounts$/, accounts.list, 'more'],
  [/^\/accounts\/new$/, accounts.add, 'more'],
  [/^\/accounts\/(\d+)$/, accounts.detail, 'more'],
  [/^\/proxies$/, proxies.list, 'more'],
  [/^\/notifications$/, home.notifications, 'more'],
  [/^\/settings$/, settings.page, 'more'],
];

const NAV = [
  ['home', '#/', 'home', 'Home'],
  ['connections', '#/connections', 'link', 'Connections'],
  ['jobs', '#/jobs', 'jobs', 'Jobs'],
  ['analytics', '#/analytics', 'chart', 'Analytics'],
  ['more', '#/more', 'more', 'More'],
];

const main = h('main', { id: 'screen', class: 'screen' });
const title = h('h1', { class: 'topbar-title' });
const back = h('button', { class: 'topbar-back', type: 'button', 'aria-label': 'Back', onclick: goBack },
  icon('chevron', 'icon flip'));
const nav = h('nav', { class: 'tabbar' }, NAV.map(([key, href, iconName, label]) =>
  h('a', { class: 'tabbar-item', href, 'data-nav': key }, icon(iconName), h('span', null, label))));

let current = null; // the mounted screen's context
const visited = []; // in-app history, for Back

function goBack() {
  if (visited.length > 1) { history.back(); return; }
  const parent = path().split('/').slice(0, -1).join('/') || '/';
  go(parent, { replace: true });
}

class Context {
  constructor(params, tab) {
    this.params = params;
    this.tab = tab;
    this.timers = [];
    this.cleanups = [];
    this.alive = true;
  }

  title(text) { title.textContent = text; document.title = `${text} · Forwarder`; }

  // Runs ``fn`` every ``ms`` while this screen is shown and the app is visible.
  every(ms, fn) {
    const tick = async () => {
      if (!this.alive) return;
      if (!document.hidden) {
        try { await fn(); } catch (err) { /* the next tick tries again */ }
      }
      if (this.alive) this.timers.push(setTimeout(tick, ms));
    };
    this.timers.push(setTimeout(tick, ms));
  }

  onLeave(fn) { this.cleanups.push(fn); }

  // Shows the screen's content, unless the admin has already moved on to another screen.
  mount(...children) {
    if (this.alive) clear(main, ...children);
  }

  stop() {
    this.alive = false;
    this.timers.forEach(clearTimeout);
    this.cleanups.forEach((fn) => { try { fn(); } catch (e) { /* ignore */ } });
  }
}

async function route() {
  const p = path();
  if (visited.length > 1 && visited[visited.length - 2] === p) visited.pop();
  else if (visited[visited.length - 1] !== p) visited.push(p);
  let match = null;
  for (const [pattern, screen, tab] of ROUTES) {
    const m = p.match(pattern);
    if (m) { match = [screen, tab, m.slice(1)]; break; }
  }
  if (current) current.stop();
  if (!match) { go('/', { replace: true }); return; }
  const [screen, tab, params] = match;
  const ctx = new Context(params, tab);
  current = ctx;
  for (const a of nav.querySelectorAll('[data-nav]')) a.classList.toggle('on', a.dataset.nav === tab);
  const isRoot = NAV.some(([, href]) => href === `#${p}`);
  back.hidden = isRoot;
  if (insideTelegram && tg.BackButton) {
    if (isRoot) tg.BackButton.hide(); else tg.BackButton.show();
  }
  if (insideTelegram && tg.MainButton) tg.MainButton.hide();
  clear(main, h('div', { class: 'loading', 'aria-busy': 'true' }, h('div', { class: 'spinner' })));
  window.scrollTo(0, 0);
  try {
    await screen(main, ctx);
  } catch (err) {
    if (ctx.alive && err.status !== 401 && err.status !== 403) {
      clear(main, h('div', { class: 'problem' }, icon('alert', 'icon big'), h('h2', null, 'Something went wrong'),
        h('p', null, err.message || String(err)),
        h('button', { class: 'btn btn-primary', type: 'button', onclick: route }, 'Try again')));
    }
  }
}

function sessionProblem(error) {
  if (current) current.stop();
  const expired = error.status === 401;
  clear(document.body, h('div', { class: 'problem full' }, icon(expired ? 'clock' : 'shield', 'icon big'),
    h('h2', null, expired ? 'Session expired' : 'Not an administrator'),
    h('p', null, error.message),
    error.hint ? h('p', { class: 'hint' }, error.hint) : null,
    insideTelegram ? h('button', { class: 'btn btn-primary', type: 'button', onclick: () => tg.close() }, 'Close') : null));
}

function applyScheme() {
  const scheme = (tg && tg.colorScheme) || (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light');
  document.documentElement.dataset.scheme = scheme;
}

function boot() {
  // Telegram opens the app with its launch parameters in the hash; the SDK has read them.
  if (!location.hash.startsWith('#/')) history.replaceState(null, '', '#/');
  applyScheme();
  if (tg) {
    tg.ready();
    if (insideTelegram) {
      tg.expand();
      tg.onEvent('themeChanged', applyScheme);
      tg.BackButton.onClick(goBack);
      document.documentElement.classList.add('in-telegram');
    }
  }
  onAuthFailure(sessionProblem);
  clear(document.body,
    h('header', { class: 'topbar' }, back, title),
    main, nav);
  window.addEventListener('hashchange', route);
  route();
  // The session's expiry, to warn before the API starts refusing.
  api.get('/api/auth/check').then((s) => { window.forwarderSession = s; }).catch(() => {});
}

boot();
