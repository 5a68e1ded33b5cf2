// The app of the app-metrics benchmark: 200 prom-client series a worker (a counter with 200
// label values), no cluster code. Run under tend, tend aggregates them. Run directly with
// WORKERS=N, it is the Node primary a user would write instead: it forks N workers of itself
// and serves prom-client's AggregatorRegistry on METRICS_PORT (0: any; it prints the port).
const cluster = require('cluster');
const http = require('http');
const client = require('prom-client');

// As prom-client's own example has it: made in the primary and in every worker (in a worker,
// it answers the primary's requests; under tend it is idle).
const registry = new client.AggregatorRegistry();

if (cluster.isPrimary && process.env.WORKERS) {
  let listening = 0;
  cluster.on('listening', () => {
    if (++listening === Number(process.env.WORKERS)) {
      const server = http.createServer(async (req, res) => {
        try {
          const text = await registry.clusterMetrics();
          res.setHeader('Content-Type', registry.contentType);
          res.end(text);
        } catch (error) {
          res.statusCode = 500;
          res.end(String(error));
        }
      });
      server.listen(Number(process.env.METRICS_PORT || 0), '127.0.0.1', () => {
        console.log(`metrics on port ${server.address().port}`);
      });
    }
  });
  for (let i = 0; i < Number(process.env.WORKERS); i++) cluster.fork();
} else {
  const counter = new client.Counter({ name: 'bench_requests_total', help: 'Requests.', labelNames: ['route'] });
  for (let i = 0; i < 200; i++) counter.inc({ route: `/route/${i}` }, i);
  http.createServer((req, res) => res.end('ok\n')).listen(Number(process.env.PORT || 0));
}
