// Dashboard, the More menu and the notifications list.

import { all, api } from '../api.js';
import { go } from '../nav.js';
import {
  act, ago, badge, button, capital, clear, directionLabel, dot, empty, h, icon, metric, percent,
  section, until, words,
} from '../ui.js';
import { connectionActions } from './connections.js';

// Accounts that need the admin, as banners with the action that fixes each.
export function attentionBanners(accounts, refresh) {
  const banners = [];
  const urgency = (a) => ['captcha_detected', 'token_expired', 'requires_reauth', 'suspended', 'expiry_warning'].indexOf(a.status);
  for (const a of [...accounts].sort((x, y) => urgency(x) - urgency(y))) {
    const name = `${a.type === 'youtube' ? 'YouTube' : 'Instagram'} account ${a.alias}`;
    if (a.status === 'captcha_detected') {
      banners.push(h('div', { class: 'banner banner-amber', 'data-testid': 'captcha-banner' },
        icon('alert'),
        h('div', { class: 'banner-text' }, h('strong', null, `CAPTCHA on ${a.alias}`),
          h('span', null, `${a.status_reason || 'Instagram asks to confirm it is you'}. Open Instagram with this ` +
            'account on the same network (proxy), confirm, then mark it solved: its connections and held jobs resume.')),
        h('div', { class: 'banner-actions' },
          button('Mark solved', (e) => act(e.currentTarget, () => api.post(`/api/accounts/${a.id}/captcha-resolve`),
            (r) => r.message || 'Marked solved').then((r) => r && refresh()), { kind: 'primary', small: true, testid: 'captcha-solved' }),
          button('Details', () => go(`/accounts/${a.id}`), { small: true }))));
    } else if (['token_expired', 'requires_reauth', 'suspended'].includes(a.status)) {
      banners.push(h('div', { class: 'banner banner-red' }, icon('key'),
        h('div', { class: 'banner-text' }, h('strong', null, `${name}: ${words(a.status)}`),
          h('span', null, a.status_reason || 'Its connections are paused until it is authorized again.')),
        h('div', { class: 'banner-actions' }, button('Fix', () => go(`/accounts/${a.id}`), { small: true }))));
    } else if (a.status === 'expiry_warning' && a.token_expiry) {
      banners.push(h('div', { class: 'banner banner-amber' }, icon('clock'),
        h('div', { class: 'banner-text' }, h('strong', null, `${name}: token expires ${until(a.token_expiry)}`),
          h('span', null, a.token_status && a.token_status.auto_refresh
            ? 'It will be refreshed automatically; refresh it now to be sure.'
            : 'Update the token before it expires, or its connections will pause.')),
        h('div', { class: 'banner-actions' }, button('Refresh', (e) => act(e.currentTarget,
          () => api.post(`/api/tokens/${a.id}/refresh`), 'Token refreshed').then((r) => r && refresh()), { small: true }))));
    }
  }
  return banners;
}

export function activityItem(entry) {
  const text = entry.status === 'success' ? 'Forwarded'
    : entry.status === 'retrying' ? `Retrying (${words(entry.error_code)})`
      : entry.error_code ? `${capital(entry.status)}: ${words(entry.error_code)}` : capital(entry.status);
  return h('a', { class: 'list-item', href: `#/jobs/${entry.job_id}` }, dot(entry.status),
    h('div', { class: 'list-main' }, h('div', { class: 'list-title' }, entry.connection_name),
      h('div', { class: 'list-sub' }, `#${entry.job_id} · ${text}`)),
    h('span', { class: 'list-meta' }, ago(entry.timestamp)));
}

function connectionCard(c, refresh) {
  const [from, to] = directionLabel[c.type] || ['?', '?'];
  return h('div', { class: 'conn-card', 'data-testid': 'conn-card' },
    h('a', { class: 'conn-card-head', href: `#/connections/${c.id}` },
      h('span', { class: 'conn-name' }, c.name), badge(c.status)),
    h('div', { class: 'conn-route' }, h('span', null, from), icon('arrow', 'icon small'), h('span', null, to)),
    h('div', { class: 'conn-meta' }, c.status === 'paused' && c.pause_reason ? c.pause_reason
      : c.status === 'active' ? `Next check ${until(c.next_check)}` : `Last run ${ago(c.last_run)}`),
    h('div', { class: 'conn-actions' }, connectionActions(c, refresh, { compact: true })));
}

