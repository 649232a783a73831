import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { JsonLogger, logFormat } from './logger';

function capture(level: 'log' | 'warn' | 'debug' = 'log') {
  const lines: Array<Record<string, unknown>> = [];
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { lines, logger: new JsonLogger({ service: 'heartbeat', node: 'node-a', level }, dest) };
}

describe('JSON logs', () => {
  test('one line per call: level, ISO time, service, node, context, msg; no trace ids outside a span', () => {
    const { lines, logger } = capture();
    logger.log('peer node-b: up → down', 'peer-monitor');
    logger.warn('stalled');
    logger.debug('not at level log');
    assert.equal(lines.length, 2);
    const [l] = lines;
    assert.deepEqual(
      { level: l.level, service: l.service, node: l.node, context: l.context, msg: l.msg },
      { level: 'info', service: 'heartbeat', node: 'node-a', context: 'peer-monitor', msg: 'peer node-b: up → down' },
    );
    assert.ok(!Number.isNaN(Date.parse(String(l.time))) && /T.*Z$/.test(String(l.time)), String(l.time));
    assert.equal(lines[1].level, 'warn');
    assert.ok(!('trace_id' in l) && !('span_id' in l));
  });

  test('inside an active span the line carries its trace_id and span_id', () => {
    const cm = new AsyncLocalStorageContextManager().enable();
    context.setGlobalContextManager(cm);
    try {
      const tracer = new BasicTracerProvider().getTracer('t');
      const { lines, logger } = capture();
      const span = tracer.startSpan('pool failover');
      context.with(trace.setSpan(context.active(), span), () => logger.warn('failover: pool tank', 'failover'));
      span.end();
      assert.equal(lines[0].trace_id, span.spanContext().traceId);
      assert.equal(lines[0].span_id, span.spanContext().spanId);
    } finally {
      context.disable();
    }
  });

  test("Nest's error(message, stack, context) keeps the stack and the context; an Error keeps its message", () => {
    const { lines, logger } = capture();
    logger.error('boom', 'Error: boom\n    at x (y.js:1:1)', 'rpc');
    logger.error(new Error('bad'), 'ExceptionHandler');
    assert.deepEqual([lines[0].msg, lines[0].context, String(lines[0].stack).startsWith('Error: boom')], ['boom', 'rpc', true]);
    assert.deepEqual([lines[1].msg, lines[1].context, lines[1].level], ['bad', 'ExceptionHandler', 'error']);
  });

  test('the format: TANDEM_LOG_FORMAT when set, else pretty on a terminal and JSON elsewhere', () => {
    assert.equal(logFormat(undefined, true), 'pretty');
    assert.equal(logFormat(undefined, false), 'json');
    assert.equal(logFormat('json', true), 'json');
    assert.equal(logFormat('pretty', false), 'pretty');
  });
});
