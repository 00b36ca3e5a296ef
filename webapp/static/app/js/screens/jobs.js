// Jobs & logs: active jobs with live progress, history, the dead-letter queue, logs; a job's page.

import { all, api } from '../api.js';
import { go, query } from '../nav.js';
import {
  act, ago, badge, button, bytes, capital, card, chips, clear, confirm, dot, duration, empty, h, icon, openLink,
  progress, row, section, tabs, until, when, words,
} from '../ui.js';
import { jobItem } from './connections.js';

const ACTIVE = 'queued,running,retrying,captcha_pending';
const HISTORY = [['', 'All'], ['success', 'Succeeded'], ['failed', 'Failed'], ['cancelled', 'Cancelled']];
const LEVELS = [['info', 'Info+'], ['warning', 'Warnings+'], ['error', 'Errors+'], ['debug', 'All']];

function activeItem(j) {
  const status = j.status === 'running' ? `${capital(j.current_step)} · ${Math.round(j.progress_percent)}%`
    : j.status === 'retrying' ? `Retry ${until(j.next_retry_at)} after ${words(j.error_code)}`
      : j.status === 'captcha_pending' ? 'Held until the CAPTCHA is solved' : 'Waiting for a worker';
  return h('a', { class: 'list-item tall', href: `#/jobs/${j.job_id}`, 'data-job': j.job_id },
    dot(j.status), h('div', { class: 'list-main' },
      h('div', { class: 'list-title' }, `#${j.job_id} · ${j.connection_name}`),
      h('div', { class: 'list-sub' }, status),
      j.status === 'running' ? progress(j.progress_percent) : null,
      j.message ? h('div', { class: 'list-sub small' }, j.message) : null),
    badge(j.status));
}

function deadItem(j, refresh) {
  return h('div', { class: 'list-item tall', 'data-job': j.job_id }, dot('failed'),
    h('a', { class: 'list-main', href: `#/jobs/${j.job_id}` },
      h('div', { class: 'list-title' }, `#${j.job_id} · ${j.connection_name}`),
      h('div', { class: 'list-sub' }, `${words(j.final_error)} after ${j.attempts} attempt${j.attempts === 1 ? '' : 's'} · ${ago(j.failed_at)}`),
      j.error_message ? h('div', { class: 'list-sub small' }, j.error_message) : null),
    h('div', { class: 'list-actions' },
      button('Retry', (e) => act(e.currentTarget, () => api.post(`/api/jobs/${j.job_id}/retry`)).then((r) => r && refresh()),
        { small: true, kind: 'primary', iconName: 'refresh', testid: 'retry' }),
      button('', async (e) => {
        if (!await confirm(`Delete job #${j.job_id}? The post will not be retried.`, { ok: 'Delete', danger: true })) return;
        const btn = e.currentTarget;
        if (await act(btn, () => api.del(`/api/jobs/${j.job_id}`), 'Job deleted')) refresh();
      }, { small: true, kind: 'plain', iconName: 'trash' })));
}

function logItem(entry) {
  const details = entry.details && Object.keys(entry.details).length ? JSON.stringify(entry.details, null, 2) : null;
  return h('details', { class: 'log' },
    h('summary', null, badge(entry.level), h('span', { class: 'log-text' }, entry.message),
      h('span', { class: 'list-meta' }, ago(entry.created_at))),
    h('div', { class: 'log-more' }, h('div', null, when(entry.created_at)),
      entry.job_id ? h('a', { href: `#/jobs/${entry.job_id}` }, `Job #${entry.job_id}`) : null,
      entry.connection_id ? h('a', { href: `#/connections/${entry.connection_id}` }, `Connection #${entry.connection_id}`) : null,
      details ? h('pre', null, details) : null));
}

