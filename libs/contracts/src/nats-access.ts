import { nodeIdSchema } from './names';
import { SERVICE_NAMES, type ServiceName } from './services';
import { CLUSTER_BUCKET, EVENTS_STREAM, ISCSI_CHAP_BUCKET, LEASES_BUCKET, OWNERSHIP_BUCKET, POOLS_BUCKET, REPLICATION_BUCKET, SHARE_USERS_BUCKET } from './streams';
import { Events } from './events';
import { EVENTS_WILDCARD, HEARTBEAT_WILDCARD, RESOURCE_MANAGER_WILDCARD, SUBJECT_ROOT, eventSubject, execSubject, execWildcard, healthSubject, heartbeatSubject } from './subjects';

/**
 * Who may do what on NATS: one NATS user per service and node (authenticated by its nkey), one
 * for integrators (read-only events), one for operators' tools. Every server of the cluster gets
 * the same list (`natsAuthorization`), so a node's services are known to all servers.
 *
 * What the permissions hold, subject by subject (a request's answer goes to the asker's inbox):
 * - only node X's host-executor subscribes to `tandem.node.X.exec.>` (its operations) and to
 *   its byte streams; only it writes X's ownership lease on the witness;
 * - only the resource-manager and the replication-scheduler publish every host operation; the
 *   api-gateway only the reads it shows (node facts, its pools, its addresses, the pools it could import), node X's
 *   heartbeat only the reads of X's local health;
 * - only node X's heartbeat publishes X's heartbeats, X's health and answers X's heartbeat view,
 *   and only heartbeats tell that a node is up, suspect or down (what failover acts on);
 * - only the api-gateway asks the resource-manager (`tandem.cluster.rm.*`), which alone answers;
 * - events (`tandem.evt.>`) are published by the services that act; the gateway only tells that
 *   it started;
 * - KV buckets are written only by their writers (see each bucket below), read by all services —
 *   but the share users' (NT hashes, as good as passwords to SMB): the resource-manager and the
 *   host-executors alone read it, nobody else may get its values or watch its subjects;
 * - nobody deletes or purges a stream or a stored message.
 *
 * Not expressible here, and so not claimed: which *keys* of a bucket a writer may touch beyond
 * the ownership lease, and which consumers a service may delete (a consumer's name is not its owner's).
 */
export interface NatsPermissions {
  publish: { allow: string[]; deny: string[] };
  subscribe: { allow: string[]; deny: string[] };
}

/** The JetStream API calls nobody makes: deleting or purging a stream or a stored message. */
export const JS_DESTRUCTIVE = ['$JS.API.STREAM.DELETE.>', '$JS.API.STREAM.PURGE.>', '$JS.API.STREAM.MSG.DELETE.>'];
/**
 * Declaring streams and buckets (creating them, changing their limits: a changed retention can
 * empty a stream as surely as a purge): host-executor alone, at its start (the others wait for
 * them, see libs/service-kit).
 */
export const JS_DECLARE = ['$JS.API.STREAM.CREATE.>', '$JS.API.STREAM.UPDATE.>'];
/** Moving a stream's leader: the resource-manager alone (it keeps the leaders off a node that is going away). */
export const JS_STEPDOWN = '$JS.API.STREAM.LEADER.STEPDOWN.>';
/** JetStream administration no service makes: snapshots and restores, removing peers or servers, the meta leader, purging the account. */
export const JS_ADMIN = ['$JS.API.STREAM.SNAPSHOT.>', '$JS.API.STREAM.RESTORE.>', '$JS.API.STREAM.PEER.REMOVE.>', '$JS.API.META.LEADER.STEPDOWN', '$JS.API.SERVER.REMOVE', '$JS.API.ACCOUNT.PURGE.>'];

/** Reading a secret bucket, the share users' by default (its values, by direct get, message get, a consumer or a plain subscription). */
export function secretBucketReads(bucket = SHARE_USERS_BUCKET.bucket): { publish: string[]; subscribe: string[] } {
  const stream = `KV_${bucket}`;
  return {
    publish: [
      `$JS.API.DIRECT.GET.${stream}`,
      `$JS.API.DIRECT.GET.${stream}.>`,
      `$JS.API.STREAM.MSG.GET.${stream}`,
      `$JS.API.CONSUMER.CREATE.${stream}`,
      `$JS.API.CONSUMER.CREATE.${stream}.>`,
      `$JS.API.CONSUMER.DURABLE.CREATE.${stream}.>`,
    ],
    subscribe: [`$KV.${bucket}.>`],
  };
}

