/**
 * The fault-type registry. One registry belongs to one fault engine (and so to one target): a target
 * and an initiator, or two targets, in one process never share registrations.
 */
import { InvalidArgumentError } from '../lib/errors.js'
import type { FaultTypeDefinition } from './types.js'

const NAME_RE = /^[a-z][a-z0-9-]{0,63}$/

export class FaultRegistry {
  #types = new Map<string, FaultTypeDefinition<unknown>>()

  /**
   * Register a fault type under `name` (lower-case letters, digits and '-'). A duplicate name is
   * refused with InvalidArgumentError: a plug-in cannot silently replace a built-in.
   */
  register<C>(name: string, def: FaultTypeDefinition<C>): this {
    if (typeof name !== 'string' || !NAME_RE.test(name)) {
      throw new InvalidArgumentError('name', `must match ${String(NAME_RE)}, got ${JSON.stringify(name)}`)
    }
    if (this.#types.has(name)) throw new InvalidArgumentError('name', `fault type '${name}' is already registered`)
    if (typeof def !== 'object' || def === null || typeof def.parseConfig !== 'function' || typeof def.create !== 'function') {
      throw new InvalidArgumentError('def', 'must have parseConfig(json, path) and create(config, ctx) functions')
    }
    this.#types.set(name, def as FaultTypeDefinition<unknown>)
    return this
  }

  get(name: string): FaultTypeDefinition<unknown> | undefined {
    return this.#types.get(name)
  }

  has(name: string): boolean {
    return this.#types.has(name)
  }

  names(): string[] {
    return [...this.#types.keys()]
  }
}
