/**
 * Whether the relay's slot survives a failover (PostgreSQL 17+): the primary creates it with
 * failover = true and holds logical decoding back until its standbys have the WAL
 * (synchronized_standby_slots), and each standby copies it (sync_replication_slots, which needs
 * hot_standby_feedback, primary_slot_name and a dbname in primary_conninfo). Pure: the doctor
 * gathers the facts from the servers it can reach.
 */

export interface PrimaryFacts {
  /** server_version_num / 10000. */
  readonly major: number;
  /** The relay's slot's failover flag; null when the slot does not exist yet. */
  readonly slotFailover: boolean | null;
  /** synchronized_standby_slots, as set ('' when unset). */
  readonly synchronizedStandbySlots: string;
  /** Physical slots of streaming standbys on this primary. */
  readonly physicalSlots: readonly string[];
}

export interface StandbyFacts {
  /** host:port as given in RELAY_PG_URL. */
  readonly host: string;
  readonly syncReplicationSlots: boolean;
  readonly hotStandbyFeedback: boolean;
  readonly primarySlotName: string;
  /** primary_conninfo; null when this role may not read it. */
  readonly primaryConninfo: string | null;
  /** The standby's copy of the relay's slot: synced, or null when it has none. */
  readonly slotSynced: boolean | null;
}

export interface Readiness {
  readonly status: 'ok' | 'warn' | 'skip';
  readonly detail: string;
  readonly fix?: string;
}

const RECOVERY =
  'after a failover the promoted server has no slot: `outbox-relay offsets reset --recreate --yes`, then `outbox-relay replay --from <time of the failover>`';

export function failoverReadiness(
  slot: string,
  primary: PrimaryFacts,
  standbys: readonly StandbyFacts[],
): Readiness {
  if (primary.major < 17) {
    return {
      status: 'skip',
      detail: `PostgreSQL ${primary.major} cannot keep a logical slot across a failover (17 can); ${RECOVERY}`,
    };
  }
  const problems = [...primaryProblems(slot, primary), ...standbys.flatMap(standbyProblems(slot))];
  if (problems.length > 0) {
    return {
      status: 'warn',
      detail: `a failover would lose slot "${slot}": ${problems.map((p) => p.what).join('; ')}`,
      fix: problems.map((p) => p.fix).join(' '),
    };
  }
  if (primary.physicalSlots.length === 0 && standbys.length === 0) {
    return {
      status: 'ok',
      detail: `slot "${slot}" can fail over (failover = ${primary.slotFailover ?? 'set by migrate'}); no streaming standby uses a physical slot here`,
    };
  }
  const checked =
    standbys.length > 0 ? `; standbys checked: ${standbys.map((s) => s.host).join(', ')}` : '';
  return {
    status: 'ok',
    detail: `slot "${slot}" fails over with the standbys of synchronized_standby_slots = ${primary.synchronizedStandbySlots}${checked}`,
  };
}

interface Problem {
  readonly what: string;
  readonly fix: string;
}

function primaryProblems(slot: string, primary: PrimaryFacts): Problem[] {
  const problems: Problem[] = [];
  if (primary.slotFailover === false) {
    problems.push({
      what: `the slot has failover = false`,
      fix: `Stop the relay (a held slot cannot be altered), run \`outbox-relay migrate\` (it turns failover on for slot "${slot}"), start the relay.`,
    });
  }
  const listed = primary.synchronizedStandbySlots
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const missing = primary.physicalSlots.filter((s) => !listed.includes(s));
  if (primary.physicalSlots.length > 0 && missing.length > 0) {
    problems.push({
      what: `synchronized_standby_slots does not name ${missing.map((s) => `"${s}"`).join(', ')}, so the relay may receive changes a standby lacks`,
      fix: `On the primary: ALTER SYSTEM SET synchronized_standby_slots = '${[...listed, ...missing].join(',')}'; SELECT pg_reload_conf();`,
    });
  }
  return problems;
}

function standbyProblems(slot: string) {
  return (standby: StandbyFacts): Problem[] => {
    const on = (what: string, fix: string): Problem => ({
      what: `${standby.host}: ${what}`,
      fix: `On ${standby.host}: ${fix}`,
    });
    const problems: Problem[] = [];
    if (!standby.syncReplicationSlots)
      problems.push(
        on(
          'sync_replication_slots is off',
          'ALTER SYSTEM SET sync_replication_slots = on; SELECT pg_reload_conf();',
        ),
      );
    if (!standby.hotStandbyFeedback)
      problems.push(
        on(
          'hot_standby_feedback is off',
          'ALTER SYSTEM SET hot_standby_feedback = on; SELECT pg_reload_conf();',
        ),
      );
    if (standby.primarySlotName === '')
      problems.push(
        on(
          'primary_slot_name is not set',
          "ALTER SYSTEM SET primary_slot_name = '<its physical slot on the primary>'; SELECT pg_reload_conf();",
        ),
      );
    if (standby.primaryConninfo !== null && !/\bdbname\s*=/.test(standby.primaryConninfo))
      problems.push(
        on(
          'primary_conninfo has no dbname',
          "add dbname=<the outbox's database> to primary_conninfo; SELECT pg_reload_conf();",
        ),
      );
    if (problems.length === 0 && standby.slotSynced !== true)
      problems.push(
        on(
          `has no synchronized copy of "${slot}" yet`,
          'wait for the slot sync worker, and check its log for why it skips the slot.',
        ),
      );
    return problems;
  };
}
