import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DynamicModule, INestApplication, Type } from '@nestjs/common';
import { METHOD_METADATA, ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import { NestFactory } from '@nestjs/core';
import type { OpenAPIObject } from '@nestjs/swagger';
import type { NatsConnection } from 'nats';
import { z, ZodEffects, ZodObject, type AnyZodObject, type ZodTypeAny } from 'zod';
import { readBaseConfig } from '@tandem/config';
import {
  API_PREFIX,
  NODE_ACTIONS,
  NODE_ACTION_OPS,
  POOL_ACTIONS,
  POOL_ACTION_OPS,
  PROBLEM_CONTENT_TYPE,
  activityEntrySchema,
  activityQuerySchema,
  eventsQuerySchema,
  clusterOpRequests,
  clusterOpResults,
  eventEnvelopeSchema,
  healthLiveResponseSchema,
  healthReadyResponseSchema,
  hostOpResults,
  interfaceNameSchema,
  joinClusterRequestSchema,
  nodeIdSchema,
  poolNameSchema,
  poolOpRequests,
  poolOpResults,
  shareUserAddBodySchema,
  shareUserOpResults,
  shareUserPasswordBodySchema,
  problemDetailsSchema,
  replicationPoolStatusSchema,
  shareNameSchema,
  tokenRequestSchema,
  tokenResponseSchema,
  snapshotScheduleSchema,
} from '@tandem/contracts';
import type { ServiceContext } from '@tandem/service-kit';
import { ApiGatewayModule } from './app.module';
import { IS_PUBLIC } from './auth';
import { buildOpenApiConfig, buildOpenApiDocument, componentSchemas, patternOf, schemaOf } from './openapi';

/**
 * What each route serves, by contract: the request its body is part of (with the fields the
 * gateway sets itself besides `actor` and the path's parameters) and its result. Every route of
 * the gateway must be here: a new one is documented, and checked, before this test passes.
 */
interface RouteContract {
  request?: ZodTypeAny;
  /** Set by the gateway, besides `actor` and the path's parameters. */
  alsoSet?: string[];
  result: ZodTypeAny;
}
const POOL = `${API_PREFIX}/pools/{pool}`;
const NODE = `${API_PREFIX}/nodes/{node}`;
const ROUTES: Record<string, RouteContract> = {
  [`POST ${API_PREFIX}/auth/token`]: { request: tokenRequestSchema, result: tokenResponseSchema },
  [`GET ${API_PREFIX}/pools`]: { result: poolOpResults['pool.list'] },
  [`POST ${API_PREFIX}/pools`]: { request: poolOpRequests['pool.attach'], result: poolOpResults['pool.attach'] },
  [`GET ${POOL}`]: { result: poolOpResults['pool.get'] },
  [`DELETE ${POOL}`]: { result: poolOpResults['pool.remove'] },
  [`GET ${POOL}/luns`]: { result: poolOpResults['pool.lun-list'] },
  [`POST ${POOL}/luns`]: { request: poolOpRequests['pool.lun-add'], result: poolOpResults['pool.lun-add'] },
  [`DELETE ${POOL}/luns/{lun}`]: { result: poolOpResults['pool.lun-remove'] },
  [`PUT ${POOL}/chap`]: { request: poolOpRequests['pool.chap-set'], result: poolOpResults['pool.chap-set'] },
  [`DELETE ${POOL}/chap`]: { result: poolOpResults['pool.chap-clear'] },
  ...Object.fromEntries(POOL_ACTIONS.map((a) => [`POST ${POOL}/${a}`, { request: poolOpRequests[POOL_ACTION_OPS[a]], result: poolOpResults[POOL_ACTION_OPS[a]] }])),
  [`GET ${POOL}/schedules`]: { result: z.array(snapshotScheduleSchema) },
  [`POST ${POOL}/schedules`]: { request: poolOpRequests['pool.schedule-add'], result: poolOpResults['pool.schedule-add'] },
  [`DELETE ${POOL}/schedules/{name}`]: { result: poolOpResults['pool.schedule-remove'] },
  [`GET ${API_PREFIX}/cluster`]: { result: clusterOpResults['cluster.status'] },
  // The cluster is formed on the gateway's own node.
  [`POST ${API_PREFIX}/cluster`]: { request: clusterOpRequests['cluster.create'], alsoSet: ['node'], result: clusterOpResults['cluster.create'] },
  [`POST ${API_PREFIX}/cluster/nodes`]: { request: clusterOpRequests['cluster.join'], result: clusterOpResults['cluster.join'] },
  [`POST ${API_PREFIX}/cluster/join`]: { request: joinClusterRequestSchema, result: clusterOpResults['cluster.join'] },
  [`PUT ${API_PREFIX}/cluster/maintenance`]: { request: clusterOpRequests['maintenance.set'], result: clusterOpResults['maintenance.set'] },
  [`POST ${API_PREFIX}/auth/revoke-tokens`]: { request: clusterOpRequests['auth.revoke-tokens'], result: clusterOpResults['auth.revoke-tokens'] },
  ...Object.fromEntries(NODE_ACTIONS.map((a) => [`POST ${NODE}/${a}`, { request: clusterOpRequests[NODE_ACTION_OPS[a]], result: clusterOpResults[NODE_ACTION_OPS[a]] }])),
  [`DELETE ${NODE}`]: { result: clusterOpResults['node.remove'] },
  [`GET ${API_PREFIX}/replication`]: { result: clusterOpResults['replication.status'] },
  [`GET ${API_PREFIX}/replication/{pool}`]: { result: replicationPoolStatusSchema },
  [`POST ${API_PREFIX}/replication/{pool}/resume`]: { request: clusterOpRequests['replication.resume'], result: clusterOpResults['replication.resume'] },
  [`GET ${API_PREFIX}/replication/settings`]: { result: clusterOpResults['replication.settings'] },
  [`PUT ${API_PREFIX}/replication/settings`]: { request: clusterOpRequests['replication.settings'], result: clusterOpResults['replication.settings'] },
  [`POST ${NODE}/replication-keys/rotate`]: { request: clusterOpRequests['replication.keys-rotate'], result: clusterOpResults['replication.keys-rotate'] },
  [`GET ${NODE}`]: { result: hostOpResults['node.info'] },
  [`GET ${NODE}/pools`]: { result: hostOpResults['pool.list'] },
  [`GET ${NODE}/addresses`]: { result: hostOpResults['ip.list'] },
  [`GET ${NODE}/importable-pools`]: { result: hostOpResults['pool.importable'] },
  [`GET ${API_PREFIX}/share-users`]: { result: shareUserOpResults['share-user.list'] },
  // the password is taken here and only its NT hash goes on: the body is not the operation's request
  [`POST ${API_PREFIX}/share-users`]: { request: shareUserAddBodySchema, result: shareUserOpResults['share-user.add'] },
  [`PUT ${API_PREFIX}/share-users/{name}/password`]: { request: shareUserPasswordBodySchema, result: shareUserOpResults['share-user.password'] },
  [`DELETE ${API_PREFIX}/share-users/{name}`]: { result: shareUserOpResults['share-user.remove'] },
  [`GET ${API_PREFIX}/activity`]: { result: z.array(activityEntrySchema) },
  [`GET ${API_PREFIX}/events`]: { result: eventEnvelopeSchema },
  ['GET /health/live']: { result: healthLiveResponseSchema },
  ['GET /health/ready']: { result: healthReadyResponseSchema },
};

type Schema = { $ref?: string; properties?: Record<string, unknown>; required?: string[]; additionalProperties?: unknown };
interface Operation {
  operationId: string;
  parameters?: Array<{ name: string; in: string; required?: boolean; schema?: Schema & { pattern?: string; enum?: unknown[] } }>;
  requestBody?: { required?: boolean; content: Record<string, { schema?: Schema }> };
  responses: Record<string, { content?: Record<string, { schema?: Schema }>; headers?: Record<string, unknown> }>;
  security?: unknown[];
}
interface Route {
  key: string;
  method: string;
  path: string;
  op: Operation;
  handler: { controller: Type<unknown>; name: string };
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

let app: INestApplication;
let doc: OpenAPIObject;
let routes: Route[];
let controllers: Type<unknown>[];

/** A controller's own methods (read through descriptors: a getter must not run on the prototype). */
function methodsOf(controller: Type<unknown>): Array<[string, object]> {
  return Object.entries(Object.getOwnPropertyDescriptors(controller.prototype)).flatMap(([name, d]) =>
    name !== 'constructor' && typeof d.value === 'function' ? [[name, d.value as object] as [string, object]] : [],
  );
}

function controllersOf(m: DynamicModule): Type<unknown>[] {
  const imported = (m.imports ?? []).flatMap((i) => (typeof i === 'object' && i !== null && 'module' in i ? controllersOf(i as DynamicModule) : []));
  return [...(m.controllers ?? []), ...imported];
}

before(async () => {
  // register() reads the database URL like main.ts does; nothing connects to it (see below).
  process.env.TANDEM_DATABASE_URL ??= 'postgres://tandem@127.0.0.1:5432/tandem';
  const ctx: ServiceContext = {
    service: 'api-gateway',
    config: readBaseConfig({ TANDEM_NODE_ID: 'node-a', TANDEM_NATS_URL: 'nats://127.0.0.1:4222' }),
    // Preview mode never constructs a provider or a controller, so no connection is ever used.
    nc: undefined as unknown as NatsConnection,
    startedAt: new Date(),
  };
  // The gateway's real module, with its real controllers and imports, as main.ts starts it, but in
  // Nest's preview mode: the module graph and the route metadata are read, nothing runs.
  const gateway = ApiGatewayModule.register(ctx);
  controllers = controllersOf(gateway);
  app = await NestFactory.create(gateway, { preview: true, logger: false });
  doc = buildOpenApiDocument(app);

  // Operation ids are Controller_method (SwaggerModule's default).
  const handlers = new Map<string, Route['handler']>(controllers.flatMap((c) => methodsOf(c).map(([name]) => [`${c.name}_${name}`, { controller: c, name }] as const)));
  routes = Object.entries(doc.paths).flatMap(([path, item]) =>
    METHODS.filter((m) => (item as Record<string, unknown>)[m]).map((method) => {
      const op = (item as Record<string, Operation>)[method];
      const handler = handlers.get(op.operationId);
      assert.ok(handler, `${method} ${path}: no handler ${op.operationId}`);
      return { key: `${method.toUpperCase()} ${path}`, method, path, op, handler };
    }),
  );
});

after(async () => {
  await app?.close();
});

/** Follows a `#/...` reference inside the document. */
function resolvePointer(pointer: string): unknown {
  assert.ok(pointer.startsWith('#/'), `${pointer}: only references inside the document`);
  let at: unknown = doc;
  for (const part of pointer
    .slice(2)
    .split('/')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))) {
    if (typeof at !== 'object' || at === null || !(part in at)) return undefined;
    at = (at as Record<string, unknown>)[part];
  }
  return at;
}