const INBOX = '_INBOX.>';
/** The JetStream API (stream and consumer info, KV reads and watches, publishing acknowledgements, acks). */
const JS_API = ['$JS.API.>', '$JS.ACK.>', '$JS.FC.>'];
const kvWrite = (bucket: string, key = '>') => `$KV.${bucket}.${key}`;
const HOST_READS = ['node.info', 'pool.list', 'ip.list', 'link.list'];
/** What failure detection acts on: a node's health, and whether its peers hear it. Told only by heartbeats. */
const LIVENESS_EVENTS = [Events.nodeHealthChanged, Events.nodeUp, Events.nodeSuspect, Events.nodeDown].map((e) => `${SUBJECT_ROOT}.evt.node.*.${e.verb}`);

/** A service's NATS user name on a node: `<service>@<node>`. */
export function natsUserName(service: ServiceName, node: string): string {
  return `${service}@${nodeIdSchema.parse(node)}`;
}

/** What `service` of node `node` may publish and subscribe to. */
export function servicePermissions(service: ServiceName, node: string): NatsPermissions {
  nodeIdSchema.parse(node);
  // every service tells that it started, on its own node
  const pub = [INBOX, ...JS_API, eventSubject('node', node, Events.nodeServiceStarted.verb)];
  const sub = [INBOX];
  const allExec = `${SUBJECT_ROOT}.node.*.exec.>`;
  const deny = [...JS_DESTRUCTIVE, ...JS_ADMIN];
  const subDeny: string[] = [];
  if (service !== 'host-executor') deny.push(...JS_DECLARE);
  if (service !== 'host-executor' && service !== 'resource-manager') {
    deny.push(...secretBucketReads().publish);
    subDeny.push(...secretBucketReads().subscribe);
  }
  // the CHAP secrets: the resource-manager alone (it gives a target its CHAP in the start request)
  if (service !== 'resource-manager') {
    deny.push(...secretBucketReads(ISCSI_CHAP_BUCKET.bucket).publish);
    subDeny.push(...secretBucketReads(ISCSI_CHAP_BUCKET.bucket).subscribe);
  }
  if (service !== 'resource-manager') deny.push(JS_STEPDOWN);
  switch (service) {
    case 'host-executor':
      // the heartbeat views (its own node's and its peers') decide whether it fences itself
      pub.push(EVENTS_WILDCARD, kvWrite(OWNERSHIP_BUCKET.bucket, `node.${node}`), `${SUBJECT_ROOT}.node.*.stream.>`, `${SUBJECT_ROOT}.node.*.health.heartbeat`);
      deny.push(...LIVENESS_EVENTS);
      sub.push(execWildcard(node), `${SUBJECT_ROOT}.node.${node}.stream.>`);
      break;
    case 'heartbeat':
      // its own node's health; whether it hears its peers (events about them, saying who observed)
      pub.push(
        eventSubject('node', node, Events.nodeHealthChanged.verb),
        ...[Events.nodeUp, Events.nodeSuspect, Events.nodeDown].map((e) => `${SUBJECT_ROOT}.evt.node.*.${e.verb}`),
        heartbeatSubject(node),
        ...HOST_READS.map((op) => execSubject(node, op)),
      );
      sub.push(HEARTBEAT_WILDCARD, healthSubject(node, 'heartbeat'));
      break;
    case 'resource-manager':
      pub.push(
        EVENTS_WILDCARD,
        allExec,
        `${SUBJECT_ROOT}.node.*.health.heartbeat`,
        ...[POOLS_BUCKET, CLUSTER_BUCKET, LEASES_BUCKET, REPLICATION_BUCKET, SHARE_USERS_BUCKET, ISCSI_CHAP_BUCKET].map((b) => kvWrite(b.bucket)),
      );
      sub.push(RESOURCE_MANAGER_WILDCARD, EVENTS_WILDCARD);
      deny.push(...LIVENESS_EVENTS);
      break;
    case 'replication-scheduler':
      pub.push(EVENTS_WILDCARD, allExec, kvWrite(REPLICATION_BUCKET.bucket), kvWrite(LEASES_BUCKET.bucket));
      sub.push(EVENTS_WILDCARD);
      deny.push(...LIVENESS_EVENTS);
      break;
    case 'api-gateway':
      pub.push(RESOURCE_MANAGER_WILDCARD, ...[...HOST_READS, 'pool.importable'].map((op) => `${SUBJECT_ROOT}.node.*.exec.${op}`));
      sub.push(EVENTS_WILDCARD);
      break;
  }
  return { publish: { allow: pub, deny }, subscribe: { allow: sub, deny: subDeny } };
}

