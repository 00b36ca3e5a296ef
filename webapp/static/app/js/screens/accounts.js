// Accounts: Instagram and YouTube cards with token status, an account's page, adding one.

import { all, api } from '../api.js';
import { go } from '../nav.js';
import {
  act, ago, badge, button, card, clear, confirm, empty, h, icon, openLink, percent, platformName, row, section,
  sheet, tabs, toast, until, when, words,
} from '../ui.js';
import { attentionBanners } from './home.js';

const METHOD = { private_api: 'Private API', graph_api: 'Graph API', oauth: 'OAuth' };

function expiry(a) {
  if (!a.token_expiry) return a.auth_method === 'private_api' ? 'Session (no expiry)' : 'No expiry known';
  const left = Date.parse(a.token_expiry) - Date.now();
  if (left <= 0) return `Expired ${ago(a.token_expiry)}`;
  return `Expires ${until(a.token_expiry)}`;
}

function accountCard(a) {
  const name = a.type === 'youtube' ? (a.profile.channel_title || a.alias) : `@${a.username || a.alias}`;
  return h('a', { class: 'list-item tall', href: `#/accounts/${a.id}`, 'data-account': a.id },
    h('span', { class: `avatar avatar-${a.type}` }, (a.alias || '?').slice(0, 1).toUpperCase()),
    h('div', { class: 'list-main' }, h('div', { class: 'list-title' }, a.alias),
      h('div', { class: 'list-sub' }, `${name} · ${METHOD[a.auth_method] || a.auth_method}`),
      h('div', { class: `list-sub${a.status === 'expiry_warning' ? ' warn' : ''}` }, a.status_reason || expiry(a))),
    badge(a.status));
}

export async function list(root, ctx) {
  ctx.title('Accounts');
  let tab = 'instagram';
  const body = h('div');
  const render = async () => {
    const accounts = await all('/api/accounts', 'accounts');
    if (!ctx.alive) return;
    const shown = accounts.filter((a) => a.type === tab);
    const count = (p) => accounts.filter((a) => a.type === p).length;
    clear(body,
      h('div', { class: 'banners' }, attentionBanners(accounts, render)),
      h('div', { class: 'page-head' }, button('Add account', () => go('/accounts/new'), { kind: 'primary', iconName: 'plus' })),
      tabs([['instagram', 'Instagram', count('instagram')], ['youtube', 'YouTube', count('youtube')]], tab, (t) => { tab = t; render(); }),
      shown.length ? h('div', { class: 'list' }, shown.map(accountCard))
        : empty(`No ${platformName[tab]} account yet.`, button('Add one', () => go('/accounts/new'), { kind: 'primary' })));
  };
  await render();
  ctx.mount(body);
  ctx.every(10000, render);
}

