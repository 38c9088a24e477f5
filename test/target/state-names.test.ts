/**
 * The target's lower-case state names (docs/design.md "State names"): every state has one, and
 * `hasStateName` — what faults/ and conformance/ compare with — accepts the deprecated upper-case
 * `state`, a lower-case `state` (the release after the deprecation) and `stateName`.
 */
import t from 'tap'
import { CONTROLLER_STATE_NAMES, QUEUE_STATE_NAMES, hasStateName } from '../../target/index.js'

t.test('names: lower case, hyphenated, one per state', async (t) => {
  t.same(CONTROLLER_STATE_NAMES, { DISABLED: 'disabled', READY: 'ready', SHUTTING_DOWN: 'shutting-down', SHUTDOWN: 'shutdown', FATAL: 'fatal', DELETED: 'deleted' })
  t.same(QUEUE_STATE_NAMES, { CONNECTING: 'connecting', LIVE: 'live', DISCONNECTING: 'disconnecting', CLOSED: 'closed' })
})

t.test('hasStateName accepts both spellings, nothing else', async (t) => {
  t.ok(hasStateName({ state: 'READY' }, 'ready'), 'deprecated upper-case state')
  t.ok(hasStateName({ state: 'ready' }, 'ready'), 'lower-case state')
  t.ok(hasStateName({ state: 'READY', stateName: 'ready' }, 'ready'), 'both')
  t.ok(hasStateName({ stateName: 'shutting-down' }, 'shutting-down'), 'stateName alone')
  t.ok(hasStateName({ state: 'SHUTTING_DOWN' }, 'shutting-down'), 'several words: hyphenated')
  t.ok(hasStateName({ state: 'LIVE' }, 'live'), 'queue state')
  t.notOk(hasStateName({ state: 'DISABLED', stateName: 'disabled' }, 'ready'), 'another state')
  t.notOk(hasStateName({ state: 'Ready' }, 'ready'), 'no other spelling')
  t.notOk(hasStateName({ state: 'toString' }, 'ready'), 'no prototype keys')
  t.notOk(hasStateName({}, 'ready'), 'no state at all')
  t.notOk(hasStateName({ state: 1 }, 'ready'), 'not a string')
})
