// Analytics: the period's totals, the five charts (rendered by the server in the app's theme), export.

import { all, api } from '../api.js';
import { act, bytes, button, card, chips, clear, duration, h, metric, percent, row, section, tabs } from '../ui.js';

const PERIODS = [['7days', '7 days'], ['30days', '30 days'], ['90days', '90 days']];
const CHARTS = [
  ['success_trend', 'Success rate'], ['job_volume', 'Jobs per day'], ['failure_breakdown', 'Why jobs failed'],
  ['top_connections', 'Top connections'], ['uptime_calendar', 'Uptime calendar'],
];

// A chart PNG fetched with the session (an <img> cannot send the Authorization header).
export function chartImage(name, params = {}) {
  const scheme = document.documentElement.dataset.scheme === 'dark' ? 'dark' : 'light';
  const search = new URLSearchParams({ ...params, theme: scheme });
  const img = h('img', { class: 'chart', alt: name.replace(/_/g, ' '), 'data-chart': name });
  const box = h('div', { class: 'chart-box loading-box' }, img);
  api.blob(`/api/analytics/charts/${name}.png?${search}`).then((blob) => {
    img.src = URL.createObjectURL(blob);
    img.onload = () => { box.classList.remove('loading-box'); box.classList.add('loaded'); URL.revokeObjectURL(img.src); };
  }).catch((err) => { box.classList.remove('loading-box'); box.replaceChildren(h('p', { class: 'hint' }, err.message)); });
  return box;
}

async function download(period) {
  const blob = await api.blob('/api/analytics/export', { method: 'POST', body: { kind: 'jobs', period } });
  const a = h('a', { href: URL.createObjectURL(blob), download: `forwarder-jobs-${period}.csv` });
  document.body.append(a);
  a.click();
  a.remove();
  return { message: 'CSV exported' };
}

export async function overview(root, ctx) {
  ctx.title('Analytics');
  const state = { period: '30days', tab: 'overview' };
  const body = h('div');
  const render = async () => {
    const [summary, connections, accounts] = await Promise.all([
      api.get(`/api/analytics/summary?period=${state.period}`), all('/api/connections', 'connections'),
      state.tab === 'accounts' ? all('/api/accounts', 'accounts') : []]);
    if (!ctx.alive) return;
    const t = summary.totals;
    let content;
    if (state.tab === 'overview') {
      content = [
        h('div', { class: 'metrics' },
          metric('Jobs', String(t.total), `${t.in_progress} in progress`),
          metric('Success rate', percent(t.success_rate), `${t.succeeded} forwarded`, t.success_rate >= 90 ? 'green' : 'amber'),
          metric('Failed', String(t.failed), `${t.cancelled} cancelled`, t.failed ? 'red' : null),
          metric('Average job', duration(t.avg_job_duration_seconds), `${bytes(summary.bytes_processed.bytes_out)} out`)),
        CHARTS.map(([name, label]) => section(label, chartImage(name, { period: state.period }))),
      ];
    } else if (state.tab === 'connections') {
      content = connections.map((c) => section(c.name, chartImage('success_trend', { period: state.period, connection_id: c.id })));
    } else if (state.tab === 'accounts') {
      content = [h('div', { class: 'list' }, accounts.map((a) => h('a', { class: 'list-item', href: `#/accounts/${a.id}` },
        h('div', { class: 'list-main' }, h('div', { class: 'list-title' }, a.alias), h('div', { class: 'list-sub' }, a.type)))))];
    } else {
      const quota = summary.quota_today.projects || [];
      content = [
        card(row('Data in', bytes(summary.bytes_processed.bytes_in)), row('Data out', bytes(summary.bytes_processed.bytes_out)),
          row('Period', `${summary.period.start} → ${summary.period.end} (${summary.period.timezone})`)),
        section('Months', card(summary.monthly.map((m) => row(m.month, `${m.jobs} jobs · ${percent(m.success_rate)}`)))),
        section('YouTube quota today', quota.length ? card(quota.map((p) => row(`${p.platform} · ${p.project_key}`,
          `${p.units} units · ${p.calls} calls · ${p.uploads} uploads`))) : h('p', { class: 'hint' }, 'No YouTube API calls today.')),
      ];
    }
    clear(body,
      h('div', { class: 'page-head' }, chips(PERIODS, state.period, (p) => { state.period = p; render(); }),
        button('CSV', (e) => act(e.currentTarget, () => download(state.period)), { iconName: 'download', small: true })),
      tabs([['overview', 'Overview'], ['connections', 'Connections'], ['accounts', 'Accounts'], ['system', 'System']], state.tab,
        (tab) => { state.tab = tab; render(); }),
      content);
  };
  await render();
  ctx.mount(body);
}
