// An app that talks: STARTUP_LINES numbered lines at start ("line 1"...), one on stderr;
// GET /say/TEXT prints TEXT and answers with the instance; GET /flood/N[/BYTES] prints N
// lines of 1 KiB (or BYTES), a batch at a time.
const http = require('http');

const instance = process.env.NODE_APP_INSTANCE;
for (let i = 1; i <= Number(process.env.STARTUP_LINES || 0); i++) {
  console.log(`line ${i} of instance ${instance}`);
}
console.error(`instance ${instance} says this on stderr`);

function flood(left, bytes, done) {
  const batch = Math.min(left, 500);
  for (let i = 0; i < batch; i++) console.log('x'.repeat(bytes));
  if (left > batch) setImmediate(() => flood(left - batch, bytes, done));
  else done();
}

const server = http.createServer((req, res) => {
  const [, what, arg, size] = req.url.split('/');
  if (what === 'say') console.log(decodeURIComponent(arg));
  if (what === 'flood') return flood(Number(arg), Number(size || 1024), () => res.end('flooded\n'));
  res.end(`${instance}\n`);
});
server.listen(Number(process.env.PORT), () => {
  console.log(`listening on port ${server.address().port}`);
});
