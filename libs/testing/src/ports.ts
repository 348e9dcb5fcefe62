import { createServer } from 'node:net';

/** A TCP port free on 127.0.0.1 right now, for a server started in another process. */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}
