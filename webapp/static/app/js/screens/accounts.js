// Accounts: Instagram and YouTube cards with token status, an account's page, adding one.

import { all, api } from '../api.js';
import { go } from '../nav.js';
import {
  act, ago, badge, button, card, clear, confirm, empty, h, icon, openLink, percent, platformName, row, section,
  sheet, tabs, toast, until, when, words,
} from '../ui.js';
import { attentionBanners } from './home.js';

const METHOD = { private_api: 'Private API', graph_api: 'Graph API', oauth: 'OAuth' };
const LOGIN = { facebook: 'Facebook Login', instagram: 'Instagram Login' };
const method = (a) => (a.login_type ? `Graph API · ${LOGIN[a.login_type]}` : METHOD[a.auth_method] || a.auth_method);

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
      h('div', { class: 'list-sub' }, `${name} · ${method(a)}`),
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
      card(h('div', { class: 'card-head' }, h('strong', null, `${platformName[a.type]} · ${method(a)}`), badge(a.status)),
        a.username ? row('Username', `@${a.username}`) : null,
        a.profile.channel_title ? row('Channel', a.profile.channel_title) : null,
        row('Token', h('span', { class: token.status === 'expiry_warning' ? 'warn' : '' }, expiry(a)), null),
        a.token_expiry ? row('Expiry date', when(a.token_expiry)) : null,
        row('Auto refresh', token.auto_refresh ? 'yes' : 'no'),
        row('Warn before', `${a.alert_before_days} day${a.alert_before_days === 1 ? '' : 's'}`),
        a.type === 'youtube' ? row('Cookies for downloads', a.has_cookies ? 'stored' : 'none') : null,
        row('Last verified', ago(a.last_verified_at))),
      h('div', { class: 'actions' },
        a.auth_method !== 'oauth' ? button('Update credentials', () => newCredentials(a, render), { kind: 'primary', iconName: 'key', testid: 'update-credentials' }) : null,
        a.type === 'youtube' ? button('Re-authorize', (e) => act(e.currentTarget, () => {
          const form = new FormData();
          form.append('account_id', String(a.id));
          return api.upload('/api/tokens/upload', form);
        }).then((r) => { if (r) openLink(r.authorize_url); }), { iconName: 'key' }) : null,
        a.type === 'youtube' ? button(a.has_cookies ? 'Replace cookies' : 'Add cookies', () => cookies(a, render), { iconName: 'download', testid: 'cookies' }) : null,
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

// New credentials for an existing account: checked by the server before they replace the old ones.
function newCredentials(a, refresh) {
  const graph = a.auth_method === 'graph_api';
  return sheet('Update credentials', (body, done) => {
    const field = (name, label, attrs = {}, hint = null) => h('label', { class: 'field', 'data-field': name },
      h('span', { class: 'field-label' }, label), h('input', { name, type: 'text', autocomplete: 'off', ...attrs }),
      hint ? h('span', { class: 'field-hint' }, hint) : null);
    const fields = graph
      ? [field('access_token', 'New access token', { type: 'password' }, a.login_type === 'instagram' ? 'IGAA…' : 'EAA…'),
        ...(a.login_type === 'facebook' ? [field('app_id', 'App ID', { inputmode: 'numeric' }, 'Only if it changed'),
          field('app_secret', 'App secret', { type: 'password' }, 'Only if it changed')] : [])]
      : [field('password', 'New password', { type: 'password', autocomplete: 'new-password' }),
        field('verification_code', 'Two-factor code', { inputmode: 'numeric' }, 'Only if Instagram asks for one')];
    const box = h('div');
    const value = (n) => { const el = body.querySelector(`[name="${n}"]`); return el && el.value.trim() ? el.value.trim() : undefined; };
    const send = async (e) => {
      const btn = e.currentTarget;
      btn.disabled = true;
      try {
        const data = graph ? { access_token: value('access_token') || '', app_id: value('app_id'), app_secret: value('app_secret') }
          : { password: value('password'), verification_code: value('verification_code') };
        const result = await api.post(`/api/accounts/${a.id}/credentials`, data);
        toast(result.message);
        done(true);
        refresh();
      } catch (err) {
        clear(box, h('div', { class: 'banner banner-red', role: 'alert' }, icon('alert'),
          h('div', { class: 'banner-text' }, h('strong', null, 'Not changed'), h('span', null, err.full || err.message))));
      } finally {
        btn.disabled = false;
      }
    };
    body.append(h('p', { class: 'hint' }, `Checked with Instagram before it replaces what ${a.alias} uses now; paused connections resume.`),
      ...fields, box,
      h('div', { class: 'sheet-actions' }, button('Cancel', () => done(null)), button('Check and save', send, { kind: 'primary', testid: 'save-credentials' })));
  });
}

function cookies(a, refresh) {
  return sheet('Cookies for downloads', (body, done) => {
    const file = h('input', { type: 'file', name: 'cookies', accept: '.txt,text/plain' });
    const box = h('div');
    const fail = (err) => clear(box, h('div', { class: 'banner banner-red', role: 'alert' }, icon('alert'),
      h('div', { class: 'banner-text' }, h('strong', null, 'Not saved'), h('span', null, err.full || err.message))));
    const save = async () => {
      if (!file.files[0]) { fail({ message: 'Choose the cookies.txt file first.' }); return; }
      const form = new FormData();
      form.append('cookies', file.files[0], file.files[0].name);
      try { await api.upload(`/api/accounts/${a.id}/cookies`, form, 'PUT'); toast('Cookies saved'); done(true); refresh(); } catch (err) { fail(err); }
    };
    const remove = async () => {
      try { await api.del(`/api/accounts/${a.id}/cookies`); toast('Cookies removed'); done(true); refresh(); } catch (err) { fail(err); }
    };
    body.append(h('p', { class: 'hint' }, 'When YouTube asks downloads to sign in, yt-dlp uses these cookies: a cookies.txt (Netscape format) exported from a browser signed in to YouTube. Stored encrypted.'),
      h('label', { class: 'field file-button', 'data-field': 'cookies' }, h('span', { class: 'field-label' }, 'cookies.txt'), file), box,
      h('div', { class: 'sheet-actions' }, button('Cancel', () => done(null)),
        a.has_cookies ? button('Remove', remove, { kind: 'danger' }) : null,
        button('Save', save, { kind: 'primary', testid: 'save-cookies' })));
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
  let login = 'facebook';
  const body = h('div');
  const kept = {};
  // What was typed survives switching between Facebook and Instagram Login.
  const keep = () => body.querySelectorAll('input[name]').forEach((el) => { if (el.type !== 'file') kept[el.name] = el.value; });
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
      h('div', { class: 'field', 'data-field': 'login_type' }, h('span', { class: 'field-label' }, 'Which of Meta\'s Instagram APIs'),
        tabs([['facebook', 'Facebook Login'], ['instagram', 'Instagram Login']], login, (l) => { keep(); login = l; draw(); })),
      h('p', { class: 'hint' }, login === 'facebook'
        ? 'A professional account linked to a Facebook Page: a long-lived token (EAA…) with instagram_basic, instagram_content_publish and pages_read_engagement, and your Meta app\'s id and secret (App settings → Basic) to renew it.'
        : 'A professional account without a Page: a long-lived Instagram token (IGAA…) with instagram_business_basic and instagram_business_content_publish. Publishing needs an https PUBLIC_BASE_URL.'),
      input('alias', 'Alias'), input('access_token', 'Access token', { type: 'password', autocomplete: 'off' }),
      ...(login === 'facebook' ? [
        input('ig_user_id', 'Instagram user id', { inputmode: 'numeric' }, 'Or leave empty and give the Page id'),
        input('facebook_page_id', 'Facebook Page id', { inputmode: 'numeric' }),
        input('app_id', 'App ID', { inputmode: 'numeric' }),
        input('app_secret', 'App secret', { type: 'password', autocomplete: 'off' })] : []),
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
        : { type: 'instagram', auth_method: 'graph_api', login_type: login, alias: value('alias'), access_token: value('access_token'),
          ig_user_id: value('ig_user_id') || undefined, facebook_page_id: value('facebook_page_id') || undefined,
          app_id: value('app_id') || undefined, app_secret: value('app_secret') || undefined };
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

  const draw = () => { clear(body,
    tabs([['instagram_private', 'Instagram'], ['instagram_graph', 'Instagram Graph'], ['youtube', 'YouTube']], kind, (k) => { keep(); kind = k; draw(); }),
    h('form', { class: 'form', onsubmit: (e) => e.preventDefault() }, forms[kind]()),
    errorsBox,
    h('div', { class: 'save-row' }, button(kind === 'youtube' ? 'Upload and authorize' : 'Verify and add', submit, { kind: 'primary', testid: 'add-account' })));
  body.querySelectorAll('input[name]').forEach((el) => { if (el.name in kept && el.type !== 'file') el.value = kept[el.name]; });
  };
  draw();
  ctx.mount(body);
}