function resolve(schema: Schema): Schema {
  return schema.$ref ? (resolvePointer(schema.$ref) as Schema) : schema;
}

/** Every `$ref` under `node`, with where it is. */
function refsIn(node: unknown, where: string, out: Array<[string, string]> = []): Array<[string, string]> {
  if (Array.isArray(node)) node.forEach((n, i) => refsIn(n, `${where}/${i}`, out));
  else if (typeof node === 'object' && node !== null) {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') out.push([v, where]);
      else refsIn(v, `${where}/${k}`, out);
    }
  }
  return out;
}

function takesBody(r: Route): boolean {
  const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, r.handler.controller, r.handler.name) ?? {}) as Record<string, unknown>;
  return Object.keys(args).some((k) => Number(k.split(':')[0]) === RouteParamtypes.BODY);
}

function objectOf(contract: ZodTypeAny): AnyZodObject {
  const inner: unknown = contract instanceof ZodEffects ? contract.innerType() : contract;
  assert.ok(inner instanceof ZodObject, 'a request contract is an object');
  return inner;
}

test('every route of the gateway is documented, and only those', () => {
  const documented = routes.map((r) => r.key).sort();
  assert.deepEqual(documented, Object.keys(ROUTES).sort(), 'add a new route to ROUTES here, with its contract');
  // Every handler with a route is in the document (none is excluded from it), but Prometheus' scrape target (text, not a REST resource).
  const handlerRoutes = controllers
    .flatMap((c) => methodsOf(c).flatMap(([name, fn]) => (Reflect.getMetadata(METHOD_METADATA, fn) !== undefined ? [`${c.name}_${name}`] : [])))
    .filter((id) => id !== 'MetricsController_metrics');
  assert.deepEqual(routes.map((r) => r.op.operationId).sort(), handlerRoutes.sort());
});

