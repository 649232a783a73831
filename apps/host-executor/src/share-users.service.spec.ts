import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ShareUserRecord } from '@tandem/contracts';
import { SHARE_USER_COMMENT, parsePasswd, planAccounts } from './share-users.service';

const user = (name: string, uid: number): ShareUserRecord => ({
  name,
  uid,
  ntHash: '8846f7eaee8fb117ad06bdd830b7586c',
  createdAt: '2026-12-04T00:00:00Z',
  passwordSetAt: '2026-12-04T00:00:00Z',
  by: 'test',
});
const passwd = (...lines: string[]) => parsePasswd(['root:x:0:0:root:/root:/bin/bash', 'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin', ...lines].join('\n'));
const ours = (name: string, uid: number) => `${name}:x:${uid}:100:${SHARE_USER_COMMENT}:/nonexistent:/usr/sbin/nologin`;

test('new share users get accounts; ours already right are kept', () => {
  const plan = planAccounts([user('alice', 20000), user('bob', 20001)], passwd(ours('alice', 20000)));
  assert.deepEqual(
    plan.ok.map((u) => u.name),
    ['alice'],
  );
  assert.deepEqual(
    plan.add.map((u) => u.name),
    ['bob'],
  );
  assert.deepEqual(plan.remove, []);
  assert.deepEqual(plan.refused, []);
});

test("a removed share user's account goes; an account that is not ours is never touched", () => {
  const plan = planAccounts([], passwd(ours('carol', 20005), 'dave:x:20006:100:Dave:/home/dave:/bin/bash'));
  assert.deepEqual(plan.remove, ['carol']);
});

test("a name or uid that is another account's here is refused, never taken over", () => {
  const plan = planAccounts([user('postfix', 20010), user('erin', 1000)], passwd('postfix:x:108:112::/var/spool/postfix:/usr/sbin/nologin', 'frank:x:1000:1000:Frank:/home/frank:/bin/bash'));
  assert.deepEqual(
    plan.refused.map((r) => [r.user.name, /of its own|belongs to frank/.test(r.why)]),
    [
      ['postfix', true],
      ['erin', true],
    ],
  );
  assert.deepEqual(plan.add, []);
  assert.deepEqual(plan.remove, []);
});

test('ours under another uid is made again with the right one', () => {
  const plan = planAccounts([user('alice', 20003)], passwd(ours('alice', 20000)));
  assert.deepEqual(plan.remove, ['alice']);
  assert.deepEqual(
    plan.add.map((u) => [u.name, u.uid]),
    [['alice', 20003]],
  );
});
