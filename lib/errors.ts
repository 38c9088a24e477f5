/**
 * The three error kinds of nvmf-fault, never mixed:
 *
 * 1. NVMe command status is *data*: a target returns a status value (see `status.ts`) and writes it
 *    into the CQE; it is never thrown. An initiator surfaces a failed completion as
 *    {@link NvmeStatusError}.
 * 2. Transport-fatal errors ({@link NvmeTcpProtocolError}) tear the queue down; the side that detects
 *    one sends a TermReq carrying `fes` and `fei` (NVMe/TCP 1.0 section 3.6.2.10 / 7.4.7).
 * 3. Caller errors: a bad option or argument, a call in the wrong state, a timeout, a lost
 *    connection. Each carries a stable `code` to branch on.
 */

export type NvmeofErrorCode =
  | 'ERR_NVMEOF_PROTOCOL'
  | 'ERR_NVMEOF_DECODE'
  | 'ERR_NVMEOF_STATUS'
  | 'ERR_NVMEOF_INVALID_ARG'
  | 'ERR_NVMEOF_INVALID_STATE'
  | 'ERR_NVMEOF_TIMEOUT'
  | 'ERR_NVMEOF_CONNECTION'
  | 'ERR_NVMEOF_WRITE_QUEUE_FULL'
  | 'ERR_NVMEOF_ABORTED'
  | 'ERR_NVMEOF_CONFIG'
  | 'ERR_NVMEOF_AUTH'

export class NvmeofError extends Error {
  readonly code: NvmeofErrorCode
  constructor(code: NvmeofErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = new.target.name
  }
}

/** TermReq Fatal Error Status values (NVMe/TCP 1.0, Figure 27). */
export const FES = {
  INVALID_HEADER_FIELD: 0x01,
  PDU_SEQUENCE_ERROR: 0x02,
  HEADER_DIGEST_ERROR: 0x03,
  DATA_TRANSFER_OUT_OF_RANGE: 0x04,
  DATA_TRANSFER_LIMIT_EXCEEDED: 0x05,
  /** Alias used by Linux and SPDK for the same value. */
  R2T_LIMIT_EXCEEDED: 0x05,
  UNSUPPORTED_PARAMETER: 0x06,
} as const
export type FesValue = (typeof FES)[keyof typeof FES]

export const FES_NAMES: Readonly<Record<number, string>> = {
  0x01: 'Invalid PDU Header Field',
  0x02: 'PDU Sequence Error',
  0x03: 'Header Digest Error',
  0x04: 'Data Transfer Out of Range',
  0x05: 'Data Transfer Limit Exceeded',
  0x06: 'Unsupported Parameter',
}

/**
 * A transport-fatal NVMe/TCP error. `fei` is the Fatal Error Information: for FES 0x01 and 0x06 the
 * byte offset of the offending field from the start of the PDU; 0 otherwise. `header` is a copy of
 * the offending PDU header (at most 128 bytes) for the TermReq data.
 */
export class NvmeTcpProtocolError extends NvmeofError {
  readonly fes: number
  readonly fei: number
  readonly header: Buffer | undefined
  constructor(fes: number, fei: number, message: string, header?: Uint8Array) {
    super('ERR_NVMEOF_PROTOCOL', `${message} (FES 0x${fes.toString(16).padStart(2, '0')} ${FES_NAMES[fes] ?? 'unknown'}, FEI ${fei})`)
    this.fes = fes
    this.fei = fei
    this.header = header === undefined ? undefined : Buffer.from(header.subarray(0, 128))
  }
}

/** A structure (SQE, Identify data, log page, ...) could not be decoded; `field` names it. */
export class DecodeError extends NvmeofError {
  readonly field: string
  readonly offset: number
  constructor(field: string, offset: number, message: string) {
    super('ERR_NVMEOF_DECODE', `${field} at offset ${offset}: ${message}`)
    this.field = field
    this.offset = offset
  }
}

/** A bad option or argument from a caller; `field` names it ("'kato' must be ..."). */
export class InvalidArgumentError extends NvmeofError {
  readonly field: string
  constructor(field: string, message: string) {
    super('ERR_NVMEOF_INVALID_ARG', `'${field}' ${message}`)
    this.field = field
  }
}

