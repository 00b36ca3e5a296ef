// Connections: the list, a connection's page, and the seven-step form (the bot wizard's steps).

import { all, api } from '../api.js';
import { go } from '../nav.js';
import {
  act, ago, badge, button, card, chips, clear, confirm, directionLabel, dot, duration, empty, h, icon, insideTelegram,
  percent, platformName, row, section, sheet, tg, toast, until, words,
} from '../ui.js';
import { chartImage } from './analytics.js';

const PAGE = 20;

function rate(c) {
  const done = c.success_count + c.failure_count;
  return done ? percent((100 * c.success_count) / done) : '—';
}

// "travel.reels → Travel Shorts" (the accounts); ``platforms`` adds "Instagram → YouTube" under it.
function route(c, { platforms = false } = {}) {
  const [from, to] = directionLabel[c.type] || ['?', '?'];
  const alias = (a) => (a ? a.alias : '—');
  return h('span', { class: 'route-block' },
    h('span', { class: 'route' }, h('span', null, alias(c.source_account)), icon('arrow', 'icon small'),
      h('span', null, alias(c.destination_account))),
    platforms ? h('span', { class: 'route-platforms' }, `${from} → ${to}`) : null);
}

// Start / pause / resume / stop (and run now) for a connection's status.
export function connectionActions(c, refresh, { compact = false } = {}) {
  const call = (verb, done) => (e) => act(e.currentTarget, () => api.post(`/api/connections/${c.id}/${verb}`), done)
    .then((r) => r && refresh());
  const small = compact;
  const out = [];
  if (c.status === 'active') {
    out.push(button('Pause', call('pause'), { iconName: 'pause', small, testid: 'pause' }));
    if (!compact) out.push(button('Stop', call('stop'), { iconName: 'stop', small }));
  } else if (c.status === 'paused') {
    out.push(button('Resume', call('resume'), { iconName: 'play', small, kind: 'primary', testid: 'resume' }));
    if (!compact) out.push(button('Stop', call('stop'), { iconName: 'stop', small }));
  } else {
    out.push(button('Start', call('start'), { iconName: 'play', small, kind: 'primary', testid: 'start' }));
  }
  out.push(button('Run now', (e) => act(e.currentTarget, () => api.post(`/api/connections/${c.id}/run`), runMessage)
    .then((r) => r && refresh()), { iconName: 'refresh', small, testid: 'run-now' }));
  return out;
}

function runMessage(result) {
  return result.message;
}

// ---- list ------------------------------------------------------------------------------------

export async function list(root, ctx) {
  ctx.title('Connections');
  const rows = await all('/api/connections', 'connections');
  const state = { status: 'all', search: '', page: 0 };
  const results = h('div');
  const draw = () => {
    const needle = state.search.trim().toLowerCase();
    const shown = rows.filter((c) => (state.status === 'all' || c.status === state.status)
      && (!needle || [c.name, c.source_account && c.source_account.alias, c.destination_account && c.destination_account.alias]
        .some((t) => (t || '').toLowerCase().includes(needle))));
    const pages = Math.max(1, Math.ceil(shown.length / PAGE));
    state.page = Math.min(state.page, pages - 1);
    const page = shown.slice(state.page * PAGE, (state.page + 1) * PAGE);
    clear(results,
      page.length ? h('div', { class: 'list', 'data-testid': 'connections' }, page.map((c) =>
        h('a', { class: 'list-item tall', href: `#/connections/${c.id}` }, dot(c.status),
          h('div', { class: 'list-main' }, h('div', { class: 'list-title' }, c.name), h('div', { class: 'list-sub' }, route(c)),
            h('div', { class: 'list-sub' }, `${directionLabel[c.type].join(' → ')} · last run ${ago(c.last_run)}`),
            h('div', { class: 'list-sub' }, `${c.total_forwarded} forwarded · success ${rate(c)}`)),
          badge(c.status))))
        : empty(rows.length ? 'No connection matches.' : 'No connections yet. A connection watches one account and forwards its new videos to another.',
          rows.length ? null : button('Create connection', () => go('/connections/new'), { kind: 'primary' })),
      pages > 1 ? h('div', { class: 'pager' },
        button('Previous', () => { state.page -= 1; draw(); }, { small: true, disabled: state.page === 0 }),
        h('span', null, `${state.page + 1} / ${pages}`),
        button('Next', () => { state.page += 1; draw(); }, { small: true, disabled: state.page >= pages - 1 })) : null);
  };
  const filters = () => chips([['all', `All ${rows.length}`], ...['active', 'paused', 'stopped'].map((s) =>
    [s, `${words(s)} ${rows.filter((c) => c.status === s).length}`])], state.status, (s) => {
    state.status = s; state.page = 0; filterBar.replaceWith(filterBar = filters()); draw();
  });
  let filterBar = filters();
  ctx.mount(
    h('div', { class: 'page-head' }, button('New connection', () => go('/connections/new'), { kind: 'primary', iconName: 'plus', testid: 'new-connection' })),
    h('label', { class: 'search' }, icon('search'), h('input', {
      type: 'search', placeholder: 'Search by name or account', 'aria-label': 'Search connections',
      oninput: (e) => { state.search = e.target.value; state.page = 0; draw(); },
    })),
    filterBar, results);
  draw();
}

