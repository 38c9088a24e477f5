/** Entry point of a bench child process: `node dist/bench/worker.js ROLE` (see bench/rpc.ts). */
import { serve, type Handlers } from './rpc.js'
import { echoClientHandlers, echoServerHandlers } from './role-echo.js'
import { initiatorHandlers } from './role-initiator.js'
import { targetHandlers } from './role-target.js'

const ROLES: Record<string, () => Handlers> = {
  'echo-server': echoServerHandlers,
  'echo-client': echoClientHandlers,
  target: targetHandlers,
  initiator: initiatorHandlers,
}

const role = process.argv[2] ?? ''
const make = ROLES[role]
if (make === undefined || process.send === undefined) {
  process.stderr.write(`usage: forked by the bench with a role: ${Object.keys(ROLES).join(', ')}\n`)
  process.exitCode = 2
} else serve(make())
