import type { IncomingMessage } from 'node:http';
import proxyAddr from '@fastify/proxy-addr';

/** Whether the hop `addr` (`i` hops from the socket) is a trusted proxy, as `proxy-addr` asks it. */
export type ProxyTrust = (addr: string, i: number) => boolean;

/**
 * The proxy trust Fastify applies to `request.ip` (same rules: `true`, an address or CIDR, a list, or the names
 * `loopback`, `linklocal`, `uniquelocal`), for raw requests and sockets; `undefined` when no proxy is trusted.
 */
export function trustFunction(trustProxy: boolean | string | string[]): ProxyTrust | undefined {
  if (trustProxy === false) return undefined;
  if (trustProxy === true) return () => true;
  return proxyAddr.compile(typeof trustProxy === 'string' ? trustProxy.split(',').map((s) => s.trim()) : trustProxy);
}

/** The client address of a raw request (an upgrade), through the trusted proxies like `request.ip`. */
export function clientAddress(req: IncomingMessage, trust: ProxyTrust | undefined): string {
  if (trust === undefined) return req.socket.remoteAddress ?? '';
  const addrs = proxyAddr.all(req, trust);
  return addrs[addrs.length - 1] ?? '';
}
