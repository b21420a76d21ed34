// `tagstream dlq` beside a running fleet (issue 14 item 5: DLQ passes are the failover leader's singleton): through
// a follower the request goes on to the leader the 409 names (once, never in a loop); standalone, replay and park
// refuse while the deployment's daemons are members of the leader group (real Kafka), and a dry run still works.
import { createServer, type Server } from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { createCommandLog } from '../../adapters/kafka/index.ts';
import { createKafkaClient } from '../../adapters/kafka/kafka-client.ts';
import { KafkaLeaderElection } from '../../adapters/kafka/kafka-leader-election.ts';
import { leaderGroupOf } from '../../adapters/kafka/leader-election.ts';
import { callDaemon } from '../../cli/daemon-client.ts';
import { runDlq } from '../../cli/dlq.ts';
import { systemClock } from '../../lib/clock.ts';
import { silentLogger } from '../../lib/logger.ts';
import { localConfig, uniqueName } from '../support/local.ts';

const servers: Server[] = [];
afterAll(async () => {
  for (const s of servers) await new Promise((r) => s.close(r));
});

/** A stand-in daemon answering every request with `status` and `body` (it records the paths it was asked). */
async function daemon(answer: (self: string) => { status: number; body: unknown }): Promise<{ url: string; asked: string[] }> {
  const asked: string[] = [];
  let url = '';
  const s = createServer((req, res) => {
    asked.push(`${req.method} ${req.url}`);
    const a = answer(url);
    res.writeHead(a.status, { 'content-type': 'application/json' }).end(JSON.stringify(a.body));
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(s.address() as { port: number }).port}`;
  return { url, asked };
}

const notLeader = (leaderUrl: string) => ({ status: 409, body: { error: { code: 'TS_ERR_NOT_LEADER', message: 'not the failover leader', leader: { daemonId: 'd0', url: leaderUrl, term: 3 } } } });

describe('tagstream dlq and the failover leader', () => {
  it('a follower\'s 409 sends the request on to the leader it names, once', async () => {
    const leader = await daemon(() => ({ status: 200, body: { action: 'replay', replayed: 2 } }));
    const follower = await daemon(() => notLeader(leader.url));
    await expect(callDaemon(follower.url, 't', 'POST', '/v1/dlq/replay', {})).resolves.toEqual({ action: 'replay', replayed: 2 });
    expect(follower.asked).toEqual(['POST /v1/dlq/replay']);
    expect(leader.asked).toEqual(['POST /v1/dlq/replay']);
  });

  it('two daemons naming each other: one hop, then the 409 is the answer', async () => {
    let other = '';
    const a = await daemon(() => notLeader(other));
    const b = await daemon(() => notLeader(a.url));
    other = b.url;
    await expect(callDaemon(a.url, 't', 'POST', '/v1/dlq/replay', {})).rejects.toThrow(/HTTP 409 TS_ERR_NOT_LEADER/);
    expect([a.asked.length, b.asked.length]).toEqual([1, 1]);
  });

  it('standalone replay and park refuse while daemons of the deployment run; a dry run still works', async () => {
    const topic = uniqueName('cli-dlq');
    const base = localConfig();
    const config = localConfig({ kafka: { ...base.kafka, topic, dlqTopic: `${topic}.dlq`, parkingTopic: `${topic}.parking`, groupId: `${topic}-w` } });
    const log = createCommandLog(config, silentLogger());
    for (const t of [config.kafka.dlqTopic, config.kafka.parkingTopic]) await log.ensureTopic(t, 1);
    await log.close();
    // A daemon of the deployment: a member of its leader group.
    const kafka = createKafkaClient({ brokers: [...config.kafka.brokers], clientId: uniqueName('cli-le') }, silentLogger());
    const election = new KafkaLeaderElection({ kafka, clock: systemClock, logger: silentLogger(), daemonId: 'd0', groupId: leaderGroupOf(config), topic: `${topic}.control`, sessionTimeoutMs: 6_000 });
    await election.prepare();
    const led = new Promise<void>((resolve) => election.onChange((l) => l.leader && resolve()));
    election.join();
    await led;
    try {
      const out: string[] = [];
      const err: string[] = [];
      for (const sub of ['replay', 'park']) {
        await expect(runDlq([sub, '--standalone'], (l) => out.push(l), (l) => err.push(l), config)).resolves.toBe(1);
        expect(err.at(-1)).toMatch(/1 daemon\(s\) of this deployment are running: DLQ passes are their failover leader's/);
      }
      await expect(runDlq(['replay', '--standalone', '--dry-run'], (l) => out.push(l), (l) => err.push(l), config)).resolves.toBe(0);
    } finally {
      await election.stop();
    }
  });
});
