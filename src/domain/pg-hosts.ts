/**
 * Several hosts in one connection URL, as libpq takes them: `postgres://u@a:5432,b:5432/db` or
 * `postgres://u@/db?host=a,b&port=5432,5433`, with `target_session_attrs`. node-postgres connects
 * to one host only, so the relay picks the host itself: it tries them in order and keeps the
 * first whose session fits the attributes. After a failover the promoted standby is the one that
 * accepts writes, and the relay finds it again at its next session.
 */
import { RelayError } from './errors.ts';

/** The values of libpq's target_session_attrs that the relay honours. */
export const TARGET_SESSION_ATTRS = ['any', 'read-write', 'primary'] as const;
export type TargetSessionAttrs = (typeof TARGET_SESSION_ATTRS)[number];

/** One URL per host, in the order given, and what a host's session must be to be chosen. */
export interface HostList {
  readonly urls: readonly string[];
  readonly attrs: TargetSessionAttrs;
}

const SCHEME = /^(postgres(?:ql)?:\/\/)([^/?#]*)(.*)$/s;

/**
 * Splits a URL naming several hosts into one URL per host, without target_session_attrs (the
 * relay honours it; node-postgres does not know it). A one-host URL without it gives itself.
 */
export function splitHosts(url: string): HostList {
  const match = SCHEME.exec(url);
  if (!match || (!isMultiHost(url) && !/[?&]target_session_attrs=/.test(url))) {
    return { urls: [url], attrs: 'any' };
  }
  const [, scheme = '', authority = '', rest = ''] = match;
  const at = authority.lastIndexOf('@');
  const userinfo = at >= 0 ? authority.slice(0, at + 1) : '';
  const { path, params } = splitRest(rest);
  const attrs = targetSessionAttrs(params.get('target_session_attrs'));
  params.delete('target_session_attrs');
  const hosts = hostsOf(authority.slice(at + 1), params);
  const query = params.size > 0 ? `?${params.toString()}` : '';
  const one = (host: string) => `${scheme}${userinfo}${host}${path}${query}`;
  return { urls: hosts.length > 0 ? hosts.map(one) : [one('')], attrs };
}

function splitRest(rest: string): { path: string; params: URLSearchParams } {
  const q = rest.indexOf('?');
  if (q < 0) return { path: rest, params: new URLSearchParams() };
  return { path: rest.slice(0, q), params: new URLSearchParams(rest.slice(q + 1)) };
}

/** `a:1,b:2` from the authority, else the host= and port= parameters (then removed). */
function hostsOf(hostPart: string, params: URLSearchParams): string[] {
  if (hostPart !== '') return hostPart.split(',').filter((h) => h !== '');
  const hosts = (params.get('host') ?? '').split(',').filter((h) => h !== '');
  if (hosts.length <= 1) return [];
  const ports = (params.get('port') ?? '').split(',');
  params.delete('host');
  params.delete('port');
  return hosts.map((host, i) => {
    const port = ports.length === 1 ? ports[0] : ports[i];
    return port ? `${bracket(host)}:${port}` : bracket(host);
  });
}

/** Whether the URL names more than one host (in its authority or in host=). */
export function isMultiHost(url: string): boolean {
  const match = SCHEME.exec(url);
  if (!match) return false;
  const authority = match[2] ?? '';
  const hostPart = authority.slice(authority.lastIndexOf('@') + 1);
  return hostPart.includes(',') || /[?&]host=[^&]*,/.test(match[3] ?? '');
}

const bracket = (host: string) =>
  host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;

function targetSessionAttrs(value: string | null): TargetSessionAttrs {
  if (value === null || value === '') return 'any';
  const known = TARGET_SESSION_ATTRS.find((attrs) => attrs === value);
  if (known) return known;
  throw new RelayError(
    'CONFIG_INVALID',
    `RELAY_PG_URL: target_session_attrs=${value} is not supported`,
    { hint: `Use one of: ${TARGET_SESSION_ATTRS.join(', ')} (read-write to follow a failover).` },
  );
}

/** Whether a server in this recovery state fits the attributes. */
export function fits(attrs: TargetSessionAttrs, inRecovery: boolean): boolean {
  return attrs === 'any' || !inRecovery;
}

/** host:port of a one-host URL, for messages (never its user or password). */
export function hostOf(url: string): string {
  const authority = SCHEME.exec(url)?.[2] ?? '';
  return authority.slice(authority.lastIndexOf('@') + 1) || 'localhost';
}
