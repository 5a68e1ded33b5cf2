// Serves; GET /grow makes it hold 160 MiB more resident memory.
const http = require('http');
const held = [];
http.createServer((req, res) => {
  if (req.url === '/grow') held.push(Buffer.alloc(160 * 1024 * 1024, 1));
  res.end(`pid ${process.pid}\n`);
}).listen(Number(process.env.PORT || 0), function () {
  console.log(`listening on port ${this.address().port}`);
});
