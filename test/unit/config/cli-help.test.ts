// `tagstream --help` lists every command with what it does; `tagstream <command> --help` gives its flags and an
// example; the daemon's own flags (--log-format) parse.
import { describe, expect, it } from 'vitest';
import { runCli } from '../../../cli.ts';
import { commands } from '../../../cli/commands.ts';
import { HELP } from '../../../cli/help.ts';
import { parseStartArgs } from '../../../cli/start-options.ts';

async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, (s) => out.push(s), (s) => err.push(s));
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('tagstream --help', () => {
  it('every registered command has help: a summary, a usage line and an example', () => {
    for (const name of ['config', ...Object.keys(commands)]) {
      const h = HELP[name];
      expect(h, `cli/help.ts has no entry for "${name}"`).toBeDefined();
      expect(h!.summary.length).toBeGreaterThan(10);
      expect(h!.usage).toContain(`tagstream ${name}`);
      expect(h!.examples.length).toBeGreaterThan(0);
    }
  });

  it('lists each command with what it does, exit 0', async () => {
    for (const flag of ['--help', '-h', 'help']) {
      const r = await run(flag);
      expect(r.code).toBe(0);
      for (const name of Object.keys(commands)) expect(r.out).toMatch(new RegExp(`^  ${name}\\s+\\S`, 'm'));
      expect(r.out).toContain('--log-format');
    }
  });

  it('`<command> --help` shows its flags and an example, exit 0', async () => {
    const r = await run('switchover', '--help');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^usage: tagstream switchover <cluster>/);
    expect(r.out).toMatch(/--target <node>\s+the replica to promote/);
    expect(r.out).toMatch(/--url <url>/);
    expect(r.out).toMatch(/example:\n  tagstream switchover pg0/);
    expect((await run('help', 'dlq')).out).toMatch(/--dry-run/);
    expect((await run('config', 'check', '--help')).out).toMatch(/^usage: tagstream config check/);
  });

  it('no command: the overview on stderr, exit 2; an unknown one is named', async () => {
    const none = await run();
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/^usage: tagstream <command>/);
    const bad = await run('frobnicate');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/unknown command "frobnicate"/);
  });
});

describe('daemon flags', () => {
  it('--log-format json|pretty|auto overrides log.format; anything else is a problem', () => {
    expect(parseStartArgs(['--log-format', 'json'])).toEqual({ help: false, overrides: { log: { format: 'json' } }, problems: [] });
    expect(parseStartArgs(['--log-format=pretty']).overrides).toEqual({ log: { format: 'pretty' } });
    expect(parseStartArgs(['--log-format', 'xml']).problems).toEqual(['--log-format: auto, json or pretty (got "xml")']);
    expect(parseStartArgs(['--frob']).problems).toEqual(['unknown option --frob']);
    expect(parseStartArgs(['-h']).help).toBe(true);
    expect(parseStartArgs([])).toEqual({ help: false, overrides: {}, problems: [] });
  });
});
