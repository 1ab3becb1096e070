import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { CacheError } from '../errors.js';
import type { Serializer } from '../types.js';

const FORMAT_SERIALIZED = 0x01;
const FORMAT_BUFFER = 0x02;
const COMPRESSED = 0x80;
/** format(1) + freshUntil(8) + staleUntil(8) + tagsLength(2) */
const HEADER = 19;

/** A value encoded once, ready to be wrapped in an envelope per write. */
export interface EncodedValue {
  /** Format byte (serializer or raw buffer, maybe compressed). */
  format: number;
  /** Encoded (maybe compressed) bytes. */
  payload: Buffer;
}

/** A decoded Redis record. */
export interface DecodedRecord {
  value: unknown;
  freshUntil: number;
  staleUntil: number;
  tags: string[] | undefined;
  size: number;
}

/**
 * Wire format of every L2 value: a 19-byte header (format, fresh-until and stale-until as
 * float64 epoch ms, tag-list length) then the tags as JSON and the payload. Buffers are stored
 * as raw bytes; everything else goes through the serializer; large payloads are deflated.
 */
export class Codec {
  constructor(
    private readonly serializer: Serializer,
    private readonly compression: { threshold: number; level: number } | false,
  ) {}

  /** Serializes (and maybe compresses) a value. Throws `E_CACHE_SERIALIZE`. */
  encode(value: unknown): EncodedValue {
    let format: number;
    let payload: Buffer;
    if (Buffer.isBuffer(value)) {
      format = FORMAT_BUFFER;
      payload = value;
    } else {
      let out: Buffer | Uint8Array | string;
      try {
        out = this.serializer.serialize(value);
      } catch (error) {
        if (error instanceof CacheError) throw error;
        throw new CacheError('E_CACHE_SERIALIZE', `Serializer failed: ${(error as Error).message}`, { cause: error });
      }
      format = FORMAT_SERIALIZED;
      payload = typeof out === 'string' ? Buffer.from(out, 'utf8') : Buffer.isBuffer(out) ? out : Buffer.from(out);
    }
    if (this.compression !== false && payload.length >= this.compression.threshold) {
      payload = deflateRawSync(payload, { level: this.compression.level });
      format |= COMPRESSED;
    }
    return { format, payload };
  }

  /** Wraps an encoded value in the envelope stored in Redis. */
  envelope(encoded: EncodedValue, freshUntil: number, staleUntil: number, tags: readonly string[] | undefined): Buffer {
    const tagBytes = tags !== undefined && tags.length > 0 ? Buffer.from(JSON.stringify(tags), 'utf8') : undefined;
    const tagLength = tagBytes?.length ?? 0;
    const out = Buffer.allocUnsafe(HEADER + tagLength + encoded.payload.length);
    out[0] = encoded.format;
    out.writeDoubleLE(freshUntil, 1);
    out.writeDoubleLE(staleUntil, 9);
    out.writeUInt16LE(tagLength, 17);
    if (tagBytes !== undefined) tagBytes.copy(out, HEADER);
    encoded.payload.copy(out, HEADER + tagLength);
    return out;
  }

  /** Decodes an envelope. Throws `E_CACHE_SERIALIZE` on corrupt data. */
  decode(data: Buffer): DecodedRecord {
    try {
      if (data.length < HEADER) throw new Error('record shorter than its header');
      const format = data[0] as number;
      const freshUntil = data.readDoubleLE(1);
      const staleUntil = data.readDoubleLE(9);
      const tagLength = data.readUInt16LE(17);
      const tags =
        tagLength > 0 ? (JSON.parse(data.toString('utf8', HEADER, HEADER + tagLength)) as string[]) : undefined;
      let payload = data.subarray(HEADER + tagLength);
      const size = payload.length;
      if ((format & COMPRESSED) !== 0) payload = inflateRawSync(payload);
      const kind = format & ~COMPRESSED;
      let value: unknown;
      if (kind === FORMAT_BUFFER) value = Buffer.from(payload);
      else if (kind === FORMAT_SERIALIZED) value = this.serializer.deserialize(payload);
      else throw new Error(`unknown format byte ${format}`);
      return { value, freshUntil, staleUntil, tags, size };
    } catch (error) {
      throw new CacheError('E_CACHE_SERIALIZE', `Cannot decode a stored value: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
}
