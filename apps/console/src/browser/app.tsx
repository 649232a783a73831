import { Fragment, render, type ComponentChildren } from 'preact';
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { AddressInfo, HaPool, ImportablePool, ReplicationSettingsResult, ShareSpec, TokenResponse } from '@tandem/contracts';
import {
  MAINTENANCE_WARNING,
  applyEvent,
  confirmText,
  duration,
  emptyState,
  failoverText,
  filterActivity,
  heartbeatLinks,
  inactivePools,
  mergePools,
  nodeColumns,
  offlineImpact,
  presentedFingerprint,
  problemText,
  vipSpec,
  vipText,
  type ActivityFilter,
  type ConsoleState,
  type NodeColumn,
  type PoolAction,
  type PoolCard,
} from '../view/model';
import { Api, ApiProblem, Session, followEvents, type FeedState } from './api';

type Tab = 'ha' | 'activity' | 'settings';

interface Busy {
  text: string;
  since: number;
}

type DialogSpec =
  | { kind: 'confirm'; title: string; body: ComponentChildren; button: string; danger?: boolean; run: () => Promise<unknown>; progress: string }
  | { kind: 'move'; pool: PoolCard }
  | { kind: 'reattach'; pool: string; nodes: string[] }
  | { kind: 'attach'; node: string }
  | { kind: 'details'; pool: HaPool };

function errorText(err: unknown): string {
  return err instanceof ApiProblem ? problemText(err.problem) : (err as Error).message;
}

function tabFromHash(): Tab {
  const h = location.hash.replace(/^#\/?/, '').split('/')[0];
  return h === 'activity' || h === 'settings' ? h : 'ha';
}

// ---------------------------------------------------------------- login

function Login({ onLogin }: { onLogin: (t: TokenResponse) => void }) {
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onLogin(await Api.login(password));
    } catch (err) {
      setError(err instanceof ApiProblem && err.problem.status === 401 ? 'Wrong password.' : errorText(err));
      setBusy(false);
    }
  };
  return (
    <main class="login">
      <form class="card" onSubmit={submit} aria-labelledby="login-title">
        <h1 id="login-title">Tandem HA</h1>
        <p class="muted">Sign in with this node's admin password.</p>
        <label>
          User
          <input value="admin" disabled />
        </label>
        <label>
          Password
          <input id="password" type="password" autoFocus autoComplete="current-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} required />
        </label>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button class="primary" type="submit" disabled={busy || !password}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}

// ---------------------------------------------------------------- dialogs

function Dialog({ title, onClose, children }: { title: string; onClose: () => void; children: ComponentChildren }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const prev = document.activeElement as HTMLElement | null;
    const first = ref.current?.querySelector<HTMLElement>('input:not([disabled]), select, textarea, button.primary, button');
    first?.focus();
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && onClose();
    document.addEventListener('keydown', onKey);
    return () => {
      document.removeEventListener('keydown', onKey);
      prev?.focus?.();
    };
  }, []);
  return (
    <div class="overlay">
      <div class="dialog card" role="dialog" aria-modal="true" aria-label={title} ref={ref}>
        <h2>{title}</h2>
        {children}
      </div>
    </div>
  );
}

function Actions({ onClose, button, disabled, danger }: { onClose: () => void; button: string; disabled?: boolean; danger?: boolean }) {
  return (
    <div class="actions">
      <button type="button" onClick={onClose}>
        Cancel
      </button>
      <button type="submit" class={danger ? 'danger' : 'primary'} disabled={disabled}>
        {button}
      </button>
    </div>
  );
}

interface IpRow {
  iface: string;
  address: string;
  netmask: string;
}
interface ShareRow {
  name: string;
  protocol: 'nfs' | 'smb';
  path: string;
  users: string;
  guest: boolean;
}

