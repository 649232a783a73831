import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { ActivityLog } from './activity-log.service';
import { createDataSource, migrateUnderLock, openDatabase } from './data-source';
import { Initial1763683200000 } from './migrations/1763683200000-Initial';

/** Against the real Postgres on this machine, in a database made for this run. */
const ADMIN = process.env.TANDEM_TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const db = `tandem_it_${randomBytes(4).toString('hex')}`;
const url = ADMIN.replace(/\/[^/]*$/, `/${db}`);
/** A second database migrated only as far as the Initial migration, to compare schemas with. */
const initialDb = `${db}_initial`;
const initialUrl = ADMIN.replace(/\/[^/]*$/, `/${initialDb}`);
const DROPPED = ['cluster', 'floating_ip', 'ha_pool', 'node', 'share'];
let admin: Client;

before(async () => {
  admin = new Client({ connectionString: ADMIN });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${db}`);
  await admin.query(`CREATE DATABASE ${initialDb}`);
});

after(async () => {
  await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  await admin.query(`DROP DATABASE IF EXISTS ${initialDb} WITH (FORCE)`);
  await admin.end();
});

async function publicTables(ds: DataSource): Promise<string[]> {
  const rows: Array<{ table_name: string }> = await ds.query(`SELECT table_name FROM information_schema.tables WHERE table_schema='public' ORDER BY 1`);
  return rows.map((r) => r.table_name);
}

/** Columns, constraints and indexes of `tables`, as Postgres reports them. */
async function schemaOf(ds: DataSource, tables: string[]): Promise<{ columns: Array<{ table_name: string }>; constraints: unknown[]; indexes: unknown[] }> {
  const columns: Array<{ table_name: string }> = await ds.query(
    `SELECT table_name, ordinal_position, column_name, data_type, is_nullable, column_default
       FROM information_schema.columns WHERE table_schema='public' AND table_name = ANY($1) ORDER BY 1, 2`,
    [tables],
  );
  const constraints = await ds.query(
    `SELECT conrelid::regclass::text AS table_name, conname, pg_get_constraintdef(oid) AS def
       FROM pg_constraint WHERE connamespace='public'::regnamespace AND conrelid::regclass::text = ANY($1) ORDER BY 1, 2`,
    [tables],
  );
  const indexes = await ds.query(`SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname='public' AND tablename = ANY($1) ORDER BY 1, 2`, [tables]);
  return { columns, constraints, indexes };
}

test('migrations run once even when several services start together (advisory lock)', async () => {
  const sources: DataSource[] = await Promise.all([1, 2, 3].map((i) => openDatabase(url, `it-${i}`)));
  try {
    const rows = await sources[0].query('SELECT name FROM tandem_migrations');
    assert.deepEqual(
      rows.map((r: { name: string }) => r.name),
      ['Initial1763683200000', 'DropUnusedConfigTables1796335869021', 'ActivityDetail1796425200000'],
    );
    assert.deepEqual(await publicTables(sources[0]), ['activity_log', 'tandem_migrations'], 'only the activity log (and the migrations table) remain');
    assert.deepEqual(await migrateUnderLock(sources[1]), [], 'nothing left to run');
  } finally {
    await Promise.all(sources.map((s) => s.destroy()));
  }
});

test('undoing the drop recreates the config tables exactly as the Initial migration made them', async () => {
  const initial = new DataSource({ ...createDataSource(initialUrl, 'it-initial').options, migrations: [Initial1763683200000] });
  await initial.initialize();
  let expected: Awaited<ReturnType<typeof schemaOf>>;
  try {
    await initial.runMigrations({ transaction: 'each' });
    expected = await schemaOf(initial, DROPPED);
    assert.deepEqual([...new Set(expected.columns.map((c) => c.table_name))], DROPPED, 'the comparison covers every dropped table');
  } finally {
    await initial.destroy();
  }
  const ds = await openDatabase(url, 'it-undo');
  try {
    // the newest first: the activity log's detail column goes, then the drop is undone
    await ds.undoLastMigration({ transaction: 'each' });
    assert.ok(!(await schemaOf(ds, ['activity_log'])).columns.some((c) => (c as { column_name?: string }).column_name === 'detail'), 'the detail column is gone');
    await ds.undoLastMigration({ transaction: 'each' });
    assert.deepEqual(await publicTables(ds), ['activity_log', ...DROPPED, 'tandem_migrations']);
    assert.deepEqual(await schemaOf(ds, DROPPED), expected);
    assert.deepEqual(await migrateUnderLock(ds), ['DropUnusedConfigTables1796335869021', 'ActivityDetail1796425200000']);
    assert.deepEqual(await publicTables(ds), ['activity_log', 'tandem_migrations']);
  } finally {
    await ds.destroy();
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
    assert.deepEqual(
      rows.map((r) => [r.result, r.eventId]),
      [
        ['failed', 'ev-2'],
        ['started', 'ev-1'],
      ],
    );
    assert.equal(rows[1].traceId, 'a'.repeat(32));
    assert.equal(rows[0].error, 'export timed out');
    assert.equal(rows[0].detail, null);
    // a hook's run says more than its error: its exit and last lines
    await log.record({ actor: 'cluster', action: 'pool.hook.post-start', target: 'tank', result: 'succeeded', detail: 'hook /h/10-a on node-b exited 0 after 5 ms; last lines: ok', eventId: 'ev-3' });
    assert.equal((await log.recent(1))[0].detail, 'hook /h/10-a on node-b exited 0 after 5 ms; last lines: ok');
    await assert.rejects(log.record({ actor: 'x', action: 'y', target: 'z', result: 'maybe' as never }), /check/);
  } finally {
    await ds.destroy();
  }
});

test('activity log pages: newest first, before a cursor (an event id, or an id), of one pool, one node, one result; the cursor of the page before', async () => {
  const ds = await openDatabase(url, 'it-pages');
  try {
    const log = new ActivityLog(ds);
    await ds.query('DELETE FROM activity_log');
    const entries: Array<[string, string, 'started' | 'succeeded' | 'failed']> = [
      ['pool.attach', 'tank', 'started'],
      ['pool.attach', 'tank', 'succeeded'],
      ['node.offline', 'node-b', 'started'],
      ['node.offline', 'node-b', 'failed'],
      // a share user of the same name as the pool: not about the pool
      ['share-user.add', 'tank', 'succeeded'],
      ['replication.resume', 'tank', 'failed'],
      ['pool.failover', 'tank', 'succeeded'],
      ['replication.keys-rotate', 'node-b', 'succeeded'],
      ['pool.move', 'backup', 'failed'],
      ['cluster.join', 'node-b', 'succeeded'],
    ];
    for (const [i, [action, target, result]] of entries.entries()) await log.record({ actor: 'operator', action, target, result, eventId: `ev-${i}` });
    const ids = (page: { entries: Array<{ eventId: string | null }> } | null) => page?.entries.map((e) => e.eventId);

    const first = await log.page({ limit: 4 });
    assert.deepEqual(ids(first), ['ev-9', 'ev-8', 'ev-7', 'ev-6']);
    assert.equal(first?.next, 'ev-6');
    const second = await log.page({ limit: 4, before: first?.next });
    assert.deepEqual(ids(second), ['ev-5', 'ev-4', 'ev-3', 'ev-2']);
    const last = await log.page({ limit: 4, before: second?.next });
    assert.deepEqual(ids(last), ['ev-1', 'ev-0']);
    assert.equal(last?.next, undefined, 'no page before the last');
    // a cursor may be this node's id of an entry too
    const byId = second!.entries[0] as unknown as { id: string };
    assert.deepEqual(ids(await log.page({ limit: 2, before: byId.id })), ['ev-4', 'ev-3']);
    assert.equal(await log.page({ limit: 2, before: 'ev-unknown' }), null, 'a cursor naming no entry');

    assert.deepEqual(ids(await log.page({ limit: 100, pool: 'tank' })), ['ev-6', 'ev-5', 'ev-1', 'ev-0']);
    assert.deepEqual(ids(await log.page({ limit: 100, node: 'node-b' })), ['ev-9', 'ev-7', 'ev-3', 'ev-2']);
    assert.deepEqual(ids(await log.page({ limit: 100, result: 'failed' })), ['ev-8', 'ev-5', 'ev-3']);
    assert.deepEqual(ids(await log.page({ limit: 100, pool: 'tank', result: 'succeeded' })), ['ev-6', 'ev-1']);
    const paged = await log.page({ limit: 1, pool: 'tank', result: 'succeeded' });
    assert.deepEqual(ids(paged), ['ev-6']);
    assert.deepEqual(ids(await log.page({ limit: 1, pool: 'tank', result: 'succeeded', before: paged?.next })), ['ev-1']);
    // LIKE's wildcards in a name are only characters
    assert.deepEqual(ids(await log.page({ limit: 100, pool: 'ta%' })), []);
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
