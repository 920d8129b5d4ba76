/** Which host of a multi-host RELAY_PG_URL connections go to (see resolveHost in connect.ts). */
import { splitHosts } from '../domain/pg-hosts.ts';

/**
 * The host each multi-host URL was last resolved to (see resolveHost in connect.ts): every
 * connection made from that URL goes there until the next resolution, so a session's
 * replication connection and its queries reach the same server.
 */
const chosen = new Map<string, string>();

/** The one-host URL that connections made from `pgUrl` use. */
export function hostUrl(pgUrl: string): string {
  const list = splitHosts(pgUrl);
  if (list.urls.length === 1) return list.urls[0] ?? pgUrl;
  return chosen.get(pgUrl) ?? list.urls[0] ?? pgUrl;
}

export function chooseHost(pgUrl: string, url: string): void {
  chosen.set(pgUrl, url);
}

export function hasChosenHost(pgUrl: string): boolean {
  return chosen.has(pgUrl);
}