test('every query parameter a route reads is documented, and only those: the contract schema of its query; the headers of paging and resuming', () => {
  const QUERIES: Record<string, string[]> = {
    [`GET ${API_PREFIX}/activity`]: Object.keys(activityQuerySchema.shape),
    [`GET ${API_PREFIX}/events`]: Object.keys(eventsQuerySchema.shape),
    // the one parameter settingsQuery reads
    [`GET ${API_PREFIX}/replication/settings`]: ['pool'],
  };
  for (const r of routes) {
    const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, r.handler.controller, r.handler.name) ?? {}) as Record<string, unknown>;
    const readsQuery = Object.keys(args).some((k) => Number(k.split(':')[0]) === RouteParamtypes.QUERY);
    const documented = (r.op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
    if (!readsQuery) continue;
    const contract = QUERIES[r.key];
    assert.ok(contract, `${r.key} reads its query: add its contract here`);
    assert.deepEqual(documented.sort(), [...contract].sort(), r.key);
    for (const p of (r.op.parameters ?? []).filter((x) => x.in === 'query')) {
      assert.equal(p.required, false, `${r.key} ${p.name}: optional`);
      assert.ok(p.schema && !('anyOf' in p.schema), `${r.key} ${p.name}: the schema of its value, not of "maybe absent"`);
    }
  }
  const activity = routes.find((r) => r.key === `GET ${API_PREFIX}/activity`)!;
  assert.ok(activity.op.responses['200'].headers?.Link, 'the next page is in the Link header');
  assert.deepEqual(activity.op.parameters?.find((p) => p.name === 'result')?.schema?.enum, ['started', 'succeeded', 'failed']);
  const events = routes.find((r) => r.key === `GET ${API_PREFIX}/events`)!;
  assert.deepEqual(
    events.op.parameters?.filter((p) => p.in === 'header').map((p) => p.name),
    ['Last-Event-ID'],
  );
});

