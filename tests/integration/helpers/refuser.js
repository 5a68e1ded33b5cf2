// Instance 0 tells tend (its cluster primary) that it listens, without a server of its own:
// every connection tend hands it, Node's cluster code refuses (no server under that key),
// and tend must give it to another worker. Instance 1 serves as any app does.
const http = require('http');

if (process.env.NODE_APP_INSTANCE === '0') {
  process.send({ cmd: 'NODE_CLUSTER', act: 'queryServer', address: null,
                 port: Number(process.env.PORT), addressType: 4, fd: -1, index: 0,
                 data: null, seq: 1000000 });
  process.send({ cmd: 'NODE_CLUSTER', act: 'listening', address: null,
                 port: Number(process.env.PORT), addressType: 4, fd: -1, seq: 1000001 });
  setInterval(() => {}, 1000);
} else {
  http.createServer((req, res) => res.end(`served by ${process.pid}\n`))
    .listen(Number(process.env.PORT), () => console.log('listening'));
}
