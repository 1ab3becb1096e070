import { createHmac, createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { floorToStep, parseExchangeInfo, roundToStep } from '../../src/adapters/binance/binance-api.js';
import { BinanceSigner, restPayload, wsApiPayload } from '../../src/adapters/binance/signing.js';
import { isTraderError } from '../../src/errors.js';

// Binance spot API documentation, "SIGNED Endpoint Examples for POST /api/v3/order", HMAC keys.
const DOC_API_KEY = 'vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A';
const DOC_SECRET = 'NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j';

// RFC 8032 section 7.1, TEST 1: the Ed25519 secret key (seed), and the signature of the empty message.
const RFC8032_SEED = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60';
const RFC8032_SIG =
  'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b';

/** A PKCS#8 PEM of an Ed25519 seed (the fixed DER prefix of RFC 8410 keys, then the 32-byte seed). */
function ed25519Pem(seedHex: string): string {
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(seedHex, 'hex')]);
  return `-----BEGIN PRIVATE KEY-----\n${der.toString('base64')}\n-----END PRIVATE KEY-----\n`;
}

describe('Binance request signing', () => {
  it('HMAC-SHA256 matches the signatures in Binance documentation (query string, body, mixed)', () => {
    const signer = new BinanceSigner({ type: 'hmac', apiKey: DOC_API_KEY, secret: DOC_SECRET });
    const payload = restPayload({
      symbol: 'LTCBTC',
      side: 'BUY',
      type: 'LIMIT',
      timeInForce: 'GTC',
      quantity: 1,
      price: 0.1,
      recvWindow: 5000,
      timestamp: 1499827319559,
    });
    expect(payload).toBe(
      'symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559',
    );
    // Examples 1 and 2 (body, query string).
    expect(signer.sign(payload)).toBe('c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71');
    // Example 3: query string and body concatenated without a separator.
    expect(
      signer.sign(
        'symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTCquantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559',
      ),
    ).toBe('0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77');
  });

  it('Ed25519 matches RFC 8032 test 1 and verifies with the public key', () => {
    const signer = new BinanceSigner({ type: 'ed25519', apiKey: 'k', privateKeyPem: ed25519Pem(RFC8032_SEED) });
    expect(Buffer.from(signer.sign(''), 'base64').toString('hex')).toBe(RFC8032_SIG);
    const payload = 'symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=GTC&quantity=1&price=0.2&timestamp=1668481559918';
    const pub = createPublicKey(ed25519Pem(RFC8032_SEED));
    expect(verify(null, Buffer.from(payload), pub, Buffer.from(signer.sign(payload), 'base64'))).toBe(true);
    expect(verify(null, Buffer.from(`${payload}0`), pub, Buffer.from(signer.sign(payload), 'base64'))).toBe(false);
  });

  it('builds the WebSocket API signature payload as Binance documents it (sorted, unencoded, UTF-8)', () => {
    // Binance WebSocket API documentation, "SIGNED request example (Ed25519)", both parameter sets.
    const apiKey = '4yNzx3yWC5bS6YTwEkSRaC0nRmSQIIStAUOh1b6kqaBrTLIhjCpI5lJH8q8R8WNO';
    const common = { apiKey, side: 'SELL', type: 'LIMIT', timeInForce: 'GTC', timestamp: 1645423376532 };
    expect(
      wsApiPayload({ ...common, symbol: 'BTCUSDT', quantity: '0.01000000', price: '52000.00', recvWindow: 100 }),
    ).toBe(
      `apiKey=${apiKey}&price=52000.00&quantity=0.01000000&recvWindow=100&side=SELL&symbol=BTCUSDT&timeInForce=GTC&timestamp=1645423376532&type=LIMIT`,
    );
    expect(
      wsApiPayload({
        ...common,
        side: 'BUY',
        symbol: '１２３４５６',
        quantity: '1.00000000',
        price: '0.10000000',
        recvWindow: 5000,
        signature: 'left out',
      }),
    ).toBe(
      `apiKey=${apiKey}&price=0.10000000&quantity=1.00000000&recvWindow=5000&side=BUY&symbol=１２３４５６&timeInForce=GTC&timestamp=1645423376532&type=LIMIT`,
    );
    // The REST payload percent-encodes and keeps the order; undefined values are left out.
    expect(restPayload({ symbol: '１２', b: undefined, a: 'x y' })).toBe('symbol=%EF%BC%91%EF%BC%92&a=x%20y');
  });

  it('keeps secrets out of JSON and inspection, and refuses bad keys naming the field', () => {
    const signer = new BinanceSigner({ type: 'hmac', apiKey: DOC_API_KEY, secret: DOC_SECRET });
    expect(JSON.stringify({ signer })).not.toContain(DOC_SECRET);
    expect(inspect(signer, { showHidden: true, depth: 5 })).not.toContain(DOC_SECRET);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' });
    const bad: Array<[unknown, string]> = [
      [{ type: 'hmac', apiKey: '', secret: 's' }, 'apiKey'],
      [{ type: 'hmac', apiKey: 'k', secret: '' }, 'secret'],
      [{ type: 'ed25519', apiKey: 'k', privateKeyPem: 'not a pem' }, 'privateKeyPem'],
      [{ type: 'ed25519', apiKey: 'k', privateKeyPem: String(rsa) }, 'privateKeyPem'],
      [{ type: 'rsa', apiKey: 'k' }, 'type'],
    ];
    for (const [credentials, field] of bad) {
      try {
        new BinanceSigner(credentials as never);
        expect.unreachable(field);
      } catch (e) {
        expect(isTraderError(e) && e.code === 'E_TRADER_INVALID_CONFIG' && e.field).toBe(field);
      }
    }
    // HMAC is case-insensitive at the venue; ours is lower-case hex like openssl's.
    expect(signer.sign('a')).toBe(createHmac('sha256', DOC_SECRET).update('a').digest('hex'));
  });
});