export async function detail(root, ctx) {
  const id = ctx.params[0];
  const body = h('div');
  const render = async () => {
    const [{ account: a }, stats] = await Promise.all([api.get(`/api/accounts/${id}`),
      api.get(`/api/accounts/${id}/analytics`).catch(() => null)]);
    if (!ctx.alive) return;
    ctx.title(a.alias);
    const token = a.token_status || {};
    clear(body,
      h('div', { class: 'banners' }, attentionBanners([a], render)),
      a.status === 'captcha_detected' ? card(h('p', { class: 'hint' }, 'If Instagram sent a security code by SMS or e-mail, enter it here instead.'),
        button('Enter security code', () => securityCode(a, render), { iconName: 'key' })) : null,
      card(h('div', { class: 'card-head' }, h('strong', null, `${platformName[a.type]} · ${METHOD[a.auth_method] || a.auth_method}`), badge(a.status)),
        a.username ? row('Username', `@${a.username}`) : null,
        a.profile.channel_title ? row('Channel', a.profile.channel_title) : null,
        row('Token', h('span', { class: token.status === 'expiry_warning' ? 'warn' : '' }, expiry(a)), null),
        a.token_expiry ? row('Expiry date', when(a.token_expiry)) : null,
        row('Auto refresh', token.auto_refresh ? 'yes' : 'no'),
        row('Warn before', `${a.alert_before_days} day${a.alert_before_days === 1 ? '' : 's'}`),
        row('Last verified', ago(a.last_verified_at))),
      h('div', { class: 'actions' },
        a.auth_method !== 'private_api' ? button('Refresh token', (e) => act(e.currentTarget, () => api.post(`/api/tokens/${a.id}/refresh`),
          'Token refreshed').then((r) => r && render()), { iconName: 'refresh' }) : null,
        button('Rename', () => rename(a, render), { iconName: 'edit' }),
        button('Delete', async (e) => {
          if (!await confirm(`Delete ${a.alias}? Its stored credentials are erased.`, { ok: 'Delete', danger: true })) return;
          if (await act(e.currentTarget, () => api.del(`/api/accounts/${a.id}`), 'Account deleted')) go('/accounts', { replace: true });
        }, { kind: 'danger', iconName: 'trash' })),
      stats ? section('Health · 30 days', card(
        h('div', { class: 'health' }, h('div', { class: 'health-score' }, String(stats.health_score)), h('div', null,
          h('strong', null, 'Health score'), h('div', { class: 'hint' }, `${percent(stats.metrics.success_rate)} success, ${stats.metrics.total_jobs} jobs`))),
        row('As source', `${stats.roles.source.jobs} jobs · ${percent(stats.roles.source.success_rate)}`),
        row('As destination', `${stats.roles.destination.jobs} jobs · ${percent(stats.roles.destination.success_rate)}`),
        row('Last failure', ago(stats.metrics.last_failure_at)))) : null,
      stats && stats.connections.length ? section('Connections', h('div', { class: 'list' }, stats.connections.map((c) =>
        h('a', { class: 'list-item', href: `#/connections/${c.connection_id}` }, h('div', { class: 'list-main' },
          h('div', { class: 'list-title' }, c.name), h('div', { class: 'list-sub' }, `${c.role} · ${c.jobs} jobs · ${percent(c.success_rate)}`)),
        badge(c.status))))) : null);
  };
  await render();
  ctx.mount(body);
  ctx.every(15000, render);
}

function rename(a, refresh) {
  return sheet('Rename account', (body, done) => {
    const input = h('input', { type: 'text', value: a.alias, maxlength: '64' });
    const save = (e) => act(e.currentTarget, () => api.put(`/api/accounts/${a.id}`, { alias: input.value.trim() }), 'Renamed')
      .then((r) => { if (r) { done(true); refresh(); } });
    body.append(h('label', { class: 'field' }, h('span', { class: 'field-label' }, 'Alias'), input),
      h('div', { class: 'sheet-actions' }, button('Cancel', () => done(null)), button('Save', save, { kind: 'primary' })));
  });
}

function securityCode(a, refresh) {
  return sheet('Security code', (body, done) => {
    const input = h('input', { type: 'text', inputmode: 'numeric', autocomplete: 'one-time-code', placeholder: '6 digits' });
    const send = (e) => act(e.currentTarget, () => api.post(`/api/accounts/${a.id}/security-code`, { code: input.value.trim() }))
      .then((r) => { if (r) { done(true); refresh(); } });
    body.append(h('p', { class: 'hint' }, `The code Instagram sent for ${a.alias}.`),
      h('label', { class: 'field' }, h('span', { class: 'field-label' }, 'Code'), input),
      h('div', { class: 'sheet-actions' }, button('Cancel', () => done(null)), button('Send', send, { kind: 'primary' })));
  });
}

// ---- adding an account -------------------------------------------------------------------------

