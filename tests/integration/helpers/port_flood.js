// A hostile cluster worker: serves like any app, and on SIGUSR2 asks tend (its cluster
// primary) for 1,000 sockets on port 0 with new `index` values, as no real app would, then
// crashes. tend must cap what it makes and close what no live worker holds.
const http = require('http');

const server = http.createServer((req, res) => res.end('ok\n'));
server.listen(0, () => console.log(`listening on port ${server.address().port}`));

process.on('SIGUSR2', () => {
  for (let index = 1000; index < 2000; ++index) {
    process.send({ cmd: 'NODE_CLUSTER', act: 'queryServer', index, data: null,
                   address: '127.0.0.1', port: 0, addressType: 4, backlog: 0, seq: index });
  }
  console.log('flooded');
  setTimeout(() => process.exit(1), 1500);
});
