// Operator actions: force a breaker, replay the DLQ, switch a cluster over, inject and heal faults. Every call
// carries the admin token the operator typed (kept in this tab's sessionStorage only); the daemon refuses
// without it and the refusal is shown as the daemon worded it.
import { clear, h, tone } from './util.js';

const TOKEN_KEY = 'tagstream.adminToken';
let lastSignature = '';
let result = null; // { ok, text }
let armed = null; // a switchover waiting for its confirming second click

const token = () => sessionStorage.getItem(TOKEN_KEY) ?? '';

async function act(label, method, path, body) {
  result = { ok: null, text: `${label}…` };
  paintResult();
  try {
    const headers = { 'content-type': 'application/json' };
    if (token()) headers.authorization = `Bearer ${token()}`;
    const res = await fetch(path, { method, headers, body: JSON.stringify(body ?? {}) });
    const json = await res.json().catch(() => ({}));
    result = res.ok ? { ok: true, text: `✓ ${label}: done` } : { ok: false, text: `✗ ${label} refused (${res.status} ${json.error?.code ?? ''}): ${json.error?.message ?? res.statusText}` };
  } catch (err) {
    result = { ok: false, text: `✗ ${label}: ${err.message}` };
  }
  paintResult();
}

function paintResult() {
  const el = document.getElementById('action-result');
  if (!el) return;
  el.className = `result ${result === null ? '' : result.ok === null ? 'tone-info' : result.ok ? 'tone-ok' : 'tone-bad'}`;
  el.textContent = result?.text ?? 'No action taken yet.';
}

function tokenBox() {
  const input = h('input', { id: 'admin-token', type: 'password', placeholder: 'admin token (http.adminToken)', autocomplete: 'off', value: token() });
  const save = (value) => {
    sessionStorage.setItem(TOKEN_KEY, value.trim());
    input.value = value.trim();
    paintToken();
  };
  input.addEventListener('keydown', (e) => e.key === 'Enter' && save(input.value));
  return h(
    'div',
    { class: 'token' },
    input,
    h('button', { id: 'token-save', onclick: () => save(input.value) }, 'Use token'),
    h('button', { class: 'quiet', id: 'token-forget', onclick: () => save('') }, 'Forget'),
    h('span', { class: 'meta', id: 'token-state' }),
  );
}

function paintToken() {
  const el = document.getElementById('token-state');
  if (!el) return;
  el.className = `meta ${token() ? 'tone-ok-text' : 'tone-warn-text'}`;
  el.textContent = token() ? 'unlocked: token set for this tab' : 'locked: actions need the admin token';
}

function section(title, ...body) {
  return h('div', { class: 'action-group' }, h('h3', {}, title), body);
}

const unavailable = (what) => h('p', { class: 'hint' }, `Unavailable: no attached feature offers ${what}.`);

export function renderActions(st) {
  if (!document.getElementById('admin-token')) clear(document.getElementById('actions-token'), tokenBox());
  paintToken();
  paintResult();
  const sig = JSON.stringify([st.breakers.map((b) => [b.name, b.state]), st.faults, st.actions, st.clusters.map((c) => [c.name, c.primary]), armed, st.history[st.history.length - 1]?.dlqDepth]);
  if (sig === lastSignature) return;
  lastSignature = sig;

  const breakers = st.actions.breakers.length === 0
    ? unavailable('breaker control (controls.breakers)')
    : h('table', { class: 'rows' }, st.breakers.map((b) =>
        h('tr', { 'data-breaker': b.name },
          h('td', {}, h('b', {}, b.name), h('div', { class: 'meta' }, b.guards ?? '')),
          h('td', {}, h('span', { class: `pill tone-${tone(b.state)}` }, b.state)),
          h('td', { class: 'buttons' }, ['open', 'closed', 'disabled', 'metrics-only'].map((s) =>
            h('button', { 'data-action': `force-${s}`, onclick: () => act(`force ${b.name} ${s}`, 'POST', `/admin/breakers/${encodeURIComponent(b.name)}/force`, { state: s }) }, s === 'closed' ? 'close' : s))),
        )));

  const depth = st.history[st.history.length - 1]?.dlqDepth;
  const dlq = st.actions.dlq === null
    ? [h('p', { class: 'meta' }, `${depth ?? '—'} record(s) in the DLQ`), unavailable('DLQ replay (controls.dlq)')]
    : h('div', { class: 'row' }, h('span', {}, `${depth ?? '—'} record(s) in the DLQ`), h('button', { id: 'dlq-replay', onclick: () => act('replay DLQ', 'POST', '/admin/dlq/replay', {}) }, 'Replay DLQ'));

  const switchover = st.actions.switchover === null
    ? unavailable('switchover (controls.switchover)')
    : h('table', { class: 'rows' }, st.clusters.map((c) =>
        h('tr', { 'data-cluster': c.name },
          h('td', {}, h('b', {}, c.name), h('div', { class: 'meta' }, `primary ${c.primary}`)),
          h('td', { class: 'buttons' }, h('button', {
            class: armed === c.name ? 'danger' : '',
            'data-action': 'switchover',
            onclick: () => {
              if (armed !== c.name) {
                armed = c.name;
                setTimeout(() => { if (armed === c.name) { armed = null; lastSignature = ''; renderActions(st); } }, 5000);
              } else {
                armed = null;
                void act(`switchover ${c.name}`, 'POST', `/admin/switchover/${encodeURIComponent(c.name)}`, {});
              }
              lastSignature = '';
              renderActions(st);
            },
          }, armed === c.name ? `Confirm: promote a replica of ${c.name}` : 'Switch over')),
        )));

  const faults = !st.actions.faults
    ? h('p', { class: 'hint' }, `Fault injection is off (${st.daemon?.profile} profile).`)
    : st.faults.length === 0
      ? h('p', { class: 'hint' }, 'No fault registered.')
      : h('table', { class: 'rows' }, st.faults.map((f) =>
          h('tr', { 'data-fault': f.name, class: f.active ? 'active' : '' },
            h('td', {}, h('b', {}, f.name), f.active ? h('span', { class: 'pill tone-warn' }, 'ACTIVE') : null, h('div', { class: 'meta' }, f.description)),
            h('td', { class: 'buttons' },
              h('button', { 'data-action': 'inject', class: 'danger', onclick: () => act(`inject ${f.name}`, 'POST', `/admin/faults/${encodeURIComponent(f.name)}/inject`) }, 'Inject'),
              f.healable ? h('button', { 'data-action': 'heal', onclick: () => act(`heal ${f.name}`, 'POST', `/admin/faults/${encodeURIComponent(f.name)}/heal`) }, 'Heal') : null),
          )));

  clear(
    document.getElementById('actions'),
    section('Circuit breakers', breakers),
    section('Dead letter queue', dlq),
    section('Switchover', switchover),
    section('Fault injection', faults),
  );
}
