// Draws a machine definition (from machines/describe.ts) as an SVG statechart: states as boxes, transitions as
// arrows labelled with their events, the current state filled with its tone, the latest transitions drawn
// thick. Known machines have a hand-made layout; any other machine gets a layered layout from its initial state.
import { s, tone } from './util.js';

const W = 120; // state box
const H = 36;
const GX = 214; // grid spacing: the gap between boxes holds an arrow's label
const GY = 104;
const ANY = '*'; // pseudo-state for transitions defined on the machine root ("from any state")

const LAYOUTS = {
  // The classic triangle (closed → open → half-open → closed | open); the operator's states below it.
  breaker: { closed: [0, 0], open: [2, 0], 'half-open': [1, 0.85], [ANY]: [1, 1.75], 'forced-open': [0, 2.55], disabled: [1, 2.55], 'metrics-only': [2, 2.55] },
  // The failure cycle runs clockwise: along the top, down, back along the bottom; the ways out of it (degraded,
  // unfencing after a switchover that promoted nobody) on the right. States added later fall back below.
  failover: { healthy: [0, 0], suspect: [1, 0], electing: [2, 0], degraded: [3, 0], fencing: [0, 1.7], repointing: [1, 1.7], promoting: [2, 1.7], unfencing: [3, 1.7] },
  retry: { [ANY]: [3.6, 0], 'backing-off': [0.6, 0], attempting: [1.6, 0], rerouting: [2.6, 0], succeeded: [0, 1.4], poisoned: [1, 1.4], exhausted: [2, 1.4], failed: [3, 1.4], aborted: [4, 1.4] },
};

/** Layered layout for machines without a hand-made one: breadth-first columns from the initial state. */
function autoLayout(def) {
  const states = def.states.filter((st) => st.path !== '').map((st) => st.path);
  const col = new Map([[def.initial, 0]]);
  const queue = [def.initial];
  while (queue.length) {
    const from = queue.shift();
    for (const t of def.transitions) {
      if (t.source === from && t.target && !col.has(t.target)) {
        col.set(t.target, col.get(from) + 1);
        queue.push(t.target);
      }
    }
  }
  const rows = new Map();
  const pos = {};
  for (const st of states) {
    const c = col.get(st) ?? Math.max(0, ...col.values()) + 1;
    const r = rows.get(c) ?? 0;
    rows.set(c, r + 1);
    pos[st] = [c, r];
  }
  if (def.transitions.some((t) => t.source === '')) pos[ANY] = [-1, 0];
  return pos;
}

function centre(grid) {
  return { x: grid[0] * GX + W / 2, y: grid[1] * GY + H / 2 };
}

/** Where the segment from a box's centre towards (tx, ty) leaves the box (hw, hh: half sizes). */
function exitPoint(c, tx, ty, hw, hh) {
  const dx = tx - c.x;
  const dy = ty - c.y;
  if (dx === 0 && dy === 0) return { x: c.x, y: c.y };
  const t = Math.min(dx === 0 ? Infinity : hw / Math.abs(dx), dy === 0 ? Infinity : hh / Math.abs(dy));
  return { x: c.x + dx * t, y: c.y + dy * t };
}

/** 'PROBE.TIMEOUT', 'PROBE.REFUSED' → 'PROBE.TIMEOUT|REFUSED'; 'done x', 'error x' → 'done|error x'. One line per group. */
export function compactLabels(labels) {
  const groups = new Map();
  for (const full of labels) {
    const [, l, guard = ''] = /^(.*?)((?: \[[^\]]+\])?)$/.exec(full);
    const verb = /^(done|error|after) (.+)$/.exec(l);
    const dot = l.indexOf('.');
    const [key, part, join] = verb ? [`v:${verb[2]}${guard}`, verb[1], (parts) => `${parts.join('|')} ${verb[2]}${guard}`] : dot > 0 ? [`d:${l.slice(0, dot)}${guard}`, l.slice(dot + 1), (parts) => `${l.slice(0, dot)}.${parts.join('|')}${guard}`] : [`l:${full}`, l, () => full];
    const g = groups.get(key) ?? { parts: [], join };
    if (!g.parts.includes(part)) g.parts.push(part);
    groups.set(key, g);
  }
  const lines = [...groups.values()].map((g) => g.join(g.parts)).map((l) => (l.length > 32 ? l.slice(0, 31) + '…' : l));
  return lines.length > 3 ? [...lines.slice(0, 2), `+${lines.length - 2} more`] : lines;
}

