// The embedded DNS's listeners inside a container's network namespace, as dockerd has them: a UDP
// and a TCP socket on 127.0.0.11:53 of the container's own loopback. The native addon makes and
// binds them on a short-lived thread of its own that enters the namespace (setns changes only the
// calling thread; the event loop does not wait for it), then Node adopts the descriptors: they
// keep their namespace, while this process and every exchange with the upstream servers stay in
// the host's. No process per container, no NAT rule: the address itself is bound (lo holds
// 127.0.0.0/8, and root may bind port 53).
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { nativeAddon } from '../lib/native-addon';

/** dockerd's resolver address in every container on a user-defined network. */
export const EMBEDDED_DNS_IP = '127.0.0.11';

/** Listen backlog for the TCP socket (Node's default). */
const TCP_BACKLOG = 511;

interface NetnsAddon {
  listenInNetns(netnsPath: string, ip: string, port: number, backlog: number): Promise<[number, number]>;
  closeFd(fd: number): void;
}

export interface NetnsListeners {
  udp: dgram.Socket;
  tcp: net.Server;
  port: number;
}

/** UDP + TCP listeners on ip:port inside the netns at netnsPath (port 0: one free port for both). */
export async function listenInNetns(netnsPath: string, ip: string, port: number): Promise<NetnsListeners> {
  const addon = nativeAddon<NetnsAddon>();
  const [udpFd, tcpFd] = await addon.listenInNetns(netnsPath, ip, port, TCP_BACKLOG);
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
  return { udp, tcp, port: udp.address().port };
}
