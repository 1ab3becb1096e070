import fc from 'fast-check';

/**
 * fast-check arbitraries for fuzzing an HTTP API from its OpenAPI 3.1 document: values that follow each parameter's
 * JSON Schema (so requests get past validation into the handlers) mixed with hostile ones (odd Unicode, huge and
 * boundary numbers, wrong types, number spellings JavaScript accepts but the API must not).
 */

/** A JSON Schema object as the OpenAPI document holds it. */
export type Schema = Record<string, unknown>;

/** One operation of the document. */
export interface Operation {
  method: string;
  path: string;
  parameters: { name: string; in: 'path' | 'query' | 'header' | 'cookie'; required?: boolean; schema?: Schema }[];
  body?: { required: boolean; schema: Schema };
  role: string;
}

/** A request to send: everything already encoded for the wire. */
export interface FuzzRequest {
  method: string;
  /** Path with the parameters substituted (percent-encoded, or raw hostile escapes). */
  path: string;
  /** Query string without `?` (may be empty). */
  query: string;
  token: string | undefined;
  body: { text: string; contentType: string | undefined } | undefined;
}

/** Every operation of an OpenAPI document, in document order. */
export function operations(doc: Schema): Operation[] {
  const out: Operation[] = [];
  for (const [path, item] of Object.entries((doc.paths ?? {}) as Record<string, Record<string, Schema>>)) {
    for (const [method, op] of Object.entries(item)) {
      if (!['get', 'put', 'post', 'delete', 'patch'].includes(method)) continue;
      const content = (op.requestBody as Schema | undefined)?.content as Record<string, Schema> | undefined;
      const bodySchema = content?.['application/json']?.schema as Schema | undefined;
      out.push({
        method: method.toUpperCase(),
        path,
        parameters: (op.parameters ?? []) as Operation['parameters'],
        ...(bodySchema === undefined
          ? {}
          : { body: { required: (op.requestBody as Schema).required === true, schema: bodySchema } }),
        role: String(op['x-required-role'] ?? 'public'),
      });
    }
  }
  return out;
}

/** Strings PostgreSQL, JSON, URLs, terminals or log parsers have trouble with. */
const HOSTILE_STRINGS = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\uD800',
  '\uDFFF',
  'x\uDC00y\uD83D',
  '\u202Eevil\u202C',
  '\u200F\u200E\u061C',
  '\uFEFF',
  '😀',
  '𝕏𝔂𝕫',
  '\u{10FFFF}',
  '\r\nX-Injected: 1',
  '\t\v\f\b',
  '../../../etc/passwd',
  "' OR '1'='1",
  '1; DROP TABLE audit_log; --',
  '$1',
  '{{7*7}}',
  '<script>alert(1)</script>',
  '__proto__',
  'constructor',
  'BTCUSDT\u0000',
  'A'.repeat(129),
  'A'.repeat(10_000),
];

/** Numbers at and beyond every boundary a schema or a database column has. */
const HOSTILE_NUMBERS = [
  0,
  -0,
  -1,
  1,
  0.5,
  2 ** 31 - 1,
  2 ** 31,
  -(2 ** 31) - 1,
  2 ** 53 - 1,
  2 ** 53,
  2 ** 53 + 2,
  -(2 ** 53),
  1e21,
  1e308,
  -1e308,
  Number.MIN_VALUE,
  Number.EPSILON,
];

/** Spellings a query-string number must be refused in (or read exactly). */
const HOSTILE_NUMBER_TEXT = [
  'Infinity',
  '-Infinity',
  'NaN',
  '0x10',
  '0b11',
  '0o7',
  ' 5',
  '5 ',
  '+5',
  '-0',
  '1e3',
  '1.0',
  '.5',
  '٣',
  '５',
  '9'.repeat(400),
  '-9007199254740993',
  '1_000',
  'true',
  'null',
  '[]',
];

/** Raw path segments: hostile escapes sent as they are (never re-encoded). */
const RAW_SEGMENTS = ['%00', '%ZZ', '%', '%C0%AE', '%2e%2e', '..', '%2F', '%E0%A4%A', '%FF%FE', '%F0%9F%98', '.'];

