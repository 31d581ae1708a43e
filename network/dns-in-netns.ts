// The embedded DNS's listeners inside a container's network namespace, as dockerd has them: a UDP
// and a TCP socket on 127.0.0.11 at free ports, and NAT rules in the container's namespace that
// send 127.0.0.11:53 there (dockerd's DOCKER_OUTPUT / DOCKER_POSTROUTING chains). Port 53 itself
// stays free, so a DNS server in the container can still bind 0.0.0.0:53. The native addon makes
// and binds the sockets on a short-lived thread of its own that enters the namespace (setns
// changes only the calling thread; the event loop does not wait for it), then Node adopts the
// descriptors: they keep their namespace, while this process stays in the host's. The sockets
// of the upstream exchanges are made there too (socketInNetns), so a forwarded query leaves from
// the container's namespace, with its routes and its loopback, as dockerd's resolver sends it.
import { spawn } from 'node:child_process';
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { nativeAddon } from '../lib/native-addon';

/** dockerd's resolver address in every container on a user-defined network. */
export const EMBEDDED_DNS_IP = '127.0.0.11';

/** Listen backlog for the TCP socket (Node's default). */
const TCP_BACKLOG = 511;
const IPTABLES_TIMEOUT_MS = 30_000;

interface NetnsAddon {
  listenInNetns(netnsPath: string, ip: string, port: number, backlog: number): Promise<[number, number]>;
  socketInNetns(netnsPath: string, tcp: boolean): Promise<number>;
  closeFd(fd: number): void;
}

/** A UDP socket made in the netns at netnsPath, bound to a free port there (for connect/send). */
export async function udpSocketInNetns(netnsPath: string): Promise<dgram.Socket> {
  const addon = nativeAddon<NetnsAddon>();
  const fd = await addon.socketInNetns(netnsPath, false);
  const sock = dgram.createSocket('udp4');
  const ready = new Promise<void>((resolve) => sock.once('listening', () => resolve()));
  try {
    sock.bind({ fd });
  } catch (err) {
    addon.closeFd(fd);
    throw err;
  }
  await ready;
  return sock;
}

/** An unconnected TCP socket made in the netns at netnsPath (connect it with socket.connect). */
export async function tcpSocketInNetns(netnsPath: string): Promise<net.Socket> {
  const addon = nativeAddon<NetnsAddon>();
  const fd = await addon.socketInNetns(netnsPath, true);
  try {
    return new net.Socket({ fd, readable: true, writable: true });
  } catch (err) {
    addon.closeFd(fd);
    throw err;
  }
}

export interface NetnsListeners {
  udp: dgram.Socket;
  tcp: net.Server;
  udpPort: number;
  tcpPort: number;
}

/** UDP + TCP listeners on ip inside the netns at netnsPath, each on a free port. */
export async function listenInNetns(netnsPath: string, ip: string): Promise<NetnsListeners> {
  const addon = nativeAddon<NetnsAddon>();
  const [udpFd, tcpFd] = await addon.listenInNetns(netnsPath, ip, 0, TCP_BACKLOG);
  const udp = dgram.createSocket('udp4');
  const udpReady = new Promise<void>((resolve) => udp.once('listening', () => resolve()));
  try {
    udp.bind({ fd: udpFd }); // adopts the descriptor at once, or throws and leaves it ours
  } catch (err) {
    addon.closeFd(udpFd);
    addon.closeFd(tcpFd);
    throw err;
  }
  await udpReady;
  const tcp = net.createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen({ fd: tcpFd }, () => {
        tcp.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    // Node closes a descriptor it failed to listen on with its handle.
    udp.close();
    tcp.close();
    throw err;
  }
  const addr = tcp.address();
  return { udp, tcp, udpPort: udp.address().port, tcpPort: typeof addr === 'object' && addr ? addr.port : 0 };
}

/** dockerd's rules in the container's netns: ip:port goes to the listeners' ports (DNAT), and
 *  their answers leave from ip:port (SNAT). The netns' nat table is written whole (it holds
 *  nothing else, as with dockerd), so a second run (a re-adopted container after a berthd
 *  restart, with new ports) replaces the first instead of adding jumps beside it. */
export function redirectRules(ip: string, port: number, udpPort: number, tcpPort: number): string {
  const lines = [
    '*nat',
    ':PREROUTING ACCEPT [0:0]',
    ':INPUT ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ':POSTROUTING ACCEPT [0:0]',
    ':DOCKER_OUTPUT - [0:0]',
    ':DOCKER_POSTROUTING - [0:0]',
  ];
  lines.push(`-A OUTPUT -d ${ip}/32 -j DOCKER_OUTPUT`, `-A POSTROUTING -d ${ip}/32 -j DOCKER_POSTROUTING`);
  for (const [proto, to] of [
    ['tcp', tcpPort],
    ['udp', udpPort],
  ] as const) {
    lines.push(`-A DOCKER_OUTPUT -d ${ip}/32 -p ${proto} -m ${proto} --dport ${port} -j DNAT --to-destination ${ip}:${to}`);
  }
  for (const [proto, from] of [
    ['tcp', tcpPort],
    ['udp', udpPort],
  ] as const) {
    lines.push(`-A DOCKER_POSTROUTING -s ${ip}/32 -p ${proto} -m ${proto} --sport ${from} -j SNAT --to-source :${port}`);
  }
  lines.push('COMMIT', '');
  return lines.join('\n');
}

/** Writes redirectRules in the netns at netnsPath (nsenter + iptables-restore, one process). */
export function redirectInNetns(netnsPath: string, ip: string, port: number, udpPort: number, tcpPort: number): Promise<void> {
  return new Promise((resolve, reject) => {
    // Without --noflush: the nat table (and only it) is replaced.
    const child = spawn('nsenter', [`--net=${netnsPath}`, 'iptables-restore', '-w'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), IPTABLES_TIMEOUT_MS);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      if (stderr.length < 4096) stderr += d;
    });
    child.stdin.on('error', () => undefined); // the exit status tells
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`iptables-restore in ${netnsPath}: ${stderr.trim() || `exit code ${code}`}`));
    });
    child.stdin.end(redirectRules(ip, port, udpPort, tcpPort));
  });
}
