/** Where a Redis Cluster is reached: its root nodes and the settings every node connection shares. */
export interface ClusterNodes {
  rootNodes: Array<{ host: string; port: number }>;
  /** Credentials and TLS are per cluster, not per node: node-redis reaches the nodes it discovers with them too. */
  username?: string;
  password?: string;
  tls: boolean;
}

const DEFAULT_PORT = 6379;

/**
 * Parses REDIS_CLUSTER_NODES (`redis://[user:password@]host:port` entries, comma-separated) or
 * returns what is wrong. Problems never quote the value: it may hold a password.
 *
 * @example
 * parseClusterNodes('redis://10.0.0.1:7000,redis://10.0.0.2:7000') // { rootNodes: [...], tls: false }
 */
export function parseClusterNodes(value: string | readonly string[]): { nodes: ClusterNodes; problem?: undefined } | { nodes?: undefined; problem: string } {
  const entries = (typeof value === 'string' ? value.split(',') : [...value]).map((entry) => entry.trim()).filter((entry) => entry !== '');
  if (entries.length === 0) return { problem: 'must list at least one node' };
  const parsed: URL[] = [];
  for (const [index, entry] of entries.entries()) {
    const position = `entry ${index + 1}`;
    let url: URL;
    try {
      url = new URL(entry);
    } catch {
      return { problem: `${position} is not a URL (expected redis://host:port)` };
    }
    if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') return { problem: `${position} must start with redis:// or rediss://` };
    if (!url.hostname) return { problem: `${position} has no host` };
    // A cluster serves database 0 only; a path would be silently ignored, so refuse it.
    if (url.pathname !== '' && url.pathname !== '/' && url.pathname !== '/0') return { problem: `${position} names a database; a Redis Cluster has only database 0` };
    if (url.search || url.hash) return { problem: `${position} has query options, which are not supported here` };
    parsed.push(url);
  }
  const first = parsed[0]!;
  if (parsed.some((url) => url.protocol !== first.protocol)) return { problem: 'mixes redis:// and rediss:// (all nodes must use the same)' };
  // Credentials may be written on one entry or on all of them, but a cluster has one set.
  const withCredentials = parsed.filter((url) => url.username || url.password);
  const credentials = withCredentials[0];
  if (withCredentials.some((url) => url.username !== credentials?.username || url.password !== credentials?.password)) {
    return { problem: 'gives different credentials for different nodes (a cluster has one user and password)' };
  }
  const seen = new Set<string>();
  const rootNodes: ClusterNodes['rootNodes'] = [];
  for (const url of parsed) {
    const node = { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: url.port ? Number(url.port) : DEFAULT_PORT };
    const address = `${node.host}:${node.port}`;
    if (seen.has(address)) return { problem: `lists ${address} twice` };
    seen.add(address);
    rootNodes.push(node);
  }
  return {
    nodes: {
      rootNodes,
      ...(credentials?.username ? { username: decodeURIComponent(credentials.username) } : {}),
      ...(credentials?.password ? { password: decodeURIComponent(credentials.password) } : {}),
      tls: first.protocol === 'rediss:',
    },
  };
}

/** The root nodes as `host:port` for log lines, without credentials. */
export function describeClusterNodes(nodes: ClusterNodes): string {
  return nodes.rootNodes.map((node) => `${node.host.includes(':') ? `[${node.host}]` : node.host}:${node.port}`).join(', ');
}
