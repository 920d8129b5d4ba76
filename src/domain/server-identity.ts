/** Which database history a replication connection streams: what IDENTIFY_SYSTEM says. */
export interface ServerIdentity {
  /** The cluster's system identifier: a rebuilt or newly initialized cluster gets a new one. */
  readonly systemId: string;
  /** Its timeline: a promoted standby keeps the system identifier and starts a new timeline. */
  readonly timeline: number;
  readonly database: string;
}