/** A string with any UTF-16 code unit, lone surrogates included. */
const anyUtf16 = fc.string({
  unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
  maxLength: 40,
});

/** Hostile strings: the list above, any code point, any code unit. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constantFrom(...HOSTILE_STRINGS), weight: 4 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 40 }), weight: 2 },
  { arbitrary: anyUtf16, weight: 2 },
);

/** Hostile JSON values: wrong types, boundary numbers, deep or wide structures. */
export const hostileJson: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: hostileString, weight: 3 },
  { arbitrary: fc.constantFrom(...HOSTILE_NUMBERS), weight: 3 },
  { arbitrary: fc.double(), weight: 1 },
  { arbitrary: fc.constantFrom(null, true, false, [], {}), weight: 2 },
  { arbitrary: fc.jsonValue({ maxDepth: 3 }), weight: 2 },
  { arbitrary: fc.dictionary(hostileString, fc.jsonValue({ maxDepth: 1 }), { maxKeys: 4 }), weight: 1 },
);

/** Raw bodies JSON.stringify never writes: numbers out of double range, deep nesting, prototype keys, broken JSON. */
const HOSTILE_BODY_TEXT = [
  '',
  'null',
  '[]',
  '"x"',
  '1e400',
  '{"durationMs":1e400,"matchers":{"a":"b"},"comment":"c"}',
  '{"x":-1e400}',
  '{"mode":"HALTED","reason":"\\u0000"}',
  '{"reason":"\\ud800"}',
  '{"__proto__":{"polluted":1}}',
  '{"constructor":{"prototype":{"polluted":1}}}',
  `${'['.repeat(5_000)}${']'.repeat(5_000)}`,
  `{"a":${'{"a":'.repeat(2_000)}1${'}'.repeat(2_001)}`,
  '{"a":1,"a":2}',
  '{',
  '{"a":"\\x41"}',
  '\uFEFF{}',
  '\u0000',
];

/** A value following `schema` most of the time (boundaries included), so validation passes and handlers run. */
export function fromSchema(schema: Schema | undefined, depth = 0): fc.Arbitrary<unknown> {
  if (schema === undefined || depth > 4) return fc.jsonValue({ maxDepth: 1 });
  if (Array.isArray(schema.enum)) return fc.constantFrom(...(schema.enum as unknown[]));
  if (Array.isArray(schema.anyOf)) return fc.oneof(...(schema.anyOf as Schema[]).map((s) => fromSchema(s, depth + 1)));
  if (Array.isArray(schema.type))
    return fc.oneof(...(schema.type as string[]).map((type) => fromSchema({ ...schema, type }, depth + 1)));
  switch (schema.type) {
    case 'string': {
      const minLength = Number(schema.minLength ?? 0);
      const maxLength = Number(schema.maxLength ?? 64);
      if (typeof schema.pattern === 'string')
        return fc
          .stringMatching(new RegExp(schema.pattern))
          .filter((s) => s.length >= minLength && s.length <= maxLength);
      return fc.string({ minLength, maxLength: Math.min(maxLength, 300) });
    }
    case 'integer': {
      const min = typeof schema.minimum === 'number' ? schema.minimum : -(2 ** 40);
      const max = typeof schema.maximum === 'number' ? schema.maximum : 2 ** 40;
      // The bounds and just beyond them, as often as the values between.
      return fc.oneof(
        fc.integer({ min: Math.max(min, -(2 ** 31)), max: Math.min(max, 2 ** 31 - 1) }),
        fc.constantFrom(min, max),
        fc.constantFrom(min - 1, max + 1),
      );
    }
    case 'number':
      return fc.double({ noNaN: true, noDefaultInfinity: true });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return fc.array(fromSchema(schema.items as Schema | undefined, depth + 1), { maxLength: 4 });
    case 'object': {
      const props = (schema.properties ?? {}) as Record<string, Schema>;
      const required = (schema.required ?? []) as string[];
      const record = fc.record(
        Object.fromEntries(Object.entries(props).map(([k, s]) => [k, fromSchema(s, depth + 1)])),
        { requiredKeys: required.filter((k) => k in props) },
      );
      const extra = schema.additionalProperties;
      if (extra === undefined || extra === false) return record;
      const names =
        typeof (schema.propertyNames as Schema | undefined)?.pattern === 'string'
          ? fc
              .stringMatching(new RegExp((schema.propertyNames as Schema).pattern as string))
              .filter((s) => s.length <= 64)
          : fc.string({ maxLength: 20 });
      const values = extra === true ? fc.jsonValue({ maxDepth: 1 }) : fromSchema(extra as Schema, depth + 1);
      const min = Number(schema.minProperties ?? 0);
      return fc
        .tuple(record, fc.dictionary(names, values, { minKeys: min, maxKeys: Math.max(min, 5) }))
        .map(([a, b]) => ({ ...b, ...a }));
    }
    default:
      return fc.jsonValue({ maxDepth: 1 });
  }
}

