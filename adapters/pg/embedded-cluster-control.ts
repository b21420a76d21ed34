// The embedded control plane: promotion and fencing over the emulated cluster behind a PgliteShardStore.
import type { EmbeddedPgCluster } from './embedded-pg-cluster.ts';
import type { ClusterControl, FenceMode, NodeProbe, RecordedEpoch } from './port.ts';

export class EmbeddedClusterControl implements ClusterControl {
  readonly cluster: string;
  readonly nodes: readonly string[];
  /** The emulated nodes' tagstream_topology_epoch rows (the emulation has no such table). */
  private readonly epochs = new Map<string, RecordedEpoch>();

  constructor(private readonly e: EmbeddedPgCluster) {
    this.cluster = e.name;
    this.nodes = [...e.nodes];
  }

  probeNode(node: string): Promise<NodeProbe> {
    return this.e.probe(node);
  }

  async promote(node: string): Promise<void> {
    const p = await this.e.probe(node);
    if (!p.up) throw new Error(`${this.cluster}: cannot promote ${node}: ${p.error ?? 'down'}`);
    this.e.promote(node);
  }

  async repoint(): Promise<void> {
    // Emulated replicas follow whichever node is primary.
  }

  async fence(node: string, how: FenceMode = 'read-only'): Promise<void> {
    const p = await this.e.probe(node);
    if (!p.up) throw new Error(`${this.cluster}: cannot fence ${node}: ${p.error ?? 'down'}`);
    // Our sessions to a fenced node are already closed by the store; only 'read-only' changes the node.
    if (how === 'read-only') this.e.demote(node);
  }

  async streamingFrom(primary: string, replica: string): Promise<boolean> {
    // Emulated replicas follow whichever node is primary.
    return (await this.e.probe(primary)).role === 'primary' && (await this.e.probe(replica)).role === 'replica';
  }

  async unfence(node: string): Promise<void> {
    const p = await this.e.probe(node);
    if (!p.up) throw new Error(`${this.cluster}: cannot unfence ${node}: ${p.error ?? 'down'}`);
    this.e.promote(node);
  }

  async recordEpoch(node: string, rec: RecordedEpoch): Promise<void> {
    const p = await this.e.probe(node);
    if (!p.up) throw new Error(`${this.cluster}: cannot record the epoch on ${node}: ${p.error ?? 'down'}`);
    const cur = this.epochs.get(node);
    if (!cur || cur.epoch < rec.epoch) this.epochs.set(node, { ...rec });
  }

  async readEpoch(node: string): Promise<RecordedEpoch | null> {
    return this.epochs.get(node) ?? null;
  }

  async close(): Promise<void> {}
}