export async function list(root, ctx) {
  ctx.title('Jobs & logs');
  const state = { tab: query().get('tab') || 'active', status: '', connection: '', level: 'info', limit: 30 };
  const connections = await all('/api/connections', 'connections');
  const body = h('div');
  const counts = {};

  const render = async () => {
    let content;
    if (state.tab === 'active') {
      const data = await api.get(`/api/jobs?status=${ACTIVE}&limit=100`);
      counts.active = data.total;
      content = data.jobs.length ? h('div', { class: 'list', 'data-testid': 'active-jobs' }, data.jobs.map(activeItem))
        : empty('Nothing in flight. New posts appear here as soon as a poll finds them.');
    } else if (state.tab === 'history') {
      const filter = `${state.status ? `&status=${state.status}` : ''}${state.connection ? `&connection_id=${state.connection}` : ''}`;
      const data = await api.get(`/api/jobs?limit=${state.limit}${filter}`);
      content = h('div', null,
        chips(HISTORY, state.status, (s) => { state.status = s; state.limit = 30; render(); }),
        h('select', { class: 'inline-select', 'aria-label': 'Connection', onchange: (e) => { state.connection = e.target.value; render(); } },
          h('option', { value: '' }, 'All connections'),
          connections.map((c) => h('option', { value: c.id, selected: String(c.id) === state.connection }, c.name))),
        data.jobs.length ? h('div', { class: 'list', 'data-testid': 'history' }, data.jobs.map(jobItem)) : empty('No jobs match.'),
        data.jobs.length < data.total ? button(`Show more (${data.total - data.jobs.length} left)`, () => { state.limit += 30; render(); }, { kind: 'plain' }) : null);
    } else if (state.tab === 'dead') {
      const data = await api.get('/api/jobs/dead-letter?limit=100');
      counts.dead = data.total;
      content = data.jobs.length ? h('div', null,
        h('p', { class: 'hint' }, 'These failed for good. Retry makes a new job that reuses what was already downloaded and never posts twice.'),
        h('div', { class: 'list', 'data-testid': 'dead-letter' }, data.jobs.map((j) => deadItem(j, render))))
        : empty('The dead-letter queue is empty.');
    } else {
      const data = await api.get(`/api/logs?level=${state.level}&limit=100`);
      content = h('div', null, chips(LEVELS, state.level, (lv) => { state.level = lv; render(); }),
        data.logs.length ? h('div', { class: 'logs', 'data-testid': 'logs' }, data.logs.map(logItem)) : empty('No log lines at this level.'));
    }
    if (!ctx.alive) return;
    clear(body, tabs([['active', 'Active', counts.active], ['history', 'History'], ['dead', 'Dead letter', counts.dead], ['logs', 'Logs']],
      state.tab, (t) => { state.tab = t; history.replaceState(null, '', `#/jobs?tab=${t}`); render(); }), content);
  };
  if (state.tab !== 'dead') counts.dead = (await api.get('/api/jobs/dead-letter?limit=1')).total;
  await render();
  ctx.mount(body);
  ctx.every(2500, () => (state.tab === 'active' ? render() : null));
}

export async function detail(root, ctx) {
  const id = ctx.params[0];
  const body = h('div');
  const render = async () => {
    const { job: j, checkpoint, timeline } = await api.get(`/api/jobs/${id}`);
    if (!ctx.alive) return;
    ctx.title(`Job #${j.job_id}`);
    const steps = Object.entries(j.step_durations || {});
    clear(body,
      j.error_code ? h('div', { class: `banner banner-${j.status === 'failed' ? 'red' : 'amber'}` }, icon('alert'),
        h('div', { class: 'banner-text' }, h('strong', null, words(j.error_code)), h('span', null, j.error_message || ''),
          j.next_retry_at ? h('span', null, `Next attempt ${until(j.next_retry_at)}`) : null)) : null,
      card(h('div', { class: 'card-head' }, h('a', { href: `#/connections/${j.connection_id}` }, j.connection_name), badge(j.status)),
        j.status === 'running' ? h('div', { class: 'stack' }, h('div', { class: 'list-sub' }, `${capital(j.current_step)} · ${Math.round(j.progress_percent)}%`),
          progress(j.progress_percent), j.message ? h('div', { class: 'list-sub small' }, j.message) : null) : null,
        row('Source post', j.source_post_id),
        row('Destination post', j.destination_post_id || '—'),
        row('Attempts', String(j.attempts)),
        row('Created', when(j.created_at)),
        row('Started', when(j.started_at)),
        row('Finished', when(j.finished_at)),
        j.started_at && j.finished_at ? row('Took', duration((Date.parse(j.finished_at) - Date.parse(j.started_at)) / 1000)) : null,
        j.bytes_in ? row('Size in → out', `${bytes(j.bytes_in)} → ${bytes(j.bytes_out)}`) : null,
        j.retry_of ? row('Retry of', h('a', { href: `#/jobs/${j.retry_of}` }, `#${j.retry_of}`)) : null),
      h('div', { class: 'actions' },
        j.source_url ? button('View source', () => openLink(j.source_url), { iconName: 'external' }) : null,
        j.destination_url ? button('View destination', () => openLink(j.destination_url), { iconName: 'external', kind: 'primary' }) : null,
        j.dead_letter ? button('Retry', (e) => act(e.currentTarget, () => api.post(`/api/jobs/${j.job_id}/retry`))
          .then((r) => r && go(`/jobs/${r.retried_job_id || r.job_id}`)), { kind: 'primary', iconName: 'refresh', testid: 'retry' }) : null,
        ['queued', 'retrying', 'running', 'captcha_pending'].includes(j.status) ? button('Cancel', async (e) => {
          if (await confirm(`Cancel job #${j.job_id}?`, { ok: 'Cancel job', danger: true })) {
            const btn = e.currentTarget;
            if (await act(btn, () => api.post(`/api/jobs/${j.job_id}/cancel`), 'Job cancelled')) render();
          }
        }, { kind: 'danger', iconName: 'stop' }) : null),
      steps.length ? section('Steps', card(steps.map(([step, seconds]) => row(capital(step), duration(seconds))))) : null,
      checkpoint && checkpoint.steps_saved.length ? section('Checkpoint', card(row('Saved steps', checkpoint.steps_saved.join(', ')),
        checkpoint.upload ? row('Upload', checkpoint.upload.finished ? 'finished' : 'started, resumes where it stopped') : null)) : null,
      section('Timeline', timeline.length ? h('div', { class: 'logs' }, timeline.map(logItem)) : empty('No log lines for this job.')));
  };
  await render();
  ctx.mount(body);
  ctx.every(2500, async () => {
    const status = body.querySelector('.card .badge');
    if (status && /Running|Queued|Retrying/.test(status.textContent)) await render();
  });
}