// ---- detail ----------------------------------------------------------------------------------

export async function detail(root, ctx) {
  const id = ctx.params[0];
  const body = h('div');
  const chart = chartImage('success_trend', { connection_id: id, period: '30days' }); // fetched once, kept across refreshes
  const render = async () => {
    const [{ connection: c }, jobs, metrics] = await Promise.all([
      api.get(`/api/connections/${id}`), api.get(`/api/jobs?connection_id=${id}&limit=50`),
      api.get(`/api/analytics/connection/${id}/metrics?period=30days`).catch(() => null)]);
    if (!ctx.alive) return;
    ctx.title(c.name);
    const m = metrics && metrics.metrics;
    clear(body,
      c.status === 'paused' && c.pause_reason ? h('div', { class: 'banner banner-amber' }, icon('pause'),
        h('div', { class: 'banner-text' }, h('strong', null, 'Paused'), h('span', null, c.pause_reason))) : null,
      card(h('div', { class: 'card-head' }, route(c, { platforms: true }), badge(c.status)),
        row('Last run', ago(c.last_run)),
        row('Next check', c.status === 'active' ? until(c.next_check) : '—'),
        row('Forwarded, all time', String(c.total_forwarded)),
        m ? row('Jobs · 30 days', `${m.total_jobs} (${m.failed} failed)`) : null,
        row('Success rate · 30 days', m ? percent(m.success_rate) : rate(c)),
        row('Filtered out', String(c.filtered_count)),
        row('Proxy', c.proxy ? c.proxy.alias : (c.proxy_policy && c.proxy_policy.pool && c.proxy_policy.pool.length ? `pool of ${c.proxy_policy.pool.length}` : 'account default or direct')),
        m && m.avg_job_duration_seconds !== null ? row('Average job', duration(m.avg_job_duration_seconds)) : null),
      h('div', { class: 'actions' }, connectionActions(c, render),
        button('Dry run', () => dryRun(c), { iconName: 'flask', testid: 'dry-run' }),
        button('Edit', () => go(`/connections/${c.id}/edit`), { iconName: 'edit' }),
        button('Delete', async (e) => {
          if (!await confirm(`Delete ${c.name} and its history? Videos already forwarded stay where they are.`, { ok: 'Delete', danger: true })) return;
          const done = await act(e.currentTarget, () => api.del(`/api/connections/${c.id}`), 'Connection deleted');
          if (done) go('/connections', { replace: true });
        }, { iconName: 'trash', kind: 'danger' })),
      section('Success rate · 30 days', chart),
      section(`Recent jobs (${jobs.total})`, jobs.jobs.length
        ? h('div', { class: 'list', 'data-testid': 'conn-jobs' }, jobs.jobs.map(jobItem))
        : empty('No jobs yet. Run now polls the source at once.')));
  };
  await render();
  ctx.mount(body);
  ctx.every(5000, render);
}

