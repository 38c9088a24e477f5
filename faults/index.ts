/**
 * nvmf-fault faults: pluggable fault injection at the target's fixed seams, scenarios, the
 * run-time control plane and the event trace.
 *
 *   const target = await createTarget({...})
 *   const faults = await attachFaults(target, { seed: 7, control: '/tmp/nvmf-fault.sock' })
 *   faults.engine.add({ type: 'status', match: { commands: ['read'] }, schedule: { probability: 0.1 },
 *                       params: { status: 'ANA_INACCESSIBLE' } })
 *   await faults.controller.setAna(1, 1, 'inaccessible')
 */
export { FaultEngine, type FaultEngineOptions, type FaultInfo } from './engine.js'
export { FaultRegistry } from './registry.js'
export { registerBuiltinFaults, resolveStatus, corruptPdu, shuffled } from './builtin/index.js'
export { SEAMS, type Seam, type FaultEvent, type FaultSpec, type MatchSpec, type ScheduleSpec, type FaultInstance, type FaultTypeDefinition, type FaultCreateContext } from './types.js'
export { compileMatcher, checkMatchSpec, COMMAND_BY_NAME, PDU_TYPE_BY_NAME, type Matcher } from './matcher.js'
export { Schedule, checkScheduleSpec } from './schedule.js'
export { compileDelay, type DelaySpec, type DelaySampler } from './distribution.js'
export { TargetOps, normalizeAnaStateName, anaStateValue, uuidFromRandom, type FaultTargetHandle, type NamespaceOp, type AenEventName } from './target-ops.js'
export { TraceRecorder, traceEventToJson, encodeTraceProto, decodeTraceProto, traceToPcap, type TraceEvent, type TraceInput, type TraceKind, type TraceFormat, type TraceRecorderOptions } from './trace.js'
export { parseScenario, loadScenarioFile, ScenarioRun, type Scenario, type ScenarioStep, type StepOp, type ScenarioState } from './scenario.js'
export { FaultController, type ControlStatus } from './controller.js'
export { startControlServer, handleRequest, type ControlServer, type ControlServerOptions } from './control-server.js'
export { ControlClient, ControlRequestError, type ControlResponse } from './control-client.js'
export { DelimitedDecoder, MAX_CONTROL_MESSAGE } from './control-codec.js'
export { PRE_AUTH_MAX_BYTES, CONTROL_IDLE_TIMEOUT_MS } from './control-server.js'
export { VERBS, runVerb, STATUS_SECTIONS, type VerbResult } from './control-verbs.js'
export { startHttpApi, MAX_HTTP_BODY, type HttpApi, type HttpApiOptions, type MetricsSource } from './control-http.js'
export { ROUTES, openApiDocument, type Route } from './control-http-routes.js'
export { attachFaults, adaptTargetHandle, type AttachFaultsOptions, type FaultsHandle } from './attach.js'
export { registerCtlCommand, parseSize } from './cli.js'
export { addTargetFaultOptions, startTargetFaults, traceFormatFor, type TargetFaultCliOptions } from './cli-target.js'
export { loadFaultSchemas, protoDir, validateMessage, type FaultSchemas, type JsonObject, type JsonValue } from './proto.js'
