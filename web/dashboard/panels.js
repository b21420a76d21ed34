// The dashboard's panels other than the statecharts and the operator actions: header, "what is wrong right
// now", charts, shard map, supervision tree and the event log.
import { lineChart } from './charts.js';
import { bytes, clear, clock, duration, h, nowOf, num, tone } from './util.js';

const $ = (id) => document.getElementById(id);
const WINDOW_MS = 5 * 60_000;
const serverNow = nowOf;

export function renderHeader(st) {
  const ready = st.ready.ready;
  clear(
    $('status'),
    h('span', { class: `pill big ${ready ? 'tone-ok' : 'tone-bad'}`, id: 'ready-pill', title: st.ready.reasons.join('\n') }, ready ? 'READY' : 'NOT READY'),
    st.replay ? h('span', { class: 'pill tone-info', id: 'live-pill' }, 'REPLAY') : h('span', { class: `pill ${st.connected ? 'tone-ok' : 'tone-bad'}`, id: 'live-pill' }, st.connected ? '● live' : '○ disconnected — reconnecting'),
    st.daemon ? h('span', { class: 'pill tone-muted' }, `profile ${st.daemon.profile}`) : null,
    leaderPill(st.leadership),
    st.daemon ? h('span', { class: 'meta' }, `pid ${st.daemon.pid} · up ${duration(serverNow(st) - st.daemon.startedAt)} · ${st.daemon.shards} shards · ${st.daemon.partitions} partitions`) : null,
  );
}

/** FAILOVER LEADER on the daemon that decides failovers; elsewhere: who does (its URL links to its dashboard). */
function leaderPill(l) {
  if (!l) return null;
  if (l.leader) return h('span', { class: 'pill tone-info', id: 'leader-pill', title: `term ${l.term} · ${l.daemonId}` }, 'FAILOVER LEADER');
  const cur = l.current;
  const text = cur ? `follower · leader ${cur.daemonId} (term ${cur.term})` : 'follower · no leader yet';
  return cur?.url ? h('a', { class: 'pill tone-muted', id: 'leader-pill', href: `${cur.url}/dashboard/`, title: cur.url }, text) : h('span', { class: 'pill tone-muted', id: 'leader-pill' }, text);
}

/** One line per problem, worst first: the thing to read first at 3 a.m. */
function problems(st) {
  const out = [];
  const add = (level, text) => out.push({ level, text });
  if (!st.connected && !st.replay) add('bad', 'Live updates lost: this page is reconnecting to the daemon (is it running?)');
  if (!st.ready.ready) add('bad', `Not ready: ${st.ready.reasons.join('; ') || 'unknown'}`);
  for (const m of st.machines.values()) {
    if (m.status !== 'active') continue;
    const t = tone(m.state);
    if (m.kind === 'breaker' && (t === 'bad' || t === 'warn')) add(t, `Breaker ${m.name} is ${m.state.toUpperCase()} (for ${duration(serverNow(st) - m.since)})${m.state === 'forced-open' ? ' — forced by an operator' : ''}`);
    if (m.kind === 'failover' && m.state !== 'healthy') add(t === 'bad' ? 'bad' : 'warn', `Cluster ${m.name}: failover machine is ${m.state} (for ${duration(serverNow(st) - m.since)})`);
  }
  for (const c of st.clusters) {
    for (const n of c.nodes) {
      if (n.up === null) continue; // a replayed recording: topology known, health not
      if (n.role === 'primary' && !n.up) add('bad', `Cluster ${c.name}: primary ${n.name} is not answering${n.error ? ` (${n.error})` : ''}`);
      if (n.role === 'replica' && !n.up) add('warn', `Cluster ${c.name}: replica ${n.name} is down`);
      if (n.role === 'replica' && n.lagBytes > 16 * 1024 * 1024) add('warn', `Cluster ${c.name}: replica ${n.name} is ${bytes(n.lagBytes)} behind`);
    }
  }
  const stopped = st.tree.filter((a) => a.status === 'stopped');
  if (stopped.length) add('bad', `Actors stopped: ${stopped.map((a) => a.path).join(', ')}`);
  const restarting = st.tree.filter((a) => a.status === 'restarting' || a.status === 'parked');
  if (restarting.length) add('warn', `Actors restarting: ${restarting.map((a) => `${a.path} (${a.status})`).join(', ')}`);
  for (const f of st.faults) if (f.active) add('warn', `Fault injected: ${f.name} — heal it under Operator actions`);
  const last = st.history[st.history.length - 1];
  for (const e of last?.errors ?? []) if (!e.includes('primary')) add('bad', `Sampling failed: ${e}`);
  if (last?.dlqDepth > 0) add('warn', `${num(last.dlqDepth)} record(s) in the dead letter queue`);
  const order = { bad: 0, warn: 1 };
  return out.sort((a, b) => order[a.level] - order[b.level]);
}

