// Flags of the daemon itself (`npm start -- …`, `node dist/main.js …`). Settings come from the config; a flag
// only overrides one of them for this run.
import { parseArgs } from './args.ts';

export const START_USAGE = `usage: npm start [-- options]      (the image: node dist/main.js [options])
  runs the daemon with the configured profile (TAGSTREAM_PROFILE, default embedded)
options:
  --log-format <auto|json|pretty>   auto (default): readable lines on a terminal, JSON lines otherwise
                                    (the setting log.format / TAGSTREAM_LOG__FORMAT)
  --help                            this text
example:
  TAGSTREAM_PROFILE=local npm start -- --log-format json`;

export interface StartOptions {
  help: boolean;
  overrides: Record<string, unknown>;
  problems: string[];
}

export function parseStartArgs(argv: string[]): StartOptions {
  const p = parseArgs(argv.filter((a) => a !== '-h'), { flags: ['help'], values: ['log-format'] });
  const overrides: Record<string, unknown> = {};
  const format = p.values.get('log-format')?.at(-1);
  if (format !== undefined) {
    if (['auto', 'json', 'pretty'].includes(format)) overrides.log = { format };
    else p.problems.push(`--log-format: auto, json or pretty (got "${format}")`);
  }
  if (p.positional.length > 0) p.problems.push(`unexpected argument(s): ${p.positional.join(' ')}`);
  return { help: p.flags.has('help') || argv.includes('-h'), overrides, problems: p.problems };
}
