import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';

/** Debian packages the deployment test needs beyond the testbed's (scripts/install-deps). */
const DEBS = ['docker.io', 'mmdebstrap', 'docker-compose'];

function installed(pkg: string): boolean {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes('install ok installed');
}

/**
 * Makes sure the machine can run the deployment test, installing Debian's docker.io and
 * mmdebstrap when missing (without starting Debian's own Docker service: the test runs private
 * daemons only). Returns why the test cannot run here, or undefined when it can.
 */
export function deployPrerequisites(): string | undefined {
  if (process.env['TANDEM_SKIP_DEPLOY'] === '1') return 'TANDEM_SKIP_DEPLOY=1';
  if (process.platform !== 'linux') return `needs Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'needs root (network and mount namespaces, dockerd)';
  if (!existsSync('/usr/bin/dpkg-query')) return 'needs a Debian machine (apt-get installs docker.io and mmdebstrap)';
  if (!existsSync('/dev/fuse')) return 'needs /dev/fuse (the test ZFS is zfs-fuse)';
  const missing = DEBS.filter((p) => !installed(p));
  if (missing.length) {
    process.stderr.write(`[deploy] installing ${missing.join(' ')}\n`);
    // no package's service is started by the install: the test starts only daemons of its own
    const policy = '/usr/sbin/policy-rc.d';
    const ours = !existsSync(policy);
    if (ours) writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
    try {
      execFileSync('apt-get', ['update', '-qq'], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 300_000 });
      execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {
        stdio: ['ignore', 'ignore', 'inherit'],
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
        timeout: 600_000,
      });
    } catch (err) {
      return `could not install ${missing.join(' ')}: ${(err as Error).message.split('\n')[0]}`;
    } finally {
      if (ours) rmSync(policy, { force: true });
    }
  }
  return undefined;
}
