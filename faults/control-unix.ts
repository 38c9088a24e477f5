/**
 * Listening on a Unix socket that is never looser than mode 0600, not even for an instant: the
 * socket is bound inside a fresh private directory (mkdtemp creates it 0700, so nobody else can
 * reach the socket while its mode is still the umask's), set to 0600, then renamed into place
 * (rename is atomic). A stale socket at the path is replaced; any other file there is an error.
 * Used by the protobuf control socket and the HTTP API's Unix socket alike.
 */
import { chmodSync, existsSync, lstatSync, mkdtempSync, renameSync, rmSync, unlinkSync } from 'node:fs'
import type net from 'node:net'
import { dirname, join } from 'node:path'
import { InvalidArgumentError } from '../lib/errors.js'

export function removeStaleSocket(path: string, field = 'path'): void {
  if (!existsSync(path)) return
  if (!lstatSync(path).isSocket()) throw new InvalidArgumentError(field, `'${path}' exists and is not a socket`)
  unlinkSync(path)
}

export async function listenPrivateUnix(server: net.Server, path: string, field = 'path'): Promise<void> {
  removeStaleSocket(path, field)
  const dir = mkdtempSync(join(dirname(path), '.nvmf-fault-'))
  const tmp = join(dir, 's')
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen({ path: tmp, readableAll: false, writableAll: false }, () => {
        server.off('error', reject)
        resolve()
      })
    })
    chmodSync(tmp, 0o600)
    renameSync(tmp, path)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Remove the socket file at close (the server was bound under another name, so Node will not). */
export function unlinkSocket(path: string): void {
  try {
    if (existsSync(path) && lstatSync(path).isSocket()) unlinkSync(path)
  } catch {
    // already gone
  }
}