/** Integrators: the events, live (`tandem.evt.>`) and from the events stream, and nothing else. */
export function integratorPermissions(): NatsPermissions {
  const s = EVENTS_STREAM.name;
  return {
    publish: {
      allow: [
        `$JS.API.INFO`,
        `$JS.API.STREAM.INFO.${s}`,
        `$JS.API.CONSUMER.CREATE.${s}`,
        `$JS.API.CONSUMER.CREATE.${s}.>`,
        `$JS.API.CONSUMER.DURABLE.CREATE.${s}.>`,
        `$JS.API.CONSUMER.INFO.${s}.>`,
        `$JS.API.CONSUMER.DELETE.${s}.>`,
        `$JS.API.CONSUMER.MSG.NEXT.${s}.>`,
        `$JS.API.STREAM.MSG.GET.${s}`,
        `$JS.API.DIRECT.GET.${s}`,
        `$JS.API.DIRECT.GET.${s}.>`,
        `$JS.ACK.${s}.>`,
        `$JS.FC.${s}.>`,
      ],
      deny: [],
    },
    subscribe: { allow: [INBOX, EVENTS_WILDCARD], deny: [] },
  };
}

export interface NatsUser {
  /** For the configuration's comments and logs: `api-gateway@node-a`, `integrator`, ... */
  name: string;
  /** The user's nkey public key (U...). */
  nkey: string;
  /** null: no restriction (operators' tools). */
  permissions: NatsPermissions | null;
}

/** Every service of every node, with its permissions, given each one's public nkey. */
export function serviceUsers(nodes: readonly string[], nkeyOf: (service: ServiceName, node: string) => string): NatsUser[] {
  return nodes.flatMap((node) => SERVICE_NAMES.map((service) => ({ name: natsUserName(service, node), nkey: nkeyOf(service, node), permissions: servicePermissions(service, node) })));
}

const NKEY_USER = /^U[A-Z2-7]{55}$/;
const quoted = (list: readonly string[]) => `[${list.map((s) => JSON.stringify(s)).join(', ')}]`;

/**
 * The `authorization` block of a NATS server's configuration: the users by nkey, each with its
 * permissions. Anonymous connections are refused (no user without a key exists).
 */
export function natsAuthorization(users: readonly NatsUser[]): string {
  const lines = ['authorization {', '  users = ['];
  for (const u of users) {
    if (!NKEY_USER.test(u.nkey)) throw new Error(`NATS user ${u.name}: ${u.nkey} is not an nkey user public key`);
    lines.push(`    # ${u.name}`);
    if (!u.permissions) {
      lines.push(`    { nkey: ${u.nkey} }`);
      continue;
    }
    const p = u.permissions;
    lines.push(`    { nkey: ${u.nkey}, permissions: {`);
    lines.push(`        publish: { allow: ${quoted(p.publish.allow)}${p.publish.deny.length ? `, deny: ${quoted(p.publish.deny)}` : ''} }`);
    lines.push(`        subscribe: { allow: ${quoted(p.subscribe.allow)}${p.subscribe.deny.length ? `, deny: ${quoted(p.subscribe.deny)}` : ''} }`);
    lines.push(`    } }`);
  }
  lines.push('  ]', '}');
  return lines.join('\n');
}
