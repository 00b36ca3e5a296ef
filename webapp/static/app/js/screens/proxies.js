// Proxies: health at a glance, test one or all, add and edit.

import { all, api } from '../api.js';
import {
  act, ago, badge, button, clear, confirm, dot, empty, h, section, sheet, toast,
} from '../ui.js';

const TYPES = [['http', 'HTTP'], ['https', 'HTTPS'], ['socks5', 'SOCKS5']];

function proxyItem(p, refresh) {
  const latency = p.response_time_ms !== null ? `${p.response_time_ms} ms` : 'no latency yet';
  return h('div', { class: 'list-item tall', 'data-proxy': p.id }, dot(p.enabled ? p.health_status : 'disabled'),
    h('div', { class: 'list-main' },
      h('div', { class: 'list-title' }, p.alias, p.enabled ? null : h('span', { class: 'muted' }, ' · disabled')),
      h('div', { class: 'list-sub mono' }, `${p.type}://${p.host}:${p.port}${p.has_credentials ? ' · auth' : ''}`),
      h('div', { class: 'list-sub' }, p.last_health_check ? `Checked ${ago(p.last_health_check)} · ${latency}` : 'Never checked'),
      p.last_error && p.health_status === 'unhealthy' ? h('div', { class: 'list-sub warn' }, p.last_error) : null),
    h('div', { class: 'list-actions' },
      button('Test', (e) => act(e.currentTarget, () => api.post(`/api/proxies/${p.id}/health-check`),
        (r) => `${p.alias}: ${r.health_status}${r.average_latency_ms ? `, ${r.average_latency_ms} ms` : ''}`).then((r) => r && refresh()),
      { small: true, testid: 'test-proxy' }),
      button('', () => edit(p, refresh), { small: true, kind: 'plain', iconName: 'edit' })));
}

function edit(p, refresh) {
  return sheet(p ? `Edit ${p.alias}` : 'Add proxy', (body, done) => {
    const v = p || { alias: '', type: 'socks5', host: '', port: '', assignment: 'per_account' };
    const field = (name, label, input) => h('label', { class: 'field', 'data-field': name }, h('span', { class: 'field-label' }, label), input);
    const inputs = {
      alias: h('input', { type: 'text', value: v.alias, placeholder: 'nl-residential' }),
      type: h('select', null, TYPES.map(([k, l]) => h('option', { value: k, selected: k === v.type }, l))),
      host: h('input', { type: 'text', value: v.host, placeholder: 'proxy.example.net', autocomplete: 'off' }),
      port: h('input', { type: 'number', min: '1', max: '65535', value: v.port }),
      username: h('input', { type: 'text', autocomplete: 'off', placeholder: p && p.has_credentials ? 'unchanged' : 'optional' }),
      password: h('input', { type: 'password', autocomplete: 'new-password', placeholder: p && p.has_credentials ? 'unchanged' : 'optional' }),
      assignment: h('select', null, [['per_account', 'Per account'], ['global', 'Global (everyone)']].map(([k, l]) =>
        h('option', { value: k, selected: k === v.assignment }, l))),
    };
    const enabled = h('input', { type: 'checkbox', role: 'switch', checked: p ? p.enabled : true });
    const showErrors = (err) => {
      body.querySelectorAll('.field-message').forEach((m) => m.remove());
      for (const [name, message] of Object.entries(err.fields || {})) {
        const f = body.querySelector(`[data-field="${name}"]`);
        if (f) f.append(h('span', { class: 'field-message', role: 'alert' }, message));
      }
      toast(err.full || err.message, 'error');
    };
    const save = async (e, test) => {
      const data = { alias: inputs.alias.value.trim(), type: inputs.type.value, host: inputs.host.value.trim(),
        port: Number(inputs.port.value) || inputs.port.value, assignment: inputs.assignment.value };
      if (inputs.username.value || inputs.password.value) {
        data.username = inputs.username.value || null;
        data.password = inputs.password.value || null;
      }
      const btn = e.currentTarget;
      btn.disabled = true;
      try {
        let result;
        if (p) {
          result = await api.put(`/api/proxies/${p.id}`, { ...data, enabled: enabled.checked });
          if (test) result = { ...result, health_check: await api.post(`/api/proxies/${p.id}/health-check`) };
        } else {
          result = await api.post('/api/proxies', { ...data, test });
        }
        inputs.password.value = '';
        const check = result.health_check;
        toast(check ? `${result.proxy.alias} saved: ${check.health_status}` : `${result.proxy.alias} saved`,
          check && check.health_status !== 'healthy' ? 'error' : 'ok');
        done(true);
        refresh();
      } catch (err) {
        showErrors(err);
      } finally {
        btn.disabled = false;
      }
    };
    body.append(h('form', { class: 'form', onsubmit: (e) => e.preventDefault() },
      field('alias', 'Alias', inputs.alias), field('type', 'Type', inputs.type),
      h('div', { class: 'pair' }, field('host', 'Host', inputs.host), field('port', 'Port', inputs.port)),
      h('div', { class: 'pair' }, field('username', 'Username', inputs.username), field('password', 'Password', inputs.password)),
      field('assignment', 'Assignment', inputs.assignment),
      p ? h('label', { class: 'toggle' }, h('span', { class: 'toggle-text' }, 'Enabled'), enabled) : null),
    h('div', { class: 'sheet-actions' },
      p ? button('Delete', async (e) => {
        if (!await confirm(`Delete proxy ${p.alias}?`, { ok: 'Delete', danger: true })) return;
        if (await act(e.currentTarget, () => api.del(`/api/proxies/${p.id}`), 'Proxy deleted')) { done(true); refresh(); }
      }, { kind: 'danger', iconName: 'trash' }) : button('Cancel', () => done(null)),
      button('Save', (e) => save(e, false)),
      button('Save & test', (e) => save(e, true), { kind: 'primary', testid: 'save-test' })));
  });
}

export async function list(root, ctx) {
  ctx.title('Proxies');
  const body = h('div');
  const render = async () => {
    const proxies = await all('/api/proxies', 'proxies');
    if (!ctx.alive) return;
    const healthy = proxies.filter((p) => p.enabled && p.health_status === 'healthy').length;
    clear(body,
      h('div', { class: 'page-head' },
        button('Add proxy', () => edit(null, render), { kind: 'primary', iconName: 'plus', testid: 'add-proxy' }),
        proxies.length ? button('Test all', (e) => act(e.currentTarget, () => api.post('/api/proxies/test-all'),
          (r) => `${r.healthy} healthy, ${r.unhealthy} unhealthy`).then((r) => r && render()), { iconName: 'refresh' }) : null),
      proxies.length ? section(`${healthy} of ${proxies.length} healthy`, h('div', { class: 'list', 'data-testid': 'proxies' },
        proxies.map((p) => proxyItem(p, render))))
        : empty('No proxies. Instagram is far calmer when each account always comes from the same residential IP.'),
      proxies.some((p) => p.health_status === 'unhealthy') ? h('p', { class: 'hint' },
        'Unhealthy proxies are skipped by new jobs; a connection without a healthy proxy waits unless it may go direct.') : null);
  };
  await render();
  ctx.mount(body);
  ctx.every(15000, render);
}
