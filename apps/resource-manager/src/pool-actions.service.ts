import { Injectable, Logger } from '@nestjs/common';
import { ErrorCode, TandemError, sharePath, type HaPool } from '@tandem/contracts';
import type { Step } from '@tandem/domain';
import { HostClient } from '@tandem/messaging';
import { inSpan } from '@tandem/telemetry';
import { ChapStore } from './chap.store';
import { ClusterStore } from './cluster.store';

/** What a node's import of a pool told: where its disks were and its root's mountpoint. */
interface ImportReport {
  node: string;
  devices?: string[];
  mountpoint?: string | null;
}

/** Runs bring-up / bring-down steps on host-executors, one span per step. */
@Injectable()
export class PoolActions {
  private readonly logger = new Logger('pool-actions');
  /** Each pool's last import by this resource-manager, until its record is written (see `devicesOf`, `mountpoint`). */
  private readonly imports = new Map<string, ImportReport>();

  constructor(
    private readonly host: HostClient,
    private readonly cluster: ClusterStore,
    private readonly chap: ChapStore,
  ) {}

  async run(pool: HaPool, steps: Step[], mountpoint: string | null): Promise<void> {
    for (const step of steps) {
      await inSpan(step.kind, { 'tandem.pool': pool.name, 'tandem.node': step.node }, async () => {
        try {
          await this.runStep(pool, step, mountpoint);
        } catch (err) {
          const e = err as TandemError;
          throw new TandemError(e.code ?? ErrorCode.Internal, `${step.kind} on ${step.node} failed: ${e.message}`, e.field, e.detail);
        }
      });
    }
  }

  /** Run every step, ignoring failures (rollback / best-effort release); returns the failures. */
  async runAll(pool: HaPool, steps: Step[]): Promise<string[]> {
    const failures: string[] = [];
    for (const step of steps) {
      try {
        await inSpan(step.kind, { 'tandem.pool': pool.name, 'tandem.node': step.node }, () => this.runStep(pool, step, null));
      } catch (err) {
        failures.push(`${step.kind} on ${step.node}: ${(err as Error).message}`);
      }
    }
    return failures;
  }

  private async runStep(pool: HaPool, step: Step, mountpoint: string | null): Promise<void> {
    switch (step.kind) {
      case 'share.stop':
        await this.host.call(step.node, 'share.stop', { pool: pool.name });
        return;
      case 'target.stop':
        await this.host.call(step.node, 'iscsi.stop', { pool: pool.name });
        return;
      case 'target.start': {
        // the backings live in the pool (its zvols or files): the node finds them once imported
        // over FC each node's ALUA port group id is its place among the cluster's nodes
        const fcNodes = pool.fc ? (await this.cluster.require()).cluster.nodes.map((n) => n.id) : undefined;
        // the pool's CHAP, wherever the target starts (kept apart from the pool record)
        const chap = await this.chap.get(pool.name);
        await this.host.call(
          step.node,
          'iscsi.start',
          { pool: pool.name, addresses: pool.vips.map((v) => v.address), luns: pool.luns ?? [], fc: pool.fc, ...(fcNodes ? { fcNodes } : {}), ...(chap ? { chap } : {}) },
          60_000,
        );
        return;
      }
      case 'ip.remove':
        await this.host.call(step.node, 'ip.remove', { interface: step.vip.interface, address: step.vip.address, prefix: step.vip.prefix });
        return;
      case 'pool.export':
        if (step.hardFenceAfterMs !== undefined) {
          // the node must let go: it answers once exported, or once it fenced itself harder
          const r = await this.host.call(
            step.node,
            'pool.export',
            { pool: pool.name, force: true, hardFenceAfterMs: step.hardFenceAfterMs, epoch: step.epoch ?? pool.epoch },
            step.hardFenceAfterMs + 10_000,
          );
          if (r.hardFenced) this.logger.error(`pool ${pool.name} could not be exported on ${step.node}: that node fenced itself harder`);
          return;
        }
        try {
          await this.host.call(step.node, 'pool.export', { pool: pool.name, force: step.force });
        } catch (err) {
          if (step.force) throw err;
          // a pool that cannot be released cleanly is released harder
          this.logger.warn(`export of ${pool.name} on ${step.node} failed (${(err as Error).message}); forcing`);
          await this.host.call(step.node, 'pool.export', { pool: pool.name, force: true });
        }
        return;
      case 'pool.import': {
        // a shared pool's disks are where its last import found them, on every node (one JBOD);
        // a replicated pool's copies are each node's own
        const devices = pool.mode !== 'replicated' && pool.devices?.length ? { devices: pool.devices } : {};
        const r = await this.host.call(step.node, 'pool.import', { pool: pool.name, epoch: step.epoch, force: step.force, role: 'serve', ...devices }, 120_000);
        this.imports.set(pool.name, { node: step.node, devices: r.devices, mountpoint: r.mountpoint });
        return;
      }
      case 'pool.demote':
        await this.host.call(step.node, 'pool.import', { pool: pool.name, role: step.role, epoch: step.epoch }, 120_000);
        return;
      case 'ip.add':
        await this.host.call(step.node, 'ip.add', { interface: step.vip.interface, address: step.vip.address, prefix: step.vip.prefix, pool: pool.name, epoch: step.epoch });
        return;
      case 'share.start': {
        const mp = mountpoint ?? pool.mountpoint;
        if (!mp) throw new TandemError(ErrorCode.ShareFailed, `pool ${pool.name} has no mountpoint: its shares cannot start`);
        await this.host.call(step.node, 'share.start', {
          pool: pool.name,
          name: step.share.name,
          protocol: step.share.protocol,
          path: sharePath(mp, step.share.path),
          addresses: pool.vips.map((v) => v.address),
          readOnly: step.share.readOnly,
          clients: step.share.clients,
          rootSquash: step.share.rootSquash,
          users: step.share.protocol === 'smb' ? (step.share.users ?? []) : [],
          ...(step.share.protocol === 'nfs' ? { poolRoot: mp } : {}),
        });
        return;
      }
    }
  }

  /**
   * The pool's root dataset mountpoint on `node` (after import): what that node's import just
   * told (one question fewer on a takeover's path), else asked.
   */
  async mountpoint(pool: string, node: string): Promise<string | null> {
    const told = this.imports.get(pool);
    if (told?.node === node && told.mountpoint !== undefined) {
      const mp = told.mountpoint;
      told.mountpoint = undefined; // told once: a later question (the pool may have changed since) is asked
      return mp;
    }
    const ds = await this.host.call(node, 'dataset.list', { root: pool });
    return ds.find((d) => d.name === pool)?.mountpoint ?? null;
  }

  /**
   * Where a shared pool's disks were when `node` last imported it through this service, for its
   * record (the next import reads only those); the record's own when the import did not tell
   * (imported already, or a replicated pool).
   */
  devicesOf(pool: HaPool, node: string): Pick<HaPool, 'devices'> {
    const told = this.imports.get(pool.name);
    const fresh = pool.mode !== 'replicated' && told?.node === node && told.devices?.length ? told.devices : undefined;
    if (told?.node === node) told.devices = undefined; // told once, for the record written after that import
    const devices = fresh ?? pool.devices;
    return devices ? { devices } : {};
  }
}
