import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';

/** An acknowledgement the app sent back over the socket. */
export interface SocketAck {
  envelopeId: string;
  payload: unknown;
}

/**
 * Slack's side of Socket Mode: a WebSocket endpoint that greets with `hello`, pushes `events_api` and
 * `interactive` envelopes (with `retry_attempt` / `retry_reason` like Slack's redeliveries) and
 * collects the `{ envelope_id }` acknowledgements.
 */
export class FakeSocketMode {
  readonly acks: SocketAck[] = [];
  private readonly server: WebSocketServer;
  private readonly sockets = new Set<WebSocket>();
  private readonly pendingAcks = new Map<string, (ack: SocketAck) => void>();
  private connectionWaiters: Array<() => void> = [];

  constructor(httpServer: Server) {
    this.server = new WebSocketServer({ server: httpServer, path: '/link/' });
    this.server.on('connection', (socket) => this.onConnection(socket));
  }

  /** What `apps.connections.open` hands out. */
  connectionUrl(port: number): string {
    return `ws://127.0.0.1:${port}/link/?ticket=${randomUUID()}&app_id=A0THREADLN1`;
  }

  get connectionCount(): number {
    return this.sockets.size;
  }

  /** Resolves once an app is connected and greeted. */
  async waitForConnection(): Promise<void> {
    if (this.sockets.size > 0) return;
    await new Promise<void>((resolve) => this.connectionWaiters.push(resolve));
  }

  /** Pushes an Events API envelope and resolves with the app's acknowledgement. */
  sendEvent(payload: Record<string, unknown>, retry?: { attempt: number; reason: string }): Promise<SocketAck> {
    return this.send({
      type: 'events_api',
      payload,
      accepts_response_payload: false,
      retry_attempt: retry?.attempt ?? 0,
      retry_reason: retry?.reason ?? '',
    });
  }

  /** Pushes an interactivity payload (a button click) and resolves with the acknowledgement. */
  sendInteractive(payload: Record<string, unknown>): Promise<SocketAck> {
    return this.send({ type: 'interactive', payload, accepts_response_payload: true });
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.terminate();
    this.sockets.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private send(envelope: Record<string, unknown>): Promise<SocketAck> {
    const socket = [...this.sockets][0];
    if (!socket) return Promise.reject(new Error('no Socket Mode connection'));
    const envelopeId = randomUUID();
    const acknowledged = new Promise<SocketAck>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`envelope ${envelopeId} was not acknowledged`)), 10_000);
      this.pendingAcks.set(envelopeId, (ack) => {
        clearTimeout(timer);
        resolve(ack);
      });
    });
    socket.send(JSON.stringify({ envelope_id: envelopeId, ...envelope }));
    return acknowledged;
  }

  private onConnection(socket: WebSocket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('message', (data) => {
      const parsed = JSON.parse(String(data)) as { envelope_id?: string; payload?: unknown };
      if (!parsed.envelope_id) return;
      const ack = { envelopeId: parsed.envelope_id, payload: parsed.payload };
      this.acks.push(ack);
      this.pendingAcks.get(parsed.envelope_id)?.(ack);
      this.pendingAcks.delete(parsed.envelope_id);
    });
    socket.send(JSON.stringify({ type: 'hello', num_connections: this.sockets.size, debug_info: { host: 'fake-slack', approximate_connection_time: 18060 }, connection_info: { app_id: 'A0THREADLN1' } }));
    const waiters = this.connectionWaiters;
    this.connectionWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
