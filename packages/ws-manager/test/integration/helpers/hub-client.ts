import { waitFor } from '@cryptoscalp/testkit';
import WebSocket from 'ws';

/** A test client of the hub protocol that records every message it receives. */
export class TestHubClient {
  readonly received: Array<Record<string, unknown>> = [];
  closeCode: number | undefined;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => this.received.push(JSON.parse(data.toString())));
    ws.on('close', (code) => {
      this.closeCode = code;
    });
    ws.on('error', () => {});
  }

  static async connect(url: string, headers?: Record<string, string>): Promise<TestHubClient> {
    const ws = new WebSocket(url, headers === undefined ? {} : { headers });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new TestHubClient(ws);
  }

  send(message: unknown): void {
    this.ws.send(JSON.stringify(message));
  }

  async subscribe(topic: string, resume?: { offset: number; epoch: string }): Promise<Record<string, unknown>> {
    this.send({ op: 'subscribe', topic, ...resume });
    return await this.waitFor((m) => m.type === 'subscribed' && m.topic === topic);
  }

  messages(topic?: string): Array<Record<string, unknown>> {
    return this.received.filter((m) => m.type === 'message' && (topic === undefined || m.topic === topic));
  }

  async waitFor(
    predicate: (m: Record<string, unknown>) => boolean,
    what = 'message',
  ): Promise<Record<string, unknown>> {
    let found: Record<string, unknown> | undefined;
    await waitFor(
      () => {
        found = this.received.find(predicate);
        return found !== undefined;
      },
      { what },
    );
    return found as Record<string, unknown>;
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}