test("every route documents its success answer with its contract's result schema", () => {
  for (const r of routes) {
    const success = Object.entries(r.op.responses).filter(([status]) => /^2\d\d$/.test(status));
    assert.ok(success.length > 0, `${r.key}: no 2xx answer documented`);
    for (const [status, response] of success) {
      const contents = Object.entries(response.content ?? {});
      assert.ok(contents.length > 0, `${r.key} ${status}: the answer has no schema`);
      for (const [type, c] of contents) assert.deepEqual(c.schema, schemaOf(ROUTES[r.key].result), `${r.key} ${status} ${type}: not the contract's result`);
    }
  }
});

test('every route that reads a body documents it, with exactly the fields the contract lets the body carry', () => {
  for (const r of routes) {
    const contract = ROUTES[r.key];
    const body = r.op.requestBody;
    assert.equal(takesBody(r), contract.request !== undefined, `${r.key}: ROUTES and the handler disagree on a body`);
    if (!takesBody(r)) {
      assert.equal(body, undefined, `${r.key}: documents a body it does not read`);
      continue;
    }
    assert.ok(['post', 'put', 'patch'].includes(r.method), `${r.key}: a body on ${r.method}`);
    assert.ok(body, `${r.key}: the body is not documented`);
    assert.deepEqual(Object.keys(body.content), ['application/json'], r.key);
    const documented = body.content['application/json'].schema;
    assert.ok(documented, `${r.key}: the body has no schema`);
    const schema = resolve(documented);

    // The gateway sets `actor` and the path's parameters (contractRequest refuses them in a body).
    const object = objectOf(contract.request!);
    const pathParams = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
    const setByGateway = new Set(['actor', ...pathParams, ...(contract.alsoSet ?? [])]);
    for (const f of contract.alsoSet ?? []) assert.ok(f in object.shape, `${r.key}: ${f} is not a field of the contract`);
    const fields = Object.keys(object.shape).filter((k) => !setByGateway.has(k));
    const required = fields.filter((k) => !(object.shape as Record<string, ZodTypeAny>)[k].isOptional());

    assert.deepEqual(Object.keys(schema.properties ?? {}).sort(), fields.sort(), `${r.key}: body fields`);
    assert.deepEqual([...(schema.required ?? [])].sort(), required.sort(), `${r.key}: required body fields`);
    assert.equal(body.required ?? true, required.length > 0, `${r.key}: the body is required exactly when a field is`);
    if (object._def.unknownKeys === 'strict') assert.equal(schema.additionalProperties, false, `${r.key}: unknown fields are refused`);
  }
});

