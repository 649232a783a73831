import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { context } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { inChildSpan, inSpan, startTelemetry, stopTelemetry, tracing } from './telemetry';

describe('traces', () => {
  test('requests and commands are traced as steps of a trace going on, never by themselves', async () => {
    const exporter = new InMemorySpanExporter();
    startTelemetry({ serviceName: 'tandem-test', nodeId: 'node-a', spanProcessors: [new SimpleSpanProcessor(exporter)] });
    try {
      // a periodic poll: no trace
      await inChildSpan('request tandem.node.node-a.exec.pool.list', {}, async () => assert.equal(tracing(), false));
      assert.equal(exporter.getFinishedSpans().length, 0);
      // the same inside an operation: a child of it
      await inSpan('pool move', {}, () => inChildSpan('request tandem.node.node-a.exec.pool.export', {}, async () => assert.equal(tracing(), true)));
      const spans = exporter.getFinishedSpans();
      assert.deepEqual(
        spans.map((s) => s.name),
        ['request tandem.node.node-a.exec.pool.export', 'pool move'],
      );
      assert.equal(spans[0].parentSpanId, spans[1].spanContext().spanId);
    } finally {
      await stopTelemetry();
      context.disable();
    }
  });
});