export function jobItem(j) {
  const sub = j.status === 'running' ? `${words(j.current_step)} · ${Math.round(j.progress_percent)}%`
    : j.error_code ? `${words(j.error_code)}${j.next_retry_at ? ` · retry ${until(j.next_retry_at)}` : ''}`
      : j.status === 'success' ? `Forwarded ${ago(j.finished_at)}` : words(j.status);
  return h('a', { class: 'list-item', href: `#/jobs/${j.job_id}`, 'data-job': j.job_id }, dot(j.status),
    h('div', { class: 'list-main' }, h('div', { class: 'list-title' }, `#${j.job_id} · ${j.connection_name}`),
      h('div', { class: 'list-sub' }, sub)),
    h('span', { class: 'list-meta' }, ago(j.created_at)));
}

async function dryRun(c) {
  await sheet(`Dry run · ${c.name}`, (body, done) => {
    body.append(h('div', { class: 'loading' }, h('div', { class: 'spinner' }),
      h('p', { class: 'hint' }, 'Downloading and transforming up to 5 posts; nothing is published.')));
    api.post(`/api/connections/${c.id}/dry-run`).then((report) => {
      const r = report.dry_run_results || {};
      const issues = r.issues || [];
      clear(body,
        h('div', { class: `banner banner-${report.status === 'success' ? 'green' : 'amber'}` },
          icon(report.status === 'success' ? 'check' : 'alert'),
          h('div', { class: 'banner-text' }, h('strong', null, report.status === 'success' ? 'Ready to forward' : 'Issues found'),
            h('span', null, `${r.posts_tested || 0} post(s) tested, destination check ${r.destination_validation || '—'}`))),
        card(row('Posts found', String(r.posts_found ?? 0)), row('Downloaded', String(r.videos_downloaded ?? 0)),
          row('Size before → after', `${r.total_size_mb ?? 0} → ${r.transformed_size_mb ?? 0} MB`),
          row('Upscaled', String((r.transformations || {}).upscale_applied ?? 0)),
          row('Upload time', `${r.estimated_upload_time_minutes || '—'} min`)),
        issues.length ? section('Issues', h('ul', { class: 'issues' }, issues.map((i) => h('li', null, i)))) : null,
        (r.previews || []).length ? section('Before / after', h('div', { class: 'previews' },
          r.previews.map((url) => h('img', { src: url, alt: 'Before and after', loading: 'lazy' })))) : null,
        h('div', { class: 'sheet-actions' }, button('Close', () => done(null), { kind: 'primary' })));
    }).catch((err) => {
      clear(body, h('div', { class: 'banner banner-red' }, icon('alert'), h('div', { class: 'banner-text' },
        h('strong', null, 'Dry run failed'), h('span', null, err.full || err.message))),
      h('div', { class: 'sheet-actions' }, button('Close', () => done(null))));
    });
  });
}

// ---- the form ----------------------------------------------------------------------------------

const STEPS = ['Basics', 'Accounts', 'Proxy', 'Filters', 'Schedule', 'Video', 'Review'];
// Which step a server field error belongs to.
const FIELD_STEP = [[/^(name|type|direction)/, 0], [/^(source_account|destination_account)/, 1],
  [/^(proxy)/, 2], [/^filters/, 3], [/^schedule/, 4], [/^(transform_options|metadata_templates)/, 5]];

function blankDraft() {
  return {
    name: '', type: 'instagram_to_youtube', source_account_id: null, destination_account_id: null, proxy_id: null,
    proxy_policy: { mode: 'sticky', pool: [], fallback_to_direct: false },
    filters: { mode: 'forward_all_new', caption_keywords: [], exclude_keywords: [], whole_word: false,
      min_duration: null, max_duration: null, date_range: null, include_old_posts: false },
    schedule: { type: 'continuous', check_interval_minutes: 5, windows: [], timezone: null },
    transform_options: { upscale: true, quality: 'optimized', aspect: 'pad_blur' },
    metadata_templates: {},
  };
}

function draftOf(c) {
  const d = blankDraft();
  Object.assign(d, {
    name: c.name, type: c.type, source_account_id: c.source_account && c.source_account.id,
    destination_account_id: c.destination_account && c.destination_account.id, proxy_id: c.proxy ? c.proxy.id : null,
  });
  for (const key of ['proxy_policy', 'filters', 'schedule', 'transform_options', 'metadata_templates']) {
    d[key] = { ...d[key], ...(c[key] || {}) };
  }
  return d;
}

