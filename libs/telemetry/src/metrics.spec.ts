import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Metrics, MissCounter, metricsText, observeFailoverTimings, onScrape, registry } from './metrics';
import { telemetryResource } from './telemetry';

describe('metrics', () => {
  test('a heartbeat is missed once the silence is half an interval past when it was due; heard again, counting starts over', () => {
    const m = new MissCounter(100);
    assert.deepEqual(
      [null, 40, 140, 149, 150, 260, 420, 30, 160].map((age) => m.observe('node-b udp', age)),
      [0, 0, 0, 0, 1, 1, 1, 0, 1],
    );
    assert.equal(m.observe('node-c udp', 150), 1, 'each peer and channel counted apart');
  });

  test("a failover's timings land in the phase histogram (a node-down failover has no release phase) and the counter", async () => {
    observeFailoverTimings({ detectionMs: 3000, fenceWaitMs: 2500, releaseMs: 0, importMs: 800, ipsMs: 120, sharesMs: 300, totalMs: 6720 }, 'node-down');
    observeFailoverTimings({ detectionMs: 0, fenceWaitMs: 0, releaseMs: 900, importMs: 700, ipsMs: 100, sharesMs: 200, totalMs: 1900 }, 'pool-faulted');
    const text = await registry.getSingleMetricAsString('tandem_failover_phase_seconds');
    const count = (phase: string) => Number(new RegExp(`tandem_failover_phase_seconds_count\\{phase="${phase}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
    assert.deepEqual(['detection', 'fence_wait', 'release', 'import', 'ips', 'shares', 'total'].map(count), [1, 1, 1, 2, 2, 2, 2]);
    assert.match(text, /tandem_failover_phase_seconds_sum\{phase="total"\} 8\.62/);
    assert.match(await registry.getSingleMetricAsString('tandem_failovers_total'), /tandem_failovers_total\{reason="node-down",result="succeeded"\} 1/);
  });

  test('the scrape hooks run before every scrape; one that fails leaves the others', async () => {
    let runs = 0;
    onScrape(() => {
      runs++;
      Metrics.poolState().set({ pool: 'tank', state: 'serving' }, 1);
    });
    onScrape(async () => {
      throw new Error('KV unreachable');
    });
    onScrape(() => {
      throw new Error('not a promise');
    });
    const { body, contentType } = await metricsText();
    assert.equal(runs, 1);
    assert.match(contentType, /^text\/plain/);
    assert.match(body, /tandem_pool_state\{pool="tank",state="serving"\} 1/);
  });
});

describe('trace resource', () => {
  test('service name, namespace, instance id (node/service) and tandem.node; OTEL_RESOURCE_ATTRIBUTES adds and wins', () => {
    const before = process.env.OTEL_RESOURCE_ATTRIBUTES;
    process.env.OTEL_RESOURCE_ATTRIBUTES = 'deployment.environment=lab,service.namespace=storage-east';
    try {
      const r = telemetryResource({ serviceName: 'tandem-heartbeat', service: 'heartbeat', nodeId: 'node-a' }).attributes;
      assert.equal(r['service.name'], 'tandem-heartbeat');
      assert.equal(r['service.instance.id'], 'node-a/heartbeat');
      assert.equal(r['tandem.node'], 'node-a');
      assert.equal(r['deployment.environment'], 'lab');
      assert.equal(r['service.namespace'], 'storage-east');
      delete process.env.OTEL_RESOURCE_ATTRIBUTES;
      assert.equal(telemetryResource({ serviceName: 'tandem-heartbeat', service: 'heartbeat', nodeId: 'node-a' }).attributes['service.namespace'], 'tandem');
    } finally {
      if (before === undefined) delete process.env.OTEL_RESOURCE_ATTRIBUTES;
      else process.env.OTEL_RESOURCE_ATTRIBUTES = before;
    }
  });
});
