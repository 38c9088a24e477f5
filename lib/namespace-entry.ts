/**
 * What one NSID of a `NamespaceMap` (lib/namespace-map.ts) holds: the identity a host sees, the
 * immutable entry version a reader keeps while it uses the store, the reference it holds, and what
 * `NamespaceMap.add` takes. Kept apart so the map's module is about publishing and references only.
 */
export interface NamespaceIdentity {
  /** 16 bytes; all zero = not reported. */
  readonly nguid: Buffer
  /** 16 bytes in textual order; all zero = not reported. */
  readonly uuid: Buffer
  /** 8 bytes; all zero = not reported. */
  readonly eui64: Buffer
  /** ANA group id (1-based). */
  readonly anagrpid: number
  readonly enabled: boolean
  /** Size in logical blocks. */
  readonly blocks: bigint
  /** Logical block size in bytes (power of two, >= 512). */
  readonly blockSize: number
}

export interface NamespaceEntry<S> extends NamespaceIdentity {
  readonly nsid: number
  /** Map generation at which this version of the entry was published. */
  readonly generation: number
  /** Identifies one add → remove lifetime of the NSID; kept across versions (enable, resize...). */
  readonly instance: number
  readonly store: S
}

export interface NamespaceRef<S> {
  readonly entry: NamespaceEntry<S>
  /** Drop the reference (idempotent). */
  release(): void
}

export interface AddNamespaceOptions<S> {
  nsid: number
  store: S
  blocks: bigint
  blockSize: number
  anagrpid?: number
  /** Default true. */
  enabled?: boolean
  nguid?: Uint8Array
  /** 16 bytes or the textual form. */
  uuid?: Uint8Array | string
  eui64?: Uint8Array
}
