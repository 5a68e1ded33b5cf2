// The example app `make run` and the tests start under tend: a plain Node HTTP server that
// knows nothing about tend, written as for pm2's cluster mode. PORT picks the port (0: any).
const http = require('http');

const server = http.createServer((req, res) => {
  res.end(`hello from instance ${process.env.NODE_APP_INSTANCE} pid ${process.pid}\n`);
});

server.listen(Number(process.env.PORT || 3000), () => {
  console.log(`listening on port ${server.address().port}`);
});

// Finish in-flight requests, then exit 0: what a container's stop should look like.
process.on('SIGTERM', () => server.close(() => process.exit(0)));
