// Which classified errors only an operator can fix: a privilege revoked, credentials refused. Retrying them or
// dead-lettering the data they stopped would not help; the actor that hit one stops (supervision) and the daemon
// alerts (daemon.ts). Each driver's sources as its adapter classifies them (adapters/*/errors.ts).
const OPERATOR_SOURCES: ReadonlyArray<RegExp> = [
  /^pg:(42501|28000|28P01)$/, // insufficient_privilege, invalid_authorization_specification, invalid_password
  /^redis:(NOAUTH|WRONGPASS|NOPERM)$/,
  /^es:(401|403)$/,
  /^kafka:(TOPIC_AUTHORIZATION_FAILED|GROUP_AUTHORIZATION_FAILED|CLUSTER_AUTHORIZATION_FAILED|SASL_AUTHENTICATION_FAILED)$/,
];

/** True when an error of this classification source needs an operator (privileges, credentials). */
export function needsOperator(source: string): boolean {
  return OPERATOR_SOURCES.some((re) => re.test(source));
}
