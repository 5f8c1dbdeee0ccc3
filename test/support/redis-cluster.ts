import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { createClient } from '@keyv/redis';
import { freePort, redisServerBinary } from './redis-server.js';

/** A throwaway Redis Cluster of three masters (and optionally a replica each) on loopback, for tests. */
export interface TestRedisCluster {
  /** `redis://127.0.0.1:P` of every node, in the form REDIS_CLUSTER_NODES takes (without the password, if one is required). */
  nodeUrls: string[];
  /** Kills one node (`127.0.0.1:P`) with SIGKILL, as a crashed server or a lost machine. */
  kill(address: string): void;
  /** Freezes one node (SIGSTOP): its connections stay open but it answers nothing, as a hung server. */
  pause(address: string): void;
  /** Lets a frozen node run again (SIGCONT). */
  resume(address: string): void;
  /** Starts a node that was killed again on its port (it rejoins from its nodes.conf) and waits for `cluster_state:ok` everywhere. */
  restart(address: string): Promise<void>;
  /** Stops every node (SIGTERM) but keeps their folders, so `startNodes` brings the same cluster back. */
  stopNodes(): Promise<void>;
  /** Starts the stopped nodes on their ports again and waits for `cluster_state:ok`. */
  startNodes(): Promise<void>;
  /** Stops every node and deletes their working folders; safe to call twice. */
  stop(): Promise<void>;
}

export const NO_REDIS_CLUSTER_MESSAGE =
  'The Redis Cluster tests need `redis-server` and `redis-cli` (both come with `apt-get install -y redis-server`; on other systems install Redis 7 or newer so both are on PATH). The tests start their own three-node cluster on free loopback ports.';

const MASTERS = 3;

export interface TestRedisClusterOptions {
  /** Every node requires this password (`requirepass`), and the nodes use it among themselves. */
  password?: string;
  /** Give every master a replica, so killing a master leads to a failover. */
  withReplicas?: boolean;
  /** `cluster-node-timeout`: how soon an unreachable master is failed over. Default Redis's 15 s. */
  nodeTimeoutMs?: number;
}

function redisCliBinary(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v redis-cli'], { encoding: 'utf8' });
  const path = found.stdout.trim();
  return found.status === 0 && path ? path : undefined;
}

/**
 * Starts three `redis-server --cluster-enabled yes` masters (and a replica each, if asked) on free
 * ports, joins them with `redis-cli --cluster create`, and waits until every node reports
 * `cluster_state:ok` and every replica is in sync. Throws with
 * install instructions when a binary is missing (tests never silently skip); on any failure the
 * nodes already started are stopped and their folders removed before the error surfaces.
 */
