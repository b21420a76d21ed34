// Is the HTTP framework the reads' gap to a bare server? The same constant answer from a bare node:http server and
// from the daemon's own fastify set-up (createHttpServer: error handling, the onResponse metrics hook, a routed
// parameter), each in its own process, driven by the same closed loop (32 keep-alive clients) in turns: answers
// per second and server CPU per answer, and their ratio. `npm run bench -- http-framework [--seconds 4 --rounds 3]`.
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import path from 'node:path';
import { freePort } from '../lib/free-port.ts';
import { closedLoop } from './open-loop.ts';
import { treeCpuUs } from './proc-cpu.ts';

const arg = (name: string, d: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : d;
};
const SECONDS = arg('seconds', 4);
const ROUNDS = arg('rounds', 3);
const target = { name: 'entity', path: '/v1/entities/e-123/tags' };

async function measure(kind: 'bare' | 'fastify'): Promise<{ perSecond: number; cpuUs: number }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, '_http-server.ts'), kind, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout!.once('data', () => resolve());
      child.once('exit', (c) => reject(new Error(`${kind} server exited (${c})`)));
    });
    await closedLoop({ port, concurrency: 32, durationMs: 1_000, next: () => target }); // warm-up (JIT)
    const cpu0 = treeCpuUs([child.pid!])!;
    const r = await closedLoop({ port, concurrency: 32, durationMs: SECONDS * 1_000, next: () => target });
    const cpu = treeCpuUs([child.pid!])! - cpu0;
    if (r.errors > 0) throw new Error(`${kind}: ${r.errors} errors`);
    return { perSecond: r.perSecond, cpuUs: cpu / (r.perSecond * SECONDS) };
  } finally {
    child.kill('SIGKILL');
  }
}

console.log(`load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}, Node ${process.version}, ${ROUNDS} rounds × ${SECONDS} s each`);
const rows: Array<{ bare: { perSecond: number; cpuUs: number }; fastify: { perSecond: number; cpuUs: number } }> = [];
for (let i = 1; i <= ROUNDS; i++) {
  const bare = await measure('bare');
  const fastify = await measure('fastify');
  rows.push({ bare, fastify });
  console.log(`round ${i}: bare ${Math.round(bare.perSecond)}/s ${bare.cpuUs.toFixed(1)} µs/answer · fastify ${Math.round(fastify.perSecond)}/s ${fastify.cpuUs.toFixed(1)} µs/answer · fastify ÷ bare: capacity ${(fastify.perSecond / bare.perSecond).toFixed(2)}, CPU ${(fastify.cpuUs / bare.cpuUs).toFixed(2)} (+${(fastify.cpuUs - bare.cpuUs).toFixed(1)} µs)`);
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const summary = {
  bench: 'http-framework',
  rounds: ROUNDS,
  bare_per_s: Math.round(med(rows.map((r) => r.bare.perSecond))),
  fastify_per_s: Math.round(med(rows.map((r) => r.fastify.perSecond))),
  bare_cpu_us: Number(med(rows.map((r) => r.bare.cpuUs)).toFixed(1)),
  fastify_cpu_us: Number(med(rows.map((r) => r.fastify.cpuUs)).toFixed(1)),
  capacity_ratio: Number(med(rows.map((r) => r.fastify.perSecond / r.bare.perSecond)).toFixed(2)),
  cpu_extra_us: Number(med(rows.map((r) => r.fastify.cpuUs - r.bare.cpuUs)).toFixed(1)),
  loadavg_1m: Number(loadavg()[0]!.toFixed(1)),
};
console.log(JSON.stringify(summary));
