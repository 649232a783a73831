import { DEFAULT_SSH_PORT, KEPT_DATASET, replicationSendCommandSchema, type ClusterMember, type ClusterRecord, type ReplicationSendCommand } from '@tandem/contracts';
import { zfs } from '@tandem/zfs';
import { findKey } from './ssh-key-format';

/**
 * What the replication SSH endpoint lets in, as rules without I/O: who may log in, which one
 * command a replication key may run, and where the endpoint listens. The endpoint
 * (ssh-endpoint.service.ts) asks these and does what they say.
 */

/** The longest exec text taken: a send command is about 150 characters. */
export const MAX_COMMAND_LENGTH = 2_048;

export type Verdict<T> = { ok: true; value: T } | { ok: false; reason: string };

/**
 * A client may log in when its public key is one of the `ssh.clientKeys` pinned for some member
 * of the cluster, and its user name is that member's node id: a node speaks only for itself.
 */
export function authorizeClient(cluster: ClusterRecord | null, username: string, keyData: Buffer): Verdict<{ member: ClusterMember; key: string }> {
  if (!cluster) return { ok: false, reason: 'this node is in no cluster: it trusts no replication key yet' };
  const owner = cluster.nodes.find((n) => n.ssh && findKey(n.ssh.clientKeys, keyData) !== null);
  if (!owner?.ssh) return { ok: false, reason: `the key offered for user "${username.slice(0, 64)}" is pinned for no member of cluster ${cluster.id}` };
  if (owner.id !== username) return { ok: false, reason: `the key offered is ${owner.id}'s, but the user name is "${username.slice(0, 64)}": a node logs in as itself` };
  return { ok: true, value: { member: owner, key: findKey(owner.ssh.clientKeys, keyData) as string } };
}

/** The exec text → the send command it must be (JSON, `replicationSendCommandSchema`), or why it is not one. */
export function parseSendCommand(text: string): Verdict<ReplicationSendCommand> {
  const usage = 'the only command a replication key may run is a Tandem send request ({"v":1,"op":"send","snapshot":"POOL/DATASET@tandem-…","base":null})';
  if (text.length > MAX_COMMAND_LENGTH) return { ok: false, reason: `the command is ${text.length} characters long: ${usage}` };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, reason: `"${printable(text)}" is not a Tandem replication command: ${usage}` };
  }
  const parsed = replicationSendCommandSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, reason: `not a valid send request: ${issue?.path.join('.') || '(command)'}: ${issue?.message}; ${usage}` };
  }
  return { ok: true, value: parsed.data };
}

/**
 * A valid send request is served only for a replicated pool of the cluster, and never for data
 * kept aside (`<pool>/tandem-kept/…` stays where it is). `poolMode`: the pool's record's mode,
 * null when the cluster has no record of that pool.
 */
export function sendRefusal(command: ReplicationSendCommand, poolMode: 'shared' | 'replicated' | null): string | null {
  const dataset = command.snapshot.split('@')[0];
  const pool = dataset.split('/')[0];
  if (dataset === `${pool}/${KEPT_DATASET}` || dataset.startsWith(`${pool}/${KEPT_DATASET}/`)) return `${dataset} holds data kept aside: it is never replicated`;
  if (poolMode === null) return `${pool} is not a pool of this cluster: only replicated pools are sent`;
  if (poolMode !== 'replicated') return `${pool} is not a replicated pool (its mode is ${poolMode}): only replicated pools are sent`;
  return null;
}

/** The zfs argv of a send request: full, or incremental with every snapshot in between (`-I`). */
export function sendArgv(command: ReplicationSendCommand): string[] {
  return command.base === null ? zfs.send(command.snapshot) : zfs.sendIncremental(command.snapshot, command.base);
}

/**
 * Where this node's endpoint listens: its address in the cluster's replication settings, else
 * its heartbeat address, on the cluster's SSH port. Not before the node is a member (no peer
 * could be let in), nor when the member has no address.
 */
export function endpointOf(cluster: ClusterRecord | null, me: string): Verdict<{ address: string; port: number }> {
  if (!cluster) return { ok: false, reason: 'this node is in no cluster' };
  const member = cluster.nodes.find((n) => n.id === me);
  if (!member) return { ok: false, reason: `this node is not a member of cluster ${cluster.id}` };
  const address = cluster.replication?.sshAddresses?.[me] ?? member.heartbeatAddress;
  if (!address) return { ok: false, reason: `${me} has no heartbeat address and no replication address (tandem replication settings --ssh-address ${me}=IP)` };
  return { ok: true, value: { address, port: cluster.replication?.sshPort ?? DEFAULT_SSH_PORT } };
}

/** A command as it may be quoted in a log line or an answer: short, one line, printable. */
function printable(text: string): string {
  const flat = text.replace(/[^\x20-\x7e]/g, '?');
  return flat.length > 80 ? `${flat.slice(0, 80)}…` : flat;
}