/** A query-string value for `schema`: its own values, their text, and hostile spellings. */
function queryValue(schema: Schema | undefined): fc.Arbitrary<string> {
  return fc.oneof(
    { arbitrary: fromSchema(schema).map((v) => (typeof v === 'string' ? v : JSON.stringify(v))), weight: 4 },
    { arbitrary: fc.constantFrom(...HOSTILE_NUMBER_TEXT), weight: 2 },
    { arbitrary: fc.constantFrom(...HOSTILE_NUMBERS).map(String), weight: 1 },
    { arbitrary: hostileString, weight: 2 },
  );
}

/** A path parameter: a schema value or a hostile string, percent-encoded; or a raw hostile escape. */
function pathValue(schema: Schema | undefined): fc.Arbitrary<string> {
  return fc.oneof(
    { arbitrary: fromSchema(schema).map((v) => encodeURIComponent(String(v))), weight: 4 },
    { arbitrary: hostileString.map(encodeSafely), weight: 3 },
    { arbitrary: fc.constantFrom(...RAW_SEGMENTS), weight: 1 },
  );
}

/** `encodeURIComponent` that also takes lone surrogates (it throws on them): those become a raw `%ED%A0%80`. */
function encodeSafely(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return [...s]
      .map((ch) => {
        const c = ch.charCodeAt(0);
        if (ch.length === 1 && c >= 0xd800 && c <= 0xdfff)
          return `%${(0xe0 | (c >> 12)).toString(16)}%${(0x80 | ((c >> 6) & 0x3f)).toString(16)}%${(0x80 | (c & 0x3f)).toString(16)}`.toUpperCase();
        return encodeURIComponent(ch);
      })
      .join('');
  }
}

/** A body for `schema`: valid-ish JSON, hostile JSON, raw hostile text, with the right or a wrong content type. */
function bodyFor(schema: Schema | undefined): fc.Arbitrary<FuzzRequest['body']> {
  const json = fc.oneof(
    { arbitrary: fromSchema(schema), weight: 5 },
    { arbitrary: hostileJson, weight: 2 },
    {
      // The schema's shape with one field swapped for a hostile value.
      arbitrary: fc
        .tuple(fromSchema(schema), hostileString, hostileJson)
        .map(([v, k, bad]) =>
          v !== null && typeof v === 'object' && !Array.isArray(v) ? { ...v, [pick(v, k)]: bad } : bad,
        ),
      weight: 3,
    },
  );
  const text = fc.oneof(
    { arbitrary: json.map((v) => JSON.stringify(v) ?? 'null'), weight: 8 },
    { arbitrary: fc.constantFrom(...HOSTILE_BODY_TEXT), weight: 2 },
  );
  const contentType = fc.oneof(
    { arbitrary: fc.constant('application/json'), weight: 10 },
    {
      arbitrary: fc.constantFrom(
        undefined,
        'text/plain',
        'application/x-www-form-urlencoded',
        'application/json; charset=utf-16',
        'application/json; charset=latin1',
        'multipart/form-data; boundary=x',
        'application/json, text/plain',
      ),
      weight: 1,
    },
  );
  return fc.record({ text, contentType }).map((b) => b as FuzzRequest['body']);
}

