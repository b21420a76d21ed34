// DOM and formatting helpers for the dashboard (no framework, no network beyond the daemon itself).

const SVG_NS = 'http://www.w3.org/2000/svg';

function build(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = String(v);
    // Through the CSSOM: the page's Content-Security-Policy forbids style attributes.
    else if (k === 'style') for (const decl of String(v).split(';')) {
      const i = decl.indexOf(':');
      if (i > 0) el.style.setProperty(decl.slice(0, i).trim(), decl.slice(i + 1).trim());
    }
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** An HTML element: h('div', { class: 'x', onclick: fn }, 'text', child…). */
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** An SVG element. */
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

export function clear(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

export function clock(ms) {
  const d = new Date(ms);
  return d.toLocaleTimeString([], { hour12: false }) + '.' + String(d.getMilliseconds()).padStart(3, '0');
}

export function hhmm(ms) {
  return new Date(ms).toLocaleTimeString([], { hour12: false, hour: '2-digit', minute: '2-digit' });
}

/** "350 ms", "4 s", "3 min 10 s", "2 h 5 min". */
export function duration(ms) {
  if (!Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  const h = Math.floor(m / 60);
  return `${h} h ${m % 60} min`;
}

export function num(n, digits = 0) {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  if (Math.abs(n) >= 1e6) return (n / 1e6).toFixed(1) + ' M';
  if (Math.abs(n) >= 1e4) return (n / 1e3).toFixed(1) + ' k';
  return n.toFixed(digits);
}

export function bytes(n) {
  if (n === null || n === undefined) return '—';
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

/** Tone of a machine state for colouring: ok, warn, bad, muted, info. */
const TONES = {
  closed: 'ok', open: 'bad', 'forced-open': 'bad', 'half-open': 'warn', disabled: 'muted', 'metrics-only': 'muted',
  healthy: 'ok', suspect: 'warn', electing: 'warn', promoting: 'warn', repointing: 'warn', fencing: 'warn', degraded: 'bad',
  attempting: 'info', 'backing-off': 'warn', rerouting: 'warn', succeeded: 'ok', poisoned: 'bad', exhausted: 'bad', failed: 'bad', aborted: 'muted',
  running: 'ok', restarting: 'warn', parked: 'warn', stopped: 'bad', missing: 'bad',
};

export function tone(state) {
  return TONES[state] ?? 'info';
}

/** A duration that keeps counting without a re-render: "for 12 s" since `at`, or "in 3 s" until `at`. */
export function since(at, prefix = 'for ') {
  return build(document.createElement('span'), { class: 'since', 'data-since': at, 'data-prefix': prefix }, []);
}
export function until(at, prefix = 'in ') {
  return build(document.createElement('span'), { class: 'since', 'data-until': at, 'data-prefix': prefix }, []);
}
export function tickDurations(now) {
  for (const el of document.querySelectorAll('.since')) {
    const ms = el.dataset.since !== undefined ? now - Number(el.dataset.since) : Number(el.dataset.until) - now;
    el.textContent = el.dataset.prefix + duration(Math.max(0, ms));
  }
}

/** "Now" for durations: the daemon's clock when live, the selected entry's time when replaying a recording. */
export function nowOf(st) {
  return st.replay ? st.replay.at : Date.now() + st.skew;
}
