// The settings of a benchmark's daemon: the local profile, warn-level logs, its own HTTP port, and a command
// topic, consumer groups and search index of its own named after the run, so that a run starts from nothing and
// disturbs nobody on the shared services.
export function benchDaemonEnv(id: string, port: number, extra: Record<string, string> = {}): Record<string, string> {
  return {
    TAGSTREAM_PROFILE: 'local',
    TAGSTREAM_LOG__LEVEL: 'warn',
    TAGSTREAM_HTTP__PORT: String(port),
    TAGSTREAM_KAFKA__TOPIC: id,
    TAGSTREAM_KAFKA__DLQ_TOPIC: `${id}.dlq`,
    TAGSTREAM_KAFKA__PARKING_TOPIC: `${id}.parking`,
    TAGSTREAM_KAFKA__GROUP_ID: `${id}-w`,
    TAGSTREAM_INDEXER__GROUP_ID: `${id}-i`,
    TAGSTREAM_INDEXER__ANALYTICS_GROUP_ID: `${id}-a`,
    TAGSTREAM_ELASTICSEARCH__INDEX: id,
    ...extra,
  };
}
