// The statecharts panel: one card per long-lived machine (each breaker, each cluster's failover machine) with
// its current state highlighted and its latest transitions; short-lived machines (retries) share one card per
// kind with a count of instances in each state. Kinds with no instance yet are drawn dimmed. The retry card lists
// every loop that retries (the server's retryKinds; machine ids are `retry:<kind>[:<detail>]`), idle ones too.
import { drawStatechart } from './statechart.js';
import { clear, clock, duration, h, since, tone, until } from './util.js';

const ORDER = ['breaker', 'failover', 'retry'];

function details(st, m) {
  const c = m.context ?? {};
  if (m.kind === 'breaker') {
    const b = st.breakers.find((x) => x.name === m.name);
    const parts = [];
    if (b?.guards) parts.push(`guards ${b.guards}`);
    if (c.trips) parts.push(`${c.trips} trip(s)`);
    if (c.lastTrip && m.state !== 'closed') parts.push(`tripped on ${c.lastTrip.reason} (${Math.round(c.lastTrip.failureRate * 100)}% failed of ${c.lastTrip.calls})`);
    if (m.state === 'open' && c.deadline) parts.push(until(c.deadline, 'probes in '));
    if (b?.rejected) parts.push(`${b.rejected} call(s) rejected`);
    return parts.flatMap((p, i) => (i ? [' · ', p] : [p]));
  }
  if (m.kind === 'failover') {
    const parts = [];
    if (c.topology) parts.push(`primary ${c.topology.primary}`, `replicas ${c.topology.replicas.join(', ') || 'none'}`);
    if (c.topology?.fenced?.length) parts.push(`fenced ${c.topology.fenced.join(', ')}`);
    if (c.lastFailover) parts.push(`last failover ${c.lastFailover.from} → ${c.lastFailover.to} in ${duration(c.lastFailover.durationMs)}`);
    return parts.join(' · ');
  }
  if (m.kind === 'retry' && Array.isArray(c.history) && c.history.length) {
    const last = c.history[c.history.length - 1];
    return `attempt ${c.attempt} · last error ${last.class}: ${last.message}`;
  }
  return '';
}

function transitions(list) {
  if (list.length === 0) return h('p', { class: 'hint' }, 'No transition yet.');
  return h(
    'ol',
    { class: 'transitions' },
    list
      .slice(-5)
      .reverse()
      .map((t, i) => h('li', { class: i === 0 ? 'latest' : '' }, h('span', { class: 'time' }, clock(t.at)), ' ', h('b', { class: `tone-${tone(t.from)}-text` }, t.from ?? '∅'), ' → ', h('b', { class: `tone-${tone(t.to)}-text` }, t.to), h('span', { class: 'event' }, ` ${t.event}`))),
  );
}

/** Charts wider than a half-width card get a full-width card, so their text is not shrunk illegibly. */
const widthClass = (svg) => (Number(svg.dataset.width) > 640 ? 'wide' : '');

function instanceCard(st, def, m) {
  const recentIds = m.recent.flatMap((t) => t.transitions);
  const chart = drawStatechart(def, { current: m.state, recent: recentIds });
  return h(
    'article',
    { class: `machine tone-border-${tone(m.state)} ${widthClass(chart)}`, 'data-machine-id': m.id, 'data-state': m.state },
    h('header', {}, h('h3', {}, m.id), h('span', { class: `pill big tone-${tone(m.state)}` }, m.state.toUpperCase()), h('span', { class: 'meta' }, m.status === 'active' ? since(m.since) : m.status)),
    h('p', { class: 'details' }, details(st, m) || '\u00a0'),
    chart,
    transitions(m.recent),
  );
}

