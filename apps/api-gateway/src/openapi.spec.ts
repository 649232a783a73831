import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clusterOpRequests, interfaceNameSchema, joinClusterRequestSchema, nodeIdSchema, poolNameSchema, shareNameSchema } from '@tandem/contracts';
import { SCHEMAS, buildOpenApiConfig, patternOf } from './openapi';

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
  assert.equal(SCHEMAS.PoolName.pattern, patternOf(poolNameSchema));
});

test('the document declares bearer and basic auth and every schema it references', () => {
  const config = buildOpenApiConfig();
  assert.deepEqual(Object.keys(config.components?.securitySchemes ?? {}).sort(), ['basic', 'bearer']);
  const names = new Set(Object.keys(config.components?.schemas ?? {}));
  const refs = JSON.stringify(SCHEMAS).match(/#\/components\/schemas\/\w+/g) ?? [];
  for (const r of refs) assert.ok(names.has(r.split('/').pop()!), r);
});

test('the cluster request bodies document exactly the contract fields the body may carry', () => {
  const props = (name: keyof typeof SCHEMAS) => Object.keys((SCHEMAS[name] as { properties: object }).properties).sort();
  const bodyFields = (shape: object, setByGateway: string[]) => Object.keys(shape).filter((k) => !setByGateway.includes(k)).sort();
  assert.deepEqual(props('CreateClusterRequest'), bodyFields(clusterOpRequests['cluster.create'].shape, ['node', 'actor']));
  assert.deepEqual(props('AddNodeRequest'), bodyFields(clusterOpRequests['cluster.join'].shape, ['actor']));
  assert.deepEqual(props('MaintenanceRequest'), bodyFields(clusterOpRequests['maintenance.set'].shape, ['actor']));
  assert.deepEqual(props('JoinClusterRequest'), bodyFields(joinClusterRequestSchema.shape, []));
  for (const name of ['CreateClusterRequest', 'AddNodeRequest', 'MaintenanceRequest', 'JoinClusterRequest'] as const) {
    assert.equal((SCHEMAS[name] as { additionalProperties?: boolean }).additionalProperties, false, `${name}: unknown fields are refused`);
  }
  assert.equal(SCHEMAS.CreateClusterRequest.properties.heartbeatInterface.pattern, patternOf(interfaceNameSchema));
  assert.equal(SCHEMAS.AddNodeRequest.properties.node.pattern, patternOf(nodeIdSchema));
  const config = buildOpenApiConfig();
  assert.ok(config.tags?.some((t) => t.name === 'cluster'));
  assert.match(config.info.description ?? '', /POST, PUT, DELETE/);
});