/** A key of `v` to replace, or the hostile name itself (so new, odd keys are tried too). */
function pick(v: object, hostile: string): string {
  const keys = Object.keys(v);
  return keys.length > 0 && hostile.length % 2 === 0 ? (keys[hostile.length % keys.length] as string) : hostile;
}

/**
 * Requests for `op`: every path parameter, each query parameter present or not (sometimes twice, sometimes with an
 * unknown one beside it), a body when the operation takes one (sometimes when it does not), and `tokens` picked by
 * weight (a privileged token most of the time, so the handlers run). Half of them follow the schemas throughout (so
 * the handlers see boundary values), half mix in hostile values.
 */
export function requestFor(op: Operation, tokens: fc.Arbitrary<string | undefined>): fc.Arbitrary<FuzzRequest> {
  return fc.oneof(requestOf(op, tokens, false), requestOf(op, tokens, true));
}

/** Requests for `op`: `hostile` ones mix hostile values into every part, the others follow the schemas throughout. */
function requestOf(
  op: Operation,
  tokens: fc.Arbitrary<string | undefined>,
  hostile: boolean,
): fc.Arbitrary<FuzzRequest> {
  const pathParams = op.parameters.filter((p) => p.in === 'path');
  const queryParams = op.parameters.filter((p) => p.in === 'query');
  const path = fc
    .tuple(
      ...pathParams.map((p) =>
        hostile ? pathValue(p.schema) : fromSchema(p.schema).map((v) => encodeURIComponent(String(v))),
      ),
    )
    .map((values) => pathParams.reduce((acc, p, i) => acc.replace(`{${p.name}}`, values[i] as string), op.path));
  const value = (schema: Schema | undefined) =>
    hostile ? queryValue(schema) : fromSchema(schema).map((v) => (typeof v === 'string' ? v : JSON.stringify(v)));
  const query = fc
    .tuple(
      ...queryParams.map((p) =>
        fc
          .option(
            hostile
              ? fc.oneof(
                  { arbitrary: value(p.schema).map((v) => [v]), weight: 4 },
                  { arbitrary: fc.tuple(value(p.schema), value(p.schema)), weight: 1 },
                )
              : value(p.schema).map((v) => [v]),
            { freq: 3 },
          )
          .map((vs) => (vs ?? []).map((v) => `${encodeURIComponent(p.name)}=${encodeSafely(v)}`)),
      ),
      // An unknown parameter beside them, one hostile request in five (each is a 400 before any handler runs).
      hostile
        ? fc.oneof(
            { arbitrary: fc.constant(null), weight: 4 },
            { arbitrary: fc.tuple(hostileString, hostileString), weight: 1 },
          )
        : fc.constant(null),
    )
    .map((parts) => {
      // Never mutate `parts`: fast-check maps the same value again while shrinking.
      const extra = parts[parts.length - 1] as [string, string] | null;
      const pairs = (parts.slice(0, -1) as string[][]).flat();
      if (extra !== null) pairs.push(`${encodeSafely(extra[0])}=${encodeSafely(extra[1])}`);
      return pairs.join('&');
    });
  const validBody = (schema: Schema) =>
    fromSchema(schema).map((v) => ({ text: JSON.stringify(v) ?? 'null', contentType: 'application/json' }));
  const body: fc.Arbitrary<FuzzRequest['body']> =
    op.body !== undefined
      ? op.body.required
        ? hostile
          ? bodyFor(op.body.schema)
          : validBody(op.body.schema)
        : fc
            .option(hostile ? bodyFor(op.body.schema) : validBody(op.body.schema), { freq: 4 })
            .map((b) => b ?? undefined)
      : op.method === 'GET' || !hostile
        ? fc.constant(undefined)
        : fc.option(bodyFor(undefined), { freq: 2 }).map((b) => b ?? undefined);
  return fc.record({ method: fc.constant(op.method), path, query, token: tokens, body });
}
