// Clients of peer services: one channel per peer, made on first use, reused by every call and closed at
// shutdown. A peer hosted in this process is reached at this server's own address once it listens.
import type * as grpc from '@grpc/grpc-js';
import type { ServiceName } from '@floe/contracts';
import { unavailable } from '@floe/errors';
import { createClient, type ClientConstructor } from './client.js';
import type { FloeConfig } from './config.js';

export class Peers {
  private self: string | undefined;
  private readonly clients = new Map<string, grpc.Client>();

  constructor(
    private readonly config: Pick<FloeConfig, 'peers' | 'maxMessageBytes'> & Partial<Pick<FloeConfig, 'security'>>,
  ) {}

  /** The address this process listens on (set by the server once it is bound). */
  listening(address: string): void {
    this.self = address;
  }

  /** The client of `service`, typed by its generated constructor; the same one on every call. */
  client<C extends grpc.Client>(service: ServiceName, Ctor: ClientConstructor<C>): C {
    const address = this.config.peers[service] ?? this.self;
    if (!address) throw unavailable(`${service} is not reachable yet: this server is not listening`);
    const key = `${service}@${address}`;
    let c = this.clients.get(key);
    if (!c) {
      // Peers are called with this process's own token and certificate.
      c = createClient(
        Ctor,
        address,
        {
          'grpc.max_receive_message_length': this.config.maxMessageBytes,
          // A name with several replicas behind it (dns:///, ipv4:a,b): every call picks the next one up.
          'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
        },
        this.config.security,
      );
      this.clients.set(key, c);
    }
    return c as C;
  }

  /** Closes every channel; later calls open new ones. */
  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
