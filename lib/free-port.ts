// A free TCP port on the loopback interface, for a process about to be started on it (the fleet's daemons, the
// benches' servers). The port is released before it is returned, so it is free "right now", not reserved.
import { createServer, type AddressInfo } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}
