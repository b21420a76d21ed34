// Ports and paths of the real services that services/ starts on loopback. The local profile and the
// launcher both read this, so they cannot disagree. Override the base with TAGSTREAM_SERVICES__BASE_PORT.

export interface LocalLayout {
  pgClusters: number;
  replicasPerCluster: number;
  redisInstances: number;
  basePort: number;
  runDir: string;
  cacheDir: string;
}

export function pgPort(l: LocalLayout, cluster: number, node: number): number {
  return l.basePort + cluster * 10 + node; // node 0 = initial primary, 1.. = replicas
}
export function redisPort(l: LocalLayout, i: number): number {
  return l.basePort + 100 + i;
}
export function kafkaPort(l: LocalLayout): number {
  return l.basePort + 200;
}
export function kafkaControllerPort(l: LocalLayout): number {
  return l.basePort + 201;
}
export function esPort(l: LocalLayout): number {
  return l.basePort + 300;
}
export function esTransportPort(l: LocalLayout): number {
  return l.basePort + 301;
}
// The optional Patroni-managed cluster (services/patroni): REST API of member n at base+400+n, its PostgreSQL
// at base+410+n, etcd's client and peer ports at base+420 and base+421.
export function patroniPort(l: LocalLayout, node: number): number {
  return l.basePort + 400 + node;
}
export function patroniPgPort(l: LocalLayout, node: number): number {
  return l.basePort + 410 + node;
}
export function etcdPort(l: LocalLayout): number {
  return l.basePort + 420;
}
export function etcdPeerPort(l: LocalLayout): number {
  return l.basePort + 421;
}
