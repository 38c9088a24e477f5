/**
 * A minimal loopback HTTP endpoint serving one Prometheus registry at /metrics (for `nvmf-fault io
 * --metrics ADDR:PORT`; a target serves its metrics through its HTTP API instead).
 */
import http from 'node:http'
import type net from 'node:net'
import { InvalidArgumentError } from '../lib/errors.js'
import { isIP } from 'node:net'

export interface MetricsEndpoint {
  readonly address: { host: string; port: number }
  close(): Promise<void>
}

export async function serveMetrics(source: { contentType: string; metrics(): Promise<string> }, listen: { host: string; port: number }): Promise<MetricsEndpoint> {
  const loopback = listen.host === 'localhost' || (isIP(listen.host) === 4 && listen.host.startsWith('127.')) || listen.host === '::1'
  if (!loopback) throw new InvalidArgumentError('metrics', `must be a loopback address, got '${listen.host}'`)
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404).end()
      return
    }
    source.metrics().then(
      (text) => res.writeHead(200, { 'content-type': source.contentType }).end(text),
      (err: unknown) => res.writeHead(500).end(String(err)),
    )
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({ host: listen.host, port: listen.port }, () => resolve())
  })
  const a = server.address() as net.AddressInfo
  return {
    address: { host: a.address, port: a.port },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
