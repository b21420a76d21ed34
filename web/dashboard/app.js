// The dashboard's state and live feed: a snapshot from /dashboard/api/state, then server-sent events
// (/dashboard/api/events) — machine transitions, actor lifecycle, operator actions and a pulse per sample.
// Everything is drawn from this one state object; nothing is fetched from anywhere but this daemon.
import { renderActions } from './actions.js';
import { nowOf, tickDurations } from './util.js';
import { renderReplayBar, wireReplay } from './replay.js';
import { machinesSignature, renderMachines } from './machines.js';
import { renderAlerts, renderCharts, renderEvents, renderHeader, renderShardMap, renderTree } from './panels.js';

const MAX_EVENTS = 300;

export const state = {
  loaded: false,
  replay: null, // { recording, index } while a flight recording is shown instead of the live daemon
  connected: false,
  skew: 0, // server clock minus browser clock
  daemon: null,
  definitions: {},
  retryKinds: [],
  machines: new Map(),
  history: [],
  events: [],
  now: Date.now(),
  ready: { ready: false, reasons: ['connecting'] },
  tree: [],
  clusters: [],
  shards: [],
  breakers: [],
  faults: [],
  actions: { breakers: [], dlq: null, switchover: null, faults: false },
  recorder: { size: 0, capacity: 0 },
  deadLetters: 0,
};

export const serverNow = () => nowOf(state);

function finalStates(kind) {
  return new Set((state.definitions[kind]?.states ?? []).filter((s) => s.type === 'final').map((s) => s.path));
}

function kindOf(id) {
  const i = id.indexOf(':');
  return i < 0 ? { kind: id, name: '' } : { kind: id.slice(0, i), name: id.slice(i + 1) };
}

/** Same bookkeeping as the server's machine directory, applied to live records. */
export function applyMachine(r) {
  const { kind, name } = kindOf(r.machineId);
  let v = state.machines.get(r.machineId);
  if (!v || r.type === 'machine.init') {
    v = { id: r.machineId, kind, name, state: r.to, since: r.at, status: 'active', updatedAt: r.at, recent: v?.recent ?? [], context: null };
    state.machines.set(r.machineId, v);
  }
  if (r.type === 'machine.stop') v.status = 'stopped';
  else {
    if (r.to !== v.state || r.type === 'machine.init') v.since = r.at;
    v.state = r.to;
    v.status = finalStates(kind).has(r.to) ? 'done' : 'active';
    v.context = r.context;
  }
  v.updatedAt = r.at;
  const internal = new Set((state.definitions[kind]?.transitions ?? []).filter((t) => t.target === null).map((t) => t.id));
  if (r.type === 'machine.transition' && (r.from !== r.to || r.transitions.some((id) => !internal.has(id)))) {
    v.recent.push({ from: r.from, to: r.to, event: r.event.type, transitions: r.transitions, at: r.at });
    if (v.recent.length > 12) v.recent.splice(0, v.recent.length - 12);
  }
}

export function pushEvent(e) {
  // Transitions that stay in their state (a probe that changed nothing) would drown the log.
  if (e.source === 'machine' && (e.type === 'machine.transition' ? e.from === e.to : e.type !== 'machine.init')) return;
  state.events.push(e);
  if (state.events.length > MAX_EVENTS) state.events.splice(0, state.events.length - MAX_EVENTS);
}

function applyPulse(p) {
  state.now = p.now;
  state.skew = p.now - Date.now();
  for (const k of ['ready', 'tree', 'clusters', 'shards', 'breakers', 'faults', 'actions', 'recorder', 'deadLetters', 'leadership']) if (p[k] !== undefined) state[k] = p[k];
  if (p.sample && state.history[state.history.length - 1]?.at !== p.sample.at) {
    state.history.push(p.sample);
    if (state.history.length > 900) state.history.shift();
  }
}

function applySnapshot(snap) {
  state.daemon = snap.daemon;
  state.definitions = snap.definitions;
  state.retryKinds = snap.retryKinds ?? [];
  state.machines = new Map(snap.machines.map((m) => [m.id, m]));
  state.history = snap.history;
  state.events = [];
  for (const e of snap.events) pushEvent(e);
  applyPulse(snap);
  state.loaded = true;
}

function applyBatch(batch) {
  for (const e of batch.events) {
    if (e.type === 'machine') {
      applyMachine(e.data);
      pushEvent({ source: 'machine', ...e.data });
    } else if (e.type === 'actor') {
      const a = state.tree.find((x) => x.path === e.data.path);
      if (a && e.data.type === 'actor.crashed') a.status = 'restarting';
      if (a && e.data.type === 'actor.restarted') Object.assign(a, { status: 'running', restarts: e.data.restarts });
      if (a && e.data.type === 'actor.stopped') a.status = 'stopped';
      pushEvent({ source: 'actor', ...e.data });
    } else if (e.type === 'operator') {
      const { faults, breakers, ...record } = e.data;
      if (faults) state.faults = faults;
      if (breakers) state.breakers = breakers;
      pushEvent({ source: 'operator', ...record });
    } else if (e.type === 'sample') {
      applyPulse(e.data);
    }
  }
  // The server shed events to keep up: take a fresh snapshot rather than draw a wrong state.
  if (batch.skipped > 0) void refresh();
}

/** Redraws a panel only when what it shows changed (a stable DOM: hovering, selecting, screenshots). */
const drawn = new Map();
function panel(name, signature, draw) {
  const sig = JSON.stringify(signature);
  if (drawn.get(name) === sig) return;
  drawn.set(name, sig);
  draw(state);
}

let scheduled = false;
export function render() {
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(() => {
    scheduled = false;
    renderHeader(state);
    renderReplayBar(state);
    renderAlerts(state);
    if (!state.loaded) return;
    const last = state.history[state.history.length - 1];
    panel('charts', [last?.at, state.history.length, document.getElementById('charts').clientWidth], renderCharts);
    panel('machines', machinesSignature(state), renderMachines);
    renderActions(state);
    panel('shardmap', [state.clusters.map((c) => [c.name, c.primary, c.nodes]), state.shards], renderShardMap);
    panel('tree', [state.tree, state.deadLetters], renderTree);
    panel('events', [state.events.length, state.events[state.events.length - 1]?.at, state.events[state.events.length - 1]?.seq], renderEvents);
    tickDurations(serverNow());
    document.body.dataset.ready = 'true';
  });
}

export async function refresh() {
  const res = await fetch('/dashboard/api/state', { cache: 'no-store' });
  if (res.ok) applySnapshot(await res.json());
  render();
}

let source = null;

/** Live mode: the event stream. Replay mode (a flight recording) closes it; going back to live reopens it. */
export function connect() {
  const es = new EventSource('/dashboard/api/events');
  source = es;
  es.addEventListener('open', () => {
    state.connected = true;
    render();
  });
  es.addEventListener('snapshot', (ev) => {
    applySnapshot(JSON.parse(ev.data));
    state.connected = true;
    render();
  });
  es.addEventListener('batch', (ev) => {
    applyBatch(JSON.parse(ev.data));
    render();
  });
  es.addEventListener('error', () => {
    // EventSource reconnects by itself (retry: 1 s) and receives a fresh snapshot.
    state.connected = false;
    render();
  });
}

export function disconnect() {
  source?.close();
  source = null;
}

// Durations ("open for 12 s") move even when nothing happens.
setInterval(render, 1000);
window.addEventListener('resize', render);
wireReplay();
connect();
render();
