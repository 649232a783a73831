import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isProbe, routeOf } from './http-observability';

describe('HTTP observability', () => {
  test('the route label is the pattern a request matched, never its path', () => {
    assert.equal(routeOf({ route: { path: '/api/v1/pools/:name' }, baseUrl: '' }), '/api/v1/pools/:name');
    assert.equal(routeOf({ route: undefined, baseUrl: '' }), 'unmatched');
  });
  test('probes (health, metrics) are not traced', () => {
    assert.deepEqual(['/metrics', '/health/ready', '/health/live', '/api/v1/pools'].map(isProbe), [true, true, true, false]);
  });
});
