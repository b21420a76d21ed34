// Operator commands talk to the running daemon's operator routes with the admin token; when nothing listens
// there (and the profile is not embedded) they can work standalone instead.
import type { Config } from '../config/index.ts';

export class DaemonUnreachableError extends Error {
  constructor(
    readonly url: string,
    cause: unknown,
  ) {
    super(`no daemon answers at ${url}`, { cause });
    this.name = 'DaemonUnreachableError';
  }
}

export function daemonUrl(config: Readonly<Config>): string {
  const host = config.http.host === '0.0.0.0' || config.http.host === '::' ? '127.0.0.1' : config.http.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${config.http.port}`;
}

export async function callDaemon<T>(base: string, token: string, method: 'GET' | 'POST', path: string, body?: unknown, timeoutMs = 600_000, followLeader = true): Promise<T> {
  let res: Response;
  try {
    res = await fetch(new URL(path, base), {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const code = (err as { cause?: { code?: string } }).cause?.code;
    if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH') throw new DaemonUnreachableError(base, err);
    throw err;
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = { error: { message: text.slice(0, 500) } };
  }
  if (!res.ok) {
    const e = (json as { error?: { code?: string; message?: string; leader?: { url?: string | null } } }).error;
    // A follower names the failover leader: the request goes there once (never further: no redirect loop).
    const leaderUrl = e?.code === 'TS_ERR_NOT_LEADER' ? e.leader?.url : undefined;
    if (res.status === 409 && leaderUrl && followLeader && new URL(leaderUrl).origin !== new URL(base).origin) return callDaemon<T>(leaderUrl, token, method, path, body, timeoutMs, false);
    throw new Error(`${method} ${path}: HTTP ${res.status} ${e?.code ?? ''} ${e?.message ?? ''}`.trim());
  }
  return json as T;
}
