// bench/balance.py's app: examples/hello's answer ("... pid N"), and GET /heavy burns 50 ms
// of CPU. Each worker counts its requests and connections (and whether any connection asked
// for /heavy), and writes them to $STATS_DIR/<pid>.json when told to stop. The bench's
// readiness polls (GET /probe) are not counted.
const fs = require('fs');
const http = require('http');

const stats = { pid: process.pid, requests: 0, connections: 0, heavy_connections: 0 };
const server = http.createServer((req, res) => {
  if (req.url !== '/probe') {
    stats.requests += 1;
    if (!req.socket.counted) {
      req.socket.counted = true;
      stats.connections += 1;
    }
  }
  if (req.url === '/heavy') {
    if (!req.socket.countedHeavy) {
      req.socket.countedHeavy = true;
      stats.heavy_connections += 1;
    }
    const until = Date.now() + 50;
    while (Date.now() < until) {}
  }
  res.end(`hello from instance ${process.env.NODE_APP_INSTANCE} pid ${process.pid}\n`);
});
server.listen(Number(process.env.PORT || 3000));

function stop() {
  fs.writeFileSync(`${process.env.STATS_DIR}/${process.pid}.json`, JSON.stringify(stats));
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.on('disconnect', stop);
