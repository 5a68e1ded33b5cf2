// An ES module that imports prom-client (no require anywhere): its counter must reach tend's
// /metrics all the same. The test puts node_modules next to it (ESM ignores NODE_PATH).
import http from 'node:http';
import { Counter } from 'prom-client';

const served = new Counter({ name: 'esm_served_total', help: 'Requests served.' });
const server = http.createServer((req, res) => {
  served.inc();
  res.end(`pid ${process.pid}\n`);
});
server.listen(Number(process.env.PORT), () => {
  console.log(`listening on port ${server.address().port}`);
});
