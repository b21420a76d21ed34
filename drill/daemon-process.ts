// The daemon under test as a child process, so the drill can SIGKILL it and start it again, or SIGSTOP it
// (paused: out of the load's rotation, as a load balancer's health check would take it out) and SIGCONT it.
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
  /** SIGSTOP: the process is frozen (GC pause, VM stall) until resume(). */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  paused(): boolean;
  pid(): number | undefined;
}

export function daemonProcess(opts: { root: string; env: Record<string, string>; port: number; logFile: string }): DaemonProcess {
  let child: ChildProcess | null = null;
  let healthy = false;
  let frozen = false;
  const url = `http://127.0.0.1:${opts.port}`;
  mkdirSync(path.dirname(opts.logFile), { recursive: true });
  const log = createWriteStream(opts.logFile, { flags: 'a' });
  const self: DaemonProcess = {
    url,
    restarts: 0,
    running: () => child !== null && child.exitCode === null && child.signalCode === null,
    available: () => healthy && !frozen && self.running(),
    paused: () => frozen,
    pid: () => child?.pid,
    pause() {
      if (!child || !self.running()) return;
      child.kill('SIGSTOP');
      frozen = true;
    },
    resume() {
      if (!child || !frozen) return;
      frozen = false;
      if (self.running()) child.kill('SIGCONT');
    },
    async start() {
      healthy = false;
      frozen = false;
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
      // A frozen process acts on no signal but SIGKILL until it is thawed.
      if (frozen && signal !== 'SIGKILL') self.resume();
      frozen = false;
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