describe('Binance trading rules', () => {
  it('parses exchangeInfo filters and puts quantities and prices on their steps', () => {
    const rules = parseExchangeInfo({
      symbols: [
        {
          symbol: 'BTCUSDT',
          baseAsset: 'BTC',
          quoteAsset: 'USDT',
          filters: [
            { filterType: 'PRICE_FILTER', minPrice: '0.01', maxPrice: '1000000', tickSize: '0.01000000' },
            { filterType: 'LOT_SIZE', minQty: '0.00001000', maxQty: '9000', stepSize: '0.00001000' },
            { filterType: 'NOTIONAL', minNotional: '5.00000000' },
          ],
        },
        {
          symbol: 'OLD',
          baseAsset: 'A',
          quoteAsset: 'B',
          filters: [{ filterType: 'MIN_NOTIONAL', minNotional: '10' }],
        },
      ],
    });
    expect(rules.get('BTCUSDT')).toEqual({
      symbol: 'BTCUSDT',
      baseAsset: 'BTC',
      quoteAsset: 'USDT',
      tickSize: 0.01,
      stepSize: 0.00001,
      minQty: 0.00001,
      minNotional: 5,
    });
    expect(rules.get('OLD')).toMatchObject({ minNotional: 10, stepSize: 0, tickSize: 0 });
    expect(floorToStep(0.012345678, 0.00001)).toBe('0.01234');
    expect(floorToStep(0.3, 0.1)).toBe('0.3');
    expect(floorToStep(1.5, 1)).toBe('1');
    expect(roundToStep(50000.126, 0.01)).toBe('50000.13');
    expect(roundToStep(0.000123456, 1e-7)).toBe('0.0001235');
    expect(floorToStep(2.5, 0)).toBe('2.5');
    expect(() => parseExchangeInfo({})).toThrow(/without symbols/);
  });
});
