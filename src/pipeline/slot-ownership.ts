/**
 * The slot lease of one session, with the ordinary Postgres connection it asks `active_pid` on
 * (opened on the first question, closed with the session).
 */
import { createDbClient, type DbClient } from '../db/client.ts';
import { slotActivePid } from '../db/slots.ts';
import { SlotLease } from '../source/slot-lease.ts';
import type { ReplicationConnection } from '../source/replication-connection.ts';

export class SlotOwnership {
  readonly lease: SlotLease;
  private client: Promise<DbClient> | null = null;
  private readonly pgUrl: string;

  constructor(pgUrl: string, slot: string, connection: ReplicationConnection) {
    this.pgUrl = pgUrl;
    this.lease = new SlotLease({
      walsenderPid: connection.walsenderPid,
      closed: () => connection.closed,
      activePid: () => this.ask(slot),
    });
  }

  private async ask(slot: string): Promise<number | null> {
    this.client ??= this.connect();
    try {
      return await slotActivePid(await this.client, slot);
    } catch (error) {
      const failed = this.client;
      this.client = null;
      void failed.then((c) => c.end()).catch(() => undefined);
      throw error;
    }
  }

  private async connect(): Promise<DbClient> {
    const client = createDbClient(this.pgUrl, 'lease');
    client.on('error', () => undefined); // a broken connection fails the next question
    await client.connect();
    return client;
  }

  async close(): Promise<void> {
    this.lease.close();
    const client = this.client;
    this.client = null;
    await client?.then((c) => c.end()).catch(() => undefined);
  }
}
