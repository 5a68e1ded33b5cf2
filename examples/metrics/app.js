// An app with its own Prometheus metrics, written as for a single process: prom-client's
// default registry and no cluster code. Under tend, tend's /metrics serves them summed over
// the workers (prom-client's AggregatorRegistry rules), next to tend's own. PORT picks the
// port (0: any). GET /block?ms=N blocks the answering worker's event loop for N ms.
const http = require('http');
const client = require('prom-client');

client.collectDefaultMetrics();
const requests = new client.Counter({
  name: 'app_requests_total',
  help: 'Requests served, by route.',
  labelNames: ['route'],
});
const duration = new client.Histogram({
  name: 'app_request_duration_seconds',
  help: 'Time to answer a request.',
  buckets: [0.005, 0.05, 0.5, 5],
});
// A gauge whose sum would mean nothing: the highest instance index serving, plus one.
new client.Gauge({
  name: 'app_highest_instance',
  help: 'The highest instance index serving, plus one.',
  aggregator: 'max',
}).set(Number(process.env.NODE_APP_INSTANCE || 0) + 1);

const server = http.createServer((req, res) => {
  const end = duration.startTimer();
  const url = new URL(req.url, 'http://app');
  if (url.pathname === '/block') {
    const until = Date.now() + Number(url.searchParams.get('ms') || 0);
    while (Date.now() < until);
  }
  requests.inc({ route: url.pathname });
  res.end(`hello from instance ${process.env.NODE_APP_INSTANCE} pid ${process.pid}\n`);
  end();
});

server.listen(Number(process.env.PORT || 3000), () => {
  console.log(`listening on port ${server.address().port}`);
});

process.on('SIGTERM', () => server.close(() => process.exit(0)));
