import { interfaceNameSchema, ipAddressSchema, prefixLengthSchema, type AddressInfo, type LinkInfo } from '@tandem/contracts';
import { isIP } from 'node:net';

/** argv builders for iproute2 and arping; every value validated again here. */
export const ipCmd = {
  addrShow: (iface?: string) => ['ip', '-j', 'addr', 'show', ...(iface ? ['dev', interfaceNameSchema.parse(iface)] : [])],
  linkShow: () => ['ip', '-j', 'link', 'show'],
  addrAdd: (iface: string, address: string, prefix: number) => ['ip', 'addr', 'add', `${ipAddressSchema.parse(address)}/${prefixLengthSchema.parse(prefix)}`, 'dev', interfaceNameSchema.parse(iface)],
  addrDel: (iface: string, address: string, prefix: number) => ['ip', 'addr', 'del', `${ipAddressSchema.parse(address)}/${prefixLengthSchema.parse(prefix)}`, 'dev', interfaceNameSchema.parse(iface)],
  /** Unsolicited (gratuitous) ARP so switches and clients learn the new owner at once. */
  gratuitousArp: (iface: string, address: string, count: number) => {
    if (isIP(address) !== 4) throw new Error('gratuitous ARP is IPv4 only');
    return ['arping', '-U', '-c', String(count), '-w', String(count + 1), '-I', interfaceNameSchema.parse(iface), ipAddressSchema.parse(address)];
  },
};

interface IpJsonAddr {
  ifname: string;
  addr_info?: Array<{ family: string; local: string; prefixlen: number; scope?: string }>;
}
interface IpJsonLink {
  ifname: string;
  flags?: string[];
  operstate?: string;
  mtu?: number;
  address?: string;
}

/** `ip -j addr show` → addresses (link-local IPv6 left out). */
export function parseIpAddr(stdout: string): AddressInfo[] {
  const data = JSON.parse(stdout || '[]') as IpJsonAddr[];
  const out: AddressInfo[] = [];
  for (const l of data) {
    for (const a of l.addr_info ?? []) {
      if (a.family !== 'inet' && a.family !== 'inet6') continue;
      if (a.scope === 'link' && a.family === 'inet6') continue;
      out.push({ interface: l.ifname, address: a.local, prefix: a.prefixlen, family: a.family === 'inet' ? 4 : 6 });
    }
  }
  return out;
}

/** `ip -j link show` → links; `carrier` is LOWER_UP. */
export function parseIpLink(stdout: string): LinkInfo[] {
  const data = JSON.parse(stdout || '[]') as IpJsonLink[];
  return data.map((l) => ({
    name: l.ifname,
    up: (l.flags ?? []).includes('UP'),
    carrier: (l.flags ?? []).includes('LOWER_UP'),
    mtu: l.mtu ?? 0,
    mac: l.address ?? null,
  }));
}