export async function startRedisCluster(options: TestRedisClusterOptions = {}): Promise<TestRedisCluster> {
  const server = redisServerBinary();
  const cli = redisCliBinary();
  if (!server || !cli) throw new Error(NO_REDIS_CLUSTER_MESSAGE);

  const workDirectory = await mkdtemp(join(tmpdir(), 'threadline-cluster-'));
  const nodes: Array<{ index: number; port: number; busPort: number }> = [];
  const children: ChildProcess[] = [];
  const childByAddress = new Map<string, ChildProcess>();
  const urlOf = (port: number) => `redis://127.0.0.1:${port}`;
  const launch = async () => {
    for (const node of nodes) {
      const child = startNode(server, workDirectory, node.index, node.port, node.busPort, options);
      children.push(child);
      childByAddress.set(`127.0.0.1:${node.port}`, child);
    }
    await Promise.all(nodes.map((node, index) => waitForPing(urlOf(node.port), options.password, children[index]!, 10_000)));
  };
  const stopNodes = async () => {
    childByAddress.clear();
    await Promise.all(children.splice(0).map(stopChild));
  };
  const stop = async () => {
    await stopNodes();
    await rm(workDirectory, { recursive: true, force: true });
  };
  try {
    const taken: number[] = [];
    const nodeCount = options.withReplicas ? MASTERS * 2 : MASTERS;
    for (let index = 0; index < nodeCount; index += 1) {
      // The cluster bus gets a port of its own: the default (port + 10000) can fall outside 65535 for an ephemeral port.
      const [port, busPort] = await distinctFreePorts(2, taken);
      taken.push(port!, busPort!);
      nodes.push({ index, port: port!, busPort: busPort! });
    }
    await launch();
    const nodeUrls = nodes.map((node) => urlOf(node.port));
    await joinCluster(cli, nodes.map((node) => node.port), options.password, options.withReplicas ? 1 : 0);
    await Promise.all(nodeUrls.map((url) => waitForClusterOk(url, options.password, 15_000)));
    // A replica can only take over data it has: wait until each one finished its first sync.
    if (options.withReplicas) await Promise.all(nodeUrls.map((url) => waitForReplicaInSync(url, options.password, 15_000)));
    return {
      nodeUrls,
      stop,
      stopNodes,
      startNodes: async () => {
        // Each node reads the cluster layout back from its nodes.conf, so the same cluster comes back.
        await launch();
        await Promise.all(nodeUrls.map((url) => waitForClusterOk(url, options.password, 15_000)));
      },
      kill: (address) => childByAddress.get(address)?.kill('SIGKILL'),
      pause: (address) => childByAddress.get(address)?.kill('SIGSTOP'),
      resume: (address) => childByAddress.get(address)?.kill('SIGCONT'),
      restart: async (address) => {
        const node = nodes.find((candidate) => `127.0.0.1:${candidate.port}` === address);
        if (!node) throw new Error(`${address} is not a node of this cluster`);
        const previous = childByAddress.get(address);
        if (previous) await stopChild(previous);
        const child = startNode(server, workDirectory, node.index, node.port, node.busPort, options);
        children.push(child);
        childByAddress.set(address, child);
        await waitForPing(urlOf(node.port), options.password, child, 10_000);
        await Promise.all(nodeUrls.map((url) => waitForClusterOk(url, options.password, 15_000)));
      },
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

function startNode(binary: string, workDirectory: string, index: number, port: number, busPort: number, options: TestRedisClusterOptions): ChildProcess {
  const { password, nodeTimeoutMs } = options;
  const child = spawn(
    binary,
    [
      '--port', String(port),
      '--cluster-port', String(busPort),
      '--bind', '127.0.0.1',
      '--protected-mode', 'no',
      '--cluster-enabled', 'yes',
      '--cluster-config-file', join(workDirectory, `nodes-${index}.conf`),
      '--dir', workDirectory,
      '--save', '',
      '--appendonly', 'no',
      ...(password ? ['--requirepass', password, '--masterauth', password] : []),
      ...(nodeTimeoutMs ? ['--cluster-node-timeout', String(nodeTimeoutMs)] : []),
      // A replica killed-over in a test may have been in sync for a moment only; let it take over regardless.
      ...(options.withReplicas ? ['--cluster-replica-validity-factor', '0'] : []),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  child.stderr?.resume();
  return child;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGCONT');
  child.kill('SIGTERM');
  const patience = new AbortController();
  const outcome = await Promise.race([exited.then(() => 'exited'), delay(5_000, 'stuck', { signal: patience.signal }).catch(() => 'exited')]);
  patience.abort();
  if (outcome === 'stuck') {
    child.kill('SIGKILL');
    await exited;
  }
}

async function distinctFreePorts(count: number, taken: number[]): Promise<number[]> {
  const chosen: number[] = [];
  while (chosen.length < count) {
    const port = await freePort();
    if (!taken.includes(port) && !chosen.includes(port)) chosen.push(port);
  }
  return chosen;
}

async function joinCluster(cli: string, ports: number[], password: string | undefined, replicasPerMaster: number): Promise<void> {
  const args = [
    ...(password ? ['-a', password, '--no-auth-warning'] : []),
    '--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', String(replicasPerMaster), '--cluster-yes',
  ];
  const output = await new Promise<{ code: number | null; text: string }>((resolve, reject) => {
    const child = spawn(cli, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, text }));
  });
  if (output.code !== 0 || !output.text.includes('All 16384 slots covered')) {
    throw new Error(`redis-cli --cluster create failed (exit ${output.code}):\n${output.text.slice(-2_000)}`);
  }
}

async function waitForPing(url: string, password: string | undefined, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis-server for ${url} exited with code ${child.exitCode} before answering`);
    if ((await singleNodeCommand(url, password, 'PING')) === 'PONG') return;
    await delay(20);
  }
  throw new Error(`redis-server at ${url} did not answer within ${timeoutMs} ms`);
}

async function waitForClusterOk(url: string, password: string | undefined, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    last = (await singleNodeCommand(url, password, 'CLUSTER INFO')) ?? '';
    if (/cluster_state:ok/.test(last)) return;
    await delay(50);
  }
  throw new Error(`cluster node ${url} did not reach cluster_state:ok within ${timeoutMs} ms; last CLUSTER INFO:\n${last}`);
}

async function waitForReplicaInSync(url: string, password: string | undefined, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    last = (await singleNodeCommand(url, password, 'INFO replication')) ?? '';
    if (/role:master/.test(last) || /master_link_status:up/.test(last)) return;
    await delay(50);
  }
  throw new Error(`replica ${url} did not finish its first sync within ${timeoutMs} ms; last INFO replication:\n${last}`);
}

/** One command on a plain (non-cluster) connection to a single node; undefined when it cannot be reached. */
async function singleNodeCommand(url: string, password: string | undefined, command: 'PING' | 'CLUSTER INFO' | 'INFO replication'): Promise<string | undefined> {
  const client = createClient({ url, ...(password ? { password } : {}), socket: { connectTimeout: 500, reconnectStrategy: false } });
  client.on('error', () => {});
  try {
    await client.connect();
    const reply = await client.sendCommand(command.split(' '));
    return typeof reply === 'string' ? reply : String(reply);
  } catch {
    return undefined;
  } finally {
    if (client.isOpen) client.destroy();
  }
}