/** A configuration file or scenario could not be accepted; `path` is the dotted path of the bad field. */
export class ConfigError extends NvmeofError {
  readonly path: string
  constructor(path: string, message: string) {
    super('ERR_NVMEOF_CONFIG', `${path}: ${message}`)
    this.path = path
  }
}

export class InvalidStateError extends NvmeofError {
  constructor(message: string) {
    super('ERR_NVMEOF_INVALID_STATE', message)
  }
}

/** An illegal move of one of the explicit state machines. */
export class InvalidStateTransitionError extends InvalidStateError {
  readonly machine: string
  readonly from: string
  readonly to: string
  constructor(machine: string, from: string, to: string) {
    super(`${machine}: illegal transition ${from} -> ${to}`)
    this.machine = machine
    this.from = from
    this.to = to
  }
}

export class TimeoutError extends NvmeofError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_NVMEOF_TIMEOUT', message, options)
  }
}

export class ConnectionError extends NvmeofError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_NVMEOF_CONNECTION', message, options)
  }
}

/**
 * A queue pair's PDUs waiting for the socket's 'drain' reached their bound (the peer stopped
 * reading): the command was not sent. `qid` names the queue, `limit` the bound.
 */
export class WriteQueueFullError extends NvmeofError {
  readonly qid: number
  readonly limit: number
  constructor(qid: number, limit: number) {
    super('ERR_NVMEOF_WRITE_QUEUE_FULL', `queue ${qid}: ${limit} PDUs already wait for the socket to drain (the controller is not reading)`)
    this.qid = qid
    this.limit = limit
  }
}

export class AbortedError extends NvmeofError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_NVMEOF_ABORTED', message, options)
  }
}

/**
 * A command completed with a non-zero NVMe status (initiator side). `status` is the 15-bit value in
 * the Linux form (`CQE.STATUS >> 1`): SC bits 7:0, SCT 10:8, CRD 12:11, More 13, DNR 14.
 */
export class NvmeStatusError extends NvmeofError {
  readonly status: number
  readonly sct: number
  readonly sc: number
  readonly crd: number
  readonly more: boolean
  readonly dnr: boolean
  readonly cid: number
  readonly qid: number
  constructor(status: number, info: { cid: number; qid: number; name?: string; opcode?: number }) {
    const sct = (status >> 8) & 0x7
    const sc = status & 0xff
    super(
      'ERR_NVMEOF_STATUS',
      `NVMe status SCT 0x${sct.toString(16)} SC 0x${sc.toString(16).padStart(2, '0')}` +
        `${info.name !== undefined ? ` (${info.name})` : ''}${status & 0x4000 ? ' DNR' : ''}` +
        ` on qid ${info.qid} cid 0x${info.cid.toString(16)}`,
    )
    this.status = status
    this.sct = sct
    this.sc = sc
    this.crd = (status >> 11) & 0x3
    this.more = (status & 0x2000) !== 0
    this.dnr = (status & 0x4000) !== 0
    this.cid = info.cid
    this.qid = info.qid
  }
  /** SCT 3h: a path-related status, which a multipath host fails over. */
  get isPathError(): boolean {
    return this.sct === 3
  }
}

/**
 * In-band authentication (DH-HMAC-CHAP, NVMe Base 2.0 section 8.13) failed on queue `qid`. `reason` is
 * the AUTH_Failure reason code explanation (01h failed ... 07h incorrect message); `by` says who
 * decided: the controller (it sent AUTH_Failure1) or this host (it sent AUTH_Failure2).
 */
export class AuthenticationError extends NvmeofError {
  readonly qid: number
  readonly reason: number
  readonly by: 'controller' | 'host'
  constructor(message: string, info: { qid: number; reason: number; by: 'controller' | 'host' }, options?: { cause?: unknown }) {
    super('ERR_NVMEOF_AUTH', message, options)
    this.qid = info.qid
    this.reason = info.reason
    this.by = info.by
  }
}
