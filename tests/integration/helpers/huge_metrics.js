// A worker whose prom-client registry is large: SERIES series (default 50,000: about 6 MiB
// of JSON, more than tend takes from one worker in a scrape), about 130 bytes each.
const http = require('http');
const client = require('prom-client');

const gauge = new client.Gauge({ name: 'huge_series', help: 'Many series.', labelNames: ['k'] });
for (let i = 0; i < Number(process.env.SERIES || 50000); i++) gauge.set({ k: `${i}-${'x'.repeat(100)}` }, i);

const server = http.createServer((req, res) => res.end('ok\n'));
server.listen(Number(process.env.PORT), () => {
  console.log(`listening on port ${server.address().port}`);
});