function AttachDialog({ api, node, onClose, run }: { api: Api; node: string; onClose: () => void; run: (text: string, f: () => Promise<unknown>) => void }) {
  const [importable, setImportable] = useState<ImportablePool[] | null>(null);
  const [addresses, setAddresses] = useState<AddressInfo[]>([]);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [pool, setPool] = useState('');
  const [access, setAccess] = useState<'ip' | 'fc'>('ip');
  const [ips, setIps] = useState<IpRow[]>([{ iface: '', address: '', netmask: '24' }]);
  const [shares, setShares] = useState<ShareRow[]>([]);
  useEffect(() => {
    api.importable(node).then(
      (p) => {
        setImportable(p);
        if (p[0]) setPool(p[0].name);
      },
      (e) => setLoadError(errorText(e)),
    );
    api.addresses(node).then(setAddresses, () => undefined);
  }, [node]);
  const ifaces = [...new Set(addresses.map((a) => a.interface))].filter((i) => i !== 'lo');
  const vips = ips.map((r) => vipSpec(r.iface, r.address, r.netmask));
  const valid = !!pool && (access === 'fc' || (vips.length > 0 && vips.every((v) => v !== null))) && shares.every((s) => s.name.trim());
  const setIp = (i: number, patch: Partial<IpRow>) => setIps(ips.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  const setShare = (i: number, patch: Partial<ShareRow>) => setShares(shares.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  const submit = (e: Event) => {
    e.preventDefault();
    const specs: ShareSpec[] = shares.map((s) => ({
      name: s.name.trim(),
      protocol: s.protocol,
      path: s.path.trim(),
      readOnly: false,
      clients: [],
      rootSquash: true,
      users:
        s.protocol === 'smb' && !s.guest
          ? s.users
              .split(/[\s,]+/)
              .map((u) => u.trim())
              .filter(Boolean)
          : [],
      guest: s.protocol === 'smb' && s.guest,
    }));
    onClose();
    run(`Attaching ${pool} on ${node}…`, () => api.attach({ pool, node, fc: access === 'fc', vips: access === 'fc' ? [] : (vips as string[]), shares: specs }));
  };
  return (
    <Dialog title={`Attach a pool to ${node}`} onClose={onClose}>
      <form onSubmit={submit}>
        {loadError && <p class="error">{loadError}</p>}
        <label>
          Disk pool
          <select id="attach-pool" value={pool} onChange={(e) => setPool(e.currentTarget.value)} required>
            {importable === null && <option value="">Looking for importable pools…</option>}
            {importable?.length === 0 && <option value="">No importable pool on {node}</option>}
            {importable?.map((p) => (
              <option value={p.name} key={p.name}>
                {p.name} ({p.state})
              </option>
            ))}
          </select>
        </label>
        <fieldset>
          <legend>Access</legend>
          <label class="inline">
            <input type="radio" name="access" checked={access === 'ip'} onChange={() => setAccess('ip')} /> Floating IP
          </label>
          <label class="inline">
            <input type="radio" name="access" checked={access === 'fc'} onChange={() => setAccess('fc')} /> Fibre Channel
          </label>
        </fieldset>
        {access === 'ip' && (
          <fieldset>
            <legend>Floating IPs</legend>
            <datalist id="ifaces">
              {ifaces.map((i) => (
                <option value={i} key={i} />
              ))}
            </datalist>
            {ips.map((r, i) => (
              <div class="row" key={i}>
                <label>
                  Interface
                  <input class="vip-iface" list="ifaces" value={r.iface} onInput={(e) => setIp(i, { iface: e.currentTarget.value })} placeholder="cli0" required />
                </label>
                <label>
                  IP address
                  <input class="vip-address" value={r.address} onInput={(e) => setIp(i, { address: e.currentTarget.value })} placeholder="10.0.0.50" required />
                </label>
                <label>
                  Netmask
                  <input class="vip-netmask" value={r.netmask} onInput={(e) => setIp(i, { netmask: e.currentTarget.value })} placeholder="24 or 255.255.255.0" required />
                </label>
                {ips.length > 1 && (
                  <button type="button" aria-label="Remove this floating IP" onClick={() => setIps(ips.filter((_, j) => j !== i))}>
                    ×
                  </button>
                )}
              </div>
            ))}
            <button type="button" onClick={() => setIps([...ips, { iface: ifaces[0] ?? '', address: '', netmask: '24' }])}>
              Add a floating IP
            </button>
          </fieldset>
        )}
        <fieldset>
          <legend>Shares</legend>
          {shares.map((s, i) => (
            <div class="row" key={i}>
              <label>
                Name
                <input value={s.name} onInput={(e) => setShare(i, { name: e.currentTarget.value })} required />
              </label>
              <label>
                Protocol
                <select value={s.protocol} onChange={(e) => setShare(i, { protocol: e.currentTarget.value as 'nfs' | 'smb' })}>
                  <option value="nfs">NFS</option>
                  <option value="smb">SMB</option>
                </select>
              </label>
              <label>
                Path in the pool
                <input value={s.path} onInput={(e) => setShare(i, { path: e.currentTarget.value })} placeholder="(the pool's root)" />
              </label>
              {s.protocol === 'smb' && (
                <label>
                  Users
                  <input value={s.users} disabled={s.guest} onInput={(e) => setShare(i, { users: e.currentTarget.value })} placeholder="alice, bob" />
                </label>
              )}
              {s.protocol === 'smb' && (
                <label class="inline">
                  <input type="checkbox" checked={s.guest} onChange={(e) => setShare(i, { guest: e.currentTarget.checked })} /> Guests
                </label>
              )}
              <button type="button" aria-label="Remove this share" onClick={() => setShares(shares.filter((_, j) => j !== i))}>
                ×
              </button>
            </div>
          ))}
          <button type="button" onClick={() => setShares([...shares, { name: '', protocol: 'nfs', path: '', users: '', guest: false }])}>
            Add a share
          </button>
        </fieldset>
        <Actions onClose={onClose} button="Attach pool" disabled={!valid} />
      </form>
    </Dialog>
  );
}

function ChooseNodeDialog({
  title,
  body,
  nodes,
  button,
  onClose,
  onChoose,
}: {
  title: string;
  body: (n: string) => string;
  nodes: string[];
  button: string;
  onClose: () => void;
  onChoose: (n: string) => void;
}) {
  const [node, setNode] = useState(nodes[0] ?? '');
  return (
    <Dialog title={title} onClose={onClose}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          onClose();
          onChoose(node);
        }}
      >
        <label>
          Node
          <select id="choose-node" value={node} onChange={(e) => setNode(e.currentTarget.value)}>
            {nodes.map((n, i) => (
              <option value={n} key={n}>
                {n}
                {i === 0 ? ' (suggested)' : ''}
              </option>
            ))}
          </select>
        </label>
        {node && <p>{body(node)}</p>}
        {nodes.length === 0 && <p class="error">No online node to choose.</p>}
        <Actions onClose={onClose} button={button} disabled={!node} />
      </form>
    </Dialog>
  );
}