export async function dashboard(root, ctx) {
  ctx.title('Dashboard');
  const body = h('div');
  const render = async () => {
    const [summary, accounts, conns] = await Promise.all([
      api.get('/api/dashboard/summary'), all('/api/accounts', 'accounts'), api.get('/api/connections?limit=20')]);
    if (!ctx.alive) return;
    const day = summary.jobs_24h;
    const workers = summary.workers;
    const banners = attentionBanners(accounts, render);
    if (!workers.active) {
      banners.splice(banners.filter((b) => b.dataset.testid === 'captcha-banner').length, 0, h('div', { class: 'banner banner-red', 'data-testid': 'no-worker' }, icon('alert'),
        h('div', { class: 'banner-text' }, h('strong', null, 'No worker is running'),
          h('span', null, `${summary.queue.pending_jobs} job(s) wait in the queue. Start one with ` +
            '"forwarder worker" (or "forwarder up"); /api/health shows when it is back.'))));
    }
    clear(body,
      banners.length ? h('div', { class: 'banners' }, banners) : null,
      h('div', { class: 'metrics' },
        metric('Active connections', `${summary.connections.active}/${summary.connections.total}`,
          summary.connections.paused ? `${summary.connections.paused} paused` : 'none paused'),
        metric('Forwarded · 24 h', String(day.succeeded), day.failed ? `${day.failed} failed` : 'no failures',
          day.failed ? 'red' : 'green'),
        metric('Success rate · 24 h', percent(day.success_rate), `${day.total} jobs`),
        metric('Queue', String(summary.queue.pending_jobs),
          `${workers.running_jobs} running · ${workers.active} worker${workers.active === 1 ? '' : 's'}`)),
      h('div', { class: 'quick' },
        button('New connection', () => go('/connections/new'), { kind: 'primary', iconName: 'plus', testid: 'new-connection' }),
        button('Add account', () => go('/accounts/new'), { iconName: 'user' }),
        button('Dead letter', () => go('/jobs?tab=dead'), { iconName: 'alert' })),
      section('Activity',
        summary.recent_activity.length
          ? h('div', { class: 'list', 'data-testid': 'activity' }, summary.recent_activity.slice(0, 8).map(activityItem))
          : empty('No jobs yet. Create a connection and run it to see activity here.')),
      section('Connections',
        conns.connections.length
          ? h('div', { class: 'conn-grid' }, conns.connections.map((c) => connectionCard(c, render)))
          : empty('No connections yet.', button('Create the first', () => go('/connections/new'), { kind: 'primary' }))));
  };
  await render();
  ctx.mount(body);
  ctx.every(4000, render);
}

export async function more(root, ctx) {
  ctx.title('More');
  const accounts = await all('/api/accounts', 'accounts');
  const attention = accounts.filter((a) => !['active'].includes(a.status)).length;
  const item = (href, iconName, label, sub, count) => h('a', { class: 'list-item', href },
    icon(iconName, 'icon tile'), h('div', { class: 'list-main' }, h('div', { class: 'list-title' }, label),
      h('div', { class: 'list-sub' }, sub)),
    count ? h('span', { class: 'count-pill' }, count) : null, icon('chevron', 'icon dim'));
  ctx.mount(
    section(null, h('div', { class: 'list' },
      item('#/accounts', 'user', 'Accounts', 'Instagram and YouTube, tokens, CAPTCHA', attention),
      item('#/proxies', 'shield', 'Proxies', 'Health, latency, assignment'),
      item('#/jobs?tab=logs', 'logs', 'Logs', 'Everything the workers did'),
      item('#/notifications', 'bell', 'Notifications', 'Alerts sent to Telegram'),
      item('#/settings', 'gear', 'Settings', 'Retry, retention, quota, alerts'))),
    h('p', { class: 'footnote' }, 'Reels ⇄ Shorts forwarder'));
}

export async function notifications(root, ctx) {
  ctx.title('Notifications');
  const data = await api.get('/api/notifications?limit=100');
  ctx.mount(section(`${data.total} alert${data.total === 1 ? '' : 's'}`,
    data.notifications.length ? h('div', { class: 'list' }, data.notifications.map((n) =>
      h('div', { class: 'list-item' }, dot(n.status), h('div', { class: 'list-main' },
        h('div', { class: 'list-title' }, capital(n.kind)),
        h('div', { class: 'list-sub' }, n.status === 'failed' && n.last_error ? n.last_error
          : `${capital(n.status)}${n.sent_at ? ` ${ago(n.sent_at)}` : ''}`)),
      h('span', { class: 'list-meta' }, ago(n.created_at)))))
      : empty('No alerts yet. Configure the alert chat under Settings.')));
}
