import type { RedisClient } from './connection.js';

/** How a connection is checked for a Redis that keeps the TCP connection but stopped answering. */
export interface RedisLivenessOptions {
  /** How often a ready connection is asked PING. */
  intervalMs: number;
  /** How long a PING may go unanswered before the connection counts as dead. */
  deadlineMs: number;
}

/**
 * A PING every 2 s finds a frozen Redis within seconds at a cost nobody notices. The deadline has to
 * stay well above what a PING takes on a loaded but healthy server: Redis runs one command at a time,
 * so a PING waits behind a slow Lua script or a large command, and a script past Redis's own 5 s
 * busy threshold (`busy-reply-threshold`) is what finally makes it answer everyone with BUSY. Six
 * seconds lets that BUSY arrive (any reply counts as alive) and still bounds a hang to about 8 s,
 * far below both the turn timeout and what TCP takes to give up (up to ~15 minutes).
 */
export const REDIS_LIVENESS_DEFAULTS: RedisLivenessOptions = { intervalMs: 2_000, deadlineMs: 6_000 };

/**
 * Sends one PING and tells whether it stayed unsettled for `deadlineMs`: neither a reply (an error
 * reply such as BUSY counts — the server is reading and answering) nor a failure of the connection
 * (which node-redis notices and handles by itself). Never rejects.
 */
export async function staysSilent(client: RedisClient, deadlineMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<true>((resolve) => {
    timer = setTimeout(() => resolve(true), deadlineMs);
    timer.unref();
  });
  const settled = client.ping().then(
    () => false,
    () => false,
  );
  try {
    return await Promise.race([settled, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

export interface RedisLivenessWatch extends RedisLivenessOptions {
  /** Called once per dead connection, just before it is dropped (for the log line). */
  onSilent(): void;
}

/**
 * Watches a node-redis client for a server that stopped answering on a connection that still looks
 * open (SIGSTOP, a blackholed network, a stuck server). node-redis's per-command `timeout` only covers
 * the wait to be written: once a command is on the wire it waits until TCP gives up, and every later
 * command queues behind it. So while the client is ready it is asked PING every `intervalMs`; when a
 * PING gets no answer within `deadlineMs`, the client is destroyed (every pending command rejects at
 * once, and callers report Redis as unavailable) and the same client object connects again, retrying
 * with its own backoff until Redis answers — whoever holds it (keyv, the coordinator) keeps working.
 *
 * The watch ends when the client is closed or destroyed by anyone but the watch itself, so an owner
 * closing it needs to know nothing about it; its timer never keeps the process alive.
 */
export function watchRedisLiveness(client: RedisClient, watch: RedisLivenessWatch): void {
  let timer: NodeJS.Timeout | undefined;
  let probing = false;
  let recycling = false;
  let stopped = false;

  const stop = () => {
    stopped = true;
    clearInterval(timer);
    client.off('ready', start);
    client.off('end', endedByOwner);
  };
  function start() {
    if (!stopped && timer === undefined) timer = setInterval(probe, watch.intervalMs).unref();
  }
  function endedByOwner() {
    if (!recycling) stop();
  }
  function probe() {
    // One probe at a time: a slow answer must not pile PINGs up behind it, nor start a second recycle.
    if (probing || stopped || !client.isOpen || !client.isReady) return;
    probing = true;
    void staysSilent(client, watch.deadlineMs).then((silent) => {
      probing = false;
      // Not ready any more means the socket broke and node-redis is reconnecting by itself, or the owner is closing it.
      if (silent && !stopped && client.isOpen && client.isReady) recycle();
    });
  }
  function recycle() {
    watch.onSilent();
    recycling = true;
    try {
      client.destroy();
    } finally {
      recycling = false;
    }
    // Connect again in the same tick, so the client is never seen closed: keyv connects a closed client
    // itself and waits for it without a deadline. Until Redis answers the handshake the client is open
    // but not ready, and commands fail at once (no offline queue). `connect` retries with the client's
    // reconnect strategy and only rejects if the client is destroyed meanwhile.
    client.connect().catch(() => {});
  }

  client.on('ready', start);
  client.on('end', endedByOwner);
  if (client.isReady) start();
}
