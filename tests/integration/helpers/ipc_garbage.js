// A worker that abuses its IPC channel: garbage, a huge line, a stray descriptor; then
// serves like any other, so the test can see tend and the other workers unharmed.
const fs = require('fs');
const http = require('http');
const net = require('net');

const channel = process.channel.fd;  // Node removed NODE_CHANNEL_FD from the environment
process.send({ note: 'user messages are ignored' });
fs.writeSync(channel, 'this is not json\n');
fs.writeSync(channel, '{"cmd":"NODE_CLUSTER","act":"queryServer","port":"x","seq":"y"}\n');
fs.writeSync(channel, '[1,2,3]\n');
// exclusive: the worker's own socket, not one from tend (which round-robin would not give).
const side = net.createServer().listen({ port: 0, exclusive: true }, () => {
  process.send({ cmd: 'NODE_HANDLE', type: 'net.Native', msg: {} }, side);
  const server = http.createServer((req, res) => res.end(`survivor ${process.pid}\n`));
  server.listen(Number(process.env.PORT), () => {
    console.log(`listening on port ${server.address().port}`);
    if (process.env.HUGE === '1' && process.env.NODE_APP_INSTANCE === '0') fs.writeSync(channel, 'x'.repeat(200 * 1024));
  });
});