function PoolDetails({ pool, onClose }: { pool: HaPool; onClose: () => void }) {
  return (
    <Dialog title={`Pool ${pool.name}`} onClose={onClose}>
      <dl class="details">
        <dt>State</dt>
        <dd>{pool.state}</dd>
        <dt>Node</dt>
        <dd>{pool.node ?? '—'}</dd>
        <dt>Access</dt>
        <dd>{pool.fc ? 'Fibre Channel' : pool.vips.map(vipText).join(', ')}</dd>
        <dt>Shares</dt>
        <dd>{pool.shares.map((s) => `${s.name} (${s.protocol.toUpperCase()})`).join(', ') || 'none'}</dd>
        <dt>Mountpoint</dt>
        <dd>{pool.mountpoint ?? '—'}</dd>
        <dt>Epoch</dt>
        <dd>{pool.epoch}</dd>
      </dl>
      <div class="actions">
        <button class="primary" type="button" onClick={onClose}>
          Close
        </button>
      </div>
    </Dialog>
  );
}

// ---------------------------------------------------------------- no cluster

function NoCluster({ api, thisNode, run }: { api: Api; thisNode: string; run: (text: string, f: () => Promise<unknown>) => void }) {
  const [addresses, setAddresses] = useState<AddressInfo[]>([]);
  const [iface, setIface] = useState('');
  const [peer, setPeer] = useState('');
  const [password, setPassword] = useState('');
  const [fingerprint, setFingerprint] = useState('');
  const [joinError, setJoinError] = useState<{ text: string; fingerprint: string | null } | null>(null);
  useEffect(() => {
    if (!thisNode) return;
    api.addresses(thisNode).then(
      (a) => {
        const v4 = a.filter((x) => x.interface !== 'lo' && x.family === 4);
        setAddresses(v4);
        if (v4[0]) setIface(v4[0].interface);
      },
      () => undefined,
    );
  }, [thisNode]);
  const join = (e: Event) => {
    e.preventDefault();
    setJoinError(null);
    run(`Joining ${thisNode} to the cluster of ${peer}…`, () =>
      api.joinCluster({ peer: peer.trim(), password, ...(fingerprint.trim() ? { peerFingerprint: fingerprint.trim().toUpperCase() } : {}) }).catch((err) => {
        const text = errorText(err);
        setJoinError({ text, fingerprint: presentedFingerprint(text) });
        throw err;
      }),
    );
  };
  return (
    <section class="no-cluster">
      <form
        class="card"
        id="create-cluster"
        onSubmit={(e) => {
          e.preventDefault();
          run(`Creating the cluster on ${thisNode}…`, () => api.createCluster(iface));
        }}
      >
        <h2>Create Cluster</h2>
        <p class="muted">Form a new cluster with {thisNode} as its first node. The heartbeat interface must have the same name on every node.</p>
        <label>
          Heartbeat interface
          <select id="heartbeat-interface" value={iface} onChange={(e) => setIface(e.currentTarget.value)} required>
            {addresses.map((a) => (
              <option value={a.interface} key={`${a.interface}${a.address}`}>
                {a.interface} — {a.address}/{a.prefix}
              </option>
            ))}
          </select>
        </label>
        <button class="primary" type="submit" disabled={!iface}>
          Create cluster
        </button>
      </form>
      <form class="card" id="join-cluster" onSubmit={join}>
        <h2>Join Cluster</h2>
        <p class="muted">Join {thisNode} to the cluster of another node.</p>
        <label>
          Peer heartbeat IP
          <input id="peer" value={peer} onInput={(e) => setPeer(e.currentTarget.value)} placeholder="10.77.1.1" required />
        </label>
        <label>
          Peer admin password
          <input id="peer-password" type="password" autoComplete="off" value={password} onInput={(e) => setPassword(e.currentTarget.value)} required />
        </label>
        <label>
          Peer API certificate SHA-256 fingerprint
          <input id="peer-fingerprint" value={fingerprint} onInput={(e) => setFingerprint(e.currentTarget.value)} placeholder="AB:CD:… (logged by the peer's api-gateway)" />
        </label>
        {joinError && (
          <div class="error" role="alert">
            <p>The join failed; nothing changed. {joinError.text}</p>
            {joinError.fingerprint && !fingerprint && (
              <p>
                The peer presented {joinError.fingerprint}. If it is the fingerprint its api-gateway logged,{' '}
                <button type="button" onClick={() => setFingerprint(joinError.fingerprint!)}>
                  use it
                </button>
              </p>
            )}
          </div>
        )}
        <button class="primary" type="submit" disabled={!peer || !password}>
          Join cluster
        </button>
      </form>
    </section>
  );
}

