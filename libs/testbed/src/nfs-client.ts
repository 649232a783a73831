/**
 * The testbed's NFS client: libnfs' user-space utilities (nfs-cp, nfs-cat, nfs-ls) in the client
 * namespace, writing through NFS-Ganesha onto zfs-fuse.
 *
 * Why nfs-cp runs in a time namespace: libnfs 4.0 (Debian's) opens every NFSv4 create
 * EXCLUSIVE4 (its O_EXCL test is `flags | O_EXCL`, always true), with a verifier whose halves
 * are its pid and the bitwise NOT of its CLOCK_MONOTONIC milliseconds. Ganesha keeps an
 * exclusive create's verifier in the new file's atime/mtime (each half a tv_sec); zfs-fuse
 * refuses any time past 2^31 - 1 with EOVERFLOW, which Ganesha answers NFS4ERR_INVAL. Kernel
 * OpenZFS on 64-bit Linux takes 64-bit times, and kernel clients create a plain O_CREAT file
 * UNCHECKED4 (no verifier). A CLOCK_MONOTONIC offset picks the client's verifier: one that
 * fits 31 bits shows the whole path works on ZFS, one that does not shows the limit itself.
 * Files stay under 3 KB: libnfs 4.0's nfs-cp fails any larger write ("Failed to encode
 * COMPOUND4args"), on every filesystem.
 */

/** Offset (s) moving CLOCK_MONOTONIC to `targetMs` modulo 2^32 ms, ahead of now. */
export function monotonicOffsetFor(targetMs: number): number {
  const nowMs = Number(process.hrtime.bigint() / 1_000_000n);
  const period = 2 ** 32;
  const k = Math.floor(nowMs / period) + 1;
  return Math.ceil((k * period + targetMs - nowMs) / 1000);
}

/** Clock at 0xC0000000 ms: the verifier's time half is NOT of it, 0x3FFFFFFF, which fits. */
export const verifierFits = (): number => monotonicOffsetFor(0xc000_0000);
/** Clock at 0x40000000 ms: the time half is 0xBFFFFFFF, past what zfs-fuse stores. */
export const verifierOverflows = (): number => monotonicOffsetFor(0x4000_0000);

/** The NFSv4 URL of a file in an export (`nfs://VIP/EXPORT/FILE?version=4`). */
export const nfsUrl = (address: string, exportName: string, file: string): string => `nfs://${address}/${exportName}/${file}?version=4`;

/** argv of an nfs-cp of the local file `src` to `url`, its clock moved by `offsetS` (default: a verifier that fits). */
export function nfsCpArgv(src: string, url: string, offsetS: number = verifierFits()): string[] {
  return ['unshare', '--time', '--fork', '--monotonic', String(offsetS), 'nfs-cp', src, url];
}