export function renderAlerts(st) {
  const list = problems(st);
  clear(
    $('alerts'),
    list.length === 0
      ? h('div', { class: 'alert tone-ok', id: 'all-clear' }, '✓ All clear: ready, every breaker closed, every primary answering, no actor down')
      : list.map((p) => h('div', { class: `alert tone-${p.level}` }, p.level === 'bad' ? '✗ ' : '! ', p.text)),
  );
}

export function renderCharts(st) {
  const el = $('charts');
  const width = el.clientWidth >= 900 ? Math.floor((el.clientWidth - 32) / 3) : el.clientWidth - 8;
  const now = serverNow(st);
  const pts = (f) => st.history.map((x) => [x.at, f(x)]);
  const groups = Object.keys(st.history[st.history.length - 1]?.lag ?? {});
  const opts = { now, windowMs: WINDOW_MS, width };
  clear(
    el,
    lineChart('Consumer lag (records behind)', groups.map((g, i) => ({ name: g, cls: `s${i}`, points: pts((x) => x.lag[g] ?? null) })), opts),
    lineChart('Throughput (commands/s)', [{ name: 'applied', cls: 's0', points: pts((x) => x.appliedPerSec) }, { name: 'produced', cls: 's1', points: pts((x) => x.producedPerSec) }], { ...opts, format: (v) => num(v, v < 10 && !Number.isInteger(v) ? 1 : 0) }),
    lineChart('Dead letters (records)', [{ name: 'DLQ', cls: 's3', points: pts((x) => x.dlqDepth) }, { name: 'parked', cls: 's2', points: pts((x) => x.parkingDepth) }], opts),
  );
}

export function renderShardMap(st) {
  const clusterIndex = new Map(st.clusters.map((c, i) => [c.name, i]));
  const cards = st.clusters.map((c, i) => {
    const primary = c.nodes.find((n) => n.role === 'primary');
    const bad = primary?.up === false || !primary;
    return h(
      'div',
      { class: `cluster c${i % 6} ${bad ? 'tone-bad' : ''}`, 'data-cluster': c.name },
      h('h3', {}, h('i', { class: 'swatch' }), c.name, h('span', { class: 'meta' }, ` primary ${c.primary}`)),
      h(
        'table',
        { class: 'nodes' },
        c.nodes.map((n) =>
          h(
            'tr',
            { 'data-node': n.name },
            h('td', { class: 'role' }, n.role === 'primary' ? '★ primary' : n.role === 'fenced' ? '⨯ fenced' : 'replica'),
            h('td', {}, n.name),
            h('td', {}, h('span', { class: `pill ${n.role === 'fenced' || n.up === null ? 'tone-muted' : n.up ? 'tone-ok' : 'tone-bad'}` }, n.role === 'fenced' ? 'fenced' : n.up === null ? 'not recorded' : n.up ? 'up' : 'DOWN')),
            h('td', { class: 'num', title: 'replay lag behind the primary' }, n.role === 'replica' ? (n.lagBytes === null ? '—' : `lag ${bytes(n.lagBytes)}`) : ''),
          ),
        ),
      ),
    );
  });
  const cells = st.shards.map((s) =>
    h(
      'div',
      { class: `shard c${(clusterIndex.get(s.cluster) ?? 0) % 6} w-${s.writer}${s.held ? ' held' : ''}`, title: `shard ${s.shard} → ${s.cluster}\nwriter ${s.writer}, ${s.restarts} restart(s), mailbox ${s.mailboxDepth}${s.held ? `\nHELD: ${s.held.reason ?? 'draining'} · ${s.held.depth ?? '?'} held, oldest ${Math.round(s.held.ageSeconds)} s${s.held.draining ? ' · draining' : ''}` : ''}` },
      String(s.shard),
      s.restarts > 0 ? h('sup', {}, `↻${s.restarts}`) : null,
    ),
  );
  clear($('shardmap'), h('div', { class: 'clusters' }, cards), h('p', { class: 'hint' }, 'Logical shards (colour = cluster; red outline = writer not running; striped = cluster held, its commands wait in its hold topic):'), h('div', { class: 'shards' }, cells));
}

