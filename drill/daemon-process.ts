// The daemon under test as a child process, so the drill can SIGKILL it and start it again.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import path from 'node:path';

export interface DaemonProcess {
  url: string;
  start(): Promise<void>;
  kill(signal: NodeJS.Signals): Promise<void>;
  running(): boolean;
  /** Started and answering: from a healthy /healthz until the drill kills it. */
  available(): boolean;
  restarts: number;
}

export function daemonProcess(opts: { root: string; env: Record<string, string>; port: number; logFile: string }): DaemonProcess {
  let child: ChildProcess | null = null;
  let healthy = false;
  const url = `http://127.0.0.1:${opts.port}`;
  mkdirSync(path.dirname(opts.logFile), { recursive: true });
  const log = createWriteStream(opts.logFile, { flags: 'a' });
  const self: DaemonProcess = {
    url,
    restarts: 0,
    running: () => child !== null && child.exitCode === null && child.signalCode === null,
    available: () => healthy && self.running(),
    async start() {
      healthy = false;
      child = spawn(process.execPath, ['--import', 'tsx', path.join(opts.root, 'main.ts')], { cwd: opts.root, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout!.pipe(log, { end: false });
      child.stderr!.pipe(log, { end: false });
      const deadline = Date.now() + 120_000;
      while (Date.now() < deadline) {
        if (!self.running()) throw new Error(`daemon exited during start (see ${opts.logFile})`);
        try {
          const r = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1_000) });
          if (r.ok) {
            healthy = true;
            return;
          }
        } catch {
          /* not listening yet */
        }
        await new Promise((r) => setTimeout(r, 250));
      }
      throw new Error(`daemon did not answer /healthz within 120 s (see ${opts.logFile})`);
    },
    async kill(signal) {
      const c = child;
      healthy = false;
      if (!c || !self.running()) return;
      const exited = new Promise<void>((r) => c.once('exit', () => r()));
      c.kill(signal);
      await Promise.race([exited, new Promise((r) => setTimeout(r, 30_000))]);
      if (self.running()) {
        c.kill('SIGKILL');
        await exited;
      }
    },
  };
  return self;
}