export async function add(root, ctx) {
  ctx.title('Add account');
  let kind = 'instagram_private';
  const body = h('div');
  const errorsBox = h('div');
  const input = (name, label, attrs = {}, hint = null) => h('label', { class: 'field', 'data-field': name },
    h('span', { class: 'field-label' }, label), h('input', { name, type: 'text', ...attrs }),
    hint ? h('span', { class: 'field-hint' }, hint) : null);

  const showErrors = (err) => {
    body.querySelectorAll('.field').forEach((f) => { f.classList.remove('field-error'); f.querySelector('.field-message')?.remove(); });
    for (const [name, message] of Object.entries(err.fields || {})) {
      const f = body.querySelector(`[data-field="${name}"]`);
      if (f) { f.classList.add('field-error'); f.append(h('span', { class: 'field-message', role: 'alert' }, message)); }
    }
    clear(errorsBox, h('div', { class: 'banner banner-red', role: 'alert' }, icon('alert'),
      h('div', { class: 'banner-text' }, h('strong', null, 'Not added'), h('span', null, err.full || err.message))));
  };
  const value = (name) => { const el = body.querySelector(`[name="${name}"]`); return el ? el.value.trim() : ''; };

  const forms = {
    instagram_private: () => [
      h('p', { class: 'hint' }, 'Logs in as the app does. Use a proxy per account and expect Instagram to ask for confirmation now and then. The password is encrypted at rest and never shown again.'),
      input('alias', 'Alias', { placeholder: 'travel.reels' }), input('username', 'Instagram username', { autocomplete: 'off' }),
      input('password', 'Password', { type: 'password', autocomplete: 'new-password' }),
      input('verification_code', 'Two-factor code', { inputmode: 'numeric' }, 'Only if Instagram asks for one'),
    ],
    instagram_graph: () => [
      h('p', { class: 'hint' }, 'For professional accounts linked to a Facebook Page: a long-lived token with instagram_basic and instagram_content_publish.'),
      input('alias', 'Alias'), input('access_token', 'Access token', { type: 'password', autocomplete: 'off' }),
      input('ig_user_id', 'Instagram user id', { inputmode: 'numeric' }, 'Or leave empty and give the Page id'),
      input('facebook_page_id', 'Facebook Page id', { inputmode: 'numeric' }),
    ],
    youtube: () => [
      h('p', { class: 'hint' }, 'Upload the OAuth client (client_secret.json) from Google Cloud, then approve access in the browser. You are told in the chat when it is done.'),
      input('alias', 'Alias', { placeholder: 'My channel' }),
      h('label', { class: 'field', 'data-field': 'client_secret' }, h('span', { class: 'field-label' }, 'client_secret.json'),
        h('input', { name: 'client_secret', type: 'file', accept: '.json,application/json' })),
    ],
  };

  async function submit(e) {
    const btn = e.currentTarget;
    btn.disabled = true;
    try {
      if (kind === 'youtube') {
        const form = new FormData();
        form.append('type', 'youtube');
        form.append('alias', value('alias'));
        const file = body.querySelector('[name="client_secret"]').files[0];
        if (file) form.append('client_secret', file, file.name);
        const result = await api.upload('/api/accounts', form);
        clear(errorsBox, h('div', { class: 'banner banner-green' }, icon('check'), h('div', { class: 'banner-text' },
          h('strong', null, 'Now approve access'), h('span', null, 'Google opens; choose the channel and allow uploads. This page updates when it is done.')),
        h('div', { class: 'banner-actions' }, button('Open Google', () => openLink(result.authorize_url), { kind: 'primary', small: true }))));
        openLink(result.authorize_url);
        return;
      }
      const data = kind === 'instagram_private'
        ? { type: 'instagram', auth_method: 'private_api', alias: value('alias'), username: value('username'), password: value('password'),
          verification_code: value('verification_code') || undefined }
        : { type: 'instagram', auth_method: 'graph_api', alias: value('alias'), access_token: value('access_token'),
          ig_user_id: value('ig_user_id') || undefined, facebook_page_id: value('facebook_page_id') || undefined };
      const result = await api.post('/api/accounts', data);
      body.querySelectorAll('input[type=password]').forEach((el) => { el.value = ''; });
      toast(`Account ${result.account.alias} added`);
      go(`/accounts/${result.account.id}`, { replace: true });
    } catch (err) {
      showErrors(err);
    } finally {
      btn.disabled = false;
    }
  }

  const draw = () => clear(body,
    tabs([['instagram_private', 'Instagram'], ['instagram_graph', 'Instagram Graph'], ['youtube', 'YouTube']], kind, (k) => { kind = k; draw(); }),
    h('form', { class: 'form', onsubmit: (e) => e.preventDefault() }, forms[kind]()),
    errorsBox,
    h('div', { class: 'save-row' }, button(kind === 'youtube' ? 'Upload and authorize' : 'Verify and add', submit, { kind: 'primary', testid: 'add-account' })));
  draw();
  ctx.mount(body);
}
