import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, TandemError, poolOpRequests, scheduledSnapshotName, scheduledSnapshotTime, snapshotScheduleSchema } from '@tandem/contracts';
import { nextScheduledAt, scheduleDue, scheduleExpiry, withSchedule, withoutSchedule } from './snapshot-schedule';

const T0 = Date.UTC(2026, 11, 5, 1, 0, 0);
const hourly = { name: 'hourly', everyS: 3600, keep: 3 };
const snap = (schedule: string, at: number, userrefs = 0) => ({ name: scheduledSnapshotName(schedule, new Date(at)), userrefs });

test("names tell the schedule and the UTC time, and are read back; other names are not the schedule's", () => {
  assert.equal(scheduledSnapshotName('hourly', new Date(T0 + 61_500)), 'tandem-hourly-20261205-010101');
  assert.equal(scheduledSnapshotTime('hourly', 'tandem-hourly-20261205-010101'), T0 + 61_000);
  for (const other of ['tandem-20261205-010101', 'tandem-daily-20261205-010101', 'tandem-hourly-2026120-010101', 'hourly-20261205-010101', 'tandem-hourly-20261205-010101x'])
    assert.equal(scheduledSnapshotTime('hourly', other), null, other);
  // a schedule named like the start of another is not confused with it
  assert.equal(scheduledSnapshotTime('a', 'tandem-a-b-20261205-010101'), null);
});

test('due: at once without a snapshot of its own; then every interval from the newest one (wherever it was taken)', () => {
  assert.ok(scheduleDue(hourly, [], T0));
  assert.ok(scheduleDue(hourly, [snap('daily', T0 - 10)], T0), "another schedule's snapshots do not count");
  const taken = [snap('hourly', T0 - 7200_000), snap('hourly', T0 - 1800_000)];
  assert.equal(nextScheduledAt(hourly, taken, T0), T0 + 1800_000);
  assert.ok(!scheduleDue(hourly, taken, T0));
  assert.ok(scheduleDue(hourly, taken, T0 + 1800_000));
  // a newest snapshot stamped ahead of the clock waits one interval from now at most
  assert.equal(nextScheduledAt(hourly, [snap('hourly', T0 + 86_400_000)], T0), T0 + 3600_000);
});

test("kept: the newest `keep` of the schedule; held ones and others' snapshots never destroyed", () => {
  const list = [
    snap('hourly', T0 - 5 * 3600_000),
    snap('hourly', T0 - 4 * 3600_000, 1),
    snap('hourly', T0 - 3 * 3600_000),
    snap('daily', T0 - 10 * 86_400_000),
    { name: 'tandem-20261201-000000', userrefs: 0 },
    { name: 'before-upgrade', userrefs: 0 },
    snap('hourly', T0 - 2 * 3600_000),
    snap('hourly', T0 - 1 * 3600_000),
  ];
  assert.deepEqual(
    scheduleExpiry(hourly, list).map((s) => s.name),
    [scheduledSnapshotName('hourly', new Date(T0 - 5 * 3600_000))],
  );
  // keep 2: the three oldest are beyond it, the held one of them stays
  assert.deepEqual(
    scheduleExpiry({ ...hourly, keep: 2 }, list).map((s) => s.name),
    [scheduledSnapshotName('hourly', new Date(T0 - 5 * 3600_000)), scheduledSnapshotName('hourly', new Date(T0 - 3 * 3600_000))],
  );
  assert.deepEqual(scheduleExpiry({ ...hourly, keep: 10 }, list), []);
});

test('adding replaces the schedule of that name; a pool has at most 16; removing an unknown one names those there are', () => {
  const a = withSchedule([], hourly, 'tank');
  const b = withSchedule(a, { name: 'hourly', everyS: 1800, keep: 5 }, 'tank');
  assert.deepEqual(b, [{ name: 'hourly', everyS: 1800, keep: 5 }]);
  let many = b;
  for (let i = 0; i < 15; i++) many = withSchedule(many, { name: `s${i}`, everyS: 60, keep: 1 }, 'tank');
  assert.equal(many.length, 16);
  assert.throws(
    () => withSchedule(many, { name: 'one-more', everyS: 60, keep: 1 }, 'tank'),
    (e: TandemError) => e.code === ErrorCode.InvalidArgument,
  );
  assert.deepEqual(withoutSchedule(b, 'hourly', 'tank'), []);
  assert.throws(
    () => withoutSchedule(b, 'daily', 'tank'),
    (e: TandemError) => e.code === ErrorCode.NotFound && /has: hourly/.test(e.message),
  );
});

test('the request: every as a duration of at least 10 s, keep 1..1000, a schedule name operators can read', () => {
  const ok = poolOpRequests['pool.schedule-add'].parse({ pool: 'tank', name: 'hourly', every: '1h', keep: 24 });
  assert.deepEqual([ok.every, ok.keep], [3600, 24]);
  assert.equal(poolOpRequests['pool.schedule-add'].parse({ pool: 'tank', name: 'quick', every: '10s', keep: 2 }).every, 10);
  for (const bad of [{ every: '5s' }, { every: 'hourly' }, { every: '0m' }, { keep: 0 }, { keep: 1001 }, { name: 'Hourly' }, { name: '1st' }, { name: 'a--b' }, { name: 'x; rm -rf /' }])
    assert.ok(!poolOpRequests['pool.schedule-add'].safeParse({ pool: 'tank', name: 'hourly', every: '1h', keep: 24, ...bad }).success, JSON.stringify(bad));
  assert.ok(!snapshotScheduleSchema.safeParse({ name: 'hourly', everyS: 9, keep: 1 }).success);
});
