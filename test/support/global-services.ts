// globalSetup of the integration and chaos projects: make sure the real services are up (idempotent; well
// under a second when they already run). They are left running afterwards: the next run reuses them and
// `npm run services -- down` (or .ci/run) stops them.
import { ensureServices } from '../../services/index.ts';
import { localConfig } from './local.ts';

export default async function setup(): Promise<void> {
  const lines: string[] = [];
  const outcomes = await ensureServices(localConfig(), { log: (line) => lines.push(line) });
  // Quiet when nothing had to be done; say what happened otherwise.
  if (outcomes.some((o) => o.action !== 'left running')) console.log(`[services]\n${lines.join('\n')}`);
}