// ---------------------------------------------------------------- the cluster

function PoolBox({ pool, onAction, onResume, onDetails }: { pool: PoolCard; onAction: (a: PoolAction, target?: string) => void; onResume: () => void; onDetails: () => void }) {
  return (
    <article class={`pool ${pool.inTransition ? 'transition' : ''}`} data-pool={pool.name} aria-label={`Pool ${pool.name}`}>
      <header>
        <button class="link pool-name" type="button" onClick={onDetails}>
          {pool.name}
        </button>
        <span class={`badge ${pool.state}`} data-state={pool.state}>
          {pool.stateLabel}
        </span>
      </header>
      <ul class="facts">
        {pool.access.map((a) => (
          <li key={a} class="access">
            {a}
          </li>
        ))}
        {pool.shares.map((s) => (
          <li key={s}>Share {s}</li>
        ))}
        {pool.mode === 'replicated' && <li>Shared nothing</li>}
      </ul>
      {pool.replication && (
        <div class="replication">
          <div>
            {pool.replication.direction} · {pool.replication.state} · lag {pool.replication.lag} · last sync {pool.replication.lastSync}
          </div>
          {pool.replication.locked && (
            <div class="locked" role="alert">
              {pool.replication.locked}{' '}
              <button type="button" class="danger" onClick={onResume}>
                Resume sync
              </button>
            </div>
          )}
        </div>
      )}
      {pool.failedOn.map((n) => (
        <div class="failed-on" key={n}>
          Failed on {n}{' '}
          <button type="button" onClick={() => onAction('mark-usable', n)}>
            Mark usable
          </button>
        </div>
      ))}
      <div class="buttons">
        <button type="button" disabled={pool.actionsDisabled || pool.moveTargets.length === 0} onClick={() => onAction('move')}>
          Move pool
        </button>
        <button type="button" disabled={pool.actionsDisabled} onClick={() => onAction('detach')}>
          Remove from cluster control
        </button>
        <button type="button" disabled={pool.actionsDisabled} onClick={() => onAction('export')}>
          Export from cluster control
        </button>
      </div>
    </article>
  );
}

function Column({
  col,
  children,
  onAttach,
  onOffline,
  onOnline,
  onRemove,
}: {
  col: NodeColumn;
  children: ComponentChildren;
  onAttach: () => void;
  onOffline: () => void;
  onOnline: () => void;
  onRemove: () => void;
}) {
  return (
    <section class="column" data-node={col.id} data-colour={col.colour} aria-label={`Node ${col.id}`}>
      <header>
        <span class={`health ${col.colour}`} title={col.stateLabel} aria-hidden="true" />
        <h2>{col.id}</h2>
        {col.thisNode && <span class="this-node">This node</span>}
        <span class="node-state">{col.stateLabel}</span>
        <span class="spacer" />
        {col.canAttach && (
          <button type="button" class="plus" aria-label={`Attach a pool to ${col.id}`} title="Attach a pool" onClick={onAttach}>
            +
          </button>
        )}
      </header>
      {col.healthDetail && col.colour !== 'green' && <p class="muted small">{col.healthDetail}</p>}
      <div class="pools">{children}</div>
      <footer>
        {col.canTakeOffline && (
          <button type="button" onClick={onOffline}>
            {col.thisNode ? 'Take this node offline' : `Take ${col.id} offline`}
          </button>
        )}
        {col.canBringOnline && (
          <button type="button" onClick={onOnline}>
            Bring online
          </button>
        )}
        {col.canRemove && (
          <button type="button" class="danger" onClick={onRemove}>
            Remove
          </button>
        )}
      </footer>
    </section>
  );
}

// ---------------------------------------------------------------- activity and settings

