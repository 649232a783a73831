import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { ActivityLog } from './activity-log.service';
import { createDataSource, migrateUnderLock, openDatabase } from './data-source';

/** Against the real Postgres on this machine, in a database made for this run. */
const ADMIN = process.env.TANDEM_TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const db = `tandem_it_${randomBytes(4).toString('hex')}`;
const url = ADMIN.replace(/\/[^/]*$/, `/${db}`);
let admin: Client;

before(async () => {
  admin = new Client({ connectionString: ADMIN });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${db}`);
});

after(async () => {
  await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  await admin.end();
});

test('migrations run once even when several services start together (advisory lock)', async () => {
  const sources: DataSource[] = await Promise.all([1, 2, 3].map((i) => openDatabase(url, `it-${i}`)));
  try {
    const rows = await sources[0].query('SELECT name FROM tandem_migrations');
    assert.deepEqual(rows.map((r: { name: string }) => r.name), ['Initial1763683200000']);
    const tables = await sources[0].query(`SELECT table_name FROM information_schema.tables WHERE table_schema='public' ORDER BY 1`);
    assert.deepEqual(tables.map((t: { table_name: string }) => t.table_name), ['activity_log', 'cluster', 'floating_ip', 'ha_pool', 'node', 'share', 'tandem_migrations']);
    assert.deepEqual(await migrateUnderLock(sources[1]), [], 'nothing left to run');
  } finally {
    await Promise.all(sources.map((s) => s.destroy()));
  }
});

test('schema is never synchronised from entities', () => {
  const ds = createDataSource(url);
  assert.equal(ds.options.synchronize, false);
});

test('activity log: entries with trace ids, newest first; a replayed event is recorded once', async () => {
  const ds = await openDatabase(url, 'it-log');
  try {
    const log = new ActivityLog(ds);
    await log.record({ actor: 'operator', action: 'pool.move', target: 'tank', result: 'started', traceId: 'a'.repeat(32), eventId: 'ev-1' });
    await log.record({ actor: 'operator', action: 'pool.move', target: 'tank', result: 'started', traceId: 'a'.repeat(32), eventId: 'ev-1' });
    await log.record({ actor: 'cluster', action: 'pool.move', target: 'tank', result: 'failed', error: 'export timed out', eventId: 'ev-2' });
    const rows = await log.recent(10);
    assert.deepEqual(rows.map((r) => [r.result, r.eventId]), [['failed', 'ev-2'], ['started', 'ev-1']]);
    assert.equal(rows[1].traceId, 'a'.repeat(32));
    assert.equal(rows[0].error, 'export timed out');
    await assert.rejects(log.record({ actor: 'x', action: 'y', target: 'z', result: 'maybe' as never }), /check/);
  } finally {
    await ds.destroy();
  }
});

test('an unreachable database fails with a message saying what to check, without the password', async () => {
  await assert.rejects(openDatabase('postgres://u:hunter2@127.0.0.1:1/x', 'it', 1_500), (e: unknown) => {
    const m = (e as Error).message;
    return /check that Postgres runs and TANDEM_DATABASE_URL is right/.test(m) && !m.includes('hunter2');
  });
});
