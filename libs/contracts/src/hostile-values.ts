import { ZodArray, ZodBoolean, ZodDefault, ZodEffects, ZodEnum, ZodNullable, ZodNumber, ZodObject, ZodOptional, ZodRecord, ZodString, ZodUnion, type ZodTypeAny } from 'zod';

/**
 * What an attacker or a slip sends to a field, by the field's kind: shell metacharacters, `..`,
 * overlong strings, wrong types, huge and negative numbers. Every operation's contract refuses
 * each of them naming the field (bad-input.spec walks them all; the security suite sends them
 * over the wire). A field of a kind not listed here gets `UNKNOWN_KIND`, which the walkers refuse.
 */
export const UNKNOWN_KIND = Symbol.for('unknown kind');

function unwrap(t: ZodTypeAny): ZodTypeAny {
  for (;;) {
    if (t instanceof ZodOptional || t instanceof ZodNullable || t instanceof ZodDefault) t = t._def.innerType as ZodTypeAny;
    else if (t instanceof ZodEffects) t = t._def.schema as ZodTypeAny;
    else return t;
  }
}

/** The fields of an operation's request (its contract is an object, possibly refined). */
export function operationFields(schema: ZodTypeAny): Record<string, ZodTypeAny> {
  const o = unwrap(schema);
  if (!(o instanceof ZodObject)) throw new Error('an operation takes an object');
  return (o as ZodObject<Record<string, ZodTypeAny>>).shape;
}

const META = ['$(reboot)', '`id`', 'a;rm -rf /', 'a|b', 'a b', '../../etc/passwd', 'x'.repeat(5_000)];

export function hostileValues(t: ZodTypeAny): unknown[] {
  const u = unwrap(t);
  if (u instanceof ZodString || u instanceof ZodEnum) return [12345, true, {}, ...META];
  if (u instanceof ZodNumber) return ['12', true, 1e308, -1, 1.5, {}];
  if (u instanceof ZodBoolean) return ['yes', 1, {}];
  if (u instanceof ZodArray) return ['x', 12345, [12345], ['$(reboot)'], { 0: 'a' }];
  if (u instanceof ZodUnion) return [true, {}, 1e308, -1, '$(reboot)', '99999999d'];
  if (u instanceof ZodRecord || u instanceof ZodObject) return ['x', 12345, [1]];
  return [UNKNOWN_KIND];
}