const splitWords = (text) => text.split(/[,\n]/).map((w) => w.trim()).filter(Boolean);
const numberOrNull = (text) => (text === '' ? null : Number(text));

function field(label, input, hint, error) {
  return h('label', { class: `field${error ? ' field-error' : ''}` }, h('span', { class: 'field-label' }, label), input,
    error ? h('span', { class: 'field-message', role: 'alert' }, error) : hint ? h('span', { class: 'field-hint' }, hint) : null);
}

function choice(name, options, current, onpick) {
  return h('div', { class: 'choices', role: 'radiogroup' }, options.map(([value, label, sub]) =>
    h('label', { class: `choice${value === current ? ' choice-on' : ''}` },
      h('input', { type: 'radio', name, value, checked: value === current, onchange: () => onpick(value) }),
      h('span', { class: 'choice-text' }, h('strong', null, label), sub ? h('span', null, sub) : null))));
}

function toggle(label, checked, onchange, hint) {
  return h('label', { class: 'toggle' }, h('span', { class: 'toggle-text' }, h('span', null, label),
    hint ? h('span', { class: 'field-hint' }, hint) : null),
  h('input', { type: 'checkbox', role: 'switch', checked, onchange: (e) => onchange(e.target.checked) }));
}

function select(options, current, onchange, attrs = {}) {
  return h('select', { ...attrs, onchange: (e) => onchange(e.target.value) }, options.map(([value, label]) =>
    h('option', { value: value ?? '', selected: String(value ?? '') === String(current ?? '') }, label)));
}

