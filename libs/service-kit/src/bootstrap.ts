import { setPriority } from 'node:os';
import { ProcessRunner } from '@tandem/host';
import { createServer, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { Logger, type DynamicModule, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { loadConfigOrExit, readBaseConfig, type BaseConfig } from '@tandem/config';
import { Events, KV_BUCKETS, SERVICES, STREAMS, type ServiceName } from '@tandem/contracts';
import { connectNats, EventPublisher, NatsRpcServer, RpcPassthroughFilter, awaitDeclared, provisionKv, provisionStreams, type RpcRoute } from '@tandem/messaging';
import { Metrics, startMetrics, startTelemetry, stopTelemetry } from '@tandem/telemetry';
import type { ZodTypeAny } from 'zod';
import type { ServiceContext } from './tokens';
import { raiseAutogroup } from './priority';
import { httpObservability } from './http-observability';
import { logFormat, serviceLogger } from './logger';

export interface ServiceDefinition {
  service: ServiceName;
  /** The app's root module, given the service context. */
  module: (ctx: ServiceContext) => DynamicModule;
  /** NATS request/reply routes served by @MessagePattern handlers (given the app, for routes served only while something holds, e.g. a lease). */
  rpc?: (
    ctx: ServiceContext,
    app: INestApplication,
  ) => { routes: RpcRoute[]; schemas?: Record<string, ZodTypeAny>; queue?: string; observe?: (operation: string, seconds: number, errorCode: string | null) => void };
  /** Extra configuration to validate before anything starts (throws ConfigError). */
  readConfig?: () => unknown;
  /** Called after the HTTP server listens. */
  afterStart?: (app: INestApplication, ctx: ServiceContext) => Promise<void>;
  /** The addresses the HTTP server listens on (default: TANDEM_HEALTH_BIND, else every address, 0.0.0.0). */
  listenOn?: () => readonly string[];
  /**
   * This service declares the JetStream streams and buckets (creates them, brings their limits up
   * to date): host-executor, the first service of a node to start. The others may not (their
   * NATS permissions deny it) and wait until they exist.
   */
  declaresJetStream?: boolean;
  /**
   * A certificate to serve HTTPS with: then every address but loopback (127.0.0.1, ::1: the
   * node itself, its local tools and health checks) is HTTPS only.
   */
  tls?: (ctx: ServiceContext) => Promise<{ cert: string; key: string }>;
  /**
   * The failure detector and the fencer must keep their timing under CPU load (as cluster
   * daemons do): they run at a raised scheduling priority (nice −15 unless TANDEM_NICE says
   * otherwise; needs root or CAP_SYS_NICE, else a warning), and so does their autogroup when they
   * lead a session of their own (`raiseAutogroup`: without it the nice level counted for nothing
   * against other sessions' processes).
   */
  timingCritical?: boolean;
  /**
   * May run at real-time priority (SCHED_FIFO at TANDEM_RT_PRIORITY; default 0: off, the nice
   * level only). Off by default: a Node.js process at SCHED_FIFO took 90 % of a core each on a
   * testbed under disk saturation and starved its node (the fence, the teardown) — a real-time
   * process that misbehaves takes the machine with it. Children run at normal priority (reset on fork).
   */
  realtime?: boolean;
}

/** Addresses only the node itself reaches: served plain even when the service has a certificate. */
const LOOPBACK = new Set(['127.0.0.1', '::1']);

function listenHttp(server: Server, port: number, host: string): Promise<Server> {
  return new Promise<Server>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

async function withRetry<T>(what: string, fn: () => Promise<T>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what}: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/** Start one Tandem service: config, telemetry, NATS, JetStream declarations, Nest, health, RPC. */
export async function bootstrapService(def: ServiceDefinition): Promise<INestApplication> {
  const config: BaseConfig = loadConfigOrExit(() => {
    const c = readBaseConfig();
    def.readConfig?.();
    return c;
  });
  startTelemetry({ serviceName: `tandem-${def.service}`, service: def.service, nodeId: config.nodeId, otlpEndpoint: config.otlpEndpoint });
  startMetrics({ service: def.service, node: config.nodeId });
  // every Nest logger of the process (Nest's own included) writes through this one from now on
  const serviceLog = serviceLogger({ service: def.service, node: config.nodeId, level: config.logLevel, format: logFormat(config.logFormat, process.stdout.isTTY === true) });
  Logger.overrideLogger(serviceLog);
  const logger = new Logger(def.service);
  const nc = await connectNats({ servers: config.natsUrl, name: `${def.service}@${config.nodeId}`, seed: config.natsSeed, ca: config.natsCa });
  const ctx: ServiceContext = { service: def.service, config, nc, startedAt: new Date() };
  // at 0 from the start, so that a rate over them is defined before the first reconnect
  Metrics.natsReconnects();
  Metrics.natsDisconnects();
  // losses of the connection, counted and said; what the servers refused this identity (a
  // permission it lacks): a configuration fault, said loudly
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') {
        Metrics.natsDisconnects().inc();
        logger.warn(`NATS: disconnected from ${String(s.data)}`);
      } else if (s.type === 'reconnect') {
        Metrics.natsReconnects().inc();
        logger.log(`NATS: reconnected to ${String(s.data)}`);
      } else if (s.type === 'error')
        logger.error(
          `NATS: ${String(s.data)} — the servers' permissions for ${def.service}@${config.nodeId} do not allow this (see libs/contracts/src/nats-access.ts and the servers' authorization block)`,
        );
    }
  })().catch(() => undefined);

  if (def.declaresJetStream) {
    await withRetry(
      'declaring JetStream streams and buckets',
      async () => {
        await provisionStreams(await nc.jetstreamManager({ timeout: 5_000 }), STREAMS);
        await provisionKv(nc, KV_BUCKETS);
      },
      60_000,
    );
  } else {
    await withRetry('waiting for the JetStream streams and buckets that host-executor declares (is it running?)', () => awaitDeclared(nc, STREAMS, KV_BUCKETS), 120_000);
  }

  const app = await NestFactory.create(def.module(ctx), {
    logger: serviceLog,
    abortOnError: false,
  });
  app.useLogger(serviceLog);
  // request counts on every health port; on the API, every request but the probes is a span continuing the caller's traceparent
  app.use(httpObservability({ traced: def.service === 'api-gateway' }));
  app.enableShutdownHooks(['SIGTERM', 'SIGINT']);
  if (def.rpc) {
    const rpc = def.rpc(ctx, app);
    app.useGlobalFilters(new RpcPassthroughFilter(app.getHttpAdapter()));
    app.connectMicroservice({ strategy: new NatsRpcServer({ connection: nc, routes: rpc.routes, schemas: rpc.schemas, queue: rpc.queue, observe: rpc.observe }) }, { inheritAppConfig: true });
    await app.startAllMicroservices();
  }
  const port = config.healthPort ?? SERVICES[def.service].healthPort;
  const addresses = def.listenOn?.() ?? config.healthBind ?? [];
  const tls = def.tls ? await def.tls(ctx) : null;
  // one server per address on Nest's handlers (plain, or HTTPS off loopback when the service has a
  // certificate); they close with Nest's own, which never listens
  await app.init();
  const handler = app.getHttpAdapter().getInstance() as RequestListener;
  const hosts = addresses.length > 0 ? addresses : ['0.0.0.0'];
  const secure = (host: string) => tls !== null && !LOOPBACK.has(host);
  const servers = await Promise.all(hosts.map((host) => listenHttp(secure(host) ? createHttpsServer({ cert: tls!.cert, key: tls!.key }, handler) : createServer(handler), port, host)));
  (app.getHttpServer() as Server).once('close', () => servers.forEach((s) => s.close()));
  const https = hosts.filter(secure);
  const http = hosts.filter((h) => !secure(h));
  const where = [https.length ? `HTTPS on ${https.join(', ')}` : '', http.length ? `HTTP on ${http.join(', ')}` : ''].filter(Boolean).join(' and ') + ` port ${port}`;
  await def.afterStart?.(app, ctx);
  logger.log(`${def.service} ready on node ${config.nodeId} (${where})`);
  await new EventPublisher(nc, config.clusterId, `${def.service}@${config.nodeId}`)
    .publish(Events.nodeServiceStarted, config.nodeId, { service: def.service, version: '0.1.0' })
    .catch((err) => logger.warn(`could not publish service-started: ${(err as Error).message}`));
  process.once('exit', () => void stopTelemetry());
  return app;
}

