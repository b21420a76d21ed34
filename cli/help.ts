// `tagstream --help` and `tagstream <command> --help`: what each command does, its flags and an example.
// A unit test checks that every registered command has an entry here.

export interface CommandHelp {
  /** One line: what the command does. */
  summary: string;
  usage: string;
  /** [flag, what it does] */
  flags: [string, string][];
  examples: string[];
  /** More lines after the summary, where one is not enough. */
  details?: string[];
}

/** The daemon-calling commands share these (the daemon's URL and admin token come from the config by default). */
const DAEMON_FLAGS: [string, string][] = [
  ['--url <url>', 'the daemon to talk to (default: http://<http.host>:<http.port> from the config)'],
  ['--token <token>', 'admin token (default: http.adminToken from the config)'],
  ['--json', 'print the answer as JSON'],
];

export const HELP: Record<string, CommandHelp> = {
  config: {
    summary: 'check the configuration: print the effective config (secrets masked), or every problem and exit 1',
    usage: 'tagstream config check',
    details: ['Reads the profile defaults, the file named by TAGSTREAM_CONFIG and the TAGSTREAM_* variables, exactly as the daemon does at start.', 'Unknown keys and variables are problems too, with the closest valid name.'],
    flags: [],
    examples: ['TAGSTREAM_PROFILE=production TAGSTREAM_CONFIG=/etc/tagstream.json tagstream config check'],
  },
  breaker: {
    summary: "list the circuit breakers of the running daemon, or force one's state",
    usage: 'tagstream breaker list | force <name> <open|closed|disabled|metrics-only>',
    flags: DAEMON_FLAGS,
    examples: ['tagstream breaker list', 'tagstream breaker force cache-redis0 open'],
  },
  switchover: {
    summary: "planned switchover: promote a replica of the cluster and demote its primary (the failover leader does it)",
    usage: 'tagstream switchover <cluster> [--target <node>]',
    flags: [['--target <node>', 'the replica to promote (default: the most caught-up one)'], ...DAEMON_FLAGS],
    examples: ['tagstream switchover pg0 --target pg0-n1'],
  },
  faults: {
    summary: 'list, inject or heal the faults the daemon offers (embedded and local profiles; off in production)',
    usage: 'tagstream faults list | inject <name> | heal <name>',
    flags: DAEMON_FLAGS,
    examples: ['tagstream faults list', 'tagstream faults inject stop-kafka', 'tagstream faults heal stop-kafka'],
  },
  'flight-recorder': {
    summary: "download the daemon's flight recording (actor lifecycle, machine transitions, operator actions)",
    usage: 'tagstream flight-recorder [--out <file>]',
    flags: [['--out <file>', 'where to write it (default: the name the daemon gives)'], ...DAEMON_FLAGS.filter(([f]) => f !== '--token <token>')],
    examples: ['tagstream flight-recorder --out /tmp/flight.json'],
  },
  reseed: {
    summary: 're-seed a diverged old primary as a replica of the current primary, then route reads to it',
    usage: 'tagstream reseed <cluster> <node>',
    details: ['local profile: pg_rewind through services/; Patroni: its reinitialize; production: prints the manual procedure.'],
    flags: DAEMON_FLAGS,
    examples: ['tagstream reseed pg0 pg0-n0'],
  },
  adopt: {
    summary: 'route reads to a node an operator re-seeded by hand',
    usage: 'tagstream adopt <cluster> <node>',
    flags: DAEMON_FLAGS,
    examples: ['tagstream adopt pg0 pg0-n0'],
  },
  dlq: {
    summary: 'the dead letter queue: list pending dead letters, replay them, or park them',
    usage: 'tagstream dlq <list|replay|park> [options]',
    details: [
      'list     pending dead letters (--all: every one still in the topic; --parked: the parking topic)',
      'replay   re-drive pending dead letters to the consumer that failed them, rate-limited; failing ones go back to the DLQ, and to the parking topic (with an alert) after dlq.maxReplays',
      'park     move pending dead letters to the parking topic without re-driving them',
    ],
    flags: [
      ['--all', 'list: every dead letter still in the topic, handled ones too'],
      ['--parked', 'list: the parking topic'],
      ['--since <time|15m|2h|1d>', 'only dead letters since then (replay: re-drives handled ones again too)'],
      ['--limit <n>', 'at most n dead letters'],
      ['--dry-run', 'replay/park: show what would be done'],
      ['--standalone', 'work on the services directly instead of through the running daemon'],
      ...DAEMON_FLAGS,
    ],
    examples: ['tagstream dlq list --since 2h', 'tagstream dlq replay --dry-run', 'tagstream dlq replay --limit 100'],
  },
  reconcile: {
    summary: 'compare the database with the search index (drift: missing, extra, resurrected, version) and optionally repair it',
    usage: 'tagstream reconcile [--shard N]… [--repair] [options]',
    details: ['Exit 0 when the index matches (or every drift was repaired), 1 otherwise.'],
    flags: [
      ['--shard <n>', 'only this shard (repeatable; default: all)'],
      ['--repair', "write the database's state into the index"],
      ['--prefix <p>', 'only entities starting with p'],
      ['--confirm-ms <n>', 'recheck drift after n ms so commands in flight do not count (default 2000)'],
      ['--sample <n>', 'print at most n drifted entries'],
      ['--standalone', 'work on the services directly instead of through the running daemon'],
      ...DAEMON_FLAGS,
    ],
    examples: ['tagstream reconcile', 'tagstream reconcile --shard 3 --repair'],
  },
};

const pad = (rows: [string, string][]) => {
  const w = Math.max(0, ...rows.map(([a]) => a.length));
  return rows.map(([a, b]) => `  ${a.padEnd(w)}  ${b}`);
};

/** `tagstream --help`: every command with what it does, and how to start the daemon. */
export function overview(names: string[]): string {
  const rows: [string, string][] = names.map((n) => [n, HELP[n]?.summary ?? '']);
  return [
    'usage: tagstream <command> [options]     (tagstream <command> --help: its flags and examples)',
    '',
    'commands:',
    ...pad(rows),
    '',
    'the daemon itself: npm start [-- --log-format <auto|json|pretty>]   (image: node dist/main.js)',
    '  --log-format   auto (default): readable lines on a terminal, JSON otherwise; json: always JSON lines',
    'configuration: the profile (TAGSTREAM_PROFILE=embedded|local|production), a JSON file named by',
    '  TAGSTREAM_CONFIG and TAGSTREAM_<SECTION>__<KEY> variables; `tagstream config check` validates them.',
  ].join('\n');
}

/** `tagstream <command> --help`. */
export function commandHelp(name: string): string | undefined {
  const h = HELP[name];
  if (!h) return undefined;
  return [
    `usage: ${h.usage}`,
    '',
    h.summary,
    ...(h.details ?? []).map((d) => `  ${d}`),
    ...(h.flags.length ? ['', 'options:', ...pad(h.flags)] : []),
    '',
    h.examples.length > 1 ? 'examples:' : 'example:',
    ...h.examples.map((e) => `  ${e}`),
  ].join('\n');
}
