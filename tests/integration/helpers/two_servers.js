// A worker with two servers, as apps with a metrics or admin port have: each gets its own
// socket from tend. The second listens once the worker is ready; it must serve too.
const http = require('http');

function serve(name, port) {
  http.createServer((req, res) => res.end(`${name} ${process.pid}\n`))
    .listen(Number(port), () => console.log(`${name} listening on port ${port}`));
}
serve('app', process.env.PORT);
setTimeout(() => serve('admin', process.env.ADMIN_PORT), 500);
