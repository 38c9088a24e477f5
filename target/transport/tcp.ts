/**
 * The NVMe/TCP transport's public face: `TcpTransport` and its types. The transport itself is
 * split by concern (see tcp-listener.ts for the map of files).
 */
export { TcpTransport, type BoundPort, type ConnectionStats, type TcpTransportOptions } from './tcp-listener.js'
export { TcpConnection, type ConnectionState } from './tcp-connection.js'
