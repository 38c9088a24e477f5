/**
 * A writer for the "newc" cpio format (magic 070701), the only archive format the Linux kernel
 * unpacks as an initramfs (Documentation/driver-api/early-userspace/buffer-format.rst). Writing it
 * ourselves keeps the image byte-for-byte reproducible (fixed mtimes, uid/gid 0, inode numbers in
 * entry order) and lets device nodes such as /dev/console exist without root's mknod.
 */

export type CpioEntry =
  | { kind: 'dir'; path: string; mode?: number }
  | { kind: 'file'; path: string; data: Buffer; mode?: number }
  | { kind: 'symlink'; path: string; target: string }
  | { kind: 'chardev'; path: string; major: number; minor: number; mode?: number }

const S_IFDIR = 0o040000
const S_IFREG = 0o100000
const S_IFLNK = 0o120000
const S_IFCHR = 0o020000
const HEADER_SIZE = 110

function hex8(n: number): string {
  return (n >>> 0).toString(16).padStart(8, '0')
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4
}

function header(fields: {
  ino: number
  mode: number
  nlink: number
  filesize: number
  rdevmajor: number
  rdevminor: number
  namesize: number
}): string {
  // c_magic c_ino c_mode c_uid c_gid c_nlink c_mtime c_filesize c_devmajor c_devminor
  // c_rdevmajor c_rdevminor c_namesize c_check
  return (
    '070701' +
    hex8(fields.ino) +
    hex8(fields.mode) +
    hex8(0) +
    hex8(0) +
    hex8(fields.nlink) +
    hex8(0) +
    hex8(fields.filesize) +
    hex8(0) +
    hex8(0) +
    hex8(fields.rdevmajor) +
    hex8(fields.rdevminor) +
    hex8(fields.namesize) +
    hex8(0)
  )
}

/**
 * Encode entries (in the given order; parents must come before children) followed by the
 * TRAILER!!! record. Paths are relative to the archive root ("bin/sh", not "/bin/sh").
 */
export function encodeCpio(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = []
  let ino = 1
  const push = (name: string, mode: number, nlink: number, data: Buffer, rdev: [number, number]): void => {
    const nameBuf = Buffer.from(`${name}\0`, 'utf8')
    const head = Buffer.from(
      header({ ino: ino++, mode, nlink, filesize: data.length, rdevmajor: rdev[0], rdevminor: rdev[1], namesize: nameBuf.length }),
      'ascii',
    )
    parts.push(head, nameBuf, Buffer.alloc(pad4(HEADER_SIZE + nameBuf.length)))
    if (data.length > 0) parts.push(data, Buffer.alloc(pad4(data.length)))
  }
  for (const e of entries) {
    const path = e.path.replace(/^\/+/, '')
    if (path === '') continue
    switch (e.kind) {
      case 'dir':
        push(path, S_IFDIR | (e.mode ?? 0o755), 2, Buffer.alloc(0), [0, 0])
        break
      case 'file':
        push(path, S_IFREG | (e.mode ?? 0o644), 1, e.data, [0, 0])
        break
      case 'symlink':
        push(path, S_IFLNK | 0o777, 1, Buffer.from(e.target, 'utf8'), [0, 0])
        break
      case 'chardev':
        push(path, S_IFCHR | (e.mode ?? 0o600), 1, Buffer.alloc(0), [e.major, e.minor])
        break
    }
  }
  push('TRAILER!!!', 0, 1, Buffer.alloc(0), [0, 0])
  return Buffer.concat(parts)
}