export async function form(root, ctx) {
  const id = ctx.params[0];
  const [accounts, proxies, existing] = await Promise.all([
    all('/api/accounts', 'accounts'), all('/api/proxies', 'proxies'),
    id ? api.get(`/api/connections/${id}`) : null]);
  ctx.title(id ? `Edit ${existing.connection.name}` : 'New connection');
  const draft = existing ? draftOf(existing.connection) : blankDraft();
  let step = 0;
  let errors = {};
  const body = h('div', { class: 'wizard' });

  const errorFor = (prefix) => Object.entries(errors).filter(([k]) => k === prefix || k.startsWith(`${prefix}.`))
    .map(([, v]) => v).join('; ') || null;

  const steps = [
    () => [
      field('Name', h('input', { type: 'text', value: draft.name, maxlength: '100', placeholder: 'e.g. Travel reels → Shorts',
        'data-testid': 'name', oninput: (e) => { draft.name = e.target.value; } }), 'Unique, up to 100 characters', errorFor('name')),
      h('div', { class: 'field-label' }, 'Direction'),
      choice('direction', [['instagram_to_youtube', 'Instagram → YouTube', 'Reels become Shorts'],
        ['youtube_to_instagram', 'YouTube → Instagram', 'Shorts become Reels']], draft.type, (v) => {
        if (v !== draft.type) { draft.type = v; draft.source_account_id = null; draft.destination_account_id = null; }
        draw();
      }),
      errorFor('type') ? h('p', { class: 'field-message' }, errorFor('type')) : null,
    ],
    () => {
      const [from, to] = draft.type.split('_to_');
      const pick = (platform) => accounts.filter((a) => a.type === platform);
      const options = (platform) => [[null, `Choose a ${platformName[platform]} account`],
        ...pick(platform).map((a) => [a.id, `${a.alias}${a.status !== 'active' ? ` (${words(a.status)})` : ''}`])];
      const missing = [from, to].filter((p) => !pick(p).length);
      return [
        field(`Source · ${platformName[from]}`, select(options(from), draft.source_account_id,
          (v) => { draft.source_account_id = numberOrNull(v); }, { 'data-testid': 'source' }), 'New videos are read from here', errorFor('source_account_id')),
        field(`Destination · ${platformName[to]}`, select(options(to), draft.destination_account_id,
          (v) => { draft.destination_account_id = numberOrNull(v); }, { 'data-testid': 'destination' }), 'Videos are published here', errorFor('destination_account_id')),
        missing.length ? h('div', { class: 'banner banner-amber' }, icon('user'), h('div', { class: 'banner-text' },
          h('strong', null, `No ${missing.map((p) => platformName[p]).join(' or ')} account yet`),
          h('span', null, 'Add it under More → Accounts, then come back.')),
        h('div', { class: 'banner-actions' }, button('Add account', () => go('/accounts/new'), { small: true }))) : null,
      ];
    },
    () => {
      const policy = draft.proxy_policy;
      return [
        field('Proxy', select([[null, 'The account\'s default proxy, else direct'], ...proxies.map((p) =>
          [p.id, `${p.alias} · ${p.type}://${p.host}:${p.port} (${words(p.health_status)})`])], draft.proxy_id,
        (v) => { draft.proxy_id = numberOrNull(v); }), null, errorFor('proxy_id')),
        proxies.length > 1 ? field('Rotate through a pool', h('div', { class: 'checks' }, proxies.map((p) =>
          h('label', { class: 'check' }, h('input', { type: 'checkbox', checked: policy.pool.includes(p.id), onchange: (e) => {
            policy.pool = e.target.checked ? [...policy.pool, p.id] : policy.pool.filter((x) => x !== p.id);
          } }), `${p.alias}`))), 'Leave empty to use the proxy above', errorFor('proxy_policy.pool')) : null,
        field('Rotation', select([['sticky', 'Sticky: same proxy per account'], ['round_robin', 'Round robin'],
          ['random', 'Random'], ['least_used', 'Least used']], policy.mode, (v) => { policy.mode = v; }), null, errorFor('proxy_policy.mode')),
        toggle('Go direct when every proxy is down', policy.fallback_to_direct, (v) => { policy.fallback_to_direct = v; },
          'Off: jobs wait and fail with proxy_error instead of exposing your IP'),
      ];
    },
    () => {
      const f = draft.filters;
      const range = f.date_range || {};
      return [
        choice('filter-mode', [['forward_all_new', 'Every new video', null],
          ['caption_keywords', 'Only captions with keywords', null]], f.mode, (v) => { f.mode = v; draw(); }),
        f.mode === 'caption_keywords' ? field('Keywords', h('input', { type: 'text', value: (f.caption_keywords || []).join(', '),
          placeholder: 'travel, #sunset', oninput: (e) => { f.caption_keywords = splitWords(e.target.value); } }),
        'Comma separated; any one matches', errorFor('filters.caption_keywords')) : null,
        field('Exclude keywords', h('input', { type: 'text', value: (f.exclude_keywords || []).join(', '), placeholder: 'ad, sponsored',
          oninput: (e) => { f.exclude_keywords = splitWords(e.target.value); } }), null, errorFor('filters.exclude_keywords')),
        toggle('Whole words only', f.whole_word, (v) => { f.whole_word = v; }),
        h('div', { class: 'pair' },
          field('Min seconds', h('input', { type: 'number', min: '0', value: f.min_duration ?? '', oninput: (e) => { f.min_duration = numberOrNull(e.target.value); } }), null, errorFor('filters.min_duration')),
          field('Max seconds', h('input', { type: 'number', min: '0', value: f.max_duration ?? '', oninput: (e) => { f.max_duration = numberOrNull(e.target.value); } }), null, errorFor('filters.max_duration'))),
        h('div', { class: 'pair' },
          field('From', h('input', { type: 'date', value: range.from || '', onchange: (e) => { f.date_range = { ...(f.date_range || {}), from: e.target.value || null }; } }), null, errorFor('filters.date_range')),
          field('To', h('input', { type: 'date', value: range.to || '', onchange: (e) => { f.date_range = { ...(f.date_range || {}), to: e.target.value || null }; } }))),
        toggle('Also forward older posts (backfill)', f.include_old_posts, (v) => { f.include_old_posts = v; },
          'Walks back through the date range a few posts per run'),
      ];
    },
    () => {
      const s = draft.schedule;
      const windows = (s.windows || []).map((w) => `${w.start}-${w.end}`).join(', ');
      return [
        choice('schedule', [['continuous', 'Continuously', 'Check every few minutes'],
          ['windows', 'In time windows', 'Only during the hours you choose']], s.type || 'continuous', (v) => { s.type = v; draw(); }),
        field('Check every (minutes)', h('input', { type: 'number', min: '1', max: '1440', value: s.check_interval_minutes ?? 5,
          oninput: (e) => { s.check_interval_minutes = numberOrNull(e.target.value); } }), null, errorFor('schedule.check_interval_minutes')),
        s.type === 'windows' ? field('Windows', h('input', { type: 'text', value: windows, placeholder: '08:00-12:00, 18:00-23:00',
          oninput: (e) => { s.windows = splitWords(e.target.value).map((w) => { const [start, end] = w.split('-').map((x) => x.trim()); return { start, end }; }); } }),
        'HH:MM-HH:MM, comma separated; may cross midnight', errorFor('schedule.windows')) : null,
        field('Time zone', h('input', { type: 'text', value: s.timezone || '', placeholder: 'Server default, e.g. Europe/Berlin',
          oninput: (e) => { s.timezone = e.target.value.trim() || null; } }), null, errorFor('schedule.timezone')),
      ];
    },
    () => {
      const t = draft.transform_options;
      const m = draft.metadata_templates;
      const toYouTube = draft.type === 'instagram_to_youtube';
      return [
        toggle('Upscale to 1080×1920', t.upscale, (v) => { t.upscale = v; }, 'Smaller videos are scaled up for Shorts/Reels'),
        field('Quality', select([['optimized', 'Optimized (recommended)'], ['original', 'Original: copy when compliant'],
          ['maximum_compatibility', 'Maximum compatibility']], t.quality, (v) => { t.quality = v; }), null, errorFor('transform_options.quality')),
        field('Not 9:16?', select([['pad_blur', 'Blurred background'], ['pad_color', 'Solid colour bars'], ['crop', 'Crop to fill']],
          t.aspect, (v) => { t.aspect = v; }), null, errorFor('transform_options.aspect')),
        toYouTube ? field('Title', h('input', { type: 'text', value: m.title ?? '{first_line}', oninput: (e) => { m.title = e.target.value; } }),
          'Placeholders: {first_line} {caption_text} {title} {date}', errorFor('metadata_templates.title')) : null,
        field(toYouTube ? 'Description' : 'Caption', h('textarea', { rows: '3', oninput: (e) => { m[toYouTube ? 'description' : 'caption'] = e.target.value; } },
          toYouTube ? (m.description ?? '{caption}\n\n{source_url}') : (m.caption ?? '{caption}')),
        'Placeholders: {caption} {hashtags} {source_url} {source_account}', errorFor(toYouTube ? 'metadata_templates.description' : 'metadata_templates.caption')),
        toYouTube ? field('Privacy', select([['public', 'Public'], ['unlisted', 'Unlisted'], ['private', 'Private']], m.privacy || 'public',
          (v) => { m.privacy = v; }), null, errorFor('metadata_templates.privacy')) : null,
      ];
    },
    () => {
      const name = (list, key) => (list.find((x) => x.id === draft[key]) || {}).alias || '—';
      const f = draft.filters;
      const s = draft.schedule;
      const problems = Object.entries(errors);
      return [
        problems.length ? h('div', { class: 'banner banner-red', role: 'alert' }, icon('alert'), h('div', { class: 'banner-text' },
          h('strong', null, 'Not saved'), h('span', null, problems.map(([k, v]) => `${words(k)}: ${v}`).join('; ')))) : null,
        card(row('Name', draft.name || '—'), row('Direction', directionLabel[draft.type].join(' → ')),
          row('Source', name(accounts, 'source_account_id')), row('Destination', name(accounts, 'destination_account_id')),
          row('Proxy', draft.proxy_id ? name(proxies, 'proxy_id') : draft.proxy_policy.pool.length ? `pool of ${draft.proxy_policy.pool.length}` : 'default'),
          row('Filter', f.mode === 'forward_all_new' ? 'every new video' : `keywords: ${(f.caption_keywords || []).join(', ')}`),
          row('Schedule', s.type === 'windows' ? `windows ${(s.windows || []).map((w) => `${w.start}-${w.end}`).join(', ')}` : `every ${s.check_interval_minutes} min`),
          row('Video', `${draft.transform_options.upscale ? 'upscale, ' : ''}${words(draft.transform_options.quality)}`)),
        h('div', { class: 'save-row' },
          button('Save & activate', () => save('active'), { kind: 'primary', iconName: 'play', testid: 'save-activate' }),
          button('Save inactive', () => save('stopped'), { testid: 'save-inactive' })),
      ];
    },
  ];

  function validateStep() {
    if (step === 0 && !draft.name.trim()) return { name: 'Give the connection a name' };
    if (step === 1) {
      const out = {};
      if (!draft.source_account_id) out.source_account_id = 'Choose the account to read from';
      if (!draft.destination_account_id) out.destination_account_id = 'Choose the account to publish to';
      return Object.keys(out).length ? out : null;
    }
    return null;
  }

  function payload(status) {
    const out = { ...draft, name: draft.name.trim() };
    if (!out.filters.date_range || (!out.filters.date_range.from && !out.filters.date_range.to)) out.filters = { ...out.filters, date_range: null };
    if (!id) out.status = status;
    return out;
  }

  async function save(status) {
    const saveButtons = body.querySelectorAll('.save-row button');
    saveButtons.forEach((b) => { b.disabled = true; });
    try {
      let result;
      if (id) {
        result = await api.put(`/api/connections/${id}`, payload(status));
        if (status === 'active' && result.connection.status !== 'active') {
          await api.post(`/api/connections/${id}/start`);
        }
      } else {
        result = await api.post('/api/connections', payload(status));
      }
      const c = result.connection;
      if (result.start_refused) toast(`Saved, not started: ${result.start_refused.message}`, 'error');
      else toast(id ? 'Connection saved' : `Connection ${c.name} created${c.status === 'active' ? ' and started' : ''}`);
      go(`/connections/${c.id}`, { replace: true });
    } catch (err) {
      errors = err.fields || { form: err.full || err.message };
      const first = Object.keys(errors).map((k) => (FIELD_STEP.find(([re]) => re.test(k)) || [null, 6])[1]).sort()[0];
      step = first ?? 6;
      draw();
      toast(err.full || err.message, 'error');
    } finally {
      saveButtons.forEach((b) => { b.disabled = false; });
    }
  }

  const next = () => {
    const problem = validateStep();
    if (problem) { errors = problem; draw(); return; }
    errors = Object.fromEntries(Object.entries(errors).filter(([k]) => (FIELD_STEP.find(([re]) => re.test(k)) || [null, 6])[1] !== step));
    step = Math.min(step + 1, STEPS.length - 1);
    draw();
  };
  const previous = () => { step = Math.max(0, step - 1); draw(); };

  function draw() {
    const last = step === STEPS.length - 1;
    clear(body,
      h('div', { class: 'steps', 'aria-label': `Step ${step + 1} of ${STEPS.length}` },
        h('div', { class: 'steps-bar' }, h('div', { class: 'steps-fill', style: `width:${((step + 1) / STEPS.length) * 100}%` })),
        h('div', { class: 'steps-label' }, h('strong', null, STEPS[step]), h('span', null, `Step ${step + 1} of ${STEPS.length}`))),
      h('form', { class: 'form', onsubmit: (e) => { e.preventDefault(); if (!last) next(); } }, steps[step]()),
      h('div', { class: 'wizard-nav' },
        button('Cancel', async () => { if (await confirm('Leave without saving?', { ok: 'Leave' })) go(id ? `/connections/${id}` : '/connections', { replace: true }); }, { kind: 'plain', testid: 'cancel' }),
        step > 0 ? button('Back', previous, { testid: 'back' }) : h('span'),
        last ? h('span') : button('Next', next, { kind: 'primary', testid: 'next', iconName: 'chevron' })));
    if (insideTelegram && tg.MainButton) {
      if (last) tg.MainButton.hide();
      else tg.MainButton.setText(`Next: ${STEPS[step + 1]}`).show();
    }
    window.scrollTo(0, 0);
  }

  if (insideTelegram && tg.MainButton) {
    tg.MainButton.onClick(next);
    ctx.onLeave(() => { tg.MainButton.offClick(next); tg.MainButton.hide(); });
  }
  draw();
  ctx.mount(body);
}
