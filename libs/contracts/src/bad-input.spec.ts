import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ZodTypeAny } from 'zod';
import { describeZodError } from './api';
import { hostOpRequests } from './host-ops';
import { UNKNOWN_KIND, hostileValues, operationFields } from './hostile-values';
import { rmOpRequests } from './rm-ops';

/**
 * Every field of every operation (the resource-manager's, asked through REST, the CLI and NATS,
 * and the host-executor's, asked over NATS) refuses what an attacker or a slip would send: shell
 * metacharacters, `..`, overlong strings, wrong types, huge numbers, unknown fields. Each refusal
 * names the field. The REST and CLI paths check the same schemas before anything is sent
 * (contractRequest, the CLI's parsers), and the host-executor before any command runs.
 */
for (const [group, ops] of [
  ['resource-manager', rmOpRequests],
  ['host-executor', hostOpRequests],
] as const) {
  test(`${group}: every field of every operation refuses bad values naming the field; unknown fields are refused`, () => {
    let tried = 0;
    for (const [op, schema] of Object.entries(ops as Record<string, ZodTypeAny>)) {
      for (const [field, type] of Object.entries(operationFields(schema))) {
        const values = hostileValues(type);
        assert.ok(!values.includes(UNKNOWN_KIND), `${op}.${field}: a kind of field this test does not know`);
        for (const v of values) {
          const r = (schema as ZodTypeAny).safeParse({ [field]: v });
          assert.ok(!r.success && r.error.issues.some((i) => i.path[0] === field), `${group} ${op}.${field} takes ${JSON.stringify(v)?.slice(0, 40)}`);
          tried++;
        }
      }
      const r = (schema as ZodTypeAny).safeParse({ evil: 1 });
      assert.ok(!r.success, `${op}: an unknown field is taken`);
      const unknown = r.error.issues.find((i) => i.code === 'unrecognized_keys');
      assert.ok(unknown, `${op}: an unknown field is not named`);
    }
    assert.ok(tried > 100, `only ${tried} values tried`);
  });
}

test('the answer names the field and what is wrong, in one line', () => {
  const r = rmOpRequests['pool.move'].safeParse({ pool: 'tank', to: 'node-b', actor: '$(reboot)' });
  assert.ok(!r.success);
  assert.deepEqual(describeZodError(r.error), { field: 'actor', message: 'actor: must be 1-64 letters, digits, _ . : @ + -' });
  const e = hostOpRequests['pool.import'].safeParse({ pool: 'tank', epoch: 2 ** 53 });
  assert.ok(!e.success);
  assert.equal(describeZodError(e.error).field, 'epoch');
  assert.match(describeZodError(e.error).message, /^epoch: must be at most 1000000000 \(epochs grow by one per move or failover\)$/);
});
