import { WITNESS_TAG } from './streams';

/**
 * The routes' shared secret (TANDEM_NATS_ROUTE_SECRET, also in every route URL). nats-server
 * reads a variable's value as a configuration value, so a secret such as `0e51…` is taken for a
 * number and the server does not start: letters and digits only, beginning with a letter, 24 to
 * 128 of them (`tandem nats route-secret` makes one).
 */
export const NATS_ROUTE_SECRET_RE = /^[A-Za-z][A-Za-z0-9]{23,127}$/;
export const NATS_ROUTE_SECRET_RULE = 'letters and digits only, beginning with a letter, 24 to 128 characters (make one with `tandem nats route-secret`)';

/**
 * The configuration of a Tandem NATS server, one generator for production (`deploy/nats.conf`,
 * `deploy/nats-witness.conf`: `tandem nats config`) and the testbed, so the two cannot drift: the
 * same TLS on clients and routes, the same route authorization, the same dead-peer timing, the
 * witness tag. A value that starts with `$` is a variable nats-server reads from its
 * environment (left unquoted); every other value is written quoted.
 */
export interface NatsServerConfig {
  /** Comment lines at the top (without `#`). */
  header: readonly string[];
  serverName: string;
  /** Where clients connect (`127.0.0.1`: the node's own services). */
  client: { host: string; port: number };
  /** The monitoring endpoint (health checks). */
  http: { host: string; port: number };
  pidFile?: string;
  /** The witness carries the tag that places the ownership leases. */
  witness: boolean;
  jetstream: { storeDir: string; maxMemory?: string; maxFile?: string };
  /** The users: an `include` of the file `tandem nats authorization` writes, or the block itself. */
  authorization: { include: string } | { block: string };
  tls: { cert: string; key: string; ca: string };
  cluster: {
    host: string;
    port: number;
    routeSecret: string;
    /** The other servers (`nats://route:SECRET@ADDRESS:PORT`); none: given on the command line (`--routes`). */
    routes?: readonly string[];
  };
}

const value = (v: string) => (v.startsWith('$') ? v : JSON.stringify(v));

export function natsServerConfig(c: NatsServerConfig): string {
  const tls = (indent: string, verify: boolean) => [
    `${indent}tls {`,
    `${indent}  cert_file: ${value(c.tls.cert)}`,
    `${indent}  key_file: ${value(c.tls.key)}`,
    `${indent}  ca_file: ${value(c.tls.ca)}`,
    ...(verify ? [`${indent}  verify: true`] : []),
    `${indent}  timeout: 2`,
    `${indent}}`,
  ];
  const js = c.jetstream;
  return [
    ...c.header.map((l) => (l ? `# ${l}` : '#')),
    `server_name: ${value(c.serverName)}`,
    `host: ${value(c.client.host)}`,
    `port: ${c.client.port}`,
    `http: ${value(`${c.http.host}:${c.http.port}`)}`,
    ...(c.pidFile ? [`pid_file: ${value(c.pidFile)}`] : []),
    '# a dead peer (power cut: no FIN, no RST) is noticed in seconds, not minutes',
    'ping_interval: "1s"',
    'ping_max: 3',
    ...(c.witness ? ["# the ownership leases live here alone (one replica): the witness is the cluster's tie-breaker", `server_tags: [${JSON.stringify(WITNESS_TAG)}]`] : []),
    'jetstream {',
    `  store_dir: ${value(js.storeDir)}`,
    ...(js.maxMemory ? [`  max_memory_store: ${js.maxMemory}`] : []),
    ...(js.maxFile ? [`  max_file_store: ${js.maxFile}`] : []),
    '}',
    '# every client authenticates with its nkey and may use only its own subjects (tandem nats authorization)',
    ...('include' in c.authorization ? [`include ${c.authorization.include}`] : [c.authorization.block]),
    "# every client connection is TLS: the server shows its certificate of the cluster's CA (tandem nats certs)",
    ...tls('', false),
    'cluster {',
    '  name: "tandem"',
    '  # routes run over the admin network: the heartbeat network carries the UDP heartbeats, so a',
    '  # cut of either one alone leaves the nodes one channel to hear each other',
    `  host: ${value(c.cluster.host)}`,
    `  port: ${c.cluster.port}`,
    "  # a server that does not know the routes' secret cannot join the cluster",
    `  authorization { user: "route", password: ${value(c.cluster.routeSecret)} }`,
    "  # and routes are TLS both ways: a server without a certificate of the cluster's CA cannot join",
    ...tls('  ', true),
    ...(c.cluster.routes
      ? ['  routes: [', ...c.cluster.routes.map((r) => `    ${JSON.stringify(r)}`), '  ]']
      : [
          '  # the other servers are given on the command line (a variable holds one URL only):',
          '  # nats-server -c nats.conf --routes "$TANDEM_NATS_ROUTES" (nats://route:SECRET@ADDRESS:6222, comma-separated)',
        ]),
    '}',
    '',
  ].join('\n');
}

/** Production's configuration of a storage node's server (`deploy/nats.conf`) or the witness's (`deploy/nats-witness.conf`). */
export function productionNatsConfig(witness: boolean): string {
  return natsServerConfig({
    header: [
      `Written by \`tandem nats config${witness ? ' --witness' : ''}\`: do not edit (a test compares it with the generator).`,
      witness
        ? 'NATS of the witness: a third machine that runs nothing but this server. It gives a two-node cluster its'
        : 'NATS of one storage node, in its docker compose (compose.yaml). Its environment gives TANDEM_NODE_ID,',
      witness
        ? "JetStream quorum and holds the nodes' ownership leases: without a server carrying its tag, automatic"
        : 'TANDEM_ADMIN_IP and TANDEM_NATS_ROUTE_SECRET; the routes come on the command line. Every server needs a',
      witness ? 'failover is declined. Its environment gives TANDEM_ADMIN_IP and TANDEM_NATS_ROUTE_SECRET.' : 'unique server_name.',
    ],
    serverName: witness ? 'witness' : '$TANDEM_NODE_ID',
    client: { host: '127.0.0.1', port: 4222 },
    http: { host: '127.0.0.1', port: 8222 },
    witness,
    jetstream: { storeDir: '/data' },
    authorization: { include: './authorization.conf' },
    tls: { cert: '/etc/nats/tls/server.pem', key: '/etc/nats/tls/server.key', ca: '/etc/nats/tls/ca.pem' },
    cluster: { host: '$TANDEM_ADMIN_IP', port: 6222, routeSecret: '$TANDEM_NATS_ROUTE_SECRET' },
  });
}
