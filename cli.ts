// Command line: `tagstream <command>`. The composition root for one-shot operator commands.
//   config check                 print the effective config (secrets masked) or every problem; exit 1 on problems
//   (further commands — dlq, reconcile, breaker, switchover — register in cli/commands.ts; help in cli/help.ts)
import { ConfigError, loadConfig, maskSecrets } from './config/index.ts';
import { commands } from './cli/commands.ts';
import { commandHelp, overview } from './cli/help.ts';

const isHelp = (a: string | undefined) => a === '--help' || a === '-h' || a === 'help';

export async function runCli(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s + '\n'), err: (s: string) => void = (s) => process.stderr.write(s + '\n')): Promise<number> {
  const [cmd, sub, ...rest] = argv;
  const names = ['config', ...Object.keys(commands)];
  if (cmd === undefined || isHelp(cmd)) {
    const topic = isHelp(cmd) && sub !== undefined ? commandHelp(sub) : undefined;
    (cmd === undefined ? err : out)(topic ?? overview(names));
    return cmd === undefined ? 2 : 0;
  }
  if (argv.slice(1).some((a) => a === '--help' || a === '-h') && commandHelp(cmd)) {
    out(commandHelp(cmd)!);
    return 0;
  }
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
  err(`${handler || cmd === 'config' ? '' : `unknown command "${cmd}"\n\n`}${commandHelp(cmd) ?? overview(names)}`);
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