function ActivityPage({ state, trace }: { state: ConsoleState; trace: string | null }) {
  const [filter, setFilter] = useState<ActivityFilter>({});
  const entries = filterActivity(state.activity, filter).filter((e) => !trace || e.traceId === trace);
  const pools = [...new Set(state.activity.map((e) => e.target).filter((t) => state.pools.some((p) => p.name === t)))];
  const nodes = (state.status?.nodes ?? []).map((n) => n.id);
  return (
    <section class="card">
      <h2>Activity log</h2>
      <div class="row filters">
        <label>
          Pool
          <select id="filter-pool" value={filter.pool ?? ''} onChange={(e) => setFilter({ ...filter, pool: e.currentTarget.value || undefined })}>
            <option value="">All</option>
            {pools.map((p) => (
              <option key={p}>{p}</option>
            ))}
          </select>
        </label>
        <label>
          Node
          <select id="filter-node" value={filter.node ?? ''} onChange={(e) => setFilter({ ...filter, node: e.currentTarget.value || undefined })}>
            <option value="">All</option>
            {nodes.map((n) => (
              <option key={n}>{n}</option>
            ))}
          </select>
        </label>
        <label>
          Result
          <select id="filter-result" value={filter.result ?? ''} onChange={(e) => setFilter({ ...filter, result: (e.currentTarget.value || undefined) as ActivityFilter['result'] })}>
            <option value="">All</option>
            <option value="succeeded">Succeeded</option>
            <option value="failed">Failed</option>
            <option value="started">Started</option>
          </select>
        </label>
        {trace && (
          <a href="#/activity" class="button">
            All traces (showing {trace})
          </a>
        )}
      </div>
      <div class="table-wrap">
        <table class="activity">
          <thead>
            <tr>
              <th>Time</th>
              <th>Action</th>
              <th>Target</th>
              <th>Node</th>
              <th>Result</th>
              <th>Who</th>
              <th>Trace</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((e) => (
              <tr key={e.id} class={e.result}>
                <td>{new Date(e.at).toLocaleString()}</td>
                <td>{e.action}</td>
                <td>{e.target}</td>
                <td>{e.nodeId ?? ''}</td>
                <td>
                  {e.result}
                  {e.error ? `: ${e.error}` : ''}
                </td>
                <td>{e.actor}</td>
                <td>{e.traceId ? <a href={`#/activity/trace/${e.traceId}`}>{e.traceId.slice(0, 12)}…</a> : ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {entries.length === 0 && <p class="muted">No entries.</p>}
      </div>
    </section>
  );
}

function SettingsPage({ api, run }: { api: Api; run: (text: string, f: () => Promise<unknown>) => void }) {
  const [s, setS] = useState<ReplicationSettingsResult | null>(null);
  const [form, setForm] = useState({ snapshotInterval: '', retention: '', pullInterval: '' });
  const [error, setError] = useState<string | null>(null);
  const load = () =>
    api.settings().then(
      (r) => {
        setS(r);
        setForm({ snapshotInterval: `${r.schedule.snapshotIntervalS}s`, retention: String(r.schedule.retention), pullInterval: `${r.schedule.pullIntervalS}s` });
      },
      (e) => setError(errorText(e)),
    );
  useEffect(() => void load(), []);
  return (
    <form
      class="card"
      onSubmit={(e) => {
        e.preventDefault();
        run('Saving the shared-nothing settings…', () => api.putSettings({ snapshotInterval: form.snapshotInterval, retention: Number(form.retention), pullInterval: form.pullInterval }).then(setS));
      }}
    >
      <h2>Settings → Shared Nothing</h2>
      {error && <p class="error">{error}</p>}
      <label>
        Snapshot interval (active node)
        <input value={form.snapshotInterval} onInput={(e) => setForm({ ...form, snapshotInterval: e.currentTarget.value })} placeholder="15m" />
      </label>
      <label>
        Snapshot retention (snapshots kept)
        <input type="number" min="1" value={form.retention} onInput={(e) => setForm({ ...form, retention: e.currentTarget.value })} />
      </label>
      <label>
        Pull interval (passive node)
        <input value={form.pullInterval} onInput={(e) => setForm({ ...form, pullInterval: e.currentTarget.value })} placeholder="3m" />
      </label>
      {s && (
        <p>
          Rollback window: <strong>{duration(s.rollbackWindowS)}</strong>; a passive node may be away {duration(s.passiveDownLimitS)} before it needs a full resync.
        </p>
      )}
      {s?.warnings.map((w) => (
        <p class="warning" key={w}>
          {w}
        </p>
      ))}
      {s?.notes.map((n) => (
        <p class="muted" key={n}>
          {n}
        </p>
      ))}
      <div class="actions">
        <button class="primary" type="submit">
          Save
        </button>
      </div>
    </form>
  );
}

// ---------------------------------------------------------------- the page

function Console({ session, onLogout }: { session: TokenResponse; onLogout: () => void }) {
  const api = useMemo(() => new Api(session.token, onLogout), [session.token]);
  const [state, setState] = useState<ConsoleState>(emptyState);
  const [loaded, setLoaded] = useState(false);
  const [thisNode, setThisNode] = useState('');
  const [feed, setFeed] = useState<FeedState>('connecting');
  const [busy, setBusy] = useState<Busy | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [stale, setStale] = useState<string | null>(null);
  const scheduleRefreshRef = useRef<() => void>(() => undefined);
  const [notice, setNotice] = useState<string | null>(null);
  const [dialog, setDialog] = useState<DialogSpec | null>(null);
  const [tab, setTab] = useState<Tab>(tabFromHash());
  const [hash, setHash] = useState(location.hash);
  const [dismissed, setDismissed] = useState<string[]>([]);
  const [, tick] = useState(0);
  const stateRef = useRef(state);
  stateRef.current = state;

  const refresh = useCallback(async () => {
    try {
      const status = await api.status();
      const pools = status.cluster ? await api.pools().catch(() => stateRef.current.pools) : [];
      setState((s) => {
        const next = { ...s, status, pools: mergePools(s.pools, pools) };
        stateRef.current = next;
        return next;
      });
      setThisNode(status.answeredBy);
      setLoaded(true);
      setStale(null);
    } catch (err) {
      // e.g. while a standby resource-manager takes over: said apart from the operator's own errors, and read again soon
      setStale(errorText(err));
      window.setTimeout(() => scheduleRefreshRef.current(), 2_000);
    }
  }, [api]);

  const refreshTimer = useRef<number | null>(null);
  const scheduleRefresh = useCallback(() => {
    if (refreshTimer.current !== null) return;
    refreshTimer.current = window.setTimeout(() => {
      refreshTimer.current = null;
      void refresh();
    }, 100);
  }, [refresh]);
  scheduleRefreshRef.current = scheduleRefresh;

  useEffect(() => {
    void refresh();
    api.activity().then(
      (activity) => setState((s) => ({ ...s, activity })),
      () => undefined,
    );
    api.live().then(
      (l) => setThisNode((n) => n || l.node),
      () => undefined,
    );
    const stop = followEvents(
      () => session.token,
      (ev) => {
        const r = applyEvent(stateRef.current, ev);
        stateRef.current = r.state;
        setState(r.state);
        if (r.refresh) scheduleRefresh();
      },
      (s) => {
        setFeed(s);
        if (s === 'live') scheduleRefresh();
      },
    );
    // a safety net only: the feed drives the page
    const poll = window.setInterval(() => void refresh(), 15_000);
    const clock = window.setInterval(() => tick((t) => t + 1), 1_000);
    const onHash = () => {
      setTab(tabFromHash());
      setHash(location.hash);
    };
    window.addEventListener('hashchange', onHash);
    return () => {
      stop();
      window.clearInterval(poll);
      window.clearInterval(clock);
      window.removeEventListener('hashchange', onHash);
    };
  }, [api]);

  /** Runs an operation with its progress shown; its problem detail shown if it fails. */
  const run = useCallback(
    (text: string, f: () => Promise<unknown>) => {
      setError(null);
      setNotice(null);
      setBusy({ text, since: Date.now() });
      f().then(
        (result) => {
          setBusy(null);
          void refresh();
          if (text.startsWith('Attaching') && result && typeof result === 'object' && 'name' in result) setDialog({ kind: 'details', pool: result as HaPool });
          setNotice(text.replace(/…$/, ': done.'));
        },
        (err) => {
          setBusy(null);
          setError(errorText(err));
          void refresh();
        },
      );
    },
    [refresh],
  );

  const status = state.status;
  const cluster = status?.cluster ?? null;
  /** The nodes may share their messaging before they form one cluster: a node outside it is offered to join it. */
  const member = !!cluster && !!status?.nodes.some((n) => n.id === (status?.answeredBy ?? thisNode));
  const columns = nodeColumns(state);
  const links = heartbeatLinks(status?.nodes ?? [], state.liveness);
  const inactive = inactivePools(state);
  const failovers = state.failovers.filter((f) => !dismissed.includes(f.id));

  const poolAction = (p: PoolCard, action: PoolAction, target?: string) => {
    if (action === 'move') return setDialog({ kind: 'move', pool: p });
    const c = confirmText(action, p.name, target);
    const call = action === 'mark-usable' ? () => api.poolAction(p.name, 'mark-usable', { node: target! }) : () => api.poolAction(p.name, action as 'detach' | 'export');
    setDialog({ kind: 'confirm', title: c.title, body: <p>{c.body}</p>, button: c.button, danger: action !== 'mark-usable', run: call, progress: `${c.title}…` });
  };

  const takeOffline = (node: string) =>
    setDialog({
      kind: 'confirm',
      title: `Take ${node} offline`,
      body: (
        <ul class="impact">
          {offlineImpact(node, state).map((l) => (
            <li key={l}>{l}</li>
          ))}
        </ul>
      ),
      button: 'Take offline',
      danger: true,
      run: () => api.nodeOffline(node),
      progress: `Taking ${node} offline…`,
    });

  const maintenance = (on: boolean) =>
    setDialog({
      kind: 'confirm',
      title: on ? 'Put cluster in maintenance' : 'End maintenance',
      body: <p class={on ? 'warning' : ''}>{on ? MAINTENANCE_WARNING : 'Automatic failover resumes: a node that fails has its pools taken over again.'}</p>,
      button: on ? 'Put cluster in maintenance' : 'End maintenance',
      danger: on,
      run: () => api.maintenance(on),
      progress: on ? 'Putting the cluster in maintenance…' : 'Ending maintenance…',
    });

  // a done notice goes after a while; errors stay until dismissed
  useEffect(() => {
    if (!notice) return;
    const t = window.setTimeout(() => setNotice(null), 8_000);
    return () => window.clearTimeout(t);
  }, [notice]);

  const trace = /^#\/activity\/trace\/(.+)$/.exec(hash)?.[1] ?? null;

  return (
    <div class="app">
      <header class="top">
        <h1>Tandem HA</h1>
        <nav aria-label="Pages">
          <a href="#/" aria-current={tab === 'ha' ? 'page' : undefined}>
            High Availability
          </a>
          <a href="#/activity" aria-current={tab === 'activity' ? 'page' : undefined}>
            Activity log
          </a>
          <a href="#/settings" aria-current={tab === 'settings' ? 'page' : undefined}>
            Settings
          </a>
        </nav>
        <span class="spacer" />
        <span class={`feed ${feed}`} id="feed" data-feed={feed} title="The live event feed">
          {feed === 'live' ? 'Live' : feed === 'connecting' ? 'Connecting…' : 'Reconnecting…'}
        </span>
        {member && cluster && (
          <button type="button" id="maintenance" onClick={() => maintenance(!cluster.maintenance)}>
            {cluster.maintenance ? 'End maintenance' : 'Put cluster in maintenance'}
          </button>
        )}
        <button type="button" id="logout" onClick={onLogout}>
          Log out
        </button>
      </header>

      <div class="banners" aria-live="polite">
        {cluster?.maintenance && (
          <div class="banner warning" id="maintenance-banner" role="status">
            The cluster is in maintenance: automatic failover is off.
          </div>
        )}
        {status?.failover?.declined && !cluster?.maintenance && <div class="banner warning">Automatic failover is declined: {status.failover.declined}</div>}
        {failovers.map((f) => (
          <div class="banner failover" data-failover={f.pool} key={f.id} role="alert">
            <span>
              {failoverText(f)}
              {f.traceId && (
                <>
                  {' '}
                  · trace <a href={`#/activity/trace/${f.traceId}`}>{f.traceId}</a>
                </>
              )}
            </span>
            <button type="button" aria-label="Dismiss" onClick={() => setDismissed([...dismissed, f.id])}>
              ×
            </button>
          </div>
        ))}
        {stale && (
          <div class="banner warning" id="stale" role="status">
            The cluster's state could not be read ({stale}); trying again.
          </div>
        )}
        {busy && (
          <div class="banner progress" id="progress" role="status">
            <span class="spinner" aria-hidden="true" /> {busy.text} ({Math.round((Date.now() - busy.since) / 1000)} s)
          </div>
        )}
        {error && (
          <div class="banner error" id="error" role="alert">
            <span>{error}</span>
            <button type="button" aria-label="Dismiss" onClick={() => setError(null)}>
              ×
            </button>
          </div>
        )}
        {notice && !busy && !error && (
          <div class="banner ok" id="notice" role="status">
            {notice}
          </div>
        )}
      </div>

      <main>
        {!loaded && <p class="muted">Loading…</p>}
        {loaded && tab === 'ha' && !member && (
          <>
            {cluster && (
              <p class="banner warning" id="not-member">
                {thisNode} is not a member of the cluster formed by {status?.nodes.map((n) => n.id).join(', ')}: join it below.
              </p>
            )}
            <NoCluster api={api} thisNode={thisNode} run={run} />
          </>
        )}
        {loaded && tab === 'ha' && cluster && member && (
          <>
            <div class="cluster" id="cluster">
              {columns.map((col, i) => (
                <Fragment key={col.id}>
                  {i > 0 && (
                    <div class={`hb-link ${links[i - 1]?.up ? 'up' : 'down'}`} data-link={links[i - 1]?.up ? 'up' : 'down'} title={`Heartbeat ${cluster.heartbeatInterface}`}>
                      <span>
                        {cluster.heartbeatInterface} {links[i - 1]?.up ? 'up' : 'down'}
                      </span>
                    </div>
                  )}
                  <Column
                    col={col}
                    onAttach={() => setDialog({ kind: 'attach', node: col.id })}
                    onOffline={() => takeOffline(col.id)}
                    onOnline={() => run(`Bringing ${col.id} online…`, () => api.nodeOnline(col.id))}
                    onRemove={() =>
                      setDialog({
                        kind: 'confirm',
                        title: `Remove ${col.id}`,
                        body: <p>{col.id} is removed from the cluster for good; to come back it has to join again.</p>,
                        button: 'Remove node',
                        danger: true,
                        run: () => api.nodeRemove(col.id),
                        progress: `Removing ${col.id}…`,
                      })
                    }
                  >
                    {col.pools.map((p) => (
                      <PoolBox
                        key={p.name}
                        pool={p}
                        onAction={(a, t) => poolAction(p, a, t)}
                        onResume={() => run(`Resuming sync of ${p.name}…`, () => api.resumeSync(p.name))}
                        onDetails={() => {
                          const full = state.pools.find((x) => x.name === p.name);
                          if (full) setDialog({ kind: 'details', pool: full });
                        }}
                      />
                    ))}
                    {col.pools.length === 0 && <p class="muted">No HA pool.</p>}
                  </Column>
                </Fragment>
              ))}
              {columns.length === 1 && (
                <>
                  <div class="hb-link down" data-link="waiting">
                    <span>{cluster.heartbeatInterface}</span>
                  </div>
                  <section class="column placeholder" aria-label="The node to join">
                    <h2>Remote node</h2>
                    <p class="muted">
                      No second node yet. On the other node's console, choose Join Cluster and give this node's heartbeat address
                      {status?.nodes[0]?.heartbeatAddress ? ` (${status.nodes[0].heartbeatAddress})` : ''}.
                    </p>
                  </section>
                </>
              )}
            </div>
            <section class="card inactive" id="inactive-pools" aria-label="Inactive cluster pools">
              <h2>Inactive cluster pools</h2>
              {inactive.length === 0 && <p class="muted">None.</p>}
              {inactive.map((p) => (
                <article class="pool" data-inactive={p.name} key={p.name}>
                  <header>
                    <strong>{p.name}</strong>
                    <span class="spacer" />
                    <button
                      type="button"
                      onClick={() => {
                        const c = confirmText('remove', p.name);
                        setDialog({ kind: 'confirm', title: c.title, body: <p>{c.body}</p>, button: c.button, danger: true, run: () => api.removePool(p.name), progress: `Removing ${p.name}…` });
                      }}
                    >
                      Remove
                    </button>
                  </header>
                  <p class="reason">{p.reason}</p>
                  <button type="button" class="primary" onClick={() => setDialog({ kind: 'reattach', pool: p.name, nodes: p.nodes })}>
                    Reattach
                  </button>
                </article>
              ))}
            </section>
          </>
        )}
        {loaded && tab === 'activity' && <ActivityPage state={state} trace={trace} />}
        {loaded && tab === 'settings' && <SettingsPage api={api} run={run} />}
      </main>

      {dialog?.kind === 'confirm' && (
        <Dialog title={dialog.title} onClose={() => setDialog(null)}>
          <form
            onSubmit={(e) => {
              e.preventDefault();
              setDialog(null);
              run(dialog.progress, dialog.run);
            }}
          >
            {dialog.body}
            <Actions onClose={() => setDialog(null)} button={dialog.button} danger={dialog.danger} />
          </form>
        </Dialog>
      )}
      {dialog?.kind === 'move' && (
        <ChooseNodeDialog
          title={`Move ${dialog.pool.name}`}
          nodes={dialog.pool.moveTargets}
          button="Move pool"
          body={(n) => confirmText('move', dialog.pool.name, n).body}
          onClose={() => setDialog(null)}
          onChoose={(n) => run(`Moving ${dialog.pool.name} to ${n}…`, () => api.poolAction(dialog.pool.name, 'move', { to: n }))}
        />
      )}
      {dialog?.kind === 'reattach' && (
        <ChooseNodeDialog
          title={`Reattach ${dialog.pool}`}
          nodes={dialog.nodes}
          button="Reattach pool"
          body={(n) => confirmText('reattach', dialog.pool, n).body}
          onClose={() => setDialog(null)}
          onChoose={(n) => run(`Reattaching ${dialog.pool} on ${n}…`, () => api.poolAction(dialog.pool, 'reattach', { node: n }))}
        />
      )}
      {dialog?.kind === 'attach' && <AttachDialog api={api} node={dialog.node} onClose={() => setDialog(null)} run={run} />}
      {dialog?.kind === 'details' && <PoolDetails pool={dialog.pool} onClose={() => setDialog(null)} />}
    </div>
  );
}

function Root() {
  const [session, setSession] = useState<TokenResponse | null>(Session.load());
  if (!session)
    return (
      <Login
        onLogin={(t) => {
          Session.save(t);
          setSession(t);
        }}
      />
    );
  return (
    <Console
      session={session}
      onLogout={() => {
        Session.clear();
        setSession(null);
      }}
    />
  );
}

render(<Root />, document.getElementById('app')!);
