// Setup of the unit project: it opens no sockets (vitest.config.ts). A test that listens on a port or connects
// anywhere fails at once with the call that did it, instead of passing on a machine where the port happens to
// be free. The whole daemon runs without a port through startDaemon(config, { listen: false }) and app.inject.
import net from 'node:net';

function refuse(what: string): never {
  throw new Error(`unit tests open no sockets: ${what} (a test that needs one belongs in test/integration)`);
}

net.Server.prototype.listen = function listen(): never {
  refuse('net.Server.listen');
} as typeof net.Server.prototype.listen;
net.Socket.prototype.connect = function connect(): never {
  refuse('net.Socket.connect');
} as typeof net.Socket.prototype.connect;
