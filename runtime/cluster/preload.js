// tend's preload for Node workers, embedded in the tend binary and loaded with
// NODE_OPTIONS=--require (opt out with --no-preload). It does nothing until tend asks a
// worker to drain; then the worker stops accepting, answers each request still arriving on
// a kept-alive connection with `Connection: close` (so the client reconnects to another
// worker instead of having an idle connection cut under it), and tells tend when its last
// server has closed.
'use strict';
const net = require('net');
const http = require('http');

const servers = new Set();
let draining = false;

function reportIfDrained() {
  if (draining && servers.size === 0 && process.connected) {
    process.send({ cmd: 'NODE_TEND_DRAINED' });
  }
}

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (!servers.has(this)) {
    servers.add(this);
    this.once('close', () => {
      servers.delete(this);
      reportIfDrained();
    });
  }
  return listen.apply(this, args);
};

const writeHead = http.ServerResponse.prototype.writeHead;
http.ServerResponse.prototype.writeHead = function (...args) {
  if (draining && !this.headersSent) {
    this.shouldKeepAlive = false;
    this.setHeader('Connection', 'close');
  }
  return writeHead.apply(this, args);
};

// Tells tend that this worker will answer a drain request: one that never says so (an old
// Node that could not load this file) is stopped at once instead of waited on.
if (process.connected) process.send({ cmd: 'NODE_TEND_PRELOADED' });

// NODE_-prefixed messages arrive as 'internalMessage': the app never sees them, and this
// listener does not keep the worker alive.
process.on('internalMessage', (message) => {
  if (!message || message.cmd !== 'NODE_TEND_DRAIN' || draining) return;
  draining = true;
  for (const server of servers) {
    // net's close, not http's: http's also cuts idle keep-alive connections.
    if (server.listening) net.Server.prototype.close.call(server);
    else servers.delete(server);
  }
  reportIfDrained();
});
