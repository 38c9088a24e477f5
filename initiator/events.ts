/**
 * Diagnostics channels published by the initiator (`node:diagnostics_channel`), so tests, the CLI
 * and users observe path and controller life without coupling to a logger. Channels are looked up by
 * name (Node keeps one channel object per name), so no module state is held here.
 */
import diagnosticsChannel from 'node:diagnostics_channel'
import type { ControllerStateValue } from './controller-state.js'
import type { PathStateValue } from './path-state.js'

export const CHANNELS = Object.freeze({
  pathState: 'nvmf-fault:initiator:path-state',
  controllerState: 'nvmf-fault:initiator:controller-state',
  failover: 'nvmf-fault:initiator:failover',
  device: 'nvmf-fault:initiator:device',
  aen: 'nvmf-fault:initiator:aen',
})

export interface PathStateEvent {
  hostId: string
  headId: string
  pathId: string
  from: PathStateValue
  to: PathStateValue
  anaState: number
}
export interface ControllerStateEvent {
  hostId: string
  controllerId: string
  from: ControllerStateValue
  to: ControllerStateValue
}
export interface FailoverEvent {
  hostId: string
  headId: string
  pathId: string
  ioId: number
  status: number
}
export interface DeviceEvent {
  hostId: string
  headId: string
  action: 'added' | 'removed'
  nsid: number
}
export interface AenEvent {
  hostId: string
  controllerId: string
  dw0: number
}

export function publish(name: string, message: object): void {
  const ch = diagnosticsChannel.channel(name)
  if (ch.hasSubscribers) ch.publish(message)
}