/** Does the segment p→q pass through a box (other than its ends), inflated by `pad`? */
function crossesBox(p, q, boxes, pad) {
  for (const b of boxes) {
    const x0 = b.x - W / 2 - pad;
    const x1 = b.x + W / 2 + pad;
    const y0 = b.y - H / 2 - pad;
    const y1 = b.y + H / 2 + pad;
    // Liang–Barsky clipping: any part of the segment inside the rectangle?
    let t0 = 0;
    let t1 = 1;
    const dx = q.x - p.x;
    const dy = q.y - p.y;
    const clip = (pp, qq) => {
      if (pp === 0) return qq >= 0;
      const r = qq / pp;
      if (pp < 0) {
        if (r > t1) return false;
        if (r > t0) t0 = r;
      } else {
        if (r < t0) return false;
        if (r < t1) t1 = r;
      }
      return true;
    };
    if (clip(-dx, p.x - x0) && clip(dx, x1 - p.x) && clip(-dy, p.y - y0) && clip(dy, y1 - p.y) && t0 < t1) return true;
  }
  return false;
}

/** Groups transitions by (source, target): one arrow per pair, its label the distinct events. */
function edgesOf(def) {
  // An event that leads to different states from one source is told apart by its guard.
  const targets = new Map();
  for (const t of def.transitions) {
    if (!t.target) continue;
    const k = `${t.source}|${t.label}`;
    targets.set(k, new Set([...(targets.get(k) ?? []), t.target]));
  }
  const edges = new Map();
  for (const t of def.transitions) {
    if (!t.target) continue; // internal transitions (actions only) do not move the state
    const source = t.source === '' ? ANY : t.source;
    const key = `${source}→${t.target}`;
    const e = edges.get(key) ?? { source, target: t.target, ids: [], labels: [], details: [] };
    const label = t.guard && targets.get(`${t.source}|${t.label}`).size > 1 ? `${t.label} [${t.guard}]` : t.label;
    e.ids.push(t.id);
    if (!e.labels.includes(label)) e.labels.push(label);
    e.details.push(t.guard ? `${t.label} [${t.guard}]` : t.label);
    edges.set(key, e);
  }
  return [...edges.values()];
}

/**
 * @param def       machine definition
 * @param opts.current    current state path (highlighted), or null
 * @param opts.recent     transition ids, newest last (the last few are drawn thick)
 * @param opts.counts     optional { statePath: n } badges (instances currently there)
 */
