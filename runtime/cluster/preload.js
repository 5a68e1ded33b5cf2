// tend's preload for Node workers, embedded in the tend binary and loaded with
// NODE_OPTIONS=--require (opt out with --no-preload). It does nothing until tend asks a
// worker to drain; then the worker stops accepting, answers each request still arriving on
// a kept-alive connection with `Connection: close` (so the client reconnects to another
// worker instead of having an idle connection cut under it), and tells tend when its last
// server has closed. When tend asks for the app's metrics (a scrape of tend's /metrics), it
// answers with the app's prom-client default registry, if the app loaded prom-client.
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

// The registry of the prom-client the app loaded, by `require` or by `import` (both leave
// it in require's cache); null when it loaded none. Looked up at tend's request only, and
// kept once found (a module is never unloaded).
let foundRegistry = null;
function appRegistry() {
  if (foundRegistry) return foundRegistry;
  for (const [path, module] of Object.entries(require.cache)) {
    if (!/[\\/]node_modules[\\/]prom-client[\\/]index\.js$/.test(path)) continue;
    const register = module && module.exports && module.exports.register;
    if (register && typeof register.getMetricsAsJSON === 'function') {
      foundRegistry = register;
      return register;
    }
  }
  return null;
}

// Answers in messages of whole families, or of a family's values in parts, each within an
// IPC message tend accepts (64 KiB even if every character takes 3 bytes). Sent as objects,
// not as JSON text inside JSON, so that tend reads each once (here each family is also
// stringified to size it: once, or twice if it holds a lone surrogate; a large one's values
// once more each).
const METRICS_MESSAGE_CHARS = 16000;
// Help and error texts are cut to this: a long one must not make a message tend refuses (at
// 6 JSON characters for a control character, one still fits in a message).
const TEXT_CHARS = 2000;

// A lone surrogate (from a label cut mid-pair, say) reaches tend as U+FFFD, as a Buffer
// would write it: JSON can escape one, UTF-8 cannot hold it.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
function wellFormed(value) {
  if (typeof value === 'string') return value.replace(LONE_SURROGATE, '\ufffd');
  if (Array.isArray(value)) return value.map(wellFormed);
  if (value === null || typeof value !== 'object') return value;
  const copy = {};
  for (const [key, inner] of Object.entries(value)) copy[wellFormed(key)] = wellFormed(inner);
  return copy;
}

function cut(text) {
  return typeof text === 'string' && text.length > TEXT_CHARS ? text.slice(0, TEXT_CHARS) : text;
}

// A family as tend reads it, and its JSON size.
function sized(metric) {
  if (metric === null || typeof metric !== 'object') return { family: null, size: 4 };
  const { help, name, type, values, aggregator } = metric;
  let family = { help: cut(help), name, type, values, aggregator };
  // Stringify escapes lone surrogates, and only them, as \udxxx: the rare family that has
  // one (or a backslash before "ud") is copied well-formed.
  let text = JSON.stringify(family);
  if (/\\ud[89a-f]/i.test(text)) {
    family = wellFormed(family);
    text = JSON.stringify(family);
  }
  return { family, size: text.length };
}

function* metricsMessages(families) {
  let batch = [];
  let chars = 0;
  const add = function* (family, size) {
    if (chars + size > METRICS_MESSAGE_CHARS && batch.length > 0) {
      yield batch;
      batch = [];
      chars = 0;
    }
    batch.push(family);
    chars += size + 1;
  };
  for (const metric of families) {
    const { family, size } = sized(metric);
    if (size <= METRICS_MESSAGE_CHARS) {
      yield* add(family, size);
      continue;
    }
    // A large family goes as several of the same name, each with a part of its values
    // (tend joins them). One whose values are no list goes without them: tend counts it.
    const { values, ...head } = family;
    const headSize = JSON.stringify(head).length + 12;
    if (headSize > METRICS_MESSAGE_CHARS) {
      throw new Error(`a family's name, type or aggregator is over ${METRICS_MESSAGE_CHARS} characters`);
    }
    if (!Array.isArray(values)) {
      yield* add(head, headSize);
      continue;
    }
    let part = [];
    let partSize = headSize;
    for (const value of values) {
      const valueSize = (JSON.stringify(value) ?? 'null').length + 1;  // undefined: null
      if (headSize + valueSize > METRICS_MESSAGE_CHARS) {
        throw new Error(`a series of ${family.name} is over ${METRICS_MESSAGE_CHARS} characters`);
      }
      if (partSize + valueSize > METRICS_MESSAGE_CHARS) {
        yield* add({ ...head, values: part }, partSize);
        part = [];
        partSize = headSize;
      }
      part.push(value);
      partSize += valueSize;
    }
    yield* add({ ...head, values: part }, partSize);
  }
  if (batch.length > 0) yield batch;
}

// An error's message, never empty (tend reads an empty error as none), cut and well-formed.
function errorText(error) {
  let text;
  try {
    text = String((error && error.message) || error || 'error');
  } catch {
    text = 'error';  // a thrown value whose toString throws
  }
  return wellFormed(cut(text)) || 'error';
}

function sendMetrics(id) {
  const answer = (fields) => {
    if (process.connected) process.send({ cmd: 'NODE_TEND_METRICS', id, ...fields });
  };
  const register = appRegistry();
  if (!register) return answer({ none: true, last: true });
  Promise.resolve()
    .then(() => register.getMetricsAsJSON())
    .then((families) => {
      // Every message is built before the first is sent: one that fails sends none.
      const messages = [...metricsMessages(families)];
      messages.forEach((part, i) => answer({ families: part, last: i === messages.length - 1 }));
      if (messages.length === 0) answer({ families: [], last: true });
    })
    .catch((error) => {
      answer({ error: errorText(error), last: true });
    });
}

// NODE_-prefixed messages arrive as 'internalMessage': the app never sees them, and this
// listener does not keep the worker alive.
process.on('internalMessage', (message) => {
  if (message && message.cmd === 'NODE_TEND_METRICS' && Number.isSafeInteger(message.id)) {
    sendMetrics(message.id);
    return;
  }
  if (!message || message.cmd !== 'NODE_TEND_DRAIN' || draining) return;
  draining = true;
  for (const server of servers) {
    // net's close, not http's: http's also cuts idle keep-alive connections.
    if (server.listening) net.Server.prototype.close.call(server);
    else servers.delete(server);
  }
  reportIfDrained();
});
