// Settings: general, alerts (Telegram), retry policy, retention, YouTube quota, the session.

import { api } from '../api.js';
import { act, button, card, clear, h, row, section, tabs, toast, until, words } from '../ui.js';

const LABELS = {
  instance_name: 'Instance name', timezone: 'Time zone', max_attempts: 'Attempts per job',
  initial_delay_seconds: 'First retry after (s)', backoff_multiplier: 'Backoff multiplier',
  max_delay_seconds: 'Longest wait (s)', retry_on_errors: 'Retry on', no_retry_on_errors: 'Never retry on',
  backoff_strategy: 'Backoff', logs_days: 'Keep logs (days)', job_files_days: 'Keep job files (days)',
  notifications_days: 'Keep alerts (days)', youtube_daily_units: 'YouTube units per day',
  youtube_daily_uploads: 'YouTube uploads per day',
};

function input(key, value) {
  if (Array.isArray(value)) return h('input', { type: 'text', name: key, value: value.join(', ') });
  if (typeof value === 'number') return h('input', { type: 'number', name: key, value: String(value), step: 'any' });
  return h('input', { type: 'text', name: key, value: value ?? '' });
}

function read(form, original) {
  const out = {};
  for (const [key, value] of Object.entries(original)) {
    const el = form.querySelector(`[name="${key}"]`);
    if (!el) continue;
    if (Array.isArray(value)) out[key] = el.value.split(',').map((s) => s.trim()).filter(Boolean);
    else if (typeof value === 'number') out[key] = el.value === '' ? el.value : Number(el.value);
    else out[key] = el.value;
  }
  return out;
}

function sectionForm(name, values, onsaved) {
  const form = h('form', { class: 'form', onsubmit: (e) => e.preventDefault() }, Object.entries(values).map(([key, value]) =>
    h('label', { class: 'field', 'data-field': `${name}.${key}` }, h('span', { class: 'field-label' }, LABELS[key] || words(key)), input(key, value))));
  const save = async (e) => {
    const btn = e.currentTarget;
    btn.disabled = true;
    form.querySelectorAll('.field-message').forEach((m) => m.remove());
    try {
      await api.put('/api/settings', { [name]: read(form, values) });
      toast('Settings saved');
      onsaved();
    } catch (err) {
      for (const [key, message] of Object.entries(err.fields || {})) {
        const f = form.querySelector(`[data-field="${key}"]`);
        if (f) f.append(h('span', { class: 'field-message', role: 'alert' }, message));
      }
      toast(err.full || err.message, 'error');
    } finally {
      btn.disabled = false;
    }
  };
  return [form, h('div', { class: 'save-row' }, button('Save', save, { kind: 'primary', testid: `save-${name}` }))];
}

function alertsForm(alerts, onsaved) {
  const chat = h('input', { type: 'text', name: 'chat_id', value: alerts.chat_id || '', placeholder: '-1001234567890 or @channel' });
  const instance = h('input', { type: 'text', name: 'instance', value: alerts.instance });
  const boxes = alerts.available_kinds.map((kind) => h('label', { class: 'check' },
    h('input', { type: 'checkbox', value: kind, checked: alerts.enabled.includes(kind) }), words(kind)));
  const save = (e) => act(e.currentTarget, () => api.put('/api/settings/telegram', {
    chat_id: chat.value.trim() || null, instance: instance.value.trim(),
    enabled: boxes.map((b) => b.querySelector('input')).filter((i) => i.checked).map((i) => i.value),
  }), 'Alert settings saved').then((r) => r && onsaved());
  return [
    h('form', { class: 'form', onsubmit: (e) => e.preventDefault() },
      h('label', { class: 'field' }, h('span', { class: 'field-label' }, 'Alert chat'), chat,
        h('span', { class: 'field-hint' }, 'Add the bot to the channel as an admin, then give its id here')),
      h('label', { class: 'field' }, h('span', { class: 'field-label' }, 'Instance name in alerts'), instance),
      h('div', { class: 'field-label' }, 'Send alerts for'), h('div', { class: 'checks' }, boxes)),
    h('div', { class: 'save-row' }, button('Save', save, { kind: 'primary' }),
      button('Send test alert', (e) => act(e.currentTarget, () => api.post('/api/settings/telegram/test'),
        (r) => r.message || 'Test alert sent'), { iconName: 'bell' })),
  ];
}

export async function page(root, ctx) {
  ctx.title('Settings');
  let tab = 'general';
  const body = h('div');
  const render = async () => {
    const { settings } = await api.get('/api/settings');
    const session = window.forwarderSession;
    let content;
    if (tab === 'alerts') content = alertsForm(settings.alerts, render);
    else if (tab === 'general') {
      content = [...sectionForm('general', settings.general, render), section('Session', card(row('Signed in as', session ? [session.user.first_name, session.user.last_name].filter(Boolean).join(' ') : '—'),
        row('Telegram id', session ? String(session.user.id) : '—'),
        row('Session ends', session ? until(session.expires_at) : '—')),
      h('p', { class: 'hint' }, 'The Mini App signs you in with Telegram. Reopen it from the bot when the session ends; the length is the WEBAPP_SESSION_SECONDS setting.'))];
    } else content = sectionForm(tab, settings[tab], render);
    if (!ctx.alive) return;
    clear(body, tabs([['general', 'General'], ['alerts', 'Alerts'], ['retry', 'Retry'], ['retention', 'Retention'],
      ['quota', 'Quota']], tab, (t) => { tab = t; render(); }), section(null, content));
  };
  await render();
  ctx.mount(body);
}
