// Listens on the port PORT names (in cluster mode tend binds it on the worker's behalf) and
// reports what happened; then serves on a free port, so that it counts as ready.
const net = require('net');

net.createServer().listen(Number(process.env.PORT), '127.0.0.1')
  .on('listening', () => console.log('bound'))
  .on('error', (error) => console.log(`error ${error.code}`));
net.createServer().listen(0, '127.0.0.1');