/** main.ts of every app: bootstrap, and on a fatal start-up error one line and exit 1. */
export function runService(def: ServiceDefinition): void {
  if (def.timingCritical) {
    const nice = Number(process.env.TANDEM_NICE ?? -15);
    try {
      if (!Number.isInteger(nice) || nice < -20 || nice > 19) throw new Error(`TANDEM_NICE must be a whole number from -20 to 19, not ${process.env.TANDEM_NICE}`);
      setPriority(0, nice);
      raiseAutogroup(nice);
    } catch (err) {
      process.stderr.write(`${def.service}: could not raise the scheduling priority (${(err as Error).message}); under heavy CPU load heartbeats and fencing may run late\n`);
    }
  }
  if (def.realtime) void raiseToRealtime(def.service, process.env.TANDEM_RT_PRIORITY);
  bootstrapService(def).catch((err) => {
    process.stderr.write(`${def.service}: failed to start: ${(err as Error).message}\n`);
    process.exit(1);
  });
}

/** Parses TANDEM_RT_PRIORITY: a SCHED_FIFO priority from 1 to 99, or 0 (off, the default). */
export function realtimePriority(raw: string | undefined): number {
  const prio = Number(raw ?? 0);
  if (!Number.isInteger(prio) || prio < 0 || prio > 99) throw new Error(`TANDEM_RT_PRIORITY must be a whole number from 0 (off) to 99, not ${raw}`);
  return prio;
}

/**
 * Every thread of this process (or `pid`) to SCHED_FIFO (`chrt`, util-linux: Node has no call for it), with
 * reset-on-fork so that the commands it runs do not inherit it. True when it took effect.
 */
export async function raiseToRealtime(service: string, raw: string | undefined, pid = process.pid, runner = new ProcessRunner(5_000)): Promise<boolean> {
  try {
    const prio = realtimePriority(raw);
    if (prio === 0) return false;
    await runner.run(['chrt', '--fifo', '--all-tasks', '--reset-on-fork', '--pid', String(prio), String(pid)]);
    return true;
  } catch (err) {
    process.stderr.write(`${service}: could not run at real-time priority (${(err as Error).message}); it keeps its nice level: grant CAP_SYS_NICE, or set TANDEM_RT_PRIORITY=0 to silence this\n`);
    return false;
  }
}