/** One row per retry kind: instances running and finished (recent), and the latest one's state. */
function retryKinds(st, instances) {
  const byKind = new Map((st.retryKinds ?? []).map((k) => [k, []]));
  for (const m of instances) {
    const k = m.name.split(':')[0] || 'unnamed';
    byKind.set(k, [...(byKind.get(k) ?? []), m]);
  }
  const rows = [...byKind].map(([k, list]) => {
    const active = list.filter((m) => m.status === 'active').length;
    const latest = [...list].sort((a, b) => a.updatedAt - b.updatedAt).pop();
    return h(
      'tr',
      { class: active ? 'active' : null, 'data-retry-kind': k },
      h('td', {}, h('b', {}, k)),
      h('td', {}, list.length ? `${active} running · ${list.length - active} finished` : 'no retry yet'),
      h('td', {}, latest ? h('span', { class: `pill tone-${tone(latest.state)}` }, latest.state) : null),
      h('td', { class: 'hint' }, latest ? [latest.name, ' ', since(latest.updatedAt, '')] : null),
    );
  });
  return h('table', { class: 'rows retry-kinds' }, rows);
}

function kindCard(st, kind, def, instances) {
  const counts = {};
  for (const m of instances) if (m.status === 'active') counts[m.state] = (counts[m.state] ?? 0) + 1;
  const latest = [...instances].sort((a, b) => a.updatedAt - b.updatedAt).pop();
  const recent = instances.flatMap((m) => m.recent.map((t) => ({ ...t, id: m.id }))).sort((a, b) => a.at - b.at);
  const active = instances.filter((m) => m.status === 'active').length;
  const chart = drawStatechart(def, { current: latest?.status === 'active' ? latest.state : null, recent: recent.flatMap((t) => t.transitions), counts });
  return h(
    'article',
    { class: `machine kind ${instances.length ? '' : 'idle'} ${widthClass(chart)}`, 'data-machine-kind': kind },
    h('header', {}, h('h3', {}, `${kind} machines`), h('span', { class: 'meta' }, instances.length ? `${active} running · ${instances.length - active} finished (recent)` : 'no instance running')),
    h('p', { class: 'details' }, latest ? `latest: ${latest.id} in ${latest.state} — ${details(st, latest) || ''}` : def.states.find((s) => s.path === def.initial)?.description ?? '\u00a0'),
    kind === 'retry' ? retryKinds(st, instances) : null,
    chart,
    transitions(recent.map((t) => ({ ...t, event: `${t.event} · ${t.id}` }))),
  );
}

/** What the cards show, so the panel is redrawn only when that changes (failover probes alone do not). */
export function machinesSignature(st) {
  return [
    [...st.machines.values()].map((m) => {
      const c = m.context ?? {};
      return [m.id, m.state, m.status, m.since, m.recent.length, m.recent[m.recent.length - 1]?.at, c.trips, c.lastTrip, c.deadline, c.topology, c.lastFailover, c.attempt];
    }),
    st.breakers.map((b) => [b.name, b.guards, b.rejected]),
    st.retryKinds,
  ];
}

export function renderMachines(st) {
  const byKind = new Map();
  for (const m of st.machines.values()) byKind.set(m.kind, [...(byKind.get(m.kind) ?? []), m]);
  const kinds = [...new Set([...ORDER, ...Object.keys(st.definitions), ...byKind.keys()])];
  const cards = [];
  for (const kind of kinds) {
    const def = st.definitions[kind];
    const list = (byKind.get(kind) ?? []).sort((a, b) => a.id.localeCompare(b.id));
    if (!def) {
      for (const m of list) cards.push(h('article', { class: 'machine' }, h('header', {}, h('h3', {}, m.id), h('span', { class: 'pill' }, m.state)), transitions(m.recent)));
      continue;
    }
    const transient = def.states.some((s) => s.type === 'final') || list.length > 8;
    if (list.length === 0 || transient) cards.push(kindCard(st, kind, def, list));
    else for (const m of list) cards.push(instanceCard(st, def, m));
  }
  clear(document.getElementById('machines'), cards);
}
