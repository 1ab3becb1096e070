import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';

/** `application/health+json` (IETF draft-inadarei-api-health-check). */
export const HEALTH_JSON = 'application/health+json';
/** Prometheus text exposition format 0.0.4. */
export const PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8';
/** Plain JSON (alerts, benchmark). */
export const JSON_TYPE = 'application/json; charset=utf-8';

/** A response built once: status, headers with Content-Length, body bytes. */
export interface PreparedResponse {
  readonly statusCode: number;
  readonly headers: OutgoingHttpHeaders;
  readonly body: Buffer;
}

/** Serializes once, for the hot paths. */
export function prepare(statusCode: number, body: unknown, contentType = HEALTH_JSON): PreparedResponse {
  const bytes = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return {
    statusCode,
    headers: { 'content-type': contentType, 'content-length': bytes.length, 'cache-control': 'no-store' },
    body: bytes,
  };
}

/** Writes a prepared response (HEAD: node:http drops the body, the headers stay). */
export function sendPrepared(res: ServerResponse, prepared: PreparedResponse): void {
  res.writeHead(prepared.statusCode, prepared.headers);
  res.end(prepared.body);
}

/** Serializes and writes a dynamic response. */
export function send(
  res: ServerResponse,
  statusCode: number,
  body: unknown,
  contentType = HEALTH_JSON,
  extraHeaders?: OutgoingHttpHeaders,
): void {
  if (res.headersSent || res.writableEnded) return;
  const bytes = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body, jsonSafe));
  res.writeHead(statusCode, {
    'content-type': contentType,
    'content-length': bytes.length,
    'cache-control': 'no-store',
    ...extraHeaders,
  });
  res.end(bytes);
}

function jsonSafe(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
