// Command line: `tagstream <command>`. The composition root for one-shot operator commands.
//   config check                 print the effective config (secrets masked) or every problem; exit 1 on problems
//   (further commands — dlq, reconcile, breaker, switchover — register in cli/commands.ts)
import { ConfigError, loadConfig, maskSecrets } from './config/index.ts';
import { commands } from './cli/commands.ts';

export async function runCli(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s + '\n'), err: (s: string) => void = (s) => process.stderr.write(s + '\n')): Promise<number> {
  const [cmd, sub, ...rest] = argv;
  if (cmd === 'config' && sub === 'check') {
    try {
      const cfg = loadConfig();
      out(JSON.stringify(maskSecrets(cfg), null, 2));
      out(`config ok (profile ${cfg.profile})`);
      return 0;
    } catch (e) {
      if (e instanceof ConfigError) {
        err(`config has ${e.problems.length} problem(s):`);
        for (const p of e.problems) err(`  - ${p}`);
        return 1;
      }
      throw e;
    }
  }
  const handler = cmd ? commands[cmd] : undefined;
  if (handler) return handler([sub, ...rest].filter((x): x is string => x !== undefined), out, err);
  err(`usage: tagstream <command>\n  config check\n${Object.keys(commands).map((c) => `  ${c} …`).join('\n')}`);
  return 2;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runCli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    },
  );
}