test('every reference resolves, to a named component, and every component is used', () => {
  const refs = refsIn(doc, '#');
  assert.ok(refs.length > 20);
  for (const [pointer, where] of refs) {
    assert.match(pointer, /^#\/components\/schemas\/\w+$/, where);
    assert.ok(resolvePointer(pointer), `${where}: ${pointer} does not resolve`);
  }
  // Reachable from the paths, through the components that refer to others.
  const used = new Set<string>();
  const visit = (node: unknown) => {
    for (const [pointer] of refsIn(node, '')) {
      if (used.has(pointer)) continue;
      used.add(pointer);
      visit(resolvePointer(pointer));
    }
  };
  visit(doc.paths);
  const unused = Object.keys(doc.components?.schemas ?? {}).filter((name) => !used.has(`#/components/schemas/${name}`));
  assert.deepEqual(unused, [], 'components no route refers to');
});

test('error answers of the API are problem details', () => {
  let count = 0;
  for (const r of routes.filter((x) => x.path.startsWith(`${API_PREFIX}/`))) {
    for (const [status, response] of Object.entries(r.op.responses)) {
      if (!/^[45]\d\d$/.test(status)) continue;
      count++;
      assert.deepEqual(response.content, { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: '#/components/schemas/Problem' } } }, `${r.key} ${status}`);
    }
  }
  assert.ok(count > 50);
  const problem = doc.components?.schemas?.Problem as Schema;
  assert.deepEqual(Object.keys(problem.properties ?? {}).sort(), Object.keys(problemDetailsSchema.shape).sort());
});

test('routes that need credentials say so, and only those', () => {
  for (const r of routes) {
    const handler = methodsOf(r.handler.controller).find(([name]) => name === r.handler.name)![1];
    const isPublic = Reflect.getMetadata(IS_PUBLIC, handler) === true || Reflect.getMetadata(IS_PUBLIC, r.handler.controller) === true;
    const guarded = ['post', 'put', 'patch', 'delete'].includes(r.method) && !isPublic;
    assert.deepEqual(r.op.security, guarded ? [{ bearer: [] }, { basic: [] }] : undefined, r.key);
  }
});

test('patterns in the API description are the contract regular expressions', () => {
  for (const [schema, samples] of [
    [poolNameSchema, ['tank', 'Tank_1', '1tank', '; rm -rf /']],
    [nodeIdSchema, ['node-a', 'Node A', 'a', '-x']],
    [interfaceNameSchema, ['cli0', 'eth0.100', 'a/b', 'x'.repeat(16)]],
    [shareNameSchema, ['data', 'my share', '-x']],
  ] as const) {
    const re = new RegExp(patternOf(schema));
    for (const s of samples) {
      // The contract may add refinements (reserved pool words), never accept more than the pattern.
      if (schema.safeParse(s).success) assert.ok(re.test(s), `${s} passes the contract but not the pattern`);
    }
  }
  const schemas = componentSchemas();
  assert.equal(schemas.PoolName.pattern, patternOf(poolNameSchema));
  assert.equal(schemas.NodeId.pattern, patternOf(nodeIdSchema));
  assert.equal(schemas.InterfaceName.pattern, patternOf(interfaceNameSchema));
});

test('the document declares bearer and basic auth, its tags, and how to authenticate', () => {
  const config = buildOpenApiConfig();
  assert.deepEqual(Object.keys(config.components?.securitySchemes ?? {}).sort(), ['basic', 'bearer']);
  const tags = new Set(config.tags?.map((t) => t.name));
  for (const r of routes) for (const t of (r.op as { tags?: string[] }).tags ?? []) assert.ok(tags.has(t), `${r.key}: tag ${t} is not declared`);
  assert.match(config.info.description ?? '', /POST, PUT, DELETE/);
});
