// Replays a flight recording (downloaded, or written on a crash) in the same page: the machines, tree and
// events as they were at any entry of the recording, stepped with a slider. Nothing is sent to the daemon.
import { applyMachine, connect, disconnect, pushEvent, refresh, render, state } from './app.js';
import { clear, clock, h } from './util.js';

const FORMAT = 'tagstream-flight-recording';

/** Rebuilds the page's state from the recording's entries up to `index` (inclusive). */
function rebuild(index) {
  const { recording } = state.replay;
  const upTo = recording.entries.slice(0, index + 1);
  const at = upTo.length ? upTo[upTo.length - 1].at : recording.capturedAt;
  state.replay.index = index;
  state.replay.at = at;
  state.machines = new Map();
  state.events = [];
  const status = new Map();
  for (const e of upTo) {
    if (e.source === 'machine') applyMachine(e);
    if (e.source === 'actor') {
      if (e.type === 'actor.spawned' || e.type === 'actor.restarted') status.set(e.path, { status: 'running', restarts: e.restarts });
      if (e.type === 'actor.crashed') status.set(e.path, { status: 'restarting' });
      if (e.type === 'actor.stopped' || e.type === 'actor.fatal') status.set(e.path, { status: 'stopped' });
    }
    pushEvent(e);
  }
  const tree = recording.state?.tree ?? [];
  state.tree = tree.map((a) => ({ ...a, ...(status.has(a.path) ? { status: status.get(a.path).status } : { status: 'running' }), restarts: status.get(a.path)?.restarts ?? 0, mailboxDepth: 0 }));
  state.history = (recording.state?.history ?? []).filter((s) => s.at <= at);
  state.clusters = Object.entries(recording.state?.topology ?? {}).map(([name, t]) => ({
    name,
    ...t,
    nodes: [t.primary, ...t.replicas, ...t.fenced].map((n) => ({ name: n, role: t.fenced.includes(n) ? 'fenced' : n === t.primary ? 'primary' : 'replica', up: null, lagBytes: null })),
  }));
  state.ready = { ready: false, reasons: ['showing a flight recording, not the live daemon'] };
  state.faults = recording.state?.faults ?? [];
  state.breakers = [];
  state.actions = { breakers: [], dlq: null, switchover: null, faults: false };
  render();
}

export function openRecording(recording) {
  if (recording?.format !== FORMAT || !Array.isArray(recording.entries)) throw new Error(`not a tagstream flight recording (format ${recording?.format})`);
  disconnect();
  state.connected = false;
  state.replay = { recording, index: recording.entries.length - 1, at: recording.capturedAt };
  rebuild(recording.entries.length - 1);
}

function backToLive() {
  state.replay = null;
  void refresh().then(connect);
}

export function renderReplayBar(st) {
  const bar = document.getElementById('replay');
  if (!st.replay) {
    bar.hidden = true;
    return;
  }
  bar.hidden = false;
  const { recording, index } = st.replay;
  const n = recording.entries.length;
  if (bar.dataset.recording === String(recording.capturedAt) && bar.dataset.index === String(index)) return;
  bar.dataset.recording = String(recording.capturedAt);
  bar.dataset.index = String(index);
  const step = (i) => rebuild(Math.max(0, Math.min(n - 1, i)));
  const slider = h('input', { type: 'range', min: 0, max: Math.max(0, n - 1), value: index, id: 'replay-slider', 'aria-label': 'position in the recording' });
  slider.addEventListener('input', () => step(Number(slider.value)));
  const entry = recording.entries[index];
  clear(
    bar,
    h('div', {}, h('b', {}, 'Replaying a flight recording'), ` — ${recording.reason}, captured ${new Date(recording.capturedAt).toLocaleString()} (pid ${recording.pid})`, recording.error ? ` · error: ${recording.error.message ?? JSON.stringify(recording.error)}` : ''),
    h('div', { class: 'replay-controls' }, h('button', { onclick: () => step(index - 1) }, '◀'), slider, h('button', { onclick: () => step(index + 1) }, '▶'), h('span', { class: 'meta', id: 'replay-position' }, n ? `entry ${index + 1} of ${n} · ${clock(entry.at)}` : 'empty recording'), h('button', { onclick: backToLive }, 'Back to live')),
  );
}

export function wireReplay() {
  const input = document.getElementById('recording-file');
  input.addEventListener('change', async () => {
    const file = input.files?.[0];
    input.value = '';
    if (!file) return;
    try {
      openRecording(JSON.parse(await file.text()));
    } catch (err) {
      alert(`Cannot open ${file.name}: ${err.message}`);
    }
  });
}