function actorRow(a, depth) {
  const fill = a.mailboxCapacity > 0 ? Math.min(100, (100 * a.mailboxDepth) / a.mailboxCapacity) : 0;
  return h(
    'div',
    { class: 'actor', style: `--depth:${depth}`, 'data-actor': a.path },
    h('span', { class: 'name' }, a.path.split('/').pop()),
    h('span', { class: 'kind' }, a.kind),
    h('span', { class: `pill tone-${tone(a.status)}` }, a.status),
    h('span', { class: `num ${a.restarts ? 'tone-warn-text' : ''}` }, `↻ ${a.restarts}`),
    h('span', { class: 'mailbox', title: `mailbox ${a.mailboxDepth} / ${a.mailboxCapacity}` }, h('i', { style: `width:${fill}%` }), `${a.mailboxDepth}`),
    a.lastError ? h('span', { class: 'error', title: a.lastError }, a.lastError) : null,
  );
}

export function renderTree(st) {
  const byPath = new Map(st.tree.map((a) => [a.path, a]));
  const roots = st.tree.filter((a) => !st.tree.some((p) => p.children.includes(a.path)));
  const rows = [];
  const walk = (a, depth) => {
    rows.push(actorRow(a, depth));
    const kids = a.children.map((p) => byPath.get(p)).filter(Boolean);
    // Many siblings of one kind (the shard writers): a compact grid, with the troubled ones also listed.
    if (kids.length > 8) {
      rows.push(h('div', { class: 'actor-grid', style: `--depth:${depth + 1}` }, kids.map((k) => h('span', { class: `cell tone-${tone(k.status)}`, 'data-actor': k.path, title: `${k.path}\n${k.status}, ${k.restarts} restart(s), mailbox ${k.mailboxDepth}/${k.mailboxCapacity}${k.lastError ? `\n${k.lastError}` : ''}` }, k.path.split('-').pop()))));
      for (const k of kids) if (k.status !== 'running' || k.restarts > 0 || k.mailboxDepth > 0) walk(k, depth + 1);
    } else for (const k of kids) walk(k, depth + 1);
  };
  for (const r of roots) walk(r, 0);
  const counts = st.tree.reduce((m, a) => ({ ...m, [a.status]: (m[a.status] ?? 0) + 1 }), {});
  clear($('tree'), h('p', { class: 'hint' }, `${st.tree.length} actors: ${Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(', ')} · dead letters ${st.deadLetters}`), h('div', { class: 'actor head' }, h('span', {}, 'actor'), h('span', {}, 'kind'), h('span', {}, 'status'), h('span', {}, 'restarts'), h('span', {}, 'mailbox')), rows);
}

function describe(e) {
  if (e.source === 'machine') return e.type === 'machine.init' ? `${e.machineId} started in ${e.to}` : `${e.machineId}: ${e.from} → ${e.to}  (${e.event?.type ?? '?'})`;
  if (e.source === 'operator') return `operator ${e.action}${e.target ? ` ${e.target}` : ''}: ${e.outcome} — ${e.message}`;
  switch (e.type) {
    case 'actor.crashed':
      return `${e.path} crashed: ${e.error} → ${e.decision}`;
    case 'actor.restarted':
      return `${e.path} restarted (${e.restarts})`;
    case 'actor.stopped':
      return `${e.path} stopped: ${e.reason}`;
    case 'actor.escalated':
      return `${e.path} escalated to ${e.to} → ${e.decision}`;
    case 'actor.fatal':
      return `${e.path} FATAL: ${e.error}`;
    case 'actor.dead-letter':
      return `${e.path} got ${e.messageType} while stopped`;
    default:
      return `${e.path} ${e.type.replace('actor.', '')}`;
  }
}

function eventTone(e) {
  if (e.source === 'operator') return e.outcome === 'ok' ? 'info' : 'bad';
  if (e.source === 'machine') return tone(e.to);
  return e.type === 'actor.spawned' || e.type === 'actor.restarted' ? 'ok' : e.type === 'actor.dead-letter' ? 'warn' : 'bad';
}

export function renderEvents(st) {
  const rows = st.events.slice(-60).reverse();
  clear(
    $('events'),
    rows.length === 0 ? h('p', { class: 'hint' }, 'Nothing has happened yet.') : null,
    h(
      'table',
      { class: 'events' },
      rows.map((e) => h('tr', { class: `ev tone-${eventTone(e)}` }, h('td', { class: 'time' }, clock(e.at)), h('td', {}, h('span', { class: 'src' }, e.source)), h('td', { class: 'text' }, describe(e)))),
    ),
  );
}