export function drawStatechart(def, opts = {}) {
  const layout = LAYOUTS[def.id] ?? autoLayout(def);
  const known = new Set(def.states.map((st) => st.path));
  const pos = {};
  for (const [k, v] of Object.entries(layout)) if (k === ANY || known.has(k)) pos[k] = centre(v);
  const fallback = autoLayout(def);
  for (const st of def.states) if (st.path !== '' && !pos[st.path]) pos[st.path] = centre(fallback[st.path].map((v, i) => v + (i === 1 ? 3 : 0)));
  if (!pos[ANY] && def.transitions.some((t) => t.source === '')) pos[ANY] = centre([-1, 0]);

  const recent = opts.recent ?? [];
  const hot = new Map(recent.slice(-3).map((id, i, arr) => [id, arr.length - i])); // 1 = newest
  const edges = edgesOf(def);
  const pairs = new Set(edges.map((e) => `${e.source}→${e.target}`));
  const pathEls = [];
  const labelEls = [];
  const bounds = { x0: Infinity, y0: Infinity, x1: -Infinity, y1: -Infinity };
  const grow = (x, y, pad = 0) => {
    bounds.x0 = Math.min(bounds.x0, x - pad);
    bounds.y0 = Math.min(bounds.y0, y - pad);
    bounds.x1 = Math.max(bounds.x1, x + pad);
    bounds.y1 = Math.max(bounds.y1, y + pad);
  };

  // Boxes labels must not cover: every state (and the "any state" pill); placed labels are added as we go.
  const taken = Object.entries(pos).map(([k, c]) => (k === ANY ? { x0: c.x - 36, y0: c.y - 15, x1: c.x + 36, y1: c.y + 15 } : { x0: c.x - W / 2 - 2, y0: c.y - H / 2 - 2, x1: c.x + W / 2 + 2, y1: c.y + H / 2 + 2 }));
  const overlap = (r) => taken.reduce((sum, q) => sum + Math.max(0, Math.min(r.x1, q.x1) - Math.max(r.x0, q.x0)) * Math.max(0, Math.min(r.y1, q.y1) - Math.max(r.y0, q.y0)), 0);

  for (const e of edges) {
    const a = pos[e.source];
    const b = pos[e.target];
    if (!a || !b) continue;
    const rank = Math.min(...e.ids.map((id) => hot.get(id) ?? 99));
    const cls = rank === 1 ? 'edge hot' : rank < 99 ? 'edge warm' : 'edge';
    const halfW = e.source === ANY ? 34 : W / 2;
    const halfH = e.source === ANY ? 13 : H / 2;
    const lines = compactLabels(e.labels);
    const lw = Math.max(...lines.map((l) => l.length)) * 6.4;
    const lh = lines.length * 13;
    let d;
    /** Label candidates, best first: { x, y (top of the text block), anchor }. */
    const candidates = [];
    if (e.source === e.target) {
      // A self-transition (e.g. promoting the next candidate): a loop on the side with room (below when
      // nothing sits under the box, else above), labelled beyond the loop.
      const roomBelow = !Object.entries(pos).some(([k, p]) => k !== e.source && Math.abs(p.x - a.x) < W && p.y > a.y && p.y - a.y < GY * 1.3);
      const sgn = roomBelow ? 1 : -1;
      const y = a.y + (sgn * H) / 2;
      d = `M ${a.x - 18} ${y} C ${a.x - 30} ${y + sgn * 34}, ${a.x + 30} ${y + sgn * 34}, ${a.x + 18} ${y}`;
      candidates.push({ x: a.x, y: roomBelow ? y + 30 : y - 30 - lh, anchor: 'middle' });
      grow(a.x, y + sgn * 40);
    } else {
      const dx = b.x - a.x;
      const dy = b.y - a.y;
      const len = Math.hypot(dx, dy);
      const reverse = pairs.has(`${e.target}→${e.source}`);
      const others = Object.entries(pos).filter(([k]) => k !== e.source && k !== e.target).map(([, v]) => v);
      // Straight when nothing is in the way; bent around boxes in the way, and apart from a reverse arrow.
      const nx = -dy / len;
      const ny = dx / len;
      let bend = reverse ? 20 : 0;
      const mid = { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 };
      const blocked = (k) => crossesBox(a, { x: mid.x + nx * k, y: mid.y + ny * k }, others, 6) || crossesBox({ x: mid.x + nx * k, y: mid.y + ny * k }, b, others, 6);
      if (blocked(bend)) {
        for (let k = 50; k <= 225; k += 25) {
          if (!blocked(k)) {
            bend = k;
            break;
          }
          if (!reverse && !blocked(-k)) {
            bend = -k;
            break;
          }
        }
      }
      const cx = mid.x + nx * bend * 2;
      const cy = mid.y + ny * bend * 2;
      const p0 = exitPoint(a, cx, cy, halfW, halfH);
      const p2 = exitPoint(b, cx, cy, W / 2 + 3, H / 2 + 3);
      d = `M ${p0.x} ${p0.y} Q ${cx} ${cy} ${p2.x} ${p2.y}`;
      grow(cx, cy);
      // Beside the arrow on the outer side of its bend (above a straight horizontal one), at several points
      // along it; arrows fanning out of "any state" prefer points near their targets, where they are apart.
      const horizontal = Math.abs(dx) >= Math.abs(dy);
      const side = bend === 0 ? (horizontal ? -1 : 1) : Math.sign(bend) * (horizontal ? Math.sign(ny) || -1 : Math.sign(nx) || 1);
      const ts = e.source === ANY ? [0.66, 0.76, 0.56] : [0.5, 0.38, 0.62, 0.28, 0.72];
      for (const t of ts) {
        const bx = (1 - t) ** 2 * p0.x + 2 * (1 - t) * t * cx + t ** 2 * p2.x;
        const by = (1 - t) ** 2 * p0.y + 2 * (1 - t) * t * cy + t ** 2 * p2.y;
        for (const sd of [side, -side]) {
          if (horizontal) candidates.push({ x: bx, y: sd < 0 ? by - 6 - lh : by + 6, anchor: 'middle' });
          else candidates.push({ x: bx + sd * 7, y: by - lh / 2, anchor: sd > 0 ? 'start' : 'end' });
        }
      }
    }
    const box = (c) => {
      const x0 = c.anchor === 'start' ? c.x : c.anchor === 'end' ? c.x - lw : c.x - lw / 2;
      return { x0, y0: c.y, x1: x0 + lw, y1: c.y + lh };
    };
    let best = candidates[0];
    let bestCost = Infinity;
    for (const c of candidates) {
      const cost = overlap(box(c));
      if (cost < bestCost) [best, bestCost] = [c, cost];
      if (cost === 0) break;
    }
    const r = box(best);
    taken.push(r);
    grow(r.x0, r.y0);
    grow(r.x1, r.y1);
    const title = e.details.join('\n');
    pathEls.push(s('path', { class: cls, d, 'marker-end': rank === 1 ? 'url(#arrow-hot)' : 'url(#arrow)', 'data-edge': `${e.source}→${e.target}` }, s('title', {}, title)));
    labelEls.push(s('text', { class: rank < 99 ? 'edge-label hot' : 'edge-label', 'text-anchor': best.anchor }, lines.map((l, i) => s('tspan', { x: best.x, y: best.y + 10 + i * 13 }, l)), s('title', {}, title)));
  }

  const nodeEls = [];
  for (const st of def.states) {
    if (st.path === '') continue;
    const c = pos[st.path];
    const current = opts.current === st.path;
    const cls = ['state', current ? `current tone-${tone(st.path)}` : '', st.type === 'final' ? 'final' : ''].join(' ').trim();
    const count = opts.counts?.[st.path];
    nodeEls.push(
      s(
        'g',
        { class: cls, 'data-state': st.path, ...(current ? { 'data-current': 'true' } : {}) },
        s('title', {}, [st.path, st.description, st.timers.length ? `timers: ${[...new Set(st.timers)].join(', ')}` : '', st.invokes.length ? `runs: ${st.invokes.join(', ')}` : ''].filter(Boolean).join('\n')),
        s('rect', { x: c.x - W / 2, y: c.y - H / 2, width: W, height: H, rx: st.type === 'final' ? 4 : 12 }),
        st.type === 'final' ? s('rect', { class: 'inner', x: c.x - W / 2 + 3, y: c.y - H / 2 + 3, width: W - 6, height: H - 6, rx: 2 }) : null,
        s('text', { x: c.x, y: c.y + 5, 'text-anchor': 'middle' }, st.path),
        st.timers.length ? s('g', { class: 'timer' }, s('circle', { cx: c.x + W / 2 - 10, cy: c.y - H / 2 + 9, r: 4.5 }), s('path', { d: `M ${c.x + W / 2 - 10} ${c.y - H / 2 + 6.5} V ${c.y - H / 2 + 9} H ${c.x + W / 2 - 8}` })) : null,
        count ? s('g', { class: 'count' }, s('circle', { cx: c.x + W / 2, cy: c.y - H / 2, r: 11 }), s('text', { x: c.x + W / 2, y: c.y - H / 2 + 4, 'text-anchor': 'middle' }, String(count))) : null,
      ),
    );
    grow(c.x, c.y, W / 2 + 6);
    grow(c.x, c.y - H / 2 - 36); // room for a self-loop
  }
  if (pos[ANY]) {
    const c = pos[ANY];
    nodeEls.push(s('g', { class: 'any' }, s('rect', { x: c.x - 34, y: c.y - 13, width: 68, height: 26, rx: 13 }), s('text', { x: c.x, y: c.y + 4, 'text-anchor': 'middle' }, 'any state')));
    grow(c.x, c.y, 40);
  }
  if (def.initial && pos[def.initial]) {
    const c = pos[def.initial];
    const x = c.x - W / 2 - 22;
    nodeEls.push(s('g', { class: 'initial' }, s('circle', { cx: x, cy: c.y, r: 5 }), s('path', { d: `M ${x + 5} ${c.y} L ${c.x - W / 2 - 3} ${c.y}`, 'marker-end': 'url(#arrow)' })));
    grow(x - 8, c.y);
  }

  const pad = 8;
  const vb = [bounds.x0 - pad, bounds.y0 - pad, bounds.x1 - bounds.x0 + 2 * pad, bounds.y1 - bounds.y0 + 2 * pad].map((v) => Math.round(v));
  const marker = (id) => s('marker', { id, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, s('path', { d: 'M 0 0 L 10 5 L 0 10 z' }));
  return s(
    'svg',
    { class: 'statechart', viewBox: vb.join(' '), 'data-machine': def.id, 'data-width': vb[2], role: 'img', 'aria-label': `${def.id} statechart${opts.current ? `, current state ${opts.current}` : ''}`, style: `max-width:${vb[2] * 1.15}px` },
    s('defs', {}, marker('arrow'), marker('arrow-hot')),
    s('g', { class: 'edges' }, pathEls),
    s('g', { class: 'nodes' }, nodeEls),
    s('g', { class: 'labels' }, labelEls),
  );
}
